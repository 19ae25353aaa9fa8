use athanor::infra;

infra! {
    let counter = DurableObjectNamespace("counter") { sqlite: true };
    let api = Worker("api") { url: true };
}

fn main() {}
