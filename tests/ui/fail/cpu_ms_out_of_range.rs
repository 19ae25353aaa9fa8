use athanor::infra;

infra! {
    let api = Worker("api") { entrypoint: "./api.js", cpu_ms: 400000 };
}

fn main() {}
