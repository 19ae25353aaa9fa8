//! Workers KV: namespaces, values (raw and multipart with metadata), metadata, keys, bulk writes,
//! deletes and reads, with Cloudflare's limits and error codes.
//!
//! Codes 10009, 10011, 10013, 10014, 10018, 10019 and 10028 are Cloudflare's; the statuses and
//! messages of the size limits (414 key, 413 value and metadata) follow the messages Cloudflare
//! returns for them (`kv_rules` names their sources).
//!
//! Sources (reference/cloudflare-api.md §1.5 and §3 give theirs):
//! - 10009 `get: 'key not found'` and 10013 `namespace not found`, both 404: miniflare
//!   (`local-explorer/resources/kv.ts`); third-party clients match the same codes
//!   (alchemy-run/distilled, `packages/cloudflare/patches/kv/*.json`).
//! - 10011 "could not parse UUID from request's namespace_id": third-party (§1.5).
//! - 10014, 400, a title that is taken: wrangler (`src/kv/index.ts`) and the SDK (§1.5); the
//!   message as in workers-sdk issue #13242.
//! - 10018 too many namespaces, 10019 missing title, 10028 invalid `limit`: a third-party list of
//!   KV codes (§1.5); 10019 also in alchemy-run/distilled's `createNamespace.json`.
//! - 10024, 413, a body over a size limit: KV's "payload too large" (§1.5).
//! - 10001 for every other refusal (a body, query parameter, `order` or bulk item the API cannot
//!   read): KV's bad-request code (§1.5; miniflare uses it for validation). One third-party client
//!   matches 10012 for an invalid bulk body (alchemy-run/distilled, `patches/kv/bulk*.json`); no
//!   answer carrying it is quoted anywhere public and no other client sees it, so the emulator
//!   keeps 10001 (miniflare's bulk endpoints answer 10001 too).
//! - Limits: 1000 namespaces per account (`developers.cloudflare.com/kv/platform/limits`, §3);
//!   titles of at most 512 bytes (the current spec's `maxLength`, §3); bulk writes and deletes of
//!   at most 10,000 pairs and 100 MB (§3, the SDK's field docs); `limit` of a key list 10 to 1000,
//!   default 1000 (the spec's `keys` parameters, reference/cloudflare-openapi-subset.json).
//! - Namespace list pages: default 20 (the spec); the spec's maximum is 100, but the emulator
//!   allows 1000 because wrangler asks for `per_page=1000` (reference/wrangler-requests.md).

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine;
use rusqlite::Connection;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{AppStateRef, Params, is_multipart, param, sort_by_field};
use crate::envelope::{ApiError, ApiResult, ok, ok_with_info, paginate, parse_json, raw};
use crate::ids;
use crate::kv_rules::{
    self, MAX_BULK_GET_KEYS, MAX_VALUE_BYTES, check_write, decode_cursor, encode_cursor,
};
use crate::state::AppState;
use crate::store::{KvEntry, docs, kv, lookup};

/// Document kind of namespaces.
const NS: &str = lookup::KV_NAMESPACE;
/// Namespaces per account (`kv/platform/limits`, reference/cloudflare-api.md §3).
pub(crate) const MAX_NAMESPACES: usize = 1000;
/// Longest namespace title (the current spec's `maxLength` 512, §3).
pub(crate) const MAX_TITLE_BYTES: usize = 512;
/// Pairs per bulk request (§3: "Up to 10,000 pairs").
pub(crate) const MAX_BULK_PAIRS: usize = 10_000;
/// Largest bulk request body: 100 MB (§3: "the whole request must be ≤100 MB").
pub(crate) const MAX_BULK_BYTES: usize = 100 * 1000 * 1000;
#[derive(Deserialize)]
struct TitleBody {
    title: Option<String>,
}

fn namespace_not_found() -> ApiError {
    ApiError::not_found(10013, "namespace not found")
}

fn key_not_found() -> ApiError {
    ApiError::not_found(10009, "get: 'key not found'")
}

/// Checks the id's format (10011) and that the namespace exists (10013).
fn require_namespace(c: &Connection, id: &str) -> Result<Value, ApiError> {
    if !ids::is_hex32(id) {
        return Err(ApiError::bad_request(
            10011,
            format!("could not parse UUID from request's namespace_id: '{id}'"),
        ));
    }
    docs::get(c, NS, id)?.ok_or_else(namespace_not_found)
}

fn check_title(title: Option<String>) -> Result<String, ApiError> {
    let title = title.unwrap_or_default();
    if title.trim().is_empty() {
        return Err(ApiError::bad_request(
            10019,
            "missing title: a namespace needs a non-empty title",
        ));
    }
    if title.len() > MAX_TITLE_BYTES {
        return Err(ApiError::bad_request(
            10001,
            format!(
                "title is {} bytes long; the limit is {MAX_TITLE_BYTES}",
                title.len()
            ),
        ));
    }
    Ok(title)
}

/// 400 code 10014 when a namespace other than `except` already has `title`.
fn ensure_title_free(c: &Connection, title: &str, except: Option<&str>) -> Result<(), ApiError> {
    let taken = docs::find(c, NS, "title", title)?;
    if taken.is_some_and(|other| Some(other.as_str()) != except) {
        return Err(ApiError::bad_request(
            10014,
            "a namespace with this account ID and title already exists",
        ));
    }
    Ok(())
}

/// `GET …/storage/kv/namespaces?page&per_page&order=id|title&direction=asc|desc`.
pub(crate) async fn list_namespaces(state: AppStateRef, q: Params) -> ApiResult {
    let mut items: Vec<Value> = state.store.tx(|c| docs::list(c, NS, "")).await?;
    let descending = param(&q, "direction") == Some("desc");
    match param(&q, "order") {
        Some(field @ ("id" | "title")) => sort_by_field(&mut items, field, descending),
        Some(other) => {
            return Err(ApiError::bad_request(
                10001,
                format!("invalid order {other:?}: expected id or title"),
            ));
        }
        None if descending => items.reverse(),
        None => {}
    }
    let (page, info) = paginate(&items, param(&q, "page"), param(&q, "per_page"), 20, 1000)?;
    ok_with_info(Value::Array(page), info)
}

/// `POST …/storage/kv/namespaces` with `{"title"}`; a duplicate title is 400 with code 10014.
pub(crate) async fn create_namespace(state: AppStateRef, body: Bytes) -> ApiResult {
    let body: TitleBody = parse_json(&body, 10001, "KV namespace create")?;
    let title = check_title(body.title)?;
    let doc = state
        .store
        .tx(move |c| {
            ensure_title_free(c, &title, None)?;
            if docs::count(c, NS)? >= MAX_NAMESPACES {
                return Err(ApiError::bad_request(
                    10018,
                    format!("too many namespaces in this account: the limit is {MAX_NAMESPACES}"),
                ));
            }
            let id = ids::hex32();
            let doc = json!({"id": id, "title": title, "supports_url_encoding": true});
            docs::put(c, NS, &id, &doc)?;
            Ok(doc)
        })
        .await?;
    ok(doc)
}

/// `GET …/storage/kv/namespaces/{namespace_id}`.
pub(crate) async fn get_namespace(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult {
    ok(state.store.tx(move |c| require_namespace(c, &id)).await?)
}

/// `PUT …/storage/kv/namespaces/{namespace_id}` with `{"title"}`: renames, answering the namespace.
pub(crate) async fn rename_namespace(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body: TitleBody = parse_json(&body, 10001, "KV namespace rename")?;
    let title = check_title(body.title)?;
    let doc = state
        .store
        .tx(move |c| {
            let mut doc = require_namespace(c, &id)?;
            ensure_title_free(c, &title, Some(&id))?;
            doc["title"] = json!(title);
            docs::put(c, NS, &id, &doc)?;
            Ok(doc)
        })
        .await?;
    ok(doc)
}

/// `DELETE …/storage/kv/namespaces/{namespace_id}`: the namespace and every value in it.
pub(crate) async fn delete_namespace(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult {
    state
        .store
        .tx(move |c| {
            require_namespace(c, &id)?;
            docs::delete(c, NS, &id)?;
            kv::delete_namespace(c, &id)
        })
        .await?;
    ok(Value::Null)
}

fn int_param(
    q: &std::collections::HashMap<String, String>,
    name: &str,
) -> Result<Option<i64>, ApiError> {
    match param(q, name) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|f| Some(f as i64))
            .ok_or_else(|| {
                ApiError::bad_request(
                    10001,
                    format!("invalid {name} {v:?}: expected a number of seconds"),
                )
            }),
    }
}

/// `PUT …/values/{key_name}?expiration&expiration_ttl`: a raw body, or multipart with `value` and
/// `metadata` parts.
pub(crate) async fn put_value(
    state: AppStateRef,
    Path((_, id, key)): Path<(String, String, String)>,
    q: Params,
    req: Request,
) -> ApiResult {
    let expiration = int_param(&q, "expiration")?;
    let ttl = int_param(&q, "expiration_ttl")?;
    let (value, metadata) = if is_multipart(req.headers()) {
        read_multipart_value(req).await?
    } else {
        let body = axum::body::to_bytes(req.into_body(), MAX_VALUE_BYTES + 1)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    10024,
                    format!("Value length exceeds limit of {MAX_VALUE_BYTES}."),
                )
            })?;
        (body.to_vec(), None)
    };
    let now = state.clock.now();
    let expiration = check_write(&key, value.len(), metadata.as_ref(), expiration, ttl, now)?;
    state
        .store
        .tx(move |c| {
            require_namespace(c, &id)?;
            kv::purge_expired(c, now)?;
            kv::put(
                c,
                &id,
                &KvEntry {
                    key,
                    value,
                    metadata,
                    expiration,
                },
            )
        })
        .await?;
    ok(Value::Null)
}

async fn read_multipart_value(req: Request) -> Result<(Vec<u8>, Option<Value>), ApiError> {
    let bad =
        |e: String| ApiError::bad_request(10001, format!("could not read the multipart body: {e}"));
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|e| bad(e.body_text()))?;
    let mut value = None;
    let mut metadata = None;
    while let Some(field) = form.next_field().await.map_err(|e| bad(e.body_text()))? {
        match field.name() {
            Some("value") => {
                value = Some(
                    field
                        .bytes()
                        .await
                        .map_err(|e| bad(e.body_text()))?
                        .to_vec(),
                )
            }
            Some("metadata") => {
                let raw = field.bytes().await.map_err(|e| bad(e.body_text()))?;
                let parsed: Value = serde_json::from_slice(&raw).map_err(|e| {
                    ApiError::bad_request(10001, format!("metadata is not valid JSON: {e}"))
                })?;
                metadata = Some(parsed);
            }
            _ => {}
        }
    }
    let value = value
        .ok_or_else(|| ApiError::bad_request(10001, "the multipart body has no `value` part"))?;
    Ok((value, metadata))
}

/// The live entry under `key` in namespace `id`; 404 code 10009 when there is none.
async fn read_entry(state: &AppState, id: String, key: String) -> Result<KvEntry, ApiError> {
    let now = state.clock.now();
    state
        .store
        .tx(move |c| {
            require_namespace(c, &id)?;
            kv::get(c, &id, &key, now)?.ok_or_else(key_not_found)
        })
        .await
}

/// `GET …/values/{key_name}`: the raw bytes, with an `expiration` header when the key has one.
pub(crate) async fn get_value(
    state: AppStateRef,
    Path((_, id, key)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let entry = read_entry(&state, id, key).await?;
    let mut response = raw("application/octet-stream", entry.value);
    if let Some(at) = entry.expiration {
        response
            .headers_mut()
            .insert("expiration", HeaderValue::from(at));
    }
    Ok(response)
}

/// `DELETE …/values/{key_name}` (deleting a missing key succeeds, as on Cloudflare).
pub(crate) async fn delete_value(
    state: AppStateRef,
    Path((_, id, key)): Path<(String, String, String)>,
) -> ApiResult {
    state
        .store
        .tx(move |c| {
            require_namespace(c, &id)?;
            kv::delete(c, &id, &key)
        })
        .await?;
    ok(Value::Null)
}

/// `GET …/metadata/{key_name}`: the key's metadata (`null` when it has none).
pub(crate) async fn get_metadata(
    state: AppStateRef,
    Path((_, id, key)): Path<(String, String, String)>,
) -> ApiResult {
    let entry = read_entry(&state, id, key).await?;
    ok(entry.metadata.unwrap_or(Value::Null))
}

/// `GET …/keys?prefix&limit&cursor`: `[{name, expiration?, metadata?}]` with
/// `result_info: {count, cursor}`; the cursor is `""` on the last page.
pub(crate) async fn list_keys(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
    q: Params,
) -> ApiResult {
    let limit = match param(&q, "limit") {
        None | Some("") => 1000,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (10..=1000).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(
                    10028,
                    format!("invalid key limit {v:?}: it must be between 10 and 1000"),
                ));
            }
        },
    };
    let after = match param(&q, "cursor") {
        None | Some("") => String::new(),
        Some(c) => decode_cursor(c)?,
    };
    let prefix = param(&q, "prefix").unwrap_or("").to_owned();
    let now = state.clock.now();
    let mut entries = state
        .store
        .tx(move |c| {
            require_namespace(c, &id)?;
            kv::list(c, &id, &prefix, &after, limit + 1, now)
        })
        .await?;
    let more = entries.len() > limit;
    entries.truncate(limit);
    let cursor = match (more, entries.last()) {
        (true, Some(last)) => encode_cursor(&last.key),
        _ => String::new(),
    };
    let items: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            let mut item = Map::new();
            item.insert("name".into(), json!(e.key));
            if let Some(at) = e.expiration {
                item.insert("expiration".into(), json!(at));
            }
            if let Some(m) = e.metadata {
                item.insert("metadata".into(), m);
            }
            Value::Object(item)
        })
        .collect();
    ok_with_info(
        json!(items),
        json!({"count": items.len(), "cursor": cursor}),
    )
}

#[derive(Deserialize)]
struct BulkPair {
    key: Option<String>,
    value: Option<String>,
    expiration: Option<i64>,
    expiration_ttl: Option<i64>,
    metadata: Option<Value>,
    #[serde(default)]
    base64: bool,
}

fn bulk_result(n: usize, unwritten: Vec<String>) -> ApiResult {
    ok(json!({"successful_key_count": n, "unsuccessful_keys": unwritten}))
}

fn check_bulk_size(body: &Bytes) -> Result<(), ApiError> {
    if body.len() > MAX_BULK_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            10024,
            format!(
                "request body of {} bytes exceeds the bulk limit of {MAX_BULK_BYTES}",
                body.len()
            ),
        ));
    }
    Ok(())
}

fn check_bulk_count(n: usize) -> Result<(), ApiError> {
    if n > MAX_BULK_PAIRS {
        return Err(ApiError::bad_request(
            10001,
            format!("{n} pairs in one bulk request: the limit is {MAX_BULK_PAIRS}"),
        ));
    }
    Ok(())
}

/// `PUT …/bulk`: up to 10,000 `{key, value, expiration?, expiration_ttl?, metadata?, base64?}`;
/// validated as a whole before anything is written.
pub(crate) async fn bulk_write(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    check_bulk_size(&body)?;
    let pairs: Vec<BulkPair> = parse_json(&body, 10001, "KV bulk write")?;
    check_bulk_count(pairs.len())?;
    let now = state.clock.now();
    let mut entries = Vec::with_capacity(pairs.len());
    for (i, p) in pairs.into_iter().enumerate() {
        let key = p
            .key
            .ok_or_else(|| ApiError::bad_request(10001, format!("pair {i} has no key")))?;
        let raw = p.value.ok_or_else(|| {
            ApiError::bad_request(10001, format!("pair {i} ({key:?}) has no value"))
        })?;
        let value = if p.base64 {
            base64::engine::general_purpose::STANDARD
                .decode(raw.as_bytes())
                .map_err(|e| {
                    ApiError::bad_request(
                        10001,
                        format!("pair {i} ({key:?}) is not valid base64: {e}"),
                    )
                })?
        } else {
            raw.into_bytes()
        };
        let expiration = check_write(
            &key,
            value.len(),
            p.metadata.as_ref(),
            p.expiration,
            p.expiration_ttl,
            now,
        )?;
        entries.push(KvEntry {
            key,
            value,
            metadata: p.metadata,
            expiration,
        });
    }
    // An injected partial failure: the last key is left unwritten and reported.
    let unwritten: Vec<String> = match state.faults.take_kv_bulk_unwritten() {
        true => entries.pop().map(|e| e.key).into_iter().collect(),
        false => Vec::new(),
    };
    let n = entries.len();
    state
        .store
        .tx(move |c| {
            require_namespace(c, &id)?;
            for e in &entries {
                kv::put(c, &id, e)?;
            }
            Ok(())
        })
        .await?;
    bulk_result(n, unwritten)
}

/// `POST …/bulk/delete` and the deprecated `DELETE …/bulk`: a JSON array of key names.
pub(crate) async fn bulk_delete(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    check_bulk_size(&body)?;
    let raw: Vec<Value> = parse_json(&body, 10001, "KV bulk delete")?;
    check_bulk_count(raw.len())?;
    let keys: Vec<String> = raw
        .into_iter()
        .map(|v| match v {
            Value::String(s) => Ok(s),
            Value::Object(o) => o
                .get("name")
                .or_else(|| o.get("key"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ApiError::bad_request(10001, "a bulk delete item has no key name")),
            _ => Err(ApiError::bad_request(
                10001,
                "bulk delete expects an array of key names",
            )),
        })
        .collect::<Result<_, _>>()?;
    let n = keys.len();
    state
        .store
        .tx(move |c| {
            require_namespace(c, &id)?;
            for k in &keys {
                kv::delete(c, &id, k)?;
            }
            Ok(())
        })
        .await?;
    bulk_result(n, Vec::new())
}

#[derive(Deserialize)]
struct BulkGet {
    keys: Vec<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "withMetadata", default)]
    with_metadata: bool,
}

/// `POST …/bulk/get` with `{keys, type?: text|json, withMetadata?}`.
pub(crate) async fn bulk_get(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let req: BulkGet = parse_json(&body, 10001, "KV bulk get")?;
    if req.keys.len() > MAX_BULK_GET_KEYS {
        return Err(ApiError::bad_request(
            10001,
            format!(
                "{} keys in one bulk get: the limit is {MAX_BULK_GET_KEYS}",
                req.keys.len()
            ),
        ));
    }
    let as_json = match req.kind.as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                10001,
                format!("invalid type {other:?}: expected text or json"),
            ));
        }
    };
    let now = state.clock.now();
    let keys = req.keys;
    let entries = state
        .store
        .tx(move |c| {
            require_namespace(c, &id)?;
            kv::get_many(c, &id, &keys, now)
        })
        .await?;
    let values = kv_rules::bulk_values(entries, as_json, req.with_metadata)?;
    ok(json!({"values": values}))
}
