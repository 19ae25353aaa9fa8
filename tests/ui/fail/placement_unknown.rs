use athanor::infra;

infra! {
    let api = Worker("api") { entrypoint: "./api.js", placement: "smrt" };
}

fn main() {}
