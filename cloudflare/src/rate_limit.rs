//! A client-side request budget, so that a large deploy stays under Cloudflare's global limit
//! of 1,200 requests per 5 minutes instead of being blocked for five minutes.
//!
//! One [`RateLimiter`] is shared by every clone of a client and every concurrent task. A request
//! holds a [`Slot`] from before it is sent until its answer arrives, and then counts for one
//! window from that moment: Cloudflare counts a request when it arrives, which the client cannot
//! see but which lies between the two, so counting from the answer never lets the server see
//! more than the budget in any of its windows (a request sent a window after another may arrive
//! before it). A caller waits when the slots in flight and the answers of the last window fill
//! the budget; a 429 with `Retry-After` pauses every caller at once. The clock is injectable for
//! tests.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// At most `requests` requests in any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed in one window (at least 1).
    pub requests: u32,
    /// The window.
    pub window: Duration,
}

impl Default for RateLimit {
    /// Cloudflare's documented account limit: 1,200 requests per 5 minutes.
    fn default() -> Self {
        RateLimit {
            requests: 1200,
            window: Duration::from_secs(300),
        }
    }
}

/// A source of the current instant.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

#[derive(Debug, Default)]
struct Window {
    /// When the answers of the last window arrived, oldest first.
    answered: VecDeque<Instant>,
    /// Requests sent and not yet answered.
    in_flight: usize,
    paused_until: Option<Instant>,
}

/// One request's place in the budget, from before it is sent until its answer arrives (or it
/// fails); dropping it starts the window the request counts in.
#[must_use = "a slot counts from when it is dropped: hold it until the answer arrives"]
pub struct Slot<'a> {
    limiter: &'a RateLimiter,
}

impl std::fmt::Debug for Slot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").finish_non_exhaustive()
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut w = self.limiter.lock();
        // Read under the lock, so that answers are recorded in the order of their instants and
        // the front stays the oldest.
        let now = self.limiter.clock.now();
        w.in_flight = w.in_flight.saturating_sub(1);
        w.answered.push_back(now);
    }
}

/// The shared limiter.
pub struct RateLimiter {
    limit: RateLimit,
    clock: Arc<dyn Clock>,
    window: Mutex<Window>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// A limiter on the system clock.
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter::with_clock(limit, Arc::new(SystemClock))
    }

    /// A limiter on the given clock.
    pub fn with_clock(limit: RateLimit, clock: Arc<dyn Clock>) -> Self {
        RateLimiter {
            limit: RateLimit {
                requests: limit.requests.max(1),
                window: limit.window,
            },
            clock,
            window: Mutex::new(Window::default()),
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one request's slot now, or says how long to wait before asking again.
    pub fn try_acquire(&self) -> Result<Slot<'_>, Duration> {
        let now = self.clock.now();
        let mut w = self.lock();
        if let Some(until) = w.paused_until {
            if until > now {
                return Err(until - now);
            }
            w.paused_until = None;
        }
        while let Some(first) = w.answered.front() {
            if now.duration_since(*first) >= self.limit.window {
                w.answered.pop_front();
            } else {
                break;
            }
        }
        if w.answered.len() + w.in_flight < self.limit.requests as usize {
            w.in_flight += 1;
            return Ok(Slot { limiter: self });
        }
        // The next slot frees a window after the oldest answer; with every slot in flight, no
        // sooner than a window from now.
        Err(match w.answered.front() {
            Some(first) => (*first + self.limit.window).saturating_duration_since(now),
            None => self.limit.window,
        })
    }

    /// Waits until the budget allows one more request, then takes its slot.
    pub async fn acquire(&self) -> Slot<'_> {
        loop {
            match self.try_acquire() {
                Ok(slot) => return slot,
                Err(wait) => {
                    tracing::debug!(?wait, "client-side rate limit reached, waiting");
                    tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
                }
            }
        }
    }

    /// Holds every caller back for `wait` (a 429's `Retry-After`).
    pub fn pause(&self, wait: Duration) {
        let until = self.clock.now() + wait;
        let mut w = self.lock();
        if w.paused_until.is_none_or(|u| u < until) {
            w.paused_until = Some(until);
        }
    }

    /// Requests counted in the current window: those in flight and those answered within it.
    pub fn in_window(&self) -> usize {
        let now = self.clock.now();
        let w = self.lock();
        w.in_flight
            + w.answered
                .iter()
                .filter(|t| now.duration_since(**t) < self.limit.window)
                .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct ManualClock {
        start: Instant,
        offset: Mutex<Duration>,
    }

    impl ManualClock {
        fn new() -> Arc<Self> {
            Arc::new(ManualClock {
                start: Instant::now(),
                offset: Mutex::new(Duration::ZERO),
            })
        }
        fn advance(&self, d: Duration) {
            *self.offset.lock().unwrap() += d;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            self.start + *self.offset.lock().unwrap()
        }
    }

    #[test]
    fn the_window_fills_then_frees_as_time_passes() {
        let clock = ManualClock::new();
        let limiter = RateLimiter::with_clock(
            RateLimit {
                requests: 3,
                window: Duration::from_secs(10),
            },
            clock.clone(),
        );
        drop(limiter.try_acquire().unwrap());
        clock.advance(Duration::from_secs(4));
        drop(limiter.try_acquire().unwrap());
        drop(limiter.try_acquire().unwrap());
        assert_eq!(limiter.try_acquire().unwrap_err(), Duration::from_secs(6));
        assert_eq!(limiter.in_window(), 3);
        clock.advance(Duration::from_secs(6));
        drop(limiter.try_acquire().unwrap());
        assert_eq!(limiter.try_acquire().unwrap_err(), Duration::from_secs(4));
    }

    #[test]
    fn a_request_counts_from_its_answer_and_holds_its_slot_meanwhile() {
        let clock = ManualClock::new();
        let limiter = RateLimiter::with_clock(
            RateLimit {
                requests: 2,
                window: Duration::from_secs(10),
            },
            clock.clone(),
        );
        let slow = limiter.try_acquire().unwrap();
        drop(limiter.try_acquire().unwrap());
        // Both count: one in flight, one answered.
        assert_eq!(limiter.in_window(), 2);
        assert!(limiter.try_acquire().is_err());
        // The slow one is answered 9 s later: it counts from then, not from when it was sent,
        // since the server may have counted it as late as that.
        clock.advance(Duration::from_secs(9));
        drop(slow);
        clock.advance(Duration::from_secs(1));
        drop(limiter.try_acquire().unwrap());
        assert_eq!(limiter.try_acquire().unwrap_err(), Duration::from_secs(9));
    }

    #[test]
    fn a_pause_holds_everyone_back() {
        let clock = ManualClock::new();
        let limiter = RateLimiter::with_clock(RateLimit::default(), clock.clone());
        limiter.pause(Duration::from_secs(2));
        assert_eq!(limiter.try_acquire().unwrap_err(), Duration::from_secs(2));
        clock.advance(Duration::from_secs(2));
        assert!(limiter.try_acquire().is_ok());
    }

    #[test]
    fn the_default_is_cloudflares_limit() {
        let clock = ManualClock::new();
        let limiter = RateLimiter::with_clock(RateLimit::default(), clock.clone());
        for _ in 0..1200 {
            drop(limiter.try_acquire().unwrap());
        }
        assert!(limiter.try_acquire().is_err());
        clock.advance(Duration::from_secs(300));
        assert!(limiter.try_acquire().is_ok());
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_budget() {
        let limiter = Arc::new(RateLimiter::new(RateLimit {
            requests: 5,
            window: Duration::from_secs(60),
        }));
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let l = limiter.clone();
            tasks.push(tokio::spawn(async move { drop(l.acquire().await) }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(limiter.in_window(), 5);
        assert!(limiter.try_acquire().is_err());
    }
}
