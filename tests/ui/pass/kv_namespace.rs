use athanor::model::stack::{KvPayload, Props};
use athanor::infra;

infra! {
    app "kv";

    let users = KvNamespace("users") { title: "user-data" };
    let derived = KvNamespace("derived");
    let sessions = KvNamespace("sessions") {
        title: "user-sessions",
        values: [
            { key: "session_123", value: json!({ "userId": "user_456", "role": "admin" }), expiration_ttl: 3600 },
            { key: "main.js", value: "content...", metadata: json!({ "contentType": "application/javascript" }) },
            { key: "pinned", value: "v", expiration: 4102444800 },
        ],
        adopt: true,
        delete: false,
    };
}

fn main() {
    let stack = stack();
    assert_eq!(stack.app, "kv");
    assert_eq!(stack.resources.len(), 3);
    let Props::KvNamespace(users) = &stack.get("users").unwrap().props else { panic!() };
    assert_eq!(users.title.as_deref(), Some("user-data"));
    let Props::KvNamespace(derived) = &stack.get("derived").unwrap().props else { panic!() };
    assert_eq!(derived.title, None);
    let sessions = stack.get("sessions").unwrap();
    assert!(sessions.adopt);
    assert!(!sessions.delete);
    let Props::KvNamespace(kv) = &sessions.props else { panic!() };
    assert_eq!(kv.values.len(), 3);
    assert_eq!(kv.values[0].expiration_ttl, Some(3600));
    assert_eq!(
        kv.values[0].value,
        KvPayload::Json(serde_json::json!({ "userId": "user_456", "role": "admin" }))
    );
    assert_eq!(kv.values[1].value, KvPayload::Text("content...".into()));
    assert_eq!(
        kv.values[1].metadata,
        Some(serde_json::json!({ "contentType": "application/javascript" }))
    );
    assert_eq!(kv.values[2].expiration, Some(4102444800));
    assert_eq!(stack.root, std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")));
}
