//! SQLite storage: one database file in the data directory, WAL mode, `synchronous=FULL`, a
//! transaction per write, so an acknowledged write survives a crash.
//!
//! One connection behind a mutex serializes access; every call runs on tokio's blocking pool so
//! SQLite never stalls the async runtime. Resources are JSON documents keyed by (kind, id); KV
//! values and Worker module parts, which can be large, have tables of their own, and so do R2
//! objects and Analytics Engine data points.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::Value;

use crate::Error;
use crate::envelope::ApiError;

pub(crate) mod analytics_engine;
pub(crate) mod d1;
pub(crate) mod lookup;
pub(crate) mod queues;
pub(crate) mod r2;

/// The database file name inside the data directory.
const DB_FILE: &str = "emulator.sqlite3";

/// A handle to the database; clones share the connection.
#[derive(Clone)]
pub(crate) struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    /// Creates the data directory if needed and opens (or creates) the database in it.
    pub async fn open(dir: &Path) -> Result<Store, Error> {
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || Store::open_blocking(&dir))
            .await
            .map_err(|e| Error::Task(e.to_string()))?
    }

    fn open_blocking(dir: &Path) -> Result<Store, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path: PathBuf = dir.join(DB_FILE);
        let db_err = |source| Error::Database {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(db_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        conn.execute_batch(r2::SCHEMA).map_err(db_err)?;
        conn.execute_batch(r2::settings::SCHEMA).map_err(db_err)?;
        conn.execute_batch(queues::SCHEMA).map_err(db_err)?;
        conn.execute_batch(&analytics_engine::schema())
            .map_err(db_err)?;
        r2::migrate_from_kv(&conn).map_err(db_err)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` in one transaction on the blocking pool; commits only when it returns `Ok`.
    pub async fn tx<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn
                .lock()
                .map_err(|_| ApiError::internal("the emulator's storage lock is poisoned"))?;
            let tx = conn.transaction()?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
        .await
        .map_err(|e| ApiError::internal(format!("the emulator's storage task failed: {e}")))?
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS docs (
    kind TEXT NOT NULL,
    id   TEXT NOT NULL,
    body TEXT NOT NULL,
    seq  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv_values (
    namespace_id TEXT NOT NULL,
    key          TEXT NOT NULL,
    value        BLOB NOT NULL,
    metadata     TEXT,
    expiration   INTEGER,
    PRIMARY KEY (namespace_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS script_parts (
    script       TEXT NOT NULL,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    data         BLOB NOT NULL,
    PRIMARY KEY (script, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Documents: resources stored as JSON, keyed by kind and id, listed in creation order.
pub(crate) mod docs {
    use super::*;

    /// Reads one document.
    pub fn get(c: &Connection, kind: &str, id: &str) -> Result<Option<Value>, ApiError> {
        let body: Option<String> = c
            .query_row(
                "SELECT body FROM docs WHERE kind = ?1 AND id = ?2",
                params![kind, id],
                |r| r.get(0),
            )
            .optional()?;
        body.map(|b| parse(&b)).transpose()
    }

    /// Inserts or replaces one document, keeping its creation order when it already exists.
    pub fn put(c: &Connection, kind: &str, id: &str, body: &Value) -> Result<(), ApiError> {
        let seq = next_seq(c)?;
        c.execute(
            "INSERT INTO docs (kind, id, body, seq) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body",
            params![kind, id, body.to_string(), seq],
        )?;
        Ok(())
    }

    /// Deletes one document; whether it existed.
    pub fn delete(c: &Connection, kind: &str, id: &str) -> Result<bool, ApiError> {
        Ok(c.execute(
            "DELETE FROM docs WHERE kind = ?1 AND id = ?2",
            params![kind, id],
        )? > 0)
    }

    /// Every document of a kind whose id starts with `prefix`, in creation order.
    pub fn list(c: &Connection, kind: &str, prefix: &str) -> Result<Vec<Value>, ApiError> {
        let mut stmt = c.prepare_cached(
            "SELECT body FROM docs WHERE kind = ?1 AND substr(id, 1, ?2) = ?3 ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![kind, prefix.len() as i64, prefix], |r| {
            r.get::<_, String>(0)
        })?;
        let mut out = Vec::new();
        for body in rows {
            out.push(parse(&body?)?);
        }
        Ok(out)
    }

    /// How many documents of a kind there are.
    pub fn count(c: &Connection, kind: &str) -> Result<usize, ApiError> {
        Ok(c.query_row(
            "SELECT COUNT(*) FROM docs WHERE kind = ?1",
            params![kind],
            |r| r.get::<_, i64>(0),
        )? as usize)
    }

    /// How many documents of a kind have an id starting with `prefix` (none is parsed).
    pub fn count_prefixed(c: &Connection, kind: &str, prefix: &str) -> Result<usize, ApiError> {
        Ok(c.query_row(
            "SELECT COUNT(*) FROM docs WHERE kind = ?1 AND substr(id, 1, ?2) = ?3",
            params![kind, prefix.len() as i64, prefix],
            |r| r.get::<_, i64>(0),
        )? as usize)
    }

    /// The id of a document of a kind whose top-level string `field` equals `value`, if any.
    pub fn find(
        c: &Connection,
        kind: &str,
        field: &str,
        value: &str,
    ) -> Result<Option<String>, ApiError> {
        Ok(c.query_row(
            "SELECT id FROM docs WHERE kind = ?1 AND json_extract(body, '$.' || ?2) = ?3 LIMIT 1",
            params![kind, field, value],
            |r| r.get(0),
        )
        .optional()?)
    }

    fn parse(body: &str) -> Result<Value, ApiError> {
        serde_json::from_str(body).map_err(|e| {
            ApiError::internal(format!("corrupt document in the emulator database: {e}"))
        })
    }

    fn next_seq(c: &Connection) -> Result<i64, ApiError> {
        Ok(c.query_row(
            "INSERT INTO counters (name, value) VALUES ('docs', 1)
             ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
            [],
            |r| r.get(0),
        )?)
    }
}

/// One stored KV value.
#[derive(Debug, Clone)]
pub(crate) struct KvEntry {
    pub key: String,
    pub value: Vec<u8>,
    pub metadata: Option<Value>,
    pub expiration: Option<i64>,
}

/// KV values: live entries only (an entry whose expiration has passed is gone).
pub(crate) mod kv {
    use super::*;

    /// Writes (or overwrites) one value.
    pub fn put(c: &Connection, ns: &str, e: &KvEntry) -> Result<(), ApiError> {
        c.execute(
            "INSERT OR REPLACE INTO kv_values (namespace_id, key, value, metadata, expiration)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                ns,
                e.key,
                e.value,
                e.metadata.as_ref().map(|m| m.to_string()),
                e.expiration
            ],
        )?;
        Ok(())
    }

    /// Reads one live value.
    pub fn get(c: &Connection, ns: &str, key: &str, now: i64) -> Result<Option<KvEntry>, ApiError> {
        c.query_row(
            "SELECT key, value, metadata, expiration FROM kv_values
             WHERE namespace_id = ?1 AND key = ?2 AND (expiration IS NULL OR expiration > ?3)",
            params![ns, key, now],
            row,
        )
        .optional()?
        .transpose()
    }

    /// The live entry of each of `keys` (in order, repeats included).
    pub fn get_many(
        c: &Connection,
        ns: &str,
        keys: &[String],
        now: i64,
    ) -> Result<Vec<(String, Option<KvEntry>)>, ApiError> {
        keys.iter()
            .map(|k| Ok((k.clone(), get(c, ns, k, now)?)))
            .collect()
    }

    /// Deletes one key; whether a live value was there.
    pub fn delete(c: &Connection, ns: &str, key: &str) -> Result<bool, ApiError> {
        Ok(c.execute(
            "DELETE FROM kv_values WHERE namespace_id = ?1 AND key = ?2",
            params![ns, key],
        )? > 0)
    }

    /// Deletes every value of a namespace.
    pub fn delete_namespace(c: &Connection, ns: &str) -> Result<(), ApiError> {
        c.execute("DELETE FROM kv_values WHERE namespace_id = ?1", params![ns])?;
        Ok(())
    }

    /// Up to `limit` live keys after `after` that start with `prefix`, in byte order, values left empty.
    pub fn list(
        c: &Connection,
        ns: &str,
        prefix: &str,
        after: &str,
        limit: usize,
        now: i64,
    ) -> Result<Vec<KvEntry>, ApiError> {
        let mut stmt = c.prepare_cached(
            "SELECT key, x'', metadata, expiration FROM kv_values
             WHERE namespace_id = ?1 AND key > ?2 AND substr(key, 1, ?3) = ?4
               AND (expiration IS NULL OR expiration > ?5)
             ORDER BY key LIMIT ?6",
        )?;
        let rows = stmt.query_map(
            params![ns, after, prefix.len() as i64, prefix, now, limit as i64],
            row,
        )?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r??);
        }
        Ok(out)
    }

    /// Removes values whose expiration has passed.
    pub fn purge_expired(c: &Connection, now: i64) -> Result<(), ApiError> {
        c.execute(
            "DELETE FROM kv_values WHERE expiration IS NOT NULL AND expiration <= ?1",
            params![now],
        )?;
        Ok(())
    }

    fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<KvEntry, ApiError>> {
        let key: String = r.get(0)?;
        let value: Vec<u8> = r.get(1)?;
        let metadata: Option<String> = r.get(2)?;
        let expiration: Option<i64> = r.get(3)?;
        let metadata = metadata
            .map(|m| serde_json::from_str(&m))
            .transpose()
            .map_err(|e| ApiError::internal(format!("corrupt KV metadata: {e}")));
        Ok(metadata.map(|metadata| KvEntry {
            key,
            value,
            metadata,
            expiration,
        }))
    }
}

/// One module (or other part) of a Worker upload.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Worker script parts, keyed by the script's storage id.
pub(crate) mod parts {
    use super::*;

    /// Replaces every part of `script`.
    pub fn replace(c: &Connection, script: &str, parts: &[Part]) -> Result<(), ApiError> {
        delete_all(c, script)?;
        for p in parts {
            c.execute(
                "INSERT INTO script_parts (script, name, content_type, data) VALUES (?1, ?2, ?3, ?4)",
                params![script, p.name, p.content_type, p.data],
            )?;
        }
        Ok(())
    }

    /// Every part of `script`, by name.
    pub fn all(c: &Connection, script: &str) -> Result<Vec<Part>, ApiError> {
        let mut stmt = c.prepare_cached(
            "SELECT name, content_type, data FROM script_parts WHERE script = ?1 ORDER BY name",
        )?;
        let rows = stmt.query_map(params![script], |r| {
            Ok(Part {
                name: r.get(0)?,
                content_type: r.get(1)?,
                data: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes every part of `script`.
    pub fn delete_all(c: &Connection, script: &str) -> Result<(), ApiError> {
        c.execute(
            "DELETE FROM script_parts WHERE script = ?1",
            params![script],
        )?;
        Ok(())
    }
}
