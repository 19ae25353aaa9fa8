//! R2 buckets: create (location hint, storage class, jurisdiction header), list (cursor), get,
//! storage-class patch and delete; objects put, get and delete (stored in `store::r2`, shared with
//! the Workers' R2 binding). Buckets are addressed by name within a jurisdiction. A bucket's
//! settings (CORS, lifecycle, r2.dev and custom domains) are in [`settings`].
//!
//! Sources (reference/cloudflare-api.md §1.5 and §4 give theirs):
//! - 10004, 409, a bucket that exists: third-party reports (§1.5); third-party clients match it
//!   (alchemy-run/distilled, `packages/cloudflare/patches/r2/createBucket.json`).
//! - 10005, an invalid bucket name; 10006, 404, no such bucket; 10007, 404, no such object key;
//!   10008, 409, a bucket that is not empty: `developers.cloudflare.com/r2/api/error-codes`
//!   (InvalidBucketName, NoSuchBucket, NoSuchKey, BucketNotEmpty).
//! - 10040 for a body or header the API refuses (JSON, `locationHint`, `storageClass`,
//!   `cf-r2-jurisdiction`, `per_page`): wrangler's tests answer 10040 for JSON that is not well
//!   formed and a bad storage class (`msw/handlers/r2.ts`, §1.5). For an object key or body over
//!   the limits on the object routes there is no public source: the emulator answers 10040 there
//!   (the binding answers R2's 10020 and 100100, see `bindings::r2`).
//! - Bucket names of 3 to 63 characters of `a-z 0-9 -`, starting and ending with a letter or digit:
//!   wrangler (`workers-utils/src/config/validation.ts`) and the error-codes page (the 2024 spec
//!   says 3 to 64, §4). Location hints, storage classes and jurisdictions: §4.
//! - Bucket list pages: `per_page` 1 to 1000, default 20 (the spec's `/r2/buckets` parameters).
//! - Object keys of at most 1024 bytes: `developers.cloudflare.com/r2/platform/limits`. Objects of
//!   at most 128 MiB: the emulator's own bound (R2 takes 5 GiB in one upload, same page).

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use rusqlite::Connection;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{AppStateRef, Params, param};
use crate::envelope::{ApiError, ApiResult, ok, ok_with_info, parse_json, raw};
use crate::store::{self, docs, lookup};

pub(crate) mod settings;

/// Document kind of buckets; ids are `{jurisdiction}/{name}`.
const BUCKET: &str = lookup::R2_BUCKET;
const LOCATIONS: [&str; 6] = ["apac", "eeur", "enam", "weur", "wnam", "oc"];
const STORAGE_CLASSES: [&str; 2] = ["Standard", "InfrequentAccess"];
const JURISDICTIONS: [&str; 3] = ["default", "eu", "fedramp"];

#[derive(Deserialize)]
struct CreateBody {
    name: Option<String>,
    #[serde(rename = "locationHint")]
    location_hint: Option<String>,
    #[serde(rename = "storageClass")]
    storage_class: Option<String>,
}

/// The jurisdiction named by the `cf-r2-jurisdiction` header (`default` when absent).
fn jurisdiction(headers: &HeaderMap) -> Result<String, ApiError> {
    let j = headers
        .get("cf-r2-jurisdiction")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("default")
        .to_ascii_lowercase();
    if JURISDICTIONS.contains(&j.as_str()) {
        Ok(j)
    } else {
        Err(ApiError::bad_request(
            10040,
            format!("invalid cf-r2-jurisdiction {j:?}: expected default, eu or fedramp"),
        ))
    }
}

/// Cloudflare's bucket name rule: 3–63 of `a-z 0-9 -`, starting and ending alphanumeric.
pub(crate) fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(
        10006,
        format!("The specified bucket '{name}' does not exist."),
    )
}

/// A bucket's storage id (`{jurisdiction}/{name}`) and document; 404 code 10006 when missing.
fn require_bucket(c: &Connection, j: &str, name: &str) -> Result<(String, Value), ApiError> {
    let id = lookup::r2_bucket_id(name, Some(j));
    let doc = docs::get(c, BUCKET, &id)?.ok_or_else(|| not_found(name))?;
    Ok((id, doc))
}

/// `POST …/r2/buckets` with `{name, locationHint?, storageClass?}`; 409 code 10004 when it exists.
pub(crate) async fn create(state: AppStateRef, headers: HeaderMap, body: Bytes) -> ApiResult {
    let j = jurisdiction(&headers)?;
    let body: CreateBody = parse_json(&body, 10040, "R2 bucket create")?;
    let name = body.name.unwrap_or_default();
    if !valid_bucket_name(&name) {
        return Err(ApiError::bad_request(
            10005,
            format!(
                "The bucket name {name:?} is not valid: use 3 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit."
            ),
        ));
    }
    if let Some(l) = &body.location_hint
        && !LOCATIONS.contains(&l.to_ascii_lowercase().as_str())
    {
        return Err(ApiError::bad_request(
            10040,
            format!(
                "invalid locationHint {l:?}: expected one of {}",
                LOCATIONS.join(", ")
            ),
        ));
    }
    let class = body.storage_class.unwrap_or_else(|| "Standard".into());
    if !STORAGE_CLASSES.contains(&class.as_str()) {
        return Err(ApiError::bad_request(
            10040,
            format!("invalid storageClass {class:?}: expected Standard or InfrequentAccess"),
        ));
    }
    let created = state.clock.rfc3339();
    let doc = json!({
        "name": name,
        "creation_date": created,
        "location": body.location_hint.map(|l| l.to_ascii_lowercase()).unwrap_or_else(|| "enam".into()),
        "jurisdiction": j,
        "storage_class": class,
    });
    let doc = state
        .store
        .tx(move |c| {
            let id = format!("{j}/{name}");
            if docs::get(c, BUCKET, &id)?.is_some() {
                return Err(ApiError::conflict(
                    10004,
                    "The bucket you tried to create already exists, and you own it.",
                ));
            }
            docs::put(c, BUCKET, &id, &doc)?;
            Ok(doc)
        })
        .await?;
    ok(doc)
}

/// `GET …/r2/buckets?name_contains&start_after&per_page&cursor&direction`: `{buckets}` with
/// `result_info: {cursor, per_page}`.
pub(crate) async fn list(state: AppStateRef, headers: HeaderMap, q: Params) -> ApiResult {
    let j = jurisdiction(&headers)?;
    let per_page = match param(&q, "per_page") {
        None | Some("") => 20,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(
                    10040,
                    format!("invalid per_page {v:?}: 1 to 1000"),
                ));
            }
        },
    };
    let prefix = format!("{j}/");
    let mut buckets: Vec<Value> = state
        .store
        .tx(move |c| docs::list(c, BUCKET, &prefix))
        .await?;
    let name_of = |b: &Value| b["name"].as_str().unwrap_or_default().to_owned();
    buckets.sort_by_key(name_of);
    let descending = param(&q, "direction") == Some("desc");
    if descending {
        buckets.reverse();
    }
    if let Some(sub) = param(&q, "name_contains") {
        buckets.retain(|b| name_of(b).contains(sub));
    }
    let after = match (param(&q, "cursor"), param(&q, "start_after")) {
        (Some(c), _) if !c.is_empty() => Some(c.to_owned()),
        (_, Some(s)) if !s.is_empty() => Some(s.to_owned()),
        _ => None,
    };
    if let Some(after) = after {
        buckets.retain(|b| {
            if descending {
                name_of(b) < after
            } else {
                name_of(b) > after
            }
        });
    }
    let more = buckets.len() > per_page;
    buckets.truncate(per_page);
    let cursor = match (more, buckets.last()) {
        (true, Some(last)) => name_of(last),
        _ => String::new(),
    };
    ok_with_info(
        json!({"buckets": buckets}),
        json!({"cursor": cursor, "per_page": per_page}),
    )
}

/// `GET …/r2/buckets/{bucket_name}`; 404 code 10006 when missing.
pub(crate) async fn get(
    state: AppStateRef,
    headers: HeaderMap,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult {
    let j = jurisdiction(&headers)?;
    let doc = state
        .store
        .tx(move |c| Ok(require_bucket(c, &j, &name)?.1))
        .await?;
    ok(doc)
}

/// `PATCH …/r2/buckets/{bucket_name}` with the `cf-r2-storage-class` header.
pub(crate) async fn patch(
    state: AppStateRef,
    headers: HeaderMap,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult {
    let j = jurisdiction(&headers)?;
    let class = headers
        .get("cf-r2-storage-class")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let doc = state
        .store
        .tx(move |c| {
            let (id, mut doc) = require_bucket(c, &j, &name)?;
            if let Some(class) = class {
                if !STORAGE_CLASSES.contains(&class.as_str()) {
                    return Err(ApiError::bad_request(
                        10040,
                        format!("invalid cf-r2-storage-class {class:?}: expected Standard or InfrequentAccess"),
                    ));
                }
                doc["storage_class"] = json!(class);
                docs::put(c, BUCKET, &id, &doc)?;
            }
            Ok(doc)
        })
        .await?;
    ok(doc)
}

/// `DELETE …/r2/buckets/{bucket_name}`; 409 code 10008 while it holds objects.
pub(crate) async fn delete(
    state: AppStateRef,
    headers: HeaderMap,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult {
    let j = jurisdiction(&headers)?;
    state
        .store
        .tx(move |c| {
            let (id, _) = require_bucket(c, &j, &name)?;
            if store::r2::count(c, &id)? > 0 {
                return Err(ApiError::conflict(
                    10008,
                    "The bucket you tried to delete is not empty.",
                ));
            }
            store::r2::delete_bucket(c, &id)?;
            docs::delete(c, BUCKET, &id)
        })
        .await?;
    // `{}` rather than `null`: the spec types this result as an object.
    ok(json!({}))
}

/// Largest object the emulator accepts in one PUT (its request body limit): the emulator's own
/// bound, no public source (R2's is 5 GiB, `r2/platform/limits`).
const MAX_OBJECT_BYTES: usize = 128 * 1024 * 1024;

fn no_such_key(key: &str) -> ApiError {
    ApiError::not_found(10007, format!("The specified key '{key}' does not exist."))
}

/// `PUT …/r2/buckets/{bucket_name}/objects/{key}`: stores the raw body (wrangler's
/// `r2 object put --remote`), with its `Content-Type` as the object's content type.
pub(crate) async fn put_object(
    state: AppStateRef,
    headers: HeaderMap,
    Path((_, name, key)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let j = jurisdiction(&headers)?;
    if key.is_empty() || key.len() > 1024 {
        return Err(ApiError::bad_request(
            10040,
            format!(
                "object key of {} bytes: keys are 1 to 1024 bytes",
                key.len()
            ),
        ));
    }
    if body.len() > MAX_OBJECT_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            10040,
            format!(
                "object of {} bytes exceeds the emulator's {MAX_OBJECT_BYTES}-byte limit",
                body.len()
            ),
        ));
    }
    let mut http = Map::new();
    if let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        http.insert("contentType".into(), json!(ct));
    }
    let object = store::r2::NewObject {
        meta: store::r2::ObjectMeta {
            key,
            size: body.len() as u64,
            etag: crate::ids::md5_hex(&body),
            version: crate::ids::hex32(),
            uploaded_ms: state.clock.now_millis(),
            http_metadata: http,
            custom_metadata: Vec::new(),
            checksums: Map::new(),
            storage_class: "Standard".into(),
        },
        data: body.to_vec(),
    };
    let result = object_view(&object.meta);
    state
        .store
        .tx(move |c| {
            let (id, doc) = require_bucket(c, &j, &name)?;
            let mut object = object;
            if let Some(class) = doc["storage_class"].as_str() {
                object.meta.storage_class = class.to_owned();
            }
            store::r2::put(c, &id, &object)
        })
        .await?;
    ok(result)
}

/// An object as the v4 API shows it.
fn object_view(meta: &store::r2::ObjectMeta) -> Value {
    json!({
        "key": meta.key,
        "size": meta.size,
        "etag": meta.etag,
        "version": meta.version,
        "uploaded": crate::clock::rfc3339(meta.uploaded_ms.div_euclid(1000)),
        "http_metadata": meta.http_metadata,
        "custom_metadata": meta.custom_metadata.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<Map<String, Value>>(),
        "storage_class": meta.storage_class,
    })
}

/// `GET …/r2/buckets/{bucket_name}/objects/{key}`: the raw bytes; 404 code 10007 when missing.
pub(crate) async fn get_object(
    state: AppStateRef,
    headers: HeaderMap,
    Path((_, name, key)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let j = jurisdiction(&headers)?;
    let (meta, data) = state
        .store
        .tx(move |c| {
            let (id, _) = require_bucket(c, &j, &name)?;
            let meta = store::r2::head(c, &id, &key)?.ok_or_else(|| no_such_key(&key))?;
            let data = store::r2::read_range(c, &id, &key, 0, meta.size)?;
            Ok((meta, data))
        })
        .await?;
    let content_type = meta
        .http_metadata
        .get("contentType")
        .and_then(Value::as_str)
        .unwrap_or("application/octet-stream");
    Ok(raw(content_type, data))
}

/// `DELETE …/r2/buckets/{bucket_name}/objects/{key}` (deleting a missing key succeeds).
pub(crate) async fn delete_object(
    state: AppStateRef,
    headers: HeaderMap,
    Path((_, name, key)): Path<(String, String, String)>,
) -> ApiResult {
    let j = jurisdiction(&headers)?;
    state
        .store
        .tx(move |c| {
            let (id, _) = require_bucket(c, &j, &name)?;
            store::r2::delete(c, &id, &key)
        })
        .await?;
    ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::valid_bucket_name;

    #[test]
    fn bucket_names() {
        assert!(valid_bucket_name("my-bucket"));
        assert!(valid_bucket_name("abc"));
        assert!(!valid_bucket_name("ab"));
        assert!(!valid_bucket_name("-abc"));
        assert!(!valid_bucket_name("abc-"));
        assert!(!valid_bucket_name("ABC"));
        assert!(!valid_bucket_name(&"a".repeat(64)));
    }
}
