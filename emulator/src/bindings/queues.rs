//! The queue producer binding: `env.JOBS.send(…)`, `sendBatch(…)` and `metrics()` enqueue into,
//! and read, the queues of the v4 API (`store::queues`).
//!
//! workerd's `queue` binding is an HTTP client of the service it names (`src/workerd/api/
//! queue.c++`). What it sends, as verified against the pinned workerd (2026-11-17) with a logging
//! service, to host `fake-host`:
//! - `send(body, {contentType?, delaySeconds?})`: `POST /message`, the serialized body as the
//!   request body (`content-type: application/octet-stream`), header `X-Msg-Fmt: text | json |
//!   bytes | v8` (absent when the Worker gives no content type and its compatibility date is before
//!   `queues_json_messages`, 2024-03-18: the body is then V8-serialized), and `X-Msg-Delay-Secs`
//!   when a delay is given;
//! - `sendBatch([{body, contentType?, delaySeconds?}], {delaySeconds?})`: `POST /batch` with
//!   `{"messages":[{"body":"<base64>","contentType":"json","delaySecs": 3}]}` (`contentType` and
//!   `delaySecs` only when known), headers `CF-Queue-Batch-Count`, `CF-Queue-Batch-Bytes`,
//!   `CF-Queue-Largest-Msg` and `X-Msg-Delay-Secs` for the batch's delay;
//! - `metrics()`: `GET /metrics`.
//!
//! What it expects back (verified, as the Worker sees the answers): 200 with
//! `{"metadata":{"metrics":{"backlogCount","backlogBytes","oldestMessageTimestamp"}}}` for a send,
//! `{"backlogCount","backlogBytes","oldestMessageTimestamp"}` for metrics, the timestamp in
//! milliseconds (0 means none; the Worker gets a `Date`). Any other status fails the call with
//! `Queue send failed: <reason phrase>`, or, from compatibility date 2026-03-12
//! (`queue_expose_error_codes`), with `<CF-Queues-Error-Cause> (<CF-Queues-Error-Code>)` from the
//! answer's headers; both are set here.
//!
//! The binding header is `queue/{queue name}`, or `queue/{queue name}/{delay}` when the binding has
//! a `delivery_delay`: a message's own delay wins, then the batch's, then the binding's, then the
//! queue's `delivery_delay`. The queue is found by name when a message arrives, so a binding to a
//! queue deleted after the deploy fails the send (10104), as on Cloudflare.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::with_reason;
use crate::envelope::ApiError;
use crate::queue_rules::{self, ContentType, code};
use crate::state::AppState;
use crate::store::queues::{self as store, Backlog, NewMessage};

/// The largest request body: a batch of base64 messages (the emulator's own bound, no public
/// source; past it the answer is 10205, BatchSizeOutOfBounds, see `queue_rules::code`).
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Answers one producer binding request; `target` is `{queue name}` or `{queue name}/{delay}`.
pub(super) async fn handle(state: &AppState, target: &str, req: Request) -> Response {
    match serve(state, target, req).await {
        Ok(response) => response,
        Err(e) => refusal(&e),
    }
}

async fn serve(state: &AppState, target: &str, req: Request) -> Result<Response, ApiError> {
    let (queue_name, binding_delay) = match target.split_once('/') {
        Some((name, delay)) => (name.to_owned(), delay.parse::<i64>().ok()),
        None => (target.to_owned(), None),
    };
    let (format, delay) = (header(&req, "x-msg-fmt"), header(&req, "x-msg-delay-secs"));
    let header_delay = delay
        .map(|d| {
            d.trim().parse::<i64>().map_err(|_| {
                ApiError::bad_request(
                    code::MESSAGE_METADATA_INVALID,
                    format!("message delay {d:?} is not a whole number of seconds"),
                )
            })
        })
        .transpose()?
        .map(queue_rules::check_delay)
        .transpose()?;
    let path = req.uri().path().to_owned();
    match (req.method().clone(), path.as_str()) {
        (Method::POST, "/message") => {
            let ct = queue_rules::content_type(format.as_deref(), ContentType::V8)?;
            let body = read_body(req).await?;
            queue_rules::check_message_size(body.len())?;
            let delay = header_delay.or(binding_delay);
            let backlog = enqueue(state, queue_name, vec![(ct, body, delay)]).await?;
            Ok(json_answer(
                &json!({"metadata": {"metrics": metrics_json(&backlog)}}),
            ))
        }
        (Method::POST, "/batch") => {
            let body = read_body(req).await?;
            let batch: Batch = serde_json::from_slice(&body).map_err(|e| {
                ApiError::bad_request(
                    code::JSON_BODY_INVALID,
                    format!("the batch is not the JSON workerd sends: {e}"),
                )
            })?;
            let mut messages = Vec::with_capacity(batch.messages.len());
            for m in batch.messages {
                let ct = queue_rules::content_type(m.content_type.as_deref(), ContentType::V8)?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(m.body.as_bytes())
                    .map_err(|e| {
                        ApiError::bad_request(
                            code::JSON_BODY_INVALID,
                            format!("a message body is not base64: {e}"),
                        )
                    })?;
                queue_rules::check_message_size(bytes.len())?;
                let delay = m.delay_secs.map(queue_rules::check_delay).transpose()?;
                messages.push((ct, bytes, delay.or(header_delay).or(binding_delay)));
            }
            queue_rules::check_batch(
                messages.len(),
                messages.iter().map(|(_, b, _)| b.len()).sum(),
            )?;
            let backlog = enqueue(state, queue_name, messages).await?;
            Ok(json_answer(
                &json!({"metadata": {"metrics": metrics_json(&backlog)}}),
            ))
        }
        (Method::GET, "/metrics") => {
            let backlog = state
                .store
                .tx(move |c| {
                    let q = store::by_name(c, &queue_name)?.ok_or_else(|| missing(&queue_name))?;
                    store::backlog(c, &q.queue_id)
                })
                .await?;
            Ok(json_answer(&metrics_json(&backlog)))
        }
        (method, path) => Err(ApiError::not_found(
            code::JSON_BODY_INVALID,
            format!("no queue binding operation is {method} {path}"),
        )),
    }
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A batch as workerd sends it.
#[derive(Deserialize)]
struct Batch {
    messages: Vec<BatchMessage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchMessage {
    body: String,
    content_type: Option<String>,
    delay_secs: Option<i64>,
}

async fn read_body(req: Request) -> Result<Vec<u8>, ApiError> {
    axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                code::BATCH_SIZE_OUT_OF_BOUNDS,
                format!("the request is larger than {MAX_BODY_BYTES} bytes"),
            )
        })
}

fn missing(name: &str) -> ApiError {
    ApiError::not_found(
        code::MESSAGE_QUEUE_NOT_FOUND,
        format!("Queue \"{name}\" does not exist"),
    )
}

/// Stores messages (content type, bytes, delay if any) on queue `name`, sent now; the backlog
/// after, for the answer. Wakes the delivery.
async fn enqueue(
    state: &AppState,
    name: String,
    messages: Vec<(ContentType, Vec<u8>, Option<i64>)>,
) -> Result<Backlog, ApiError> {
    let now = state.clock.now_millis();
    let backlog = state
        .store
        .tx(move |c| {
            let q = store::by_name(c, &name)?.ok_or_else(|| missing(&name))?;
            let stored: Vec<NewMessage> = messages
                .into_iter()
                .map(|(content_type, body, delay)| {
                    let delay = delay.unwrap_or(q.settings.delivery_delay);
                    NewMessage::sent(content_type, body, now, delay)
                })
                .collect();
            store::enqueue(c, &q.queue_id, &stored)?;
            store::backlog(c, &q.queue_id)
        })
        .await?;
    state.queue_wake.notify_one();
    Ok(backlog)
}

/// Metrics as workerd reads them: `oldestMessageTimestamp` in milliseconds, 0 for none.
fn metrics_json(b: &Backlog) -> Value {
    json!({
        "backlogCount": b.count,
        "backlogBytes": b.bytes,
        "oldestMessageTimestamp": b.oldest_ms.unwrap_or(0),
    })
}

fn json_answer(body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A refusal as workerd reports it to the Worker: the reason phrase, and the code and cause in
/// `CF-Queues-Error-Code` / `CF-Queues-Error-Cause`.
fn refusal(e: &ApiError) -> Response {
    let mut response = with_reason(e.status, &e.message);
    let headers = response.headers_mut();
    headers.insert("cf-queues-error-code", HeaderValue::from(e.code));
    let cause: String = e
        .message
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&cause) {
        headers.insert("cf-queues-error-cause", v);
    }
    response
}
