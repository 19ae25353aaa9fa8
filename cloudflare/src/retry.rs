//! When and how long to wait before sending a failed request again.
//!
//! Exponential backoff with jitter on 429 (honouring `Retry-After`), 408, 5xx and connection
//! errors, bounded both in attempts and in total time. The delays are computed by pure functions
//! here, so tests check them without sleeping.

use std::time::{Duration, SystemTime};

/// The retry policy of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The most attempts of one request, the first included (at least 1).
    pub max_attempts: u32,
    /// The wait before the first retry, doubled for each later one.
    pub initial_backoff: Duration,
    /// The longest computed wait between two attempts.
    pub max_backoff: Duration,
    /// The longest time spent on one request, waits included; no retry starts past it.
    pub max_elapsed: Duration,
    /// A `Retry-After` longer than this is not waited for: the error is returned at once.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_elapsed: Duration::from_secs(120),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// Whether a response with this HTTP status is worth sending again.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}

/// Parses a `Retry-After` header: delay seconds, or an HTTP date relative to `now`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait before attempt `attempt + 1`, after `attempt` failed attempts (1-based), or
    /// `None` when no retry should be made. `retry_after` is the server's `Retry-After`;
    /// `jitter` is a number in `0.0..1.0` (random in use, fixed in tests); `elapsed` is the time
    /// spent on this request so far.
    pub fn delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        jitter: f64,
        elapsed: Duration,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let jitter = jitter.clamp(0.0, 1.0);
        let wait = match retry_after {
            Some(after) if after > self.max_retry_after => return None,
            // The server's wait is a minimum: add up to a quarter second so that waiting
            // clients do not all come back at the same instant.
            Some(after) => after + Duration::from_millis((jitter * 250.0) as u64),
            None => {
                let exp = attempt.saturating_sub(1).min(20);
                let base = self
                    .initial_backoff
                    .saturating_mul(1u32 << exp)
                    .min(self.max_backoff);
                // ±25% around the exponential step.
                base.mul_f64(0.75 + 0.5 * jitter)
            }
        };
        if elapsed + wait > self.max_elapsed {
            return None;
        }
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            ..RetryPolicy::default()
        };
        let mid = |attempt| p.delay(attempt, None, 0.5, Duration::ZERO).unwrap();
        assert_eq!(mid(1), Duration::from_millis(500));
        assert_eq!(mid(2), Duration::from_millis(1000));
        assert_eq!(mid(3), Duration::from_millis(2000));
        assert_eq!(mid(6), Duration::from_secs(8));
        assert_eq!(mid(9), Duration::from_secs(8));
        assert_eq!(
            p.delay(1, None, 0.0, Duration::ZERO),
            Some(Duration::from_millis(375))
        );
        assert_eq!(
            p.delay(1, None, 1.0, Duration::ZERO),
            Some(Duration::from_millis(625))
        );
    }

    #[test]
    fn retry_after_is_honoured_and_bounded() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3)), 0.0, Duration::ZERO),
            Some(Duration::from_secs(3))
        );
        let with_jitter = p
            .delay(1, Some(Duration::from_secs(3)), 0.99, Duration::ZERO)
            .unwrap();
        assert!(with_jitter > Duration::from_secs(3));
        assert!(with_jitter < Duration::from_millis(3250));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(61)), 0.0, Duration::ZERO),
            None
        );
    }

    #[test]
    fn attempts_and_total_time_are_bounded() {
        let p = RetryPolicy::default();
        assert!(p.delay(4, None, 0.5, Duration::ZERO).is_some());
        assert_eq!(p.delay(5, None, 0.5, Duration::ZERO), None);
        assert_eq!(p.delay(1, None, 0.5, Duration::from_secs(120)), None);
        assert_eq!(
            RetryPolicy::none().delay(1, None, 0.5, Duration::ZERO),
            None
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(30)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409, 412] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }
}
