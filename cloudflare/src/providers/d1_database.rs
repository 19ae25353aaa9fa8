//! D1 databases: create with location hint and jurisdiction, adopt with `adopt` (found by name),
//! delete; and their migrations.
//!
//! Migrations are the `.sql` files of the declared directory, applied once each in the order of
//! their names and recorded in the database's `d1_migrations` table, as `wrangler d1 migrations
//! apply` does, so the two tools agree on what was applied. Each file is applied with the row
//! that records it in one `query` call: D1 runs a call's statements in one transaction, so a
//! failing migration leaves neither its changes nor its record. The output keeps the SHA-256 of
//! each file as applied: a file changed after it was applied is refused, since applying it again
//! is not what its author can have meant. The files' digest is the resource's fingerprint, so
//! a deploy with no new or changed file sends nothing.
//!
//! The seed file runs after the migrations, in one `query` call, on the first deploy and again
//! whenever its content changes (its digest is in the output and the fingerprint): the rows a
//! database starts with, written to be run again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use athanor_core::output::D1DatabaseOutput;
use athanor_core::provider::Desired;
use athanor_core::stack::D1Database;
use athanor_core::{Kind, Output, ProviderError};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Deployed, delete_if_exists, describe, may_adopt, read_if_exists};
use crate::client::{Client, Request};

/// The table wrangler records applied migrations in.
const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS d1_migrations(\
    id INTEGER PRIMARY KEY AUTOINCREMENT, \
    name TEXT UNIQUE, \
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)";

#[derive(Debug, Deserialize)]
struct Database {
    uuid: String,
    name: String,
}

/// One migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Migration {
    /// The file name, as recorded in `d1_migrations`.
    name: String,
    /// The SQL.
    sql: String,
    /// SHA-256 of the file, hex.
    digest: String,
}

fn database_path(client: &Client, id: &str) -> String {
    client.account_path(&format!("/d1/database/{id}"))
}

/// The digest of the migration files (names and contents) and of the seed file, so that a new
/// or edited file is a change; `None` with neither.
pub(crate) fn fingerprint(
    d: &Desired<'_>,
    p: &D1Database,
) -> Result<Option<String>, ProviderError> {
    if p.migrations.is_none() && p.seed.is_none() {
        return Ok(None);
    }
    let what = describe(Kind::D1Database, &d.resource.id, d.name);
    let mut hash = Sha256::new();
    if let Some(dir) = &p.migrations {
        for m in read_migrations(&d.root.join(dir), &what)? {
            hash.update(m.name.as_bytes());
            hash.update([0]);
            hash.update(m.digest.as_bytes());
            hash.update([0]);
        }
    }
    if let Some(file) = &p.seed {
        hash.update(b"seed\0");
        hash.update(
            read_sql(&d.root.join(file), "seed", &what)?
                .digest
                .as_bytes(),
        );
    }
    Ok(Some(hex::encode(hash.finalize())))
}

/// The `.sql` files of `dir`, sorted by name.
fn read_migrations(dir: &Path, what: &str) -> Result<Vec<Migration>, ProviderError> {
    let local = |message: String| ProviderError::Local { message };
    let entries = std::fs::read_dir(dir).map_err(|e| {
        local(format!(
            "{what}: cannot read its migrations directory {}: {e}",
            dir.display()
        ))
    })?;
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| local(format!("{what}: cannot list {}: {e}", dir.display())))?
            .path();
        if path.is_file() && path.extension().is_some_and(|e| e == "sql") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| read_sql(&path, "migration", what))
        .collect()
}

/// One `.sql` file (a migration or the seed, as `role` says).
fn read_sql(path: &Path, role: &str, what: &str) -> Result<Migration, ProviderError> {
    let local = |message: String| ProviderError::Local { message };
    let bytes = std::fs::read(path).map_err(|e| {
        local(format!(
            "{what}: cannot read the {role} {}: {e}",
            path.display()
        ))
    })?;
    let digest = hex::encode(Sha256::digest(&bytes));
    let sql = String::from_utf8(bytes).map_err(|_| {
        local(format!(
            "{what}: the {role} {} is not UTF-8 text",
            path.display()
        ))
    })?;
    Ok(Migration {
        name: path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned(),
        sql,
        digest,
    })
}

/// Creates the database (or adopts it, found by name, with `adopt`), then applies its
/// migrations.
pub(crate) async fn create(
    client: &Client,
    d: &Desired<'_>,
    p: &D1Database,
) -> Result<Output, ProviderError> {
    let what = describe(Kind::D1Database, &d.resource.id, d.name);
    let mut body = json!({ "name": d.name });
    if let Some(hint) = &p.location_hint {
        body["primary_location_hint"] = json!(hint);
    }
    if let Some(jurisdiction) = &p.jurisdiction {
        body["jurisdiction"] = json!(jurisdiction);
    }
    let req = Request::post(client.account_path("/d1/database")).json(body);
    let (db, adopted) = match client.call_as::<Database>(req).await {
        Ok(db) => (db, false),
        Err(e) if e.is_conflict() => {
            may_adopt(d, &e, &what)?;
            let found = find_by_name(client, d.name)
                .await
                .map_err(|e| e.context(&what, "looking up, to adopt,"))?
                .ok_or_else(|| ProviderError::NotFound {
                    what: what.clone(),
                    hint: Some(
                        "the API said the name is taken, yet no such database is listed: deploy again"
                            .into(),
                    ),
                })?;
            (found, true)
        }
        Err(e) => return Err(e.context(&what, "creating")),
    };
    let mut out = D1DatabaseOutput {
        id: db.uuid,
        name: db.name,
        migrations: BTreeMap::new(),
        seed: None,
    };
    // A database this call made has applied nothing; one adopted may have.
    migrate(client, d, p, &mut out, adopted, &what).await?;
    seed(client, d, p, &mut out, &what).await?;
    Ok(Output::D1Database(out))
}

/// The database of this name, if one exists (what an interrupted create may have made).
pub(crate) async fn find(
    client: &Client,
    d: &Desired<'_>,
) -> Result<Option<Output>, ProviderError> {
    let what = describe(Kind::D1Database, &d.resource.id, d.name);
    let found = find_by_name(client, d.name)
        .await
        .map_err(|e| e.context(&what, "looking up"))?;
    Ok(found.map(|db| {
        Output::D1Database(D1DatabaseOutput {
            id: db.uuid,
            name: db.name,
            migrations: BTreeMap::new(),
            seed: None,
        })
    }))
}

/// Applies the migrations added since the last deploy (nothing else changes in place: a new
/// name, location or jurisdiction replaces the database).
pub(crate) async fn update(
    client: &Client,
    d: &Desired<'_>,
    p: &D1Database,
    e: Deployed<'_, D1Database, D1DatabaseOutput>,
) -> Result<Output, ProviderError> {
    let what = describe(Kind::D1Database, &d.resource.id, d.name);
    let mut out = e.output.clone();
    migrate(client, d, p, &mut out, false, &what).await?;
    seed(client, d, p, &mut out, &what).await?;
    Ok(Output::D1Database(out))
}

/// Runs the seed file when it has not run in its present content.
async fn seed(
    client: &Client,
    d: &Desired<'_>,
    p: &D1Database,
    out: &mut D1DatabaseOutput,
    what: &str,
) -> Result<(), ProviderError> {
    let Some(file) = &p.seed else {
        return Ok(());
    };
    let seed = read_sql(&d.root.join(file), "seed", what)?;
    if out.seed.as_deref() == Some(seed.digest.as_str()) {
        return Ok(());
    }
    let query = format!("{}/query", database_path(client, &out.id));
    client
        .call(Request::post(&query).json(json!({ "sql": terminated(&seed.sql) })))
        .await
        .map_err(|e| e.context(what, &format!("running the seed {} in", seed.name)))?;
    out.seed = Some(seed.digest);
    Ok(())
}

/// Applies the migrations not yet applied, in order; refuses a file changed since it was
/// applied. `read_applied`: also ask the database what it recorded (an adopted database).
async fn migrate(
    client: &Client,
    d: &Desired<'_>,
    p: &D1Database,
    out: &mut D1DatabaseOutput,
    read_applied: bool,
    what: &str,
) -> Result<(), ProviderError> {
    let Some(dir) = &p.migrations else {
        return Ok(());
    };
    let files = read_migrations(&d.root.join(dir), what)?;
    for m in &files {
        if let Some(applied) = out.migrations.get(&m.name)
            && *applied != m.digest
        {
            return Err(ProviderError::Local {
                message: format!(
                    "{what}: the migration {} was applied and has changed since; athanor does not apply a migration twice: restore the file and put the change in a new migration",
                    m.name
                ),
            });
        }
    }
    let pending: Vec<&Migration> = files
        .iter()
        .filter(|m| !out.migrations.contains_key(&m.name))
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    let query = format!("{}/query", database_path(client, &out.id));
    // The table wrangler keeps, and what it already records (applied by wrangler, or by an
    // earlier run whose state was lost).
    let recorded = if read_applied || out.migrations.is_empty() {
        let sql = format!("{MIGRATIONS_TABLE}; SELECT name FROM d1_migrations");
        let answers: Vec<QueryResult> = client
            .call_as(Request::post(&query).json(json!({ "sql": sql })))
            .await
            .map_err(|e| e.context(what, "reading the applied migrations of"))?;
        answers
            .iter()
            .flat_map(|a| a.results.iter())
            .filter_map(|row| row.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect()
    } else {
        Vec::new()
    };
    for m in pending {
        if !recorded.contains(&m.name) {
            let sql = format!(
                "{}\nINSERT INTO d1_migrations (name) VALUES ('{}');",
                terminated(&m.sql),
                m.name.replace('\'', "''")
            );
            client
                .call(Request::post(&query).json(json!({ "sql": sql })))
                .await
                .map_err(|e| e.context(what, &format!("applying the migration {} to", m.name)))?;
        }
        out.migrations.insert(m.name.clone(), m.digest.clone());
    }
    Ok(())
}

/// A migration's SQL, its last statement ended with `;` when the file leaves it open (unless
/// the file ends in a comment, where a `;` would be commented out).
fn terminated(sql: &str) -> String {
    let sql = sql.trim_end();
    let ends_in_comment = sql
        .lines()
        .last()
        .is_some_and(|l| l.trim_start().starts_with("--"));
    if sql.is_empty() || sql.ends_with(';') || ends_in_comment {
        sql.to_owned()
    } else {
        format!("{sql};")
    }
}

/// One statement's answer from `query`.
#[derive(Debug, Deserialize)]
struct QueryResult {
    #[serde(default)]
    results: Vec<serde_json::Map<String, Value>>,
}

/// The database named `name`, if the account has one.
async fn find_by_name(client: &Client, name: &str) -> Result<Option<Database>, crate::Error> {
    let req = Request::get(client.account_path("/d1/database")).query("name", name);
    let found: Vec<Database> = client.call_as(req).await?;
    Ok(found.into_iter().find(|db| db.name == name))
}

/// Deletes the database; one already gone is fine.
pub(crate) async fn delete(
    client: &Client,
    e: Deployed<'_, D1Database, D1DatabaseOutput>,
) -> Result<(), ProviderError> {
    let what = describe(Kind::D1Database, e.id, &e.output.name);
    delete_if_exists(
        client,
        Request::delete(database_path(client, &e.output.id)),
        &what,
    )
    .await
}

/// Reads the database back (its migrations as recorded).
pub(crate) async fn read(
    client: &Client,
    e: Deployed<'_, D1Database, D1DatabaseOutput>,
) -> Result<Option<Output>, ProviderError> {
    let what = describe(Kind::D1Database, e.id, &e.output.name);
    let found = read_if_exists::<Database>(
        client,
        Request::get(database_path(client, &e.output.id)),
        &what,
    )
    .await?;
    Ok(found.map(|db| {
        Output::D1Database(D1DatabaseOutput {
            id: db.uuid,
            name: db.name,
            migrations: e.output.migrations.clone(),
            seed: e.output.seed.clone(),
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_the_sql_files_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("0002_index.sql"), "CREATE INDEX i ON t(a);").unwrap();
        std::fs::write(dir.path().join("0001_init.sql"), "CREATE TABLE t(a);").unwrap();
        std::fs::write(dir.path().join("README.md"), "not a migration").unwrap();
        let found = read_migrations(dir.path(), "D1 database \"db\"").unwrap();
        let names: Vec<&str> = found.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["0001_init.sql", "0002_index.sql"]);
        assert_eq!(
            found[0].digest,
            hex::encode(Sha256::digest(b"CREATE TABLE t(a);"))
        );
        let err = read_migrations(&dir.path().join("missing"), "D1 database \"db\"").unwrap_err();
        assert!(err.to_string().contains("migrations directory"), "{err}");
    }

    #[test]
    fn a_migration_is_terminated_before_its_record() {
        assert_eq!(terminated("CREATE TABLE t(a)\n"), "CREATE TABLE t(a);");
        assert_eq!(terminated("CREATE TABLE t(a);\n\n"), "CREATE TABLE t(a);");
        assert_eq!(
            terminated("CREATE TABLE t(a);\n-- done"),
            "CREATE TABLE t(a);\n-- done"
        );
    }
}
