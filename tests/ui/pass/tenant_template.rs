use athanor::infra;
use athanor::model::inline_code::InlineCode;
use athanor::model::stack::{Props, WorkerCode};
use athanor::model::{BindingValue, TenantId};

infra! {
    app "platform";
    tenant(plan: &str, code: InlineCode, page: &str);

    let customers = DispatchNamespace("customers") { name: "customers", adopt: true, delete: false };
    let kv = KvNamespace("kv") {
        title: "{tenant}-kv",
        values: [{ key: "welcome", value: format!("Welcome, {tenant}") }, { key: "plan", value: plan }],
    };
    let files = R2Bucket("files") { name: "{tenant}-files" };
    let events = AnalyticsEngineDataset("events");
    let worker = Worker("worker") {
        name: "{tenant}",
        namespace: customers,
        code: code,
        bindings: { KV: kv, FILES: files, EVENTS: events, PLAN: plan, TENANT: tenant.as_str() },
    };
    let landing = Worker("landing") { name: "{tenant}-landing", namespace: customers, entrypoint: page };
    let docs = Worker("docs") { name: "{tenant}-docs", namespace: customers, entrypoint: "./docs/{tenant}.js" };
}

fn main() {
    let id = TenantId::new("acme").unwrap();
    let stack = tenant(&id, "pro", InlineCode::javascript("export default {};"), "pages/acme.js");
    assert_eq!(stack.app, "platform");
    let Props::KvNamespace(kv) = &stack.get("kv").unwrap().props else { panic!() };
    assert_eq!(kv.title.as_deref(), Some("acme-kv"));
    let Props::R2Bucket(files) = &stack.get("files").unwrap().props else { panic!() };
    assert_eq!(files.name.as_deref(), Some("acme-files"));
    let Props::Worker(w) = &stack.get("worker").unwrap().props else { panic!() };
    assert_eq!(w.name.as_deref(), Some("acme"));
    assert!(matches!(&w.code, WorkerCode::Inline(c) if c.main_module() == "index.js"));
    let plan = w.bindings.iter().find(|b| b.name == "PLAN").unwrap();
    assert_eq!(plan.value, BindingValue::PlainText("pro".into()));
    let Props::Worker(landing) = &stack.get("landing").unwrap().props else { panic!() };
    assert_eq!(landing.code, WorkerCode::Entrypoint("pages/acme.js".into()));
    let Props::KvNamespace(kv) = &stack.get("kv").unwrap().props else { panic!() };
    assert_eq!(kv.values.len(), 2);
    let Props::Worker(docs) = &stack.get("docs").unwrap().props else { panic!() };
    assert_eq!(docs.code, WorkerCode::Entrypoint("./docs/acme.js".into()));
    let tenant_binding = w.bindings.iter().find(|b| b.name == "TENANT").unwrap();
    assert_eq!(tenant_binding.value, BindingValue::PlainText("acme".into()));
}
