//! The Workers Analytics Engine SQL API: ClickHouse's JSON over the data points of a dataset,
//! `SHOW TABLES`, the formats, refusals (422 for what Cloudflare refuses, 400 for what the emulator
//! does not run) and authentication; and the `analytics_engine` binding of a Worker upload.
//!
//! Without workerd no Worker writes points, so these tests write them where the binding does: the
//! emulator's SQLite table (the local runtime's tests write them through a Worker).

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Harness, MAIN_JS, worker_form};

/// Writes a data point into `dataset` at `ts_ms`, as the binding service stores it.
fn write_point(
    h: &Harness,
    dataset: &str,
    ts_ms: i64,
    blobs: &[&str],
    doubles: &[f64],
    index: &str,
) {
    let c = rusqlite::Connection::open(h.dir.path().join("emulator.sqlite3")).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let mut columns = vec!["account_id", "dataset", "ts_ms", "index1"]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let mut values: Vec<rusqlite::types::Value> = vec![
        h.emu.account_id().to_owned().into(),
        dataset.to_owned().into(),
        ts_ms.into(),
        index.to_owned().into(),
    ];
    for (i, b) in blobs.iter().enumerate() {
        columns.push(format!("blob{}", i + 1));
        values.push((*b).to_owned().into());
    }
    for (i, d) in doubles.iter().enumerate() {
        columns.push(format!("double{}", i + 1));
        values.push((*d).into());
    }
    let placeholders: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
    c.execute(
        &format!(
            "INSERT INTO analytics_engine_points ({}) VALUES ({})",
            columns.join(", "),
            placeholders.join(", ")
        ),
        rusqlite::params_from_iter(values),
    )
    .unwrap();
}

fn sql_request(h: &Harness, sql: &str) -> reqwest::RequestBuilder {
    h.req(Method::POST, &h.acct("/analytics_engine/sql"))
        .header("content-type", "text/plain")
        .body(sql.to_owned())
}

/// Runs `sql`, which must succeed; the answer's content type and body.
async fn sql_text(h: &Harness, sql: &str) -> (String, String) {
    let r = sql_request(h, sql).send().await.unwrap();
    let status = r.status();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "{sql}: {text}");
    (content_type, text)
}

/// Runs `sql` (JSON format); the parsed answer.
async fn sql(h: &Harness, sql: &str) -> Value {
    let (content_type, text) = sql_text(h, sql).await;
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{sql}: not JSON ({e}): {text}"))
}

/// A harness with points in `app_events` (and one in `other`), all written a minute ago.
async fn with_points() -> Harness {
    let h = Harness::start().await;
    let at = h.emu.clock().now_millis() - 60_000;
    write_point(&h, "app_events", at, &["GET", "/a"], &[10.0, 1.0], "u1");
    write_point(&h, "app_events", at + 1, &["GET", "/b"], &[20.0, 1.0], "u1");
    write_point(&h, "app_events", at + 2, &["POST", "/a"], &[5.0, 1.0], "u2");
    write_point(&h, "other", at, &["x"], &[], "");
    h
}

#[tokio::test]
async fn a_select_answers_clickhouse_json() {
    let h = with_points().await;
    let out = sql(
        &h,
        "SELECT blob1 AS method, count() AS n, SUM(double1) AS total, avg(double1) \
         FROM app_events WHERE timestamp > NOW() - INTERVAL '1' DAY \
         GROUP BY method ORDER BY total DESC",
    )
    .await;
    assert_eq!(
        out,
        json!({
            "meta": [
                {"name": "method", "type": "String"},
                {"name": "n", "type": "UInt64"},
                {"name": "total", "type": "Float64"},
                {"name": "avg(double1)", "type": "Float64"},
            ],
            "data": [
                {"method": "GET", "n": "2", "total": 30, "avg(double1)": 15},
                {"method": "POST", "n": "1", "total": 5, "avg(double1)": 5},
            ],
            "rows": 2,
            "rows_before_limit_at_least": 2,
        })
    );

    let where_blob = sql(
        &h,
        "SELECT count() FROM app_events WHERE blob1 = 'GET' AND index1 = 'u1'",
    )
    .await;
    assert_eq!(where_blob["data"], json!([{"count()": "2"}]));

    let limited = sql(
        &h,
        "SELECT blob2, double1, _sample_interval, timestamp FROM app_events ORDER BY double1 LIMIT 1 FORMAT JSON",
    )
    .await;
    assert_eq!(limited["rows"], 1);
    assert_eq!(limited["rows_before_limit_at_least"], 3);
    let row = &limited["data"][0];
    assert_eq!(row["blob2"], "/a");
    assert_eq!(row["double1"], 5);
    assert_eq!(row["_sample_interval"], 1);
    let ts = row["timestamp"].as_str().unwrap();
    assert_eq!(ts.len(), "2026-01-02 03:04:05".len(), "{ts}");

    // Hours from now, the points are older than an hour.
    h.emu.clock().advance(std::time::Duration::from_secs(7_200));
    let recent = sql(
        &h,
        "SELECT count() AS n FROM app_events WHERE timestamp > now() - INTERVAL 1 HOUR",
    )
    .await;
    assert_eq!(recent["data"], json!([{"n": "0"}]));
}

#[tokio::test]
async fn show_tables_and_the_other_formats() {
    let h = with_points().await;
    let tables = sql(&h, "SHOW TABLES").await;
    assert_eq!(
        tables["data"],
        json!([{"dataset": "app_events"}, {"dataset": "other"}])
    );
    assert_eq!(
        tables["meta"],
        json!([{"name": "dataset", "type": "String"}])
    );

    let (_, each) = sql_text(
        &h,
        "SELECT blob1, count() AS n FROM app_events GROUP BY blob1 ORDER BY blob1 FORMAT JSONEachRow",
    )
    .await;
    assert_eq!(
        each,
        "{\"blob1\":\"GET\",\"n\":\"2\"}\n{\"blob1\":\"POST\",\"n\":\"1\"}\n"
    );
    let (content_type, tsv) = sql_text(
        &h,
        "SELECT blob1, double1 FROM app_events ORDER BY double1 FORMAT TabSeparated",
    )
    .await;
    assert!(
        content_type.starts_with("text/tab-separated-values"),
        "{content_type}"
    );
    assert_eq!(tsv, "POST\t5\nGET\t10\nGET\t20\n");

    // A statement without a table, as in Cloudflare's first example.
    let hello = sql(&h, "SELECT 'Hello Workers Analytics Engine' AS message").await;
    assert_eq!(
        hello["data"],
        json!([{"message": "Hello Workers Analytics Engine"}])
    );
}

#[tokio::test]
async fn refusals_name_what_is_wrong() {
    let h = with_points().await;
    for (query, expected) in [
        (
            "SELECT count() FROM never_written",
            "Unknown dataset \"never_written\"",
        ),
        ("SELECT blob21 FROM app_events", "Unknown column \"blob21\""),
        (
            "SELECT blob1, count() FROM app_events",
            "not under aggregate function",
        ),
        (
            "SELECT count() FROM app_events WHERE blob1 = 1",
            "Illegal types",
        ),
        (
            "SELEC blob1 FROM app_events",
            "SELECT and SHOW statements only",
        ),
        (
            "SELECT blob1 FROM app_events WHERE",
            "expected an expression",
        ),
        ("", "no SQL statement"),
    ] {
        let message = h.fails(sql_request(&h, query), 422, 1000).await;
        assert!(message.contains(expected), "{query}: {message}");
    }
    for (query, expected) in [
        (
            "SELECT quantileExactWeighted(0.5)(double1, _sample_interval) FROM app_events",
            "parametric function",
        ),
        (
            "SELECT intDiv(toUInt32(timestamp), 60) AS t FROM app_events",
            "the function intDiv()",
        ),
        (
            "SELECT blob1 FROM app_events WHERE blob2 LIKE '/a%'",
            "LIKE",
        ),
        (
            "SELECT blob1 FROM (SELECT blob1 FROM app_events)",
            "a subquery in FROM",
        ),
        ("SELECT blob1 FROM app_events FORMAT CSV", "FORMAT CSV"),
    ] {
        let message = h.fails(sql_request(&h, query), 400, 1001).await;
        assert!(message.contains(expected), "{query}: {message}");
        assert!(
            message.contains("not supported by the emulator"),
            "{message}"
        );
    }
    let not_utf8 = h
        .req(Method::POST, &h.acct("/analytics_engine/sql"))
        .body(vec![0xff, 0xfe]);
    h.fails(not_utf8, 422, 1000).await;
}

#[tokio::test]
async fn the_sql_api_authenticates_as_every_route() {
    let h = with_points().await;
    let url = h.url(&h.acct("/analytics_engine/sql"));
    h.fails(h.http.post(&url).body("SHOW TABLES"), 401, 9106)
        .await;
    h.fails(
        h.http.post(&url).bearer_auth("wrong").body("SHOW TABLES"),
        403,
        10000,
    )
    .await;
    let another = h.url("/accounts/0123456789abcdef0123456789abcdef/analytics_engine/sql");
    h.fails(
        h.http
            .post(another)
            .bearer_auth(h.emu.token())
            .body("SHOW TABLES"),
        403,
        10000,
    )
    .await;
    // `curl --data` sends a form content type; the body is the statement all the same.
    let r = h
        .req(Method::POST, &h.acct("/analytics_engine/sql"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("SELECT count() AS n FROM other")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"], json!([{"n": "1"}]));
}

#[tokio::test]
async fn an_upload_keeps_the_analytics_engine_binding_as_sent() {
    let h = Harness::start().await;
    let bindings = json!([
        {"type": "analytics_engine", "name": "EVENTS", "dataset": "app_events"},
        {"type": "analytics_engine", "name": "HITS"},
    ]);
    let form = worker_form(
        json!({"main_module": "index.js", "bindings": bindings}),
        &[("index.js", MAIN_JS)],
    );
    h.ok(h
        .req(Method::PUT, &h.acct("/workers/scripts/events"))
        .multipart(form))
        .await;
    let settings = h
        .ok(h.req(Method::GET, &h.acct("/workers/scripts/events/settings")))
        .await;
    let mut shown = settings["bindings"].as_array().unwrap().clone();
    shown.sort_by_key(|b| b["name"].as_str().unwrap().to_owned());
    assert_eq!(
        shown,
        [
            json!({"name": "EVENTS", "type": "analytics_engine", "dataset": "app_events"}),
            json!({"name": "HITS", "type": "analytics_engine"}),
        ]
    );
    let form = worker_form(
        json!({"main_module": "index.js", "bindings": [{"type": "analytics_engine", "name": "E", "dataset": 7}]}),
        &[("index.js", MAIN_JS)],
    );
    let (status, body) = h
        .send(
            h.req(Method::PUT, &h.acct("/workers/scripts/events"))
                .multipart(form),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("binding 'E' of type analytics_engine"),
        "{body}"
    );
}
