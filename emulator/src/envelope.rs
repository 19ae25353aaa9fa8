//! The v4 response envelope: `{success, errors, messages, result, result_info?}`.
//!
//! Every answer goes through here, so that successes and failures have exactly Cloudflare's
//! shape; failures always carry `result: null`. Raw downloads (KV values, R2 objects, script
//! content) are the one exception, built by [`raw`] outside the envelope.
//!
//! Sources for the codes answered here (reference/cloudflare-api.md §1.5 lists them with theirs):
//! - 10002, a storage failure inside the emulator ([`ApiError::internal`]): "Unexpected internal
//!   server error" in the spec's `x-cfLinkErrors` of `workers_script-response-single`
//!   (reference/cloudflare-openapi-subset.json). Cloudflare documents no internal-error code for
//!   the other products; the emulator uses this one for all.
//! - 10003, a `page` or `per_page` that is not a positive integer: no public source. The same spec
//!   list has 10003 "Missing required URL parameter" and 10004 "Malformed URL parameter"; the
//!   emulator answers 10003.
//! - 7003, 10024 and 10001 for the failures axum answers itself: see [`code_for_bare`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A raw download (KV value, R2 object, script code): 200 with `data` as the body, outside the
/// envelope; `content_type` is set when it is a valid header value.
pub(crate) fn raw(content_type: &str, data: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, data).into_response();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

/// An API failure: the HTTP status, Cloudflare's numeric code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
}

impl ApiError {
    /// A failure with the given status, code and message.
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with `code`.
    pub fn bad_request(code: u32, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 with `code`.
    pub fn not_found(code: u32, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 409 with `code`.
    pub fn conflict(code: u32, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// 500, for a storage failure inside the emulator.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 10002, message)
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> ApiError {
        tracing::error!(error = %e, "emulator storage failure");
        ApiError::internal(format!("internal storage error: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "success": false,
            "errors": [{"code": self.code, "message": self.message}],
            "messages": [],
            "result": null,
        });
        json_response(self.status, &body)
    }
}

/// What every handler returns.
pub(crate) type ApiResult = Result<Response, ApiError>;

/// A 200 success envelope around `result`.
pub(crate) fn ok(result: Value) -> ApiResult {
    Ok(json_response(
        StatusCode::OK,
        &json!({"success": true, "errors": [], "messages": [], "result": result}),
    ))
}

/// A 200 success envelope with `result_info`.
pub(crate) fn ok_with_info(result: Value, info: Value) -> ApiResult {
    Ok(json_response(
        StatusCode::OK,
        &json!({"success": true, "errors": [], "messages": [], "result": result, "result_info": info}),
    ))
}

/// A 200 success envelope with messages (token verify says "This API Token is valid and active").
pub(crate) fn ok_with_messages(result: Value, messages: Value) -> ApiResult {
    Ok(json_response(
        StatusCode::OK,
        &json!({"success": true, "errors": [], "messages": messages, "result": result}),
    ))
}

/// Serializes `body` with `content-type: application/json`.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Page-style pagination (`?page=&per_page=`): the slice of `items` and its `result_info`.
///
/// A page past the end is an empty array (the TypeScript SDK pages until one comes back empty).
/// A `per_page` over `max_per_page` is lowered to it, not refused; each caller names the source
/// of its default and maximum.
pub(crate) fn paginate<T: Clone>(
    items: &[T],
    page: Option<&str>,
    per_page: Option<&str>,
    default_per_page: usize,
    max_per_page: usize,
) -> Result<(Vec<T>, Value), ApiError> {
    let page = parse_positive(page, "page")?.unwrap_or(1);
    let per_page = parse_positive(per_page, "per_page")?
        .unwrap_or(default_per_page)
        .min(max_per_page);
    let start = (page - 1).saturating_mul(per_page);
    let slice: Vec<T> = items.iter().skip(start).take(per_page).cloned().collect();
    let total = items.len();
    let info = json!({
        "page": page,
        "per_page": per_page,
        "count": slice.len(),
        "total_count": total,
        "total_pages": total.div_ceil(per_page),
    });
    Ok((slice, info))
}

/// Parses an optional positive integer query parameter.
pub(crate) fn parse_positive(value: Option<&str>, name: &str) -> Result<Option<usize>, ApiError> {
    match value {
        None | Some("") => Ok(None),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Some(n)),
            _ => Err(ApiError::bad_request(
                10003,
                format!("invalid query parameter {name}={v:?}: expected a positive integer"),
            )),
        },
    }
}

/// Parses a JSON body whatever its content type says (wrangler sends JSON as `text/plain`).
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    code: u32,
    what: &str,
) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            code,
            format!("could not parse the {what} request body as JSON: {e}"),
        )
    })
}

/// A method the route does not have: 7003 "No route for the URI", the spec's failure example
/// (reference/cloudflare-api.md §1.5). No public source gives the code for a 405.
const BARE_NO_ROUTE: u32 = 7003;
/// A body over the size limit: KV's 10024 "payload too large" (§1.5, a third-party list of KV
/// codes). No public source gives the code for a 413 outside KV.
const BARE_TOO_LARGE: u32 = 10024;
/// Anything else axum refuses (a path or body its extractors cannot read): 10001, KV's and
/// miniflare's code for a bad request body (§1.5; miniflare `local-explorer/common.ts`). No public
/// source gives a code for these.
const BARE_REFUSED: u32 = 10001;

/// The codes of failures that axum answers itself, before any handler: a method the route does
/// not have, a body over the size limit, a path or body its extractors refuse. Cloudflare answers
/// these in its envelope too; no public source gives their codes, so the documented ones nearest
/// in meaning are used (see the constants).
fn code_for_bare(status: StatusCode) -> u32 {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => BARE_NO_ROUTE,
        StatusCode::PAYLOAD_TOO_LARGE => BARE_TOO_LARGE,
        _ => BARE_REFUSED,
    }
}

/// Middleware for `/client/v4`: a failure that is not in the envelope (axum's own 405, 413 and
/// extractor rejections, plain text) is put in it, with its text as the message.
pub(crate) async fn wrap_bare_failures(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    // At most 64 KiB of axum's own text is read (the emulator's bound; no public source).
    let text = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_owned()
    } else {
        text
    };
    ApiError::new(status, code_for_bare(status), message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_to_the_end_and_past_it() {
        let items: Vec<u32> = (0..45).collect();
        let (p1, info) = paginate(&items, None, Some("20"), 20, 100).unwrap();
        assert_eq!(p1.len(), 20);
        assert_eq!(info["total_pages"], 3);
        let (p3, info) = paginate(&items, Some("3"), Some("20"), 20, 100).unwrap();
        assert_eq!(p3, (40..45).collect::<Vec<_>>());
        assert_eq!(info["count"], 5);
        let (p4, _) = paginate(&items, Some("4"), Some("20"), 20, 100).unwrap();
        assert!(p4.is_empty());
        assert!(paginate(&items, Some("0"), None, 20, 100).is_err());
        let (_, info) = paginate(&items, None, Some("1000"), 20, 100).unwrap();
        assert_eq!(info["per_page"], 100);
    }
}
