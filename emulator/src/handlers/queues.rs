//! Cloudflare Queues over the v4 API: queues (create, list with `name` filters and pages, get,
//! `PUT` to overwrite and `PATCH` to change settings or the name, delete, metrics, purge), their
//! consumers (one Worker consumer per queue, as on Cloudflare; create, list, get, `PUT`, delete),
//! messages pushed over HTTP (`/messages`, `/messages/batch`), and the consumers a Worker script
//! has (`…/workers/scripts/{script_name}/queue-consumers`). The rules (names, settings ranges,
//! message limits, codes) are in `queue_rules`; messages are kept by `store::queues` and
//! delivered to the consumer by `workerd::delivery` when the emulator serves Workers.
//!
//! Shapes follow the TypeScript SDK (`queues/*.ts`) and wrangler (`deploy-helpers`
//! `triggers/queue-consumers.ts`): a queue is `{queue_id, queue_name, created_on, modified_on,
//! producers, producers_total_count, consumers, consumers_total_count, settings}`; a consumer
//! carries its Worker both as `script_name` (the SDK) and `script` (what wrangler matches when it
//! decides between creating and updating a consumer on deploy). A dead-letter queue that does
//! not exist is created with the consumer, as Cloudflare documents.
//!
//! Codes: 11000 an unknown queue (404), 11003 an invalid name, 11004 a second consumer
//! (`workers.api.error.consumer_exists`), 11001 a consumer Worker with no `queue` handler, 10026
//! a malformed body, 100127 and 100128 invalid consumer and queue settings; the message
//! endpoints answer with the binding's codes (10104 unknown queue, 10203 .. 10208). 11005 for an
//! unknown consumer is the emulator's choice (no public source). Each code's source is on its
//! constant in `queue_rules::code`. Queue list pages: default 100, at most 1000; no public source.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use rusqlite::Connection;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppStateRef;
use crate::envelope::{ApiError, ApiResult, ok, ok_with_info, paginate};
use crate::ids;
use crate::queue_rules::{self, ConsumerSettings, ContentType, QueueSettings, code};
use crate::scripts::model::BindingKind;
use crate::scripts::{self, Scope};
use crate::state::AppState;
use crate::store::parts;
use crate::store::queues::{self as store, Consumer, NewMessage, Queue};

fn queue_not_found(id: &str) -> ApiError {
    ApiError::not_found(
        code::QUEUE_NOT_FOUND,
        format!("Queue {id} does not exist: list the queues to find its id"),
    )
}

fn consumer_not_found(id: &str) -> ApiError {
    ApiError::not_found(
        code::CONSUMER_NOT_FOUND,
        format!("Consumer {id} does not exist on this queue"),
    )
}

fn invalid_body(message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(
        code::INVALID_REQUEST_BODY,
        format!("The request body is invalid: {message}"),
    )
}

fn name_taken(name: &str) -> ApiError {
    ApiError::bad_request(
        code::QUEUE_NAME_TAKEN,
        format!("A queue named '{name}' already exists in this account"),
    )
}

/// Parses a JSON body (whatever its content type says) into `T`; 10026 otherwise.
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(invalid_body)
}

/// The queue a path names, by id (or by name, which Cloudflare's examples also use).
fn require(c: &Connection, id_or_name: &str) -> Result<Queue, ApiError> {
    match store::load(c, id_or_name)? {
        Some(q) => Ok(q),
        None => store::by_name(c, id_or_name)?.ok_or_else(|| queue_not_found(id_or_name)),
    }
}

/// A consumer as the API shows it.
fn consumer_view(q: &Queue, consumer: &Consumer) -> Value {
    json!({
        "consumer_id": consumer.consumer_id,
        "queue_id": q.queue_id,
        "queue_name": q.queue_name,
        "created_on": consumer.created_on,
        "type": consumer.kind,
        "script_name": consumer.script_name,
        "script": consumer.script_name,
        "dead_letter_queue": consumer.dead_letter_queue,
        "settings": consumer.settings,
    })
}

/// The Workers whose bindings send to queue `name`: `{type: "worker", script}` (and `namespace`
/// for a user Worker of a dispatch namespace).
fn producers(c: &Connection, name: &str) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    for script in scripts::list_all(c)? {
        let sends = script.bindings.iter().any(
            |b| matches!(&b.kind, BindingKind::Queue { queue_name, .. } if queue_name == name),
        );
        if sends {
            let mut p = json!({"type": "worker", "script": script.id});
            if let Some(ns) = &script.dispatch_namespace {
                p["namespace"] = json!(ns);
            }
            out.push(p);
        }
    }
    Ok(out)
}

/// A queue as the API shows it.
fn view(c: &Connection, q: &Queue) -> Result<Value, ApiError> {
    let producers = producers(c, &q.queue_name)?;
    let consumers: Vec<Value> = q.consumers.iter().map(|k| consumer_view(q, k)).collect();
    Ok(json!({
        "queue_id": q.queue_id,
        "queue_name": q.queue_name,
        "created_on": q.created_on,
        "modified_on": q.modified_on,
        "producers_total_count": producers.len(),
        "producers": producers,
        "consumers_total_count": consumers.len(),
        "consumers": consumers,
        "settings": q.settings,
    }))
}

#[derive(Deserialize)]
struct QueueBody {
    queue_name: Option<String>,
    #[serde(default)]
    settings: Value,
}

/// `POST …/queues` with `{queue_name, settings?}`.
pub(crate) async fn create(state: AppStateRef, bytes: Bytes) -> ApiResult {
    let req: QueueBody = body(&bytes)?;
    let name = req
        .queue_name
        .ok_or_else(|| invalid_body("queue_name is required"))?;
    queue_rules::check_name(&name)?;
    let settings = QueueSettings::default().apply(&req.settings)?;
    let now = state.clock.rfc3339();
    let result = state
        .store
        .tx(move |c| {
            if store::by_name(c, &name)?.is_some() {
                return Err(name_taken(&name));
            }
            let q = Queue {
                queue_id: ids::hex32(),
                queue_name: name,
                created_on: now.clone(),
                modified_on: now,
                settings,
                consumers: Vec::new(),
                purged_at: None,
            };
            store::save(c, &q)?;
            view(c, &q)
        })
        .await?;
    ok(result)
}

/// The values of every `name` query parameter, and `page`/`per_page`.
fn list_query(raw: Option<&str>) -> (Vec<String>, Option<String>, Option<String>) {
    let (mut names, mut page, mut per_page) = (Vec::new(), None, None);
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let Some(v) = crate::bindings::percent_decode(v, true) else {
            continue;
        };
        match k {
            "name" | "name%5B%5D" | "name[]" => names.push(v),
            "page" => page = Some(v),
            "per_page" => per_page = Some(v),
            _ => {}
        }
    }
    (names, page, per_page)
}

/// `GET …/queues?name=…&name=…&page&per_page`: the queues (only those named, when `name` is
/// given), oldest first.
pub(crate) async fn list(state: AppStateRef, RawQuery(raw): RawQuery) -> ApiResult {
    let (names, page, per_page) = list_query(raw.as_deref());
    let all = state
        .store
        .tx(move |c| {
            let mut out = Vec::new();
            for q in store::list(c)? {
                if names.is_empty() || names.contains(&q.queue_name) {
                    out.push(view(c, &q)?);
                }
            }
            Ok(out)
        })
        .await?;
    let (items, info) = paginate(&all, page.as_deref(), per_page.as_deref(), 100, 1000)?;
    ok_with_info(Value::Array(items), info)
}

/// `GET …/queues/{queue_id}`.
pub(crate) async fn get(state: AppStateRef, Path((_, id)): Path<(String, String)>) -> ApiResult {
    let q = state
        .store
        .tx(move |c| {
            let q = require(c, &id)?;
            view(c, &q)
        })
        .await?;
    ok(q)
}

/// `PUT …/queues/{queue_id}`: the settings are overwritten with those given (the others take
/// their defaults); a `queue_name` renames the queue.
pub(crate) async fn update(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult {
    change(&state, id, &bytes, true).await
}

/// `PATCH …/queues/{queue_id}`: the settings given change, the others stay; a `queue_name`
/// renames the queue.
pub(crate) async fn edit(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult {
    change(&state, id, &bytes, false).await
}

async fn change(state: &AppState, id: String, bytes: &[u8], overwrite: bool) -> ApiResult {
    let req: QueueBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        QueueBody {
            queue_name: None,
            settings: Value::Null,
        }
    } else {
        body(bytes)?
    };
    if let Some(name) = &req.queue_name {
        queue_rules::check_name(name)?;
    }
    let now = state.clock.rfc3339();
    let result = state
        .store
        .tx(move |c| {
            let mut q = require(c, &id)?;
            let base = if overwrite {
                QueueSettings::default()
            } else {
                q.settings.clone()
            };
            q.settings = base.apply(&req.settings)?;
            if let Some(name) = req.queue_name.filter(|n| *n != q.queue_name) {
                if store::by_name(c, &name)?.is_some() {
                    return Err(name_taken(&name));
                }
                q.queue_name = name;
            }
            q.modified_on = now;
            store::save(c, &q)?;
            view(c, &q)
        })
        .await?;
    state.queue_wake.notify_one();
    ok(result)
}

/// `DELETE …/queues/{queue_id}`: the queue, its consumers and its messages.
pub(crate) async fn delete(state: AppStateRef, Path((_, id)): Path<(String, String)>) -> ApiResult {
    state
        .store
        .tx(move |c| {
            let q = require(c, &id)?;
            store::delete(c, &q.queue_id)
        })
        .await?;
    ok(Value::Null)
}

/// `GET …/queues/{queue_id}/metrics`: `{backlog_count, backlog_bytes,
/// oldest_message_timestamp_ms}` (0 when the queue is empty).
pub(crate) async fn metrics(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult {
    let backlog = state
        .store
        .tx(move |c| {
            let q = require(c, &id)?;
            store::backlog(c, &q.queue_id)
        })
        .await?;
    ok(metrics_view(&backlog))
}

fn metrics_view(b: &store::Backlog) -> Value {
    json!({
        "backlog_count": b.count,
        "backlog_bytes": b.bytes,
        "oldest_message_timestamp_ms": b.oldest_ms.unwrap_or(0),
    })
}

#[derive(Deserialize)]
struct PurgeBody {
    delete_messages_permanently: Option<bool>,
}

/// `POST …/queues/{queue_id}/purge` with `{delete_messages_permanently: true}`: every message is
/// deleted at once; answers the queue.
pub(crate) async fn purge(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult {
    let req: PurgeBody = body(&bytes)?;
    if req.delete_messages_permanently != Some(true) {
        return Err(invalid_body(
            "a purge deletes every message for good: confirm with delete_messages_permanently: true",
        ));
    }
    let now = state.clock.rfc3339();
    let result = state
        .store
        .tx(move |c| {
            let mut q = require(c, &id)?;
            store::purge(c, &q.queue_id)?;
            q.purged_at = Some(now);
            store::save(c, &q)?;
            view(c, &q)
        })
        .await?;
    ok(result)
}

/// `GET …/queues/{queue_id}/purge`: the last purge, which completes within its call here.
pub(crate) async fn purge_status(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult {
    let q = state.store.tx(move |c| require(c, &id)).await?;
    ok(match q.purged_at {
        Some(at) => json!({"completed": "true", "started_at": at}),
        None => json!({}),
    })
}

#[derive(Deserialize)]
struct ConsumerBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    script_name: Option<String>,
    /// The older name of `script_name`.
    script: Option<String>,
    dead_letter_queue: Option<String>,
    settings: Option<Value>,
}

/// A consumer from a request body, checked against the queue, the account's Workers and its
/// other queues (a missing dead-letter queue is created); `id` and `created_on` as given.
fn consumer_from(
    c: &Connection,
    q: &Queue,
    req: ConsumerBody,
    id: String,
    created_on: String,
    now: &str,
) -> Result<Consumer, ApiError> {
    match req.kind.as_deref() {
        Some("worker") => {}
        Some("http_pull") => {
            return Err(invalid_body(
                "http_pull consumers are not supported by the local emulator; consume with a Worker (type \"worker\")",
            ));
        }
        Some(other) => return Err(invalid_body(format!("unknown consumer type {other:?}"))),
        None => return Err(invalid_body("type is required (\"worker\")")),
    }
    let script_name = req
        .script_name
        .or(req.script)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid_body("script_name is required for a Worker consumer"))?;
    let settings = ConsumerSettings::parse(req.settings.as_ref())?;
    let dead_letter_queue = req.dead_letter_queue.unwrap_or_default();
    if !dead_letter_queue.is_empty() {
        queue_rules::check_name(&dead_letter_queue)?;
        if dead_letter_queue == q.queue_name {
            return Err(ApiError::bad_request(
                code::INVALID_CONSUMER_SETTINGS,
                "a queue cannot be its own dead letter queue",
            ));
        }
        if store::by_name(c, &dead_letter_queue)?.is_none() {
            store::save(
                c,
                &Queue {
                    queue_id: ids::hex32(),
                    queue_name: dead_letter_queue.clone(),
                    created_on: now.to_owned(),
                    modified_on: now.to_owned(),
                    settings: QueueSettings::default(),
                    consumers: Vec::new(),
                    purged_at: None,
                },
            )?;
        }
    }
    let script = scripts::require(c, &Scope::Account, &script_name)?;
    let code = parts::all(c, &Scope::Account.id(&script.id))?;
    let mentions_queue = code
        .iter()
        .any(|p| p.content_type.contains("javascript") && contains(&p.data, b"queue"));
    if !mentions_queue {
        return Err(ApiError::bad_request(
            code::QUEUE_HANDLER_MISSING,
            format!(
                "queue handler is missing: Worker '{script_name}' exports no queue() handler; deploy one before adding it as a consumer"
            ),
        ));
    }
    Ok(Consumer {
        consumer_id: id,
        kind: "worker".to_owned(),
        script_name,
        dead_letter_queue,
        settings,
        created_on,
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn consumer_exists(q: &Queue, existing: &Consumer) -> ApiError {
    ApiError::bad_request(
        code::CONSUMER_EXISTS,
        format!(
            "workers.api.error.consumer_exists: queue '{}' already has a consumer (Worker '{}'); a queue has one Worker consumer",
            q.queue_name, existing.script_name
        ),
    )
}

/// `GET …/queues/{queue_id}/consumers`.
pub(crate) async fn list_consumers(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult {
    let q = state.store.tx(move |c| require(c, &id)).await?;
    ok(Value::Array(
        q.consumers.iter().map(|k| consumer_view(&q, k)).collect(),
    ))
}

/// `POST …/queues/{queue_id}/consumers` with `{type: "worker", script_name, settings?,
/// dead_letter_queue?}`.
pub(crate) async fn create_consumer(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult {
    let req: ConsumerBody = body(&bytes)?;
    let now = state.clock.rfc3339();
    let result = state
        .store
        .tx(move |c| {
            let mut q = require(c, &id)?;
            if let Some(existing) = q.worker_consumer() {
                return Err(consumer_exists(&q, existing));
            }
            let consumer = consumer_from(c, &q, req, ids::hex32(), now.clone(), &now)?;
            let out = consumer_view(&q, &consumer);
            q.consumers.push(consumer);
            store::save(c, &q)?;
            Ok(out)
        })
        .await?;
    state.queue_wake.notify_one();
    ok(result)
}

/// `GET …/queues/{queue_id}/consumers/{consumer_id}`.
pub(crate) async fn get_consumer(
    state: AppStateRef,
    Path((_, id, consumer_id)): Path<(String, String, String)>,
) -> ApiResult {
    let q = state.store.tx(move |c| require(c, &id)).await?;
    let consumer = q
        .consumers
        .iter()
        .find(|k| k.consumer_id == consumer_id)
        .ok_or_else(|| consumer_not_found(&consumer_id))?;
    ok(consumer_view(&q, consumer))
}

/// `PUT …/queues/{queue_id}/consumers/{consumer_id}`: replaces the consumer (its settings take
/// their defaults where not given), or creates it under that id when there is none.
pub(crate) async fn update_consumer(
    state: AppStateRef,
    Path((_, id, consumer_id)): Path<(String, String, String)>,
    bytes: Bytes,
) -> ApiResult {
    let req: ConsumerBody = body(&bytes)?;
    let now = state.clock.rfc3339();
    let result = state
        .store
        .tx(move |c| {
            let mut q = require(c, &id)?;
            let position = q
                .consumers
                .iter()
                .position(|k| k.consumer_id == consumer_id);
            let created_on = match position {
                Some(i) => q.consumers[i].created_on.clone(),
                None => {
                    if let Some(existing) = q.worker_consumer() {
                        return Err(consumer_exists(&q, existing));
                    }
                    now.clone()
                }
            };
            let consumer = consumer_from(c, &q, req, consumer_id, created_on, &now)?;
            let out = consumer_view(&q, &consumer);
            match position {
                Some(i) => q.consumers[i] = consumer,
                None => q.consumers.push(consumer),
            }
            store::save(c, &q)?;
            Ok(out)
        })
        .await?;
    state.queue_wake.notify_one();
    ok(result)
}

/// `DELETE …/queues/{queue_id}/consumers/{consumer_id}`: messages stay in the queue.
pub(crate) async fn delete_consumer(
    state: AppStateRef,
    Path((_, id, consumer_id)): Path<(String, String, String)>,
) -> ApiResult {
    state
        .store
        .tx(move |c| {
            let mut q = require(c, &id)?;
            let before = q.consumers.len();
            q.consumers.retain(|k| k.consumer_id != consumer_id);
            if q.consumers.len() == before {
                return Err(consumer_not_found(&consumer_id));
            }
            store::save(c, &q)
        })
        .await?;
    ok(Value::Null)
}

/// `GET …/workers/scripts/{script_name}/queue-consumers`: the consumers whose Worker is this
/// script, across the account's queues.
pub(crate) async fn script_consumers(
    state: AppStateRef,
    Path((_, script)): Path<(String, String)>,
) -> ApiResult {
    let out = state
        .store
        .tx(move |c| {
            scripts::require(c, &Scope::Account, &script)?;
            let mut out = Vec::new();
            for q in store::list(c)? {
                for k in q.consumers.iter().filter(|k| k.script_name == script) {
                    out.push(consumer_view(&q, k));
                }
            }
            Ok(out)
        })
        .await?;
    ok(Value::Array(out))
}

/// One message of a push: `{body, content_type?: "text" | "json", delay_seconds?}`.
#[derive(Deserialize)]
struct PushedMessage {
    body: Option<Value>,
    content_type: Option<String>,
    delay_seconds: Option<Value>,
}

#[derive(Deserialize)]
struct PushedBatch {
    messages: Option<Vec<PushedMessage>>,
    delay_seconds: Option<Value>,
}

/// A message body's JSON for the message endpoints: 10208 when it is not JSON, 10207 when it is
/// not the schema.
fn message_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            code::JSON_BODY_MALFORMED,
            format!("Request body is not valid JSON: {e}"),
        )
    })?;
    serde_json::from_value(value).map_err(|e| {
        ApiError::bad_request(
            code::JSON_BODY_INVALID,
            format!("Request JSON body does not match the expected schema: {e}"),
        )
    })
}

fn delay_of(v: Option<&Value>) -> Result<Option<i64>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) => queue_rules::check_delay(n).map(Some),
            None => Err(ApiError::bad_request(
                code::MESSAGE_METADATA_INVALID,
                format!("delay_seconds must be a whole number of seconds, got {v}"),
            )),
        },
    }
}

/// A pushed message's content type and bytes (`json` by default; `text` needs a string body).
fn encode(m: &PushedMessage) -> Result<(ContentType, Vec<u8>, Option<i64>), ApiError> {
    let ct = match m.content_type.as_deref() {
        None | Some("json") => ContentType::Json,
        Some("text") => ContentType::Text,
        Some(other) => {
            return Err(ApiError::bad_request(
                code::MESSAGE_METADATA_INVALID,
                format!("content_type {other:?} is invalid over HTTP: use text or json"),
            ));
        }
    };
    let body = m.body.clone().unwrap_or(Value::Null);
    let bytes = match (ct, &body) {
        (ContentType::Text, Value::String(s)) => s.clone().into_bytes(),
        (ContentType::Text, _) => {
            return Err(ApiError::bad_request(
                code::JSON_BODY_INVALID,
                "a message with content_type text needs a string body",
            ));
        }
        _ => body.to_string().into_bytes(),
    };
    queue_rules::check_message_size(bytes.len())?;
    Ok((ct, bytes, delay_of(m.delay_seconds.as_ref())?))
}

/// Stores pushed messages on queue `id`; the metrics answer.
async fn push(
    state: &AppState,
    id: String,
    messages: Vec<(ContentType, Vec<u8>, Option<i64>)>,
    batch_delay: Option<i64>,
) -> ApiResult {
    let now = state.clock.now_millis();
    let backlog = state
        .store
        .tx(move |c| {
            let q = match require(c, &id) {
                Ok(q) => q,
                Err(e) if e.status == StatusCode::NOT_FOUND => {
                    return Err(ApiError::not_found(
                        code::MESSAGE_QUEUE_NOT_FOUND,
                        format!("Queue {id} does not exist"),
                    ));
                }
                Err(e) => return Err(e),
            };
            let stored: Vec<NewMessage> = messages
                .into_iter()
                .map(|(ct, body, delay)| {
                    let delay = delay.or(batch_delay).unwrap_or(q.settings.delivery_delay);
                    NewMessage::sent(ct, body, now, delay)
                })
                .collect();
            store::enqueue(c, &q.queue_id, &stored)?;
            store::backlog(c, &q.queue_id)
        })
        .await?;
    state.queue_wake.notify_one();
    ok(json!({"metadata": {"metrics": metrics_view(&backlog)}}))
}

/// `POST …/queues/{queue_id}/messages` with `{body, content_type?, delay_seconds?}`.
pub(crate) async fn push_message(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult {
    let m: PushedMessage = message_body(&bytes)?;
    let encoded = encode(&m)?;
    push(&state, id, vec![encoded], None).await
}

/// `POST …/queues/{queue_id}/messages/batch` with `{messages: [...], delay_seconds?}`.
pub(crate) async fn push_batch(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult {
    let batch: PushedBatch = message_body(&bytes)?;
    let batch_delay = delay_of(batch.delay_seconds.as_ref())?;
    let messages = batch.messages.unwrap_or_default();
    let encoded = messages.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
    queue_rules::check_batch(encoded.len(), encoded.iter().map(|(_, b, _)| b.len()).sum())?;
    push(&state, id, encoded, batch_delay).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_queries_keep_every_name() {
        let (names, page, per_page) = list_query(Some("page=2&name=a&name=b%2Dc&per_page=5"));
        assert_eq!(names, ["a", "b-c"]);
        assert_eq!(page.as_deref(), Some("2"));
        assert_eq!(per_page.as_deref(), Some("5"));
        assert!(list_query(None).0.is_empty());
    }
}
