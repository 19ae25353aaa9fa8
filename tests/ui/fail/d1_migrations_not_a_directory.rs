use athanor::infra;

infra! {
    let db = D1Database("db") { migrations: "./migrations-that-do-not-exist" };
}

fn main() {}
