//! Workers Analytics Engine on workerd: a Worker's `writeDataPoint` calls reach the emulator's
//! store, and the SQL API reads them back (count, sum, GROUP BY, WHERE on a blob); a data point
//! over Cloudflare's limits is dropped without an exception, and a malformed argument throws, as
//! workerd (Cloudflare's own runtime) does.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::Local;

/// A Worker that writes the points of a request to one of its bindings and answers, per point,
/// what `writeDataPoint` returned or threw.
const AE_WORKER: &str = r#"
export default {
  async fetch(request, env) {
    const { binding = "EVENTS", points } = await request.json();
    const results = points.map((point) => {
      try {
        const returned = env[binding].writeDataPoint(point);
        return { returned: returned === undefined ? "undefined" : String(returned) };
      } catch (e) {
        return { error: `${e.name}: ${e.message}` };
      }
    });
    return Response.json(results);
  },
};
"#;

/// An emulator serving the Worker `ae`, bound to dataset `app_events` as `EVENTS` and, with no
/// dataset named, as `HITS`; `None` when skipped.
async fn ae_worker() -> Option<Local> {
    let local = Local::start().await?;
    let status = local
        .deploy(
            "ae",
            AE_WORKER,
            json!({"bindings": [
                {"type": "analytics_engine", "name": "EVENTS", "dataset": "app_events"},
                {"type": "analytics_engine", "name": "HITS"},
            ]}),
        )
        .await;
    assert_eq!(status.running, ["ae"], "{status:?}");
    Some(local)
}

/// Writes `points` through `binding`; what each call returned or threw.
async fn write(local: &Local, binding: &str, points: Value) -> Vec<String> {
    let answer = local
        .call("ae", "/", json!({"binding": binding, "points": points}))
        .await;
    answer
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["returned"]
                .as_str()
                .or(r["error"].as_str())
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The SQL API's answer to `sql`: status and body.
async fn sql(local: &Local, sql: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(local.emu.account_url("/analytics_engine/sql"))
        .bearer_auth(local.emu.token())
        .header("content-type", "text/plain")
        .body(sql.to_owned())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{sql}: {e}: {text}"));
    (status, body)
}

/// The answer's data, the query having to succeed.
async fn data(local: &Local, query: &str) -> Value {
    let (status, body) = sql(local, query).await;
    assert_eq!(status, 200, "{query}: {body}");
    body["data"].clone()
}

/// Waits until `dataset` holds `n` points: they arrive after the Worker answered (workerd sends
/// them in the background, as Cloudflare ingests them).
async fn wait_for_points(local: &Local, dataset: &str, n: u64) {
    let query = format!("SELECT count() AS n FROM {dataset}");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = sql(local, &query).await;
        if status == 200 && body["data"][0]["n"].as_str() == Some(n.to_string().as_str()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{dataset} never held {n} points: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn points_a_worker_writes_are_read_by_the_sql_api() {
    let Some(local) = ae_worker().await else {
        return;
    };
    let returned = write(
        &local,
        "EVENTS",
        json!([
            {"blobs": ["GET", "/a"], "doubles": [10, 1], "indexes": ["u1"]},
            {"blobs": ["GET", "/b"], "doubles": [20, 1], "indexes": ["u1"]},
            {"blobs": ["POST", "/a"], "doubles": [5.5, 1], "indexes": ["u2"]},
        ]),
    )
    .await;
    assert_eq!(returned, ["undefined"; 3]);
    assert_eq!(
        write(&local, "HITS", json!([{"blobs": ["hit"]}])).await,
        ["undefined"]
    );
    wait_for_points(&local, "app_events", 3).await;
    wait_for_points(&local, "HITS", 1).await;

    assert_eq!(
        data(
            &local,
            "SELECT count() AS n, sum(double1) AS total, sum(_sample_interval) FROM app_events"
        )
        .await,
        json!([{"n": "3", "total": 35.5, "sum(_sample_interval)": "3"}])
    );
    assert_eq!(
        data(
            &local,
            "SELECT blob1 AS method, count() AS n, sum(double1) AS total FROM app_events \
             WHERE timestamp > NOW() - INTERVAL '5' MINUTE GROUP BY method ORDER BY method"
        )
        .await,
        json!([
            {"method": "GET", "n": "2", "total": 30},
            {"method": "POST", "n": "1", "total": 5.5},
        ])
    );
    assert_eq!(
        data(
            &local,
            "SELECT index1, blob2 FROM app_events WHERE blob1 = 'GET' ORDER BY blob2"
        )
        .await,
        json!([{"index1": "u1", "blob2": "/a"}, {"index1": "u1", "blob2": "/b"}])
    );
    // The binding without a dataset writes to the dataset named after it.
    assert_eq!(
        data(&local, "SHOW TABLES").await,
        json!([{"dataset": "HITS"}, {"dataset": "app_events"}])
    );
    assert_eq!(
        data(&local, "SELECT dataset, blob1, double1, index1 FROM HITS").await,
        json!([{"dataset": "HITS", "blob1": "hit", "double1": 0, "index1": ""}])
    );
}

#[tokio::test]
async fn points_over_the_limits_are_dropped_and_bad_arguments_throw() {
    let Some(local) = ae_worker().await else {
        return;
    };
    let twenty: Vec<String> = (1..=20).map(|i| format!("b{i}")).collect();
    let returned = write(
        &local,
        "EVENTS",
        json!([
            // Over the limits: dropped, without an exception.
            {"blobs": vec!["x"; 21]},
            {"doubles": vec![1; 21]},
            {"indexes": ["a", "b"]},
            {"indexes": ["i".repeat(97)]},
            {"blobs": ["x".repeat(16_001)]},
            {"blobs": ["x".repeat(8_000), "y".repeat(8_001)]},
            // At the limits: recorded.
            {"blobs": twenty, "doubles": (1..=20).collect::<Vec<u32>>(), "indexes": ["i".repeat(96)]},
            {"blobs": ["z".repeat(16_000)]},
            {},
            // Not an array: a TypeError.
            {"blobs": "abc"},
        ]),
    )
    .await;
    assert_eq!(&returned[..9], ["undefined"; 9]);
    assert!(
        returned[9].starts_with("TypeError:") && returned[9].contains("blobs"),
        "{returned:?}"
    );

    wait_for_points(&local, "app_events", 3).await;
    // Nothing else arrives: the points over the limits were never sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        data(&local, "SELECT count() AS n FROM app_events").await,
        json!([{"n": "3"}])
    );
    assert_eq!(
        data(
            &local,
            "SELECT blob20, double20, index1 FROM app_events WHERE blob1 = 'b1'"
        )
        .await,
        json!([{"blob20": "b20", "double20": 20, "index1": "i".repeat(96)}])
    );
    assert_eq!(
        data(
            &local,
            "SELECT count() AS n FROM app_events WHERE blob1 = '' AND double1 = 0 AND index1 = ''"
        )
        .await,
        json!([{"n": "1"}])
    );
}
