use athanor::model::stack::Props;
use athanor::model::ResourceRef;
use athanor::infra;

infra! {
    app "wfp";

    let tenants = DispatchNamespace("tenants") { name: "customers", adopt: true };
    let scratch = DispatchNamespace("scratch") { delete: false };
    let user_kv = KvNamespace("user-kv");
    let customer_a = Worker("customer-a") {
        namespace: tenants,
        entrypoint: "./tenants/a.js",
        bindings: { USER_KV: user_kv },
        keep_bindings: [kv_namespace, "secret_text"],
    };
    let dispatcher = Worker("dispatcher") {
        entrypoint: "./src/dispatcher.js",
        url: true,
        bindings: { DISPATCHER: tenants },
    };
}

fn main() {
    let stack = stack();
    let Props::DispatchNamespace(n) = &stack.get("tenants").unwrap().props else { panic!() };
    assert_eq!(n.name.as_deref(), Some("customers"));
    assert!(!stack.get("scratch").unwrap().delete);
    let user = stack.get("customer-a").unwrap();
    let Props::Worker(w) = &user.props else { panic!() };
    assert_eq!(w.namespace, Some(ResourceRef::new("tenants")));
    assert_eq!(w.keep_bindings, ["kv_namespace", "secret_text"]);
    assert!(!w.url);
    assert_eq!(user.dependencies().into_iter().collect::<Vec<_>>(), ["tenants", "user-kv"]);
    assert!(dispatcher::TYPESCRIPT_ENV.contains("DISPATCHER: DispatchNamespace;"));
    assert!(customer_a::TYPESCRIPT_ENV.contains("USER_KV: KVNamespace;"));
}
