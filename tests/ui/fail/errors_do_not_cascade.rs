use athanor::infra;

infra! {
    let sessions = KvNamespace("sessions") { titel: "user-sessions" };
    let api = Worker("api") { entrypoint: "./w.js", bindings: { MY_KV: sessions } };
}

// Only the misspelt property is reported: `stack`, `Outputs` and `api` still exist.
fn main() {
    let _ = stack();
    let _ = api::TYPESCRIPT_ENV;
    let _ = Outputs::from_outputs(&Default::default());
}
