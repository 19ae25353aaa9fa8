use athanor::infra;

infra! {
    let api = Worker("api") { entrypoint: "./w.js", compatibility_date: "2025-9-1" };
}

fn main() {}
