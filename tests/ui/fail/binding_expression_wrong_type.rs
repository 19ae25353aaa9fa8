use athanor::infra;

struct Config;

fn config() -> Config {
    Config
}

infra! {
    let api = Worker("api") { entrypoint: "./w.js", bindings: { CONFIG: config() } };
}

fn main() {}
