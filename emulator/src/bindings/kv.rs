//! The KV binding protocol, served from the KV value table of the v4 API.
//!
//! workerd sends `GET /{key}?urlencoded=true[&cache_ttl=N]` (get), `PUT /{key}?urlencoded=true
//! [&expiration=N][&expiration_ttl=N]` with metadata in `CF-KV-Metadata` (put), `DELETE /{key}`
//! (delete), `GET /?key_count_limit&prefix&cursor` (list) and `POST /bulk/get` (bulk get). Keys are
//! percent-encoded in the path. A refusal is a status whose reason phrase is the message, which is
//! what the Worker's error shows (`KV PUT failed: 400 Invalid expiration_ttl of 30 …`); the limits
//! and messages are the v4 API's (`kv_rules`).
//!
//! Sources: the Worker never sees a code (workerd reads the status and reason phrase only), so the
//! codes here are the v4 API's for the same refusals, sourced in `kv_rules` and
//! reference/cloudflare-api.md §1.5: 10001 a bad request, 10024 a body over its limit, and 10013
//! a namespace deleted since the deploy (answered 400 rather than 404, which the binding would
//! read as a missing key: the emulator's choice, no public source). The shortest `cacheTtl` (30 s)
//! and the most keys per list (1000) are miniflare's `KVLimits` (`MIN_CACHE_TTL`,
//! `MAX_LIST_KEYS` in `packages/miniflare/src/workers/kv/constants.ts`).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{header_bytes, percent_decode, query_params, with_reason};
use crate::envelope::ApiError;
use crate::kv_rules::{self, MAX_BULK_GET_KEYS, MAX_VALUE_BYTES};
use crate::state::AppState;
use crate::store::{KvEntry, kv, lookup};

/// The shortest `cacheTtl` Cloudflare accepts (miniflare's `KVLimits.MIN_CACHE_TTL`).
const MIN_CACHE_TTL: i64 = 30;
/// The most keys one list answer holds (miniflare's `KVLimits.MAX_LIST_KEYS`).
const MAX_LIST_KEYS: usize = 1000;

/// Answers one KV binding request for namespace `namespace`.
pub(super) async fn handle(state: &AppState, namespace: &str, req: Request) -> Response {
    match serve(state, namespace.to_owned(), req).await {
        Ok(response) => response,
        Err(e) => with_reason(e.status, &e.message),
    }
}

async fn serve(state: &AppState, ns: String, req: Request) -> Result<Response, ApiError> {
    let params = query_params(&req);
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let int = |name: &str| -> Result<Option<i64>, ApiError> {
        match param(name) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::bad_request(10001, format!("Invalid {name} of {v}."))),
        }
    };
    let path = req.uri().path().to_owned();
    let key = || {
        percent_decode(path.strip_prefix('/').unwrap_or(&path), false)
            .ok_or_else(|| ApiError::bad_request(10001, "Could not URL-decode key name"))
    };
    let method = req.method().clone();
    match (method, path.as_str()) {
        (Method::GET, "/") => {
            let limit = match int("key_count_limit")? {
                None => MAX_LIST_KEYS,
                Some(n) if (1..=MAX_LIST_KEYS as i64).contains(&n) => n as usize,
                Some(n) => {
                    return Err(ApiError::bad_request(
                        10001,
                        format!(
                            "Invalid key_count_limit of {n}. Please specify an integer between 1 and {MAX_LIST_KEYS}."
                        ),
                    ));
                }
            };
            let prefix = param("prefix").unwrap_or("").to_owned();
            let after = match param("cursor") {
                None | Some("") => String::new(),
                Some(c) => kv_rules::decode_cursor(c)?,
            };
            list(state, ns, prefix, after, limit).await
        }
        (Method::POST, "/bulk/get") => {
            // 1 KiB per key and 4 KiB more: the emulator's bound (no public source).
            let body = read_body(req, MAX_BULK_GET_KEYS * 1024 + 4096).await?;
            bulk_get(state, ns, &body).await
        }
        (Method::GET, _) => {
            if let Some(ttl) = int("cache_ttl")?
                && ttl < MIN_CACHE_TTL
            {
                return Err(ApiError::bad_request(
                    10001,
                    format!(
                        "Invalid cache_ttl of {ttl}. Cache TTL must be at least {MIN_CACHE_TTL}."
                    ),
                ));
            }
            get(state, ns, key()?).await
        }
        (Method::PUT, _) => {
            let key = key()?;
            let (expiration, ttl) = (int("expiration")?, int("expiration_ttl")?);
            let metadata = match req.headers().get("cf-kv-metadata") {
                None => None,
                Some(raw) => Some(
                    serde_json::from_slice::<Value>(raw.as_bytes())
                        .map_err(|_| ApiError::bad_request(10001, "Metadata is not valid JSON."))?,
                ),
            };
            let value = read_body(req, MAX_VALUE_BYTES).await?;
            put(state, ns, key, value, metadata, expiration, ttl).await
        }
        (Method::DELETE, _) => {
            let key = key()?;
            state
                .store
                .tx(move |c| {
                    require_namespace(c, &ns)?;
                    kv::delete(c, &ns, &key)
                })
                .await?;
            Ok(Response::new(Body::empty()))
        }
        (m, p) => Err(ApiError::bad_request(
            10001,
            format!("no KV binding operation is {m} {p}"),
        )),
    }
}

/// The body, or 413 with the value limit's message when it is larger than `limit`.
async fn read_body(req: Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                10024,
                format!("Value length exceeds limit of {limit}."),
            )
        })
}

/// A deleted namespace is an error for every operation (a 404 on get would read as a missing key).
fn require_namespace(c: &rusqlite::Connection, ns: &str) -> Result<(), ApiError> {
    if lookup::kv_namespace_exists(c, ns)? {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            10013,
            format!("KV namespace {ns} no longer exists; deploy the stack again to recreate it"),
        ))
    }
}

async fn get(state: &AppState, ns: String, key: String) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let entry = state
        .store
        .tx(move |c| {
            require_namespace(c, &ns)?;
            kv::get(c, &ns, &key, now)
        })
        .await?;
    let Some(entry) = entry else {
        let mut missing = Response::new(Body::empty());
        *missing.status_mut() = StatusCode::NOT_FOUND;
        return Ok(missing);
    };
    let mut response = Response::new(Body::from(entry.value));
    if let Some(meta) = entry.metadata
        && let Some(value) = header_bytes(meta.to_string().as_bytes())
    {
        response.headers_mut().insert("cf-kv-metadata", value);
    }
    Ok(response)
}

async fn put(
    state: &AppState,
    ns: String,
    key: String,
    value: Vec<u8>,
    metadata: Option<Value>,
    expiration: Option<i64>,
    ttl: Option<i64>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let expiration =
        kv_rules::check_write(&key, value.len(), metadata.as_ref(), expiration, ttl, now)?;
    state
        .store
        .tx(move |c| {
            require_namespace(c, &ns)?;
            kv::purge_expired(c, now)?;
            kv::put(
                c,
                &ns,
                &KvEntry {
                    key,
                    value,
                    metadata,
                    expiration,
                },
            )
        })
        .await?;
    Ok(Response::new(Body::empty()))
}

async fn list(
    state: &AppState,
    ns: String,
    prefix: String,
    after: String,
    limit: usize,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let mut entries = state
        .store
        .tx(move |c| {
            require_namespace(c, &ns)?;
            kv::list(c, &ns, &prefix, &after, limit + 1, now)
        })
        .await?;
    let more = entries.len() > limit;
    entries.truncate(limit);
    let keys: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut item = Map::new();
            item.insert("name".into(), json!(e.key));
            if let Some(at) = e.expiration {
                item.insert("expiration".into(), json!(at));
            }
            // workerd parses a string `metadata` back into a value.
            if let Some(m) = &e.metadata {
                item.insert("metadata".into(), json!(m.to_string()));
            }
            Value::Object(item)
        })
        .collect();
    let mut body = json!({"keys": keys, "list_complete": !more, "cacheStatus": null});
    if more && let Some(last) = entries.last() {
        body["cursor"] = json!(kv_rules::encode_cursor(&last.key));
    }
    Ok(json_response(&body))
}

#[derive(Deserialize)]
struct BulkGet {
    keys: Vec<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default, rename = "withMetadata")]
    with_metadata: bool,
}

async fn bulk_get(state: &AppState, ns: String, body: &[u8]) -> Result<Response, ApiError> {
    let req: BulkGet = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(10001, format!("Invalid bulk get request: {e}")))?;
    if req.keys.is_empty() {
        return Err(ApiError::bad_request(
            10001,
            "You must request a minimum of 1 key",
        ));
    }
    if req.keys.len() > MAX_BULK_GET_KEYS {
        return Err(ApiError::bad_request(
            10001,
            format!("You can request a maximum of {MAX_BULK_GET_KEYS} keys"),
        ));
    }
    let as_json = match req.kind.as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                10001,
                format!("\"{other}\" is not a valid type. Use \"json\" or \"text\""),
            ));
        }
    };
    let now = state.clock.now();
    let keys = req.keys;
    let entries = state
        .store
        .tx(move |c| {
            require_namespace(c, &ns)?;
            kv::get_many(c, &ns, &keys, now)
        })
        .await?;
    let mut values = kv_rules::bulk_values(entries, as_json, req.with_metadata).map_err(|_| {
        ApiError::bad_request(
            10001,
            "At least one of the requested keys corresponds to a non-json value",
        )
    })?;
    // The binding's entries are `{value, metadata}`: the expiration is the v4 API's alone.
    for v in values.values_mut() {
        if let Some(o) = v.as_object_mut() {
            o.remove("expiration");
        }
    }
    Ok(json_response(&Value::Object(values)))
}

fn json_response(body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}
