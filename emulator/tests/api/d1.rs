//! D1 over the v4 API: databases, `query` and `raw` with D1's shapes, limits and error codes, the
//! statements D1 refuses, export and import, and the `d1` binding checks of a Worker upload.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Harness, MAIN_JS, worker_form};

async fn create(h: &Harness, body: Value) -> Value {
    h.ok(h.req(Method::POST, &h.acct("/d1/database")).json(&body))
        .await
}

fn db(id: &str, rest: &str) -> String {
    format!("/d1/database/{id}{rest}")
}

/// `query` on database `id`; the `result` array.
async fn query(h: &Harness, id: &str, body: Value) -> Value {
    h.ok(h.req(Method::POST, &h.acct(&db(id, "/query"))).json(&body))
        .await
}

/// A `query` that fails with 400 and `code`; the message.
async fn query_fails(h: &Harness, id: &str, sql: &str, code: u64) -> String {
    h.fails(
        h.req(Method::POST, &h.acct(&db(id, "/query")))
            .json(&json!({"sql": sql})),
        400,
        code,
    )
    .await
}

#[tokio::test]
async fn databases_are_created_listed_read_and_deleted() {
    let h = Harness::start().await;
    let created = create(
        &h,
        json!({"name": "users-db", "primary_location_hint": "weur"}),
    )
    .await;
    let id = created["uuid"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{created}");
    assert_eq!(created["name"], "users-db");
    assert_eq!(created["version"], "production");
    assert_eq!(created["num_tables"], 0);
    assert!(created["file_size"].as_u64().unwrap() > 0, "{created}");
    assert_eq!(created["created_in_region"], "WEUR");
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(h.dir.path().join(format!("d1/{id}.sqlite")).is_file());

    // The same name again: 7502, which wrangler reads as "already exists".
    h.fails(
        h.req(Method::POST, &h.acct("/d1/database"))
            .json(&json!({"name": "users-db"})),
        400,
        7502,
    )
    .await;
    for bad in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "x", "primary_location_hint": "mars"}),
        json!({"name": "x", "jurisdiction": "moon"}),
    ] {
        h.fails(
            h.req(Method::POST, &h.acct("/d1/database")).json(&bad),
            400,
            7400,
        )
        .await;
    }
    let eu = create(&h, json!({"name": "eu-db", "jurisdiction": "eu"})).await;
    assert_eq!(eu["jurisdiction"], "eu");

    // List, with the name filter and pages.
    let (status, body) = h.get(&h.acct("/d1/database")).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["users-db", "eu-db"]);
    assert_eq!(body["result_info"]["total_count"], 2);
    let (_, body) = h.get(&h.acct("/d1/database?name=users")).await;
    assert_eq!(body["result"].as_array().unwrap().len(), 1);
    assert_eq!(body["result"][0]["uuid"], id.as_str());
    let (_, body) = h.get(&h.acct("/d1/database?per_page=1&page=2")).await;
    assert_eq!(body["result"][0]["name"], "eu-db");

    // Get, by UUID or by name (wrangler looks databases up by name).
    let got = h.ok(h.req(Method::GET, &h.acct(&db(&id, "")))).await;
    assert_eq!(got["name"], "users-db");
    assert_eq!(got["running_in_region"], "WEUR");
    assert_eq!(got["read_replication"]["mode"], "disabled");
    let by_name = h.ok(h.req(Method::GET, &h.acct(&db("users-db", "")))).await;
    assert_eq!(by_name["uuid"], id.as_str());
    let edited = h
        .ok(h
            .req(Method::PATCH, &h.acct(&db(&id, "")))
            .json(&json!({"read_replication": {"mode": "auto"}})))
        .await;
    assert_eq!(edited["read_replication"]["mode"], "auto");

    // Delete: the database and its file.
    let deleted = h.ok(h.req(Method::DELETE, &h.acct(&db(&id, "")))).await;
    assert_eq!(deleted, Value::Null);
    let message = h
        .fails(h.req(Method::GET, &h.acct(&db(&id, ""))), 404, 7404)
        .await;
    assert_eq!(message, format!("The database {id} could not be found"));
    h.fails(
        h.req(Method::POST, &h.acct(&db(&id, "/query")))
            .json(&json!({"sql": "SELECT 1"})),
        404,
        7404,
    )
    .await;
    assert!(!h.dir.path().join(format!("d1/{id}.sqlite")).exists());
}

#[tokio::test]
async fn query_runs_statements_with_params_one_result_each() {
    let h = Harness::start().await;
    let id = create(&h, json!({"name": "q"})).await["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = query(
        &h,
        &id,
        json!({"sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, data BLOB, score REAL); CREATE INDEX users_name ON users (name);"}),
    )
    .await;
    assert_eq!(r.as_array().unwrap().len(), 2, "{r}");
    let r = query(
        &h,
        &id,
        json!({"sql": "INSERT INTO users (name, data, score) VALUES (?, ?, ?)", "params": ["ada", [1, 2, 255], 1.5]}),
    )
    .await;
    let meta = &r[0]["meta"];
    assert_eq!(r[0]["success"], true);
    assert_eq!(r[0]["results"], json!([]));
    assert_eq!(meta["changes"], 1);
    assert_eq!(meta["last_row_id"], 1);
    assert_eq!(meta["changed_db"], true);
    assert!(meta["size_after"].as_u64().unwrap() > 0);
    assert!(meta["rows_written"].as_u64().unwrap() >= 1);
    assert!(meta["duration"].is_number());
    assert!(meta["rows_read"].is_number());

    // Several statements, one result each, in order.
    let r = query(
        &h,
        &id,
        json!({"sql": "INSERT INTO users (name) VALUES ('bob'); SELECT id, name, data, score FROM users ORDER BY id;"}),
    )
    .await;
    assert_eq!(r[0]["meta"]["last_row_id"], 2);
    assert_eq!(
        r[1]["results"],
        json!([
            {"id": 1, "name": "ada", "data": [1, 2, 255], "score": 1.5},
            {"id": 2, "name": "bob", "data": null, "score": null},
        ])
    );
    assert_eq!(r[1]["meta"]["changed_db"], false);
    // A batch of statements, each with its own params.
    let r = query(
        &h,
        &id,
        json!({"batch": [
            {"sql": "SELECT name FROM users WHERE id = ?1", "params": [2]},
            {"sql": "SELECT count(*) AS n FROM users"},
        ]}),
    )
    .await;
    assert_eq!(r[0]["results"], json!([{"name": "bob"}]));
    assert_eq!(r[1]["results"], json!([{"n": 2}]));
    // Params with several statements are refused (7400), and so is a body without SQL.
    let message = h
        .fails(
            h.req(Method::POST, &h.acct(&db(&id, "/query")))
                .json(&json!({"sql": "SELECT ?; SELECT 2", "params": [1]})),
            400,
            7400,
        )
        .await;
    assert_eq!(
        message,
        "The request is malformed: params with multiple statements is not supported"
    );
    h.fails(
        h.req(Method::POST, &h.acct(&db(&id, "/query")))
            .json(&json!({"params": [1]})),
        400,
        7400,
    )
    .await;
    let got = h.ok(h.req(Method::GET, &h.acct(&db(&id, "")))).await;
    assert_eq!(got["num_tables"], 1);

    // raw: columns and rows.
    let r = h
        .ok(h
            .req(Method::POST, &h.acct(&db(&id, "/raw")))
            .json(&json!({"sql": "SELECT id, name FROM users ORDER BY id; SELECT 1 AS one"})))
        .await;
    assert_eq!(
        r[0]["results"],
        json!({"columns": ["id", "name"], "rows": [[1, "ada"], [2, "bob"]]})
    );
    assert_eq!(r[1]["results"], json!({"columns": ["one"], "rows": [[1]]}));
    assert_eq!(r[0]["success"], true);
    assert!(r[0]["meta"]["duration"].is_number());
}

#[tokio::test]
async fn sql_errors_are_7500_with_sqlites_message_and_write_nothing() {
    let h = Harness::start().await;
    let id = create(&h, json!({"name": "errors"})).await["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    query(
        &h,
        &id,
        json!({"sql": "CREATE TABLE t (a TEXT UNIQUE NOT NULL)"}),
    )
    .await;
    assert_eq!(
        query_fails(&h, &id, "SELECT * FROM nope", 7500).await,
        "no such table: nope: SQLITE_ERROR"
    );
    assert_eq!(
        query_fails(&h, &id, "SELEC 1", 7500).await,
        "near \"SELEC\": syntax error at offset 0: SQLITE_ERROR"
    );
    // The first statement's insert is rolled back with the failing second one.
    assert_eq!(
        query_fails(
            &h,
            &id,
            "INSERT INTO t VALUES ('x'); INSERT INTO t VALUES ('x')",
            7500
        )
        .await,
        "UNIQUE constraint failed: t.a: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_UNIQUE)"
    );
    assert_eq!(
        query_fails(&h, &id, "INSERT INTO t VALUES (NULL)", 7500).await,
        "NOT NULL constraint failed: t.a: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_NOTNULL)"
    );
    let r = query(&h, &id, json!({"sql": "SELECT count(*) AS n FROM t"})).await;
    assert_eq!(r[0]["results"], json!([{"n": 0}]));
    assert_eq!(
        query_fails(&h, &id, "-- nothing here", 7500).await,
        "No SQL statements detected."
    );
    let message = h
        .fails(
            h.req(Method::POST, &h.acct(&db(&id, "/query")))
                .json(&json!({"sql": "SELECT ?, ?", "params": [1]})),
            400,
            7500,
        )
        .await;
    assert_eq!(message, "Wrong number of parameter bindings for SQL query.");
    // Limits: 100 bound parameters.
    let placeholders = vec!["?"; 101].join(",");
    let params: Vec<i32> = (0..101).collect();
    let message = h
        .fails(
            h.req(Method::POST, &h.acct(&db(&id, "/query")))
                .json(&json!({"sql": format!("SELECT {placeholders}"), "params": params})),
            400,
            7500,
        )
        .await;
    assert!(message.contains("too many SQL variables"), "{message}");
}

#[tokio::test]
async fn statements_d1_forbids_are_refused() {
    let h = Harness::start().await;
    let id = create(&h, json!({"name": "rules"})).await["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    for sql in ["BEGIN TRANSACTION", "COMMIT", "SAVEPOINT s", "ROLLBACK"] {
        let message = query_fails(&h, &id, sql, 7500).await;
        assert!(
            message.starts_with(
                "To execute a transaction, please use the state.storage.transaction()"
            ),
            "{sql}: {message}"
        );
    }
    for sql in [
        "ATTACH DATABASE 'other.sqlite' AS other",
        "PRAGMA journal_mode = DELETE",
        "PRAGMA writable_schema = ON",
        "CREATE TEMP TABLE scratch (a)",
        "DROP TABLE _cf_KV",
    ] {
        let message = query_fails(&h, &id, sql, 7500).await;
        assert!(message.ends_with(": SQLITE_AUTH"), "{sql}: {message}");
    }
    assert_eq!(
        query_fails(&h, &id, "SELECT * FROM _cf_KV", 7500).await,
        "access to _cf_KV.key is prohibited: SQLITE_AUTH"
    );
    assert!(
        query_fails(&h, &id, "SELECT sqlite_version()", 7500)
            .await
            .starts_with("not authorized to use function: sqlite_version")
    );
    // What D1 allows.
    query(
        &h,
        &id,
        json!({"sql": "PRAGMA defer_foreign_keys = true; CREATE TABLE a (id INTEGER PRIMARY KEY); CREATE TABLE b (a_id REFERENCES a (id)); PRAGMA foreign_key_list(b); PRAGMA table_info(a); PRAGMA optimize;"}),
    )
    .await;
    let r = query(&h, &id, json!({"sql": "PRAGMA table_list"})).await;
    let tables: Vec<&str> = r[0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        tables.contains(&"_cf_KV") && tables.contains(&"a"),
        "{tables:?}"
    );
    // Foreign keys are enforced, as on D1.
    let message = query_fails(&h, &id, "INSERT INTO b VALUES (7)", 7500).await;
    assert!(
        message.starts_with("FOREIGN KEY constraint failed"),
        "{message}"
    );
    // JSON functions and operators work.
    let r = query(
        &h,
        &id,
        json!({"sql": "SELECT json_extract('{\"a\":1}', '$.a') AS x, '{\"b\":2}' ->> '$.b' AS y"}),
    )
    .await;
    assert_eq!(r[0]["results"], json!([{"x": 1, "y": 2}]));
}

#[tokio::test]
async fn export_and_import_follow_the_polling_protocol() {
    let h = Harness::start().await;
    let source = create(&h, json!({"name": "source"})).await["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    query(
        &h,
        &source,
        json!({"sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('it''s here'), ('two\nlines'); CREATE INDEX notes_body ON notes (body);"}),
    )
    .await;
    let export = h
        .ok(h
            .req(Method::POST, &h.acct(&db(&source, "/export")))
            .json(&json!({"output_format": "polling", "dump_options": {"tables": []}})))
        .await;
    assert_eq!(export["success"], true);
    assert_eq!(export["type"], "export");
    assert_eq!(export["status"], "complete");
    assert!(export["at_bookmark"].is_string());
    let url = export["result"]["signed_url"].as_str().unwrap();
    // The signed URL needs no token.
    let dump = reqwest::get(url).await.unwrap();
    assert_eq!(dump.status(), 200);
    let dump = dump.text().await.unwrap();
    assert!(
        dump.starts_with("PRAGMA defer_foreign_keys=TRUE;\n"),
        "{dump}"
    );
    assert!(dump.contains("CREATE TABLE notes"), "{dump}");
    assert!(dump.contains("INSERT INTO \"notes\""), "{dump}");
    assert!(dump.contains("CREATE INDEX notes_body"), "{dump}");
    assert!(!dump.contains("_cf_KV"), "{dump}");
    h.fails(
        h.req(Method::POST, &h.acct(&db(&source, "/export")))
            .json(&json!({"output_format": "file"})),
        400,
        7400,
    )
    .await;

    // Import the dump into another database: init, upload, ingest.
    let target = create(&h, json!({"name": "target"})).await["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let etag = {
        use md5::Digest;
        hex::encode(md5::Md5::digest(dump.as_bytes()))
    };
    let init = h
        .ok(h
            .req(Method::POST, &h.acct(&db(&target, "/import")))
            .json(&json!({"action": "init", "etag": etag})))
        .await;
    let upload_url = init["upload_url"].as_str().unwrap();
    let filename = init["filename"].as_str().unwrap();
    let put = reqwest::Client::new()
        .put(upload_url)
        .body(dump.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(
        put.headers()["etag"].to_str().unwrap().trim_matches('"'),
        etag
    );
    let done = h
        .ok(h
            .req(Method::POST, &h.acct(&db(&target, "/import")))
            .json(&json!({"action": "ingest", "etag": etag, "filename": filename})))
        .await;
    assert_eq!(done["status"], "complete", "{done}");
    assert_eq!(done["type"], "import");
    assert_eq!(done["result"]["num_queries"], 5, "{done}");
    assert!(done["result"]["meta"]["rows_written"].as_u64().unwrap() >= 2);
    let r = query(
        &h,
        &target,
        json!({"sql": "SELECT body FROM notes ORDER BY id"}),
    )
    .await;
    assert_eq!(
        r[0]["results"],
        json!([{"body": "it's here"}, {"body": "two\nlines"}])
    );

    // A failing file is an `error` status, and nothing of it is applied.
    let bad = "INSERT INTO notes (body) VALUES ('kept?');\nINSERT INTO nope VALUES (1);\n";
    let etag = {
        use md5::Digest;
        hex::encode(md5::Md5::digest(bad.as_bytes()))
    };
    let init = h
        .ok(h
            .req(Method::POST, &h.acct(&db(&target, "/import")))
            .json(&json!({"action": "init", "etag": etag})))
        .await;
    reqwest::Client::new()
        .put(init["upload_url"].as_str().unwrap())
        .body(bad)
        .send()
        .await
        .unwrap();
    let failed = h
        .ok(h
            .req(Method::POST, &h.acct(&db(&target, "/import")))
            .json(&json!({"action": "ingest", "etag": etag, "filename": init["filename"]})))
        .await;
    assert_eq!(failed["status"], "error", "{failed}");
    assert_eq!(failed["error"], "no such table: nope: SQLITE_ERROR");
    let r = query(
        &h,
        &target,
        json!({"sql": "SELECT count(*) AS n FROM notes"}),
    )
    .await;
    assert_eq!(r[0]["results"], json!([{"n": 2}]));
}

#[tokio::test]
async fn databases_and_their_rows_survive_a_restart() {
    let h = Harness::start().await;
    let id = create(&h, json!({"name": "kept"})).await["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    query(
        &h,
        &id,
        json!({"sql": "CREATE TABLE t (a); INSERT INTO t VALUES ('still here')"}),
    )
    .await;
    let Harness { emu, dir, .. } = h;
    emu.shutdown().await;
    let h = Harness::start_in(dir).await;
    let r = query(&h, &id, json!({"sql": "SELECT a FROM t"})).await;
    assert_eq!(r[0]["results"], json!([{"a": "still here"}]));
}

#[tokio::test]
async fn a_d1_binding_must_name_an_existing_database() {
    let h = Harness::start().await;
    let id = create(&h, json!({"name": "bound"})).await["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let upload = |bindings: Value| {
        h.req(Method::PUT, &h.acct("/workers/scripts/with-d1"))
            .multipart(worker_form(
                json!({"main_module": "index.js", "bindings": bindings}),
                &[("index.js", MAIN_JS)],
            ))
    };
    let missing = uuid::Uuid::new_v4().to_string();
    let message = h
        .fails(
            upload(json!([{"type": "d1", "name": "DB", "id": missing}])),
            400,
            10181,
        )
        .await;
    assert_eq!(
        message,
        format!(
            "D1 binding 'DB' references database '{missing}' which was not found. Verify the database exists in your account and that the database_id in your configuration is correct."
        )
    );
    h.fails(upload(json!([{"type": "d1", "name": "DB"}])), 400, 10021)
        .await;
    // wrangler sends `id`, the SDK `database_id`; both are kept as sent.
    h.ok(upload(json!([{"type": "d1", "name": "DB", "id": id}])))
        .await;
    h.ok(upload(
        json!([{"type": "d1", "name": "DB", "database_id": id}]),
    ))
    .await;
    let settings = h
        .ok(h.req(Method::GET, &h.acct("/workers/scripts/with-d1/settings")))
        .await;
    assert_eq!(
        settings["bindings"],
        json!([{"name": "DB", "type": "d1", "database_id": id}])
    );
}
