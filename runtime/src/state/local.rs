//! State in a directory on this machine: the default.
//!
//! Layout, under `<stack root>/.athanor/<app>/<stage>/` (or `$ATHANOR_STATE_DIR/<app>/<stage>/`, or
//! the directory `--state` names):
//!
//! ```text
//! state.json               schema version, app, stage, the secrets header, the account
//! resources/<id>.json      one record per resource
//! lock                     the stage lock while a deploy or destroy runs (`local_lock`)
//! ```
//!
//! A stage holds state while `resources/` holds a record: [`list_stages`] lists those. A destroy
//! that removed every record also removes `state.json` and `resources/`, leaving the stage
//! directory empty (or holding the lock while the destroy runs).
//!
//! Every file is readable, pretty-printed JSON. Every write is atomic: a temporary file in the
//! same directory, fsync, rename over the old file, fsync of the directory; so a crash at any
//! instant leaves either the old or the new file, never a torn one. One file per resource lets
//! concurrent steps write without rewriting everything. The lock file is the only guard against
//! a second writer: on one machine it is exact (see `local_lock`).

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::lease::{Acquired, Holder};
use super::local_lock::StageLock;
use super::{Meta, Record, Snapshot, check_version, parse_json, to_json};
use crate::error::{Error, Result};

/// The state directory of one app and stage.
#[derive(Debug)]
pub(crate) struct Local {
    dir: PathBuf,
    /// The stage lock, while this store holds it.
    lock: Mutex<Option<StageLock>>,
}

impl Local {
    /// The store of `app`/`stage` under `base`.
    pub(crate) fn new(base: &Path, app: &str, stage: &str) -> Local {
        Local {
            dir: base.join(file_name(app)).join(file_name(stage)),
            lock: Mutex::new(None),
        }
    }

    /// The stage directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn describe(&self) -> String {
        self.dir.display().to_string()
    }

    fn meta_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    fn resources_dir(&self) -> PathBuf {
        self.dir.join("resources")
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.resources_dir().join(format!("{}.json", file_name(id)))
    }

    /// Reads the whole state; a stage never deployed reads as empty.
    pub(crate) async fn load(&self) -> Result<Snapshot> {
        let (meta_path, dir) = (self.meta_path(), self.resources_dir());
        blocking(move || load_dir(&meta_path, &dir)).await
    }

    /// Writes one record atomically.
    pub(crate) async fn write_record(&self, record: &Record) -> Result<()> {
        let (path, bytes) = (self.record_path(&record.id), to_json(record));
        blocking(move || write_atomic(&path, &bytes, Access::Private)).await
    }

    /// Removes one record (a missing one is fine), and syncs the directory.
    pub(crate) async fn remove_record(&self, id: &str) -> Result<()> {
        let (path, dir) = (self.record_path(id), self.resources_dir());
        blocking(move || remove_file(&path, &dir)).await
    }

    /// Writes the stage-wide part atomically.
    pub(crate) async fn write_meta(&self, meta: &Meta) -> Result<()> {
        let (path, bytes) = (self.meta_path(), to_json(meta));
        blocking(move || write_atomic(&path, &bytes, Access::Private)).await
    }

    /// Removes the stage-wide file and the emptied directory (after a destroy left no record).
    pub(crate) async fn remove_meta(&self) -> Result<()> {
        let (path, dir) = (self.meta_path(), self.resources_dir());
        blocking(move || {
            remove_file(&path, path.parent().unwrap_or(Path::new(".")))?;
            let _ = fs::remove_dir(dir);
            Ok(())
        })
        .await
    }

    /// Nothing to do: every write is already in place.
    pub(crate) async fn settle(&self) -> Result<()> {
        Ok(())
    }

    /// Takes the lock file (the lease plays no part: a holder on this host is checked by pid).
    pub(crate) async fn try_lock(
        &self,
        _me: &Holder,
        _lease: Duration,
        force: bool,
    ) -> Result<Acquired> {
        let dir = self.dir.clone();
        match blocking(move || StageLock::acquire(&dir, force)).await? {
            Ok(lock) => {
                *self.lock.lock().unwrap_or_else(|p| p.into_inner()) = Some(lock);
                Ok(Acquired::Held)
            }
            Err(holder) => Ok(Acquired::Busy(holder)),
        }
    }

    /// Nothing to renew: the lock file stays until released.
    pub(crate) async fn renew(&self, _lease: Duration) -> Result<()> {
        Ok(())
    }

    /// Removes the lock file, if this store holds it.
    pub(crate) async fn unlock(&self) -> Result<()> {
        self.unlock_now();
        Ok(())
    }

    /// [`Local::unlock`], without waiting: for a guard dropped without being released.
    pub(crate) fn unlock_now(&self) {
        drop(self.lock.lock().unwrap_or_else(|p| p.into_inner()).take());
    }

    /// Where the lock is, for messages.
    pub(crate) fn lock_location(&self) -> String {
        self.dir.join("lock").display().to_string()
    }
}

/// The stages of `app` under `base` that hold at least one record, sorted. A directory whose name
/// [`file_name`] does not make (another tool's) is not a stage.
pub(crate) async fn list_stages(base: &Path, app: &str) -> Result<Vec<String>> {
    let app_dir = base.join(file_name(app));
    blocking(move || stages_in(&app_dir)).await
}

fn stages_in(app_dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(app_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read", app_dir, e)),
    };
    let mut stages = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read", app_dir, e))?;
        let Some(stage) = entry.file_name().to_str().and_then(name_of_file) else {
            continue;
        };
        if has_records(&entry.path().join("resources"))? {
            stages.insert(stage);
        }
    }
    Ok(stages.into_iter().collect())
}

/// Whether the resources directory `dir` holds a record (a missing one, or a file where a stage
/// directory was expected, holds none).
fn has_records(dir: &Path) -> Result<bool> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(false);
        }
        Err(e) => return Err(Error::io("read", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read", dir, e))?;
        if is_record_file(&entry.path()) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `path`, in a resources directory, is a record: `<id>.json`, not a temporary file of an
/// interrupted write.
fn is_record_file(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()) == Some("json")
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("a state file task panicked")
}

fn load_dir(meta_path: &Path, dir: &Path) -> Result<Snapshot> {
    let mut snapshot = Snapshot::default();
    if meta_path.exists() {
        let meta: Meta = read_json(meta_path)?;
        check_version(&meta_path.display().to_string(), meta.schema_version)?;
        snapshot.meta = Some(meta);
    }
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(snapshot),
        Err(e) => return Err(Error::io("read", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read", dir, e))?;
        let path = entry.path();
        if !is_record_file(&path) {
            continue;
        }
        let record: Record = read_json(&path)?;
        check_version(&path.display().to_string(), record.schema_version)?;
        snapshot.records.insert(record.id.clone(), record);
    }
    Ok(snapshot)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).map_err(|e| Error::io("read", path, e))?;
    parse_json(&path.display().to_string(), &bytes)
}

fn remove_file(path: &Path, dir: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path, e)),
    }
}

/// Creates `dir` and the directories above it that are missing, each one's entry fsynced in its
/// parent, so that a crash cannot lose a directory whose files were synced.
fn create_dir_durably(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    create_dir_durably(parent)?;
    match fs::create_dir(dir) {
        Ok(()) => sync_dir(if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        }),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io("create", dir, e)),
    }
}

/// Who may read a file athanor writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// The owner alone (0600): state records and the local emulator's token.
    Private,
    /// Anyone the umask lets (a TypeScript declaration beside the code).
    Shared,
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename, fsync of the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], access: Access) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    if !dir.is_dir() {
        create_dir_durably(dir)?;
    }
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if access == Access::Private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&tmp)
            .map_err(|e| Error::io("create", &tmp, e))?;
        file.write_all(bytes)
            .map_err(|e| Error::io("write", &tmp, e))?;
        file.sync_all().map_err(|e| Error::io("sync", &tmp, e))?;
        drop(file);
        fs::rename(&tmp, path).map_err(|e| Error::io("rename into place", path, e))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn sync_dir(dir: &Path) -> Result<()> {
    // Directories can be opened and synced on Unix; elsewhere the rename is what we have.
    #[cfg(unix)]
    {
        match File::open(dir).and_then(|d| d.sync_all()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("sync", dir, e)),
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A file name for an id: ASCII letters, digits, `-` and `_` as they are; every other byte as
/// `%XX`, so that distinct ids never share a file and no id escapes the directory.
pub(crate) fn file_name(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    out
}

/// The id [`file_name`] made `file` from; `None` for a name it does not make (so that no name
/// read back stands for another's file).
pub(crate) fn name_of_file(file: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(file.len());
    let mut rest = file.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    let name = String::from_utf8(bytes).ok()?;
    (file_name(&name) == file).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::sample_record;

    #[test]
    fn file_names_cannot_collide_or_escape() {
        assert_eq!(file_name("my-kv_1"), "my-kv_1");
        assert_ne!(file_name("a.b"), file_name("a_b"));
        assert!(!file_name("../x").contains('/'));
    }

    #[test]
    fn file_names_read_back_as_the_names_they_were_made_from() {
        for name in ["tenant-acme", "a.b", "../x", "ünï", "a%2Eb"] {
            assert_eq!(name_of_file(&file_name(name)).as_deref(), Some(name));
        }
        // Names file_name never makes: not read as another name's.
        for file in ["a.b", "%2e", "%+1", "%2", "%", "%FF"] {
            assert_eq!(name_of_file(file), None, "{file}");
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn state_files_are_the_owners_alone_and_declarations_are_not() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = deployed(dir.path(), "app", "dev").await;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let records: Vec<_> = fs::read_dir(store.dir().join("resources"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(!records.is_empty());
        for record in records {
            assert_eq!(mode(&record), 0o600, "{}", record.display());
        }
        let declaration = dir.path().join("worker.env.d.ts");
        write_atomic(&declaration, b"interface Env {}\n", Access::Shared).unwrap();
        let plain = dir.path().join("plain.txt");
        fs::write(&plain, b"x").unwrap();
        assert_eq!(mode(&declaration), mode(&plain), "as the umask lets");
    }

    /// Writes a record to `app`/`stage` under `base`; returns the store.
    async fn deployed(base: &Path, app: &str, stage: &str) -> Local {
        let store = Local::new(base, app, stage);
        store
            .write_record(&sample_record("kv", "app-kv"))
            .await
            .unwrap();
        store
    }

    #[tokio::test]
    async fn the_stages_with_records_are_listed_sorted() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        assert!(list_stages(base, "app").await.unwrap().is_empty());
        for stage in ["tenant-b", "tenant-a", "tenant.c", "Zed"] {
            deployed(base, "app", stage).await;
        }
        // Another app's stages, and an app whose name starts like this one's.
        deployed(base, "other", "tenant-x").await;
        deployed(base, "app2", "tenant-y").await;
        // Not stages: a file, a directory file_name does not make, one with only temporary files.
        fs::write(base.join("app").join("notes.txt"), b"").unwrap();
        let foreign = base.join("app").join("a.b").join("resources");
        fs::create_dir_all(&foreign).unwrap();
        fs::write(foreign.join("kv.json"), b"{}").unwrap();
        let torn = base.join("app").join("torn").join("resources");
        fs::create_dir_all(&torn).unwrap();
        fs::write(torn.join(".kv.json.tmp-1-0"), b"{").unwrap();
        assert_eq!(
            list_stages(base, "app").await.unwrap(),
            ["Zed", "tenant-a", "tenant-b", "tenant.c"]
        );
    }

    #[tokio::test]
    async fn a_destroyed_or_emptied_stage_is_not_listed() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        deployed(base, "app", "kept").await;
        // Destroyed: every record removed, then the stage-wide file (`remove_if_empty`).
        let destroyed = deployed(base, "app", "destroyed").await;
        destroyed
            .write_meta(&Meta {
                schema_version: super::super::SCHEMA_VERSION,
                app: "app".into(),
                stage: "destroyed".into(),
                secrets: None,
                account: None,
            })
            .await
            .unwrap();
        destroyed.remove_record("kv").await.unwrap();
        destroyed.remove_meta().await.unwrap();
        // Its records removed without the stage-wide file (`state forget` of the last one).
        let forgotten = deployed(base, "app", "forgotten").await;
        forgotten.remove_record("kv").await.unwrap();
        // Locked, nothing written yet.
        let locking = Local::new(base, "app", "locking");
        let me = Holder::me();
        locking
            .try_lock(&me, Duration::from_secs(30), false)
            .await
            .unwrap();
        assert!(destroyed.dir().exists(), "the emptied directory stays");
        assert_eq!(list_stages(base, "app").await.unwrap(), ["kept"]);
        locking.unlock().await.unwrap();
    }
}
