//! State in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO), through `object_store`.
//!
//! # Layout
//!
//! Under `<prefix>/<app>/<stage>/`, with app and stage escaped as local directory names are
//! (`file_name`), so that no name reaches another stage's keys:
//!
//! ```text
//! snapshot.json                   the state compacted: {schema_version, seq, meta, records}
//! log/<seq, 20 digits>.json       one change each: a record written or removed, the meta
//!                                 written or removed; {schema_version, seq, writer, change}
//! lock                            the stage lock: its holder, token and lease expiry
//! ```
//!
//! The state is the snapshot with every log entry newer than it (by `seq`) applied in order.
//! Entries at or below the snapshot's `seq` are already in it (a run stopped between writing
//! the snapshot and deleting them) and are ignored. A stage holds state while it has a snapshot
//! or a log entry: one list of the app's keys finds such stages (`stages`).
//!
//! # Why a log and a snapshot
//!
//! - Reading is cheap: one list of the stage's keys and one get of the snapshot, whatever the
//!   number of resources; after a compaction no entry is newer, so a no-op deploy reads its
//!   state with two requests.
//! - Every write is one PUT of a small object, atomic in every S3 store: a crash leaves either
//!   no entry or a whole one, so the "creating" record written before each create survives it,
//!   and concurrent steps of a run write side by side, each under its own sequence number.
//! - Every entry is created with `If-None-Match: *` at the next sequence number after what this
//!   run read. If the key is taken, another writer wrote state this run did not read: the write
//!   is refused as [`Error::StateConflict`] and nothing is overwritten.
//!
//! When the run releases the stage ([`S3::settle`]), the state as this run knows it (what it
//! read, and its own entries) becomes the new snapshot, written with `If-Match` on the ETag it
//! read (`If-None-Match: *` when there was none): a snapshot rewritten by another run in the
//! meantime is a conflict. A list of the log first makes sure no other writer added entries.
//! Then the compacted entries are deleted. A stage left with no meta and no record (after a
//! destroy) is removed: an empty snapshot first, then the entries, then the snapshot, so that at
//! no instant can what is left be read as a state with resources in it. The lock stays. A run
//! that wrote nothing but read entries a stopped run left compacts them too; if that fails, it
//! only warns.
//!
//! What the log cannot catch is a run that read state, stalled past its lease while another run
//! took the lock, wrote and compacted, and then writes under a sequence number the compaction
//! freed: the entry is at or below the new snapshot and loads ignore it. The lease is what
//! prevents this (a run stops writing once its heartbeat finds the lease lost), and the stalled
//! run's own compaction fails as a conflict that names the changes the state is missing.
//!
//! # The lock
//!
//! `lock` holds the [`Holder`] as JSON, with this holding's `token` and `expires_ms`, the end of
//! the lease in milliseconds since the epoch.
//!
//! - Taking it: create the object with `If-None-Match: *`. If it exists, read it with its ETag:
//!   a lease that has run out, a released lock, or `--force-unlock` is taken over by a PUT with
//!   `If-Match` on that ETag (if that fails, another run was faster: the lock is busy); else the
//!   lock is busy and its holder reported.
//! - Renewing (the heartbeat, every third of the lease): a PUT with `If-Match` on the ETag of the
//!   object this run last wrote, with a later expiry. If it fails on the ETag, another run took
//!   the lock over: [`Error::LockLost`], naming that run.
//! - Releasing: a PUT with `If-Match` on the ETag this run last wrote, with `expires_ms: 0`. A
//!   conditional PUT rather than a delete, because `object_store` has no conditional delete,
//!   and an unconditional one could remove a lock another run took over after this run's lease
//!   ran out. The released object also shows who last held the stage.
//!
//! A write whose answer was lost may have landed: a create that finds its key taken, or an
//! `If-Match` that fails, first reads the object and recognizes this run's own bytes or token.
//!
//! Expiry is judged by the clock of the run that reads the lock, against an expiry written by
//! the clock of the run that holds it. A live holder renews every third of the lease, so its
//! lease has at least two thirds left whenever a renewal is on time: a reader whose clock runs
//! ahead by less than that (20 s with the default lease of 30 s; NTP keeps clocks far closer)
//! never judges a live holder's lease run out. Skew only moves, by as much, the moment a crashed
//! run's lock becomes free.
//!
//! # Credentials
//!
//! `s3://` reads the usual `AWS_*` variables (`AmazonS3Builder::from_env`: keys, region,
//! `AWS_ENDPOINT` for stores other than AWS, `AWS_ALLOW_HTTP`). `r2://` finds its endpoint from
//! `CLOUDFLARE_ACCOUNT_ID` and its keys from `R2_ACCESS_KEY_ID` / `R2_SECRET_ACCESS_KEY` (else
//! the `AWS_*` ones). Keys never appear in `Debug`, errors or logs: messages are built from the
//! location and the store's answer, with any key value masked in case a server echoes it.

mod lock;
mod log;
mod requests;
mod stages;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload, UpdateVersion};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::lease::{Acquired, Holder, now_ms};
use super::local::name_of_file;
use super::{
    ALL_STAGES, Meta, Record, SCHEMA_VERSION, Snapshot, check_version, file_name, parse_json,
    to_json,
};
use crate::error::{Error, Result};

/// The compacted state, under the stage's prefix.
const SNAPSHOT: &str = "snapshot.json";
/// The folder of changes newer than the snapshot.
const LOG: &str = "log";
/// The stage lock.
const LOCK: &str = "lock";
/// How many times a read starts again when a compaction removed what it listed.
const READ_ATTEMPTS: usize = 3;
/// How many log entries a read fetches at once.
const CONCURRENT_READS: usize = 16;
/// Variables that may hold keys: their values are masked in every message.
const KEY_VARIABLES: [&str; 6] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_TOKEN",
    "R2_ACCESS_KEY_ID",
    "R2_SECRET_ACCESS_KEY",
];

/// The state of one app and stage in a bucket.
pub(crate) struct S3 {
    /// The client and the stage's key prefix, or why they cannot be set up (every call says).
    conn: std::result::Result<Conn, String>,
    /// `s3` or `r2`, for messages.
    scheme: &'static str,
    bucket: String,
    stage: String,
    /// The stage's key prefix, for messages.
    dir: String,
    /// Key values to mask in messages.
    masks: Vec<SecretString>,
    /// Names this store's log entries, so that an entry whose answer was lost is recognized.
    writer: String,
    /// What this store read and wrote since it last settled (boxed, as is `held`: they are
    /// large, and the facade keeps a store of each kind in one enum).
    tracked: Box<Mutex<Tracked>>,
    /// The lock, while this store holds it.
    held: Box<Mutex<Option<Held>>>,
    /// Requests sent, for the tests that count them.
    #[cfg(test)]
    requests: std::sync::atomic::AtomicUsize,
}

/// A client for the bucket and the stage's key prefix.
struct Conn {
    store: AmazonS3,
    dir: Path,
}

/// What a store knows of the log since it last settled.
#[derive(Default)]
struct Tracked {
    /// What the last read found, kept from the first write on: the base of the next snapshot.
    base: Option<Base>,
    /// The next sequence number to write.
    next: u64,
    /// The entries this store wrote since `base`, by sequence number.
    written: BTreeMap<u64, Written>,
    /// A write found another writer's entry: compaction is left to a later run.
    conflicted: bool,
}

/// The state as one read found it.
#[derive(Debug, Clone)]
struct Base {
    /// The snapshot's ETag, or `None` when there was no snapshot.
    version: Option<UpdateVersion>,
    /// The snapshot's sequence number (0: none).
    seq: u64,
    /// The snapshot with the newer entries applied.
    state: Snapshot,
    /// The sequence numbers of the log entries listed.
    entries: BTreeSet<u64>,
}

impl Base {
    /// The highest sequence number this read saw.
    fn top(&self) -> u64 {
        self.entries
            .last()
            .map_or(self.seq, |&last| last.max(self.seq))
    }
}

/// One entry this store wrote.
#[derive(Clone)]
struct Written {
    change: Change,
    /// The object as sent, to recognize it.
    bytes: Vec<u8>,
    /// Whether the store acknowledged it (else it may or may not have landed).
    landed: bool,
}

/// The lock as this store last wrote it.
struct Held {
    holder: Holder,
    version: UpdateVersion,
}

/// `snapshot.json`.
#[derive(Debug, Serialize, Deserialize)]
struct SnapshotDoc {
    schema_version: u32,
    /// The highest sequence number whose change it holds.
    seq: u64,
    #[serde(default)]
    meta: Option<Meta>,
    #[serde(default)]
    records: Vec<Record>,
}

/// `log/<seq>.json`.
#[derive(Debug, Serialize, Deserialize)]
struct EntryDoc {
    schema_version: u32,
    seq: u64,
    /// The store that wrote it (a random id per run).
    writer: String,
    change: Change,
}

/// One change to the state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Change {
    WriteRecord { record: Box<Record> },
    RemoveRecord { id: String },
    WriteMeta { meta: Box<Meta> },
    RemoveMeta,
}

impl Change {
    fn apply(&self, state: &mut Snapshot) {
        match self {
            Change::WriteRecord { record } => {
                state.records.insert(record.id.clone(), (**record).clone());
            }
            Change::RemoveRecord { id } => {
                state.records.remove(id);
            }
            Change::WriteMeta { meta } => state.meta = Some((**meta).clone()),
            Change::RemoveMeta => state.meta = None,
        }
    }

    fn check_version(&self, file: &str) -> Result<()> {
        match self {
            Change::WriteRecord { record } => check_version(file, record.schema_version),
            Change::WriteMeta { meta } => check_version(file, meta.schema_version),
            Change::RemoveRecord { .. } | Change::RemoveMeta => Ok(()),
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::WriteRecord { record } => write!(f, "`{}` written", record.id),
            Change::RemoveRecord { id } => write!(f, "`{id}` removed"),
            Change::WriteMeta { .. } => f.write_str("the stage's meta written"),
            Change::RemoveMeta => f.write_str("the stage's meta removed"),
        }
    }
}

/// What a key under the stage's prefix is.
#[derive(Debug, PartialEq, Eq)]
enum Key {
    Snapshot,
    Entry(u64),
    Other,
}

impl fmt::Debug for S3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3")
            .field("location", &self.describe())
            .finish_non_exhaustive()
    }
}

impl S3 {
    /// The store of `app`/`stage` in `bucket` under `prefix`; credentials and endpoint come from
    /// the environment (see the module documentation). Nothing is sent until a call; a setting
    /// that cannot work is reported by every call.
    pub(crate) fn new(bucket: &str, prefix: &str, r2: bool, app: &str, stage: &str) -> S3 {
        let (builder, masks) = from_env(r2);
        S3::with_builder(builder, masks, bucket, prefix, r2, app, stage)
    }

    fn with_builder(
        builder: std::result::Result<AmazonS3Builder, String>,
        masks: Vec<SecretString>,
        bucket: &str,
        prefix: &str,
        r2: bool,
        app: &str,
        stage: &str,
    ) -> S3 {
        let dir = stage_dir(prefix, app, stage);
        S3::under(builder, masks, bucket, prefix, r2, dir, stage)
    }

    /// A store over every stage of `app`, its keys under the app's prefix: it lists the stages
    /// (see `stages`) and is never locked or written.
    fn of_app(
        builder: std::result::Result<AmazonS3Builder, String>,
        masks: Vec<SecretString>,
        bucket: &str,
        prefix: &str,
        r2: bool,
        app: &str,
    ) -> S3 {
        let dir = app_dir(prefix, app);
        S3::under(builder, masks, bucket, prefix, r2, dir, ALL_STAGES)
    }

    /// The store of the keys under `dir` (from `prefix`), named `stage` in messages.
    fn under(
        builder: std::result::Result<AmazonS3Builder, String>,
        masks: Vec<SecretString>,
        bucket: &str,
        prefix: &str,
        r2: bool,
        dir: String,
        stage: &str,
    ) -> S3 {
        athanor_cloudflare::tls::install_crypto_provider();
        let conn = builder.and_then(|builder| {
            let store = builder
                .with_bucket_name(bucket)
                .with_conditional_put(S3ConditionalPut::ETagMatch)
                .build()
                .map_err(|e| format!("the S3 client cannot be set up ({e})"))?;
            let dir = Path::parse(&dir).map_err(|e| {
                format!(
                    "the key prefix `{prefix}` is not usable ({e}): write segments separated by single `/`, without `.` or `..`"
                )
            })?;
            Ok(Conn { store, dir })
        });
        S3 {
            conn,
            scheme: if r2 { "r2" } else { "s3" },
            bucket: bucket.to_owned(),
            stage: stage.to_owned(),
            dir,
            masks,
            writer: uuid::Uuid::new_v4().to_string(),
            tracked: Box::default(),
            held: Box::default(),
            #[cfg(test)]
            requests: Default::default(),
        }
    }

    pub(crate) fn describe(&self) -> String {
        format!("{}://{}/{}", self.scheme, self.bucket, self.dir)
    }

    pub(crate) fn lock_location(&self) -> String {
        format!("{}/{LOCK}", self.describe())
    }

    /// Reads the whole state: one list, a get of the snapshot, a get of each newer entry.
    pub(crate) async fn load(&self) -> Result<Snapshot> {
        let base = self.read().await?;
        let state = base.state.clone();
        let mut tracked = self.tracked();
        tracked.next = tracked.next.max(base.top() + 1);
        // From the first write on, the base stays what that write followed.
        if tracked.base.is_none() || tracked.written.is_empty() {
            tracked.base = Some(base);
        }
        Ok(state)
    }

    pub(crate) async fn write_record(&self, record: &Record) -> Result<()> {
        self.append(Change::WriteRecord {
            record: Box::new(record.clone()),
        })
        .await
    }

    pub(crate) async fn remove_record(&self, id: &str) -> Result<()> {
        self.append(Change::RemoveRecord { id: id.to_owned() })
            .await
    }

    pub(crate) async fn write_meta(&self, meta: &Meta) -> Result<()> {
        self.append(Change::WriteMeta {
            meta: Box::new(meta.clone()),
        })
        .await
    }

    /// Records the meta's removal, then compacts: a stage left empty is removed, all but its
    /// lock.
    pub(crate) async fn remove_meta(&self) -> Result<()> {
        self.append(Change::RemoveMeta).await?;
        self.settle().await
    }

    /// Compacts what this store wrote, or found uncompacted, into the snapshot.
    pub(crate) async fn settle(&self) -> Result<()> {
        let (base, written, conflicted) = {
            let tracked = self.tracked();
            (
                tracked.base.clone(),
                tracked.written.clone(),
                tracked.conflicted,
            )
        };
        let Some(base) = base else {
            return Ok(()); // nothing read, so nothing written
        };
        if written.is_empty() && base.entries.is_empty() {
            return Ok(());
        }
        let wrote = !written.is_empty();
        let compacted = if conflicted {
            // Another writer's entries are in the log: a later run compacts them with ours.
            Ok(None)
        } else {
            self.compact(base, &written).await.map(Some)
        };
        {
            let mut tracked = self.tracked();
            tracked.written.clear();
            tracked.conflicted = false;
            tracked.base = compacted.as_ref().ok().cloned().flatten();
        }
        match compacted {
            Ok(_) => Ok(()),
            Err(e) if wrote => Err(e),
            Err(e) => {
                // Only another run's leftovers were to compact: a later run can do it.
                tracing::warn!(error = %e.report(), "the state log was left uncompacted");
                Ok(())
            }
        }
    }

    pub(crate) async fn try_lock(
        &self,
        me: &Holder,
        lease: Duration,
        force: bool,
    ) -> Result<Acquired> {
        let conn = self.conn("lock")?;
        let key = conn.dir.clone().join(LOCK);
        let mine = Holder {
            expires_ms: Some(expiry(lease)),
            ..me.clone()
        };
        let bytes = to_json(&mine);
        for _ in 0..READ_ATTEMPTS {
            match self.put(conn, &key, bytes.clone(), PutMode::Create).await {
                Ok(version) => return Ok(self.hold(mine, version)),
                Err(object_store::Error::AlreadyExists { .. }) => {}
                Err(e) => return Err(self.failed("lock", &key, e)),
            }
            let Some((current, version)) = self.read_lock(conn, &key).await? else {
                continue; // released by a delete in between: create it again
            };
            match current {
                Ok(holder) if same_holding(&holder, &mine) => {
                    return Ok(self.hold(holder, version)); // our create, its answer lost
                }
                Ok(holder) if !force && !holder.lease_expired(now_ms()) => {
                    return Ok(Acquired::Busy(holder));
                }
                Err(why) if !force => {
                    return Err(Error::StateStore {
                        action: "lock",
                        location: self.key_location(&key),
                        message: format!(
                            "the lock object does not name a holder ({why}): pass --force-unlock to replace it"
                        ),
                    });
                }
                _ => {} // run out, released, or forced: take it over
            }
            return match self
                .put(conn, &key, bytes.clone(), PutMode::Update(version))
                .await
            {
                Ok(version) => Ok(self.hold(mine, version)),
                Err(object_store::Error::Precondition { .. }) => {
                    // Another run took it over first.
                    match self.read_lock(conn, &key).await? {
                        Some((Ok(holder), version)) if same_holding(&holder, &mine) => {
                            Ok(self.hold(holder, version))
                        }
                        Some((Ok(holder), _)) => Ok(Acquired::Busy(holder)),
                        _ => Err(self.lock_churn(&key)),
                    }
                }
                Err(e) => Err(self.failed("lock", &key, e)),
            };
        }
        Err(self.lock_churn(&key))
    }

    /// Extends the lease; [`Error::LockLost`] when another run took the lock over. Bounded by a
    /// third of the lease, so that a stalled request leaves the heartbeat time to notice.
    pub(crate) async fn renew(&self, lease: Duration) -> Result<()> {
        let conn = self.conn("renew the lease on")?;
        let Some((holder, version)) = self.held_now() else {
            return Ok(()); // released
        };
        let limit = (lease / 3).max(Duration::from_secs(1));
        match tokio::time::timeout(limit, self.renew_held(conn, holder, version, lease)).await {
            Ok(renewed) => renewed,
            Err(_) => Err(Error::StateStore {
                action: "renew the lease on",
                location: self.lock_location(),
                message: format!(
                    "no answer within {} ms: check the endpoint and the network",
                    limit.as_millis()
                ),
            }),
        }
    }

    /// Marks the lock released, if this store still holds it (never another run's).
    pub(crate) async fn unlock(&self) -> Result<()> {
        let conn = self.conn("unlock")?;
        let Some(held) = self.held_lock().take() else {
            return Ok(());
        };
        let key = conn.dir.clone().join(LOCK);
        let released = Holder {
            expires_ms: Some(0),
            ..held.holder
        };
        let bytes = to_json(&released);
        let mut version = held.version;
        for _ in 0..2 {
            match self
                .put(conn, &key, bytes.clone(), PutMode::Update(version))
                .await
            {
                Ok(_) => return Ok(()),
                Err(object_store::Error::Precondition { .. }) => {
                    match self.read_lock(conn, &key).await? {
                        // Ours still: a renewal whose answer was lost changed the ETag.
                        Some((Ok(holder), current)) if same_holding(&holder, &released) => {
                            version = current;
                        }
                        _ => break,
                    }
                }
                Err(e) => return Err(self.failed("unlock", &key, e)),
            }
        }
        tracing::warn!(
            lock = %self.lock_location(),
            "the stage lock was not released: another run holds it now"
        );
        Ok(())
    }
}

/// The stages of `app` in `bucket` under `prefix` that hold state, sorted: one list of the app's
/// keys (see `stages`). Credentials and endpoint come from the environment, as for a stage.
pub(crate) async fn list_stages(
    bucket: &str,
    prefix: &str,
    r2: bool,
    app: &str,
) -> Result<Vec<String>> {
    let (builder, masks) = from_env(r2);
    S3::of_app(builder, masks, bucket, prefix, r2, app)
        .stages()
        .await
}

/// The builder `s3://` (the `AWS_*` variables) or `r2://` takes from the environment, and the
/// key values to mask in messages.
fn from_env(
    r2: bool,
) -> (
    std::result::Result<AmazonS3Builder, String>,
    Vec<SecretString>,
) {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let builder = if r2 {
        r2_builder(&env)
    } else {
        Ok(AmazonS3Builder::from_env())
    };
    (builder, masks(&env))
}

/// The builder of an `r2://` store: the account's endpoint, region `auto`, R2's keys (or the
/// AWS ones). `env` reads a variable (unset or empty: `None`).
fn r2_builder(
    env: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<AmazonS3Builder, String> {
    let account = env("CLOUDFLARE_ACCOUNT_ID").ok_or(
        "r2:// finds the bucket's endpoint from CLOUDFLARE_ACCOUNT_ID, which is not set: export the id of the account that owns the bucket",
    )?;
    if !account.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("CLOUDFLARE_ACCOUNT_ID is not an account id (letters and digits)".into());
    }
    let (key_id, secret, token) = match (env("R2_ACCESS_KEY_ID"), env("R2_SECRET_ACCESS_KEY")) {
        (Some(key_id), Some(secret)) => (key_id, secret, None),
        (Some(_), None) => {
            return Err(
                "R2_ACCESS_KEY_ID is set but R2_SECRET_ACCESS_KEY is not: export both".into(),
            );
        }
        (None, Some(_)) => {
            return Err(
                "R2_SECRET_ACCESS_KEY is set but R2_ACCESS_KEY_ID is not: export both".into(),
            );
        }
        (None, None) => match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(key_id), Some(secret)) => (key_id, secret, env("AWS_SESSION_TOKEN")),
            _ => {
                return Err("r2:// needs the keys of an R2 API token: export R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY".into());
            }
        },
    };
    let mut builder = AmazonS3Builder::new()
        .with_endpoint(format!("https://{account}.r2.cloudflarestorage.com"))
        .with_region("auto")
        .with_access_key_id(key_id)
        .with_secret_access_key(secret);
    if let Some(token) = token {
        builder = builder.with_token(token);
    }
    Ok(builder)
}

/// The values of the key variables that are set, to mask in messages (short values are left:
/// real keys are long, and masking `test` would garble messages).
fn masks(env: &dyn Fn(&str) -> Option<String>) -> Vec<SecretString> {
    KEY_VARIABLES
        .iter()
        .filter_map(|name| env(name))
        .filter(|value| value.len() >= 8)
        .map(SecretString::from)
        .collect()
}

/// The stage's key prefix: `<prefix>/<app>/<stage>`, app and stage escaped.
fn stage_dir(prefix: &str, app: &str, stage: &str) -> String {
    format!("{}/{}", app_dir(prefix, app), file_name(stage))
}

/// The app's key prefix, above its stages': `<prefix>/<app>`, the app escaped.
fn app_dir(prefix: &str, app: &str) -> String {
    let prefix = prefix.trim_matches('/');
    let app = file_name(app);
    if prefix.is_empty() {
        app
    } else {
        format!("{prefix}/{app}")
    }
}

fn entry_key(conn: &Conn, seq: u64) -> Path {
    conn.dir.clone().join(LOG).join(format!("{seq:020}.json"))
}

/// What `key` is, under the stage's prefix `dir`.
fn classify(dir: &Path, key: &Path) -> Key {
    let Some(parts) = key.prefix_match(dir) else {
        return Key::Other;
    };
    let parts: Vec<_> = parts.collect();
    match parts.iter().map(|p| p.as_ref()).collect::<Vec<&str>>()[..] {
        [SNAPSHOT] => Key::Snapshot,
        [LOG, name] => entry_seq(name).map_or(Key::Other, Key::Entry),
        _ => Key::Other,
    }
}

/// The sequence number of a log entry's name (`<20 digits>.json`).
fn entry_seq(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".json")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The end of a lease taken now.
fn expiry(lease: Duration) -> u64 {
    now_ms().saturating_add(u64::try_from(lease.as_millis()).unwrap_or(u64::MAX))
}

/// Whether `found` is the same holding of the lock as `mine` (its token).
fn same_holding(found: &Holder, mine: &Holder) -> bool {
    found.token.is_some() && found.token == mine.token
}

/// Reads a snapshot: its state and sequence number.
fn parse_snapshot(file: &str, bytes: &[u8]) -> Result<(Snapshot, u64)> {
    let doc: SnapshotDoc = parse_json(file, bytes)?;
    check_version(file, doc.schema_version)?;
    if let Some(meta) = &doc.meta {
        check_version(file, meta.schema_version)?;
    }
    let mut records = BTreeMap::new();
    for record in doc.records {
        check_version(file, record.schema_version)?;
        records.insert(record.id.clone(), record);
    }
    let state = Snapshot {
        meta: doc.meta,
        records,
    };
    Ok((state, doc.seq))
}

/// Reads the log entry stored as number `seq`: its change.
fn parse_entry(file: &str, seq: u64, bytes: &[u8]) -> Result<Change> {
    let entry: EntryDoc = parse_json(file, bytes)?;
    check_version(file, entry.schema_version)?;
    if entry.seq != seq {
        return Err(Error::StateCorrupt {
            file: file.to_owned(),
            message: format!(
                "it holds change {} under the name of change {seq}",
                entry.seq
            ),
        });
    }
    entry.change.check_version(file)?;
    Ok(entry.change)
}

#[cfg(test)]
mod tests {
    //! Against a real S3-compatible server: `ATHANOR_TEST_S3=http://host:port/bucket`, as
    //! `eval "$(.ci/services)"` starts it (moto). Without it the tests fail, unless
    //! `ATHANOR_SKIP_S3=1`. Each test works under a prefix of its own; the store is given its
    //! endpoint and keys directly, so no test writes the process environment.

    use std::sync::atomic::Ordering;

    use object_store::aws::AmazonS3ConfigKey;

    use super::*;

    /// The test server's endpoint and bucket; `None` (skip) only when `ATHANOR_SKIP_S3=1`.
    fn server() -> Option<(String, String)> {
        match std::env::var("ATHANOR_TEST_S3") {
            Ok(url) if !url.is_empty() => {
                let (endpoint, bucket) =
                    url.trim_end_matches('/')
                        .rsplit_once('/')
                        .unwrap_or_else(|| {
                            panic!("ATHANOR_TEST_S3={url}: expected http://host:port/bucket")
                        });
                Some((endpoint.to_owned(), bucket.to_owned()))
            }
            _ if std::env::var("ATHANOR_SKIP_S3").is_ok_and(|v| v == "1") => {
                eprintln!("skipping: ATHANOR_SKIP_S3=1 (no S3-compatible server)");
                None
            }
            _ => panic!(
                "ATHANOR_TEST_S3 is not set: start the test servers with `eval \"$(.ci/services)\"` (or set ATHANOR_SKIP_S3=1 to skip the S3 tests)"
            ),
        }
    }

    /// A prefix of its own on the test server.
    struct Place {
        endpoint: String,
        bucket: String,
        prefix: String,
    }

    impl Place {
        fn new() -> Option<Place> {
            let (endpoint, bucket) = server()?;
            Some(Place {
                endpoint,
                bucket,
                prefix: format!("athanor-tests/{}", uuid::Uuid::new_v4()),
            })
        }

        fn builder(&self) -> AmazonS3Builder {
            AmazonS3Builder::new()
                .with_endpoint(&self.endpoint)
                .with_allow_http(true)
                .with_region("us-east-1")
                .with_access_key_id("test")
                .with_secret_access_key("test")
        }

        /// A store of stage `app`/`dev` here, as a new run would have.
        fn store(&self) -> S3 {
            S3::with_builder(
                Ok(self.builder()),
                Vec::new(),
                &self.bucket,
                &self.prefix,
                false,
                "app",
                "dev",
            )
        }

        /// A store of stage `app`/`stage` here.
        fn stage(&self, app: &str, stage: &str) -> S3 {
            S3::with_builder(
                Ok(self.builder()),
                Vec::new(),
                &self.bucket,
                &self.prefix,
                false,
                app,
                stage,
            )
        }

        /// The store that lists `app`'s stages here.
        fn app(&self, app: &str) -> S3 {
            S3::of_app(
                Ok(self.builder()),
                Vec::new(),
                &self.bucket,
                &self.prefix,
                false,
                app,
            )
        }

        /// A plain client of the bucket.
        fn raw(&self) -> AmazonS3 {
            athanor_cloudflare::tls::install_crypto_provider();
            self.builder()
                .with_bucket_name(&self.bucket)
                .build()
                .unwrap()
        }

        fn key(&self, name: &str) -> Path {
            Path::parse(format!("{}/app/dev/{name}", self.prefix)).unwrap()
        }

        /// The stage's keys, relative to its prefix.
        async fn keys(&self) -> Vec<String> {
            let dir = Path::parse(format!("{}/app/dev", self.prefix)).unwrap();
            let mut keys: Vec<String> = self
                .raw()
                .list(Some(&dir))
                .map_ok(|meta| meta.location.to_string())
                .try_collect()
                .await
                .unwrap();
            keys.sort();
            keys.iter()
                .map(|k| k.trim_start_matches(&format!("{dir}/")).to_owned())
                .collect()
        }

        async fn put_raw(&self, name: &str, bytes: &[u8]) {
            self.raw()
                .put(&self.key(name), PutPayload::from(bytes.to_vec()))
                .await
                .unwrap();
        }
    }

    impl S3 {
        fn requests(&self) -> usize {
            self.requests.load(Ordering::Relaxed)
        }
    }

    fn record(id: &str, name: &str) -> Record {
        crate::state::sample_record(id, name)
    }

    fn meta() -> Meta {
        Meta {
            schema_version: SCHEMA_VERSION,
            app: "app".into(),
            stage: "dev".into(),
            secrets: None,
            account: Some("acc".into()),
        }
    }

    fn entry(seq: u64) -> String {
        format!("log/{seq:020}.json")
    }

    #[tokio::test]
    async fn the_server_enforces_conditional_writes() {
        let Some(place) = Place::new() else { return };
        let raw = place.raw();
        let key = place.key("probe");
        let first = raw
            .put_opts(&key, PutPayload::from_static(b"1"), PutMode::Create.into())
            .await
            .unwrap_or_else(|e| panic!("cannot write to {}: {e}", place.endpoint));
        let second = raw
            .put_opts(&key, PutPayload::from_static(b"2"), PutMode::Create.into())
            .await;
        assert!(
            matches!(second, Err(object_store::Error::AlreadyExists { .. })),
            "the S3 server at {} accepted a second If-None-Match: * write of one key ({second:?}): it does not enforce conditional writes, so the S3 state tests would prove nothing; run moto 5 or later (`eval \"$(.ci/services)\"`)",
            place.endpoint
        );
        let stale = UpdateVersion {
            e_tag: Some("\"0000\"".into()),
            version: None,
        };
        let wrong = raw
            .put_opts(
                &key,
                PutPayload::from_static(b"3"),
                PutMode::Update(stale).into(),
            )
            .await;
        assert!(
            matches!(wrong, Err(object_store::Error::Precondition { .. })),
            "the S3 server at {} accepted an If-Match write with a wrong ETag ({wrong:?}): it does not enforce conditional writes",
            place.endpoint
        );
        raw.put_opts(
            &key,
            PutPayload::from_static(b"4"),
            PutMode::Update(first.into()).into(),
        )
        .await
        .expect("an If-Match write with the current ETag succeeds");
    }

    #[tokio::test]
    async fn meta_and_records_round_trip_through_the_log_and_the_snapshot() {
        let Some(place) = Place::new() else { return };
        let s = place.store();
        assert_eq!(s.load().await.unwrap(), Snapshot::default());
        assert_eq!(s.requests(), 1, "a stage never deployed is one list");
        s.write_meta(&meta()).await.unwrap();
        s.write_record(&record("kv", "v1")).await.unwrap();
        s.write_record(&record("a/../b", "v1")).await.unwrap();
        s.write_record(&record("kv", "v2")).await.unwrap();
        s.remove_record("a/../b").await.unwrap();
        s.remove_record("missing").await.unwrap();
        let expected = Snapshot {
            meta: Some(meta()),
            records: BTreeMap::from([("kv".to_owned(), record("kv", "v2"))]),
        };
        assert_eq!(s.load().await.unwrap(), expected);
        assert_eq!(
            place.keys().await,
            (1..=6).map(entry).collect::<Vec<_>>(),
            "one entry per change, no snapshot yet"
        );

        // A run that stopped before compacting: the next one reads the log.
        let uncompacted = place.store();
        assert_eq!(uncompacted.load().await.unwrap(), expected);
        assert_eq!(
            uncompacted.requests(),
            1 + 6,
            "one list and a get per entry"
        );

        s.settle().await.unwrap();
        assert_eq!(place.keys().await, ["snapshot.json"]);
        let fresh = place.store();
        assert_eq!(fresh.load().await.unwrap(), expected);
        assert_eq!(
            fresh.requests(),
            2,
            "a no-op load after compaction is a list and a get"
        );
        fresh.settle().await.unwrap();
        assert_eq!(fresh.requests(), 2, "nothing to compact, nothing sent");

        // The next run writes on top of the snapshot, and again after settling (a `dev` loop).
        let next = place.store();
        next.load().await.unwrap();
        next.write_record(&record("r2", "v1")).await.unwrap();
        next.settle().await.unwrap();
        assert_eq!(place.keys().await, ["snapshot.json"]);
        let mut more = expected.clone();
        more.records.insert("r2".into(), record("r2", "v1"));
        assert_eq!(place.store().load().await.unwrap(), more);
        next.remove_record("r2").await.unwrap();
        next.settle().await.unwrap();
        assert_eq!(place.store().load().await.unwrap(), expected);
        assert_eq!(place.keys().await, ["snapshot.json"]);

        // The run that read before those compactions writes under a number they freed: loads
        // ignore it (the limit the lease guards), and its compaction says what was lost.
        uncompacted
            .write_record(&record("late", "v1"))
            .await
            .unwrap();
        let err = uncompacted.settle().await.unwrap_err();
        assert!(matches!(err, Error::StateConflict { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("these changes of this run are missing from the state: `late` written"),
            "{err}"
        );
        assert_eq!(place.store().load().await.unwrap(), expected);
    }

    #[tokio::test]
    async fn a_write_before_any_load_learns_the_sequence_first() {
        let Some(place) = Place::new() else { return };
        let s = place.store();
        s.write_record(&record("one", "v1")).await.unwrap();
        s.settle().await.unwrap();
        let t = place.store();
        t.write_record(&record("two", "v1")).await.unwrap();
        assert_eq!(place.keys().await, [entry(2), "snapshot.json".into()]);
        t.settle().await.unwrap();
        let loaded = place.store().load().await.unwrap();
        assert_eq!(loaded.records.len(), 2);
    }

    #[tokio::test]
    async fn a_second_writer_is_a_conflict_and_nothing_is_overwritten() {
        let Some(place) = Place::new() else { return };
        let (a, b) = (place.store(), place.store());
        a.load().await.unwrap();
        b.load().await.unwrap();
        a.write_record(&record("kv", "from-a")).await.unwrap();
        let err = b.write_record(&record("kv", "from-b")).await.unwrap_err();
        assert!(matches!(err, Error::StateConflict { .. }), "{err}");
        assert!(err.to_string().contains(&entry(1)), "{err}");
        assert_eq!(
            place.store().load().await.unwrap().records["kv"].name,
            "from-a"
        );
        // The refused run leaves the log for a later compaction; the other one compacts.
        b.settle().await.unwrap();
        a.settle().await.unwrap();
        assert_eq!(place.keys().await, ["snapshot.json"]);

        // A run that read before another one's compaction, and writes after it, is refused when
        // it compacts in turn: its snapshot would hide the other run's.
        let (c, d) = (place.store(), place.store());
        c.load().await.unwrap();
        d.load().await.unwrap();
        c.write_record(&record("kv", "from-c")).await.unwrap();
        c.settle().await.unwrap();
        d.write_record(&record("kv", "from-d")).await.unwrap();
        let err = d.settle().await.unwrap_err();
        assert!(matches!(err, Error::StateConflict { .. }), "{err}");
        assert!(err.to_string().contains("snapshot.json"), "{err}");
        assert_eq!(
            place.store().load().await.unwrap().records["kv"].name,
            "from-c",
            "an entry at or below the snapshot is ignored"
        );

        // The next run that compacts clears the stale entry away.
        let e = place.store();
        e.write_record(&record("other", "v1")).await.unwrap();
        e.settle().await.unwrap();
        assert_eq!(place.keys().await, ["snapshot.json"]);
        let loaded = place.store().load().await.unwrap();
        assert_eq!(loaded.records["kv"].name, "from-c");
        assert_eq!(loaded.records.len(), 2);
    }

    #[tokio::test]
    async fn an_entry_added_by_another_writer_stops_the_compaction() {
        let Some(place) = Place::new() else { return };
        let a = place.store();
        a.write_record(&record("kv", "from-a")).await.unwrap();
        // Another writer appends after it, without `a` reading it.
        let b = place.store();
        b.write_record(&record("other", "from-b")).await.unwrap();
        let err = a.settle().await.unwrap_err();
        assert!(matches!(err, Error::StateConflict { .. }), "{err}");
        assert!(err.to_string().contains(&entry(2)), "{err}");
        assert_eq!(
            place.keys().await,
            [entry(1), entry(2)],
            "the log is left whole"
        );
        b.settle().await.unwrap();
        let loaded = place.store().load().await.unwrap();
        assert_eq!(loaded.records.len(), 2);
    }

    #[tokio::test]
    async fn removing_the_meta_after_a_destroy_leaves_only_the_lock() {
        let Some(place) = Place::new() else { return };
        let s = place.store();
        let me = Holder::me();
        assert!(matches!(
            s.try_lock(&me, Duration::from_secs(30), false)
                .await
                .unwrap(),
            Acquired::Held
        ));
        s.write_meta(&meta()).await.unwrap();
        s.write_record(&record("kv", "v1")).await.unwrap();
        s.settle().await.unwrap();
        s.write_record(&record("kv2", "v1")).await.unwrap();
        s.remove_record("kv").await.unwrap();
        s.remove_record("kv2").await.unwrap();
        s.remove_meta().await.unwrap();
        assert_eq!(place.keys().await, ["lock"]);
        s.settle().await.unwrap();
        s.unlock().await.unwrap();
        assert_eq!(place.keys().await, ["lock"]);
        let fresh = place.store();
        assert_eq!(fresh.load().await.unwrap(), Snapshot::default());
        assert_eq!(fresh.requests(), 1);
        // The stage starts over.
        assert!(matches!(
            fresh
                .try_lock(&Holder::me(), Duration::from_secs(30), false)
                .await
                .unwrap(),
            Acquired::Held
        ));
        fresh.write_meta(&meta()).await.unwrap();
        fresh.settle().await.unwrap();
        assert_eq!(place.store().load().await.unwrap().meta, Some(meta()));
    }

    #[tokio::test]
    async fn the_stages_with_state_are_listed_with_one_request() {
        let Some(place) = Place::new() else { return };
        let lister = place.app("app");
        assert!(lister.stages().await.unwrap().is_empty());
        assert_eq!(lister.requests(), 1);
        let lease = Duration::from_secs(30);
        // Compacted, with escaped names.
        for stage in ["tenant-b", "tenant.c", "Zed"] {
            let s = place.stage("app", stage);
            s.write_record(&record("kv", "v1")).await.unwrap();
            s.settle().await.unwrap();
        }
        // Uncompacted: only log entries.
        let s = place.stage("app", "tenant-a");
        s.write_meta(&meta()).await.unwrap();
        s.write_record(&record("kv", "v1")).await.unwrap();
        // Destroyed: only the released lock is left.
        let gone = place.stage("app", "tenant-gone");
        assert!(matches!(
            gone.try_lock(&Holder::me(), lease, false).await.unwrap(),
            Acquired::Held
        ));
        gone.write_meta(&meta()).await.unwrap();
        gone.write_record(&record("kv", "v1")).await.unwrap();
        gone.settle().await.unwrap();
        gone.remove_record("kv").await.unwrap();
        gone.remove_meta().await.unwrap();
        gone.unlock().await.unwrap();
        // Locked and released, never written.
        let idle = place.stage("app", "tenant-idle");
        assert!(matches!(
            idle.try_lock(&Holder::me(), lease, false).await.unwrap(),
            Acquired::Held
        ));
        idle.unlock().await.unwrap();
        // Another app, one whose name starts like this one's, and keys the store does not make.
        for app in ["other", "app2"] {
            let s = place.stage(app, "tenant-x");
            s.write_record(&record("kv", "v1")).await.unwrap();
            s.settle().await.unwrap();
        }
        let raw = place.raw();
        for key in [
            "app/notes.txt",
            "app/a.b/snapshot.json",
            "app/tenant-z/x.json",
        ] {
            let key = Path::parse(format!("{}/{key}", place.prefix)).unwrap();
            raw.put(&key, PutPayload::from_static(b"{}")).await.unwrap();
        }

        let lister = place.app("app");
        assert_eq!(
            lister.stages().await.unwrap(),
            ["Zed", "tenant-a", "tenant-b", "tenant.c"]
        );
        assert_eq!(lister.requests(), 1, "one list, no get");
        assert_eq!(
            lister.describe(),
            format!("s3://{}/{}/app", place.bucket, place.prefix)
        );
    }

    #[tokio::test]
    async fn listing_a_bucket_that_does_not_exist_says_what_to_check() {
        let Some(place) = Place::new() else { return };
        let lister = S3::of_app(
            Ok(place.builder()),
            Vec::new(),
            "athanor-no-such-bucket",
            "p",
            false,
            "app",
        );
        let err = lister.stages().await.unwrap_err();
        let Error::StateStore {
            location, message, ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(location, "s3://athanor-no-such-bucket/p/app");
        assert!(message.contains("does not exist"), "{message}");
    }

    #[tokio::test]
    async fn the_lock_is_busy_until_released_run_out_or_forced() {
        let Some(place) = Place::new() else { return };
        let lease = Duration::from_secs(30);
        let (a, b, c) = (place.store(), place.store(), place.store());
        let (me_a, me_b, me_c) = (Holder::me(), Holder::me(), Holder::me());
        assert!(matches!(
            a.try_lock(&me_a, lease, false).await.unwrap(),
            Acquired::Held
        ));
        let Acquired::Busy(holder) = b.try_lock(&me_b, lease, false).await.unwrap() else {
            panic!("a held lock was taken");
        };
        assert_eq!(holder.token, me_a.token);
        assert!(holder.expires_ms.unwrap() > now_ms() + 20_000);
        a.renew(lease).await.unwrap();
        a.renew(lease).await.unwrap();

        // --force-unlock takes it over; the old holder learns it at its next renewal.
        assert!(matches!(
            b.try_lock(&me_b, lease, true).await.unwrap(),
            Acquired::Held
        ));
        let err = a.renew(lease).await.unwrap_err();
        let Error::LockLost { why, location, .. } = &err else {
            panic!("{err}");
        };
        assert!(
            why.contains(&format!(
                "taken over by pid {} on host {}",
                me_b.pid, me_b.host
            )),
            "{why}"
        );
        assert!(location.ends_with("/app/dev/lock"), "{location}");
        // The old holder's unlock leaves the new holder's lock alone.
        a.unlock().await.unwrap();
        let Acquired::Busy(holder) = c.try_lock(&me_c, lease, false).await.unwrap() else {
            panic!("a lock taken over was released by its old holder");
        };
        assert_eq!(holder.token, me_b.token);

        // Released: the next run takes it at once.
        b.unlock().await.unwrap();
        assert!(matches!(
            c.try_lock(&me_c, lease, false).await.unwrap(),
            Acquired::Held
        ));
        c.unlock().await.unwrap();

        // A lease not renewed runs out.
        let (d, e) = (place.store(), place.store());
        let me_d = Holder::me();
        let short = Duration::from_millis(200);
        assert!(matches!(
            d.try_lock(&me_d, short, false).await.unwrap(),
            Acquired::Held
        ));
        assert!(matches!(
            e.try_lock(&Holder::me(), lease, false).await.unwrap(),
            Acquired::Busy(_)
        ));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(matches!(
            e.try_lock(&Holder::me(), lease, false).await.unwrap(),
            Acquired::Held
        ));
        assert!(matches!(d.renew(short).await, Err(Error::LockLost { .. })));
        // Once lost, the store holds nothing: renewing or unlocking sends nothing.
        let before = d.requests();
        d.renew(short).await.unwrap();
        d.unlock().await.unwrap();
        assert_eq!(d.requests(), before);
        e.unlock().await.unwrap();
    }

    #[tokio::test]
    async fn a_lock_object_naming_no_holder_needs_force() {
        let Some(place) = Place::new() else { return };
        place.put_raw("lock", b"garbage").await;
        let s = place.store();
        let err = s
            .try_lock(&Holder::me(), Duration::from_secs(30), false)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("--force-unlock"), "{err}");
        assert!(matches!(
            s.try_lock(&Holder::me(), Duration::from_secs(30), true)
                .await
                .unwrap(),
            Acquired::Held
        ));
    }

    #[tokio::test]
    async fn a_corrupt_or_newer_document_is_an_error_naming_its_key() {
        let Some(place) = Place::new() else { return };
        let s = place.store();
        s.write_record(&record("kv", "v1")).await.unwrap();
        s.settle().await.unwrap();

        place.put_raw("snapshot.json", b"not json").await;
        let err = place.store().load().await.unwrap_err();
        let Error::StateCorrupt { file, .. } = &err else {
            panic!("{err}");
        };
        assert!(file.ends_with("/app/dev/snapshot.json"), "{file}");
        assert!(file.starts_with("s3://"), "{file}");

        let newer = br#"{"schema_version": 99, "seq": 1, "meta": null, "records": []}"#;
        place.put_raw("snapshot.json", newer).await;
        assert!(matches!(
            place.store().load().await,
            Err(Error::StateVersion { found: 99, .. })
        ));

        place
            .put_raw("snapshot.json", br#"{"schema_version": 1, "seq": 1}"#)
            .await;
        place.put_raw(&entry(2), b"{\"torn\": ").await;
        let err = place.store().load().await.unwrap_err();
        assert!(
            matches!(&err, Error::StateCorrupt { file, .. } if file.ends_with(&entry(2))),
            "{err}"
        );
        // An entry at or below the snapshot is not even read.
        place.put_raw(&entry(2), b"").await;
        place
            .put_raw("snapshot.json", br#"{"schema_version": 1, "seq": 2}"#)
            .await;
        assert_eq!(place.store().load().await.unwrap(), Snapshot::default());
    }

    #[test]
    fn app_and_stage_cannot_escape_their_prefix() {
        assert_eq!(stage_dir("team/state", "app", "dev"), "team/state/app/dev");
        assert_eq!(stage_dir("", "app", "dev"), "app/dev");
        let dir = stage_dir("p", "../x", "a/b");
        assert_eq!(dir, "p/%2E%2E%2Fx/a%2Fb");
        assert_eq!(Path::parse(&dir).unwrap().parts().count(), 3);
        let dir = Path::parse("p/app/dev").unwrap();
        let key = |k: &str| Path::parse(k).unwrap();
        assert_eq!(
            classify(&dir, &key("p/app/dev/snapshot.json")),
            Key::Snapshot
        );
        assert_eq!(
            classify(&dir, &key("p/app/dev/log/00000000000000000042.json")),
            Key::Entry(42)
        );
        assert_eq!(classify(&dir, &key("p/app/dev/log/42.json")), Key::Other);
        assert_eq!(classify(&dir, &key("p/app/dev/lock")), Key::Other);
        assert_eq!(classify(&dir, &key("p/app/dev2/snapshot.json")), Key::Other);
    }

    #[tokio::test]
    async fn a_bad_prefix_is_reported_by_every_call() {
        let s = S3::with_builder(
            Ok(AmazonS3Builder::new()),
            Vec::new(),
            "bucket",
            "a//b",
            false,
            "app",
            "dev",
        );
        let err = s.load().await.unwrap_err();
        assert!(err.to_string().contains("`a//b` is not usable"), "{err}");
    }

    #[tokio::test]
    async fn r2_needs_an_account_and_keys_and_never_shows_them() {
        let secret = "r2-secret-0123456789abcdef";
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let err = r2_builder(&env(&[])).unwrap_err();
        assert!(err.contains("CLOUDFLARE_ACCOUNT_ID"), "{err}");
        let s = S3::with_builder(
            r2_builder(&env(&[])),
            Vec::new(),
            "bucket",
            "",
            true,
            "app",
            "dev",
        );
        assert_eq!(s.describe(), "r2://bucket/app/dev");
        let err = s.load().await.unwrap_err();
        assert!(
            matches!(&err, Error::StateStore { message, .. } if message.contains("CLOUDFLARE_ACCOUNT_ID")),
            "{err}"
        );
        let err = r2_builder(&env(&[("CLOUDFLARE_ACCOUNT_ID", "acc")])).unwrap_err();
        assert!(err.contains("R2_ACCESS_KEY_ID"), "{err}");
        let err = r2_builder(&env(&[
            ("CLOUDFLARE_ACCOUNT_ID", "acc"),
            ("R2_ACCESS_KEY_ID", "id"),
        ]))
        .unwrap_err();
        assert!(err.contains("R2_SECRET_ACCESS_KEY"), "{err}");

        const VARS: &[(&str, &str)] = &[
            ("CLOUDFLARE_ACCOUNT_ID", "0123abcd"),
            ("R2_ACCESS_KEY_ID", "r2-key-id-0123456789"),
            ("R2_SECRET_ACCESS_KEY", "r2-secret-0123456789abcdef"),
            ("AWS_ACCESS_KEY_ID", "aws-key-id-0123456789"),
        ];
        let builder = r2_builder(&env(VARS)).unwrap();
        assert_eq!(
            builder
                .get_config_value(&AmazonS3ConfigKey::Endpoint)
                .as_deref(),
            Some("https://0123abcd.r2.cloudflarestorage.com")
        );
        assert_eq!(
            builder
                .get_config_value(&AmazonS3ConfigKey::AccessKeyId)
                .as_deref(),
            Some("r2-key-id-0123456789"),
            "R2's keys come before the AWS ones"
        );
        assert_eq!(
            builder
                .get_config_value(&AmazonS3ConfigKey::Region)
                .as_deref(),
            Some("auto")
        );
        let s = S3::with_builder(Ok(builder), masks(&env(VARS)), "b", "", true, "app", "dev");
        let debug = format!("{s:?}");
        assert!(
            !debug.contains(secret) && !debug.contains("r2-key-id"),
            "{debug}"
        );
        let echoed = object_store::Error::Unauthenticated {
            path: "app/dev/lock".into(),
            source: format!("SignatureDoesNotMatch for r2-key-id-0123456789 / {secret}").into(),
        };
        let err = s
            .failed("lock", &Path::from("app/dev/lock"), echoed)
            .to_string();
        assert!(!err.contains(secret) && !err.contains("r2-key-id"), "{err}");
        assert!(err.contains("R2_ACCESS_KEY_ID"), "{err}");
    }
}
