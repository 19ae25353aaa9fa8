//! Queues on workerd: a producer Worker's `send()` and `sendBatch()` land in the emulator's
//! queue, and the consumer Worker's `queue()` handler receives them in a batch; retried messages
//! come back with more attempts and, past `max_retries`, reach the dead-letter queue's consumer;
//! delays follow the emulator's clock.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::Local;

/// A producer: `POST /` with `{messages: [{body, contentType?, delaySeconds?}], batch?: bool}`
/// sends them (one `send()` each, or one `sendBatch()`), then answers `queue.metrics()`.
const PRODUCER: &str = r#"
export default {
  async fetch(request, env) {
    const { messages, batch } = await request.json();
    const decode = (m) => {
      if (m.map) return new Map(m.map);
      if (m.bytes) return new Uint8Array(m.bytes);
      return m.body;
    };
    try {
      if (batch) {
        await env.JOBS.sendBatch(messages.map((m) => ({ ...m, body: decode(m) })));
      } else {
        for (const m of messages) {
          const options = {};
          if (m.contentType) options.contentType = m.contentType;
          if (m.delaySeconds !== undefined) options.delaySeconds = m.delaySeconds;
          await env.JOBS.send(decode(m), options);
        }
      }
      return Response.json({ metrics: await env.JOBS.metrics() });
    } catch (e) {
      return Response.json({ error: String(e) });
    }
  },
};
"#;

/// A consumer that records each batch in KV under `batch:{first message id}`: the queue, and each
/// message's body (described by type), attempts and timestamp.
const RECORDER: &str = r#"
const describe = (b) => {
  if (b instanceof Map) return { map: [...b] };
  if (b instanceof Uint8Array) return { bytes: [...b] };
  return { value: b };
};
export default {
  async queue(batch, env) {
    const record = {
      queue: batch.queue,
      backlog: batch.metadata.metrics.backlogCount,
      messages: batch.messages.map((m) => ({
        body: describe(m.body),
        attempts: m.attempts,
        timestamp: m.timestamp.getTime(),
      })),
    };
    await env.SEEN.put(`batch:${batch.messages[0].id}`, JSON.stringify(record));
  },
};
"#;

/// A consumer that fails each message its own way (`retry` calls `msg.retry()`, `throw` throws
/// after the others), recording `attempt:{id}:{attempts}` every time.
const FLAKY: &str = r#"
export default {
  async queue(batch, env) {
    let thrown = false;
    for (const m of batch.messages) {
      await env.SEEN.put(`attempt:${m.body.id}:${m.attempts}`, batch.queue);
      if (m.body.how === "retry") m.retry();
      else if (m.body.how === "throw") thrown = true;
      else m.ack();
    }
    if (thrown) throw new Error("the consumer broke");
  },
};
"#;

/// The dead-letter queue's consumer: `dead:{id}` with the queue and attempts it saw.
const GRAVEYARD: &str = r#"
export default {
  async queue(batch, env) {
    for (const m of batch.messages) {
      await env.SEEN.put(`dead:${m.body.id}`, JSON.stringify({ queue: batch.queue, attempts: m.attempts }));
    }
  },
};
"#;

/// Creates queue `name`; its id.
async fn queue(local: &Local, name: &str) -> String {
    let q = local
        .ok(local
            .api(Method::POST, "/queues")
            .json(&json!({"queue_name": name})))
        .await;
    q["queue_id"].as_str().unwrap().to_owned()
}

/// Adds Worker `script` as the consumer of queue `id`.
async fn consumer(local: &Local, id: &str, script: &str, settings: Value, dlq: Option<&str>) {
    let mut body = json!({"type": "worker", "script_name": script, "settings": settings});
    if let Some(dlq) = dlq {
        body["dead_letter_queue"] = json!(dlq);
    }
    local
        .ok(local
            .api(Method::POST, &format!("/queues/{id}/consumers"))
            .json(&body))
        .await;
}

/// Deploys `name` with `code` and a KV binding `SEEN` (plus `bindings`), and checks it runs.
async fn deploy(local: &Local, name: &str, code: &str, ns: &str, mut bindings: Vec<Value>) {
    bindings.push(json!({"type": "kv_namespace", "name": "SEEN", "namespace_id": ns}));
    let status = local
        .deploy(name, code, json!({"bindings": bindings}))
        .await;
    assert!(status.running.iter().any(|r| r == name), "{status:?}");
}

/// The keys of namespace `ns` starting with `prefix`.
async fn keys(local: &Local, ns: &str, prefix: &str) -> Vec<String> {
    let list = local
        .ok(local.api(
            Method::GET,
            &format!("/storage/kv/namespaces/{ns}/keys?prefix={prefix}"),
        ))
        .await;
    list.as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The value of `key` in namespace `ns`.
async fn value(local: &Local, ns: &str, key: &str) -> String {
    let r = local
        .api(
            Method::GET,
            &format!("/storage/kv/namespaces/{ns}/values/{key}"),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{key}: {}", r.status());
    r.text().await.unwrap()
}

/// Waits (up to 20 s) until `prefix` has `count` keys in `ns`; the keys, sorted.
async fn wait_for_keys(local: &Local, ns: &str, prefix: &str, count: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let mut found = keys(local, ns, prefix).await;
        if found.len() >= count {
            found.sort();
            return found;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "waited for {count} keys {prefix}*, have {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `messages` through the producer Worker; its answer.
async fn produce(local: &Local, messages: Value, batch: bool) -> Value {
    let answer = local
        .call(
            "producer",
            "/",
            json!({"messages": messages, "batch": batch}),
        )
        .await;
    assert!(answer.get("error").is_none(), "{answer}");
    answer
}

async fn backlog(local: &Local, id: &str) -> u64 {
    let m = local
        .ok(local.api(Method::GET, &format!("/queues/{id}/metrics")))
        .await;
    m["backlog_count"].as_u64().unwrap()
}

#[tokio::test]
async fn send_and_send_batch_reach_the_consumer_in_one_batch() {
    let Some(local) = Local::start().await else {
        return;
    };
    let ns = local.kv_namespace("seen").await;
    let id = queue(&local, "jobs").await;
    deploy(&local, "recorder", RECORDER, &ns, vec![]).await;
    // A full batch is four messages: only the last send completes it.
    consumer(
        &local,
        &id,
        "recorder",
        json!({"batch_size": 4, "max_wait_time_ms": 60000}),
        None,
    )
    .await;
    deploy(
        &local,
        "producer",
        PRODUCER,
        &ns,
        vec![json!({"type": "queue", "name": "JOBS", "queue_name": "jobs"})],
    )
    .await;

    let sent = produce(&local, json!([{"body": {"n": 1}}]), false).await;
    assert_eq!(sent["metrics"]["backlogCount"], 1, "{sent}");
    // `{"n":1}`, sent as JSON; the oldest message's time reaches the Worker as a Date.
    assert_eq!(sent["metrics"]["backlogBytes"], 7, "{sent}");
    assert!(
        sent["metrics"]["oldestMessageTimestamp"]
            .as_str()
            .is_some_and(|t| t.starts_with("20") && t.ends_with('Z')),
        "{sent}"
    );
    produce(
        &local,
        json!([
            {"body": "two", "contentType": "text"},
            {"bytes": [3, 0, 255], "contentType": "bytes"},
            {"map": [["four", 4]], "contentType": "v8"},
        ]),
        true,
    )
    .await;

    let batches = wait_for_keys(&local, &ns, "batch:", 1).await;
    assert_eq!(batches.len(), 1, "{batches:?}");
    let record: Value = serde_json::from_str(&value(&local, &ns, &batches[0]).await).unwrap();
    assert_eq!(record["queue"], "jobs");
    let bodies: Vec<&Value> = record["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["body"])
        .collect();
    assert_eq!(
        bodies,
        [
            &json!({"value": {"n": 1}}),
            &json!({"value": "two"}),
            &json!({"bytes": [3, 0, 255]}),
            &json!({"map": [["four", 4]]}),
        ],
        "{record}"
    );
    assert!(
        record["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["attempts"] == 1 && m["timestamp"].as_i64().unwrap() > 0),
        "{record}"
    );
    // Acknowledged (the handler returned): the queue is empty.
    let start = Instant::now();
    while backlog(&local, &id).await > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The queue lists its producer and consumer.
    let q = local
        .ok(local.api(Method::GET, &format!("/queues/{id}")))
        .await;
    assert_eq!(
        q["producers"],
        json!([{"type": "worker", "script": "producer"}])
    );
    assert_eq!(q["consumers"][0]["script"], "recorder");
}

#[tokio::test]
async fn retried_messages_come_back_then_reach_the_dead_letter_queue() {
    let Some(local) = Local::start().await else {
        return;
    };
    let ns = local.kv_namespace("seen").await;
    let id = queue(&local, "work").await;
    deploy(&local, "flaky", FLAKY, &ns, vec![]).await;
    deploy(&local, "graveyard", GRAVEYARD, &ns, vec![]).await;
    // The dead-letter queue does not exist yet: adding the consumer creates it.
    consumer(
        &local,
        &id,
        "flaky",
        json!({"batch_size": 1, "max_wait_time_ms": 0, "max_retries": 2}),
        Some("work-dlq"),
    )
    .await;
    let dlq = local
        .ok(local.api(Method::GET, "/queues?name=work-dlq"))
        .await;
    let dlq_id = dlq[0]["queue_id"].as_str().unwrap().to_owned();
    consumer(
        &local,
        &dlq_id,
        "graveyard",
        json!({"batch_size": 10, "max_wait_time_ms": 0}),
        None,
    )
    .await;
    deploy(
        &local,
        "producer",
        PRODUCER,
        &ns,
        vec![json!({"type": "queue", "name": "JOBS", "queue_name": "work"})],
    )
    .await;

    produce(
        &local,
        json!([
            {"body": {"id": "retried", "how": "retry"}},
            {"body": {"id": "thrown", "how": "throw"}},
            {"body": {"id": "fine", "how": "ack"}},
        ]),
        false,
    )
    .await;

    // max_retries 2: three deliveries each, then the dead-letter queue.
    let dead = wait_for_keys(&local, &ns, "dead:", 2).await;
    assert_eq!(dead, ["dead:retried", "dead:thrown"]);
    for key in &dead {
        let seen: Value = serde_json::from_str(&value(&local, &ns, key).await).unwrap();
        assert_eq!(seen, json!({"queue": "work-dlq", "attempts": 1}), "{key}");
    }
    let attempts = keys(&local, &ns, "attempt:").await;
    let mut attempts = attempts.clone();
    attempts.sort();
    assert_eq!(
        attempts,
        [
            "attempt:fine:1",
            "attempt:retried:1",
            "attempt:retried:2",
            "attempt:retried:3",
            "attempt:thrown:1",
            "attempt:thrown:2",
            "attempt:thrown:3",
        ]
    );
    assert_eq!(backlog(&local, &id).await, 0);
}

#[tokio::test]
async fn a_delayed_message_waits_for_the_emulators_clock() {
    let Some(local) = Local::start().await else {
        return;
    };
    let ns = local.kv_namespace("seen").await;
    let id = queue(&local, "later").await;
    deploy(&local, "recorder", RECORDER, &ns, vec![]).await;
    consumer(
        &local,
        &id,
        "recorder",
        json!({"batch_size": 10, "max_wait_time_ms": 0}),
        None,
    )
    .await;
    deploy(
        &local,
        "producer",
        PRODUCER,
        &ns,
        vec![json!({"type": "queue", "name": "JOBS", "queue_name": "later"})],
    )
    .await;
    produce(
        &local,
        json!([{"body": "in an hour", "delaySeconds": 3600}]),
        false,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(keys(&local, &ns, "batch:").await.is_empty());
    assert_eq!(backlog(&local, &id).await, 1);

    local.emu.clock().advance(Duration::from_secs(3601));
    let batches = wait_for_keys(&local, &ns, "batch:", 1).await;
    let record: Value = serde_json::from_str(&value(&local, &ns, &batches[0]).await).unwrap();
    assert_eq!(
        record["messages"][0]["body"],
        json!({"value": "in an hour"})
    );
}

#[tokio::test]
async fn a_refused_send_fails_in_the_worker_with_cloudflares_code() {
    let Some(local) = Local::start().await else {
        return;
    };
    let ns = local.kv_namespace("seen").await;
    let id = queue(&local, "short-lived").await;
    // From 2026-03-12 (`queue_expose_error_codes`) the error names the cause and the code.
    let status = local
        .deploy(
            "producer",
            PRODUCER,
            json!({
                "compatibility_date": "2026-04-01",
                "bindings": [
                    {"type": "queue", "name": "JOBS", "queue_name": "short-lived"},
                    {"type": "kv_namespace", "name": "SEEN", "namespace_id": ns},
                ],
            }),
        )
        .await;
    assert_eq!(status.running, ["producer"], "{status:?}");
    let big = "x".repeat(128_001);
    let answer = local
        .call(
            "producer",
            "/",
            json!({"messages": [{"body": big, "contentType": "text"}]}),
        )
        .await;
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(error.contains("(10204)"), "{answer}");
    local
        .ok(local.api(Method::DELETE, &format!("/queues/{id}")))
        .await;
    let answer = local
        .call("producer", "/", json!({"messages": [{"body": "hello"}]}))
        .await;
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("does not exist") && error.contains("(10104)"),
        "{answer}"
    );
}
