use athanor::model::stack::Props;
use athanor::infra;

infra! {
    app "d1";

    let db = D1Database("db") {
        name: "app-db",
        location_hint: "weur",
        jurisdiction: "eu",
        // A directory that exists beside the crate (trybuild's); a real stack names its own.
        migrations: ".",
    };
    let scratch = D1Database("scratch");
    let api = Worker("api") { entrypoint: "./api.js", bindings: { DB: db, SCRATCH: scratch } };
}

fn main() {
    let stack = stack();
    let Props::D1Database(db) = &stack.get("db").unwrap().props else { panic!() };
    assert_eq!(db.name.as_deref(), Some("app-db"));
    assert_eq!(db.location_hint.as_deref(), Some("weur"));
    assert_eq!(db.jurisdiction.as_deref(), Some("eu"));
    assert_eq!(db.migrations.as_deref(), Some(std::path::Path::new(".")));
    let Props::D1Database(scratch) = &stack.get("scratch").unwrap().props else { panic!() };
    assert_eq!(scratch.migrations, None);
    assert!(api::TYPESCRIPT_ENV.contains("DB: D1Database;"), "{}", api::TYPESCRIPT_ENV);
    assert_eq!(stack.get("api").unwrap().dependencies(), ["db", "scratch"].into());
}
