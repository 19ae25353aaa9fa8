//! Workers Analytics Engine data points, as workerd's own `analyticsEngine` binding delivers them.
//!
//! The binding is workerd's native one (`workerd::config` binds it to an external service that
//! leads here), not a JavaScript stand-in, because workerd then runs Cloudflare's own
//! `writeDataPoint`: it returns `undefined` at once, throws a `TypeError` only when an argument
//! has the wrong shape (`blobs` not an array), and checks the limits (20 blobs, 20 doubles, one
//! index of at most 96 bytes, blobs of at most 16,000 bytes in all) while it builds the event in
//! the background, so a point over a limit is dropped without an exception, as Cloudflare
//! documents ("your data point will not be recorded"). What it sends, verified against the pinned
//! workerd (2026-11-17) with a logging service (it needs `--experimental`, which the local runtime
//! passes):
//! - one `POST https://fake-host/` per data point, after the Worker's response (a `waitUntil`
//!   task, after the output locks of a Durable Object), body the capnp `AnalyticsEngineEvent`
//!   (`src/workerd/api/analytics-engine.capnp`) in capnp's JSON encoding:
//!   `{"accountId":"1","dataset":[…bytes…],"schemaVersion":"0","index1":[…],"timestamp":"<ns>",
//!   "double1":25,…,"double20":0,"blob1":[…bytes…],…}`;
//! - `dataset` is the name of the service the binding names (so the emulator routes by the
//!   binding header instead); 64-bit integers are strings; every double is present (0 when not
//!   written; NaN, Infinity as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`); a blob is present
//!   only when written (a `null` blob leaves a gap), and bytes are arrays of numbers;
//! - any 2xx answer is a success; its body is read and dropped.
//!
//! The point is stamped with the emulator's clock when it arrives (the clock `now()` reads in the
//! SQL API, which tests may advance), in milliseconds. Cloudflare's limit of 250 data points per
//! invocation is not enforced: workerd's own limit enforcer does not count them, and nothing in
//! the request tells one invocation from another.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::{percent_decode, with_reason};
use crate::state::AppState;
use crate::store::analytics_engine::{self, DataPoint, MAX_FIELDS};

/// The largest event body: 16,000 blob bytes written as JSON numbers, and the rest (the
/// emulator's own bound, no public source).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Records one data point for dataset `dataset` (percent-encoded, as the binding header has it).
pub(super) async fn handle(state: &AppState, dataset: &str, req: Request) -> Response {
    let Some(dataset) = percent_decode(dataset, false).filter(|d| !d.is_empty()) else {
        return with_reason(
            StatusCode::BAD_REQUEST,
            "malformed dataset in the binding header",
        );
    };
    if req.method() != Method::POST {
        return with_reason(
            StatusCode::METHOD_NOT_ALLOWED,
            "Analytics Engine events are POSTed",
        );
    }
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return with_reason(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the Analytics Engine event is too large",
            );
        }
    };
    let point = match serde_json::from_slice::<Value>(&body)
        .map_err(|e| format!("the Analytics Engine event is not JSON: {e}"))
        .and_then(|event| data_point(&event))
    {
        Ok(point) => point,
        Err(message) => return with_reason(StatusCode::BAD_REQUEST, &message),
    };
    if let Some(problem) = point.problem() {
        return with_reason(
            StatusCode::BAD_REQUEST,
            &format!("writeDataPoint(): {problem}"),
        );
    }
    let (account, at) = (state.account_id.clone(), state.clock.now_millis());
    let written = state
        .store
        .tx(move |c| analytics_engine::insert(c, &account, &dataset, at, &point))
        .await;
    match written {
        Ok(()) => Response::new(Body::empty()),
        Err(e) => with_reason(e.status, &e.message),
    }
}

/// The data point an event carries.
fn data_point(event: &Value) -> Result<DataPoint, String> {
    let bytes = |field: &str| -> Result<Option<Vec<u8>>, String> {
        match event.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|b| {
                    b.as_u64()
                        .and_then(|b| u8::try_from(b).ok())
                        .ok_or_else(|| format!("{field} holds {b}, which is not a byte"))
                })
                .collect::<Result<Vec<u8>, String>>()
                .map(Some),
            Some(other) => Err(format!("{field} is {other}, not an array of bytes")),
        }
    };
    let index1 = bytes("index1")?.unwrap_or_default();
    let mut blobs = Vec::new();
    for i in 1..=MAX_FIELDS {
        blobs.push(bytes(&format!("blob{i}"))?.unwrap_or_default());
    }
    while blobs.last().is_some_and(Vec::is_empty) {
        blobs.pop();
    }
    let mut doubles = Vec::new();
    for i in 1..=MAX_FIELDS {
        let field = format!("double{i}");
        let value = match event.get(&field) {
            None | Some(Value::Null) => Some(0.0),
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => match s.as_str() {
                "NaN" => None,
                "Infinity" => Some(f64::INFINITY),
                "-Infinity" => Some(f64::NEG_INFINITY),
                other => Some(
                    other
                        .parse::<f64>()
                        .map_err(|_| format!("{field} is {other:?}, not a number"))?,
                ),
            },
            Some(other) => return Err(format!("{field} is {other}, not a number")),
        };
        doubles.push(value);
    }
    Ok(DataPoint {
        index1,
        blobs,
        doubles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_workerds_event_json() {
        // As the pinned workerd sent it for
        // writeDataPoint({blobs: ["Seattle", null, "hi"], doubles: [25, NaN], indexes: ["i"]}).
        let event = json!({
            "accountId": "1", "dataset": [97, 101], "schemaVersion": "0", "index1": [105],
            "timestamp": "1796045841782000128", "double1": 25, "double2": "NaN", "double3": 0,
            "double20": 0, "blob1": [83, 101, 97, 116, 116, 108, 101], "blob3": [104, 105],
        });
        let point = data_point(&event).unwrap();
        assert_eq!(point.index1, b"i");
        assert_eq!(point.blobs, [b"Seattle".to_vec(), vec![], b"hi".to_vec()]);
        assert_eq!(point.doubles.len(), MAX_FIELDS);
        assert_eq!(&point.doubles[..3], [Some(25.0), None, Some(0.0)]);
        assert!(point.problem().is_none());
    }

    #[test]
    fn refuses_what_is_not_an_event() {
        assert!(data_point(&json!({"blob1": "text"})).is_err());
        assert!(data_point(&json!({"blob1": [256]})).is_err());
        assert!(data_point(&json!({"double1": true})).is_err());
        let too_long = json!({"index1": vec![120; 97]});
        assert!(data_point(&too_long).unwrap().problem().is_some());
    }
}
