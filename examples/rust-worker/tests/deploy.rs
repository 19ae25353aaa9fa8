//! The Rust Worker, end to end: the stack binary builds this crate for wasm32 (cargo, then
//! wasm-bindgen and athanor's own entry module; no worker-build, nothing downloaded) and deploys
//! it to an emulator started here, which runs it on workerd. Through its typed `Env` the Worker
//! reads the value `deploy` seeded into its KV namespace, a Secrets Store secret, a secret, a JSON
//! variable, a boolean and a number, lists an object written through the v4 API into its R2
//! bucket, counts in a Durable Object written in Rust, calls another Worker, writes to its D1
//! database (migrated and seeded on deploy) and records an event in Analytics Engine, read back through the
//! SQL API. A redeploy with nothing changed sends no request; destroy leaves nothing.

use athanor_test_support::Fixture;
use reqwest::Method;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_rust-worker");
const ENV: &[(&str, &str)] = &[
    ("SIGNING_KEY", "signing-key-value"),
    ("TOKEN", "token-value"),
    ("ATHANOR_PASSWORD", "rust worker password"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_worker_builds_deploys_and_reads_its_typed_env() {
    let Some(fx) = Fixture::start_serving().await else {
        return;
    };
    let out = fx.run(BIN, &["deploy"], ENV).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    // cargo's output came through, under the Worker's id.
    assert!(stderr.contains("api |"), "{stderr}");

    // What was uploaded: athanor's entry module, the glue and the wasm, as modules.
    let script = "/workers/scripts/rust-worker-api";
    let entry = fx
        .send(Method::GET, &format!("{script}/content/v2"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        entry.contains("import * as glue from \"./index.js\""),
        "{entry}"
    );
    assert!(
        entry.contains("export const Counter = durableObject(glue.Counter);"),
        "{entry}"
    );

    // An object written through the API, which the Worker lists.
    let put = fx
        .send(
            Method::PUT,
            "/r2/buckets/rust-worker-storage-test/objects/reports/today.txt",
            None,
        )
        .await;
    assert_eq!(put.status(), 200);

    let (status, body) = fx.worker(Method::GET, "rust-worker-api", "/", None).await;
    assert_eq!(status, 200, "{body}");
    let got: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        got,
        json!({
            "greeting": "Hello from KV, read by Rust",
            "objects": ["reports/today.txt"],
            "signing_key": "signing-key-value",
            "token": "token-value",
            "debug": true,
            "max_items": 25,
            "version": "1.0.0",
            "limits": {"max": 3},
        })
    );
    for count in ["1", "2"] {
        let counted = fx
            .worker(Method::GET, "rust-worker-api", "/count", None)
            .await;
        assert_eq!(counted, (200, count.to_owned()));
    }
    assert_eq!(
        fx.worker(Method::GET, "rust-worker-api", "/backend", None)
            .await,
        (200, "backend says: backend".into())
    );

    // D1 through the typed Env: each note lands in the database the deploy migrated and seeded
    // with one note.
    for n in [2, 3] {
        let added = fx
            .worker(
                Method::POST,
                "rust-worker-api",
                "/notes",
                Some("from a test"),
            )
            .await;
        assert_eq!(added, (200, format!(r#"{{"notes":{n}}}"#)));
    }
    // Analytics Engine: each note's event, through the SQL API (points arrive after the
    // response, so the query waits for them).
    let mut rows = Value::Null;
    for _ in 0..100 {
        let sql = "SELECT count() AS n, sum(double1) AS chars FROM rust_worker_events WHERE blob1 = 'note added'";
        let resp = reqwest::Client::new()
            .post(fx.emu.account_url("/analytics_engine/sql"))
            .bearer_auth(fx.emu.token())
            .body(sql)
            .send()
            .await
            .unwrap();
        rows = resp.json::<Value>().await.unwrap()["data"].clone();
        if rows[0]["n"] == "2" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(rows, json!([{"n": "2", "chars": 22}]));

    // Nothing changed: the build runs, finds the same modules, and no request is sent.
    fx.emu.reset_stats();
    fx.run(BIN, &["deploy"], ENV).await;
    assert_eq!(fx.emu.stats().total, 0, "{:?}", fx.emu.stats().by_route);

    // Destroy leaves nothing of it (once the object the test wrote is gone: R2 deletes only
    // empty buckets).
    let object = "/r2/buckets/rust-worker-storage-test/objects/reports/today.txt";
    assert_eq!(fx.send(Method::DELETE, object, None).await.status(), 200);
    fx.run(BIN, &["destroy", "--yes"], ENV).await;
    assert_eq!(fx.get("/workers/scripts").await, json!([]));
    assert_eq!(fx.get("/d1/database").await, json!([]));
    assert_eq!(fx.get("/r2/buckets").await["buckets"], json!([]));
    assert_eq!(fx.get("/workers/dispatch/namespaces").await, json!([]));
    assert!(fx.kv_titles().await.is_empty());
}
