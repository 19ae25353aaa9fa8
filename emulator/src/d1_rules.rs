//! D1's rules for SQL, shared by the v4 API (`handlers::d1`) and the Workers' D1 binding
//! (`bindings::d1`), so that both refuse and answer alike.
//!
//! D1 runs every query on Cloudflare's SQLite under the authorizer workerd gives SQL from
//! JavaScript (`src/workerd/util/sqlite.c++` and `src/workerd/api/sql.c++` in cloudflare/workerd):
//! - allowed: `SELECT`, `INSERT`, `UPDATE`, `DELETE`, `CREATE`/`DROP` of tables, views, indexes
//!   and triggers, `ALTER TABLE`, `ANALYZE`, `REINDEX`, recursive CTEs, virtual tables of the
//!   `fts5`, `fts5vocab`, `rtree` and `rtree_i32` modules, a list of SQL functions
//!   ([`ALLOWED_FUNCTIONS`]) and a few pragmas ([`pragma_allowed`]);
//! - refused with `not authorized: SQLITE_AUTH`: `ATTACH`/`DETACH`, temporary tables, views,
//!   indexes and triggers, any other pragma, any other function, and every name starting with
//!   `_cf_` (D1 keeps its own `_cf_KV` table in each database);
//! - refused with [`TRANSACTION_REFUSED`]: `BEGIN`, `COMMIT`, `ROLLBACK`, `SAVEPOINT` and
//!   `RELEASE` (a request is already one transaction; `batch()` is D1's way to group statements).
//!
//! Limits are D1's documented ones (`developers.cloudflare.com/d1/platform/limits`) set as SQLite
//! limits, so SQLite itself refuses what D1 would. Errors read as workerd words them: SQLite's
//! message, ` at offset N` when SQLite points at a token, then `: SQLITE_<CODE>` and, when the
//! extended code differs, ` (extended: SQLITE_<EXTENDED>)`
//! (`no such table: t: SQLITE_ERROR`, `UNIQUE constraint failed: t.a: SQLITE_CONSTRAINT
//! (extended: SQLITE_CONSTRAINT_UNIQUE)`).

use rusqlite::hooks::{AuthAction, AuthContext};
use rusqlite::limits::Limit;
use rusqlite::types::{Value as SqlValue, ValueRef};
use serde_json::{Value, json};

/// Databases per account (Workers Paid; `d1/platform/limits`).
pub(crate) const MAX_DATABASES: usize = 50_000;
/// Longest database name the emulator accepts: the emulator's own bound, no public source
/// (Cloudflare documents no rule for database names).
pub(crate) const MAX_NAME_CHARS: usize = 64;
/// Primary location hints a database can be created with (the API schema's
/// `d1_primary-location-hint` enum).
pub(crate) const LOCATION_HINTS: [&str; 6] = ["weur", "eeur", "apac", "oc", "wnam", "enam"];
/// Jurisdictions a database can be restricted to (`eu` and `fedramp`: D1's data-location page,
/// `d1/learning/data-location`; `us`: the changelog of 2026-10-02).
pub(crate) const JURISDICTIONS: [&str; 3] = ["eu", "fedramp", "us"];

/// SQLite limits as D1 documents them (and workerd sets the rest: `sqlite3_limit` calls in
/// `src/workerd/util/sqlite.c++`, where workerd's own length and function-argument limits,
/// 2,200,000 and 127, are above D1's documented ones).
pub(crate) const LIMITS: [(Limit, i32); 11] = [
    // Maximum string, BLOB or table row size: 2,000,000 bytes.
    (Limit::SQLITE_LIMIT_LENGTH, 2_000_000),
    // Maximum SQL statement length: 100,000 bytes.
    (Limit::SQLITE_LIMIT_SQL_LENGTH, 100_000),
    // Maximum columns per table: 100.
    (Limit::SQLITE_LIMIT_COLUMN, 100),
    // workerd: expression depth 100, compound SELECT 5, VDBE operations 25,000.
    (Limit::SQLITE_LIMIT_EXPR_DEPTH, 100),
    (Limit::SQLITE_LIMIT_COMPOUND_SELECT, 5),
    (Limit::SQLITE_LIMIT_VDBE_OP, 25_000),
    // Maximum arguments per SQL function: 32.
    (Limit::SQLITE_LIMIT_FUNCTION_ARG, 32),
    // workerd: no attached databases.
    (Limit::SQLITE_LIMIT_ATTACHED, 0),
    // Maximum bytes in a LIKE or GLOB pattern: 50.
    (Limit::SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 50),
    // Maximum bound parameters per query: 100.
    (Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 100),
    // workerd: trigger depth 10.
    (Limit::SQLITE_LIMIT_TRIGGER_DEPTH, 10),
];

/// What D1 answers to a transaction statement (workerd's words, without a SQLite code).
pub(crate) const TRANSACTION_REFUSED: &str = "To execute a transaction, please use the state.storage.transaction() or state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements. The JavaScript API is safer because it will automatically roll back on exceptions, and because it interacts correctly with Durable Objects' automatic atomic write coalescing.";

/// What D1 answers when a query's text holds no statement.
pub(crate) const NO_STATEMENTS: &str = "No SQL statements detected.";

/// The functions a D1 query may call.
pub(crate) const ALLOWED_FUNCTIONS: &[&str] = &[
    // Core functions.
    "abs",
    "changes",
    "char",
    "coalesce",
    "concat",
    "concat_ws",
    "format",
    "glob",
    "hex",
    "ifnull",
    "iif",
    "instr",
    "last_insert_rowid",
    "length",
    "like",
    "likelihood",
    "likely",
    "load_extension",
    "lower",
    "ltrim",
    "max_scalar",
    "min_scalar",
    "nullif",
    "octet_length",
    "printf",
    "quote",
    "random",
    "randomblob",
    "replace",
    "round",
    "rtrim",
    "sign",
    "soundex",
    "substr",
    "substring",
    "total_changes",
    "trim",
    "typeof",
    "unhex",
    "unicode",
    "unlikely",
    "upper",
    "zeroblob",
    // Dates and times.
    "date",
    "time",
    "datetime",
    "julianday",
    "unixepoch",
    "strftime",
    "timediff",
    "current_date",
    "current_time",
    "current_timestamp",
    // Aggregates and window functions.
    "avg",
    "count",
    "group_concat",
    "max",
    "min",
    "string_agg",
    "sum",
    "total",
    "row_number",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "ntile",
    "lag",
    "lead",
    "first_value",
    "last_value",
    "nth_value",
    // Math.
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "ceil",
    "ceiling",
    "cos",
    "cosh",
    "degrees",
    "exp",
    "floor",
    "ln",
    "log",
    "log10",
    "log2",
    "mod",
    "pi",
    "pow",
    "power",
    "radians",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
    "trunc",
    // JSON.
    "json",
    "jsonb",
    "json_array",
    "jsonb_array",
    "json_array_length",
    "json_extract",
    "jsonb_extract",
    "json_insert",
    "jsonb_insert",
    "json_object",
    "jsonb_object",
    "json_patch",
    "jsonb_patch",
    "json_remove",
    "jsonb_remove",
    "json_replace",
    "jsonb_replace",
    "json_set",
    "jsonb_set",
    "json_type",
    "json_valid",
    "json_quote",
    "json_group_array",
    "jsonb_group_array",
    "json_group_object",
    "jsonb_group_object",
    "json_each",
    "json_tree",
    // The JSON operators `->` and `->>`.
    "->",
    "->>",
    // Full-text search and R*Tree.
    "match",
    "highlight",
    "bm25",
    "snippet",
    "rtreecheck",
    // What ALTER TABLE runs internally.
    "sqlite_rename_column",
    "sqlite_rename_table",
    "sqlite_rename_test",
    "sqlite_drop_column",
    "sqlite_rename_quotefix",
];

/// How the authorizer judges one action of a statement being prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allow,
    /// Refused: SQLite reports `not authorized`.
    Deny,
    /// A transaction statement: refused with [`TRANSACTION_REFUSED`].
    Transaction,
}

/// Whether D1 lets a query touch `name`: every name but those starting with `_cf_`.
pub(crate) fn name_allowed(name: &str) -> bool {
    !name
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("_cf_"))
}

/// Judges one action of a user statement as D1's authorizer does.
pub(crate) fn authorize(ctx: &AuthContext<'_>) -> Verdict {
    let verdict = |ok: bool| if ok { Verdict::Allow } else { Verdict::Deny };
    match ctx.database_name {
        None | Some("main") => {}
        // The temporary database: reads and updates of its (SQLite-internal) tables only.
        Some("temp") => {
            return match ctx.action {
                AuthAction::Read { table_name, .. } | AuthAction::Update { table_name, .. } => {
                    verdict(name_allowed(table_name))
                }
                _ => Verdict::Deny,
            };
        }
        Some(_) => return Verdict::Deny,
    }
    match ctx.action {
        AuthAction::Select | AuthAction::Recursive | AuthAction::Analyze { .. } => Verdict::Allow,
        AuthAction::CreateTable { table_name }
        | AuthAction::Delete { table_name }
        | AuthAction::DropTable { table_name }
        | AuthAction::Insert { table_name }
        | AuthAction::Read { table_name, .. }
        | AuthAction::Update { table_name, .. }
        | AuthAction::AlterTable { table_name, .. } => verdict(name_allowed(table_name)),
        AuthAction::CreateView { view_name } | AuthAction::DropView { view_name } => {
            verdict(name_allowed(view_name))
        }
        AuthAction::Reindex { index_name } => verdict(name_allowed(index_name)),
        AuthAction::CreateIndex {
            index_name,
            table_name,
        }
        | AuthAction::DropIndex {
            index_name,
            table_name,
        } => verdict(name_allowed(index_name) && name_allowed(table_name)),
        AuthAction::CreateTrigger {
            trigger_name,
            table_name,
        }
        | AuthAction::DropTrigger {
            trigger_name,
            table_name,
        } => verdict(name_allowed(trigger_name) && name_allowed(table_name)),
        AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } => Verdict::Transaction,
        AuthAction::Pragma {
            pragma_name,
            pragma_value,
        } => verdict(pragma_allowed(pragma_name, pragma_value)),
        AuthAction::Function { function_name } => verdict(
            ALLOWED_FUNCTIONS
                .iter()
                .any(|f| f.eq_ignore_ascii_case(function_name)),
        ),
        AuthAction::CreateVtable {
            table_name,
            module_name,
        }
        | AuthAction::DropVtable {
            table_name,
            module_name,
        } => {
            let module = ["fts5", "fts5vocab", "rtree", "rtree_i32"]
                .iter()
                .any(|m| m.eq_ignore_ascii_case(module_name));
            verdict(module && name_allowed(table_name))
        }
        // ATTACH, DETACH, temporary objects and anything SQLite adds later.
        _ => Verdict::Deny,
    }
}

/// The pragmas D1 allows, with the arguments each takes.
pub(crate) fn pragma_allowed(name: &str, value: Option<&str>) -> bool {
    let name = name.to_ascii_lowercase();
    let number = |v: &str| v.trim().parse::<i64>().is_ok();
    match name.as_str() {
        "table_list" => true,
        "table_info" | "table_xinfo" => value.is_some_and(name_allowed),
        "data_version" | "page_size" => value.is_none(),
        "case_sensitive_like"
        | "foreign_keys"
        | "defer_foreign_keys"
        | "ignore_check_constraints"
        | "legacy_alter_table"
        | "recursive_triggers"
        | "reverse_unordered_selects" => value.is_none_or(is_boolean),
        "foreign_key_list" | "index_info" | "index_list" | "index_xinfo" => {
            value.is_some_and(name_allowed)
        }
        "foreign_key_check" => value.is_none_or(name_allowed),
        "quick_check" => value.is_none_or(|v| number(v) || name_allowed(v)),
        "optimize" => value.is_none_or(number),
        _ => false,
    }
}

/// Whether a pragma argument is one of SQLite's spellings of a boolean.
fn is_boolean(value: &str) -> bool {
    let v = value.trim();
    let v = if v.len() >= 2 && (v.starts_with('\'') || v.starts_with('"')) && v.ends_with(&v[..1]) {
        &v[1..v.len() - 1]
    } else {
        v
    };
    ["true", "false", "yes", "no", "on", "off", "1", "0"]
        .iter()
        .any(|b| b.eq_ignore_ascii_case(v))
}

/// Splits SQL text into its statements as SQLite's parser ends them (a `;` outside strings,
/// comments and trigger bodies), each with its `;`; pieces with nothing but whitespace, comments
/// and `;` are dropped.
pub(crate) fn split_statements(sql: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, _) in sql.match_indices(';') {
        let piece = &sql[start..=i];
        if is_complete(piece) {
            if !is_blank(piece) {
                out.push(piece);
            }
            start = i + 1;
        }
    }
    let rest = &sql[start..];
    if !is_blank(rest) {
        out.push(rest);
    }
    out
}

/// SQLite's own test of whether `sql` ends a statement (`sqlite3_complete`).
fn is_complete(sql: &str) -> bool {
    let Ok(text) = std::ffi::CString::new(sql) else {
        return false;
    };
    // SAFETY: `text` is a valid NUL-terminated string that outlives the call, and
    // sqlite3_complete only reads it.
    unsafe { rusqlite::ffi::sqlite3_complete(text.as_ptr()) != 0 }
}

/// Whether `sql` holds only whitespace, comments and `;`.
fn is_blank(sql: &str) -> bool {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ';');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, next)| next);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, next)| next);
        } else {
            return rest.is_empty();
        }
    }
}

/// A statement parameter from JSON: numbers as integers when they are whole, booleans as 0/1,
/// arrays of bytes as BLOBs (how the binding sends an ArrayBuffer).
pub(crate) fn param(value: &Value) -> Result<SqlValue, String> {
    Ok(match value {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => SqlValue::Text(s.clone()),
        Value::Array(items) => {
            let bytes: Option<Vec<u8>> = items
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            SqlValue::Blob(bytes.ok_or_else(|| unsupported(value))?)
        }
        Value::Object(_) => return Err(unsupported(value)),
    })
}

fn unsupported(value: &Value) -> String {
    let kind = if value.is_array() { "array" } else { "object" };
    format!("Type '{kind}' not supported for value '{value}'")
}

/// A column value as D1 answers it: a BLOB as an array of bytes, a non-finite REAL as `null`.
pub(crate) fn column(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => json!(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Array(b.iter().map(|x| json!(x)).collect()),
    }
}

/// The message D1 gives for a SQLite failure (see the module docs).
pub(crate) fn error_message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(err, msg) => {
            let text = msg.clone().unwrap_or_else(|| err.to_string());
            with_codes(text, err.extended_code)
        }
        rusqlite::Error::SqlInputError {
            error, msg, offset, ..
        } => with_codes(format!("{msg} at offset {offset}"), error.extended_code),
        other => other.to_string(),
    }
}

fn with_codes(text: String, extended: i32) -> String {
    let primary = extended & 0xff;
    let mut out = format!("{text}: {}", code_name(primary));
    if extended != primary
        && let Some(name) = extended_code_name(extended)
    {
        out.push_str(&format!(" (extended: {name})"));
    }
    out
}

/// The name of a primary SQLite result code.
fn code_name(code: i32) -> String {
    use rusqlite::ffi as f;
    let name = match code {
        f::SQLITE_ERROR => "SQLITE_ERROR",
        f::SQLITE_INTERNAL => "SQLITE_INTERNAL",
        f::SQLITE_PERM => "SQLITE_PERM",
        f::SQLITE_ABORT => "SQLITE_ABORT",
        f::SQLITE_BUSY => "SQLITE_BUSY",
        f::SQLITE_LOCKED => "SQLITE_LOCKED",
        f::SQLITE_NOMEM => "SQLITE_NOMEM",
        f::SQLITE_READONLY => "SQLITE_READONLY",
        f::SQLITE_INTERRUPT => "SQLITE_INTERRUPT",
        f::SQLITE_IOERR => "SQLITE_IOERR",
        f::SQLITE_CORRUPT => "SQLITE_CORRUPT",
        f::SQLITE_NOTFOUND => "SQLITE_NOTFOUND",
        f::SQLITE_FULL => "SQLITE_FULL",
        f::SQLITE_CANTOPEN => "SQLITE_CANTOPEN",
        f::SQLITE_PROTOCOL => "SQLITE_PROTOCOL",
        f::SQLITE_EMPTY => "SQLITE_EMPTY",
        f::SQLITE_SCHEMA => "SQLITE_SCHEMA",
        f::SQLITE_TOOBIG => "SQLITE_TOOBIG",
        f::SQLITE_CONSTRAINT => "SQLITE_CONSTRAINT",
        f::SQLITE_MISMATCH => "SQLITE_MISMATCH",
        f::SQLITE_MISUSE => "SQLITE_MISUSE",
        f::SQLITE_NOLFS => "SQLITE_NOLFS",
        f::SQLITE_AUTH => "SQLITE_AUTH",
        f::SQLITE_FORMAT => "SQLITE_FORMAT",
        f::SQLITE_RANGE => "SQLITE_RANGE",
        f::SQLITE_NOTADB => "SQLITE_NOTADB",
        f::SQLITE_NOTICE => "SQLITE_NOTICE",
        f::SQLITE_WARNING => "SQLITE_WARNING",
        other => return format!("SQLITE_{other}"),
    };
    name.to_owned()
}

/// The name of the extended codes a D1 query can meet (constraints and errors).
fn extended_code_name(code: i32) -> Option<&'static str> {
    use rusqlite::ffi as f;
    Some(match code {
        f::SQLITE_CONSTRAINT_CHECK => "SQLITE_CONSTRAINT_CHECK",
        f::SQLITE_CONSTRAINT_COMMITHOOK => "SQLITE_CONSTRAINT_COMMITHOOK",
        f::SQLITE_CONSTRAINT_DATATYPE => "SQLITE_CONSTRAINT_DATATYPE",
        f::SQLITE_CONSTRAINT_FOREIGNKEY => "SQLITE_CONSTRAINT_FOREIGNKEY",
        f::SQLITE_CONSTRAINT_FUNCTION => "SQLITE_CONSTRAINT_FUNCTION",
        f::SQLITE_CONSTRAINT_NOTNULL => "SQLITE_CONSTRAINT_NOTNULL",
        f::SQLITE_CONSTRAINT_PINNED => "SQLITE_CONSTRAINT_PINNED",
        f::SQLITE_CONSTRAINT_PRIMARYKEY => "SQLITE_CONSTRAINT_PRIMARYKEY",
        f::SQLITE_CONSTRAINT_ROWID => "SQLITE_CONSTRAINT_ROWID",
        f::SQLITE_CONSTRAINT_TRIGGER => "SQLITE_CONSTRAINT_TRIGGER",
        f::SQLITE_CONSTRAINT_UNIQUE => "SQLITE_CONSTRAINT_UNIQUE",
        f::SQLITE_CONSTRAINT_VTAB => "SQLITE_CONSTRAINT_VTAB",
        f::SQLITE_ERROR_MISSING_COLLSEQ => "SQLITE_ERROR_MISSING_COLLSEQ",
        f::SQLITE_ERROR_RETRY => "SQLITE_ERROR_RETRY",
        f::SQLITE_ERROR_SNAPSHOT => "SQLITE_ERROR_SNAPSHOT",
        f::SQLITE_AUTH_USER => "SQLITE_AUTH_USER",
        _ => return None,
    })
}

/// Checks a database name: 1 to [`MAX_NAME_CHARS`] characters, no control characters, no
/// leading or trailing space.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("a database needs a non-empty name".to_owned());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "database name {name:?} is longer than {MAX_NAME_CHARS} characters"
        ));
    }
    if name.trim() != name || name.chars().any(char::is_control) {
        return Err(format!(
            "database name {name:?} has leading or trailing spaces or control characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_where_sqlite_ends_them() {
        assert_eq!(
            split_statements("SELECT 1; SELECT ';'; -- done;\n"),
            ["SELECT 1;", " SELECT ';';"]
        );
        assert_eq!(split_statements("SELECT 1"), ["SELECT 1"]);
        assert!(split_statements("  -- nothing\n ;; /* here */").is_empty());
        let trigger = "CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO b VALUES (1); END;";
        assert_eq!(
            split_statements(&format!("{trigger}\nINSERT INTO a VALUES (2)")),
            [trigger, "\nINSERT INTO a VALUES (2)"]
        );
    }

    #[test]
    fn pragmas_are_allowed_with_their_arguments_only() {
        assert!(pragma_allowed("table_list", None));
        assert!(pragma_allowed("foreign_keys", Some("OFF")));
        assert!(pragma_allowed("defer_foreign_keys", Some("'true'")));
        assert!(!pragma_allowed("foreign_keys", Some("2x")));
        assert!(pragma_allowed("table_info", Some("users")));
        assert!(!pragma_allowed("table_info", Some("_cf_KV")));
        assert!(pragma_allowed("optimize", Some("65538")));
        assert!(!pragma_allowed("optimize", Some("all")));
        assert!(!pragma_allowed("journal_mode", Some("WAL")));
        assert!(!pragma_allowed("page_size", Some("1024")));
        assert!(pragma_allowed("page_size", None));
    }

    #[test]
    fn names_under_cf_are_reserved() {
        assert!(!name_allowed("_cf_KV"));
        assert!(!name_allowed("_CF_x"));
        assert!(name_allowed("_c"));
        assert!(name_allowed("users"));
    }

    #[test]
    fn params_and_columns_cross_json() {
        assert_eq!(param(&json!(1)).unwrap(), SqlValue::Integer(1));
        assert_eq!(param(&json!(1.5)).unwrap(), SqlValue::Real(1.5));
        assert_eq!(param(&json!(true)).unwrap(), SqlValue::Integer(1));
        assert_eq!(param(&json!([1, 2])).unwrap(), SqlValue::Blob(vec![1, 2]));
        assert!(param(&json!([1, 256])).is_err());
        assert!(param(&json!({"a": 1})).is_err());
        assert_eq!(column(ValueRef::Blob(&[0, 255])), json!([0, 255]));
        assert_eq!(column(ValueRef::Real(f64::NAN)), Value::Null);
    }

    #[test]
    fn errors_name_their_codes() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a UNIQUE); INSERT INTO t VALUES (1)")
            .unwrap();
        let e = conn.execute("INSERT INTO t VALUES (1)", []).unwrap_err();
        assert_eq!(
            error_message(&e),
            "UNIQUE constraint failed: t.a: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_UNIQUE)"
        );
        let e = conn.prepare("SELECT * FROM nope").unwrap_err();
        assert_eq!(error_message(&e), "no such table: nope: SQLITE_ERROR");
        let e = conn.prepare("SELECT boom FROM").unwrap_err();
        assert_eq!(error_message(&e), "incomplete input: SQLITE_ERROR");
        let e = conn.prepare("SELEC 1").unwrap_err();
        assert_eq!(
            error_message(&e),
            "near \"SELEC\": syntax error at offset 0: SQLITE_ERROR"
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("my-db").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name(" x").is_err());
        assert!(check_name(&"a".repeat(65)).is_err());
    }
}
