//! The stage lock of a local state directory: one deploy or destroy per stage at a time.
//!
//! The lock is a file, `<stage dir>/lock`, created with `O_EXCL` (`create_new`) so that exactly
//! one process wins, holding the owner's pid, host and start time as JSON. A second run fails at
//! once naming the holder. A lock whose pid no longer runs on this host is stale and is taken
//! over, and so is one recorded with this process's own pid that this process does not hold (an
//! earlier run that had the same pid: pids are reused, and in a container every run may be pid
//! 1). Each lock carries a token, so that runs inside one process (a library user's concurrent
//! sessions) tell their locks apart. `--force-unlock` removes any lock (for a holder on another
//! host that is known gone).

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::lease::{Holder, host_name};
use crate::error::{Error, Result};

impl Holder {
    /// Whether the holder is certainly gone: it ran on this host and its pid is not alive.
    pub(crate) fn is_stale(&self) -> bool {
        self.host == host_name() && !pid_alive(self.pid)
    }

    /// Whether the holder of the lock file `path` is gone: [`Holder::is_stale`], or it names this
    /// process although this process does not hold `path` (an earlier process with this pid).
    fn is_gone(&self, path: &Path) -> bool {
        self.is_stale()
            || (self.host == host_name()
                && self.pid == std::process::id()
                && !matches!((&self.token, held().get(path)), (Some(t), Some(h)) if t == h))
    }
}

/// The lock files this process holds now, with the token of each.
fn held() -> std::sync::MutexGuard<'static, BTreeMap<PathBuf, String>> {
    static HELD: Mutex<BTreeMap<PathBuf, String>> = Mutex::new(BTreeMap::new());
    HELD.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A held stage lock; released when dropped.
#[derive(Debug)]
pub(crate) struct StageLock {
    path: PathBuf,
    token: String,
}

impl StageLock {
    /// Takes the lock of the stage directory `dir`, or returns who holds it. With `force`, an
    /// existing lock is removed first.
    pub(crate) fn acquire(
        dir: &Path,
        force: bool,
    ) -> Result<std::result::Result<StageLock, Holder>> {
        fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let path = dir.join("lock");
        if force {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", path, e)),
            }
        }
        // A few attempts: each after taking a stale lock away.
        for _ in 0..3 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    // Held from the moment the file exists: another run of this process that
                    // reads our pid in it before we are done must see a live lock, not a stale one.
                    let me = Holder::me();
                    let token = me.token.clone().expect("a new holder has a token");
                    held().insert(path.clone(), token.clone());
                    let lock = StageLock { path, token };
                    let body = serde_json::to_vec_pretty(&me).expect("lock serializes");
                    file.write_all(&body)
                        .and_then(|()| file.sync_all())
                        .map_err(|e| Error::io("write", &lock.path, e))?;
                    return Ok(Ok(lock));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match read_holder(&path)
                {
                    Some(h) if h.is_gone(&path) => {
                        tracing::warn!(pid = h.pid, host = %h.host, since = %h.since, "removing a stale lock");
                        take_away_stale(&path, &h)?;
                    }
                    Some(h) => return Ok(Err(h)),
                    None => return Ok(Err(unreadable())),
                },
                Err(e) => return Err(Error::io("create", path, e)),
            }
        }
        Ok(Err(read_holder(&path).unwrap_or_else(unreadable)))
    }

    /// The lock file.
    #[cfg(test)]
    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StageLock {
    fn drop(&mut self) {
        // Ours, or left empty by a failed write of ours: remove it; then forget it, unless
        // another run of this process has taken the lock since.
        match read_holder(&self.path) {
            Some(h) if h.token.as_ref() != Some(&self.token) => {}
            _ => {
                let _ = fs::remove_file(&self.path);
            }
        }
        let mut held = held();
        if held.get(&self.path) == Some(&self.token) {
            held.remove(&self.path);
        }
    }
}

/// Removes the lock file `path` that `stale` held, but never a lock another run took meanwhile.
///
/// Two runs can find the same stale lock; if both simply removed the file, the slower one could
/// remove the lock the faster one had just taken, and both would run. So the file is first
/// renamed aside (atomic: exactly one run gets it), then read again: a live lock moved aside by
/// mistake is linked back into place.
fn take_away_stale(path: &Path, stale: &Holder) -> Result<()> {
    static ASIDE: AtomicU64 = AtomicU64::new(0);
    let aside = path.with_file_name(format!(
        "lock.stale-{}-{}",
        std::process::id(),
        ASIDE.fetch_add(1, Ordering::Relaxed)
    ));
    match fs::rename(path, &aside) {
        Ok(()) => {}
        // Another run took it away first: try again to create ours.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("move aside", path, e)),
    }
    if read_holder(&aside).as_ref() != Some(stale) {
        // Not the stale lock any more: give it back (unless yet another run holds the stage
        // now, which is fine too: the stage is locked either way).
        let _ = fs::hard_link(&aside, path);
    }
    let _ = fs::remove_file(&aside);
    Ok(())
}

/// The holder recorded in a lock file, if it can be read.
pub(crate) fn read_holder(path: &Path) -> Option<Holder> {
    let bytes = fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn pid_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        // No portable check without libc: never call a lock stale here.
        true
    }
}

/// The holder of a lock file that cannot be read (empty: its writer died between creating and
/// writing it; a stale check cannot tell, so it needs `--force-unlock`).
fn unreadable() -> Holder {
    Holder {
        pid: 0,
        host: "unknown (the lock file is empty or unreadable)".into(),
        user: None,
        since: "unknown".into(),
        token: None,
        expires_ms: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(pid: u32, host: &str, since: &str) -> Holder {
        Holder {
            pid,
            host: host.into(),
            user: None,
            since: since.into(),
            token: None,
            expires_ms: None,
        }
    }

    #[test]
    fn a_second_acquire_is_refused_naming_the_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let lock = StageLock::acquire(tmp.path(), false).unwrap().unwrap();
        let busy = StageLock::acquire(tmp.path(), false).unwrap().unwrap_err();
        assert_eq!(busy.pid, std::process::id());
        assert_eq!(busy.host, host_name());
        let err = busy.locked("dev", "here".into());
        assert!(err.to_string().contains("--force-unlock"), "{err}");
        drop(lock);
        assert!(!tmp.path().join("lock").exists());
        StageLock::acquire(tmp.path(), false).unwrap().unwrap();
    }

    #[test]
    fn a_lock_of_a_dead_process_on_this_host_is_stale() {
        let tmp = tempfile::tempdir().unwrap();
        // A child that has exited and been reaped: its pid is free.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let holder = holder(dead, &host_name(), "2026-01-01T00:00:00Z");
        assert!(holder.is_stale());
        fs::write(
            tmp.path().join("lock"),
            serde_json::to_vec(&holder).unwrap(),
        )
        .unwrap();
        let lock = StageLock::acquire(tmp.path(), false).unwrap().unwrap();
        assert_eq!(read_holder(lock.path()).unwrap().pid, std::process::id());
    }

    #[test]
    fn taking_a_stale_lock_away_never_removes_a_lock_taken_meanwhile() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("lock");
        let stale = holder(u32::MAX, &host_name(), "2026-01-01T00:00:00Z");
        // Another run (a live process on this host: init) found the same stale lock first and
        // replaced it with its own.
        let live = holder(1, &host_name(), "2026-01-01T00:00:01Z");
        fs::write(&path, serde_json::to_vec(&live).unwrap()).unwrap();
        take_away_stale(&path, &stale).unwrap();
        assert_eq!(read_holder(&path), Some(live));
        assert!(StageLock::acquire(tmp.path(), false).unwrap().is_err());

        // The stale lock itself goes, and nothing is left aside.
        fs::write(&path, serde_json::to_vec(&stale).unwrap()).unwrap();
        take_away_stale(&path, &stale).unwrap();
        assert!(!path.exists());
        // Already gone (another run took it away): nothing to do.
        take_away_stale(&path, &stale).unwrap();
        let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
        assert!(names.is_empty(), "{names:?}");
    }

    #[test]
    fn a_lock_with_this_pid_that_this_process_does_not_hold_is_stale() {
        let tmp = tempfile::tempdir().unwrap();
        let earlier = holder(std::process::id(), &host_name(), "2026-01-01T00:00:00Z");
        fs::write(
            tmp.path().join("lock"),
            serde_json::to_vec(&earlier).unwrap(),
        )
        .unwrap();
        let lock = StageLock::acquire(tmp.path(), false).unwrap().unwrap();
        let now = read_holder(lock.path()).unwrap();
        assert_ne!(now.since, earlier.since);
        // Held now: the same process is refused.
        assert!(StageLock::acquire(tmp.path(), false).unwrap().is_err());
        drop(lock);
        assert!(!held().contains_key(&tmp.path().join("lock")));
    }

    #[test]
    fn a_lock_held_on_another_host_needs_force() {
        let tmp = tempfile::tempdir().unwrap();
        let holder = holder(1, "elsewhere.example", "2026-01-01T00:00:00Z");
        assert!(!holder.is_stale());
        fs::write(
            tmp.path().join("lock"),
            serde_json::to_vec(&holder).unwrap(),
        )
        .unwrap();
        assert!(StageLock::acquire(tmp.path(), false).unwrap().is_err());
        StageLock::acquire(tmp.path(), true).unwrap().unwrap();
    }
}
