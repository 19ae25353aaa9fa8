//! Per-route request counters, read by tests and benchmarks to count what a client sent.

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
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
    /// The longest chain of requests each of which arrived after the one before it was
    /// answered: the round trips a client waited for one after the other. With a latency `L`
    /// injected per request, a client's wall time is at least `round_trips × L`.
    #[serde(default)]
    pub round_trips: u64,
    /// Requests answered 429 Too Many Requests, by the rate limit or a fault injected as one.
    #[serde(default)]
    pub too_many_requests: u64,
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    inner: Mutex<Stats>,
}

impl Counters {
    /// Counts one request to `route` (a template, or the raw path when no route matched) as it
    /// arrives, and returns the length of the longest chain it ends: one more than the longest
    /// chain of the requests answered before it arrived, each of which it may have waited for.
    pub fn record(&self, method: &Method, route: &str) -> u64 {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.total += 1;
        if method != Method::GET && method != Method::HEAD {
            s.mutating += 1;
        }
        *s.by_route.entry(format!("{method} {route}")).or_default() += 1;
        s.round_trips + 1
    }

    /// A request whose chain (what [`Counters::record`] returned) is `chain` was answered
    /// `status`.
    pub fn answered(&self, chain: u64, status: StatusCode) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.round_trips = s.round_trips.max(chain);
        if status == StatusCode::TOO_MANY_REQUESTS {
            s.too_many_requests += 1;
        }
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

/// Middleware: counts every `/client/v4` request, whatever it is answered, and the chains of
/// requests sent one after the other. It is the outermost layer, so the injected latency is
/// inside each request's span.
pub(crate) async fn count(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let chain = state.stats.record(req.method(), &route_template(&req));
    let response = next.run(req).await;
    state.stats.answered(chain, response.status());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_count_the_requests_sent_one_after_the_other() {
        let c = Counters::default();
        // Two at once, then one after both, then one overlapping it.
        let a = c.record(&Method::POST, "/a");
        let b = c.record(&Method::POST, "/b");
        c.answered(a, StatusCode::OK);
        c.answered(b, StatusCode::TOO_MANY_REQUESTS);
        let after = c.record(&Method::PUT, "/c");
        let beside = c.record(&Method::GET, "/d");
        c.answered(after, StatusCode::OK);
        c.answered(beside, StatusCode::OK);
        let stats = c.snapshot();
        assert_eq!((a, b, after, beside), (1, 1, 2, 2));
        assert_eq!(stats.round_trips, 2);
        assert_eq!(stats.too_many_requests, 1);
        assert_eq!((stats.total, stats.mutating), (4, 3));
        c.reset();
        assert_eq!(c.snapshot().round_trips, 0);
    }
}
