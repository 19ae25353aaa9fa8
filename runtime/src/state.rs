//! Recorded state: what athanor deployed for one app and stage.
//!
//! Layout, under `<stack root>/.athanor/<app>/<stage>/` (or `$ATHANOR_STATE_DIR/<app>/<stage>/`):
//!
//! ```text
//! state.json               schema version, app, stage, and the secrets header (KDF salt, check)
//! resources/<id>.json      one record per resource: kind, status, resolved name, props, output,
//!                          dependencies, digests of inputs, sealed secret values
//! lock                     the stage lock while a deploy or destroy runs (see `lock`)
//! ```
//!
//! Every file is readable, pretty-printed JSON carrying a schema version. Every write is atomic:
//! a temporary file in the same directory, fsync, rename over the old file, fsync of the directory;
//! so a crash at any instant leaves either the old or the new file, never a torn one. One file per
//! resource lets concurrent steps write without rewriting everything.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use athanor_core::provider::Existing;
use athanor_core::{Kind, Output, Props};

use crate::error::{Error, Result};
use crate::secrets::{Sealed, SecretsHeader};

/// The schema version this runtime reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// The stage-wide part of state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// [`SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The application.
    pub app: String,
    /// The stage.
    pub stage: String,
    /// The password's KDF salt and check value, once a secret has been stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<SecretsHeader>,
    /// The account the stage is deployed into (the emulator's fixed account id for the local
    /// emulator); a run against another account is refused. Absent in state written before
    /// accounts were recorded, and then taken from the next deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// Where a resource is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A create call was about to be sent: the resource may or may not exist. The next run
    /// adopts it instead of creating a duplicate.
    Creating,
    /// Created or updated; `output` is current.
    Created,
}

/// Digests of the inputs of the last apply that the properties alone do not show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digests {
    /// The provider's fingerprint of inputs outside the declaration (a Worker's modules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Keyed digests (HMAC) of secret values, by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
    /// SHA-256 of each referenced resource's output when this one was last applied, so that a
    /// changed dependency (a replaced namespace) makes this one point at the new one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deps: BTreeMap<String, String>,
}

/// An earlier instance of a replaced resource, kept until it is deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Its physical name.
    pub name: String,
    /// Its properties.
    pub props: Props,
    /// Its output.
    pub output: Output,
    /// Whether to delete it (`delete: false` only forgets).
    pub delete: bool,
    /// What it referenced.
    #[serde(default)]
    pub dependencies: Vec<String>,
}

/// What state knows about one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// [`SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The logical id.
    pub id: String,
    /// The kind.
    pub kind: Kind,
    /// See [`Status`].
    pub status: Status,
    /// The resolved physical name.
    pub name: String,
    /// The properties applied (or being applied, while `creating`).
    pub props: Props,
    /// `adopt` as declared.
    #[serde(default)]
    pub adopt: bool,
    /// `delete` as declared.
    pub delete: bool,
    /// The provider's output; `None` while `creating`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Output>,
    /// The logical ids it references.
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// See [`Digests`].
    #[serde(default)]
    pub digests: Digests,
    /// Its secret values, sealed under the state password, by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, Sealed>,
    /// Replaced instances still to delete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<Instance>,
}

impl Record {
    /// The recorded resource as a provider sees it; `None` while it has no output (`creating`).
    pub fn existing(&self) -> Option<Existing<'_>> {
        let output = self.output.as_ref()?;
        Some(Existing {
            id: &self.id,
            props: &self.props,
            output,
            delete: self.delete,
        })
    }
}

/// Everything in the state of one stage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The stage-wide part, if state was ever written.
    pub meta: Option<Meta>,
    /// The records, by logical id.
    pub records: BTreeMap<String, Record>,
}

impl Snapshot {
    /// Whether any record holds a sealed secret (then a password is needed).
    pub fn holds_secrets(&self) -> bool {
        self.records.values().any(|r| !r.secrets.is_empty())
    }
}

/// The state directory of one app and stage.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

/// The directory that holds every app's state and the local emulator's data:
/// `$ATHANOR_STATE_DIR` when set, else `<stack root>/.athanor`.
pub fn base_dir(stack_root: &Path) -> PathBuf {
    match std::env::var_os("ATHANOR_STATE_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => stack_root.join(".athanor"),
    }
}

impl StateStore {
    /// The store of `app`/`stage` under `base` (see [`base_dir`]).
    pub fn new(base: &Path, app: &str, stage: &str) -> StateStore {
        StateStore {
            dir: base.join(file_name(app)).join(file_name(stage)),
        }
    }

    /// The stage directory.
    pub fn dir(&self) -> &Path {
        &self.dir
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
    pub fn load(&self) -> Result<Snapshot> {
        let mut snapshot = Snapshot::default();
        let meta_path = self.meta_path();
        if meta_path.exists() {
            let meta: Meta = read_json(&meta_path)?;
            check_version(&meta_path, meta.schema_version)?;
            snapshot.meta = Some(meta);
        }
        let dir = self.resources_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(snapshot),
            Err(e) => return Err(Error::io("read", dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read", &dir, e))?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue; // temporary files of an interrupted write
            }
            let record: Record = read_json(&path)?;
            check_version(&path, record.schema_version)?;
            snapshot.records.insert(record.id.clone(), record);
        }
        Ok(snapshot)
    }

    /// Reads one record, if present.
    pub fn load_record(&self, id: &str) -> Result<Option<Record>> {
        let path = self.record_path(id);
        if !path.exists() {
            return Ok(None);
        }
        let record: Record = read_json(&path)?;
        check_version(&path, record.schema_version)?;
        Ok(Some(record))
    }

    /// Removes the stage-wide file and the directories when no record is left (after a destroy).
    pub fn remove_if_empty(&self) -> Result<()> {
        if !self.load()?.records.is_empty() {
            return Ok(());
        }
        let meta = self.meta_path();
        match fs::remove_file(&meta) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove", meta, e)),
        }
        let _ = fs::remove_dir(self.resources_dir());
        Ok(())
    }

    /// Writes the stage-wide part atomically.
    pub fn write_meta(&self, meta: &Meta) -> Result<()> {
        write_atomic(&self.meta_path(), &to_json(meta))
    }

    /// Writes one record atomically.
    pub fn write_record(&self, record: &Record) -> Result<()> {
        write_atomic(&self.record_path(&record.id), &to_json(record))
    }

    /// Removes one record (a missing one is fine), and syncs the directory.
    pub fn remove_record(&self, id: &str) -> Result<()> {
        let path = self.record_path(id);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.resources_dir()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove", path, e)),
        }
    }
}

/// Removes `id` from the state of `stage` without deleting it at the target (`state forget`),
/// under the stage lock; returns the record it held.
pub(crate) fn forget(
    store: &StateStore,
    stage: &str,
    id: &str,
    force_unlock: bool,
) -> Result<Record> {
    let _lock = crate::lock::StageLock::acquire(store.dir(), stage, force_unlock)?;
    let record = store.load_record(id)?.ok_or_else(|| Error::NotInState {
        id: id.to_owned(),
        stage: stage.to_owned(),
    })?;
    store.remove_record(id)?;
    Ok(record)
}

fn check_version(path: &Path, found: u32) -> Result<()> {
    if found > SCHEMA_VERSION || found == 0 {
        return Err(Error::StateVersion {
            path: path.to_owned(),
            found,
            expected: SCHEMA_VERSION,
        });
    }
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).map_err(|e| Error::io("read", path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::StateCorrupt {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("state serializes");
    bytes.push(b'\n');
    bytes
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename, fsync of the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
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
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io("sync", dir, e))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use athanor_core::output::KvNamespaceOutput;
    use athanor_core::stack::KvNamespace;

    fn record(id: &str) -> Record {
        Record {
            schema_version: SCHEMA_VERSION,
            id: id.into(),
            kind: Kind::KvNamespace,
            status: Status::Created,
            name: "app-kv-dev".into(),
            props: KvNamespace::default().into(),
            adopt: false,
            delete: true,
            output: Some(Output::KvNamespace(KvNamespaceOutput {
                id: "0123".into(),
                title: "app-kv-dev".into(),
            })),
            dependencies: vec![],
            digests: Digests::default(),
            secrets: BTreeMap::new(),
            superseded: vec![],
        }
    }

    #[test]
    fn records_round_trip_and_removal_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let store = StateStore::new(tmp.path(), "app", "dev");
        assert_eq!(store.load().unwrap(), Snapshot::default());
        store.write_record(&record("kv")).unwrap();
        store.write_record(&record("a/../b")).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.records["kv"], record("kv"));
        assert_eq!(loaded.records["a/../b"], record("a/../b"));
        assert!(
            store
                .dir()
                .join("resources")
                .join("a%2F%2E%2E%2Fb.json")
                .exists()
        );
        store.remove_record("kv").unwrap();
        store.remove_record("kv").unwrap();
        assert_eq!(store.load().unwrap().records.len(), 1);
    }

    #[test]
    fn a_leftover_temporary_file_does_not_disturb_the_last_good_state() {
        let tmp = tempfile::tempdir().unwrap();
        let store = StateStore::new(tmp.path(), "app", "dev");
        store.write_record(&record("kv")).unwrap();
        // A crash between writing the temporary file and the rename leaves this behind.
        let torn = store.dir().join("resources").join(".kv.json.tmp-1-0");
        fs::write(&torn, b"{\"schema_version\": 1, \"id\": ").unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.records["kv"], record("kv"));
        // Overwriting replaces the file whole.
        let mut changed = record("kv");
        changed.name = "renamed".into();
        store.write_record(&changed).unwrap();
        assert_eq!(store.load().unwrap().records["kv"].name, "renamed");
    }

    #[test]
    fn a_corrupt_or_newer_file_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let store = StateStore::new(tmp.path(), "app", "dev");
        store.write_record(&record("kv")).unwrap();
        let path = store.dir().join("resources").join("kv.json");
        fs::write(&path, b"not json").unwrap();
        let err = store.load().unwrap_err();
        assert!(err.to_string().contains("kv.json"), "{err}");
        let mut newer = serde_json::to_value(record("kv")).unwrap();
        newer["schema_version"] = 99.into();
        fs::write(&path, serde_json::to_vec(&newer).unwrap()).unwrap();
        assert!(matches!(
            store.load(),
            Err(Error::StateVersion { found: 99, .. })
        ));
    }

    #[test]
    fn file_names_cannot_collide_or_escape() {
        assert_eq!(file_name("my-kv_1"), "my-kv_1");
        assert_ne!(file_name("a.b"), file_name("a_b"));
        assert!(!file_name("../x").contains('/'));
    }
}
