use athanor::infra;

// trybuild compiles this file in target/tests/trybuild/athanor: four levels up is the workspace,
// whose `macros` crate is a proc-macro library, not a `cdylib`.
infra! {
    let api = Worker("api") { crate: "../../../../macros" };
}

fn main() {}
