use athanor::infra;

infra! {
    let db = D1Database("db") { migrations: "./migrations-that-do-not-exist" };
    let seeded = D1Database("seeded") { seed: "./seed-that-does-not-exist.sql" };
}

fn main() {}
