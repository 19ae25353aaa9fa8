use athanor::infra;

// trybuild compiles this file in target/tests/trybuild/athanor: four levels up is the workspace,
// whose `examples/rust-worker` is a Worker crate.
infra! {
    let store = SecretsStore("store");
    let api = Worker("api") {
        crate: "../../../../examples/rust-worker",
        bindings: { STORE: store },
    };
}

fn main() {}
