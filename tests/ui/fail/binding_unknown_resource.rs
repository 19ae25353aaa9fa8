use athanor::infra;

infra! {
    let sessions = KvNamespace("sessions");
    let api = Worker("api") { entrypoint: "./w.js", bindings: { MY_KV: sesions } };
}

fn main() {}
