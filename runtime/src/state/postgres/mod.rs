//! State in a Postgres database, shared by everyone who deploys a stage.
//!
//! Two tables, created on first use (`CREATE TABLE IF NOT EXISTS`; a run racing another to
//! create them takes the other's):
//!
//! ```text
//! athanor_state (app, stage, id, body, version)        PRIMARY KEY (app, stage, id)
//! athanor_lock  (app, stage, holder, token, expires_at) PRIMARY KEY (app, stage)
//! ```
//!
//! A stage's state is its rows in `athanor_state`: the stage-wide part ([`Meta`]) is the row
//! whose id is `''` (logical ids are never empty), each [`Record`] a row of its own; `body` is the
//! same pretty JSON the local store writes, so `psql` shows what a file would. `load` reads them
//! with one query. The stages of an app that hold state are those with a record row: one query
//! too (`list_stages`); a destroy that removed every record and the stage-wide row leaves none.
//!
//! **Writes are fenced twice**, each in one statement (its own transaction):
//!
//! - on the row: `version` is the id of the transaction that last wrote it (`txid_current()`,
//!   ever increasing, so a row deleted and written again never repeats a version). An update
//!   applies only where `version` is still the one this store read or last wrote; a new row is an
//!   `INSERT ... ON CONFLICT DO NOTHING`; a removal a `DELETE ... WHERE version = ..`. Nothing
//!   applied means another run changed the row: [`Error::StateConflict`], and nothing is
//!   overwritten.
//! - on the lock: the statement applies only while this store's lease is live
//!   (`athanor_lock.token` is this run's and `expires_at > now()`), reading the lock row
//!   `FOR SHARE`, so that a takeover waits for a write under way and a write after it is refused:
//!   [`Error::LockLost`].
//!
//! **The lock is a lease on the server's clock.** `try_lock` inserts the stage's lock row, or
//! takes over a row whose `expires_at` has passed by the server's `now()` (any row with
//! `--force-unlock`), in one `INSERT ... ON CONFLICT DO UPDATE ... WHERE`; the heartbeat moves
//! `expires_at` on while the run goes on. The clocks of the machines that deploy play no part.
//!
//! The connection is made on first use and made again when it dropped. Settings the URL leaves
//! out come from the `PG*` variables as with `psql` (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
//! `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT`, `PGCONNECT_TIMEOUT`, `PGAPPNAME`). TLS (rustls):
//!
//! - `sslmode=disable`: none; the default for a server on this machine (loopback or a socket);
//! - `sslmode=prefer` (the default otherwise): TLS when the server offers it, its certificate
//!   not checked, as `psql` does: this mode accepts no TLS at all, so checking would stop no one;
//! - `sslmode=require` (also `verify-ca` / `verify-full`, in the URL or `PGSSLMODE`): TLS, and the certificate
//!   must name the host and chain to a root of this system or Mozilla's list (a hosted Postgres
//!   with a public CA, Neon for one), or to the roots in the file `PGSSLROOTCERT` names (RDS's or
//!   Supabase's bundle, a private CA). This is stricter than `psql`'s `require`, which checks
//!   nothing; `channel_binding=require` works in either TLS mode.
//!
//! The password is never in a message, `Debug` or a log.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::error::{Severity, SqlState};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, Row, Socket};

mod settings;

pub(crate) use settings::checked_sslmode;
use settings::{Settings, Tls};

use super::lease::{Acquired, Holder};
use super::{ALL_STAGES, Meta, Record, Snapshot, check_version, parse_json, to_json};
use crate::error::{Error, Result};

/// How long one statement may take before the connection is taken for lost.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting (TCP, TLS, authentication, creating the tables) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The id of the stage-wide row.
const META_ID: &str = "";

const CREATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS athanor_state (
    app text NOT NULL,
    stage text NOT NULL,
    id text NOT NULL,
    body text NOT NULL,
    version bigint NOT NULL,
    PRIMARY KEY (app, stage, id)
);
COMMENT ON TABLE athanor_state IS 'athanor state: per app and stage, the stage-wide part (id '''') and one row per resource';
CREATE TABLE IF NOT EXISTS athanor_lock (
    app text NOT NULL,
    stage text NOT NULL,
    holder text NOT NULL,
    token text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (app, stage)
);
COMMENT ON TABLE athanor_lock IS 'athanor stage locks: a lease per app and stage, renewed while a run goes on';
";

const TABLES_EXIST: &str =
    "SELECT to_regclass('athanor_state') IS NOT NULL AND to_regclass('athanor_lock') IS NOT NULL";

const LOAD: &str = "SELECT id, body, version FROM athanor_state WHERE app = $1 AND stage = $2";

/// `$1` app, `$2` the stage-wide row's id: the stages with a record row.
const STAGES: &str = "SELECT DISTINCT stage FROM athanor_state WHERE app = $1 AND id <> $2";

/// A write fenced on the lease: `$1` app, `$2` stage, `$3` this run's token. The lock row is read
/// `FOR SHARE`, so that a takeover waits for this write and a write after it sees the new token.
/// Each answers one row: whether the lease was live, the version written (or found), and the
/// holder and token of the lock now.
macro_rules! fenced {
    ($statement:literal) => {
        concat!(
            "WITH held AS (
    SELECT 1 FROM athanor_lock
    WHERE app = $1 AND stage = $2 AND token = $3 AND expires_at > now()
    FOR SHARE
)",
            $statement,
            "
SELECT EXISTS (SELECT 1 FROM held), (SELECT version FROM written),
       (SELECT holder FROM athanor_lock WHERE app = $1 AND stage = $2),
       (SELECT token FROM athanor_lock WHERE app = $1 AND stage = $2)"
        )
    };
}

/// `$4` id, `$5` body, `$6` the version read.
const UPDATE: &str = fenced!(
    "
, written AS (
    UPDATE athanor_state SET body = $5, version = txid_current()
    WHERE app = $1 AND stage = $2 AND id = $4 AND version = $6 AND EXISTS (SELECT 1 FROM held)
    RETURNING version
)"
);

/// `$4` id, `$5` body.
const INSERT: &str = fenced!(
    "
, written AS (
    INSERT INTO athanor_state (app, stage, id, body, version)
    SELECT $1, $2, $4, $5, txid_current() WHERE EXISTS (SELECT 1 FROM held)
    ON CONFLICT (app, stage, id) DO NOTHING
    RETURNING version
)"
);

/// `$4` id, `$5` the version read.
const DELETE: &str = fenced!(
    "
, written AS (
    DELETE FROM athanor_state
    WHERE app = $1 AND stage = $2 AND id = $4 AND version = $5 AND EXISTS (SELECT 1 FROM held)
    RETURNING version
)"
);

/// Removing a row this store believes absent, `$4` id: "written" is the row found, if any.
const ABSENT: &str = fenced!(
    "
, written AS (
    SELECT version FROM athanor_state WHERE app = $1 AND stage = $2 AND id = $4
)"
);

/// `$3` holder, `$4` token, `$5` lease in seconds, `$6` force. Answers whether the lock was taken
/// and the row as it was before this statement (who holds it, when that lease ends).
const TRY_LOCK: &str = "
WITH taken AS (
    INSERT INTO athanor_lock AS l (app, stage, holder, token, expires_at)
    VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
    ON CONFLICT (app, stage) DO UPDATE
        SET holder = excluded.holder, token = excluded.token, expires_at = excluded.expires_at
        WHERE l.expires_at <= now() OR l.token = excluded.token OR $6
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM taken), l.holder, l.token,
       (extract(epoch FROM l.expires_at) * 1000)::int8
FROM (SELECT 1) AS one LEFT JOIN athanor_lock AS l ON l.app = $1 AND l.stage = $2";

/// `$3` token, `$4` lease in seconds. Answers whether it was renewed and who holds the lock.
const RENEW: &str = "
WITH renewed AS (
    UPDATE athanor_lock SET expires_at = now() + make_interval(secs => $4)
    WHERE app = $1 AND stage = $2 AND token = $3
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM renewed),
       (SELECT holder FROM athanor_lock WHERE app = $1 AND stage = $2)";

const UNLOCK: &str = "DELETE FROM athanor_lock WHERE app = $1 AND stage = $2 AND token = $3";

/// The state of one app and stage in a Postgres database.
pub(crate) struct Postgres {
    app: String,
    stage: String,
    /// `postgres://user@host:port/db`, never with the password.
    server: String,
    /// How to connect, or why the setting cannot be used (said at the first call).
    settings: std::result::Result<Box<Settings>, String>,
    /// The connection, once made; replaced when it dropped.
    client: tokio::sync::Mutex<Option<Arc<Client>>>,
    /// The version of each row as this store last read or wrote it (`""`: the stage-wide row).
    versions: Mutex<HashMap<String, i64>>,
    /// This run's lock token, while it holds the lock.
    token: Mutex<Option<String>>,
    /// Statements sent, for the tests.
    #[cfg(test)]
    statements: std::sync::atomic::AtomicUsize,
}

/// The stages of `app` in the database `url` names that hold at least one record, sorted (by
/// bytes, whatever the database's collation): one statement.
pub(crate) async fn list_stages(url: &SecretString, app: &str) -> Result<Vec<String>> {
    Postgres::new(url.clone(), app, ALL_STAGES).stages().await
}

impl fmt::Debug for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Postgres")
            .field("location", &self.describe())
            .finish_non_exhaustive()
    }
}

/// Whether a failed statement may be sent again on a new connection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// It changes nothing, or the same again: sent once more when the connection had dropped.
    Once,
    /// A write: it may have applied before the connection dropped, so it is not sent again.
    Never,
}

/// A parameter and its type (statements are sent typed: one round trip, nothing prepared).
type Param<'a> = (&'a (dyn ToSql + Sync), Type);

impl Postgres {
    /// The store of `app`/`stage` in the database `url` names. Nothing is connected until the
    /// first call; a URL that cannot be used fails there.
    pub(crate) fn new(url: SecretString, app: &str, stage: &str) -> Postgres {
        Postgres::with_env(&url, app, stage, |name| std::env::var(name).ok())
    }

    /// [`Postgres::new`], with the `PG*` variables read from `env`.
    fn with_env(
        url: &SecretString,
        app: &str,
        stage: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Postgres {
        let settings = Settings::from_url(url.expose_secret(), env).map(Box::new);
        let server = match &settings {
            Ok(settings) => settings.server(),
            Err(_) => super::location::redact(url.expose_secret()),
        };
        Postgres {
            app: app.to_owned(),
            stage: stage.to_owned(),
            server,
            settings,
            client: tokio::sync::Mutex::new(None),
            versions: Mutex::new(HashMap::new()),
            token: Mutex::new(None),
            #[cfg(test)]
            statements: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub(crate) fn describe(&self) -> String {
        format!("{} ({}/{})", self.server, self.app, self.stage)
    }

    pub(crate) fn lock_location(&self) -> String {
        format!("{} athanor_lock({}, {})", self.server, self.app, self.stage)
    }

    /// Names a row of `athanor_state`, for messages.
    fn row_name(&self, id: &str) -> String {
        format!(
            "{} athanor_state({}, {}, {id:?})",
            self.server, self.app, self.stage
        )
    }

    /// Reads the stage's rows, with one query.
    pub(crate) async fn load(&self) -> Result<Snapshot> {
        let rows = self
            .query(
                "read",
                LOAD,
                &[(&self.app, Type::TEXT), (&self.stage, Type::TEXT)],
                Retry::Once,
                STATEMENT_TIMEOUT,
            )
            .await?;
        let mut snapshot = Snapshot::default();
        let mut versions = HashMap::with_capacity(rows.len());
        for row in rows {
            let id: String = row.get(0);
            let body: String = row.get(1);
            let name = self.row_name(&id);
            if id == META_ID {
                snapshot.meta = Some(parse_body(&name, &body)?);
            } else {
                let record: Record = parse_body(&name, &body)?;
                if record.id != id {
                    return Err(Error::StateCorrupt {
                        file: name,
                        message: format!("it holds the record of `{}`", record.id),
                    });
                }
                snapshot.records.insert(id.clone(), record);
            }
            versions.insert(id, row.get::<_, i64>(2));
        }
        *guard(&self.versions) = versions;
        Ok(snapshot)
    }

    /// The stages of this store's app that have a record row, sorted; this store's own stage
    /// plays no part.
    async fn stages(&self) -> Result<Vec<String>> {
        let rows = self
            .query(
                "list the stages in",
                STAGES,
                &[(&self.app, Type::TEXT), (&META_ID, Type::TEXT)],
                Retry::Once,
                STATEMENT_TIMEOUT,
            )
            .await?;
        let mut stages: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
        stages.sort();
        Ok(stages)
    }

    pub(crate) async fn write_record(&self, record: &Record) -> Result<()> {
        self.write(&record.id, &to_json(record)).await
    }

    pub(crate) async fn remove_record(&self, id: &str) -> Result<()> {
        self.remove(id).await
    }

    pub(crate) async fn write_meta(&self, meta: &Meta) -> Result<()> {
        self.write(META_ID, &to_json(meta)).await
    }

    pub(crate) async fn remove_meta(&self) -> Result<()> {
        self.remove(META_ID).await
    }

    /// Nothing to do: every write is in place when it returns.
    pub(crate) async fn settle(&self) -> Result<()> {
        Ok(())
    }

    /// Writes row `id` (an update of the version this store knows, or an insert of a row it
    /// believes absent), fenced on the lease.
    async fn write(&self, id: &str, body: &[u8]) -> Result<()> {
        let token = self.held_token()?;
        let body = std::str::from_utf8(body).expect("state serializes as UTF-8");
        let expected = guard(&self.versions).get(id).copied();
        let (app, stage) = (&self.app, &self.stage);
        let written = match &expected {
            Some(version) => {
                let params: [Param<'_>; 6] = [
                    (app, Type::TEXT),
                    (stage, Type::TEXT),
                    (&token, Type::TEXT),
                    (&id, Type::TEXT),
                    (&body, Type::TEXT),
                    (version, Type::INT8),
                ];
                self.fenced("write", UPDATE, &token, &params).await?
            }
            None => {
                let params: [Param<'_>; 5] = [
                    (app, Type::TEXT),
                    (stage, Type::TEXT),
                    (&token, Type::TEXT),
                    (&id, Type::TEXT),
                    (&body, Type::TEXT),
                ];
                self.fenced("write", INSERT, &token, &params).await?
            }
        };
        match written {
            Some(version) => {
                guard(&self.versions).insert(id.to_owned(), version);
                Ok(())
            }
            None => Err(self.conflict(id, expected.is_some())),
        }
    }

    /// Removes row `id` if it is at the version this store knows; a row this store believes
    /// absent must still be absent.
    async fn remove(&self, id: &str) -> Result<()> {
        let token = self.held_token()?;
        let expected = guard(&self.versions).get(id).copied();
        let (app, stage) = (&self.app, &self.stage);
        match &expected {
            Some(version) => {
                let params: [Param<'_>; 5] = [
                    (app, Type::TEXT),
                    (stage, Type::TEXT),
                    (&token, Type::TEXT),
                    (&id, Type::TEXT),
                    (version, Type::INT8),
                ];
                match self.fenced("write", DELETE, &token, &params).await? {
                    Some(_) => {
                        guard(&self.versions).remove(id);
                        Ok(())
                    }
                    None => Err(self.conflict(id, true)),
                }
            }
            None => {
                let params: [Param<'_>; 4] = [
                    (app, Type::TEXT),
                    (stage, Type::TEXT),
                    (&token, Type::TEXT),
                    (&id, Type::TEXT),
                ];
                match self.fenced("write", ABSENT, &token, &params).await? {
                    None => Ok(()),
                    Some(_) => Err(self.conflict(id, false)),
                }
            }
        }
    }

    /// Runs a fenced write, answering the version it wrote or found; [`Error::LockLost`] when
    /// this store's lease was not live.
    async fn fenced(
        &self,
        action: &'static str,
        sql: &str,
        token: &str,
        params: &[Param<'_>],
    ) -> Result<Option<i64>> {
        let rows = self
            .query(action, sql, params, Retry::Never, STATEMENT_TIMEOUT)
            .await?;
        let row = self.one_row(action, &rows)?;
        if !row.get::<_, bool>(0) {
            let (holder, now): (Option<String>, Option<String>) = (row.get(2), row.get(3));
            let why = if now.as_deref() == Some(token) {
                "its lease ran out before this write (it was not renewed in time)".to_owned()
            } else {
                format!(
                    "it was taken over before this write: {}",
                    holder_now(holder.as_deref())
                )
            };
            return Err(self.lost(why));
        }
        Ok(row.get(1))
    }

    fn conflict(&self, id: &str, existed: bool) -> Error {
        let what = if id == META_ID {
            "the stage-wide state".to_owned()
        } else {
            format!("the record of `{id}`")
        };
        let detail = if existed {
            format!("{what} was changed or removed since this run read it")
        } else {
            format!("{what} was written by another run since this one read the state")
        };
        Error::StateConflict {
            stage: self.stage.clone(),
            location: self.describe(),
            detail: format!("{detail} (row {})", self.row_name(id)),
        }
    }

    /// Takes the lock when it is free, expired, already this run's, or `force`d; else says who
    /// holds it.
    pub(crate) async fn try_lock(
        &self,
        me: &Holder,
        lease: Duration,
        force: bool,
    ) -> Result<Acquired> {
        let token = me
            .token
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let holder = serde_json::to_string(&Holder {
            token: None,
            expires_ms: None,
            ..me.clone()
        })
        .expect("a holder serializes");
        let secs = lease.as_secs_f64();
        let params: [Param<'_>; 6] = [
            (&self.app, Type::TEXT),
            (&self.stage, Type::TEXT),
            (&holder, Type::TEXT),
            (&token, Type::TEXT),
            (&secs, Type::FLOAT8),
            (&force, Type::BOOL),
        ];
        // The row may come or go between this statement's snapshot and its insert: try again.
        for _ in 0..5 {
            let rows = self
                .query("lock", TRY_LOCK, &params, Retry::Once, STATEMENT_TIMEOUT)
                .await?;
            let row = self.one_row("lock", &rows)?;
            if row.get::<_, bool>(0) {
                *guard(&self.token) = Some(token);
                return Ok(Acquired::Held);
            }
            let Some(json) = row.get::<_, Option<String>>(1) else {
                continue;
            };
            let mut holder: Holder = parse_json(&self.lock_location(), json.as_bytes())?;
            holder.token = row.get(2);
            holder.expires_ms = row.get::<_, Option<i64>>(3).map(|ms| ms.max(0) as u64);
            return Ok(Acquired::Busy(holder));
        }
        Err(self.error(
            "lock",
            "the lock row kept changing under this run: try again".into(),
        ))
    }

    /// Moves this run's lease on; [`Error::LockLost`] when another run holds the lock now.
    pub(crate) async fn renew(&self, lease: Duration) -> Result<()> {
        let token = self.held_token()?;
        let secs = lease.as_secs_f64();
        let params: [Param<'_>; 4] = [
            (&self.app, Type::TEXT),
            (&self.stage, Type::TEXT),
            (&token, Type::TEXT),
            (&secs, Type::FLOAT8),
        ];
        let timeout = (lease / 2).clamp(Duration::from_secs(1), STATEMENT_TIMEOUT);
        let rows = self
            .query("renew the lock of", RENEW, &params, Retry::Once, timeout)
            .await?;
        let row = self.one_row("renew the lock of", &rows)?;
        if row.get::<_, bool>(0) {
            return Ok(());
        }
        let holder: Option<String> = row.get(1);
        Err(self.lost(format!(
            "it was taken over: {}",
            holder_now(holder.as_deref())
        )))
    }

    /// Frees the lock if this run still holds it.
    pub(crate) async fn unlock(&self) -> Result<()> {
        let Some(token) = guard(&self.token).clone() else {
            return Ok(());
        };
        let params: [Param<'_>; 3] = [
            (&self.app, Type::TEXT),
            (&self.stage, Type::TEXT),
            (&token, Type::TEXT),
        ];
        self.query("unlock", UNLOCK, &params, Retry::Once, STATEMENT_TIMEOUT)
            .await?;
        let mut held = guard(&self.token);
        if held.as_deref() == Some(token.as_str()) {
            *held = None;
        }
        Ok(())
    }

    /// This run's token; [`Error::LockLost`] when it holds no lock.
    fn held_token(&self) -> Result<String> {
        guard(&self.token)
            .clone()
            .ok_or_else(|| self.lost("this run does not hold the stage lock".into()))
    }

    fn lost(&self, why: String) -> Error {
        Error::LockLost {
            stage: self.stage.clone(),
            location: self.lock_location(),
            why,
        }
    }

    fn one_row<'r>(&self, action: &'static str, rows: &'r [Row]) -> Result<&'r Row> {
        rows.first()
            .ok_or_else(|| self.error(action, "the database answered no row".into()))
    }

    /// Sends one statement on the shared connection (concurrent calls are pipelined on it).
    async fn query(
        &self,
        action: &'static str,
        sql: &str,
        params: &[Param<'_>],
        retry: Retry,
        timeout: Duration,
    ) -> Result<Vec<Row>> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let client = self.client().await?;
            #[cfg(test)]
            self.statements
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let failure = match tokio::time::timeout(timeout, client.query_typed(sql, params)).await
            {
                Ok(Ok(rows)) => return Ok(rows),
                Ok(Err(e)) => {
                    if connection_gone(&e) || client.is_closed() {
                        self.drop_client(&client).await;
                        if retry == Retry::Once && attempt == 1 {
                            continue;
                        }
                    }
                    self.db_error(action, &e)
                }
                Err(_) => {
                    self.drop_client(&client).await;
                    self.error(
                        action,
                        format!(
                            "the database did not answer within {}s",
                            timeout.as_secs_f64()
                        ),
                    )
                }
            };
            return Err(failure);
        }
    }

    /// The connection, made (and the tables created) on first use or when the last one dropped.
    async fn client(&self) -> Result<Arc<Client>> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref()
            && !client.is_closed()
        {
            return Ok(Arc::clone(client));
        }
        *slot = None;
        let settings = self
            .settings
            .as_ref()
            .map_err(|message| self.error("connect to", message.clone()))?;
        let client = match tokio::time::timeout(CONNECT_TIMEOUT, self.connect(settings)).await {
            Ok(client) => client?,
            Err(_) => {
                return Err(self.error(
                    "connect to",
                    format!(
                        "no connection within {}s: check the host and port, and that the server is up",
                        CONNECT_TIMEOUT.as_secs()
                    ),
                ));
            }
        };
        let client = Arc::new(client);
        *slot = Some(Arc::clone(&client));
        Ok(client)
    }

    async fn connect(&self, settings: &Settings) -> Result<Client> {
        let connected = match settings.tls {
            Tls::Off => open(&settings.config, tokio_postgres::NoTls).await,
            Tls::Unchecked | Tls::Checked => {
                let tls = settings
                    .tls_config()
                    .map_err(|message| self.error("connect to", message))?;
                open(
                    &settings.config,
                    tokio_postgres_rustls::MakeRustlsConnect::new(tls),
                )
                .await
            }
        };
        let client = connected.map_err(|e| self.db_error("connect to", &e))?;
        self.create_tables(&client).await?;
        Ok(client)
    }

    /// Creates the tables when missing; a run that loses the race to create them uses the
    /// winner's.
    async fn create_tables(&self, client: &Client) -> Result<()> {
        for _ in 0..3 {
            // Typed statements only (no named prepared statement), so that a pooler in
            // transaction mode (PgBouncer, Supavisor) serves this connection too.
            let exist = client
                .query_typed(TABLES_EXIST, &[])
                .await
                .map_err(|e| self.db_error("read", &e))?;
            if exist.first().is_some_and(|row| row.get::<_, bool>(0)) {
                return Ok(());
            }
            match client.batch_execute(CREATE_TABLES).await {
                Ok(()) => return Ok(()),
                Err(e)
                    if e.code().is_some_and(|code| {
                        [
                            &SqlState::UNIQUE_VIOLATION,
                            &SqlState::DUPLICATE_TABLE,
                            &SqlState::DUPLICATE_OBJECT,
                        ]
                        .contains(&code)
                    }) => {}
                Err(e) => return Err(self.db_error("create the tables of", &e)),
            }
        }
        Ok(())
    }

    /// Forgets `client` if it is still the current connection, so the next call connects again.
    async fn drop_client(&self, client: &Arc<Client>) {
        let mut slot = self.client.lock().await;
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, client)) {
            *slot = None;
        }
    }

    fn error(&self, action: &'static str, message: String) -> Error {
        Error::StateStore {
            action,
            location: self.describe(),
            message: self.scrub(message),
        }
    }

    /// A driver or server error, with what to do about it.
    fn db_error(&self, action: &'static str, e: &tokio_postgres::Error) -> Error {
        let mut message = match e.as_db_error() {
            Some(db) => match db.hint() {
                Some(hint) => format!("{}: {} (hint: {hint})", db.severity(), db.message()),
                None => format!("{}: {}", db.severity(), db.message()),
            },
            None => std::error::Error::source(e)
                .map_or_else(|| e.to_string(), |cause| format!("{e}: {cause}")),
        };
        let code = e.code();
        let advice = if code == Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
            Some(
                "the user needs SELECT, INSERT, UPDATE and DELETE on athanor_state and athanor_lock (and CREATE on the schema once, or the tables created ahead by someone who has it)",
            )
        } else if code == Some(&SqlState::INVALID_PASSWORD)
            || code == Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
        {
            Some("check the user and password (in the URL, or PGUSER / PGPASSWORD)")
        } else if message.contains("certificate") || message.contains("Certificate") {
            Some(
                "sslmode=require checks that the server's certificate names the host and chains to this system's or Mozilla's roots: connect by the name in the certificate, point PGSSLROOTCERT at your provider's CA bundle, or use sslmode=prefer to encrypt without checking",
            )
        } else if code.is_none() && !e.is_closed() && action == "connect to" {
            Some(
                "check the host and port (in the URL, or PGHOST / PGPORT), and that the server is up",
            )
        } else {
            None
        };
        if let Some(advice) = advice {
            message = format!("{message}: {advice}");
        }
        self.error(action, message)
    }

    /// `message` with the password, if any, masked (no driver message should hold it; this
    /// makes sure).
    fn scrub(&self, message: String) -> String {
        let Ok(settings) = &self.settings else {
            return message;
        };
        match settings.config.get_password().map(String::from_utf8_lossy) {
            Some(password) if password.len() >= 4 && message.contains(&*password) => {
                message.replace(&*password, "***")
            }
            _ => message,
        }
    }
}

/// Connects and runs the connection on its own task.
async fn open<T>(config: &Config, tls: T) -> std::result::Result<Client, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "the Postgres state connection closed");
        }
    });
    Ok(client)
}

/// Whether `e` means the connection is gone: closed, or ended by the server (a `FATAL` error:
/// a restart, an idle timeout, `pg_terminate_backend`).
fn connection_gone(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    e.as_db_error().is_some_and(|db| {
        matches!(
            db.parsed_severity(),
            Some(Severity::Fatal | Severity::Panic)
        ) || db.code().code().starts_with("08")
            || db.code().code().starts_with("57P")
    })
}

/// Parses a row's body: its schema version first, so that a newer runtime's record is named as
/// such rather than as corrupt.
fn parse_body<T: serde::de::DeserializeOwned>(name: &str, body: &str) -> Result<T> {
    #[derive(serde::Deserialize)]
    struct Versioned {
        schema_version: u32,
    }
    let versioned: Versioned = parse_json(name, body.as_bytes())?;
    check_version(name, versioned.schema_version)?;
    parse_json(name, body.as_bytes())
}

/// Who holds the lock now, from its row's holder JSON.
fn holder_now(json: Option<&str>) -> String {
    match json.map(serde_json::from_str::<Holder>) {
        None => "it was released, and no run holds it now".into(),
        Some(Ok(h)) => format!(
            "pid {} on host {}{} holds it now, since {}",
            h.pid,
            h.host,
            h.user.map(|u| format!(" (user {u})")).unwrap_or_default(),
            h.since
        ),
        Some(Err(_)) => "another run holds it now".into(),
    }
}

fn guard<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::SCHEMA_VERSION;
    use std::sync::atomic::Ordering;
    use tokio_postgres::config::Host;

    const LEASE: Duration = Duration::from_secs(30);

    /// The test database (`.ci/services` starts it), or `None` when told to skip.
    fn test_url() -> Option<String> {
        match std::env::var("ATHANOR_TEST_POSTGRES") {
            Ok(url) if !url.is_empty() => Some(url),
            _ if std::env::var("ATHANOR_SKIP_POSTGRES").is_ok_and(|v| v == "1") => {
                eprintln!("skipping a Postgres state test: ATHANOR_SKIP_POSTGRES=1");
                None
            }
            _ => panic!(
                "ATHANOR_TEST_POSTGRES is not set: start the test database with `eval \"$(.ci/services)\"` (or set ATHANOR_SKIP_POSTGRES=1 to skip the Postgres tests)"
            ),
        }
    }

    macro_rules! test_url {
        () => {
            match test_url() {
                Some(url) => url,
                None => return,
            }
        };
    }

    /// An app of its own, so that tests sharing the database stay apart.
    fn app() -> String {
        format!("test-{}", uuid::Uuid::new_v4().simple())
    }

    fn pg(url: &str, app: &str) -> Postgres {
        Postgres::with_env(&SecretString::from(url.to_owned()), app, "dev", |_| None)
    }

    fn holder(pid: u32, host: &str) -> Holder {
        Holder {
            pid,
            host: host.into(),
            user: Some("ci".into()),
            since: "2026-01-01T00:00:00Z".into(),
            token: Some(uuid::Uuid::new_v4().to_string()),
            expires_ms: None,
        }
    }

    async fn locked(url: &str, app: &str) -> Postgres {
        let store = pg(url, app);
        let taken = store.try_lock(&holder(1, "here"), LEASE, false).await;
        assert!(matches!(taken, Ok(Acquired::Held)), "{taken:?}");
        store
    }

    fn meta(app: &str) -> Meta {
        Meta {
            schema_version: SCHEMA_VERSION,
            app: app.into(),
            stage: "dev".into(),
            secrets: None,
            account: Some("0123".into()),
        }
    }

    fn record(id: &str) -> Record {
        crate::state::sample_record(id, &format!("app-{id}-dev"))
    }

    /// Runs SQL on the test database directly, as another tool would.
    async fn execute(store: &Postgres, sql: &str, params: &[&(dyn ToSql + Sync)]) -> u64 {
        store
            .client()
            .await
            .unwrap()
            .execute(sql, params)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_password_is_never_shown() {
        let url = test_url!();
        let real: Config = url.parse().unwrap();
        let Host::Tcp(host) = &real.get_hosts()[0] else {
            panic!("a TCP host")
        };
        let port = real.get_ports().first().copied().unwrap_or(5432);
        let user = real.get_user().unwrap();
        let db = real.get_dbname().unwrap();
        let secret = "hunter2-not-the-password";
        for url in [
            format!("postgres://{user}:{secret}@{host}:{port}/{db}"),
            format!("postgres://{host}:{port}/{db}?user={user}&password={secret}"),
            // Nothing listens on port 1.
            format!("postgres://{user}:{secret}@127.0.0.1:1/{db}"),
        ] {
            let store = pg(&url, &app());
            let shown = [
                store.describe(),
                store.lock_location(),
                format!("{store:?}"),
                store.load().await.unwrap_err().to_string(),
                store
                    .try_lock(&holder(1, "h"), LEASE, false)
                    .await
                    .unwrap_err()
                    .to_string(),
            ];
            for shown in shown {
                assert!(!shown.contains(secret), "{shown}");
            }
            assert!(store.describe().starts_with(&format!("postgres://{user}@")));
        }
        // A wrong password is named as the problem (without the password).
        let store = pg(
            &format!("postgres://{user}:{secret}@{host}:{port}/{db}"),
            &app(),
        );
        let err = store.load().await.unwrap_err();
        assert!(
            matches!(&err, Error::StateStore { message, .. } if message.contains("password")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn meta_and_records_round_trip_and_a_fresh_store_reads_them() {
        let url = test_url!();
        let app = app();
        let store = locked(&url, &app).await;
        assert_eq!(store.load().await.unwrap(), Snapshot::default());
        store.write_meta(&meta(&app)).await.unwrap();
        store.write_record(&record("kv")).await.unwrap();
        store
            .write_record(&record("a/../b 'quoted'"))
            .await
            .unwrap();
        let mut changed = record("kv");
        changed.name = "renamed".into();
        store.write_record(&changed).await.unwrap();
        let expected = Snapshot {
            meta: Some(meta(&app)),
            records: [
                ("kv".to_owned(), changed.clone()),
                ("a/../b 'quoted'".to_owned(), record("a/../b 'quoted'")),
            ]
            .into(),
        };
        assert_eq!(store.load().await.unwrap(), expected);
        assert_eq!(pg(&url, &app).load().await.unwrap(), expected);
        // Another stage of the app, and another app, see nothing of it.
        let other_stage =
            Postgres::with_env(&SecretString::from(url.clone()), &app, "prod", |_| None);
        assert_eq!(other_stage.load().await.unwrap(), Snapshot::default());
        assert_eq!(pg(&url, "other").load().await.unwrap().meta, None);

        // Removal, twice; then the stage-wide row.
        store.remove_record("kv").await.unwrap();
        store.remove_record("kv").await.unwrap();
        let fresh = pg(&url, &app).load().await.unwrap();
        assert_eq!(
            fresh.records.keys().collect::<Vec<_>>(),
            ["a/../b 'quoted'"]
        );
        store.remove_record("a/../b 'quoted'").await.unwrap();
        store.remove_meta().await.unwrap();
        assert_eq!(pg(&url, &app).load().await.unwrap(), Snapshot::default());
        // The body is the JSON the local store writes.
        store.write_record(&record("kv")).await.unwrap();
        let body: String = store
            .client()
            .await
            .unwrap()
            .query_one(
                "SELECT body FROM athanor_state WHERE app = $1 AND stage = 'dev' AND id = 'kv'",
                &[&app],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(body.as_bytes(), to_json(&record("kv")));
        store.unlock().await.unwrap();
    }

    #[tokio::test]
    async fn the_stages_with_records_are_listed_with_one_statement() {
        let url = test_url!();
        let app = app();
        let url_secret = SecretString::from(url);
        let stage = |app: &str, stage: &str| Postgres::with_env(&url_secret, app, stage, |_| None);
        let lister = || Postgres::with_env(&url_secret, &app, ALL_STAGES, |_| None);
        assert!(lister().stages().await.unwrap().is_empty());
        for name in ["tenant-b", "tenant-a", "Zed", "tenant.c"] {
            let s = stage(&app, name);
            s.try_lock(&holder(1, "here"), LEASE, false).await.unwrap();
            s.write_meta(&meta(&app)).await.unwrap();
            s.write_record(&record("kv")).await.unwrap();
        }
        // Destroyed: its records, then its stage-wide row, removed (`remove_if_empty`).
        let gone = stage(&app, "tenant-gone");
        gone.try_lock(&holder(1, "here"), LEASE, false)
            .await
            .unwrap();
        gone.write_meta(&meta(&app)).await.unwrap();
        gone.write_record(&record("kv")).await.unwrap();
        gone.remove_record("kv").await.unwrap();
        gone.remove_meta().await.unwrap();
        // Only the stage-wide row, and only a lock: no record.
        let bare = stage(&app, "tenant-bare");
        bare.try_lock(&holder(1, "here"), LEASE, false)
            .await
            .unwrap();
        bare.write_meta(&meta(&app)).await.unwrap();
        // Another app's stage.
        let other = stage(&format!("{app}-other"), "tenant-x");
        other
            .try_lock(&holder(1, "here"), LEASE, false)
            .await
            .unwrap();
        other.write_record(&record("kv")).await.unwrap();

        let lister = lister();
        assert_eq!(
            lister.stages().await.unwrap(),
            ["Zed", "tenant-a", "tenant-b", "tenant.c"],
            "sorted by bytes, whatever the database's collation"
        );
        assert_eq!(lister.statements.load(Ordering::Relaxed), 1);
        assert!(lister.describe().ends_with(&format!("({app}/*)")));
        // Through the module's entry point too.
        assert_eq!(list_stages(&url_secret, &app).await.unwrap().len(), 4);
    }

    #[tokio::test]
    async fn a_listing_that_fails_names_the_server_without_the_password() {
        let url = test_url!();
        let real: Config = url.parse().unwrap();
        let user = real.get_user().unwrap();
        let db = real.get_dbname().unwrap();
        let secret = "hunter2-not-the-password";
        // Nothing listens on port 1.
        let url = SecretString::from(format!("postgres://{user}:{secret}@127.0.0.1:1/{db}"));
        let err = list_stages(&url, "app").await.unwrap_err();
        let shown = err.to_string();
        assert!(!shown.contains(secret), "{shown}");
        assert!(
            shown.contains("127.0.0.1:1") && shown.contains("(app/*)"),
            "{shown}"
        );
        assert!(shown.contains("check the host and port"), "{shown}");
    }

    #[tokio::test]
    async fn load_is_one_statement_and_writes_run_concurrently() {
        let url = test_url!();
        let app = app();
        let store = Arc::new(locked(&url, &app).await);
        let mut writes = tokio::task::JoinSet::new();
        for i in 0..8 {
            let store = Arc::clone(&store);
            writes.spawn(async move { store.write_record(&record(&format!("r{i}"))).await });
        }
        while let Some(written) = writes.join_next().await {
            written.unwrap().unwrap();
        }
        let before = store.statements.load(Ordering::Relaxed);
        let loaded = store.load().await.unwrap();
        assert_eq!(store.statements.load(Ordering::Relaxed) - before, 1);
        assert_eq!(loaded.records.len(), 8);
        // A fresh store: connecting and creating the tables are not statements of the load.
        let fresh = pg(&url, &app);
        assert_eq!(fresh.load().await.unwrap().records.len(), 8);
        assert_eq!(fresh.statements.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_writer_with_a_stale_version_conflicts_and_overwrites_nothing() {
        let url = test_url!();
        let app = app();
        let first = locked(&url, &app).await;
        first.load().await.unwrap();
        first.write_meta(&meta(&app)).await.unwrap();
        first.write_record(&record("kv")).await.unwrap();
        // The second run read the state before the first changed it again.
        let second = pg(&url, &app);
        second.load().await.unwrap();
        let mut newer = record("kv");
        newer.name = "first's".into();
        first.write_record(&newer).await.unwrap();
        first.write_record(&record("new")).await.unwrap();
        first.unlock().await.unwrap();
        let taken = second.try_lock(&holder(2, "there"), LEASE, false).await;
        assert!(matches!(taken, Ok(Acquired::Held)), "{taken:?}");
        let mut stale = record("kv");
        stale.name = "second's".into();
        let err = second.write_record(&stale).await.unwrap_err();
        assert!(
            matches!(&err, Error::StateConflict { detail, .. } if detail.contains("`kv`")),
            "{err}"
        );
        // A row the second believed absent was written meanwhile: neither written nor removed.
        let err = second.write_record(&record("new")).await.unwrap_err();
        assert!(matches!(err, Error::StateConflict { .. }), "{err}");
        let err = second.remove_record("new").await.unwrap_err();
        assert!(matches!(err, Error::StateConflict { .. }), "{err}");
        // Nothing was overwritten.
        let now = pg(&url, &app).load().await.unwrap();
        assert_eq!(now.records["kv"].name, "first's");
        assert!(now.records.contains_key("new"));
        // A row removed since it was read: removing it again is a conflict too. (Two stores of
        // the run holding the lock, each with what it read.)
        let (third, fourth) = (pg(&url, &app), pg(&url, &app));
        for store in [&third, &fourth] {
            store.load().await.unwrap();
            *guard(&store.token) = guard(&second.token).clone();
        }
        fourth.remove_record("kv").await.unwrap();
        let err = third.remove_record("kv").await.unwrap_err();
        assert!(matches!(err, Error::StateConflict { .. }), "{err}");
        // Once read again, the second writes.
        second.load().await.unwrap();
        second.write_record(&stale).await.unwrap();
        assert_eq!(
            pg(&url, &app).load().await.unwrap().records["kv"].name,
            "second's"
        );
    }

    #[tokio::test]
    async fn a_write_without_the_lease_is_refused() {
        let url = test_url!();
        let app = app();
        // Never locked.
        let unlocked = pg(&url, &app);
        let err = unlocked.write_record(&record("kv")).await.unwrap_err();
        assert!(matches!(err, Error::LockLost { .. }), "{err}");
        assert!(matches!(
            unlocked.renew(LEASE).await,
            Err(Error::LockLost { .. })
        ));

        // Taken over with --force-unlock while writing.
        let first = locked(&url, &app).await;
        first.write_record(&record("kv")).await.unwrap();
        let second = pg(&url, &app);
        let taken = second.try_lock(&holder(4242, "build-7"), LEASE, true).await;
        assert!(matches!(taken, Ok(Acquired::Held)), "{taken:?}");
        let mut changed = record("kv");
        changed.name = "after the takeover".into();
        let err = first.write_record(&changed).await.unwrap_err();
        let Error::LockLost { why, location, .. } = &err else {
            panic!("{err}")
        };
        assert!(why.contains("pid 4242 on host build-7"), "{why}");
        assert!(location.contains("athanor_lock"), "{location}");
        assert!(matches!(
            first.remove_record("kv").await,
            Err(Error::LockLost { .. })
        ));
        assert!(matches!(
            first.write_meta(&meta(&app)).await,
            Err(Error::LockLost { .. })
        ));
        assert_eq!(
            pg(&url, &app).load().await.unwrap().records["kv"],
            record("kv")
        );
        // The lease of a run that lost its lock is not renewed, and its unlock frees nothing.
        let err = first.renew(LEASE).await.unwrap_err();
        assert!(
            matches!(&err, Error::LockLost { why, .. } if why.contains("pid 4242 on host build-7")),
            "{err}"
        );
        first.unlock().await.unwrap();
        let third = pg(&url, &app);
        let busy = third.try_lock(&holder(3, "x"), LEASE, false).await.unwrap();
        assert!(matches!(busy, Acquired::Busy(h) if h.pid == 4242));

        // An expired lease refuses writes, though no one took it over.
        second.renew(Duration::from_millis(1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let err = second.write_record(&record("late")).await.unwrap_err();
        assert!(
            matches!(&err, Error::LockLost { why, .. } if why.contains("ran out")),
            "{err}"
        );
        // Renewing it in time restores it.
        second.renew(LEASE).await.unwrap();
        second.write_record(&record("late")).await.unwrap();
    }

    #[tokio::test]
    async fn the_lock_is_a_lease_taken_over_when_it_runs_out_or_by_force() {
        let url = test_url!();
        let app = app();
        let (a, b, c) = (pg(&url, &app), pg(&url, &app), pg(&url, &app));
        let short = Duration::from_secs(1);
        let alpha = holder(100, "alpha");
        assert!(matches!(
            a.try_lock(&alpha, short, false).await.unwrap(),
            Acquired::Held
        ));
        // Taking it again (a try whose answer was lost) is taking it.
        assert!(matches!(
            a.try_lock(&alpha, short, false).await.unwrap(),
            Acquired::Held
        ));
        let Acquired::Busy(busy) = b
            .try_lock(&holder(200, "beta"), LEASE, false)
            .await
            .unwrap()
        else {
            panic!("b took a held lock")
        };
        assert_eq!(
            (busy.pid, busy.host.as_str(), busy.user.as_deref()),
            (100, "alpha", Some("ci"))
        );
        assert!(busy.expires_ms.is_some_and(|ms| ms > 0), "{busy:?}");
        let err = busy.locked("dev", b.lock_location()).to_string();
        assert!(err.contains("pid 100 on host alpha"), "{err}");

        // The lease runs out by the server's clock; then another run takes it.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert!(matches!(
            b.try_lock(&holder(200, "beta"), LEASE, false)
                .await
                .unwrap(),
            Acquired::Held
        ));
        let err = a.renew(short).await.unwrap_err();
        assert!(
            matches!(&err, Error::LockLost { why, .. } if why.contains("pid 200 on host beta")),
            "{err}"
        );
        b.renew(LEASE).await.unwrap();

        // Forced over a live lease.
        assert!(matches!(
            c.try_lock(&holder(300, "gamma"), LEASE, false).await.unwrap(),
            Acquired::Busy(h) if h.pid == 200
        ));
        assert!(matches!(
            c.try_lock(&holder(300, "gamma"), LEASE, true)
                .await
                .unwrap(),
            Acquired::Held
        ));
        assert!(matches!(b.renew(LEASE).await, Err(Error::LockLost { .. })));
        b.unlock().await.unwrap(); // frees nothing: c holds it
        assert!(matches!(
            a.try_lock(&holder(100, "alpha"), LEASE, false).await.unwrap(),
            Acquired::Busy(h) if h.pid == 300
        ));
        c.unlock().await.unwrap();
        assert!(matches!(
            a.try_lock(&holder(100, "alpha"), LEASE, false)
                .await
                .unwrap(),
            Acquired::Held
        ));
        a.unlock().await.unwrap();
    }

    #[tokio::test]
    async fn a_corrupt_or_newer_row_is_an_error_naming_it() {
        let url = test_url!();
        let app = app();
        let store = locked(&url, &app).await;
        store.write_record(&record("kv")).await.unwrap();
        execute(
            &store,
            "UPDATE athanor_state SET body = 'not json' WHERE app = $1 AND id = 'kv'",
            &[&app],
        )
        .await;
        let err = store.load().await.unwrap_err();
        let Error::StateCorrupt { file, .. } = &err else {
            panic!("{err}")
        };
        assert!(
            file.contains(&format!("athanor_state({app}, dev, \"kv\")")),
            "{file}"
        );
        let mut newer = serde_json::to_value(record("kv")).unwrap();
        newer["schema_version"] = 99.into();
        newer["kind"] = "something_new".into();
        let newer = newer.to_string();
        execute(
            &store,
            "UPDATE athanor_state SET body = $2 WHERE app = $1 AND id = 'kv'",
            &[&app, &newer],
        )
        .await;
        assert!(matches!(
            store.load().await,
            Err(Error::StateVersion { found: 99, .. })
        ));
        // A row holding another id's record.
        let other = to_json(&record("other"));
        let other = std::str::from_utf8(&other).unwrap();
        execute(
            &store,
            "UPDATE athanor_state SET body = $2 WHERE app = $1 AND id = 'kv'",
            &[&app, &other],
        )
        .await;
        assert!(matches!(
            store.load().await,
            Err(Error::StateCorrupt { .. })
        ));
    }

    #[tokio::test]
    async fn the_connection_is_made_again_after_it_dropped() {
        let url = test_url!();
        let app = app();
        let store = locked(&url, &app).await;
        store.write_record(&record("kv")).await.unwrap();
        let killer = pg(&url, &app);
        terminate(&store, &killer).await;
        // A write made once the connection is seen closed goes on a new one.
        tokio::time::sleep(Duration::from_millis(200)).await;
        store.write_record(&record("kv2")).await.unwrap();
        // A read made before it is seen closed is sent again on a new one.
        terminate(&store, &killer).await;
        assert_eq!(store.load().await.unwrap().records.len(), 2);
        terminate(&store, &killer).await;
        store.renew(LEASE).await.unwrap();
    }

    /// Ends `store`'s connection from the server's side, as a restart or an idle timeout would.
    async fn terminate(store: &Postgres, killer: &Postgres) {
        let client = store.client().await.unwrap();
        let pid: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0);
        let killed: bool = killer
            .client()
            .await
            .unwrap()
            .query_one("SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .unwrap()
            .get(0);
        assert!(killed);
    }

    #[tokio::test]
    async fn runs_racing_to_create_the_tables_both_go_on() {
        let url = test_url!();
        let schema = format!("athanor_{}", uuid::Uuid::new_v4().simple());
        let admin = pg(&url, &app());
        execute(&admin, &format!("CREATE SCHEMA {schema}"), &[]).await;
        let sep = if url.contains('?') { '&' } else { '?' };
        let scoped = format!("{url}{sep}options=-csearch_path%3D{schema}");
        let app = app();
        let stores: Vec<Arc<Postgres>> = (0..4).map(|_| Arc::new(pg(&scoped, &app))).collect();
        let mut loads = tokio::task::JoinSet::new();
        for s in &stores {
            let s = Arc::clone(s);
            loads.spawn(async move { s.load().await });
        }
        while let Some(loaded) = loads.join_next().await {
            assert_eq!(loaded.unwrap().unwrap(), Snapshot::default());
        }
        let created: i64 = admin
            .client()
            .await
            .unwrap()
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = $1",
                &[&schema],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(created, 2);
        execute(&admin, &format!("DROP SCHEMA {schema} CASCADE"), &[]).await;
    }

    #[tokio::test]
    async fn tls_is_used_when_offered_and_a_required_certificate_is_checked() {
        let url = test_url!();
        let probe = pg(&url, &app());
        let offered: String = probe
            .client()
            .await
            .unwrap()
            .query_one("SHOW ssl", &[])
            .await
            .unwrap()
            .get(0);
        // Loopback: no TLS unless asked.
        let sep = if url.contains('?') { '&' } else { '?' };
        let in_use = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
        let plain: bool = probe
            .client()
            .await
            .unwrap()
            .query_one(in_use, &[])
            .await
            .unwrap()
            .get(0);
        assert!(!plain);
        let prefer = pg(&format!("{url}{sep}sslmode=prefer"), &app());
        let tls: bool = prefer
            .client()
            .await
            .unwrap()
            .query_one(in_use, &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(tls, offered == "on");
        prefer.load().await.unwrap();
        if offered != "on" {
            eprintln!("the test server offers no TLS: checked certificates not tested");
            return;
        }
        // The test server's certificate is its own (Debian's snakeoil): not trusted.
        let require = pg(&format!("{url}{sep}sslmode=require"), &app());
        let err = require.load().await.unwrap_err().to_string();
        assert!(
            err.contains("certificate") && err.contains("PGSSLROOTCERT"),
            "{err}"
        );
        assert!(!err.contains(":athanor@"), "{err}");
    }

    #[tokio::test]
    async fn a_certificate_chaining_to_pgsslrootcert_is_accepted() {
        let url = test_url!();
        let probe = pg(&url, &app());
        let client = probe.client().await.unwrap();
        let setting = |name: &'static str| {
            let client = Arc::clone(&client);
            async move {
                let row = client
                    .query_one(&format!("SHOW {name}"), &[])
                    .await
                    .unwrap();
                row.get::<_, String>(0)
            }
        };
        if setting("ssl").await != "on" {
            eprintln!("the test server offers no TLS: checked certificates not tested");
            return;
        }
        // The test server's own certificate (Debian's snakeoil), as the only root.
        let cert = setting("ssl_cert_file").await;
        let real: Config = url.parse().unwrap();
        let user = real.get_user().unwrap();
        let password = String::from_utf8(real.get_password().unwrap().to_vec()).unwrap();
        let port = real.get_ports().first().copied().unwrap_or(5432);
        let db = real.get_dbname().unwrap();
        let env = |name: &str| (name == "PGSSLROOTCERT").then(|| cert.clone());
        // The certificate names the host it was made on: connect by that name, to loopback.
        let mut name = "localhost".to_owned();
        for _ in 0..2 {
            let url = format!(
                "postgres://{user}:{password}@{name}:{port}/{db}?hostaddr=127.0.0.1&sslmode=require&channel_binding=require"
            );
            let store = Postgres::with_env(&SecretString::from(url), &app(), "dev", env);
            match store.load().await {
                Ok(_) => {
                    let client = store.client().await.unwrap();
                    let in_use = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
                    let tls: bool = client.query_one(in_use, &[]).await.unwrap().get(0);
                    assert!(tls);
                    return;
                }
                Err(e) => {
                    let e = e.to_string();
                    let named = e
                        .split_once("only valid for DnsName(\"")
                        .and_then(|(_, rest)| rest.split_once('"'));
                    match named {
                        Some((cert_name, _)) => name = cert_name.to_owned(),
                        None => panic!("{e}"),
                    }
                }
            }
        }
        panic!("the certificate's name was not accepted: {name}");
    }
}
