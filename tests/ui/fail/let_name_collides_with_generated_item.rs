use athanor::infra;

infra! {
    let Outputs = Worker("api") { entrypoint: "./w.js" };
}

fn main() {}
