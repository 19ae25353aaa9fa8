//! D1 databases on disk: one SQLite file per database, `<data dir>/d1/<uuid>.sqlite`, shared by
//! the v4 API (`handlers::d1`) and the Workers' D1 binding (`bindings::d1`), so that what one
//! writes the other reads.
//!
//! Each file holds D1's own `_cf_KV` table beside the user's tables, as on Cloudflare. A request
//! (one API query, one binding call, one `batch()`) runs in one transaction under the rules of
//! `d1_rules`: an authorizer active while user statements are prepared and run (never for the
//! emulator's own statements), D1's limits, `foreign_keys` on, SQLite's defensive mode. A failed
//! statement rolls the whole request back, as D1 does.
//!
//! `meta` is measured: `changes` (SQLite's total changes), `last_row_id`, `size_after` (pages ×
//! page size), `changed_db`, `duration`. `rows_read` and `rows_written` are estimates, since
//! stock SQLite does not count them as Cloudflare's does: rows returned plus rows a full scan
//! stepped over, and rows changed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rusqlite::config::DbConfig;
use rusqlite::hooks::Authorization;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, StatementStatus};
use serde_json::{Map, Value, json};

use crate::d1_rules::{self, Verdict};

/// The name of D1's own table in every database.
const CF_TABLE: &str = "_cf_KV";

/// One statement text with its parameters, as the API and the binding send them.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct Query {
    pub sql: String,
    #[serde(default)]
    pub params: Option<Vec<Value>>,
}

/// How the statements of a query's text become results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Split {
    /// One result per statement (the v4 API); parameters need a single statement.
    EachStatement,
    /// One result per query, the last statement's (the binding, as `sql.exec` runs a text);
    /// only the last statement may have parameters.
    LastStatement,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum D1Error {
    /// The database does not exist (or no longer does).
    Missing,
    /// The request is malformed (the API's code 7400).
    Malformed(String),
    /// SQLite or D1's rules refused a statement (the API's code 7500), with D1's message.
    Sql(String),
    /// The emulator could not read or write the file.
    Storage(String),
}

impl std::fmt::Display for D1Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            D1Error::Missing => f.write_str("the D1 database does not exist"),
            D1Error::Malformed(m) | D1Error::Sql(m) | D1Error::Storage(m) => f.write_str(m),
        }
    }
}

/// What one statement (or query) measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Meta {
    pub duration_ms: f64,
    pub changes: u64,
    pub last_row_id: i64,
    pub changed_db: bool,
    pub size_after: u64,
    pub rows_read: u64,
    pub rows_written: u64,
}

impl Meta {
    /// The `meta` object D1 answers.
    pub fn to_json(&self) -> Value {
        json!({
            "served_by_primary": true,
            "timings": {"sql_duration_ms": self.duration_ms},
            "duration": self.duration_ms,
            "changes": self.changes,
            "last_row_id": self.last_row_id,
            "changed_db": self.changed_db,
            "size_after": self.size_after,
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
        })
    }

    /// Adds `other` after this one: counts sum, the last row id and size are the later ones.
    pub fn add(&mut self, other: &Meta) {
        self.duration_ms += other.duration_ms;
        self.changes += other.changes;
        self.last_row_id = other.last_row_id;
        self.changed_db |= other.changed_db;
        self.size_after = other.size_after;
        self.rows_read += other.rows_read;
        self.rows_written += other.rows_written;
    }
}

/// The result of one statement (or query): its columns, rows and meta.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Outcome {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    pub meta: Meta,
}

impl Outcome {
    /// The rows as objects keyed by column (a repeated column name keeps its last value).
    pub fn objects(&self) -> Value {
        Value::Array(
            self.rows
                .iter()
                .map(|row| {
                    let mut o = Map::new();
                    for (c, v) in self.columns.iter().zip(row) {
                        o.insert(c.clone(), v.clone());
                    }
                    Value::Object(o)
                })
                .collect(),
        )
    }

    /// `{columns, rows}`.
    pub fn columns_and_rows(&self) -> Value {
        json!({"columns": self.columns, "rows": self.rows})
    }
}

/// A request's results and the database's bookmark after it.
#[derive(Debug)]
pub(crate) struct Executed {
    pub outcomes: Vec<Outcome>,
    pub bookmark: String,
}

/// What `GET …/d1/database/{id}` reports of the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileStats {
    pub num_tables: u64,
    pub file_size: u64,
}

/// Which parts of a database an export holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct DumpOptions {
    pub no_schema: bool,
    pub no_data: bool,
    /// Only these tables (and the indexes, triggers and views of that name); empty is all.
    pub tables: Vec<String>,
}

/// The directory of D1 database files and the open connections to them; clones share both.
#[derive(Clone)]
pub(crate) struct D1Files {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    open: Mutex<HashMap<String, Arc<Mutex<Database>>>>,
}

/// Whether the authorizer judges what is prepared now (user statements), and whether it refused a
/// transaction statement (which D1 words apart).
#[derive(Default)]
struct Gate {
    user: AtomicBool,
    refused_transaction: AtomicBool,
}

/// While alive, prepared and stepped statements are the user's.
struct UserMode<'a>(&'a Gate);

impl<'a> UserMode<'a> {
    fn enter(gate: &'a Gate) -> UserMode<'a> {
        gate.refused_transaction.store(false, Ordering::SeqCst);
        gate.user.store(true, Ordering::SeqCst);
        UserMode(gate)
    }
}

impl Drop for UserMode<'_> {
    fn drop(&mut self) {
        self.0.user.store(false, Ordering::SeqCst);
    }
}

/// One open database.
struct Database {
    conn: Connection,
    gate: Arc<Gate>,
    page_size: u64,
    /// When this connection opened (milliseconds), the first part of its bookmarks.
    opened_ms: u128,
    /// Requests that changed the database since it opened.
    writes: u64,
}

impl D1Files {
    /// The files under `<data_dir>/d1`; the directory is created with the first database.
    pub fn new(data_dir: &Path) -> D1Files {
        D1Files {
            inner: Arc::new(Inner {
                dir: data_dir.join("d1"),
                open: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    fn path(&self, id: &str) -> PathBuf {
        self.inner.dir.join(format!("{id}.sqlite"))
    }

    /// Runs `f` on tokio's blocking pool (every call here does file I/O).
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, D1Error>
    where
        T: Send + 'static,
        F: FnOnce(&D1Files) -> Result<T, D1Error> + Send + 'static,
    {
        let files = self.clone();
        tokio::task::spawn_blocking(move || f(&files))
            .await
            .map_err(|e| D1Error::Storage(format!("the D1 storage task failed: {e}")))?
    }

    /// Creates the file of a new database (with D1's `_cf_KV` table).
    pub fn create(&self, id: &str) -> Result<(), D1Error> {
        std::fs::create_dir_all(&self.inner.dir).map_err(|e| {
            D1Error::Storage(format!(
                "could not create {}: {e}",
                self.inner.dir.display()
            ))
        })?;
        let db = Database::open(&self.path(id), true).map_err(storage)?;
        self.lock_map()
            .insert(id.to_owned(), Arc::new(Mutex::new(db)));
        Ok(())
    }

    /// Closes and removes the file of a database (and its WAL); a missing file is no error.
    pub fn delete(&self, id: &str) {
        let open = self.lock_map().remove(id);
        if let Some(db) = open {
            // Wait for a request in flight, then close.
            drop(lock(&db));
        }
        let path = self.path(id);
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }

    /// The number of user tables and the size of a database.
    pub fn stats(&self, id: &str) -> Result<FileStats, D1Error> {
        let db = self.database(id)?;
        let db = lock(&db);
        let num_tables: i64 = db
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'
                   AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
                   AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'",
                [],
                |r| r.get(0),
            )
            .map_err(storage)?;
        Ok(FileStats {
            num_tables: num_tables as u64,
            file_size: db.size().map_err(storage)?,
        })
    }

    /// Runs `queries` in one transaction; every result, or the first failure (nothing written).
    pub fn execute(&self, id: &str, queries: &[Query], split: Split) -> Result<Executed, D1Error> {
        let db = self.database(id)?;
        let mut db = lock(&db);
        let outcomes = db.execute(queries, split)?;
        if outcomes.iter().any(|o| o.meta.changed_db) {
            db.writes += 1;
        }
        Ok(Executed {
            outcomes,
            bookmark: db.bookmark(),
        })
    }

    /// The database's current bookmark.
    pub fn bookmark(&self, id: &str) -> Result<String, D1Error> {
        let db = self.database(id)?;
        let db = lock(&db);
        Ok(db.bookmark())
    }

    /// The database as SQL statements, one per line, in the form D1's export writes.
    pub fn dump(&self, id: &str, options: &DumpOptions) -> Result<String, D1Error> {
        let db = self.database(id)?;
        let db = lock(&db);
        dump(&db.conn, options)
    }

    /// The open database `id`, opening its file if needed; [`D1Error::Missing`] without one.
    fn database(&self, id: &str) -> Result<Arc<Mutex<Database>>, D1Error> {
        let mut open = self.lock_map();
        if let Some(db) = open.get(id) {
            return Ok(db.clone());
        }
        let path = self.path(id);
        if id.is_empty() || id.contains(['/', '\\', '.']) || !path.is_file() {
            return Err(D1Error::Missing);
        }
        let db = Arc::new(Mutex::new(Database::open(&path, false).map_err(storage)?));
        open.insert(id.to_owned(), db.clone());
        Ok(db)
    }

    fn lock_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Mutex<Database>>>> {
        match self.inner.open.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

fn lock(db: &Mutex<Database>) -> std::sync::MutexGuard<'_, Database> {
    match db.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn storage(e: rusqlite::Error) -> D1Error {
    D1Error::Storage(format!("D1 storage error: {e}"))
}

impl Database {
    fn open(path: &Path, create: bool) -> rusqlite::Result<Database> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let mut conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
        for (limit, value) in d1_rules::LIMITS {
            conn.set_limit(limit, value)?;
        }
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {CF_TABLE} (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID"
        ))?;
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let gate = Arc::new(Gate::default());
        let judge = gate.clone();
        conn.authorizer(Some(move |ctx: rusqlite::hooks::AuthContext<'_>| {
            if !judge.user.load(Ordering::SeqCst) {
                return Authorization::Allow;
            }
            match d1_rules::authorize(&ctx) {
                Verdict::Allow => Authorization::Allow,
                Verdict::Deny => Authorization::Deny,
                Verdict::Transaction => {
                    judge.refused_transaction.store(true, Ordering::SeqCst);
                    Authorization::Deny
                }
            }
        }))?;
        let opened_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        Ok(Database {
            conn,
            gate,
            page_size: page_size.max(0) as u64,
            opened_ms,
            writes: 0,
        })
    }

    /// The database's size: its pages (WAL included) times the page size.
    fn size(&self) -> rusqlite::Result<u64> {
        let pages: i64 = self
            .conn
            .prepare_cached("PRAGMA page_count")?
            .query_row([], |r| r.get(0))?;
        Ok(pages.max(0) as u64 * self.page_size)
    }

    /// A bookmark that only grows: when the connection opened, then the writes since.
    fn bookmark(&self) -> String {
        format!("{:016x}-{:016x}", self.opened_ms, self.writes)
    }

    /// D1's message for a failed user statement.
    fn sql_error(&self, e: &rusqlite::Error) -> D1Error {
        let auth = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::AuthorizationForStatementDenied)
        );
        if auth && self.gate.refused_transaction.load(Ordering::SeqCst) {
            D1Error::Sql(d1_rules::TRANSACTION_REFUSED.to_owned())
        } else {
            D1Error::Sql(d1_rules::error_message(e))
        }
    }

    fn execute(&mut self, queries: &[Query], split: Split) -> Result<Vec<Outcome>, D1Error> {
        // Check every query before running any.
        let mut planned = Vec::with_capacity(queries.len());
        for q in queries {
            let statements = d1_rules::split_statements(&q.sql);
            let params = q
                .params
                .iter()
                .flatten()
                .map(d1_rules::param)
                .collect::<Result<Vec<_>, _>>()
                .map_err(D1Error::Sql)?;
            if split == Split::EachStatement && statements.len() > 1 && !params.is_empty() {
                return Err(D1Error::Malformed(
                    "The request is malformed: params with multiple statements is not supported"
                        .to_owned(),
                ));
            }
            planned.push((statements, params));
        }
        if planned.iter().all(|(s, _)| s.is_empty()) {
            return Err(D1Error::Sql(d1_rules::NO_STATEMENTS.to_owned()));
        }
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(storage)?;
        match self.run_planned(&planned, split) {
            Ok(outcomes) => match self.conn.execute_batch("COMMIT") {
                Ok(()) => Ok(outcomes),
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    Err(D1Error::Sql(d1_rules::error_message(&e)))
                }
            },
            Err(e) => {
                if !self.conn.is_autocommit() {
                    let _ = self.conn.execute_batch("ROLLBACK");
                }
                Err(e)
            }
        }
    }

    fn run_planned(
        &self,
        planned: &[(Vec<&str>, Vec<SqlValue>)],
        split: Split,
    ) -> Result<Vec<Outcome>, D1Error> {
        let mut outcomes = Vec::new();
        for (statements, params) in planned {
            match split {
                Split::EachStatement => {
                    for sql in statements {
                        outcomes.push(self.run(sql, params)?);
                    }
                }
                Split::LastStatement => {
                    let mut meta = Meta::default();
                    let mut last = Outcome::default();
                    for (i, sql) in statements.iter().enumerate() {
                        let is_last = i + 1 == statements.len();
                        let outcome = if is_last {
                            self.run(sql, params)?
                        } else {
                            self.run_intermediate(sql)?
                        };
                        meta.add(&outcome.meta);
                        last = outcome;
                    }
                    last.meta = meta;
                    outcomes.push(last);
                }
            }
        }
        Ok(outcomes)
    }

    /// A statement before the last of a query's text: it must have no parameters.
    fn run_intermediate(&self, sql: &str) -> Result<Outcome, D1Error> {
        let count = {
            let _user = UserMode::enter(&self.gate);
            let stmt = self.conn.prepare(sql).map_err(|e| self.sql_error(&e))?;
            stmt.parameter_count()
        };
        if count > 0 {
            return Err(D1Error::Sql(
                "When executing multiple SQL statements in a single call, only the last statement can have parameters."
                    .to_owned(),
            ));
        }
        self.run(sql, &[])
    }

    /// Runs one user statement with `params`.
    fn run(&self, sql: &str, params: &[SqlValue]) -> Result<Outcome, D1Error> {
        let started = Instant::now();
        let changes_before = self.conn.total_changes();
        let row_id_before = self.conn.last_insert_rowid();
        let size_before = self.size().map_err(storage)?;
        let (columns, rows, scanned) = {
            let _user = UserMode::enter(&self.gate);
            let mut stmt = self.conn.prepare(sql).map_err(|e| self.sql_error(&e))?;
            if stmt.parameter_count() != params.len() {
                return Err(D1Error::Sql(
                    "Wrong number of parameter bindings for SQL query.".to_owned(),
                ));
            }
            for (i, p) in params.iter().enumerate() {
                stmt.raw_bind_parameter(i + 1, p)
                    .map_err(|e| self.sql_error(&e))?;
            }
            let columns: Vec<String> = stmt.column_names().map(str::to_owned).collect();
            let mut rows = Vec::new();
            {
                let mut cursor = stmt.raw_query();
                loop {
                    match cursor.next() {
                        Ok(Some(row)) => rows.push(
                            (0..columns.len())
                                .map(|i| d1_rules::column(row.get_ref_unwrap(i)))
                                .collect::<Vec<_>>(),
                        ),
                        Ok(None) => break,
                        Err(e) => return Err(self.sql_error(&e)),
                    }
                }
            }
            let scanned = stmt.get_status(StatementStatus::FullscanStep).max(0) as u64;
            (columns, rows, scanned)
        };
        let changes = self.conn.total_changes() - changes_before;
        let last_row_id = self.conn.last_insert_rowid();
        let size_after = self.size().map_err(storage)?;
        let meta = Meta {
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            changes,
            last_row_id,
            changed_db: changes > 0 || last_row_id != row_id_before || size_after != size_before,
            size_after,
            rows_read: rows.len() as u64 + scanned,
            rows_written: changes,
        };
        Ok(Outcome {
            columns,
            rows,
            meta,
        })
    }
}

/// Writes a database as SQL: `PRAGMA defer_foreign_keys=TRUE;`, then each table's `CREATE TABLE`
/// and `INSERT`s (in creation order), then its indexes, triggers and views, as D1's export does.
/// D1's own tables are left out; a virtual table makes the export fail, as on Cloudflare.
fn dump(conn: &Connection, options: &DumpOptions) -> Result<String, D1Error> {
    let wanted = |name: &str| options.tables.is_empty() || options.tables.iter().any(|t| t == name);
    let mut out = String::from("PRAGMA defer_foreign_keys=TRUE;\n");
    let tables: Vec<(String, String)> = {
        let mut stmt = conn
            .prepare(
                "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql IS NOT NULL
                 ORDER BY tbl_name = 'sqlite_sequence', rowid",
            )
            .map_err(storage)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(storage)?;
        rows.collect::<Result<_, _>>().map_err(storage)?
    };
    for (table, sql) in &tables {
        if !wanted(table) {
            continue;
        }
        if table == "sqlite_sequence" {
            if !options.no_schema {
                out.push_str("DELETE FROM sqlite_sequence;\n");
            }
        } else if table.starts_with("sqlite_stat") {
            if !options.no_schema {
                out.push_str("ANALYZE sqlite_schema;\n");
            }
        } else if sql
            .get(..20)
            .is_some_and(|p| p.eq_ignore_ascii_case("CREATE VIRTUAL TABLE"))
        {
            return Err(D1Error::Sql(
                "D1 Export error: cannot export databases with Virtual Tables (fts5)".to_owned(),
            ));
        } else if !d1_rules::name_allowed(table) || table.starts_with("sqlite_") {
            continue;
        } else if !options.no_schema {
            // SQLite's own dump adds IF NOT EXISTS to a table created with a quoted name.
            match sql.strip_prefix("CREATE TABLE ") {
                Some(rest) if rest.starts_with(['"', '\'']) => {
                    out.push_str(&format!("CREATE TABLE IF NOT EXISTS {rest};\n"));
                }
                _ => out.push_str(&format!("{sql};\n")),
            }
        }
        if options.no_data {
            continue;
        }
        let columns: Vec<String> = {
            let mut stmt = conn
                .prepare(&format!("PRAGMA table_info({})", quote_id(table)))
                .map_err(storage)?;
            let rows = stmt.query_map([], |r| r.get(1)).map_err(storage)?;
            rows.collect::<Result<_, _>>().map_err(storage)?
        };
        let column_list = columns
            .iter()
            .map(|c| quote_id(c))
            .collect::<Vec<_>>()
            .join(",");
        let mut stmt = conn
            .prepare(&format!("SELECT {column_list} FROM {}", quote_id(table)))
            .map_err(storage)?;
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next().map_err(storage)? {
            let cells: Vec<String> = (0..columns.len())
                .map(|i| sql_literal(row.get_ref_unwrap(i)))
                .collect();
            out.push_str(&format!(
                "INSERT INTO {} ({column_list}) VALUES({});\n",
                quote_id(table),
                cells.join(",")
            ));
        }
    }
    if !options.no_schema {
        let mut stmt = conn
            .prepare(
                "SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL
                 AND type IN ('index', 'trigger', 'view') ORDER BY type COLLATE NOCASE",
            )
            .map_err(storage)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(storage)?;
        for row in rows {
            let (name, sql) = row.map_err(storage)?;
            if wanted(&name) && d1_rules::name_allowed(&name) {
                out.push_str(&format!("{sql};\n"));
            }
        }
    }
    Ok(out)
}

/// An identifier in double quotes.
fn quote_id(id: &str) -> String {
    format!("\"{}\"", id.replace('"', "\"\""))
}

/// A value as a SQL literal: text quoted (newlines through `char()`, as SQLite's dump writes
/// them), a BLOB as `X'…'`, a REAL that stays a REAL.
fn sql_literal(value: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) if f.is_finite() => format!("{f:?}"),
        ValueRef::Real(f) if f.is_nan() => "NULL".to_owned(),
        ValueRef::Real(f) => if f > 0.0 { "9e999" } else { "-9e999" }.to_owned(),
        ValueRef::Text(t) => {
            let text = String::from_utf8_lossy(t);
            let mut s = format!(
                "'{}'",
                text.replace('\'', "''")
                    .replace('\r', "\\r")
                    .replace('\n', "\\n")
            );
            if text.contains('\r') {
                s = format!("replace({s},'\\r',char(13))");
            }
            if text.contains('\n') {
                s = format!("replace({s},'\\n',char(10))");
            }
            s
        }
        ValueRef::Blob(b) => format!("X'{}'", hex::encode(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> (tempfile::TempDir, D1Files) {
        let dir = tempfile::tempdir().unwrap();
        let files = D1Files::new(dir.path());
        files.create("db").unwrap();
        (dir, files)
    }

    fn q(sql: &str, params: Value) -> Query {
        Query {
            sql: sql.to_owned(),
            params: serde_json::from_value(params).unwrap(),
        }
    }

    #[test]
    fn a_failed_statement_rolls_the_request_back() {
        let (_dir, files) = files();
        files
            .execute(
                "db",
                &[q("CREATE TABLE t (a)", json!(null))],
                Split::EachStatement,
            )
            .unwrap();
        let err = files
            .execute(
                "db",
                &[q(
                    "INSERT INTO t VALUES (1); SELECT * FROM nope",
                    json!(null),
                )],
                Split::EachStatement,
            )
            .unwrap_err();
        assert_eq!(
            err,
            D1Error::Sql("no such table: nope: SQLITE_ERROR".into())
        );
        let r = files
            .execute(
                "db",
                &[q("SELECT count(*) AS n FROM t", json!(null))],
                Split::EachStatement,
            )
            .unwrap();
        assert_eq!(r.outcomes[0].rows, [[json!(0)]]);
    }

    #[test]
    fn d1s_rules_hold_for_user_statements_only() {
        let (_dir, files) = files();
        let run = |sql: &str| files.execute("db", &[q(sql, json!(null))], Split::EachStatement);
        assert_eq!(
            run("BEGIN TRANSACTION").unwrap_err(),
            D1Error::Sql(d1_rules::TRANSACTION_REFUSED.into())
        );
        assert_eq!(
            run("SELECT * FROM _cf_KV").unwrap_err(),
            D1Error::Sql("access to _cf_KV.key is prohibited: SQLITE_AUTH".into())
        );
        for sql in [
            "ATTACH 'x.db' AS x",
            "DELETE FROM _cf_KV",
            "PRAGMA journal_mode = DELETE",
            "CREATE TEMP TABLE t (a)",
        ] {
            let err = run(sql).unwrap_err();
            assert!(
                matches!(&err, D1Error::Sql(m) if m.ends_with(": SQLITE_AUTH")),
                "{sql}: {err:?}"
            );
        }
        assert_eq!(
            run("SELECT sqlite_version()").unwrap_err(),
            D1Error::Sql(
                "not authorized to use function: sqlite_version at offset 7: SQLITE_ERROR".into()
            )
        );
        run("PRAGMA foreign_keys = OFF").unwrap();
        run("PRAGMA table_list").unwrap();
        // The emulator's own statements (size, transaction) still run.
        assert!(files.stats("db").unwrap().file_size > 0);
    }

    #[test]
    fn the_last_statement_of_a_text_answers_for_it() {
        let (_dir, files) = files();
        let r = files
            .execute(
                "db",
                &[q(
                    "CREATE TABLE t (a); INSERT INTO t VALUES (?1), (?2) RETURNING a",
                    json!([1, "x"]),
                )],
                Split::LastStatement,
            )
            .unwrap();
        assert_eq!(r.outcomes.len(), 1);
        assert_eq!(r.outcomes[0].rows, [[json!(1)], [json!("x")]]);
        assert_eq!(r.outcomes[0].meta.changes, 2);
        let err = files
            .execute(
                "db",
                &[q("SELECT ?; SELECT 1", json!([1]))],
                Split::LastStatement,
            )
            .unwrap_err();
        assert!(matches!(err, D1Error::Sql(m) if m.contains("only the last statement")));
    }

    #[test]
    fn dumps_read_back_into_a_new_database() {
        let (_dir, files) = files();
        files
            .execute(
                "db",
                &[q(
                    "CREATE TABLE \"t\" (a INTEGER PRIMARY KEY, b TEXT, c BLOB, d REAL);
                     INSERT INTO t VALUES (1, 'it''s
two lines', x'00ff', 1.0);
                     CREATE INDEX t_b ON t (b);",
                    json!(null),
                )],
                Split::EachStatement,
            )
            .unwrap();
        let sql = files.dump("db", &DumpOptions::default()).unwrap();
        assert!(
            sql.starts_with("PRAGMA defer_foreign_keys=TRUE;\n"),
            "{sql}"
        );
        assert!(!sql.contains("_cf_KV"), "{sql}");
        files.create("copy").unwrap();
        files
            .execute("copy", &[q(&sql, json!(null))], Split::EachStatement)
            .unwrap();
        let r = files
            .execute(
                "copy",
                &[q("SELECT * FROM t", json!(null))],
                Split::EachStatement,
            )
            .unwrap();
        assert_eq!(
            r.outcomes[0].rows,
            [[
                json!(1),
                json!("it's\ntwo lines"),
                json!([0, 255]),
                json!(1.0)
            ]]
        );
        files.delete("copy");
        assert_eq!(files.stats("copy").unwrap_err(), D1Error::Missing);
    }
}
