use athanor::infra;

infra! {
    let tenants = DispatchNamespace("tenants");
    let customer = Worker("customer-a") {
        namespace: tenants,
        entrypoint: "./a.js",
        crons: ["0 * * * *"],
    };
}

fn main() {}
