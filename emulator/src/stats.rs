//! Per-route request counters, read by tests and benchmarks to count what a client sent.

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

use crate::state::AppState;

/// A snapshot of the counters of `/client/v4` requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    /// Every `/client/v4` request.
    pub total: u64,
    /// Every `/client/v4` request that is not GET or HEAD.
    pub mutating: u64,
    /// Requests per route, keyed `"METHOD /route/template"` with the OpenAPI path templates,
    /// e.g. `"PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk"`.
    pub by_route: BTreeMap<String, u64>,
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    inner: Mutex<Stats>,
}

impl Counters {
    /// Counts one request to `route` (a template, or the raw path when no route matched).
    pub fn record(&self, method: &Method, route: &str) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.total += 1;
        if method != Method::GET && method != Method::HEAD {
            s.mutating += 1;
        }
        *s.by_route.entry(format!("{method} {route}")).or_default() += 1;
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> Stats {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sets every counter back to zero.
    pub fn reset(&self) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = Stats::default();
    }
}

/// The route template of a request as the OpenAPI paths spell it (no `/client/v4`, no `*`).
pub(crate) fn route_template(req: &Request) -> String {
    match req.extensions().get::<MatchedPath>() {
        Some(m) => m
            .as_str()
            .trim_start_matches(crate::routes::API_PREFIX)
            .replace("{*", "{"),
        None => "(no route)".to_owned(),
    }
}

/// Middleware: counts every `/client/v4` request, whatever it is answered.
pub(crate) async fn count(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    state.stats.record(req.method(), &route_template(&req));
    next.run(req).await
}
