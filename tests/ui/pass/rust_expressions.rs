use athanor::model::stack::{KvPayload, Props};
use athanor::infra;

const DATE: &str = "2025-09-01";
const SERVE: bool = true;
const TTL: u32 = 7200;
const PREFIX: &str = "api";

fn stage() -> &'static str {
    "prod"
}

infra! {
    app "expressions";

    let kv = KvNamespace("kv") {
        title: format!("{PREFIX}-{}", stage()),
        values: [{ key: PREFIX, value: serde_json::json!({ "a": 1 }), expiration_ttl: TTL, metadata: serde_json::json!({ "m": TTL }) }],
    };
    let api = Worker("api") {
        name: format!("{PREFIX}-worker"),
        entrypoint: concat!("./src/", "worker.js"),
        compatibility_date: DATE,
        url: SERVE,
        bindings: { KV: kv },
    };
}

fn main() {
    let stack = stack();
    let Props::KvNamespace(kv) = &stack.get("kv").unwrap().props else { panic!() };
    assert_eq!(kv.title.as_deref(), Some("api-prod"));
    assert_eq!(kv.values[0].key, "api");
    assert_eq!(kv.values[0].value, KvPayload::Json(serde_json::json!({ "a": 1 })));
    assert_eq!(kv.values[0].expiration_ttl, Some(7200));
    assert_eq!(kv.values[0].metadata, Some(serde_json::json!({ "m": 7200 })));
    let Props::Worker(w) = &stack.get("api").unwrap().props else { panic!() };
    assert_eq!(w.name.as_deref(), Some("api-worker"));
    assert_eq!(w.code, athanor::model::stack::WorkerCode::Entrypoint("./src/worker.js".into()));
    assert_eq!(w.compatibility_date.as_deref(), Some("2025-09-01"));
    assert!(w.url);
    // The TypeScript Env needs a literal entrypoint to name the module.
    assert!(!api::TYPESCRIPT_ENV.contains("mainModule"));
}
