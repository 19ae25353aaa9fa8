//! D1Database against the emulator: create with its migrations applied and recorded as wrangler
//! records them, a new migration applied alone, an edited applied one refused, adoption that
//! reads what the database already recorded, a seed file run again only when it changes, a
//! Worker binding, delete.

use athanor_core::output::D1DatabaseOutput;
use athanor_core::stack::D1Database;
use athanor_core::{Output, Provider, ProviderError};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Decl, Fixture, count, start};

const QUERY: &str = "POST /accounts/{account_id}/d1/database/{database_id}/query";

fn d1(out: &Output) -> &D1DatabaseOutput {
    match out {
        Output::D1Database(o) => o,
        other => panic!("not a D1 output: {other:?}"),
    }
}

/// The rows of one SQL statement run through the API.
async fn rows(fx: &Fixture, id: &str, sql: &str) -> Vec<Value> {
    let (status, answer) = fx
        .api_send(
            Method::POST,
            &format!("/d1/database/{id}/query"),
            json!({ "sql": sql }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    answer["result"][0]["results"].as_array().unwrap().clone()
}

#[tokio::test]
async fn migrations_are_applied_once_in_order_and_an_edited_one_is_refused() {
    let fx = start().await;
    let root = fx.dir.path().to_path_buf();
    let dir = root.join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("0001_users.sql"),
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("0002_seed.sql"),
        "INSERT INTO users (name) VALUES ('ada')",
    )
    .unwrap();
    let props = D1Database {
        migrations: Some("migrations".into()),
        ..D1Database::default()
    };
    let first = Decl::new("db", "app-db", props.clone()).root(&root);
    fx.reset();
    let fingerprint = fx.provider.fingerprint(&first.desired()).await.unwrap();
    assert!(fingerprint.is_some());
    let out = fx.provider.create(&first.desired()).await.unwrap();
    // Create, read what is recorded, one call per migration.
    assert_eq!(fx.stats().mutating, 4, "{:?}", fx.stats());
    let id = d1(&out).id.clone();
    assert_eq!(
        d1(&out).migrations.keys().collect::<Vec<_>>(),
        ["0001_users.sql", "0002_seed.sql"]
    );
    assert_eq!(
        rows(&fx, &id, "SELECT name FROM users").await,
        [json!({"name": "ada"})]
    );
    let recorded = rows(&fx, &id, "SELECT name FROM d1_migrations ORDER BY id").await;
    assert_eq!(
        recorded,
        [
            json!({"name": "0001_users.sql"}),
            json!({"name": "0002_seed.sql"})
        ]
    );

    // Nothing new: the same fingerprint, and an update would send nothing.
    assert_eq!(
        fx.provider.fingerprint(&first.desired()).await.unwrap(),
        fingerprint
    );
    fx.reset();
    let same = fx
        .provider
        .update(&first.desired(), first.existing(&out))
        .await
        .unwrap();
    assert_eq!(fx.stats().total, 0);
    assert_eq!(same, out);

    // A new file: applied alone.
    std::fs::write(
        dir.join("0003_email.sql"),
        "ALTER TABLE users ADD COLUMN email TEXT;",
    )
    .unwrap();
    assert_ne!(
        fx.provider.fingerprint(&first.desired()).await.unwrap(),
        fingerprint
    );
    fx.reset();
    let out = fx
        .provider
        .update(&first.desired(), first.existing(&out))
        .await
        .unwrap();
    assert_eq!(count(&fx.stats(), QUERY), 1, "{:?}", fx.stats());
    assert_eq!(d1(&out).migrations.len(), 3);
    rows(&fx, &id, "SELECT email FROM users").await;

    // An applied file edited: refused, nothing sent.
    std::fs::write(
        dir.join("0001_users.sql"),
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, age INTEGER);",
    )
    .unwrap();
    fx.reset();
    let err = fx
        .provider
        .update(&first.desired(), first.existing(&out))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("0001_users.sql was applied and has changed"),
        "{err}"
    );
    assert_eq!(fx.stats().total, 0);

    // Adopted elsewhere: what the database recorded is not applied again.
    let adopter = Decl::new("db", "app-db", props).root(&root).adopt();
    std::fs::write(
        dir.join("0001_users.sql"),
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n",
    )
    .unwrap();
    let adopted = fx.provider.create(&adopter.desired()).await.unwrap();
    assert_eq!(d1(&adopted).id, id);
    assert_eq!(d1(&adopted).migrations.len(), 3);
    assert_eq!(
        rows(&fx, &id, "SELECT count(*) AS n FROM users").await,
        [json!({"n": 1})]
    );

    assert_eq!(
        fx.provider.read(first.existing(&out)).await.unwrap(),
        Some(out.clone())
    );
    fx.provider.delete(first.existing(&out)).await.unwrap();
    assert_eq!(fx.provider.read(first.existing(&out)).await.unwrap(), None);
    fx.provider.delete(first.existing(&out)).await.unwrap();
}

#[tokio::test]
async fn the_seed_runs_after_the_migrations_and_again_only_when_it_changes() {
    let fx = start().await;
    let root = fx.dir.path().to_path_buf();
    std::fs::create_dir_all(root.join("migrations")).unwrap();
    std::fs::write(
        root.join("migrations/0001_plans.sql"),
        "CREATE TABLE plans (name TEXT PRIMARY KEY, price INTEGER);",
    )
    .unwrap();
    let seed = root.join("seed.sql");
    std::fs::write(
        &seed,
        "INSERT OR REPLACE INTO plans VALUES ('free', 0), ('pro', 20)",
    )
    .unwrap();
    let decl = Decl::new(
        "db",
        "seeded-db",
        D1Database {
            migrations: Some("migrations".into()),
            seed: Some("seed.sql".into()),
            ..D1Database::default()
        },
    )
    .root(&root);
    let fingerprint = fx.provider.fingerprint(&decl.desired()).await.unwrap();
    fx.reset();
    let out = fx.provider.create(&decl.desired()).await.unwrap();
    // Create, read what is recorded, the migration, the seed.
    assert_eq!(count(&fx.stats(), QUERY), 3, "{:?}", fx.stats());
    let id = d1(&out).id.clone();
    let plans = "SELECT name, price FROM plans ORDER BY name";
    assert_eq!(
        rows(&fx, &id, plans).await,
        [
            json!({"name": "free", "price": 0}),
            json!({"name": "pro", "price": 20})
        ]
    );

    // Unchanged: nothing sent.
    fx.reset();
    let same = fx
        .provider
        .update(&decl.desired(), decl.existing(&out))
        .await
        .unwrap();
    assert_eq!((fx.stats().total, &same), (0, &out));

    // Changed: the fingerprint moves and the seed runs again, alone.
    std::fs::write(
        &seed,
        "INSERT OR REPLACE INTO plans VALUES ('free', 0), ('pro', 25)",
    )
    .unwrap();
    assert_ne!(
        fx.provider.fingerprint(&decl.desired()).await.unwrap(),
        fingerprint
    );
    fx.reset();
    let out = fx
        .provider
        .update(&decl.desired(), decl.existing(&out))
        .await
        .unwrap();
    assert_eq!(count(&fx.stats(), QUERY), 1, "{:?}", fx.stats());
    assert_eq!(
        rows(&fx, &id, "SELECT price FROM plans WHERE name = 'pro'").await,
        [json!({"price": 25})]
    );

    // A seed that fails names the file and keeps the last good digest.
    std::fs::write(&seed, "INSERT INTO missing_table VALUES (1)").unwrap();
    let err = fx
        .provider
        .update(&decl.desired(), decl.existing(&out))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("running the seed seed.sql"),
        "{err}"
    );
    fx.provider.delete(decl.existing(&out)).await.unwrap();
}

#[tokio::test]
async fn a_taken_name_is_an_error_unless_adopted() {
    let fx = start().await;
    let decl = Decl::new("db", "taken-db", D1Database::default());
    fx.provider.create(&decl.desired()).await.unwrap();
    let again = fx.provider.create(&decl.desired()).await.unwrap_err();
    assert!(
        matches!(again, ProviderError::AlreadyExists { .. }),
        "{again:?}"
    );
    assert!(
        again.to_string().contains("D1 database \"taken-db\""),
        "{again}"
    );
}
