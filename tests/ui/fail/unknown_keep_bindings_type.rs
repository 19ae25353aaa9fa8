use athanor::infra;

infra! {
    let tenants = DispatchNamespace("tenants");
    let customer = Worker("customer-a") {
        namespace: tenants,
        entrypoint: "./a.js",
        keep_bindings: [kv_namespaces, secret_text, "blob"],
    };
}

fn main() {}
