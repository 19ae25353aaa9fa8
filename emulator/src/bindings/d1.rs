//! The D1 binding protocol, served from the database files of the v4 API (`store::d1`).
//!
//! workerd's D1 binding is the JavaScript module `cloudflare-internal:d1-api` wrapped around a
//! `fetcher`, the service this is. What it sends, as verified against the pinned workerd
//! (2026-11-17) with a logging service:
//! - `prepare(sql).bind(…).all()`, `.first()`, `.raw()`: `POST /query?resultsFormat=ROWS_AND_COLUMNS`
//!   with `{"sql", "params"}` (`bind` sends booleans as 1/0, an ArrayBuffer or typed array as an
//!   array of bytes);
//! - `.run()`: `POST /execute?resultsFormat=NONE` with `{"sql", "params"}`;
//! - `batch([…])`: `POST /query?resultsFormat=ROWS_AND_COLUMNS` with an array of `{"sql",
//!   "params"}`;
//! - `exec(text)`: `POST /execute?resultsFormat=NONE` with an array of `{"sql"}`, one per line of
//!   the text;
//! - `withSession(c).…`: the same, with header `x-cf-d1-session-commit-token: <constraint or
//!   bookmark>`;
//! - all to host `d1`, `content-type: application/json`.
//!
//! What it expects back (read as JSON whatever the status): for a success, per query
//! `{"success": true, "meta": {…}, "results": …}` (an array for an array request) where `results`
//! is `{"columns", "rows"}` for `ROWS_AND_COLUMNS` and row objects otherwise (`NONE` too: `run()`
//! hands the rows on as they come); for a failure one `{"success": false, "error": "<message>"}`,
//! which the Worker sees as `D1_ERROR: <message>` (`exec`: `D1_EXEC_ERROR: Error in line 1: …`).
//! A `x-cf-d1-session-commit-token` answer header is the bookmark a session keeps.
//!
//! A query's text may hold several statements: all run, and the last one answers for the query
//! (only it may have parameters), as Cloudflare's SQLite runs a text. A request is one transaction.
//! With the experimental `d1_binding_jsrpc` flag workerd calls the fetcher over JS RPC instead;
//! the local runtime does not run such a Worker (see `workerd::config`).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::query_params;
use crate::state::AppState;
use crate::store::d1::{D1Error, Outcome, Query, Split};

/// The answer header carrying a session's bookmark.
const BOOKMARK_HEADER: &str = "x-cf-d1-session-commit-token";
/// The largest request body: D1's 100 KB statements (`d1/platform/limits`), many of them in a
/// batch; the 64 MiB is the emulator's own bound, no public source.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// How rows are answered, by the `resultsFormat` query parameter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    ArrayOfObjects,
    RowsAndColumns,
    None,
}

/// Answers one D1 binding request for database `database`.
pub(super) async fn handle(state: &AppState, database: &str, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if req.method() != Method::POST || !matches!(path.as_str(), "/query" | "/execute") {
        let message = if path == "/dump" {
            "dump() is not supported: D1 databases are exported with `wrangler d1 export` or the export API".to_owned()
        } else {
            format!("no D1 binding operation is {} {path}", req.method())
        };
        return answer(StatusCode::NOT_FOUND, &json!({"error": message}), None);
    }
    let format = match query_params(&req)
        .iter()
        .find(|(k, _)| k == "resultsFormat")
        .map(|(_, v)| v.as_str())
    {
        Some("ROWS_AND_COLUMNS") => Format::RowsAndColumns,
        Some("NONE") => Format::None,
        _ => Format::ArrayOfObjects,
    };
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return failure(format!("the request is larger than {MAX_BODY_BYTES} bytes")),
    };
    let (queries, many) = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(items)) => match items
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<Vec<Query>, _>>()
        {
            Ok(queries) => (queries, true),
            Err(e) => return failure(format!("malformed D1 query: {e}")),
        },
        Ok(one) => match serde_json::from_value::<Query>(one) {
            Ok(query) => (vec![query], false),
            Err(e) => return failure(format!("malformed D1 query: {e}")),
        },
        Err(e) => return failure(format!("the request body is not JSON: {e}")),
    };
    let id = database.to_owned();
    let run = state
        .d1
        .blocking(move |f| f.execute(&id, &queries, Split::LastStatement))
        .await;
    match run {
        Ok(executed) => {
            let mut results: Vec<Value> = executed
                .outcomes
                .iter()
                .map(|o| result(o, format))
                .collect();
            let body = if many {
                Value::Array(results)
            } else {
                results.pop().unwrap_or(Value::Null)
            };
            answer(StatusCode::OK, &body, Some(&executed.bookmark))
        }
        Err(D1Error::Missing) => failure(format!(
            "D1 database {database} does not exist (it was deleted); create it and deploy again"
        )),
        Err(e) => failure(e.to_string()),
    }
}

/// One query's answer.
fn result(outcome: &Outcome, format: Format) -> Value {
    let results = match format {
        Format::RowsAndColumns => outcome.columns_and_rows(),
        Format::ArrayOfObjects | Format::None => outcome.objects(),
    };
    json!({"success": true, "meta": outcome.meta.to_json(), "results": results})
}

/// A failure as the binding reads it: `D1_ERROR: <message>` in the Worker.
fn failure(message: String) -> Response {
    answer(
        StatusCode::OK,
        &json!({"success": false, "error": message}),
        None,
    )
}

fn answer(status: StatusCode, body: &Value, bookmark: Option<&str>) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(b) = bookmark.and_then(|b| HeaderValue::from_str(b).ok()) {
        headers.insert(BOOKMARK_HEADER, b);
    }
    response
}
