use athanor::infra;

infra! {
    let counter = DurableObjectNamespace("counter") { class_name: "my-counter" };
}

fn main() {}
