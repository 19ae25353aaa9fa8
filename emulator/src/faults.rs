//! Injected faults: latency, 429 with `Retry-After`, 5xx answers, dropped connections and
//! Cloudflare's sliding-window rate limit, so clients can be tested against a Cloudflare that
//! misbehaves the ways the real one does.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::envelope::ApiError;
use crate::server::ConnectionDrop;
use crate::state::{AppState, read};
use crate::{Faults, RateLimit};

/// The configured faults and the rate-limit window's recent requests.
pub(crate) struct FaultState {
    faults: RwLock<Faults>,
    window: Mutex<VecDeque<Instant>>,
}

impl FaultState {
    /// Starts with `faults` and an empty window.
    pub fn new(faults: Faults) -> FaultState {
        FaultState {
            faults: RwLock::new(faults),
            window: Mutex::new(VecDeque::new()),
        }
    }

    /// Replaces the faults (and forgets the window).
    pub fn set(&self, faults: Faults) {
        *self.faults.write().unwrap_or_else(|p| p.into_inner()) = faults;
        self.window
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The current faults.
    pub fn get(&self) -> Faults {
        read(&self.faults)
    }

    /// Admits one request under `limit`: `Ok(remaining)`, or `Err(seconds until a slot frees)`.
    fn admit(&self, limit: RateLimit, now: Instant) -> Result<u32, u64> {
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(&oldest) = window.front() {
            if now.duration_since(oldest) >= limit.window {
                window.pop_front();
            } else {
                break;
            }
        }
        if window.len() as u64 >= u64::from(limit.requests) {
            let oldest = window.front().copied().unwrap_or(now);
            let wait = limit.window.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        window.push_back(now);
        Ok(limit.requests - window.len() as u32)
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
    let mut remaining = None;
    if let Some(limit) = faults.rate_limit {
        match state.faults.admit(limit, Instant::now()) {
            Ok(left) => remaining = Some((limit.requests, left)),
            Err(wait) => {
                let mut r = too_many(wait);
                r.headers_mut()
                    .insert("x-ratelimit-limit", HeaderValue::from(limit.requests));
                r.headers_mut()
                    .insert("x-ratelimit-remaining", HeaderValue::from(0u32));
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
        return too_many(1);
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
    let mut response = next.run(req).await;
    if let Some((limit, left)) = remaining {
        response
            .headers_mut()
            .insert("x-ratelimit-limit", HeaderValue::from(limit));
        response
            .headers_mut()
            .insert("x-ratelimit-remaining", HeaderValue::from(left));
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
    pub share_5xx: f64,
    pub share_dropped: f64,
    pub rate_limit: Option<RateLimitBody>,
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
            share_5xx: self.share_5xx,
            share_dropped: self.share_dropped,
            rate_limit: self.rate_limit.map(|r| RateLimit {
                requests: r.requests,
                window: Duration::from_secs(r.window_secs),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_admits_then_refuses_then_frees() {
        let s = FaultState::new(Faults::default());
        let limit = RateLimit {
            requests: 2,
            window: Duration::from_secs(10),
        };
        let t0 = Instant::now();
        assert_eq!(s.admit(limit, t0), Ok(1));
        assert_eq!(s.admit(limit, t0), Ok(0));
        assert_eq!(s.admit(limit, t0 + Duration::from_secs(3)), Err(7));
        assert!(s.admit(limit, t0 + Duration::from_secs(10)).is_ok());
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
