//! Queues over the v4 API: queues (create, list with name filters and pages, get, PUT, PATCH,
//! delete), their consumers (one Worker consumer per queue, settings limits, dead-letter queues),
//! a script's queue consumers, messages pushed over HTTP, purges, and the `queue` binding checks
//! of a Worker upload.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Harness, MAIN_JS, worker_form};

/// A Worker with a `queue()` handler.
const CONSUMER_JS: &str =
    "export default { async queue(batch, env) { for (const m of batch.messages) m.ack(); } };";

async fn create(h: &Harness, body: Value) -> Value {
    h.ok(h.req(Method::POST, &h.acct("/queues")).json(&body))
        .await
}

async fn upload(h: &Harness, name: &str, code: &str, bindings: Value) -> (u16, Value) {
    let form = worker_form(
        json!({"main_module": "index.js", "bindings": bindings}),
        &[("index.js", code)],
    );
    let (status, body) = h
        .send(
            h.req(Method::PUT, &h.acct(&format!("/workers/scripts/{name}")))
                .multipart(form),
        )
        .await;
    (status.as_u16(), body)
}

fn consumer_body(script: &str, settings: Value) -> Value {
    json!({"type": "worker", "script_name": script, "settings": settings})
}

#[tokio::test]
async fn queues_are_created_listed_read_changed_and_deleted() {
    let h = Harness::start().await;
    let q = create(&h, json!({"queue_name": "jobs"})).await;
    let id = q["queue_id"].as_str().unwrap().to_owned();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{q}"
    );
    assert_eq!(q["queue_name"], "jobs");
    assert_eq!(
        q["settings"],
        json!({"delivery_delay": 0, "delivery_paused": false, "message_retention_period": 345600})
    );
    assert_eq!(q["producers"], json!([]));
    assert_eq!(q["consumers_total_count"], 0);
    assert!(q["created_on"].as_str().unwrap().ends_with('Z'));

    // The same name again, and names Cloudflare refuses.
    h.fails(
        h.req(Method::POST, &h.acct("/queues"))
            .json(&json!({"queue_name": "jobs"})),
        400,
        11009,
    )
    .await;
    for bad in ["Jobs", "-jobs", "jobs-", "my_queue", ""] {
        let message = h
            .fails(
                h.req(Method::POST, &h.acct("/queues"))
                    .json(&json!({"queue_name": bad})),
                400,
                11003,
            )
            .await;
        assert!(
            message.contains("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
            "{message}"
        );
    }
    h.fails(
        h.req(Method::POST, &h.acct("/queues")).json(&json!({})),
        400,
        10026,
    )
    .await;
    h.fails(
        h.req(Method::POST, &h.acct("/queues"))
            .json(&json!({"queue_name": "short", "settings": {"message_retention_period": 30}})),
        400,
        100128,
    )
    .await;
    let delayed = create(
        &h,
        json!({"queue_name": "delayed", "settings": {"delivery_delay": 30, "delivery_paused": true}}),
    )
    .await;
    assert_eq!(delayed["settings"]["delivery_delay"], 30);
    assert_eq!(delayed["settings"]["delivery_paused"], true);

    // Lists, filtered by (repeated) name, in pages.
    create(&h, json!({"queue_name": "third"})).await;
    let (_, all) = h.get(&h.acct("/queues")).await;
    let names: Vec<&str> = all["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["queue_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["jobs", "delayed", "third"]);
    assert_eq!(all["result_info"]["total_count"], 3);
    let (_, named) = h.get(&h.acct("/queues?name=third&name=jobs")).await;
    assert_eq!(named["result"].as_array().unwrap().len(), 2);
    let (_, page) = h.get(&h.acct("/queues?page=2&per_page=2")).await;
    assert_eq!(page["result"][0]["queue_name"], "third");
    assert_eq!(page["result_info"]["total_pages"], 2);

    // Get; PATCH changes what it names; PUT overwrites the settings.
    let got = h
        .ok(h.req(Method::GET, &h.acct(&format!("/queues/{id}"))))
        .await;
    assert_eq!(got["queue_name"], "jobs");
    let patched = h
        .ok(h
            .req(Method::PATCH, &h.acct(&format!("/queues/{id}")))
            .json(&json!({"settings": {"delivery_delay": 5}})))
        .await;
    assert_eq!(patched["settings"]["delivery_delay"], 5);
    let patched = h
        .ok(h
            .req(Method::PATCH, &h.acct(&format!("/queues/{id}")))
            .json(&json!({"settings": {"delivery_paused": true}})))
        .await;
    assert_eq!(patched["settings"]["delivery_delay"], 5);
    assert_eq!(patched["settings"]["delivery_paused"], true);
    let put = h
        .ok(h
            .req(Method::PUT, &h.acct(&format!("/queues/{id}")))
            .json(&json!({"settings": {"message_retention_period": 600}})))
        .await;
    assert_eq!(
        put["settings"],
        json!({"delivery_delay": 0, "delivery_paused": false, "message_retention_period": 600})
    );
    h.fails(
        h.req(Method::PATCH, &h.acct(&format!("/queues/{id}")))
            .json(&json!({"settings": {"delivery_delay": 86401}})),
        400,
        100128,
    )
    .await;
    // A rename, refused onto a taken name.
    h.fails(
        h.req(Method::PATCH, &h.acct(&format!("/queues/{id}")))
            .json(&json!({"queue_name": "third"})),
        400,
        11009,
    )
    .await;
    let renamed = h
        .ok(h
            .req(Method::PATCH, &h.acct(&format!("/queues/{id}")))
            .json(&json!({"queue_name": "jobs-v2"})))
        .await;
    assert_eq!(renamed["queue_name"], "jobs-v2");

    // Delete; then it is gone.
    let gone = h
        .ok(h.req(Method::DELETE, &h.acct(&format!("/queues/{id}"))))
        .await;
    assert!(gone.is_null());
    h.fails(
        h.req(Method::GET, &h.acct(&format!("/queues/{id}"))),
        404,
        11000,
    )
    .await;
    h.fails(
        h.req(Method::DELETE, &h.acct(&format!("/queues/{id}"))),
        404,
        11000,
    )
    .await;
}

#[tokio::test]
async fn a_queue_has_one_worker_consumer_within_cloudflares_limits() {
    let h = Harness::start().await;
    let q = create(&h, json!({"queue_name": "jobs"})).await;
    let id = q["queue_id"].as_str().unwrap().to_owned();
    let consumers = h.acct(&format!("/queues/{id}/consumers"));
    assert_eq!(upload(&h, "consumer", CONSUMER_JS, json!([])).await.0, 200);
    assert_eq!(upload(&h, "other", CONSUMER_JS, json!([])).await.0, 200);
    assert_eq!(upload(&h, "web", MAIN_JS, json!([])).await.0, 200);

    // A Worker that does not exist, or has no queue() handler.
    h.fails(
        h.req(Method::POST, &consumers)
            .json(&consumer_body("nobody", json!({}))),
        404,
        10007,
    )
    .await;
    let message = h
        .fails(
            h.req(Method::POST, &consumers)
                .json(&consumer_body("web", json!({}))),
            400,
            11001,
        )
        .await;
    assert!(message.contains("queue handler is missing"), "{message}");
    // Settings out of Cloudflare's ranges.
    for bad in [
        json!({"batch_size": 101}),
        json!({"batch_size": 0}),
        json!({"max_retries": 101}),
        json!({"max_wait_time_ms": 60001}),
        json!({"retry_delay": 86401}),
        json!({"max_concurrency": 251}),
    ] {
        h.fails(
            h.req(Method::POST, &consumers)
                .json(&consumer_body("consumer", bad.clone())),
            400,
            100127,
        )
        .await;
    }
    h.fails(
        h.req(Method::POST, &consumers)
            .json(&json!({"script_name": "consumer"})),
        400,
        10026,
    )
    .await;
    h.fails(
        h.req(Method::POST, &consumers)
            .json(&json!({"type": "http_pull"})),
        400,
        10026,
    )
    .await;

    // Defaults: 10 messages, 5 s, 3 retries; a missing dead-letter queue is created.
    let created = h
        .ok(h.req(Method::POST, &consumers).json(&json!({
            "type": "worker",
            "script_name": "consumer",
            "dead_letter_queue": "jobs-dlq",
            "settings": {"max_concurrency": null},
        })))
        .await;
    let consumer_id = created["consumer_id"].as_str().unwrap().to_owned();
    assert_eq!(consumer_id.len(), 32, "{created}");
    assert_eq!(created["script_name"], "consumer");
    assert_eq!(created["script"], "consumer");
    assert_eq!(created["queue_name"], "jobs");
    assert_eq!(created["type"], "worker");
    assert_eq!(created["dead_letter_queue"], "jobs-dlq");
    assert_eq!(
        created["settings"],
        json!({"batch_size": 10, "max_retries": 3, "max_wait_time_ms": 5000})
    );
    let (_, dlq) = h.get(&h.acct("/queues?name=jobs-dlq")).await;
    assert_eq!(dlq["result"].as_array().unwrap().len(), 1, "{dlq}");

    // One Worker consumer per queue, whichever Worker.
    for script in ["consumer", "other"] {
        let message = h
            .fails(
                h.req(Method::POST, &consumers)
                    .json(&consumer_body(script, json!({}))),
                400,
                11004,
            )
            .await;
        assert!(message.contains("consumer_exists"), "{message}");
    }

    // List, get, the queue's view, PUT (settings replaced), delete.
    let list = h.ok(h.req(Method::GET, &consumers)).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let one = format!("{consumers}/{consumer_id}");
    let got = h.ok(h.req(Method::GET, &one)).await;
    assert_eq!(got, created);
    let q = h
        .ok(h.req(Method::GET, &h.acct(&format!("/queues/{id}"))))
        .await;
    assert_eq!(q["consumers_total_count"], 1);
    assert_eq!(q["consumers"][0]["consumer_id"], consumer_id.as_str());
    let updated = h
        .ok(h.req(Method::PUT, &one).json(&consumer_body(
            "consumer",
            json!({"batch_size": 100, "max_retries": 100, "max_wait_time_ms": 60000, "retry_delay": 30}),
        )))
        .await;
    assert_eq!(
        updated["settings"],
        json!({"batch_size": 100, "max_retries": 100, "max_wait_time_ms": 60000, "retry_delay": 30})
    );
    assert_eq!(updated["dead_letter_queue"], "");
    assert_eq!(updated["created_on"], created["created_on"]);
    h.fails(
        h.req(Method::PUT, &one)
            .json(&consumer_body("consumer", json!({"batch_size": 500}))),
        400,
        100127,
    )
    .await;

    // The script's queue consumers.
    let mine = h
        .ok(h.req(
            Method::GET,
            &h.acct("/workers/scripts/consumer/queue-consumers"),
        ))
        .await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["queue_name"], "jobs");
    let none = h
        .ok(h.req(Method::GET, &h.acct("/workers/scripts/web/queue-consumers")))
        .await;
    assert_eq!(none, json!([]));
    h.fails(
        h.req(
            Method::GET,
            &h.acct("/workers/scripts/nobody/queue-consumers"),
        ),
        404,
        10007,
    )
    .await;

    assert!(h.ok(h.req(Method::DELETE, &one)).await.is_null());
    h.fails(h.req(Method::GET, &one), 404, 11005).await;
    h.fails(h.req(Method::DELETE, &one), 404, 11005).await;
    // With the consumer gone, another Worker may consume.
    h.ok(h
        .req(Method::POST, &consumers)
        .json(&consumer_body("other", json!({}))))
        .await;
}

#[tokio::test]
async fn queue_bindings_need_an_existing_queue() {
    let h = Harness::start().await;
    let (status, body) = upload(
        &h,
        "producer",
        MAIN_JS,
        json!([{"type": "queue", "name": "JOBS", "queue_name": "jobs"}]),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["code"], 11000, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Queue \"jobs\" does not exist"),
        "{body}"
    );
    let (status, body) = upload(
        &h,
        "producer",
        MAIN_JS,
        json!([{"type": "queue", "name": "JOBS"}]),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["code"], 10021, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("binding JOBS of type queue must have a queue specified"),
        "{body}"
    );

    let q = create(&h, json!({"queue_name": "jobs"})).await;
    let binding =
        json!({"type": "queue", "name": "JOBS", "queue_name": "jobs", "delivery_delay": 60});
    let (status, body) = upload(&h, "producer", MAIN_JS, json!([binding.clone()])).await;
    assert_eq!(status, 200, "{body}");
    let (_, bindings) = h.get(&h.acct("/workers/scripts/producer/settings")).await;
    assert_eq!(bindings["result"]["bindings"], json!([binding]));
    // The queue lists the Worker as a producer.
    let id = q["queue_id"].as_str().unwrap();
    let got = h
        .ok(h.req(Method::GET, &h.acct(&format!("/queues/{id}"))))
        .await;
    assert_eq!(
        got["producers"],
        json!([{"type": "worker", "script": "producer"}])
    );
    assert_eq!(got["producers_total_count"], 1);
    let (status, body) = upload(
        &h,
        "producer",
        MAIN_JS,
        json!([{"type": "queue", "name": "JOBS", "queue_name": "jobs", "delivery_delay": 86401}]),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["code"], 10021, "{body}");
}

#[tokio::test]
async fn messages_are_pushed_over_http_counted_and_purged() {
    let h = Harness::start().await;
    let q = create(&h, json!({"queue_name": "inbox"})).await;
    let id = q["queue_id"].as_str().unwrap().to_owned();
    let messages = h.acct(&format!("/queues/{id}/messages"));
    let pushed = h
        .ok(h
            .req(Method::POST, &messages)
            .json(&json!({"body": {"greeting": "hello"}})))
        .await;
    assert_eq!(
        pushed["metadata"]["metrics"]["backlog_count"], 1,
        "{pushed}"
    );
    let batch = h
        .ok(h
            .req(Method::POST, &format!("{messages}/batch"))
            .json(&json!({
                "messages": [
                    {"body": "plain", "content_type": "text"},
                    {"body": [1, 2], "content_type": "json", "delay_seconds": 60},
                ],
                "delay_seconds": 5,
            })))
        .await;
    assert_eq!(batch["metadata"]["metrics"]["backlog_count"], 3, "{batch}");
    let metrics = h
        .ok(h.req(Method::GET, &h.acct(&format!("/queues/{id}/metrics"))))
        .await;
    assert_eq!(metrics["backlog_count"], 3);
    // `{"greeting":"hello"}`, `plain`, `[1,2]`.
    assert_eq!(metrics["backlog_bytes"], 20 + 5 + 5);
    assert!(metrics["oldest_message_timestamp_ms"].as_i64().unwrap() > 0);

    // What the message endpoints refuse.
    h.fails(
        h.req(Method::POST, &messages)
            .json(&json!({"body": 1, "content_type": "text"})),
        400,
        10207,
    )
    .await;
    h.fails(
        h.req(Method::POST, &messages)
            .json(&json!({"body": "x", "content_type": "xml"})),
        400,
        10203,
    )
    .await;
    h.fails(
        h.req(Method::POST, &messages)
            .json(&json!({"body": "x", "delay_seconds": 86401})),
        400,
        10203,
    )
    .await;
    h.fails(
        h.req(Method::POST, &messages)
            .json(&json!({"body": "x".repeat(128_001), "content_type": "text"})),
        413,
        10204,
    )
    .await;
    let many: Vec<Value> = (0..101).map(|i| json!({"body": i})).collect();
    h.fails(
        h.req(Method::POST, &format!("{messages}/batch"))
            .json(&json!({"messages": many})),
        413,
        10206,
    )
    .await;
    h.fails(
        h.req(Method::POST, &messages)
            .header("content-type", "application/json")
            .body("{not json"),
        400,
        10208,
    )
    .await;
    h.fails(
        h.req(
            Method::POST,
            &h.acct("/queues/0123456789abcdef0123456789abcdef/messages"),
        )
        .json(&json!({"body": 1})),
        404,
        10104,
    )
    .await;

    // A purge needs its confirmation, then empties the queue.
    let purge = h.acct(&format!("/queues/{id}/purge"));
    h.fails(h.req(Method::POST, &purge).json(&json!({})), 400, 10026)
        .await;
    let purged = h
        .ok(h
            .req(Method::POST, &purge)
            .json(&json!({"delete_messages_permanently": true})))
        .await;
    assert_eq!(purged["queue_id"], id.as_str());
    let status = h.ok(h.req(Method::GET, &purge)).await;
    assert_eq!(status["completed"], "true");
    let metrics = h
        .ok(h.req(Method::GET, &h.acct(&format!("/queues/{id}/metrics"))))
        .await;
    assert_eq!(
        metrics,
        json!({"backlog_count": 0, "backlog_bytes": 0, "oldest_message_timestamp_ms": 0})
    );
}
