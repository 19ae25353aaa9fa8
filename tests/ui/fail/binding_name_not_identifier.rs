use athanor::infra;

infra! {
    let sessions = KvNamespace("sessions");
    let api = Worker("api") { entrypoint: "./w.js", bindings: { "my-kv": sessions } };
}

fn main() {}
