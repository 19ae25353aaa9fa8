//! Recorded state: what athanor deployed for one app and stage, and the stage lock.
//!
//! A stage's state is a stage-wide part ([`Meta`]) and one [`Record`] per resource, each written
//! whole and atomically, so that concurrent steps write without rewriting everything and a crash
//! at any instant leaves every record either old or new. Where it lives is a [`StateLocation`]:
//!
//! - `local`: a directory on this machine (the default);
//! - `s3`: an S3-compatible bucket (R2, AWS S3, MinIO), through `object_store`;
//! - `postgres`: a Postgres database, through `tokio-postgres`.
//!
//! [`StateStore`] is the one entry point, the same for every store: it loads, writes records,
//! takes the stage lock (a lease with a heartbeat on shared stores, see `lease`), and refuses to
//! write once the lease is lost. Shared stores also refuse a write that would overwrite another
//! run's (see each store's module).

mod lease;
mod local;
mod local_lock;
mod location;
mod postgres;
mod s3;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use athanor_core::provider::Existing;
use athanor_core::{Kind, Output, Props};

use crate::error::{Error, Result};
use crate::secrets::SecretsHeader;

pub(crate) use lease::LockOptions;
pub(crate) use local::{Access, file_name, write_atomic};
pub use location::StateLocation;

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
    /// Whether any record holds a secret's digest (then a password is needed to compare).
    /// State keeps no secret value, sealed or not: only these digests. (Records written by an
    /// earlier version with sealed values load fine; the values are dropped at the next write.)
    pub fn holds_secrets(&self) -> bool {
        self.records.values().any(|r| !r.digests.secrets.is_empty())
    }
}

/// The directory that holds every app's local state and the local emulator's data:
/// `$ATHANOR_STATE_DIR` when set, else `<stack root>/.athanor`.
pub fn base_dir(stack_root: &Path) -> PathBuf {
    match std::env::var_os("ATHANOR_STATE_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => stack_root.join(".athanor"),
    }
}

/// The stage a shared store that lists an app's stages is named by in messages: all of them.
const ALL_STAGES: &str = "*";

/// The stages of `app` at `location` that hold state, sorted, each once: how a platform that
/// keeps one stage per tenant finds its tenants. A stage holds state while it has a record; one
/// whose records a destroy removed is not listed. The local and Postgres stores tell exactly;
/// the S3 store lists by keys alone, so it also lists a stage whose state is only its stage-wide
/// part (see `s3::stages`).
pub(crate) async fn list_stages(location: &StateLocation, app: &str) -> Result<Vec<String>> {
    match location {
        StateLocation::Local(base) => local::list_stages(base, app).await,
        StateLocation::S3 { bucket, prefix, r2 } => s3::list_stages(bucket, prefix, *r2, app).await,
        StateLocation::Postgres(url) => postgres::list_stages(url, app).await,
    }
}

/// The store behind a [`StateStore`].
#[derive(Debug)]
enum Backend {
    Local(local::Local),
    S3(s3::S3),
    Postgres(postgres::Postgres),
}

/// Calls the same method on whichever store it is.
macro_rules! on_backend {
    ($backend:expr, $b:ident => $call:expr) => {
        match $backend {
            Backend::Local($b) => $call,
            Backend::S3($b) => $call,
            Backend::Postgres($b) => $call,
        }
    };
}

/// The state of one app and stage, wherever it lives.
#[derive(Debug, Clone)]
pub struct StateStore {
    backend: Arc<Backend>,
    stage: String,
    health: lease::LeaseHealth,
}

impl StateStore {
    /// The store of `app`/`stage` at `location`. Nothing is read or connected until a method
    /// is called, so a store that cannot be reached fails there, naming it.
    pub fn new(location: &StateLocation, app: &str, stage: &str) -> StateStore {
        let backend = match location {
            StateLocation::Local(base) => Backend::Local(local::Local::new(base, app, stage)),
            StateLocation::S3 { bucket, prefix, r2 } => {
                Backend::S3(s3::S3::new(bucket, prefix, *r2, app, stage))
            }
            StateLocation::Postgres(url) => {
                Backend::Postgres(postgres::Postgres::new(url.clone(), app, stage))
            }
        };
        StateStore {
            backend: Arc::new(backend),
            stage: stage.to_owned(),
            health: lease::LeaseHealth::default(),
        }
    }

    /// Where this stage's state is, for messages (never with a password).
    pub fn location(&self) -> String {
        on_backend!(&*self.backend, b => b.describe())
    }

    /// The stage directory, when state is local.
    pub fn dir(&self) -> Option<&Path> {
        match &*self.backend {
            Backend::Local(local) => Some(local.dir()),
            _ => None,
        }
    }

    /// Reads the whole state; a stage never deployed reads as empty.
    pub async fn load(&self) -> Result<Snapshot> {
        on_backend!(&*self.backend, b => b.load().await)
    }

    /// Reads one record, if present.
    pub async fn load_record(&self, id: &str) -> Result<Option<Record>> {
        Ok(self.load().await?.records.remove(id))
    }

    /// Writes one record, whole.
    pub async fn write_record(&self, record: &Record) -> Result<()> {
        self.check_lease()?;
        on_backend!(&*self.backend, b => b.write_record(record).await)
    }

    /// Removes one record (a missing one is fine).
    pub async fn remove_record(&self, id: &str) -> Result<()> {
        self.check_lease()?;
        on_backend!(&*self.backend, b => b.remove_record(id).await)
    }

    /// Writes the stage-wide part.
    pub async fn write_meta(&self, meta: &Meta) -> Result<()> {
        self.check_lease()?;
        on_backend!(&*self.backend, b => b.write_meta(meta).await)
    }

    /// Removes the stage-wide part when no record is left (after a destroy).
    pub async fn remove_if_empty(&self) -> Result<()> {
        if !self.load().await?.records.is_empty() {
            return Ok(());
        }
        self.check_lease()?;
        on_backend!(&*self.backend, b => b.remove_meta().await)
    }

    /// Takes the stage lock, waiting for it as `options` say; the lock is held until the guard
    /// is released (or dropped).
    pub(crate) async fn lock(&self, options: LockOptions) -> Result<StageGuard> {
        let me = lease::Holder::me();
        let backend = &self.backend;
        let busy = lease::wait_for(options.wait, || async {
            on_backend!(&**backend, b => b.try_lock(&me, options.lease, options.force).await)
        })
        .await?;
        if let Some(holder) = busy {
            let location = on_backend!(&**backend, b => b.lock_location());
            return Err(holder.locked(&self.stage, location));
        }
        let heartbeat = match &**backend {
            Backend::Local(_) => lease::Heartbeat::none(),
            _ => {
                let backend = Arc::clone(backend);
                lease::heartbeat(options.lease, self.health.clone(), move || {
                    let backend = Arc::clone(&backend);
                    async move { on_backend!(&*backend, b => b.renew(options.lease).await) }
                })
            }
        };
        Ok(StageGuard {
            backend: Arc::clone(backend),
            heartbeat: Some(heartbeat),
        })
    }

    /// Refuses to write once the heartbeat has found the lease lost.
    fn check_lease(&self) -> Result<()> {
        match self.health.lost() {
            None => Ok(()),
            Some(why) => Err(Error::LockLost {
                stage: self.stage.clone(),
                location: on_backend!(&*self.backend, b => b.lock_location()),
                why,
            }),
        }
    }
}

/// A held stage lock. [`StageGuard::release`] settles the store's writes and frees the lock; a
/// guard dropped without it frees the lock as it can (a shared store's lease then runs out).
#[derive(Debug)]
pub(crate) struct StageGuard {
    backend: Arc<Backend>,
    heartbeat: Option<lease::Heartbeat>,
}

impl StageGuard {
    /// Settles what this run wrote (a shared store's log is compacted) and frees the lock.
    pub(crate) async fn release(mut self) -> Result<()> {
        drop(self.heartbeat.take());
        let settled = on_backend!(&*self.backend, b => b.settle().await);
        let unlocked = on_backend!(&*self.backend, b => b.unlock().await);
        settled.and(unlocked)
    }
}

impl Drop for StageGuard {
    fn drop(&mut self) {
        if self.heartbeat.take().is_none() {
            return; // released
        }
        match &*self.backend {
            Backend::Local(local) => local.unlock_now(),
            _ => {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    let backend = Arc::clone(&self.backend);
                    runtime.spawn(async move {
                        let _ = on_backend!(&*backend, b => b.unlock().await);
                    });
                }
            }
        }
    }
}

/// Removes `id` from the state of `stage` without deleting it at the target (`state forget`),
/// under the stage lock; returns the record it held.
pub(crate) async fn forget(store: &StateStore, id: &str, lock: LockOptions) -> Result<Record> {
    let guard = store.lock(lock).await?;
    let result = async {
        let record = store
            .load_record(id)
            .await?
            .ok_or_else(|| Error::NotInState {
                id: id.to_owned(),
                stage: store.stage.clone(),
            })?;
        store.remove_record(id).await?;
        Ok(record)
    }
    .await;
    let released = guard.release().await;
    let record = result?;
    released?;
    Ok(record)
}

/// Copies the state of a stage from `from` to `to` (`state migrate`), holding both stage locks;
/// returns the number of records copied. `to` must hold no state of this stage yet; `from` is
/// left as it was, for the user to remove once the new store is in use.
pub(crate) async fn migrate(
    from: &StateStore,
    to: &StateStore,
    lock: LockOptions,
) -> Result<usize> {
    if from.location() == to.location() {
        return Err(Error::StateSetting {
            value: to.location(),
            message: "it is where the state already is".into(),
        });
    }
    let from_guard = from.lock(lock).await?;
    let to_guard = match to.lock(lock).await {
        Ok(guard) => guard,
        Err(e) => {
            let _ = from_guard.release().await;
            return Err(e);
        }
    };
    let copied = async {
        let target = to.load().await?;
        if target.meta.is_some() || !target.records.is_empty() {
            return Err(Error::StateSetting {
                value: to.location(),
                message: format!(
                    "it already holds state of stage `{}` ({} records): migrate into an empty place, or remove that state first",
                    to.stage,
                    target.records.len()
                ),
            });
        }
        let snapshot = from.load().await?;
        if let Some(meta) = &snapshot.meta {
            to.write_meta(meta).await?;
        }
        for record in snapshot.records.values() {
            to.write_record(record).await?;
        }
        // What was written reads back the same.
        let written = to.load().await?;
        if written.records != snapshot.records || written.meta != snapshot.meta {
            return Err(Error::StateConflict {
                stage: to.stage.clone(),
                location: to.location(),
                detail: "the copy does not read back as the original".into(),
            });
        }
        Ok(snapshot.records.len())
    }
    .await;
    let to_released = to_guard.release().await;
    let from_released = from_guard.release().await;
    let copied = copied?;
    to_released?;
    from_released?;
    Ok(copied)
}

/// Checks the schema version of `file` (a path, or an object or row of a shared store).
fn check_version(file: &str, found: u32) -> Result<()> {
    if found > SCHEMA_VERSION || found == 0 {
        return Err(Error::StateVersion {
            file: file.to_owned(),
            found,
            expected: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Parses a state document read from `file`.
fn parse_json<T: serde::de::DeserializeOwned>(file: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::StateCorrupt {
        file: file.to_owned(),
        message: e.to_string(),
    })
}

/// A state document as written: pretty JSON and a final newline, readable by people.
fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("state serializes");
    bytes.push(b'\n');
    bytes
}

/// A KV namespace's record, created, named `name`: the stores' tests write it.
#[cfg(test)]
pub(crate) fn sample_record(id: &str, name: &str) -> Record {
    use athanor_core::output::KvNamespaceOutput;
    use athanor_core::stack::KvNamespace;
    Record {
        schema_version: SCHEMA_VERSION,
        id: id.into(),
        kind: Kind::KvNamespace,
        status: Status::Created,
        name: name.into(),
        props: KvNamespace::default().into(),
        adopt: false,
        delete: true,
        output: Some(Output::KvNamespace(KvNamespaceOutput {
            id: "0123".into(),
            title: name.into(),
        })),
        dependencies: vec![],
        digests: Digests::default(),
        superseded: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn local(base: &Path) -> StateStore {
        StateStore::new(&StateLocation::Local(base.to_owned()), "app", "dev")
    }

    fn record(id: &str) -> Record {
        sample_record(id, "app-kv-dev")
    }

    #[tokio::test]
    async fn records_round_trip_and_removal_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let store = local(tmp.path());
        assert_eq!(store.load().await.unwrap(), Snapshot::default());
        store.write_record(&record("kv")).await.unwrap();
        store.write_record(&record("a/../b")).await.unwrap();
        let loaded = store.load().await.unwrap();
        assert_eq!(loaded.records["kv"], record("kv"));
        assert_eq!(loaded.records["a/../b"], record("a/../b"));
        assert!(
            store
                .dir()
                .unwrap()
                .join("resources")
                .join("a%2F%2E%2E%2Fb.json")
                .exists()
        );
        store.remove_record("kv").await.unwrap();
        store.remove_record("kv").await.unwrap();
        assert_eq!(store.load().await.unwrap().records.len(), 1);
    }

    #[tokio::test]
    async fn a_leftover_temporary_file_does_not_disturb_the_last_good_state() {
        let tmp = tempfile::tempdir().unwrap();
        let store = local(tmp.path());
        store.write_record(&record("kv")).await.unwrap();
        // A crash between writing the temporary file and the rename leaves this behind.
        let torn = store
            .dir()
            .unwrap()
            .join("resources")
            .join(".kv.json.tmp-1-0");
        fs::write(&torn, b"{\"schema_version\": 1, \"id\": ").unwrap();
        let loaded = store.load().await.unwrap();
        assert_eq!(loaded.records["kv"], record("kv"));
        // Overwriting replaces the file whole.
        let mut changed = record("kv");
        changed.name = "renamed".into();
        store.write_record(&changed).await.unwrap();
        assert_eq!(store.load().await.unwrap().records["kv"].name, "renamed");
    }

    #[tokio::test]
    async fn a_stage_is_listed_until_a_destroy_empties_it() {
        let tmp = tempfile::tempdir().unwrap();
        let location = StateLocation::Local(tmp.path().to_owned());
        let store = StateStore::new(&location, "app", "tenant-acme");
        store.write_record(&record("kv")).await.unwrap();
        StateStore::new(&location, "app", "tenant-beta")
            .write_record(&record("kv"))
            .await
            .unwrap();
        assert_eq!(
            list_stages(&location, "app").await.unwrap(),
            ["tenant-acme", "tenant-beta"]
        );
        store.remove_record("kv").await.unwrap();
        store.remove_if_empty().await.unwrap();
        assert_eq!(
            list_stages(&location, "app").await.unwrap(),
            ["tenant-beta"]
        );
        assert!(list_stages(&location, "other").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_corrupt_or_newer_file_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let store = local(tmp.path());
        store.write_record(&record("kv")).await.unwrap();
        let path = store.dir().unwrap().join("resources").join("kv.json");
        fs::write(&path, b"not json").unwrap();
        let err = store.load().await.unwrap_err();
        assert!(err.to_string().contains("kv.json"), "{err}");
        let mut newer = serde_json::to_value(record("kv")).unwrap();
        newer["schema_version"] = 99.into();
        fs::write(&path, serde_json::to_vec(&newer).unwrap()).unwrap();
        assert!(matches!(
            store.load().await,
            Err(Error::StateVersion { found: 99, .. })
        ));
    }
}
