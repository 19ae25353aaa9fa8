//! Injected faults: latency, 429 with `Retry-After`, 5xx answers, dropped connections and
//! Cloudflare's rate limit, so clients can be tested against a Cloudflare that misbehaves the ways
//! the real one does.
//!
//! The rate limit behaves as Cloudflare documents its global API limit: requests are counted over
//! a sliding window (1,200 per 5 minutes), and the request that exceeds it starts a block during
//! which every request is answered 429 (code 971, `Retry-After`, `x-ratelimit-reset`) for the next
//! window's length (5 minutes). Requests refused during the block do not count; when it ends, the
//! count starts from zero. Time is the emulator's [`Clock`](crate::Clock), so tests advance it
//! instead of sleeping.
//!
//! Sources (reference/cloudflare-api.md §1.4): the limit of 1,200 requests per 5 minutes, the
//! five-minute block, the `x-ratelimit-limit` / `x-ratelimit-remaining` headers and, on a 429,
//! `Retry-After` and `x-ratelimit-reset` are Cloudflare's documented API limits
//! (`developers.cloudflare.com/fundamentals/api/reference/limits`); the `Ratelimit` and
//! `Ratelimit-Policy` pair is from a 2025 changelog copy (third-party). Code 971 "Please wait and
//! consider throttling your request speed" is what 429 bodies carry in third-party reports;
//! Cloudflare documents no code. An injected 5xx carries 10002, the spec's "Unexpected internal
//! server error" for Workers (§1.5); no public source gives Cloudflare's code for these.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::clock::http_date;
use crate::envelope::ApiError;
use crate::server::ConnectionDrop;
use crate::state::{AppState, read};
use crate::{Faults, RateLimit};

/// The configured faults and the rate limit's recent requests and block.
pub(crate) struct FaultState {
    faults: RwLock<Faults>,
    limiter: Mutex<Limiter>,
    /// Requests since the faults were set, for [`Faults::hold_answer_of`].
    seen: std::sync::atomic::AtomicU64,
    /// Whether that request's answer is held.
    holding: std::sync::atomic::AtomicBool,
}

/// The rate limit's memory: arrival times (ms since the epoch) inside the window, and the end of
/// the current block, if any.
#[derive(Debug, Default)]
struct Limiter {
    window: VecDeque<i64>,
    blocked_until: Option<i64>,
}

/// What the rate limit decided about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    /// Admitted: `remaining` requests are left in the window, which frees its oldest slot in
    /// `reset_secs`.
    Allowed { remaining: u32, reset_secs: u64 },
    /// Refused: the block ends at `until_ms` (ms since the epoch), `retry_after` seconds from now
    /// (rounded up).
    Blocked { retry_after: u64, until_ms: i64 },
}

/// Whole seconds in `ms` milliseconds, rounded up.
fn ceil_secs(ms: i64) -> u64 {
    u64::try_from(ms.max(0)).unwrap_or(0).div_ceil(1000)
}

fn window_ms(limit: RateLimit) -> i64 {
    i64::try_from(limit.window.as_millis()).unwrap_or(i64::MAX)
}

impl FaultState {
    /// Starts with `faults`, an empty window and no block.
    pub fn new(faults: Faults) -> FaultState {
        FaultState {
            faults: RwLock::new(faults),
            limiter: Mutex::new(Limiter::default()),
            seen: Default::default(),
            holding: Default::default(),
        }
    }

    /// Replaces the faults (and forgets the window and any block).
    pub fn set(&self, faults: Faults) {
        *self.faults.write().unwrap_or_else(|p| p.into_inner()) = faults;
        *self.limiter.lock().unwrap_or_else(|p| p.into_inner()) = Limiter::default();
        self.seen.store(0, std::sync::atomic::Ordering::SeqCst);
        self.holding
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the answer [`Faults::hold_answer_of`] names is being held.
    pub fn held(&self) -> bool {
        self.holding.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The current faults.
    pub fn get(&self) -> Faults {
        read(&self.faults)
    }

    /// Whether this KV bulk write is to leave its last key unwritten (one of
    /// [`Faults::kv_bulk_unwritten`], counted down).
    pub fn take_kv_bulk_unwritten(&self) -> bool {
        let mut faults = self.faults.write().unwrap_or_else(|p| p.into_inner());
        let take = faults.kv_bulk_unwritten > 0;
        faults.kv_bulk_unwritten = faults.kv_bulk_unwritten.saturating_sub(1);
        take
    }

    /// Admits or refuses one request arriving at `now_ms` (ms since the epoch) under `limit`.
    fn admit(&self, limit: RateLimit, now_ms: i64) -> Admission {
        let mut l = self.limiter.lock().unwrap_or_else(|p| p.into_inner());
        let window = window_ms(limit);
        if let Some(until) = l.blocked_until {
            if now_ms < until {
                return Admission::Blocked {
                    retry_after: ceil_secs(until - now_ms).max(1),
                    until_ms: until,
                };
            }
            // The block is over: counting starts again from zero.
            *l = Limiter::default();
        }
        while l.window.front().is_some_and(|&t| now_ms - t >= window) {
            l.window.pop_front();
        }
        if l.window.len() as u64 >= u64::from(limit.requests) {
            let until = now_ms.saturating_add(window);
            l.window.clear();
            l.blocked_until = Some(until);
            return Admission::Blocked {
                retry_after: ceil_secs(window).max(1),
                until_ms: until,
            };
        }
        l.window.push_back(now_ms);
        let oldest = l.window.front().copied().unwrap_or(now_ms);
        Admission::Allowed {
            remaining: limit.requests - l.window.len() as u32,
            reset_secs: ceil_secs(oldest + window - now_ms),
        }
    }
}

/// A 429 answer as Cloudflare gives it: code 971 and `Retry-After` in seconds.
fn too_many(retry_after: u64) -> Response {
    let mut r = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        971,
        "Please wait and consider throttling your request speed",
    )
    .into_response();
    r.headers_mut()
        .insert("retry-after", HeaderValue::from(retry_after));
    r
}

/// Sets the rate-limit headers Cloudflare sends: `x-ratelimit-limit` and `x-ratelimit-remaining`,
/// and the `Ratelimit` / `Ratelimit-Policy` pair (remaining quota and seconds to reset; quota and
/// window).
fn limit_headers(h: &mut HeaderMap, limit: RateLimit, remaining: u32, reset_secs: u64) {
    h.insert("x-ratelimit-limit", HeaderValue::from(limit.requests));
    h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    if let Ok(v) = HeaderValue::from_str(&format!("\"default\";r={remaining};t={reset_secs}")) {
        h.insert("ratelimit", v);
    }
    let policy = format!(
        "\"default\";q={};w={}",
        limit.requests,
        limit.window.as_secs()
    );
    if let Ok(v) = HeaderValue::from_str(&policy) {
        h.insert("ratelimit-policy", v);
    }
}

/// Middleware for `/client/v4`: applies the current faults before the request reaches a handler.
pub(crate) async fn inject(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let faults = state.faults.get();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let mut admitted = None;
    if let Some(limit) = faults.rate_limit {
        match state.faults.admit(limit, state.clock.now_millis()) {
            Admission::Allowed {
                remaining,
                reset_secs,
            } => admitted = Some((limit, remaining, reset_secs)),
            Admission::Blocked {
                retry_after,
                until_ms,
            } => {
                let mut r = too_many(retry_after);
                limit_headers(r.headers_mut(), limit, 0, retry_after);
                if let Ok(v) = HeaderValue::from_str(&http_date(ceil_secs(until_ms) as i64)) {
                    r.headers_mut().insert("x-ratelimit-reset", v);
                }
                return r;
            }
        }
    }
    if chance(faults.share_dropped)
        && let Some(drop) = req.extensions().get::<ConnectionDrop>()
    {
        drop.drop_now();
        // The connection task stops polling this request; never answer it.
        std::future::pending::<()>().await;
    }
    if chance(faults.share_429) {
        let mut r = too_many(1);
        if let Some(wait) = faults.retry_after_429 {
            let value = match wait.subsec_nanos() {
                0 => wait.as_secs().to_string(),
                _ => format!("{:.3}", wait.as_secs_f64()),
            };
            if let Ok(v) = HeaderValue::from_str(&value) {
                r.headers_mut().insert("retry-after", v);
            }
        }
        return r;
    }
    if chance(faults.share_5xx) {
        let status = [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::BAD_GATEWAY,
            StatusCode::SERVICE_UNAVAILABLE,
        ][rand::random_range(0..3)];
        return ApiError::new(status, 10002, "injected server error (emulator fault)")
            .into_response();
    }
    let ordinal = state
        .faults
        .seen
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        + 1;
    let mut response = next.run(req).await;
    if faults.hold_answer_of == Some(ordinal) {
        state
            .faults
            .holding
            .store(true, std::sync::atomic::Ordering::SeqCst);
        // Carried out; the answer never goes.
        std::future::pending::<()>().await;
    }
    if let Some((limit, remaining, reset_secs)) = admitted {
        limit_headers(response.headers_mut(), limit, remaining, reset_secs);
    }
    response
}

/// True with probability `share` (clamped to 0..=1).
fn chance(share: f64) -> bool {
    share > 0.0 && rand::random::<f64>() < share.min(1.0)
}

/// The JSON form of faults used by `PUT /__emulator/faults`.
#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub(crate) struct FaultsBody {
    pub latency_ms: u64,
    pub share_429: f64,
    /// The `Retry-After` of the injected 429s, in milliseconds (none: 1 s).
    pub retry_after_429_ms: Option<u64>,
    pub share_5xx: f64,
    pub share_dropped: f64,
    pub rate_limit: Option<RateLimitBody>,
    pub kv_bulk_unwritten: u32,
    pub hold_answer_of: Option<u64>,
}

/// The JSON form of a rate limit.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
pub(crate) struct RateLimitBody {
    pub requests: u32,
    pub window_secs: u64,
}

impl FaultsBody {
    /// Converts to [`Faults`], refusing shares outside 0..=1.
    pub fn into_faults(self) -> Result<Faults, String> {
        for (name, v) in [
            ("share_429", self.share_429),
            ("share_5xx", self.share_5xx),
            ("share_dropped", self.share_dropped),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be between 0.0 and 1.0, got {v}"));
            }
        }
        Ok(Faults {
            latency: Duration::from_millis(self.latency_ms),
            share_429: self.share_429,
            retry_after_429: self.retry_after_429_ms.map(Duration::from_millis),
            share_5xx: self.share_5xx,
            share_dropped: self.share_dropped,
            rate_limit: self.rate_limit.map(|r| RateLimit {
                requests: r.requests,
                window: Duration::from_secs(r.window_secs),
            }),
            kv_bulk_unwritten: self.kv_bulk_unwritten,
            hold_answer_of: self.hold_answer_of,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;

    fn limit(requests: u32, window_secs: u64) -> RateLimit {
        RateLimit {
            requests,
            window: Duration::from_secs(window_secs),
        }
    }

    #[test]
    fn the_window_slides_while_under_the_limit() {
        let s = FaultState::new(Faults::default());
        let l = limit(2, 10);
        assert_eq!(
            s.admit(l, 0),
            Admission::Allowed {
                remaining: 1,
                reset_secs: 10
            }
        );
        assert_eq!(
            s.admit(l, 4 * S),
            Admission::Allowed {
                remaining: 0,
                reset_secs: 6
            }
        );
        // The first request has left the window: a slot is free again, no block.
        assert_eq!(
            s.admit(l, 10 * S),
            Admission::Allowed {
                remaining: 0,
                reset_secs: 4
            }
        );
    }

    #[test]
    fn exceeding_blocks_every_request_for_a_whole_window() {
        let s = FaultState::new(Faults::default());
        let l = limit(2, 300);
        assert!(matches!(s.admit(l, 0), Admission::Allowed { .. }));
        assert!(matches!(s.admit(l, S), Admission::Allowed { .. }));
        let start = 2 * S;
        assert_eq!(
            s.admit(l, start),
            Admission::Blocked {
                retry_after: 300,
                until_ms: start + 300 * S
            }
        );
        // Still blocked long after the window of the first two requests has passed.
        assert_eq!(
            s.admit(l, start + 299 * S + 500),
            Admission::Blocked {
                retry_after: 1,
                until_ms: start + 300 * S
            }
        );
        // Once the block ends, the count starts from zero.
        assert_eq!(
            s.admit(l, start + 300 * S),
            Admission::Allowed {
                remaining: 1,
                reset_secs: 300
            }
        );
    }

    #[test]
    fn new_faults_lift_a_block() {
        let s = FaultState::new(Faults::default());
        let l = limit(1, 60);
        assert!(matches!(s.admit(l, 0), Admission::Allowed { .. }));
        assert!(matches!(s.admit(l, 0), Admission::Blocked { .. }));
        s.set(Faults::default());
        assert!(matches!(s.admit(l, 0), Admission::Allowed { .. }));
    }

    #[test]
    fn headers_name_limit_remaining_and_policy() {
        let mut h = HeaderMap::new();
        limit_headers(&mut h, RateLimit::cloudflare(), 7, 42);
        assert_eq!(h["x-ratelimit-limit"], "1200");
        assert_eq!(h["x-ratelimit-remaining"], "7");
        assert_eq!(h["ratelimit"], "\"default\";r=7;t=42");
        assert_eq!(h["ratelimit-policy"], "\"default\";q=1200;w=300");
    }

    #[test]
    fn body_rejects_bad_shares() {
        let body = FaultsBody {
            share_429: 1.5,
            ..FaultsBody::default()
        };
        assert!(body.into_faults().is_err());
    }
}
