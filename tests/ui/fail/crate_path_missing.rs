use athanor::infra;

infra! {
    let api = Worker("api") { crate: "./no-such-crate" };
}

fn main() {}
