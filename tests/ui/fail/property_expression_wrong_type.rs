use athanor::infra;

infra! {
    let api = Worker("api") { entrypoint: "./w.js", url: "yes".len() };
}

fn main() {}
