//! Delivery of queue messages to consumer Workers, while the emulator serves Workers.
//!
//! A background task of the local runtime watches every queue that has a Worker consumer whose
//! script runs: when `batch_size` messages are visible, or the oldest visible one has waited
//! `max_wait_time_ms`, it leases a batch (oldest first) and posts it to workerd, where the
//! dispatcher service (`js/queue_dispatch.js`) calls the consumer's `queue()` handler through a
//! service binding's `queue(queueName, messages, metadata)`. The answer says what became of each
//! message:
//! - a message the handler retried (`msg.retry()`, `batch.retryAll()`, or any message not
//!   acknowledged when the handler threw) is visible again after its delay: the retry's
//!   `delaySeconds`, else the consumer's `retry_delay`, else at once; after `max_retries` retries
//!   (so `max_retries + 1` deliveries) it moves to the dead-letter queue, when the consumer has
//!   one (same id, body and send time, no attempts), else it is dropped;
//! - every other message is acknowledged and deleted (`msg.ack()`, `batch.ackAll()`, or the
//!   handler returning). A call on one message wins over a batch-level call, as Cloudflare
//!   documents.
//!
//! Facts verified against the pinned workerd (2026-11-17): `Fetcher.queue()` exists only with the
//! `service_binding_extra_handlers` compatibility flag (without it, `queue` is a JS RPC call that
//! fails); it takes `{id, timestamp: Date, attempts, body}` (V8-serialized by the caller) or
//! `{…, serializedBody}` (V8 bytes, such as a producer's `v8` message) and resolves to
//! `{outcome: "ok" | "exception", ackAll, retryBatch: {retry, delaySeconds?}, explicitAcks: [id],
//! retryMessages: [{msgId, delaySeconds?}]}`; a handler that throws, or a Worker with no
//! `queue()` handler, gives `outcome: "exception"`; the consumer sees `batch.queue`,
//! `batch.metadata.metrics` and each message's `id`, `timestamp`, `attempts` and decoded `body`.
//!
//! Time is the emulator's [`crate::Clock`]: delays, the batch wait and message retention are
//! measured on it, so a test that advances the clock sees delayed messages delivered within a
//! poll (at most [`POLL`]). Sends, API changes and the runtime's restarts wake the task at once.
//! One batch per queue is out at a time (`max_concurrency` is not modelled). A batch the consumer
//! could not be reached for (workerd gone, the Worker not served) is handed back uncounted.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, header};
use base64::Engine;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{broadcast, oneshot, watch};
use tokio::task::JoinSet;

use super::config::q;
use super::{WorkerEvent, WorkersStatus};
use crate::bindings::TOKEN_HEADER;
use crate::state::AppState;
use crate::store::queues::{self as store, Backlog, Consumer, Leased, Queue, Readiness};

/// The path of the router that leads to the dispatcher.
pub(crate) const QUEUE_PATH: &str = "/cdn-cgi/athanor/queue";
/// The dispatcher's workerd service.
const DISPATCH_SERVICE: &str = "athanor:queues";
const DISPATCH_JS: &str = include_str!("js/queue_dispatch.js");
/// The compatibility flag that gives service bindings `queue()`.
const EXTRA_HANDLERS_FLAG: &str = "service_binding_extra_handlers";
/// The longest a check waits while messages are pending (so an advanced clock is noticed).
pub(crate) const POLL: Duration = Duration::from_millis(100);
/// The longest a check waits when nothing is pending.
const IDLE: Duration = Duration::from_secs(1);
/// How long a batch may stay out with its consumer: Cloudflare's 15 minutes of consumer wall time
/// (`queues/platform/limits`), and a margin.
const LEASE_MS: i64 = 16 * 60 * 1000;
/// How long a queue waits after its consumer could not be reached (the emulator's own).
const BACKOFF_MS: i64 = 1_000;
/// The largest answer the dispatcher gives (the emulator's own bound, no public source).
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// The dispatcher's workerd service, binding every running account script by name, and the
/// router's binding to it.
pub(super) fn dispatcher(
    scripts: &[String],
    token: &str,
    compatibility_date: &str,
) -> (String, String) {
    let mut bindings = vec![format!("(name = \"TOKEN\", text = {})", q(token))];
    let mut consumers = serde_json::Map::new();
    for (i, script) in scripts.iter().enumerate() {
        let binding = format!("C{i}");
        bindings.push(format!(
            "(name = {}, service = {})",
            q(&binding),
            q(&super::config::service_name(script))
        ));
        consumers.insert(script.clone(), json!(binding));
    }
    bindings.push(format!(
        "(name = \"CONSUMERS\", json = {})",
        q(&Value::Object(consumers).to_string())
    ));
    let service = format!(
        "    (name = {}, worker = (modules = [(name = \"queue_dispatch.js\", esModule = {})], compatibilityDate = {}, compatibilityFlags = [{}], bindings = [{}])),",
        q(DISPATCH_SERVICE),
        q(DISPATCH_JS),
        q(compatibility_date),
        q(EXTRA_HANDLERS_FLAG),
        bindings.join(", ")
    );
    let router_binding = format!("(name = \"QUEUES\", service = {})", q(DISPATCH_SERVICE));
    (service, router_binding)
}

/// The external service a producer binding to queue `name` sends to, and the binding header it
/// carries (`queue/{name}`, or `queue/{name}/{delay}` with the binding's delivery delay).
pub(super) fn producer(name: &str, delivery_delay: Option<i64>) -> (String, String) {
    match delivery_delay {
        Some(d) => (format!("queue:{name}:{d}"), format!("queue/{name}/{d}")),
        None => (format!("queue:{name}"), format!("queue/{name}")),
    }
}

/// The running delivery task.
pub(crate) struct Delivery {
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Delivery {
    /// Starts delivering to the Workers served on `port` (as `applied` says which run).
    pub fn start(
        app: Arc<AppState>,
        port: u16,
        token: String,
        applied: watch::Receiver<(u64, WorkersStatus)>,
        events: broadcast::Sender<WorkerEvent>,
    ) -> Delivery {
        let (stop, stopped) = oneshot::channel();
        let deliverer = Deliverer {
            app,
            port,
            token,
            applied,
            events,
            in_flight: HashSet::new(),
            backoff: HashMap::new(),
            tasks: JoinSet::new(),
        };
        Delivery {
            stop: Some(stop),
            task: Some(tokio::spawn(deliverer.run(stopped))),
        }
    }

    /// Stops delivering; a batch out with its consumer is abandoned (its lease is released when
    /// delivery starts again).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

struct Deliverer {
    app: Arc<AppState>,
    port: u16,
    token: String,
    applied: watch::Receiver<(u64, WorkersStatus)>,
    events: broadcast::Sender<WorkerEvent>,
    /// Queues with a batch out.
    in_flight: HashSet<String>,
    /// Queues whose consumer could not be reached, and until when they wait.
    backoff: HashMap<String, i64>,
    tasks: JoinSet<Delivered>,
}

/// How one delivery ended.
struct Delivered {
    queue_id: String,
    reached: bool,
}

/// What to do about a queue now.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// Deliver a batch now.
    Deliver,
    /// Look again at this time (milliseconds).
    At(i64),
    /// Nothing to deliver.
    Idle,
}

/// Whether a queue's batch is due at `now`: full (`batch_size` visible), or its oldest visible
/// message has waited `max_wait_time_ms`.
fn decide(now: i64, r: &Readiness, batch_size: i64, max_wait_ms: i64) -> Decision {
    let Some(oldest) = r.oldest_ready_ms.filter(|_| r.ready > 0) else {
        return r.next_visible_ms.map_or(Decision::Idle, Decision::At);
    };
    let deadline = oldest.saturating_add(max_wait_ms);
    if r.ready >= batch_size.max(1) as u64 || now >= deadline {
        return Decision::Deliver;
    }
    Decision::At(r.next_visible_ms.map_or(deadline, |n| n.min(deadline)))
}

impl Deliverer {
    async fn run(mut self, mut stopped: oneshot::Receiver<()>) {
        if let Err(e) = self.app.store.tx(|c| store::release_all_leases(c)).await {
            tracing::warn!(error = %e.message, "could not release queue leases");
        }
        loop {
            let wait = self.tick().await;
            tokio::select! {
                _ = &mut stopped => break,
                () = self.app.queue_wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    if let Ok(done) = done {
                        self.in_flight.remove(&done.queue_id);
                        if !done.reached {
                            let until = self.app.clock.now_millis() + BACKOFF_MS;
                            self.backoff.insert(done.queue_id, until);
                        }
                    }
                }
                changed = self.applied.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    self.backoff.clear();
                }
            }
        }
        self.tasks.shutdown().await;
    }

    /// Starts the deliveries that are due; how long to wait before looking again.
    async fn tick(&mut self) -> Duration {
        let now = self.app.clock.now_millis();
        let running: HashSet<String> = self.applied.borrow().1.running.iter().cloned().collect();
        let busy = self.in_flight.clone();
        let candidates = self
            .app
            .store
            .tx(move |c| {
                let mut out = Vec::new();
                for queue in store::list(c)? {
                    let retention_ms = queue.settings.message_retention_period * 1000;
                    store::expire(c, &queue.queue_id, now - retention_ms)?;
                    let Some(consumer) = queue.worker_consumer().cloned() else {
                        continue;
                    };
                    if queue.settings.delivery_paused || busy.contains(&queue.queue_id) {
                        continue;
                    }
                    let readiness = store::readiness(c, &queue.queue_id, now)?;
                    out.push((queue, consumer, readiness));
                }
                Ok(out)
            })
            .await;
        let candidates = match candidates {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e.message, "could not read the queues to deliver");
                return IDLE;
            }
        };
        let mut next: Option<i64> = None;
        for (queue, consumer, readiness) in candidates {
            // A consumer that does not run waits for the runtime to change.
            if !running.contains(&consumer.script_name) {
                continue;
            }
            if let Some(until) = self.backoff.get(&queue.queue_id).copied() {
                if until > now {
                    next = Some(next.map_or(until, |n| n.min(until)));
                    continue;
                }
                self.backoff.remove(&queue.queue_id);
            }
            let s = &consumer.settings;
            match decide(now, &readiness, s.batch_size, s.max_wait_time_ms) {
                Decision::Deliver => self.deliver(queue, consumer, now).await,
                Decision::At(t) => next = Some(next.map_or(t, |n| n.min(t))),
                Decision::Idle => {}
            }
        }
        match next {
            Some(t) => Duration::from_millis((t - now).clamp(1, POLL.as_millis() as i64) as u64),
            None => IDLE,
        }
    }

    /// Leases a batch of `queue` and sends it to its consumer in a task of its own.
    async fn deliver(&mut self, queue: Queue, consumer: Consumer, now: i64) {
        let limit = consumer.settings.batch_size.max(1) as usize;
        let queue_id = queue.queue_id.clone();
        let leased = self
            .app
            .store
            .tx(move |c| {
                let batch = store::lease(c, &queue_id, limit, now, now + LEASE_MS)?;
                Ok((batch, store::backlog(c, &queue_id)?))
            })
            .await;
        let (batch, backlog) = match leased {
            Ok(b) if !b.0.is_empty() => b,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e.message, queue = %queue.queue_name, "could not lease a batch");
                return;
            }
        };
        self.in_flight.insert(queue.queue_id.clone());
        let job = Job {
            app: self.app.clone(),
            port: self.port,
            token: self.token.clone(),
            events: self.events.clone(),
            queue,
            consumer,
        };
        self.tasks.spawn(job.run(batch, backlog));
    }
}

/// One batch on its way to a consumer.
struct Job {
    app: Arc<AppState>,
    port: u16,
    token: String,
    events: broadcast::Sender<WorkerEvent>,
    queue: Queue,
    consumer: Consumer,
}

/// The consumer's answer, as `Fetcher.queue()` resolves.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueueResult {
    outcome: String,
    #[serde(default)]
    ack_all: bool,
    #[serde(default)]
    retry_batch: RetryBatch,
    #[serde(default)]
    explicit_acks: Vec<String>,
    #[serde(default)]
    retry_messages: Vec<RetryMessage>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RetryBatch {
    #[serde(default)]
    retry: bool,
    delay_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RetryMessage {
    msg_id: String,
    delay_seconds: Option<i64>,
}

/// What becomes of one delivered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ack,
    /// Retry after this many seconds.
    Retry(i64),
}

/// The verdict on each message of `batch` from the consumer's answer: a call on one message wins
/// over a batch-level call, which wins over the handler's outcome.
fn verdicts(batch: &[Leased], result: &QueueResult, retry_delay: i64) -> Vec<Verdict> {
    batch
        .iter()
        .map(|m| {
            if let Some(r) = result.retry_messages.iter().find(|r| r.msg_id == m.id) {
                Verdict::Retry(r.delay_seconds.unwrap_or(retry_delay))
            } else if result.explicit_acks.contains(&m.id) || result.ack_all {
                Verdict::Ack
            } else if result.retry_batch.retry {
                Verdict::Retry(result.retry_batch.delay_seconds.unwrap_or(retry_delay))
            } else if result.outcome != "ok" {
                Verdict::Retry(retry_delay)
            } else {
                Verdict::Ack
            }
        })
        .collect()
}

impl Job {
    async fn run(self, batch: Vec<Leased>, backlog: Backlog) -> Delivered {
        let queue_id = self.queue.queue_id.clone();
        let result = self.send(&batch, &backlog).await;
        let result = match result {
            Sent::Answered(result) => result,
            Sent::Failed(why) => {
                let _ = self.events.send(WorkerEvent::Runtime {
                    message: format!(
                        "queue {}: the batch for consumer {} failed before its queue() handler ran: {why}",
                        self.queue.queue_name, self.consumer.script_name
                    ),
                });
                QueueResult {
                    outcome: "exception".into(),
                    ..QueueResult::default()
                }
            }
            Sent::Unreached(why) => {
                tracing::debug!(queue = %self.queue.queue_name, %why, "queue consumer not reached");
                let ids: Vec<String> = batch.iter().map(|m| m.id.clone()).collect();
                let released = self
                    .app
                    .store
                    .tx(move |c| {
                        for id in &ids {
                            store::release(c, &queue_id, id)?;
                        }
                        Ok(())
                    })
                    .await;
                if let Err(e) = released {
                    tracing::warn!(error = %e.message, "could not hand a batch back");
                }
                return Delivered {
                    queue_id: self.queue.queue_id,
                    reached: false,
                };
            }
        };
        let retry_delay = self.consumer.settings.retry_delay.unwrap_or(0);
        let verdicts = verdicts(&batch, &result, retry_delay);
        let max_retries = self.consumer.settings.max_retries;
        let dead_letter_queue = self.consumer.dead_letter_queue.clone();
        let now = self.app.clock.now_millis();
        let settled = self
            .app
            .store
            .tx(move |c| {
                let target = match dead_letter_queue.as_str() {
                    "" => None,
                    name => store::by_name(c, name)?,
                };
                let mut notes = Vec::new();
                for (m, verdict) in batch.iter().zip(verdicts) {
                    match verdict {
                        Verdict::Ack => store::remove(c, &queue_id, &m.id)?,
                        Verdict::Retry(_) if m.attempts > max_retries => match &target {
                            Some(dlq) => {
                                store::move_to(c, &queue_id, &m.id, &dlq.queue_id, now)?;
                                notes.push(format!(
                                    "message {} moved to dead-letter queue {} after {} attempts",
                                    m.id, dlq.queue_name, m.attempts
                                ));
                            }
                            None => {
                                store::remove(c, &queue_id, &m.id)?;
                                notes.push(format!(
                                    "message {} dropped after {} attempts",
                                    m.id, m.attempts
                                ));
                            }
                        },
                        Verdict::Retry(delay) => {
                            store::retry(c, &queue_id, &m.id, now + delay.max(0) * 1000)?;
                        }
                    }
                }
                Ok(notes)
            })
            .await;
        match settled {
            Ok(notes) => {
                for note in notes {
                    let _ = self.events.send(WorkerEvent::Runtime {
                        message: format!("queue {}: {note}", self.queue.queue_name),
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e.message, "could not settle a queue batch"),
        }
        self.app.queue_wake.notify_one();
        Delivered {
            queue_id: self.queue.queue_id,
            reached: true,
        }
    }

    /// Posts the batch to the dispatcher through the router.
    async fn send(&self, batch: &[Leased], backlog: &Backlog) -> Sent {
        let b64 = base64::engine::general_purpose::STANDARD;
        let messages: Vec<Value> = batch
            .iter()
            .map(|m| {
                json!({
                    "id": m.id,
                    "timestamp": m.sent_ms,
                    "attempts": m.attempts,
                    "contentType": m.content_type,
                    "body": b64.encode(&m.body),
                })
            })
            .collect();
        let body = json!({
            "script": self.consumer.script_name,
            "queue": self.queue.queue_name,
            "messages": messages,
            "metrics": {
                "backlogCount": backlog.count,
                "backlogBytes": backlog.bytes,
                "oldestMessageTimestamp": backlog.oldest_ms.unwrap_or(0),
            },
        });
        let host = format!("{}.localhost", self.consumer.script_name);
        match post(self.port, &host, &self.token, body.to_string().into_bytes()).await {
            Err(e) => Sent::Unreached(e),
            Ok((StatusCode::OK, answer)) => match serde_json::from_slice::<QueueResult>(&answer) {
                Ok(result) => Sent::Answered(result),
                Err(e) => Sent::Failed(format!(
                    "the dispatcher's answer is not a queue result: {e}"
                )),
            },
            Ok((status @ (StatusCode::FORBIDDEN | StatusCode::NOT_FOUND), answer)) => {
                Sent::Unreached(format!("{status}: {}", String::from_utf8_lossy(&answer)))
            }
            Ok((status, answer)) => {
                Sent::Failed(format!("{status}: {}", String::from_utf8_lossy(&answer)))
            }
        }
    }
}

/// How sending a batch went.
enum Sent {
    /// The handler ran; its outcome.
    Answered(QueueResult),
    /// The batch reached workerd but could not be handed to the handler (it counts as a failed
    /// delivery).
    Failed(String),
    /// The consumer was not reached (the batch does not count).
    Unreached(String),
}

/// One HTTP/1.1 POST of `body` to the router on `port`, for `host`; the status and body.
async fn post(
    port: u16,
    host: &str,
    token: &str,
    body: Vec<u8>,
) -> Result<(StatusCode, Vec<u8>), String> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("could not connect to workerd: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("could not talk to workerd: {e}"))?;
    let connection = tokio::spawn(connection);
    let request = hyper::Request::post(QUEUE_PATH)
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, "application/json")
        .header(TOKEN_HEADER, token)
        .body(Body::from(body))
        .map_err(|e| format!("could not build the delivery request: {e}"))?;
    let exchange = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("workerd did not answer: {e}"))?;
        let status = response.status();
        let answer = axum::body::to_bytes(Body::new(response.into_body()), MAX_ANSWER_BYTES)
            .await
            .map_err(|e| format!("could not read workerd's answer: {e}"))?;
        Ok((status, answer.to_vec()))
    };
    let out = match tokio::time::timeout(Duration::from_millis(LEASE_MS as u64), exchange).await {
        Ok(out) => out,
        Err(_) => Ok((
            StatusCode::GATEWAY_TIMEOUT,
            b"the consumer ran past its wall-time limit".to_vec(),
        )),
    };
    connection.abort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leased(id: &str, attempts: i64) -> Leased {
        Leased {
            id: id.into(),
            content_type: "json".into(),
            body: b"1".to_vec(),
            sent_ms: 0,
            attempts,
        }
    }

    fn result(outcome: &str) -> QueueResult {
        QueueResult {
            outcome: outcome.into(),
            ..QueueResult::default()
        }
    }

    #[test]
    fn a_batch_is_due_when_full_or_when_its_oldest_message_waited_long_enough() {
        let r = |ready, oldest: Option<i64>, next: Option<i64>| Readiness {
            ready,
            oldest_ready_ms: oldest,
            next_visible_ms: next,
            leased: 0,
        };
        assert_eq!(decide(1_000, &r(0, None, None), 10, 5_000), Decision::Idle);
        assert_eq!(
            decide(1_000, &r(0, None, Some(9_000)), 10, 5_000),
            Decision::At(9_000)
        );
        assert_eq!(
            decide(1_000, &r(10, Some(900), None), 10, 5_000),
            Decision::Deliver
        );
        assert_eq!(
            decide(1_000, &r(3, Some(900), None), 10, 5_000),
            Decision::At(5_900)
        );
        assert_eq!(
            decide(1_000, &r(3, Some(900), Some(2_000)), 10, 5_000),
            Decision::At(2_000)
        );
        assert_eq!(
            decide(6_000, &r(3, Some(900), None), 10, 5_000),
            Decision::Deliver
        );
        assert_eq!(
            decide(1_000, &r(1, Some(1_000), None), 10, 0),
            Decision::Deliver
        );
    }

    #[test]
    fn a_call_on_one_message_wins_over_the_batch_and_the_outcome() {
        let batch = [leased("a", 1), leased("b", 1), leased("c", 1)];
        assert_eq!(verdicts(&batch, &result("ok"), 0), [Verdict::Ack; 3]);
        assert_eq!(
            verdicts(&batch, &result("exception"), 7),
            [Verdict::Retry(7); 3]
        );
        let mut r = result("exception");
        r.explicit_acks = vec!["a".into()];
        r.retry_messages = vec![RetryMessage {
            msg_id: "b".into(),
            delay_seconds: Some(4),
        }];
        assert_eq!(
            verdicts(&batch, &r, 9),
            [Verdict::Ack, Verdict::Retry(4), Verdict::Retry(9)]
        );
        let mut r = result("ok");
        r.retry_batch = RetryBatch {
            retry: true,
            delay_seconds: Some(2),
        };
        r.explicit_acks = vec!["c".into()];
        assert_eq!(
            verdicts(&batch, &r, 0),
            [Verdict::Retry(2), Verdict::Retry(2), Verdict::Ack]
        );
        let mut r = result("ok");
        r.ack_all = true;
        r.retry_messages = vec![RetryMessage {
            msg_id: "a".into(),
            delay_seconds: None,
        }];
        assert_eq!(
            verdicts(&batch, &r, 3),
            [Verdict::Retry(3), Verdict::Ack, Verdict::Ack]
        );
    }

    #[test]
    fn the_answer_of_fetcher_queue_parses() {
        let answer = r#"{"outcome":"ok","ackAll":false,"retryBatch":{"retry":true,"delaySeconds":9},"explicitAcks":["m2"],"retryMessages":[{"msgId":"m3","delaySeconds":4}]}"#;
        let r: QueueResult = serde_json::from_str(answer).unwrap();
        assert!(r.retry_batch.retry);
        assert_eq!(r.retry_messages[0].delay_seconds, Some(4));
        assert_eq!(r.explicit_acks, ["m2"]);
    }

    #[test]
    fn producer_services_carry_the_binding_delay() {
        assert_eq!(
            producer("jobs", None),
            ("queue:jobs".into(), "queue/jobs".into())
        );
        assert_eq!(
            producer("jobs", Some(30)),
            ("queue:jobs:30".into(), "queue/jobs/30".into())
        );
    }
}
