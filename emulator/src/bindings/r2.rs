//! The R2 binding protocol, served from `store::r2` (the objects the v4 API reads and writes).
//!
//! workerd sends reads (`head`, `get`, `list`) as `GET /` with the request as JSON in the
//! `CF-R2-Request` header, and writes (`put`, `delete`, multipart) as `PUT /` whose body starts
//! with `CF-R2-Metadata-Size` bytes of JSON, followed by the value. Reads are answered with
//! `CF-R2-Metadata-Size` bytes of object metadata then the data; writes with a JSON body. An
//! error is a status with `CF-R2-Error: {"version":0,"v4code":…,"message":…}`; 404 with code 10007
//! is "no such key" (`null` for get and head), and 412 with 10031 a failed condition.
//!
//! In requests, 64-bit numbers are JSON strings; `md5` is base64 and the SHA digests hex. Object
//! checksums are answered under the keys "0" to "4" (md5, sha1, sha256, sha384, sha512).
//!
//! Sources for the codes (the `v4code` the binding reads): `developers.cloudflare.com/r2/api/
//! error-codes` and miniflare's `R2ErrorCode` (`packages/miniflare/src/workers/r2/
//! errors.worker.ts`), with their statuses and messages:
//! - 10006 NoSuchBucket (404), 10007 NoSuchKey (404), 10011 EntityTooSmall, 10012
//!   MetadataTooLarge, 10020 InvalidObjectName, 10025 InvalidPart, 10031 PreconditionFailed (412),
//!   10037 BadDigest, 10039 InvalidRange (416), 100100 EntityTooLarge: both sources.
//! - 10022 InvalidMaxKeys ("MaxKeys params must be positive integer <= 1000."): miniflare only.
//! - 10024 NoSuchUpload: both; the status is miniflare's 400 (the error-codes page says 404).
//! - 10048: "All non-trailing parts must have the same size" on the error-codes page (miniflare's
//!   BadUpload).
//! - 10001 InternalError (both sources): the emulator answers it for an abort of an unknown
//!   upload and for a request it cannot read (a missing header, JSON, method, cursor or
//!   `partNumber`), where miniflare answers 10029 InvalidArgument for bad metadata: no public
//!   source for those choices.
//! - 10040 for a storage class R2 does not have: no binding source; it is the v4 API's code for a
//!   bad `storageClass` (reference/cloudflare-api.md §1.5).
//!
//! Sources for the limits: keys of 1 to 1024 bytes and at most 10,000 parts
//! (`developers.cloudflare.com/r2/platform/limits`); custom metadata of at most 8,192 bytes, keys
//! and values together (the limits page's "Object metadata size: 8,192 bytes"; miniflare's
//! `R2Limits.MAX_METADATA_SIZE` still stops at 2048);
//! parts but the last of at least 5 MiB (the error-codes page, 10011, and miniflare's
//! `MIN_MULTIPART_PART_SIZE`); lists of at most 1000 objects (miniflare's `MAX_LIST_KEYS`). One
//! put of at most 128 MiB is the emulator's own bound (R2 takes 5 GiB, the limits page).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::{Map, Value, json};
use sha2::Digest;

use crate::envelope::ApiError;
use crate::ids;
use crate::state::AppState;
use crate::store::lookup;
use crate::store::r2::{self as objects, Listing, NewObject, ObjectMeta, Upload};

/// Largest object one `put` (or one part) may carry: the emulator's own bound, no public source.
const MAX_OBJECT_BYTES: usize = 128 * 1024 * 1024;
/// Longest key, in bytes (`r2/platform/limits`).
const MAX_KEY_BYTES: usize = 1024;
/// Largest custom metadata, keys and values together (`r2/platform/limits`: 8,192 bytes).
const MAX_CUSTOM_METADATA_BYTES: usize = 8192;
/// Smallest part of a multipart upload, except the last (`r2/api/error-codes`, 10011).
const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// The most objects one list answer holds (miniflare's `R2Limits.MAX_LIST_KEYS`).
const MAX_LIST: usize = 1000;
/// Checksum algorithms, in the order of the keys "0" to "4" the binding reads.
const CHECKSUMS: [&str; 5] = ["md5", "sha1", "sha256", "sha384", "sha512"];

/// An R2 error: status, Cloudflare's v4 code and message.
#[derive(Debug)]
struct R2Error(StatusCode, u32, String);

impl From<ApiError> for R2Error {
    fn from(e: ApiError) -> R2Error {
        R2Error(e.status, 10001, e.message)
    }
}

fn err(status: u16, code: u32, message: impl Into<String>) -> R2Error {
    R2Error(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        code,
        message.into(),
    )
}

fn no_such_key() -> R2Error {
    err(404, 10007, "The specified key does not exist.")
}

fn no_such_upload() -> R2Error {
    err(400, 10024, "The specified multipart upload does not exist.")
}

/// Answers one R2 binding request for the bucket with storage id `bucket`.
pub(super) async fn handle(state: &AppState, bucket: &str, req: Request) -> Response {
    match serve(state, bucket.to_owned(), req).await {
        Ok(response) => response,
        Err(R2Error(status, code, message)) => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = status;
            set_error(&mut response, code, &message);
            response
        }
    }
}

fn set_error(response: &mut Response, code: u32, message: &str) {
    let header = json!({"version": 0, "v4code": code, "message": message}).to_string();
    if let Ok(v) = HeaderValue::from_bytes(header.as_bytes()) {
        response.headers_mut().insert("cf-r2-error", v);
    }
}

async fn serve(state: &AppState, bucket: String, req: Request) -> Result<Response, R2Error> {
    let (request, value) = match *req.method() {
        Method::GET => {
            let raw = req
                .headers()
                .get("cf-r2-request")
                .ok_or_else(|| err(400, 10001, "a read needs a CF-R2-Request header"))?;
            let request: Value = serde_json::from_slice(raw.as_bytes())
                .map_err(|e| err(400, 10001, format!("CF-R2-Request is not JSON: {e}")))?;
            (request, Vec::new())
        }
        Method::PUT => {
            let size: usize = req
                .headers()
                .get("cf-r2-metadata-size")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| err(400, 10001, "a write needs a CF-R2-Metadata-Size header"))?;
            let body = axum::body::to_bytes(req.into_body(), MAX_OBJECT_BYTES + size)
                .await
                .map_err(|_| {
                    err(
                        400,
                        100100,
                        format!("Your proposed upload exceeds the maximum allowed object size of {MAX_OBJECT_BYTES} bytes."),
                    )
                })?;
            if body.len() < size {
                return Err(err(
                    400,
                    10001,
                    "the body is shorter than its metadata size",
                ));
            }
            let request: Value = serde_json::from_slice(&body[..size])
                .map_err(|e| err(400, 10001, format!("the request metadata is not JSON: {e}")))?;
            (request, body[size..].to_vec())
        }
        ref m => return Err(err(400, 10001, format!("no R2 binding operation uses {m}"))),
    };
    let exists = {
        let bucket = bucket.clone();
        state
            .store
            .tx(move |c| {
                let (j, name) = bucket.split_once('/').unwrap_or(("default", &bucket));
                lookup::r2_bucket_exists(c, name, Some(j))
            })
            .await?
    };
    if !exists {
        return Err(err(404, 10006, "The specified bucket does not exist."));
    }
    let key = request["object"].as_str().unwrap_or("").to_owned();
    match request["method"].as_str().unwrap_or("") {
        "head" => head(state, bucket, key).await,
        "get" => get(state, bucket, key, &request).await,
        "put" => put(state, bucket, key, &request, value).await,
        "list" => list(state, bucket, &request).await,
        "delete" => delete(state, bucket, &request).await,
        "createMultipartUpload" => create_upload(state, bucket, key, &request).await,
        "uploadPart" => upload_part(state, bucket, key, &request, value).await,
        "completeMultipartUpload" => complete_upload(state, bucket, key, &request).await,
        "abortMultipartUpload" => abort_upload(state, bucket, &request).await,
        other => Err(err(400, 10001, format!("unknown R2 method {other:?}"))),
    }
}

/// A 64-bit number of a request: a JSON string or number.
fn u64_field(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// An object's metadata as the binding reads it.
fn object_json(meta: &ObjectMeta, include_http: bool, include_custom: bool) -> Value {
    let mut out = json!({
        "name": meta.key,
        "version": meta.version,
        "size": meta.size,
        "etag": meta.etag,
        "uploaded": meta.uploaded_ms,
        "storageClass": meta.storage_class,
    });
    if include_http {
        out["httpFields"] = Value::Object(meta.http_metadata.clone());
    }
    if include_custom {
        out["customFields"] = Value::Array(
            meta.custom_metadata
                .iter()
                .map(|(k, v)| json!({"k": k, "v": v}))
                .collect(),
        );
    }
    let sums: Map<String, Value> = CHECKSUMS
        .iter()
        .enumerate()
        .filter_map(|(i, alg)| meta.checksums.get(*alg).map(|v| (i.to_string(), v.clone())))
        .collect();
    if !sums.is_empty() {
        out["checksums"] = Value::Object(sums);
    }
    out
}

/// A read answer: `CF-R2-Metadata-Size` bytes of metadata, then `data`.
fn read_answer(status: StatusCode, metadata: &Value, data: Vec<u8>) -> Response {
    let meta = metadata.to_string().into_bytes();
    let size = meta.len();
    let mut body = meta;
    body.extend_from_slice(&data);
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("cf-r2-metadata-size", HeaderValue::from(size));
    response
}

fn json_answer(body: &Value) -> Response {
    Response::new(Body::from(body.to_string()))
}

async fn load(state: &AppState, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, R2Error> {
    let (bucket, key) = (bucket.to_owned(), key.to_owned());
    Ok(state
        .store
        .tx(move |c| objects::head(c, &bucket, &key))
        .await?)
}

async fn head(state: &AppState, bucket: String, key: String) -> Result<Response, R2Error> {
    let meta = load(state, &bucket, &key).await?.ok_or_else(no_such_key)?;
    Ok(read_answer(
        StatusCode::OK,
        &object_json(&meta, true, true),
        Vec::new(),
    ))
}

/// Whether `onlyIf` holds for the object (or for a missing one), with R2's rules: a strong etag
/// comparison for `etagMatches`, a weak one for `etagDoesNotMatch`, and the date conditions
/// waived when the matching etag condition decided.
fn conditions_hold(only_if: &Value, object: Option<&ObjectMeta>) -> bool {
    if !only_if.is_object() {
        return true;
    }
    let matches = only_if.get("etagMatches").and_then(Value::as_array);
    let none_match = only_if.get("etagDoesNotMatch").and_then(Value::as_array);
    let after = only_if.get("uploadedAfter").and_then(u64_field);
    let before = only_if.get("uploadedBefore").and_then(u64_field);
    let Some(object) = object else {
        return matches.is_none() && after.is_none();
    };
    let seconds = only_if["secondsGranularity"].as_bool().unwrap_or(false);
    let trunc = |ms: u64| if seconds { ms / 1000 * 1000 } else { ms };
    let uploaded = object.uploaded_ms.max(0) as u64;
    let wildcard = |c: &Value| c["type"] == "wildcard";
    let if_match = matches.is_none_or(|list| {
        list.iter()
            .any(|c| wildcard(c) || (c["value"] == object.etag.as_str() && c["type"] == "strong"))
    });
    let if_none_match = none_match.is_none_or(|list| {
        !list
            .iter()
            .any(|c| wildcard(c) || c["value"] == object.etag.as_str())
    });
    let modified_since =
        after.is_none_or(|a| trunc(a) < trunc(uploaded)) || (none_match.is_some() && if_none_match);
    let unmodified_since =
        before.is_none_or(|b| trunc(uploaded) < trunc(b)) || (matches.is_some() && if_match);
    if_match && if_none_match && modified_since && unmodified_since
}

fn precondition_failed() -> R2Error {
    err(
        412,
        10031,
        "At least one of the pre-conditions you specified did not hold.",
    )
}

/// The `(offset, length)` a get reads: from `range` (`offset`, `length`, `suffix`) or a
/// `rangeHeader` (`bytes=a-b`); the whole object otherwise. 416 (10039) when unsatisfiable.
fn resolve_range(request: &Value, size: u64) -> Result<(u64, u64), R2Error> {
    let unsatisfiable = || err(416, 10039, "The requested range is not satisfiable");
    if let Some(header) = request["rangeHeader"].as_str() {
        return Ok(parse_range_header(header, size).unwrap_or((0, size)));
    }
    let range = &request["range"];
    if !range.is_object() {
        return Ok((0, size));
    }
    if let Some(suffix) = range.get("suffix").and_then(u64_field) {
        if suffix == 0 {
            return Err(unsatisfiable());
        }
        let suffix = suffix.min(size);
        return Ok((size - suffix, suffix));
    }
    let offset = range.get("offset").and_then(u64_field).unwrap_or(0);
    if offset > size {
        return Err(unsatisfiable());
    }
    let length = range
        .get("length")
        .and_then(u64_field)
        .unwrap_or(size - offset);
    if length == 0 && size > 0 {
        return Err(unsatisfiable());
    }
    Ok((offset, length.min(size - offset)))
}

/// One range of an HTTP `Range` header; `None` for anything else (several ranges, bad syntax).
fn parse_range_header(header: &str, size: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            let n = n.min(size);
            Some((size - n, n))
        }
        (start, end) => {
            let start: u64 = start.parse().ok()?;
            let end: u64 = if end.is_empty() {
                size.checked_sub(1)?
            } else {
                end.parse::<u64>().ok()?.min(size.checked_sub(1)?)
            };
            (start <= end).then_some((start, end - start + 1))
        }
    }
}

async fn get(
    state: &AppState,
    bucket: String,
    key: String,
    request: &Value,
) -> Result<Response, R2Error> {
    let meta = load(state, &bucket, &key).await?.ok_or_else(no_such_key)?;
    if !conditions_hold(&request["onlyIf"], Some(&meta)) {
        let R2Error(status, code, message) = precondition_failed();
        let mut response = read_answer(status, &object_json(&meta, true, true), Vec::new());
        set_error(&mut response, code, &message);
        return Ok(response);
    }
    let (offset, length) = resolve_range(request, meta.size)?;
    let data = state
        .store
        .tx(move |c| objects::read_range(c, &bucket, &key, offset, length))
        .await?;
    let mut answer = object_json(&meta, true, true);
    answer["range"] = json!({"offset": offset, "length": length});
    Ok(read_answer(StatusCode::OK, &answer, data))
}

/// HTTP metadata as sent (`cacheExpiry` as a number of milliseconds).
fn http_fields(request: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(fields) = request["httpFields"].as_object() {
        for (k, v) in fields {
            let v = match (k.as_str(), u64_field(v)) {
                ("cacheExpiry", Some(ms)) => json!(ms),
                _ => v.clone(),
            };
            out.insert(k.clone(), v);
        }
    }
    out
}

/// Custom metadata as sent; 400 (10012) past R2's 8,192 bytes.
fn custom_fields(request: &Value) -> Result<Vec<(String, String)>, R2Error> {
    let fields: Vec<(String, String)> = request["customFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_owned();
            (s("k"), s("v"))
        })
        .collect();
    let size: usize = fields.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_CUSTOM_METADATA_BYTES {
        return Err(err(
            400,
            10012,
            format!(
                "Your metadata headers exceed the maximum allowed metadata size ({size} of {MAX_CUSTOM_METADATA_BYTES} bytes)."
            ),
        ));
    }
    Ok(fields)
}

fn check_key(key: &str) -> Result<(), R2Error> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(err(
            400,
            10020,
            format!("The specified object name is not valid: keys are 1 to {MAX_KEY_BYTES} bytes."),
        ));
    }
    Ok(())
}

fn storage_class(request: &Value) -> Result<String, R2Error> {
    match request["storageClass"].as_str() {
        None | Some("") => Ok("Standard".into()),
        Some(c @ ("Standard" | "InfrequentAccess")) => Ok(c.into()),
        Some(other) => Err(err(
            400,
            10040,
            format!("The storage class {other:?} is not valid; use Standard or InfrequentAccess."),
        )),
    }
}

/// The digests of `data` that the request asked to check, verified, with the MD5 always.
fn checksums(request: &Value, data: &[u8]) -> Result<Map<String, Value>, R2Error> {
    let md5 = ids::md5_hex(data);
    let mut out = Map::new();
    if let Some(given) = request["md5"].as_str() {
        let given = base64::engine::general_purpose::STANDARD
            .decode(given)
            .map(hex::encode)
            .unwrap_or_default();
        if given != md5 {
            return Err(mismatch("MD5"));
        }
    }
    out.insert("md5".into(), json!(md5));
    for alg in ["sha1", "sha256", "sha384", "sha512"] {
        let Some(given) = request[alg].as_str() else {
            continue;
        };
        let actual = match alg {
            "sha1" => hex::encode(sha1::Sha1::digest(data)),
            "sha256" => hex::encode(sha2::Sha256::digest(data)),
            "sha384" => hex::encode(sha2::Sha384::digest(data)),
            _ => hex::encode(sha2::Sha512::digest(data)),
        };
        if !given.eq_ignore_ascii_case(&actual) {
            return Err(mismatch(&alg.to_ascii_uppercase()));
        }
        out.insert(alg.into(), json!(actual));
    }
    Ok(out)
}

fn mismatch(alg: &str) -> R2Error {
    err(
        400,
        10037,
        format!("The {alg} checksum you specified did not match what we received."),
    )
}

async fn put(
    state: &AppState,
    bucket: String,
    key: String,
    request: &Value,
    data: Vec<u8>,
) -> Result<Response, R2Error> {
    check_key(&key)?;
    let object = NewObject {
        meta: ObjectMeta {
            key: key.clone(),
            size: data.len() as u64,
            etag: ids::md5_hex(&data),
            version: ids::hex32(),
            uploaded_ms: state.clock.now_millis(),
            http_metadata: http_fields(request),
            custom_metadata: custom_fields(request)?,
            checksums: checksums(request, &data)?,
            storage_class: storage_class(request)?,
        },
        data,
    };
    let only_if = request["onlyIf"].clone();
    let answer = object_json(&object.meta, true, true);
    let written = state
        .store
        .tx(move |c| {
            let existing = objects::head(c, &bucket, &key)?;
            if !conditions_hold(&only_if, existing.as_ref()) {
                return Ok(false);
            }
            objects::put(c, &bucket, &object)?;
            Ok(true)
        })
        .await?;
    if !written {
        return Err(precondition_failed());
    }
    Ok(json_answer(&answer))
}

async fn list(state: &AppState, bucket: String, request: &Value) -> Result<Response, R2Error> {
    let limit = match request.get("limit").and_then(Value::as_u64) {
        None => MAX_LIST,
        Some(n @ 1..=1000) => n as usize,
        Some(_) => {
            return Err(err(
                400,
                10022,
                "MaxKeys params must be positive integer <= 1000.",
            ));
        }
    };
    let include: Vec<u64> = request["include"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    let prefix = request["prefix"].as_str().unwrap_or("").to_owned();
    let delimiter = request["delimiter"].as_str().map(str::to_owned);
    let from_cursor = match request["cursor"].as_str().filter(|c| !c.is_empty()) {
        Some(c) => {
            crate::kv_rules::decode_cursor(c).map_err(|_| err(400, 10001, "invalid cursor"))?
        }
        None => String::new(),
    };
    let start_after = request["startAfter"].as_str().unwrap_or("").to_owned();
    let after = from_cursor.max(start_after);
    let Listing {
        objects: found,
        delimited_prefixes,
        continue_after,
    } = state
        .store
        .tx(move |c| objects::list(c, &bucket, &prefix, &after, delimiter.as_deref(), limit))
        .await?;
    let mut answer = json!({
        "objects": found
            .iter()
            .map(|m| object_json(m, include.contains(&0), include.contains(&1)))
            .collect::<Vec<_>>(),
        "truncated": continue_after.is_some(),
        "delimitedPrefixes": delimited_prefixes,
    });
    if let Some(last) = continue_after {
        answer["cursor"] = json!(crate::kv_rules::encode_cursor(&last));
    }
    Ok(read_answer(StatusCode::OK, &answer, Vec::new()))
}

async fn delete(state: &AppState, bucket: String, request: &Value) -> Result<Response, R2Error> {
    let keys: Vec<String> = match request["objects"].as_array() {
        Some(list) => list
            .iter()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect(),
        None => vec![request["object"].as_str().unwrap_or("").to_owned()],
    };
    state
        .store
        .tx(move |c| {
            for key in &keys {
                objects::delete(c, &bucket, key)?;
            }
            Ok(())
        })
        .await?;
    Ok(Response::new(Body::empty()))
}

async fn create_upload(
    state: &AppState,
    bucket: String,
    key: String,
    request: &Value,
) -> Result<Response, R2Error> {
    check_key(&key)?;
    let upload = Upload {
        bucket,
        key,
        http_metadata: http_fields(request),
        custom_metadata: custom_fields(request)?,
        storage_class: storage_class(request)?,
        state: "open".into(),
    };
    let id = format!("{}{}", ids::hex32(), ids::hex32());
    let upload_id = id.clone();
    state
        .store
        .tx(move |c| objects::create_upload(c, &upload_id, &upload))
        .await?;
    Ok(json_answer(&json!({"uploadId": id})))
}

/// The open upload `request.uploadId` of `key`; 400 (10024) when there is none.
async fn open_upload(
    state: &AppState,
    bucket: &str,
    key: &str,
    request: &Value,
) -> Result<(String, Upload), R2Error> {
    let id = request["uploadId"].as_str().unwrap_or("").to_owned();
    let (b, lookup_id) = (bucket.to_owned(), id.clone());
    let upload = state
        .store
        .tx(move |c| objects::upload(c, &b, &lookup_id))
        .await?
        .filter(|u| u.key == key && u.state == "open")
        .ok_or_else(no_such_upload)?;
    Ok((id, upload))
}

async fn upload_part(
    state: &AppState,
    bucket: String,
    key: String,
    request: &Value,
    data: Vec<u8>,
) -> Result<Response, R2Error> {
    let (id, _) = open_upload(state, &bucket, &key, request).await?;
    let part = request["partNumber"]
        .as_u64()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| err(400, 10001, "partNumber must be 1 to 10000"))? as u32;
    let etag = ids::md5_hex(&data);
    let answer = json!({"etag": etag});
    state
        .store
        .tx(move |c| objects::put_part(c, &id, part, &data, &etag))
        .await?;
    Ok(json_answer(&answer))
}

async fn complete_upload(
    state: &AppState,
    bucket: String,
    key: String,
    request: &Value,
) -> Result<Response, R2Error> {
    let (id, upload) = open_upload(state, &bucket, &key, request).await?;
    let mut wanted: Vec<(u32, String)> = Vec::new();
    for p in request["parts"].as_array().into_iter().flatten() {
        let number = p["part"].as_u64().unwrap_or(0) as u32;
        let etag = p["etag"].as_str().unwrap_or("").to_owned();
        if wanted.iter().any(|(n, _)| *n == number) {
            return Err(err(400, 10025, format!("Part {number} is listed twice.")));
        }
        wanted.push((number, etag));
    }
    if wanted.is_empty() {
        return Err(err(
            400,
            10025,
            "A multipart upload needs at least one part.",
        ));
    }
    wanted.sort_by_key(|(n, _)| *n);
    let now = state.clock.now_millis();
    let meta = state
        .store
        .tx(move |c| {
            let stored = objects::parts(c, &id)?;
            let mut chosen = Vec::new();
            for (number, etag) in &wanted {
                match stored.iter().find(|p| p.part_number == *number) {
                    Some(p) if p.etag == *etag => chosen.push(p.clone()),
                    _ => {
                        return Ok(Err(err(
                            400,
                            10025,
                            format!("One or more of the specified parts could not be found (part {number})."),
                        )));
                    }
                }
            }
            if let Some((last, rest)) = chosen.split_last() {
                if let Some(small) = rest.iter().find(|p| p.size < MIN_PART_BYTES) {
                    return Ok(Err(err(
                        400,
                        10011,
                        format!("Your proposed upload is smaller than the minimum allowed object size: part {} is {} bytes; every part but the last needs at least {MIN_PART_BYTES}.", small.part_number, small.size),
                    )));
                }
                let uneven = rest.windows(2).any(|w| w[0].size != w[1].size)
                    || rest.first().is_some_and(|first| last.size > first.size);
                if uneven {
                    return Ok(Err(err(
                        400,
                        10048,
                        "There was a problem with the multipart upload: every part but the last must have the same size, and the last no larger.",
                    )));
                }
            }
            let mut data = Vec::new();
            let mut digests = Vec::new();
            for p in &chosen {
                let bytes = objects::part_data(c, &id, p.part_number)?;
                digests.extend_from_slice(&md5::Md5::digest(&bytes));
                data.extend_from_slice(&bytes);
            }
            let object = NewObject {
                meta: ObjectMeta {
                    key: upload.key.clone(),
                    size: data.len() as u64,
                    etag: format!("{}-{}", ids::md5_hex(&digests), chosen.len()),
                    version: ids::hex32(),
                    uploaded_ms: now,
                    http_metadata: upload.http_metadata.clone(),
                    custom_metadata: upload.custom_metadata.clone(),
                    checksums: Map::new(),
                    storage_class: upload.storage_class.clone(),
                },
                data,
            };
            objects::put(c, &upload.bucket, &object)?;
            objects::finish_upload(c, &id, "completed")?;
            Ok(Ok(object.meta))
        })
        .await??;
    Ok(json_answer(&object_json(&meta, true, true)))
}

async fn abort_upload(
    state: &AppState,
    bucket: String,
    request: &Value,
) -> Result<Response, R2Error> {
    let id = request["uploadId"].as_str().unwrap_or("").to_owned();
    state
        .store
        .tx(move |c| {
            match objects::upload(c, &bucket, &id)? {
                Some(u) if u.state == "open" => objects::finish_upload(c, &id, "aborted")?,
                Some(_) => {}
                None => {
                    return Ok(Err(err(
                        500,
                        10001,
                        "We encountered an internal error: no such multipart upload.",
                    )));
                }
            }
            Ok(Ok(()))
        })
        .await??;
    Ok(Response::new(Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(etag: &str, uploaded_ms: i64) -> ObjectMeta {
        ObjectMeta {
            key: "k".into(),
            size: 10,
            etag: etag.into(),
            version: "v".into(),
            uploaded_ms,
            http_metadata: Map::new(),
            custom_metadata: Vec::new(),
            checksums: Map::new(),
            storage_class: "Standard".into(),
        }
    }

    #[test]
    fn conditions_follow_r2() {
        let m = meta("e1", 1_700_000_000_500);
        let strong = |e: &str| json!({"value": e, "type": "strong"});
        assert!(conditions_hold(
            &json!({"etagMatches": [strong("e1")]}),
            Some(&m)
        ));
        assert!(!conditions_hold(
            &json!({"etagMatches": [strong("e2")]}),
            Some(&m)
        ));
        assert!(!conditions_hold(
            &json!({"etagDoesNotMatch": [strong("e1")]}),
            Some(&m)
        ));
        assert!(conditions_hold(
            &json!({"etagDoesNotMatch": [{"type": "wildcard"}]}),
            None
        ));
        assert!(!conditions_hold(
            &json!({"etagMatches": [{"type": "wildcard"}]}),
            None
        ));
        assert!(!conditions_hold(
            &json!({"uploadedBefore": "1700000000000"}),
            Some(&m)
        ));
        // Seconds granularity makes 0.5 s later the same second.
        assert!(!conditions_hold(
            &json!({"uploadedAfter": "1700000000000", "secondsGranularity": true}),
            Some(&m)
        ));
        assert!(conditions_hold(
            &json!({"uploadedAfter": "1700000000000"}),
            Some(&m)
        ));
    }

    #[test]
    fn ranges_resolve_like_r2() {
        let r = |v: Value| resolve_range(&v, 10).map_err(|R2Error(s, c, _)| (s.as_u16(), c));
        assert_eq!(r(json!({})), Ok((0, 10)));
        assert_eq!(
            r(json!({"range": {"offset": "2", "length": "3"}})),
            Ok((2, 3))
        );
        assert_eq!(r(json!({"range": {"offset": "8"}})), Ok((8, 2)));
        assert_eq!(r(json!({"range": {"length": "30"}})), Ok((0, 10)));
        assert_eq!(r(json!({"range": {"suffix": "3"}})), Ok((7, 3)));
        assert_eq!(r(json!({"range": {"suffix": "30"}})), Ok((0, 10)));
        assert_eq!(r(json!({"range": {"offset": "11"}})), Err((416, 10039)));
        assert_eq!(r(json!({"rangeHeader": "bytes=2-4"})), Ok((2, 3)));
        assert_eq!(r(json!({"rangeHeader": "bytes=-4"})), Ok((6, 4)));
        assert_eq!(r(json!({"rangeHeader": "bytes=5-"})), Ok((5, 5)));
        assert_eq!(r(json!({"rangeHeader": "bytes=1-2,4-5"})), Ok((0, 10)));
    }

    #[test]
    fn checksums_are_checked_and_kept() {
        let data = b"hello world";
        let md5 = base64::engine::general_purpose::STANDARD
            .encode(hex::decode(ids::md5_hex(data)).unwrap());
        let sums = checksums(&json!({"md5": md5}), data).unwrap();
        assert_eq!(sums["md5"], "5eb63bbbe01eeed093cb22bb8f5acdc3");
        let sha = hex::encode(sha2::Sha256::digest(data));
        assert!(
            checksums(&json!({"sha256": sha}), data)
                .unwrap()
                .contains_key("sha256")
        );
        assert!(checksums(&json!({"sha256": "00"}), data).is_err());
        assert!(checksums(&json!({"md5": "AAAA"}), data).is_err());
    }

    #[test]
    fn custom_metadata_holds_up_to_8192_bytes() {
        // Keys and values count together: "owner" (5 bytes) plus the value.
        let fields = |value_len: usize| json!({"customFields": [{"k": "owner", "v": "x".repeat(value_len)}]});
        let kept = custom_fields(&fields(8192 - 5)).unwrap();
        assert_eq!(kept[0].1.len(), 8187);
        let R2Error(status, code, message) = custom_fields(&fields(8192 - 4)).unwrap_err();
        assert_eq!((status, code), (StatusCode::BAD_REQUEST, 10012));
        assert!(message.contains("8193 of 8192 bytes"), "{message}");
    }
}
