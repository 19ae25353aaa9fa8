//! The quickstart binary, end to end: deploy against an emulator started here that runs its
//! Workers on workerd, read the result back through the API and through the Workers themselves,
//! redeploy with nothing changed, destroy.

use athanor_test_support::Fixture;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_quickstart");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_reads_back_runs_redeploys_nothing_and_destroys() {
    let Some(fx) = Fixture::start_serving().await else {
        return;
    };

    let out = fx.run(BIN, &["deploy"], &[]).await;
    // The first line says the target and the stage (on stderr, beside progress).
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first_line = stderr.lines().next().unwrap_or_default();
    assert!(
        first_line.contains("stage `test`") && first_line.contains("Cloudflare"),
        "{first_line}"
    );
    // The README's figures for the first deploy are what it sends.
    let first = fx.emu.stats();
    assert_eq!(
        (first.total, first.mutating),
        readme_requests("quickstart, first deploy"),
        "the README's request count of a first deploy is out of date: {:?}",
        first.by_route
    );

    // The session written with a TTL expires about an hour after the deploy.
    let sessions = fx.kv_namespace_id("user-sessions").await;
    let value = fx
        .send(
            reqwest::Method::GET,
            &format!("/storage/kv/namespaces/{sessions}/values/session_123"),
            None,
        )
        .await;
    let expiration: u64 = value.headers()["expiration"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        expiration > now + 3500 && expiration <= now + 3600,
        "{expiration}"
    );
    let stored: Value = serde_json::from_str(&value.text().await.unwrap()).unwrap();
    assert_eq!(stored, json!({ "userId": "user_456", "role": "admin" }));

    // The asset carries its metadata.
    let assets = fx.kv_namespace_id("static-assets").await;
    let metadata = fx
        .get(&format!("/storage/kv/namespaces/{assets}/metadata/main.js"))
        .await;
    assert_eq!(
        metadata,
        json!({ "contentType": "application/javascript", "etag": "abc123" })
    );

    // The Worker has exactly the bindings it declares.
    assert_eq!(
        fx.binding_names("/workers/scripts/my-worker").await,
        ["API_KEY", "DEBUG_MODE", "MY_KV"]
    );

    // The Worker runs: it answers with the value `deploy` seeded into MY_KV, and what it writes
    // the API reads.
    let (status, body) = fx
        .worker(reqwest::Method::GET, "my-worker", "/", None)
        .await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["value"], "Hello from MY_KV", "{answer}");
    assert_eq!(answer["debug"], true, "{answer}");
    let (status, _) = fx
        .worker(
            reqwest::Method::PUT,
            "my-worker",
            "/kv/note",
            Some("written by my-worker"),
        )
        .await;
    assert_eq!(status, 201);
    let my_kv = fx.kv_namespace_id("my-kv-namespace").await;
    let note = fx
        .send(
            reqwest::Method::GET,
            &format!("/storage/kv/namespaces/{my_kv}/values/note"),
            None,
        )
        .await;
    assert_eq!(note.text().await.unwrap(), "written by my-worker");
    // The other Worker counts its visits in a Durable Object.
    for visits in [1, 2] {
        let (_, body) = fx
            .worker(reqwest::Method::GET, "quickstart-worker-test", "/", None)
            .await;
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["visits"], visits, "{answer}");
        assert_eq!(answer["version"], "1.0.0", "{answer}");
    }

    // Nothing changed: not a single request, as the README says.
    fx.emu.reset_stats();
    fx.run(BIN, &["deploy"], &[]).await;
    let again = fx.emu.stats();
    assert_eq!(
        (again.total, again.mutating),
        (0, 0),
        "{:?}",
        again.by_route
    );
    assert_eq!(
        readme_requests("quickstart, second deploy with nothing changed"),
        (0, 0)
    );

    // Destroy deletes everything but the namespace declared with `delete: false`.
    fx.run(BIN, &["destroy", "--yes"], &[]).await;
    assert_eq!(fx.kv_titles().await, ["preserved-namespace"]);
    let scripts = fx.get("/workers/scripts").await;
    assert_eq!(scripts.as_array().unwrap().len(), 0, "{scripts}");
}

/// The requests (all, mutating) the README's performance table gives in the row that starts
/// with `row`: its figure reads `18 (15)`.
fn readme_requests(row: &str) -> (u64, u64) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("the README");
    let line = readme
        .lines()
        .find(|l| l.starts_with(&format!("| {row}")))
        .unwrap_or_else(|| panic!("the README's performance table has no row `{row}`"));
    let figure = line.split('|').nth(2).expect("a figure column").trim();
    let (total, mutating) = figure
        .trim_end_matches(')')
        .split_once(" (")
        .unwrap_or_else(|| panic!("`{figure}` is not `N (M)`"));
    (
        total.parse().expect("a request count"),
        mutating.parse().expect("a mutating count"),
    )
}
