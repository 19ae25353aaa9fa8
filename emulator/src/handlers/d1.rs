//! D1: databases (create with a location hint or a jurisdiction, list with a name filter and
//! pages, get by UUID or name, read-replication settings, delete), SQL through `query` (rows as
//! objects) and `raw` (columns and rows), and `export`/`import` in the polling protocol wrangler
//! drives. Each database is its own SQLite file (`store::d1`), which the Workers' D1 binding reads
//! and writes too; the rules a statement meets are in `d1_rules`.
//!
//! Codes are Cloudflare's: 7400 a malformed request (`The request is malformed: params with
//! multiple statements is not supported`), 7404 a missing database (404), 7406 the account's
//! database limit, 7500 a statement SQLite or D1 refused (400, with D1's message such as `no such
//! table: t: SQLITE_ERROR`), 7502 a duplicate name (wrangler reads 7502 and 7406 by number).
//!
//! Sources: 7406 and 7502 as wrangler reads them (`packages/wrangler/src/d1/create.ts`); 7400,
//! 7404 and 7500 as third-party clients match them (alchemy-run/distilled,
//! `packages/cloudflare/patches/d1/*.json`) and third-party wrangler output shows them (`Invalid
//! property: databaseId => Invalid uuid [code: 7400]`, `The database … could not be found [code:
//! 7404]`, `no such table: …: SQLITE_ERROR [code: 7500]`). Limits: 50,000 databases per account
//! (`developers.cloudflare.com/d1/platform/limits`, Workers Paid; see `d1_rules`). Import files of
//! at most 1 GiB, transfer files kept an hour, database names of 1 to 64 characters, and list
//! pages of 1000 (at most 10,000) are the emulator's own: no public source (D1 imports up to 5 GB,
//! same page).
//!
//! A query request is one transaction: when a statement fails, nothing the request wrote stays.
//!
//! Export and import hand out a "signed URL" on the emulator itself (`/__emulator/d1/files/…`, a
//! random name, no token, kept for an hour), where wrangler downloads the dump or uploads the SQL
//! file; both finish within the call that starts them, so the first answer is already `complete`
//! (or `error`). Cloudflare documents no rule for database names; the emulator takes 1 to 64
//! characters without control characters or surrounding spaces.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rusqlite::Connection;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{AppStateRef, Params, param};
use crate::d1_rules::{self, JURISDICTIONS, LOCATION_HINTS, MAX_DATABASES};
use crate::envelope::{ApiError, ApiResult, ok, ok_with_info, paginate, parse_json};
use crate::ids;
use crate::state::AppState;
use crate::store::d1::{D1Error, DumpOptions, FileStats, Meta, Outcome, Query, Split};
use crate::store::{docs, lookup};

/// Document kind of databases; ids are the UUIDs.
const DB: &str = lookup::D1_DATABASE;
/// Where export and import files live, under the D1 directory.
const TRANSFERS: &str = "transfers";
/// The path prefix of the URLs export and import hand out.
pub(crate) const FILES_PATH: &str = "/__emulator/d1/files";
/// The largest SQL file an import takes: 1 GiB, the emulator's own bound (D1's limits page allows
/// 5 GB imports).
pub(crate) const MAX_FILE_BYTES: usize = 1024 * 1024 * 1024;

fn malformed(message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(7400, format!("The request is malformed: {message}"))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(7404, format!("The database {id} could not be found"))
}

/// The API's answer to a failed D1 call on database `id`.
fn refusal(id: &str, e: D1Error) -> ApiError {
    match e {
        D1Error::Missing => not_found(id),
        D1Error::Malformed(m) => ApiError::bad_request(7400, m),
        D1Error::Sql(m) => ApiError::bad_request(7500, m),
        D1Error::Storage(m) => ApiError::internal(m),
    }
}

/// The database a path names, by UUID or by name (wrangler looks a database up by name this
/// way); 404 code 7404 when there is none.
fn require(c: &Connection, id_or_name: &str) -> Result<Value, ApiError> {
    if let Some(doc) = docs::get(c, DB, id_or_name)? {
        return Ok(doc);
    }
    match docs::find(c, DB, "name", id_or_name)? {
        Some(id) => docs::get(c, DB, &id)?.ok_or_else(|| not_found(id_or_name)),
        None => Err(not_found(id_or_name)),
    }
}

/// A database document's UUID.
fn uuid_of(doc: &Value) -> String {
    doc["uuid"].as_str().unwrap_or_default().to_owned()
}

/// The database as the API shows it: the document with its table count and size.
fn view(doc: &Value, stats: Option<FileStats>) -> Value {
    let mut out = doc.clone();
    if let Some(o) = out.as_object_mut() {
        let stats = stats.unwrap_or(FileStats {
            num_tables: 0,
            file_size: 0,
        });
        o.insert("num_tables".into(), json!(stats.num_tables));
        o.insert("file_size".into(), json!(stats.file_size));
    }
    out
}

async fn stats(state: &AppState, id: String) -> Option<FileStats> {
    state.d1.blocking(move |f| f.stats(&id)).await.ok()
}

/// An RFC 3339 timestamp with milliseconds, as D1 writes `created_at`.
fn timestamp(state: &AppState) -> String {
    let ms = state.clock.now_millis();
    let secs = crate::clock::rfc3339(ms.div_euclid(1000));
    format!("{}.{:03}Z", secs.trim_end_matches('Z'), ms.rem_euclid(1000))
}

#[derive(Deserialize)]
struct CreateBody {
    name: Option<String>,
    primary_location_hint: Option<String>,
    jurisdiction: Option<String>,
}

/// `POST …/d1/database` with `{name, primary_location_hint?, jurisdiction?}`.
pub(crate) async fn create(state: AppStateRef, body: Bytes) -> ApiResult {
    let body: CreateBody = parse_json(&body, 7400, "D1 database create")?;
    let name = body.name.unwrap_or_default();
    d1_rules::check_name(&name).map_err(malformed)?;
    let hint = body.primary_location_hint.map(|h| h.to_ascii_lowercase());
    if let Some(h) = &hint
        && !LOCATION_HINTS.contains(&h.as_str())
    {
        return Err(malformed(format!(
            "invalid primary_location_hint {h:?}: expected one of {}",
            LOCATION_HINTS.join(", ")
        )));
    }
    let jurisdiction = body.jurisdiction.map(|j| j.to_ascii_lowercase());
    if let Some(j) = &jurisdiction
        && !JURISDICTIONS.contains(&j.as_str())
    {
        return Err(malformed(format!(
            "invalid jurisdiction {j:?}: expected one of {}",
            JURISDICTIONS.join(", ")
        )));
    }
    let id = ids::uuid();
    let mut doc = json!({
        "uuid": id,
        "name": name,
        "created_at": timestamp(&state),
        "version": "production",
        "read_replication": {"mode": "disabled"},
    });
    match (&jurisdiction, &hint) {
        (Some(j), _) => doc["jurisdiction"] = json!(j),
        (None, Some(h)) => {
            doc["primary_location_hint"] = json!(h);
            doc["running_in_region"] = json!(h.to_ascii_uppercase());
        }
        (None, None) => {}
    }
    let stored = doc.clone();
    let reserved = id.clone();
    state
        .store
        .tx(move |c| {
            if docs::find(c, DB, "name", &name)?.is_some() {
                return Err(ApiError::bad_request(
                    7502,
                    format!("A database with the name '{name}' already exists"),
                ));
            }
            if docs::count(c, DB)? >= MAX_DATABASES {
                return Err(ApiError::bad_request(
                    7406,
                    format!(
                        "You have reached the maximum number of D1 databases for your account ({MAX_DATABASES})"
                    ),
                ));
            }
            docs::put(c, DB, &reserved, &stored)
        })
        .await?;
    let created = {
        let id = id.clone();
        state.d1.blocking(move |f| f.create(&id)).await
    };
    if let Err(e) = created {
        let id = id.clone();
        state.store.tx(move |c| docs::delete(c, DB, &id)).await?;
        return Err(refusal(&uuid_of(&doc), e));
    }
    let mut out = view(&doc, stats(&state, id).await);
    if let Some(h) = &hint
        && jurisdiction.is_none()
    {
        out["created_in_region"] = json!(h.to_ascii_uppercase());
    }
    ok(out)
}

/// `GET …/d1/database?name&page&per_page`: databases whose name contains `name`, oldest first.
pub(crate) async fn list(state: AppStateRef, q: Params) -> ApiResult {
    let filter = param(&q, "name").unwrap_or("").to_owned();
    let all: Vec<Value> = state.store.tx(|c| docs::list(c, DB, "")).await?;
    let matching: Vec<Value> = all
        .into_iter()
        .filter(|d| d["name"].as_str().is_some_and(|n| n.contains(&filter)))
        .collect();
    let (page, info) = paginate(
        &matching,
        param(&q, "page"),
        param(&q, "per_page"),
        1000,
        10_000,
    )?;
    let mut items = Vec::with_capacity(page.len());
    for doc in page {
        let mut item = Map::new();
        for key in ["uuid", "name", "created_at", "version", "jurisdiction"] {
            if let Some(v) = doc.get(key) {
                item.insert(key.into(), v.clone());
            }
        }
        items.push(view(
            &Value::Object(item),
            stats(&state, uuid_of(&doc)).await,
        ));
    }
    ok_with_info(Value::Array(items), info)
}

/// `GET …/d1/database/{database_id}` (a UUID or a name).
pub(crate) async fn get(state: AppStateRef, Path((_, id)): Path<(String, String)>) -> ApiResult {
    let doc = state.store.tx(move |c| require(c, &id)).await?;
    ok(view(&doc, stats(&state, uuid_of(&doc)).await))
}

#[derive(Deserialize)]
struct UpdateBody {
    read_replication: Option<ReadReplication>,
}

#[derive(Deserialize)]
struct ReadReplication {
    mode: Option<String>,
}

/// `PUT …/d1/database/{database_id}` with `{read_replication: {mode}}` (required).
pub(crate) async fn update(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    change(state, id, body, true).await
}

/// `PATCH …/d1/database/{database_id}` with `{read_replication?: {mode}}`.
pub(crate) async fn edit(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    change(state, id, body, false).await
}

async fn change(state: AppStateRef, id: String, body: Bytes, required: bool) -> ApiResult {
    let body: UpdateBody = parse_json(&body, 7400, "D1 database update")?;
    let mode = match body.read_replication {
        Some(r) => match r.mode.as_deref() {
            Some(m @ ("auto" | "disabled")) => Some(m.to_owned()),
            other => {
                return Err(malformed(format!(
                    "invalid read_replication.mode {other:?}: expected auto or disabled"
                )));
            }
        },
        None if required => return Err(malformed("read_replication is required")),
        None => None,
    };
    let doc = state
        .store
        .tx(move |c| {
            let mut doc = require(c, &id)?;
            if let Some(mode) = mode {
                doc["read_replication"] = json!({"mode": mode});
                docs::put(c, DB, &uuid_of(&doc), &doc)?;
            }
            Ok(doc)
        })
        .await?;
    ok(view(&doc, stats(&state, uuid_of(&doc)).await))
}

/// `DELETE …/d1/database/{database_id}`: the database and its file.
pub(crate) async fn delete(state: AppStateRef, Path((_, id)): Path<(String, String)>) -> ApiResult {
    let doc = state
        .store
        .tx(move |c| {
            let doc = require(c, &id)?;
            docs::delete(c, DB, &uuid_of(&doc))?;
            Ok(doc)
        })
        .await?;
    let uuid = uuid_of(&doc);
    state
        .d1
        .blocking(move |f| {
            f.delete(&uuid);
            Ok(())
        })
        .await
        .map_err(|e| refusal(&uuid_of(&doc), e))?;
    ok(Value::Null)
}

#[derive(Deserialize)]
struct QueryBody {
    sql: Option<String>,
    #[serde(default)]
    params: Option<Vec<Value>>,
    batch: Option<Vec<Query>>,
}

/// The queries of a `query`/`raw` body: `{sql, params?}` or `{batch: [{sql, params?}, …]}`.
fn queries(body: &[u8]) -> Result<Vec<Query>, ApiError> {
    let body: QueryBody = serde_json::from_slice(body).map_err(malformed)?;
    match (body.batch, body.sql) {
        (Some(batch), _) if !batch.is_empty() => Ok(batch),
        (_, Some(sql)) => Ok(vec![Query {
            sql,
            params: body.params,
        }]),
        _ => Err(malformed("a query needs `sql` (or a non-empty `batch`)")),
    }
}

/// Runs the queries of a `query`/`raw` body on database `id` (a UUID or a name), one outcome
/// per statement.
async fn execute(state: &AppState, id: String, body: &[u8]) -> Result<Vec<Outcome>, ApiError> {
    let queries = queries(body)?;
    let doc = state.store.tx(move |c| require(c, &id)).await?;
    let uuid = uuid_of(&doc);
    state
        .d1
        .blocking(move |f| f.execute(&uuid, &queries, Split::EachStatement))
        .await
        .map(|executed| executed.outcomes)
        .map_err(|e| refusal(&uuid_of(&doc), e))
}

/// `POST …/d1/database/{database_id}/query`: `[{results: [row objects], success, meta}]`, one
/// entry per statement.
pub(crate) async fn query(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let outcomes = execute(&state, id, &body).await?;
    ok(Value::Array(
        outcomes
            .iter()
            .map(|o| json!({"results": o.objects(), "success": true, "meta": o.meta.to_json()}))
            .collect(),
    ))
}

/// `POST …/d1/database/{database_id}/raw`: `[{results: {columns, rows}, success, meta}]`, one
/// entry per statement.
pub(crate) async fn raw(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let outcomes = execute(&state, id, &body).await?;
    ok(Value::Array(
        outcomes
            .iter()
            .map(|o| {
                json!({"results": o.columns_and_rows(), "success": true, "meta": o.meta.to_json()})
            })
            .collect(),
    ))
}

/// The base of the URLs handed out for export and import: the address the request came to.
fn files_url(headers: &HeaderMap, file: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}{FILES_PATH}/{file}")
}

/// A transfer file's path, when `file` is one of the names export and import hand out.
fn transfer_path(state: &AppState, file: &str) -> Option<std::path::PathBuf> {
    let stem = file.strip_suffix(".sql")?;
    ids::is_hex32(stem).then(|| state.d1.dir().join(TRANSFERS).join(file))
}

fn io_error(what: &str, e: std::io::Error) -> ApiError {
    ApiError::internal(format!("could not {what}: {e}"))
}

#[derive(Deserialize)]
struct ExportBody {
    output_format: Option<String>,
    #[serde(default)]
    dump_options: Option<ExportDumpOptions>,
}

#[derive(Deserialize, Default)]
struct ExportDumpOptions {
    #[serde(default)]
    no_data: bool,
    #[serde(default)]
    no_schema: bool,
    #[serde(default)]
    tables: Vec<String>,
}

/// `POST …/d1/database/{database_id}/export` with `{output_format: "polling", dump_options?,
/// current_bookmark?}`: the dump is written at once, so the first answer is `complete`, with the
/// URL to download it from.
pub(crate) async fn export(
    state: AppStateRef,
    headers: HeaderMap,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body: ExportBody = parse_json(&body, 7400, "D1 export")?;
    if body.output_format.as_deref() != Some("polling") {
        return Err(malformed("output_format must be \"polling\""));
    }
    let options = body.dump_options.unwrap_or_default();
    let options = DumpOptions {
        no_schema: options.no_schema,
        no_data: options.no_data,
        tables: options.tables,
    };
    let doc = state.store.tx(move |c| require(c, &id)).await?;
    let uuid = uuid_of(&doc);
    let (sql, bookmark) = {
        let uuid = uuid.clone();
        state
            .d1
            .blocking(move |f| Ok((f.dump(&uuid, &options)?, f.bookmark(&uuid)?)))
            .await
            .map_err(|e| refusal(&uuid_of(&doc), e))?
    };
    let file = format!("{}.sql", ids::hex32());
    let path = transfer_path(&state, &file).expect("a generated name is valid");
    prune_transfers(&state).await;
    write_file(path, sql.into_bytes()).await?;
    let filename = format!("{}-{}.sql", doc["name"].as_str().unwrap_or(&uuid), bookmark);
    ok(json!({
        "success": true,
        "type": "export",
        "at_bookmark": bookmark,
        "status": "complete",
        "messages": [format!("Generated {filename}")],
        "result": {"filename": filename, "signed_url": files_url(&headers, &file)},
    }))
}

/// Removes export and import files older than an hour (how long Cloudflare's URLs are taken to
/// stay valid; no public source).
async fn prune_transfers(state: &AppState) {
    let Ok(mut entries) = tokio::fs::read_dir(state.d1.dir().join(TRANSFERS)).await else {
        return;
    };
    let hour = std::time::Duration::from_secs(3600);
    while let Ok(Some(entry)) = entries.next_entry().await {
        let old = entry
            .metadata()
            .await
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > hour));
        if old {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
}

async fn write_file(path: std::path::PathBuf, data: Vec<u8>) -> Result<(), ApiError> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| io_error("create the D1 transfer directory", e))?;
    }
    tokio::fs::write(&path, data)
        .await
        .map_err(|e| io_error("write a D1 transfer file", e))
}

#[derive(Deserialize)]
struct ImportBody {
    action: Option<String>,
    etag: Option<String>,
    filename: Option<String>,
    current_bookmark: Option<String>,
}

/// `POST …/d1/database/{database_id}/import`: `init` (`{etag}`) answers `{filename, upload_url}`;
/// the client PUTs the SQL file there (the answer's `ETag` is its MD5); `ingest` (`{filename,
/// etag}`) runs the file in one transaction and answers `complete` with `num_queries` and the
/// summed `meta`, or `error` with D1's message (nothing applied). `poll` has nothing to wait for.
pub(crate) async fn import(
    state: AppStateRef,
    headers: HeaderMap,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body: ImportBody = parse_json(&body, 7400, "D1 import")?;
    let doc = state.store.tx(move |c| require(c, &id)).await?;
    let uuid = uuid_of(&doc);
    match body.action.as_deref() {
        Some("init") => {
            if body.etag.as_deref().is_none_or(str::is_empty) {
                return Err(malformed("init needs the file's MD5 as `etag`"));
            }
            let file = format!("{}.sql", ids::hex32());
            ok(json!({
                "success": true,
                "filename": file,
                "upload_url": files_url(&headers, &file),
            }))
        }
        Some("ingest") => {
            let (Some(file), Some(etag)) = (body.filename, body.etag) else {
                return Err(malformed("ingest needs `filename` and `etag`"));
            };
            let path = transfer_path(&state, &file)
                .ok_or_else(|| malformed(format!("unknown import file {file:?}")))?;
            let data = tokio::fs::read(&path)
                .await
                .map_err(|_| malformed(format!("import file {file:?} was not uploaded")))?;
            let _ = tokio::fs::remove_file(&path).await;
            if ids::md5_hex(&data) != etag.trim_matches('"') {
                return ok(import_failed(
                    "",
                    "the uploaded file's MD5 does not match the etag".into(),
                ));
            }
            let sql = String::from_utf8(data)
                .map_err(|_| malformed("the uploaded SQL file is not UTF-8"))?;
            let queries = vec![Query { sql, params: None }];
            let run = {
                let uuid = uuid.clone();
                state
                    .d1
                    .blocking(move |f| {
                        let result = f.execute(&uuid, &queries, Split::EachStatement);
                        Ok((result, f.bookmark(&uuid)?))
                    })
                    .await
            }
            .map_err(|e| refusal(&uuid, e))?;
            match run {
                (Ok(executed), bookmark) => {
                    let mut meta = Meta::default();
                    for o in &executed.outcomes {
                        meta.add(&o.meta);
                    }
                    let count = executed.outcomes.len();
                    ok(json!({
                        "success": true,
                        "type": "import",
                        "at_bookmark": bookmark,
                        "status": "complete",
                        "messages": [format!("Processed {count} queries.")],
                        "errors": [],
                        "result": {
                            "final_bookmark": bookmark,
                            "num_queries": count,
                            "meta": meta.to_json(),
                        },
                    }))
                }
                (Err(D1Error::Missing), _) => Err(not_found(&uuid)),
                (Err(e), bookmark) => ok(import_failed(&bookmark, e.to_string())),
            }
        }
        Some("poll") => {
            let bookmark = body.current_bookmark.unwrap_or_default();
            ok(json!({
                "success": false,
                "error": format!("No import is in progress at bookmark {bookmark:?}: an import completes within its ingest call here"),
            }))
        }
        other => Err(malformed(format!(
            "invalid action {other:?}: expected init, ingest or poll"
        ))),
    }
}

fn import_failed(bookmark: &str, error: String) -> Value {
    json!({
        "success": true,
        "type": "import",
        "at_bookmark": bookmark,
        "status": "error",
        "error": error,
        "errors": [error],
        "messages": [],
    })
}

/// `GET /__emulator/d1/files/{file}`: an export's dump (the "signed URL"; the name is the key).
pub(crate) async fn download(state: AppStateRef, Path(file): Path<String>) -> Response {
    let Some(path) = transfer_path(&state, &file) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    match tokio::fs::read(&path).await {
        Ok(data) => crate::envelope::raw("application/sql", data),
        Err(_) => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// `PUT /__emulator/d1/files/{file}`: an import's SQL file; answers its MD5 as `ETag`.
pub(crate) async fn upload(state: AppStateRef, Path(file): Path<String>, body: Bytes) -> Response {
    let Some(path) = transfer_path(&state, &file) else {
        return (StatusCode::NOT_FOUND, "no such upload").into_response();
    };
    let etag = format!("\"{}\"", ids::md5_hex(&body));
    if let Err(e) = write_file(path, body.to_vec()).await {
        return e.into_response();
    }
    let mut response = StatusCode::OK.into_response();
    if let Ok(v) = header::HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}
