use athanor::model::stack::{Props, WorkerCode};
use athanor::infra;

// trybuild compiles this file in target/tests/trybuild/athanor: four levels up is the workspace,
// whose `examples/rust-worker` is a Worker crate (a `cdylib`).
infra! {
    app "rusty";

    let kv = KvNamespace("kv");
    let api = Worker("api") {
        crate: "../../../../examples/rust-worker",
        bindings: { KV: kv, LIMIT: 3 },
    };
}

fn main() {
    let stack = stack();
    let Props::Worker(w) = &stack.get("api").unwrap().props else { panic!() };
    assert_eq!(w.code, WorkerCode::Crate("../../../../examples/rust-worker".into()));
    assert_eq!(w.bindings.len(), 2);
}
