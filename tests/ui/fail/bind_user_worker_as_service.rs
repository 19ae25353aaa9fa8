use athanor::infra;

infra! {
    let tenants = DispatchNamespace("tenants");
    let customer = Worker("customer") { namespace: tenants, entrypoint: "./a.js" };
    let api = Worker("api") { entrypoint: "./w.js", bindings: { CUSTOMER: customer, SELF: api } };
}

fn main() {}
