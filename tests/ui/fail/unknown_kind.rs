use athanor::infra;

infra! {
    let sessions = KVNamespace("sessions") { title: "user-sessions" };
    let api = Worker("api") { entrypoint: "./w.js", bindings: { MY_KV: sessions } };
}

fn main() {}
