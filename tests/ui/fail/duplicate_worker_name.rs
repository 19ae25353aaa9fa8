use athanor::infra;

infra! {
    let api = Worker("api") { name: "my-worker", entrypoint: "./a.js" };
    let admin = Worker("admin") { name: "my-worker", entrypoint: "./b.js" };
}

fn main() {}
