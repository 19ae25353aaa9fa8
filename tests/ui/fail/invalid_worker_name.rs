use athanor::infra;

infra! {
    let api = Worker("api") { name: "My Worker", entrypoint: "./w.js" };
}

fn main() {}
