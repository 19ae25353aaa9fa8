//! The pace of a run as the emulator saw it (its request count sampled about every millisecond),
//! and from it the earliest a run at that pace can end under a rate limit: the bound the
//! benchmarks at the rate limit hold a run to.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use athanor_emulator::{Emulator, RateLimit};

/// The client's rate limit for a run whose emulator enforces `limit`: the same budget and
/// window, as a user on Cloudflare runs with the real one; `None` gives a limit that never binds.
pub fn client_rate_limit(limit: Option<RateLimit>) -> athanor_cloudflare::RateLimit {
    match limit {
        Some(l) => athanor_cloudflare::RateLimit {
            requests: l.requests,
            window: l.window,
        },
        None => athanor_cloudflare::RateLimit {
            requests: u32::MAX,
            window: Duration::from_secs(1),
        },
    }
}

/// When each request of a run arrived at the emulator.
#[derive(Debug, Clone)]
pub struct Pace {
    /// The run's wall time.
    pub wall: Duration,
    /// Requests the emulator received during the run.
    pub requests: u64,
    /// (time since the start, requests received by then), about every millisecond.
    pub samples: Vec<(Duration, u64)>,
}

impl Pace {
    /// Runs `run` while sampling `emulator`'s request count (reset first); `on_sample` runs at
    /// each sample too, for a caller that samples something of its own (live heap, say).
    pub async fn measure<T>(
        emulator: &Emulator,
        run: impl Future<Output = T>,
        mut on_sample: impl FnMut(),
    ) -> (T, Pace) {
        emulator.reset_stats();
        let done = AtomicBool::new(false);
        let started = Instant::now();
        let sample = async {
            let mut samples = Vec::with_capacity(1 << 16);
            while !done.load(Ordering::Relaxed) {
                samples.push((started.elapsed(), emulator.stats().total));
                on_sample();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            samples
        };
        let run = async {
            let out = run.await;
            let wall = started.elapsed();
            done.store(true, Ordering::Relaxed);
            (out, wall)
        };
        let (samples, (out, wall)) = tokio::join!(sample, run);
        let pace = Pace {
            wall,
            requests: emulator.stats().total,
            samples,
        };
        (out, pace)
    }

    /// The time the run had taken when the emulator had received `n` requests.
    pub fn time_to(&self, n: u64) -> Duration {
        let i = self.samples.partition_point(|(_, count)| *count < n);
        self.samples.get(i).map_or(self.wall, |(t, _)| *t)
    }

    /// Requests received in each `slice` of the run.
    pub fn per_slice(&self, slice: Duration) -> Vec<u64> {
        let mut out = Vec::new();
        let (mut last, mut edge) = (0, slice);
        for (t, count) in &self.samples {
            while *t >= edge {
                out.push(count - last);
                last = *count;
                edge += slice;
            }
        }
        out.push(self.requests - last);
        out
    }

    /// The earliest a run at this (unlimited) pace can end under `budget` requests per sliding
    /// `window`: request `i` goes no sooner after request `i - 1` than it did here, nor sooner
    /// than one window after request `i - budget`; the run ends as long after its last request
    /// as this one did.
    pub fn earliest_finish(&self, budget: u64, window: Duration) -> Duration {
        let budget = usize::try_from(budget).unwrap_or(usize::MAX);
        let mut sent: Vec<Duration> = Vec::new();
        let mut before = Duration::ZERO;
        for i in 1..=self.requests {
            let unlimited = self.time_to(i);
            let mut at = sent.last().copied().unwrap_or_default() + (unlimited - before);
            if sent.len() >= budget {
                at = at.max(sent[sent.len() - budget] + window);
            }
            sent.push(at);
            before = unlimited;
        }
        let tail = self.wall.saturating_sub(self.time_to(self.requests));
        sent.last().copied().unwrap_or_default() + tail
    }

    /// The same bound from the limit alone: whole windows for all but the last window's worth of
    /// requests, then this run's time to send that many and its time after its last request.
    /// Returns the bound, the whole windows, and the requests of the last one.
    pub fn limit_alone(&self, budget: u64, window: Duration) -> (Duration, u64, u64) {
        let windows = self.requests.div_ceil(budget).saturating_sub(1);
        let last = self.requests - windows * budget;
        let tail = self.wall.saturating_sub(self.time_to(self.requests));
        let bound = window * u32::try_from(windows).unwrap_or(u32::MAX) + self.time_to(last) + tail;
        (bound, windows, last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pace(requests: u64, per_ms: u64) -> Pace {
        let samples = (0..=requests / per_ms)
            .map(|ms| (Duration::from_millis(ms), ms * per_ms))
            .collect();
        Pace {
            wall: Duration::from_millis(requests / per_ms),
            requests,
            samples,
        }
    }

    #[test]
    fn a_run_under_the_budget_keeps_its_pace() {
        let p = pace(100, 1);
        assert_eq!(
            p.earliest_finish(1000, Duration::from_secs(1)),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn a_run_over_the_budget_waits_a_window_per_budget() {
        // 300 requests at 1 per ms, 100 per 1 s window: requests 101 and 201 wait a window each.
        let p = pace(300, 1);
        let bound = p.earliest_finish(100, Duration::from_secs(1));
        assert_eq!(bound, Duration::from_millis(2100));
        let (alone, windows, last) = p.limit_alone(100, Duration::from_secs(1));
        assert_eq!((windows, last), (2, 100));
        assert_eq!(alone, Duration::from_millis(2100));
    }
}
