//! The stage lock, whatever the store: who holds it, waiting for it, and keeping it.
//!
//! Each store takes and releases the lock its own way (a file, an object created with
//! `If-None-Match: *`, a row); this module does what is common. A lock on a shared store is a
//! lease: it names its holder and an expiry, a heartbeat renews it while the run goes on, and a
//! run that crashed loses it when the lease runs out, with no `--force-unlock`. A run whose lease
//! could not be renewed stops writing state ([`Error::LockLost`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How long a lease lasts unless renewed, by default; `ATHANOR_LOCK_LEASE_SECONDS` changes it.
pub(crate) const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Holder {
    /// The process id.
    pub pid: u32,
    /// The host name.
    pub host: String,
    /// The user name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// When the lock was taken (RFC 3339, UTC).
    pub since: String,
    /// A token naming this holding of the lock (shared stores), so that a run never renews or
    /// releases a lock another run took over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Until when the lease runs unless renewed, in milliseconds since the epoch (shared stores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
}

impl Holder {
    /// This process, holding a new lock.
    pub(crate) fn me() -> Holder {
        Holder {
            pid: std::process::id(),
            host: host_name(),
            user: user_name(),
            since: rfc3339(SystemTime::now()),
            token: Some(uuid::Uuid::new_v4().to_string()),
            expires_ms: None,
        }
    }

    /// Whether a shared store's lease has run out (`now_ms` by the clock of whoever judges).
    pub(crate) fn lease_expired(&self, now_ms: u64) -> bool {
        self.expires_ms.is_some_and(|t| t <= now_ms)
    }

    /// The error for a run refused because this holder has the lock of `stage` at `location`.
    pub(crate) fn locked(self, stage: &str, location: String) -> Error {
        Error::Locked {
            stage: stage.to_owned(),
            pid: self.pid,
            host: self.host,
            user: self.user,
            since: self.since,
            location,
        }
    }
}

/// What an attempt to take a lock found.
#[derive(Debug)]
pub(crate) enum Acquired {
    /// This store holds the lock now.
    Held,
    /// Another run does.
    Busy(Holder),
}

/// How to take a stage lock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LockOptions {
    /// Take the lock even when another run holds it (`--force-unlock`).
    pub force: bool,
    /// How long to wait for a busy lock before giving up (`--lock-timeout`; zero: refuse at once).
    pub wait: Duration,
    /// How long a lease lasts unless renewed.
    pub lease: Duration,
}

impl LockOptions {
    /// The options of a run: `force` and `wait` as given, the lease from
    /// `ATHANOR_LOCK_LEASE_SECONDS` or [`DEFAULT_LEASE`].
    pub(crate) fn new(force: bool, wait: Duration) -> LockOptions {
        let lease = std::env::var("ATHANOR_LOCK_LEASE_SECONDS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 1.0)
            .map_or(DEFAULT_LEASE, Duration::from_secs_f64);
        LockOptions { force, wait, lease }
    }
}

/// Whether a run still holds its lease: set by the heartbeat when renewing fails for good, read
/// before every write of state.
#[derive(Debug, Clone, Default)]
pub(crate) struct LeaseHealth(Arc<Mutex<Option<String>>>);

impl LeaseHealth {
    /// Why the lease was lost, if it was.
    pub(crate) fn lost(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_lost(&self, why: String) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
    }

    fn reset(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Tries `attempt` until it takes the lock or `wait` has passed, sleeping between tries; returns
/// the last holder when the lock stayed busy.
pub(crate) async fn wait_for<F, Fut>(wait: Duration, mut attempt: F) -> Result<Option<Holder>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Acquired>>,
{
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(100);
    loop {
        match attempt().await? {
            Acquired::Held => return Ok(None),
            Acquired::Busy(holder) => {
                let now = Instant::now();
                if now >= deadline {
                    return Ok(Some(holder));
                }
                tokio::time::sleep(pause.min(deadline - now)).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// Renews a lease every third of its length until stopped. A renewal that fails is tried again
/// at the next beat; once the lease has gone unrenewed for its whole length, or the store says
/// another run holds the lock, `health` records the loss and the beating stops.
pub(crate) fn heartbeat<F, Fut>(lease: Duration, health: LeaseHealth, mut renew: F) -> Heartbeat
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    health.reset();
    let beat = lease / 3;
    let task = tokio::spawn(async move {
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(beat).await;
            match renew().await {
                Ok(()) => renewed = Instant::now(),
                Err(Error::LockLost { why, .. }) => {
                    health.set_lost(why);
                    return;
                }
                Err(e) if renewed.elapsed() >= lease => {
                    health.set_lost(format!(
                        "the lease could not be renewed for {}s ({})",
                        lease.as_secs(),
                        e.report()
                    ));
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e.report(), "renewing the stage lock failed; trying again");
                }
            }
        }
    });
    Heartbeat(Some(task))
}

/// The task renewing a lease; stopped when dropped.
#[derive(Debug)]
pub(crate) struct Heartbeat(Option<tokio::task::JoinHandle<()>>);

impl Heartbeat {
    /// No renewal (a lock that needs none).
    pub(crate) fn none() -> Heartbeat {
        Heartbeat(None)
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// Milliseconds since the epoch, by this machine's clock.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// This machine's host name.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn user_name() -> Option<String> {
    ["USER", "LOGNAME", "USERNAME"]
        .into_iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
}

/// Formats a time as RFC 3339 in UTC, to the second.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_as_rfc_3339() {
        let t = UNIX_EPOCH + Duration::from_secs(1_767_225_600 + 3_661); // 2026-01-01T01:01:01Z
        assert_eq!(rfc3339(t), "2026-01-01T01:01:01Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }

    #[tokio::test]
    async fn waiting_tries_until_the_lock_is_free_or_the_time_is_up() {
        let holder = Holder::me();
        let mut tries = 0;
        let busy = wait_for(Duration::from_millis(250), || {
            tries += 1;
            let holder = holder.clone();
            async move { Ok(Acquired::Busy(holder)) }
        })
        .await
        .unwrap();
        assert_eq!(busy, Some(holder));
        assert!(tries >= 2, "{tries}");
        let mut tries = 0;
        let held = wait_for(Duration::from_secs(5), || {
            tries += 1;
            let free = tries == 3;
            async move {
                Ok(if free {
                    Acquired::Held
                } else {
                    Acquired::Busy(Holder::me())
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(held, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_not_renewed_for_its_length_is_lost() {
        let health = LeaseHealth::default();
        let _beat = heartbeat(Duration::from_secs(3), health.clone(), || async {
            Err(Error::StateStore {
                action: "lock",
                location: "s3://b/p".into(),
                message: "connection refused".into(),
            })
        });
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(health.lost(), None);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let why = health.lost().unwrap();
        assert!(why.contains("connection refused"), "{why}");
    }
}
