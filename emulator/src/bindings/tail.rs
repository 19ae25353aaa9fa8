//! Tail events: each served Worker has a tail entrypoint of its own (workerd does not name the
//! Worker in the events) that posts its events to `POST /{worker}`; their `console` lines and
//! uncaught exceptions become [`WorkerEvent`]s for `dev` and the standalone emulator to print.

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;
use tokio::sync::broadcast;

use super::{percent_decode, with_reason};
use crate::workerd::WorkerEvent;

/// The largest batch of tail events read (the emulator's own bound, no public source).
const MAX_EVENTS_BYTES: usize = 16 * 1024 * 1024;

/// Publishes one batch of tail events of the Worker named by the path.
pub(super) async fn handle(events: &broadcast::Sender<WorkerEvent>, req: Request) -> Response {
    let worker =
        percent_decode(req.uri().path().trim_start_matches('/'), false).unwrap_or_default();
    let Ok(body) = axum::body::to_bytes(req.into_body(), MAX_EVENTS_BYTES).await else {
        return with_reason(StatusCode::PAYLOAD_TOO_LARGE, "tail events too large");
    };
    let Ok(Value::Array(batch)) = serde_json::from_slice::<Value>(&body) else {
        return with_reason(StatusCode::BAD_REQUEST, "tail events must be a JSON array");
    };
    for event in worker_events(&worker, &batch) {
        // Nobody listening is fine: the events are for whoever prints them.
        let _ = events.send(event);
    }
    Response::new(Body::empty())
}

/// The log lines and exceptions of a batch of tail events, in order.
fn worker_events(worker: &str, batch: &[Value]) -> Vec<WorkerEvent> {
    let mut out = Vec::new();
    for event in batch {
        for log in event["logs"].as_array().into_iter().flatten() {
            let message = log["message"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|part| match part {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" ");
            out.push(WorkerEvent::Log {
                worker: worker.to_owned(),
                level: log["level"].as_str().unwrap_or("log").to_owned(),
                message,
            });
        }
        for e in event["exceptions"].as_array().into_iter().flatten() {
            let text = |k: &str| e[k].as_str().unwrap_or("").to_owned();
            out.push(WorkerEvent::Exception {
                worker: worker.to_owned(),
                name: text("name"),
                message: text("message"),
                stack: text("stack"),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn logs_and_exceptions_become_worker_events() {
        let batch = json!([{
            "logs": [{"message": ["hello", 42, {"a": 1}], "level": "log"}],
            "exceptions": [{"name": "Error", "message": "boom", "stack": "at fetch (w.js:1:1)"}],
        }]);
        let events = worker_events("my-worker", batch.as_array().unwrap());
        assert_eq!(
            events,
            vec![
                WorkerEvent::Log {
                    worker: "my-worker".into(),
                    level: "log".into(),
                    message: "hello 42 {\"a\":1}".into(),
                },
                WorkerEvent::Exception {
                    worker: "my-worker".into(),
                    name: "Error".into(),
                    message: "boom".into(),
                    stack: "at fetch (w.js:1:1)".into(),
                },
            ]
        );
    }
}
