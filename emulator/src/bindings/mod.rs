//! The service that the bindings of Workers running on workerd call: KV, R2, D1 and Analytics
//! Engine in workerd's own binding protocols, Secrets Store reads, and the tail events that carry
//! `console.log` lines and uncaught exceptions. Every answer comes from the same SQLite store as
//! the v4 API, so what `deploy` seeded is what a Worker reads, and what a Worker writes the API
//! shows.
//!
//! It listens on a loopback port of its own. workerd adds two headers to every request (its
//! external services inject them): `x-athanor-token`, a random token per emulator run, so that
//! another local process cannot reach the data this way; and `x-athanor-binding`, which names the
//! resource (`kv/{namespace id}`, `r2/{bucket id}`, `d1/{database uuid}`,
//! `analytics-engine/{dataset, percent-encoded}`, `queue/{queue name}[/{delay}]`, `secrets-store`,
//! `tail`), since workerd sends KV, R2, D1, Analytics Engine and queue requests to a fixed host
//! with protocol paths.

mod analytics_engine;
mod d1;
mod kv;
mod queues;
mod r2;
mod secrets_store;
mod tail;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::broadcast;

use crate::Error;
use crate::server::{self, ServerHandle};
use crate::state::AppState;
use crate::workerd::WorkerEvent;

/// The header that carries the per-run token.
pub(crate) const TOKEN_HEADER: &str = "x-athanor-token";
/// The header that names the resource a request is for.
pub(crate) const BINDING_HEADER: &str = "x-athanor-binding";

/// What the binding handlers share.
struct Shared {
    app: Arc<AppState>,
    token: String,
    events: broadcast::Sender<WorkerEvent>,
}

/// The running binding service.
pub(crate) struct BindingService {
    addr: SocketAddr,
    token: String,
    server: ServerHandle,
}

impl BindingService {
    /// Starts listening on a free loopback port.
    pub async fn start(
        app: Arc<AppState>,
        events: broadcast::Sender<WorkerEvent>,
    ) -> Result<BindingService, Error> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| Error::Bind { port: 0, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| Error::Bind { port: 0, source })?;
        let token = crate::ids::hex32();
        let shared = Arc::new(Shared {
            app,
            token: token.clone(),
            events,
        });
        let router = Router::new().fallback(dispatch).with_state(shared);
        Ok(BindingService {
            addr,
            token,
            server: server::spawn(listener, router),
        })
    }

    /// The address workerd's external services connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token workerd must send.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Stops serving.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

async fn dispatch(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (token, binding) = (header(&req, TOKEN_HEADER), header(&req, BINDING_HEADER));
    if !constant_time_eq(token.as_bytes(), shared.token.as_bytes()) {
        return (
            StatusCode::FORBIDDEN,
            "not a request from this emulator's workerd",
        )
            .into_response();
    }
    let (kind, id) = binding.split_once('/').unwrap_or((binding.as_str(), ""));
    match kind {
        "kv" => kv::handle(&shared.app, id, req).await,
        "r2" => r2::handle(&shared.app, id, req).await,
        "d1" => d1::handle(&shared.app, id, req).await,
        "analytics-engine" => analytics_engine::handle(&shared.app, id, req).await,
        "queue" => queues::handle(&shared.app, id, req).await,
        "secrets-store" => secrets_store::handle(&shared.app, req).await,
        "tail" => tail::handle(&shared.events, req).await,
        _ => (
            StatusCode::BAD_REQUEST,
            format!("unknown binding {binding:?}"),
        )
            .into_response(),
    }
}

/// A header's value as text (empty when absent or not text).
fn header(req: &Request, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Percent-decodes `s` (and `+` as a space when `plus_as_space`, as in a form-encoded query);
/// `None` when an escape is malformed or the result is not UTF-8.
pub(crate) fn percent_decode(s: &str, plus_as_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes every byte of `s` but ASCII letters, digits and `-._~`, so that any text can
/// travel in a header value or a path segment.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = std::fmt::Write::write_fmt(&mut out, format_args!("%{b:02X}"));
        }
    }
    out
}

/// The form-encoded query parameters of a request, decoded.
pub(crate) fn query_params(req: &Request) -> Vec<(String, String)> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((percent_decode(k, true)?, percent_decode(v, true)?))
        })
        .collect()
}

/// An answer whose HTTP reason phrase carries `message` (printable ASCII, at most 512 bytes, the
/// emulator's own bound): how workerd's KV binding reports a refusal to the Worker (it reads no
/// body).
pub(crate) fn with_reason(status: StatusCode, message: &str) -> Response {
    let reason: String = message
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(512)
        .collect();
    let mut response = Response::new(Body::from(message.to_owned()));
    *response.status_mut() = status;
    if let Ok(phrase) = hyper::ext::ReasonPhrase::try_from(reason.into_bytes()) {
        response.extensions_mut().insert(phrase);
    }
    response
}

/// A header value from raw bytes (JSON with non-ASCII text is allowed in a header).
pub(crate) fn header_bytes(bytes: &[u8]) -> Option<HeaderValue> {
    HeaderValue::from_bytes(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_of_paths_and_forms() {
        assert_eq!(
            percent_decode("a%2Fb%20c+d", false).as_deref(),
            Some("a/b c+d")
        );
        assert_eq!(
            percent_decode("a%2Bb+c%26d%3De", true).as_deref(),
            Some("a+b c&d=e")
        );
        assert_eq!(percent_decode("%C3%BC", false).as_deref(), Some("ü"));
        assert!(percent_decode("%zz", false).is_none());
        assert!(percent_decode("%C3", false).is_none());
        assert!(percent_decode("%", false).is_none());
    }

    #[test]
    fn percent_encoding_round_trips() {
        for s in ["app_events", "my dataset/ü:%", ""] {
            let encoded = percent_encode(s);
            assert!(encoded.bytes().all(|b| b.is_ascii_graphic()), "{encoded}");
            assert_eq!(percent_decode(&encoded, false).as_deref(), Some(s));
        }
        assert_eq!(percent_encode("a b"), "a%20b");
    }

    #[test]
    fn the_token_comparison_needs_equal_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
