//! The background-jobs binary, end to end against an emulator started here that runs its Workers
//! on workerd: a job posted to the api Worker goes through the queue to the runner, whose result
//! and report come back, and a failing job ends in the dead-letter queue; the runner's schedule runs on request; the bucket has its public
//! address, CORS policy and lifecycle rule; a redeploy sends nothing; destroy leaves nothing.

use athanor_test_support::Fixture;
use reqwest::Method;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_background-jobs");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_flow_through_the_queue_and_the_stack_redeploys_nothing_and_destroys() {
    let Some(fx) = Fixture::start_serving().await else {
        return;
    };
    let out = fx.run(BIN, &["deploy"], &[]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(".r2.dev"),
        "the bucket's public address: {stdout}"
    );

    // A job: posted, queued, run, its result read back.
    let (status, body) = fx.worker(Method::POST, "api", "/jobs", Some("21")).await;
    assert_eq!(status, 202, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut answer = Value::Null;
    for _ in 0..100 {
        let (_, body) = fx
            .worker(Method::GET, "api", &format!("/jobs/{id}"), None)
            .await;
        answer = serde_json::from_str(&body).unwrap();
        if answer["status"] == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        answer["result"],
        json!({"doubled": 42, "attempts": 1}),
        "{answer}"
    );
    let report = fx
        .send(
            Method::GET,
            &format!("/r2/buckets/jobs-reports/objects/reports/{id}.json"),
            None,
        )
        .await;
    assert_eq!(report.status(), 200);
    // The same report through the runner's `Reports` entrypoint, with an ETag from node:crypto.
    let port = fx.emu.workers_port().unwrap();
    let through_api = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/jobs/{id}/report"))
        .header("host", format!("api.localhost:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(through_api.status(), 200);
    assert_eq!(through_api.headers()["etag"].len(), 18);
    let body: Value = through_api.json().await.unwrap();
    assert_eq!(
        body,
        json!({"id": id, "n": 21, "doubled": 42, "attempts": 1})
    );

    // The api Worker's settings, as uploaded.
    let settings = fx.get("/workers/scripts/api/settings").await;
    assert_eq!(settings["compatibility_flags"], json!(["nodejs_compat"]));
    assert_eq!(settings["observability"]["enabled"], true);
    assert_eq!(settings["placement"]["mode"], "smart");
    assert_eq!(settings["limits"]["cpu_ms"], 50);

    // A job that fails: after its two retries it waits in the dead-letter queue.
    let (status, _) = fx.worker(Method::POST, "api", "/jobs", Some("-1")).await;
    assert_eq!(status, 202);
    let queues = fx.get("/queues").await;
    let failed = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue_name"] == "failed-jobs")
        .expect("the dead-letter queue")["queue_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut backlog = 0;
    for _ in 0..100 {
        backlog = fx.get(&format!("/queues/{failed}/metrics")).await["backlog_count"]
            .as_u64()
            .unwrap();
        if backlog == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(backlog, 1, "the failed job in the dead-letter queue");

    // The runner's schedule, run on request as a Cron Trigger would run it.
    let (status, _) = fx
        .worker(
            Method::GET,
            "runner",
            "/cdn-cgi/handler/scheduled?cron=*/30+*+*+*+*&time=1700000000000",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let results = fx.kv_namespace_id("jobs-results").await;
    let last = fx
        .send(
            Method::GET,
            &format!("/storage/kv/namespaces/{results}/values/last-scheduled-run"),
            None,
        )
        .await;
    assert_eq!(last.text().await.unwrap(), "*/30 * * * * at 1700000000000");
    let schedules = fx.get("/workers/scripts/runner/schedules").await;
    assert_eq!(schedules["schedules"][0]["cron"], "*/30 * * * *");

    // The bucket's settings.
    let cors = fx.get("/r2/buckets/jobs-reports/cors").await;
    assert_eq!(
        cors["rules"][0]["allowed"]["origins"],
        json!(["https://app.example.com"])
    );
    let lifecycle = fx.get("/r2/buckets/jobs-reports/lifecycle").await;
    assert_eq!(lifecycle["rules"][0]["id"], "expire-scratch");
    let domain = fx.get("/r2/buckets/jobs-reports/domains/managed").await;
    assert_eq!(domain["enabled"], true);

    // Nothing changed: not a single request.
    fx.emu.reset_stats();
    fx.run(BIN, &["deploy"], &[]).await;
    assert_eq!(fx.emu.stats().total, 0, "{:?}", fx.emu.stats().by_route);

    // Destroy: the report first (R2 deletes only empty buckets), then everything.
    let gone = fx
        .send(
            Method::DELETE,
            &format!("/r2/buckets/jobs-reports/objects/reports/{id}.json"),
            None,
        )
        .await;
    assert_eq!(gone.status(), 200);
    fx.run(BIN, &["destroy", "--yes"], &[]).await;
    assert_eq!(fx.get("/queues").await, json!([]));
    assert_eq!(fx.get("/r2/buckets").await["buckets"], json!([]));
    assert!(fx.kv_titles().await.is_empty());
    assert_eq!(fx.get("/workers/scripts").await, json!([]));
}
