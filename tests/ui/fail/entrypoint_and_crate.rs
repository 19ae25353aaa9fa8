use athanor::infra;

infra! {
    let api = Worker("api") { entrypoint: "./src/worker.ts", crate: "." };
}

fn main() {}
