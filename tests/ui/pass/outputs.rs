use std::collections::BTreeMap;

use athanor::model::output::{KvNamespaceOutput, SecretOutput, WorkerOutput};
use athanor::{Output, infra};

infra! {
    let sessions = KvNamespace("sessions");
    let token = SecretRef("token") { name: "TOKEN" };
    let api = Worker("api") { entrypoint: "./w.js", url: true, bindings: { SESSIONS: sessions, TOKEN: token } };
}

fn main() {
    // With no `app`, the application is named after the crate.
    assert_eq!(stack().app, env!("CARGO_PKG_NAME"));

    let mut outputs = BTreeMap::new();
    outputs.insert(
        "sessions".to_owned(),
        Output::KvNamespace(KvNamespaceOutput { id: "0f2ac74b498b48028cb68387c421e279".into(), title: "user-sessions".into() }),
    );
    outputs.insert(
        "token".to_owned(),
        Output::SecretRef(SecretOutput { id: "s1".into(), name: "TOKEN".into(), store_id: "st".into() }),
    );
    assert_eq!(Outputs::from_outputs(&outputs), None, "the Worker is missing");
    outputs.insert(
        "api".to_owned(),
        Output::Worker(WorkerOutput {
            name: "api".into(),
            namespace: None,
            url: Some("https://api.example.workers.dev".into()),
            etag: None,
            migration_tag: None,
            content_hash: "h".into(),
            durable_objects: Default::default(),
            bindings: Default::default(),
        }),
    );
    let typed = Outputs::from_outputs(&outputs).expect("every resource has its output");
    assert_eq!(typed.sessions.id, "0f2ac74b498b48028cb68387c421e279");
    assert_eq!(typed.token.name, "TOKEN");
    assert_eq!(typed.api.url.as_deref(), Some("https://api.example.workers.dev"));

    outputs.insert("sessions".to_owned(), outputs["api"].clone());
    assert_eq!(Outputs::from_outputs(&outputs), None, "an output of another kind");
}
