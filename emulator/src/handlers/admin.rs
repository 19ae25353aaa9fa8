//! The emulator's own controls, outside `/client/v4`: request counters and faults, for tests that
//! drive a separate emulator process. They need the API token too.
//!
//! No public source: these routes are the emulator's, not Cloudflare's. Their refusals reuse the
//! v4 codes nearest in meaning: 10000 for a missing or wrong token (Cloudflare's authentication
//! error, reference/cloudflare-api.md §1.5) and 10001 for a faults body that cannot be read (KV's
//! and miniflare's bad-body code, §1.5).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppStateRef;
use crate::auth::{Credentials, credentials};
use crate::envelope::{ApiError, ApiResult, json_response, parse_json};
use crate::faults::FaultsBody;
use crate::state::AppState;

/// Middleware: the same token as the API, 401 otherwise.
pub(crate) async fn require_token(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    if credentials(req.headers(), &state.token) == Credentials::Valid {
        next.run(req).await
    } else {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            10000,
            "the emulator controls need the emulator's API token as a Bearer token",
        )
        .into_response()
    }
}

/// `GET /__emulator/stats`: the counters as JSON [`crate::Stats`].
pub(crate) async fn get_stats(state: AppStateRef) -> Response {
    let stats = serde_json::to_value(state.stats.snapshot()).unwrap_or_default();
    json_response(StatusCode::OK, &stats)
}

/// `DELETE /__emulator/stats`: sets the counters to zero.
pub(crate) async fn reset_stats(state: AppStateRef) -> Response {
    state.stats.reset();
    json_response(StatusCode::OK, &json!({"reset": true}))
}

/// `PUT /__emulator/faults`: replaces the injected faults.
pub(crate) async fn put_faults(state: AppStateRef, body: Bytes) -> ApiResult {
    let body: FaultsBody = parse_json(&body, 10001, "faults")?;
    let faults = body
        .into_faults()
        .map_err(|m| ApiError::bad_request(10001, m))?;
    state.faults.set(faults);
    Ok(json_response(StatusCode::OK, &json!({"updated": true})))
}
