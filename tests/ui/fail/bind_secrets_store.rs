use athanor::infra;

infra! {
    let store = SecretsStore("store");
    let api = Worker("api") { entrypoint: "./w.js", bindings: { STORE: store } };
}

fn main() {}
