//! The D1 binding on workerd: a Worker calls `env.DB` (prepare/bind/all/first/run/raw, batch,
//! exec, sessions), and what it writes the v4 API's `query` reads, and the other way round.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::Local;

/// A Worker that runs one D1 call per request: `{op, sql, params, statements}` in, `{result}` or
/// `{error}` out.
const D1_WORKER: &str = r#"
export default {
  async fetch(request, env) {
    const { op, sql, params = [], statements = [], column, options } = await request.json();
    const db = env.DB;
    try {
      let result;
      const stmt = () => db.prepare(sql).bind(...params);
      switch (op) {
        case "all": result = await stmt().all(); break;
        case "first": result = column === undefined ? await stmt().first() : await stmt().first(column); break;
        case "run": result = await stmt().run(); break;
        case "raw": result = await stmt().raw(options); break;
        case "batch":
          result = await db.batch(statements.map((s) => db.prepare(s.sql).bind(...(s.params ?? []))));
          break;
        case "exec": result = await db.exec(sql); break;
        case "session": {
          const session = db.withSession("first-primary");
          const r = await session.prepare(sql).bind(...params).all();
          result = { results: r.results, bookmark: session.getBookmark() };
          break;
        }
        case "blob": {
          const r = await db.prepare("SELECT ? AS b").bind(new Uint8Array([0, 7, 255]).buffer).first();
          result = r.b;
          break;
        }
        default: throw new Error(`unknown op ${op}`);
      }
      return Response.json({ result: result === undefined ? null : result });
    } catch (e) {
      return Response.json({ error: String(e.message), cause: e.cause ? String(e.cause.message) : null });
    }
  },
};
"#;

/// An emulator serving the D1 Worker over a new database; `None` when skipped.
async fn d1_worker() -> Option<(Local, String)> {
    let local = Local::start().await?;
    let db = local
        .ok(local
            .api(Method::POST, "/d1/database")
            .json(&json!({"name": "conformance"})))
        .await;
    let id = db["uuid"].as_str().unwrap().to_owned();
    // wrangler sends the database as `id`.
    let status = local
        .deploy(
            "d1",
            D1_WORKER,
            json!({"bindings": [{"type": "d1", "name": "DB", "id": id}]}),
        )
        .await;
    assert_eq!(status.running, ["d1"], "{status:?}");
    Some((local, id))
}

async fn call(local: &Local, args: Value) -> Value {
    let answer = local.call("d1", "/", args.clone()).await;
    assert!(answer.get("error").is_none(), "{args}: {answer}");
    answer["result"].clone()
}

async fn call_error(local: &Local, args: Value) -> String {
    let answer = local.call("d1", "/", args.clone()).await;
    answer["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{args} succeeded: {answer}"))
        .to_owned()
}

/// The API's `query`: its results, one entry per statement.
async fn api_query(local: &Local, id: &str, sql: &str, params: Value) -> Value {
    local
        .ok(local
            .api(Method::POST, &format!("/d1/database/{id}/query"))
            .json(&json!({"sql": sql, "params": params})))
        .await
}

#[tokio::test]
async fn the_binding_and_the_api_share_the_database() {
    let Some((local, id)) = d1_worker().await else {
        return;
    };
    // Schema through the API; rows through the binding.
    api_query(
        &local,
        &id,
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, admin INTEGER)",
        json!([]),
    )
    .await;
    let run = call(
        &local,
        json!({"op": "run", "sql": "INSERT INTO users (name, admin) VALUES (?1, ?2)", "params": ["ada", true]}),
    )
    .await;
    assert_eq!(run["success"], true, "{run}");
    assert_eq!(run["meta"]["changes"], 1, "{run}");
    assert_eq!(run["meta"]["last_row_id"], 1, "{run}");
    assert_eq!(run["meta"]["changed_db"], true, "{run}");
    let r = api_query(&local, &id, "SELECT id, name, admin FROM users", json!([])).await;
    assert_eq!(
        r[0]["results"],
        json!([{"id": 1, "name": "ada", "admin": 1}])
    );

    // Rows through the API; reads through the binding.
    api_query(
        &local,
        &id,
        "INSERT INTO users (name, admin) VALUES (?, ?)",
        json!(["bob", 0]),
    )
    .await;
    let all = call(
        &local,
        json!({"op": "all", "sql": "SELECT id, name FROM users ORDER BY id"}),
    )
    .await;
    assert_eq!(all["success"], true);
    assert_eq!(
        all["results"],
        json!([{"id": 1, "name": "ada"}, {"id": 2, "name": "bob"}])
    );
    assert!(all["meta"]["duration"].is_number());
    assert!(all["meta"]["size_after"].as_u64().unwrap() > 0);
    assert_eq!(
        call(
            &local,
            json!({"op": "first", "sql": "SELECT name FROM users WHERE id = ?", "params": [2]})
        )
        .await,
        json!({"name": "bob"})
    );
    assert_eq!(
        call(
            &local,
            json!({"op": "first", "sql": "SELECT name FROM users WHERE id = ?", "params": [2], "column": "name"})
        )
        .await,
        "bob"
    );
    assert_eq!(
        call(
            &local,
            json!({"op": "first", "sql": "SELECT name FROM users WHERE id = 99"})
        )
        .await,
        Value::Null
    );
    assert_eq!(
        call(
            &local,
            json!({"op": "raw", "sql": "SELECT id, name FROM users ORDER BY id", "options": {"columnNames": true}})
        )
        .await,
        json!([["id", "name"], [1, "ada"], [2, "bob"]])
    );
    assert_eq!(
        call(
            &local,
            json!({"op": "raw", "sql": "SELECT id FROM users ORDER BY id"})
        )
        .await,
        json!([[1], [2]])
    );
    assert_eq!(
        call(&local, json!({"op": "blob"})).await,
        json!([0, 7, 255])
    );
    let session = call(
        &local,
        json!({"op": "session", "sql": "SELECT count(*) AS n FROM users"}),
    )
    .await;
    assert_eq!(session["results"], json!([{"n": 2}]));
    assert!(session["bookmark"].is_string(), "{session}");
}

#[tokio::test]
async fn batch_and_exec_are_transactions() {
    let Some((local, id)) = d1_worker().await else {
        return;
    };
    let exec = call(
        &local,
        json!({"op": "exec", "sql": "CREATE TABLE log (n INTEGER UNIQUE);\nINSERT INTO log VALUES (1); INSERT INTO log VALUES (2);\n\nINSERT INTO log VALUES (3)"}),
    )
    .await;
    assert_eq!(exec["count"], 4, "{exec}");
    assert!(exec["duration"].is_number());
    let batch = call(
        &local,
        json!({"op": "batch", "statements": [
            {"sql": "INSERT INTO log VALUES (?)", "params": [4]},
            {"sql": "SELECT max(n) AS top FROM log"},
        ]}),
    )
    .await;
    assert_eq!(batch[0]["meta"]["changes"], 1, "{batch}");
    assert_eq!(batch[1]["results"], json!([{"top": 4}]), "{batch}");

    // A failing statement rolls the whole batch back.
    let error = call_error(
        &local,
        json!({"op": "batch", "statements": [
            {"sql": "INSERT INTO log VALUES (?)", "params": [5]},
            {"sql": "INSERT INTO log VALUES (?)", "params": [1]},
        ]}),
    )
    .await;
    assert_eq!(
        error,
        "D1_ERROR: UNIQUE constraint failed: log.n: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_UNIQUE)"
    );
    let r = api_query(&local, &id, "SELECT count(*) AS n FROM log", json!([])).await;
    assert_eq!(r[0]["results"], json!([{"n": 4}]));

    // Errors read as on Cloudflare.
    assert_eq!(
        call_error(&local, json!({"op": "all", "sql": "SELECT * FROM nope"})).await,
        "D1_ERROR: no such table: nope: SQLITE_ERROR"
    );
    assert!(
        call_error(&local, json!({"op": "run", "sql": "BEGIN TRANSACTION"}))
            .await
            .starts_with(
                "D1_ERROR: To execute a transaction, please use the state.storage.transaction()"
            )
    );
    assert!(
        call_error(&local, json!({"op": "exec", "sql": "DROP TABLE _cf_KV"}))
            .await
            .starts_with("D1_EXEC_ERROR: Error in line 1: DROP TABLE _cf_KV: not authorized")
    );
    assert_eq!(
        call_error(
            &local,
            json!({"op": "first", "sql": "SELECT 1 AS one", "column": "two"})
        )
        .await,
        "D1_COLUMN_NOTFOUND: Column not found (two)"
    );
}

#[tokio::test]
async fn a_deleted_database_is_an_error_at_the_next_query() {
    let Some((local, id)) = d1_worker().await else {
        return;
    };
    local
        .ok(local.api(Method::DELETE, &format!("/d1/database/{id}")))
        .await;
    let error = call_error(&local, json!({"op": "all", "sql": "SELECT 1"})).await;
    assert!(error.starts_with("D1_ERROR: D1 database"), "{error}");
    assert!(error.contains("does not exist"), "{error}");
}

#[tokio::test]
async fn a_worker_with_the_jsrpc_d1_flag_is_left_out_with_why() {
    let Some(local) = Local::start().await else {
        return;
    };
    let db = local
        .ok(local
            .api(Method::POST, "/d1/database")
            .json(&json!({"name": "rpc"})))
        .await;
    let status = local
        .deploy(
            "rpc",
            "export default { fetch() { return new Response('x'); } };",
            json!({
                "compatibility_flags": ["d1_binding_jsrpc"],
                "bindings": [{"type": "d1", "name": "DB", "database_id": db["uuid"]}],
            }),
        )
        .await;
    assert!(status.running.is_empty(), "{status:?}");
    assert!(
        status.failed["rpc"].contains("d1_binding_jsrpc"),
        "{status:?}"
    );
}
