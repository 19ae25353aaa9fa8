use athanor::infra;

infra! {
    let a = Secret("a") { value: secret_env() };
    let b = Secret("b") { value: secret_file("") };
    let api = Worker("api") { entrypoint: "./w.js", bindings: { T: secret_env("A", "B") } };
}

fn main() {}
