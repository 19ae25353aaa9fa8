//! HTTP handlers, one module per resource family; storage lives in `store`, shapes in `envelope`.

pub(crate) mod accounts;
pub(crate) mod admin;
pub(crate) mod analytics_engine;
pub(crate) mod d1;
pub(crate) mod dispatch;
pub(crate) mod kv;
pub(crate) mod queues;
pub(crate) mod r2;
pub(crate) mod script_address;
pub(crate) mod secrets_store;
pub(crate) mod versions;
pub(crate) mod workers;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};

use crate::state::AppState;

/// The shared state, as handlers extract it.
pub(crate) type AppStateRef = State<Arc<AppState>>;

/// Query parameters by name (the last value wins when one repeats).
pub(crate) type Params = Query<HashMap<String, String>>;

/// A query parameter as `&str`.
pub(crate) fn param<'a>(q: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    q.get(name).map(String::as_str)
}

/// Whether a boolean query parameter is set to true (`?force=true`, `?force=1`, `?force`).
pub(crate) fn flag(q: &HashMap<String, String>, name: &str) -> bool {
    matches!(param(q, name), Some("true" | "1" | ""))
}

/// Whether a request body is `multipart/form-data` (the endpoints that also take JSON or raw
/// bodies decide by this).
pub(crate) fn is_multipart(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// Sorts JSON objects by a string field, for `order=`/`direction=` query parameters.
pub(crate) fn sort_by_field(items: &mut [serde_json::Value], field: &str, descending: bool) {
    items.sort_by(|a, b| {
        let key = |v: &serde_json::Value| v.get(field).map(|f| f.to_string()).unwrap_or_default();
        key(a).cmp(&key(b))
    });
    if descending {
        items.reverse();
    }
}
