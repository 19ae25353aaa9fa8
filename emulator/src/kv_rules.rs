//! Workers KV's rules for values, shared by the v4 API (`handlers::kv`) and the Workers' KV binding
//! (`bindings::kv`), so that both refuse and answer alike: key, value and metadata limits,
//! expirations, list cursors and the shape of a bulk read.
//!
//! Sources:
//! - Keys of at most 512 bytes, values of at most 25 MiB, metadata of at most 1024 bytes, a TTL of
//!   at least 60 s and an absolute expiration at least 60 s ahead:
//!   `developers.cloudflare.com/kv/platform/limits` and `kv/api/write-key-value-pairs`
//!   (reference/cloudflare-api.md §3); the spec's `workers-kv_key_name` has `maxLength` 512.
//! - At most 100 keys per bulk get: §3, and miniflare's `MAX_BULK_GET_KEYS`
//!   (`packages/miniflare/src/workers/kv/constants.ts`).
//! - The statuses and messages (414 "UTF-8 encoded length of … exceeds key length limit of 512.",
//!   413 "Metadata length of … exceeds limit of 1024.", `Illegal key name`, the expiration
//!   messages): workerd's KV binding (`src/workerd/api/kv.c++`) and miniflare's
//!   `workers/kv/validator.worker.ts`.
//! - 10024 for a value or metadata too large: KV's "payload too large" (§1.5, a third-party list
//!   of KV codes).
//! - 10033 for a key too long: no public source (Cloudflare's code for it is not documented; the
//!   emulator's choice).
//! - 10001 for every other refusal (an empty or `.`/`..` key, an expiration too soon, a bad cursor,
//!   a value that is not JSON in a bulk get): KV's bad-request code (§1.5). One third-party client
//!   matches 10034 for an invalid `expiration_ttl` (alchemy-run/distilled,
//!   `packages/cloudflare/patches/kv/putNamespaceValue.json`), but no answer carrying it is quoted
//!   anywhere public and no other client sees it (the public KV answers quoted for a short TTL,
//!   `Invalid expiration_ttl of 59. Expiration TTL must be at least 60.`, come without a code);
//!   the evidence being one client, the emulator keeps 10001.
//! - The cursor's format (the last key, base64url): the emulator's own; Cloudflare's is opaque.

use axum::http::StatusCode;
use base64::Engine;
use serde_json::{Map, Value, json};

use crate::envelope::ApiError;
use crate::store::KvEntry;

/// Longest key, in UTF-8 bytes.
pub(crate) const MAX_KEY_BYTES: usize = 512;
/// Largest value: 25 MiB.
pub(crate) const MAX_VALUE_BYTES: usize = 25 * 1024 * 1024;
/// Largest metadata, serialized JSON.
pub(crate) const MAX_METADATA_BYTES: usize = 1024;
/// Shortest TTL, and how far in the future an absolute expiration must be.
pub(crate) const MIN_TTL_SECS: i64 = 60;
/// Keys per bulk get.
pub(crate) const MAX_BULK_GET_KEYS: usize = 100;

/// Checks a write against the limits; the effective absolute expiration (`expiration_ttl` wins).
pub(crate) fn check_write(
    key: &str,
    value_len: usize,
    metadata: Option<&Value>,
    expiration: Option<i64>,
    ttl: Option<i64>,
    now: i64,
) -> Result<Option<i64>, ApiError> {
    if key.is_empty() {
        return Err(ApiError::bad_request(10001, "a key name must not be empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(ApiError::new(
            StatusCode::URI_TOO_LONG,
            10033,
            format!(
                "UTF-8 encoded length of {} exceeds key length limit of {MAX_KEY_BYTES}.",
                key.len()
            ),
        ));
    }
    if key == "." || key == ".." {
        return Err(ApiError::bad_request(
            10001,
            format!("Illegal key name \"{key}\". Please use a different name."),
        ));
    }
    if value_len > MAX_VALUE_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            10024,
            format!("Value length of {value_len} exceeds limit of {MAX_VALUE_BYTES}."),
        ));
    }
    if let Some(m) = metadata {
        let len = m.to_string().len();
        if len > MAX_METADATA_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                10024,
                format!("Metadata length of {len} exceeds limit of {MAX_METADATA_BYTES}."),
            ));
        }
    }
    if let Some(ttl) = ttl {
        if ttl < MIN_TTL_SECS {
            return Err(ApiError::bad_request(
                10001,
                format!(
                    "Invalid expiration_ttl of {ttl}. Expiration TTL must be at least {MIN_TTL_SECS}."
                ),
            ));
        }
        return Ok(Some(now + ttl));
    }
    if let Some(at) = expiration {
        if at < now + MIN_TTL_SECS {
            return Err(ApiError::bad_request(
                10001,
                format!(
                    "Invalid expiration of {at}. Expiration times must be at least {MIN_TTL_SECS} seconds in the future."
                ),
            ));
        }
        return Ok(Some(at));
    }
    Ok(None)
}

/// Cursors are the last key returned, base64url-encoded: opaque to clients, stable across writes.
pub(crate) fn encode_cursor(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes())
}

pub(crate) fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::bad_request(10001, format!("invalid cursor {cursor:?}")))
}

/// The values of a bulk read, by key: `null` for a missing key; the text, or the parsed JSON when
/// `as_json`; with `with_metadata`, `{value, metadata, expiration?}`. A value that is not JSON
/// when JSON is asked for is 400 (10001).
pub(crate) fn bulk_values(
    entries: Vec<(String, Option<KvEntry>)>,
    as_json: bool,
    with_metadata: bool,
) -> Result<Map<String, Value>, ApiError> {
    let mut values = Map::new();
    for (key, entry) in entries {
        let v = match entry {
            None => Value::Null,
            Some(e) => {
                let text = String::from_utf8_lossy(&e.value).into_owned();
                let value = if as_json {
                    serde_json::from_str(&text).map_err(|err| {
                        ApiError::bad_request(
                            10001,
                            format!("the value of {key:?} is not JSON: {err}"),
                        )
                    })?
                } else {
                    Value::String(text)
                };
                if with_metadata {
                    let mut o = Map::new();
                    o.insert("value".into(), value);
                    o.insert("metadata".into(), e.metadata.unwrap_or(Value::Null));
                    if let Some(at) = e.expiration {
                        o.insert("expiration".into(), json!(at));
                    }
                    Value::Object(o)
                } else {
                    value
                }
            }
        };
        values.insert(key, v);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_limits() {
        let now = 1_000_000;
        assert!(
            check_write("k", 1, None, None, None, now)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            check_write("k", 1, None, None, Some(60), now).unwrap(),
            Some(now + 60)
        );
        assert_eq!(
            check_write("k", 1, None, Some(now + 10), Some(120), now).unwrap(),
            Some(now + 120)
        );
        assert_eq!(
            check_write("k", 1, None, None, Some(59), now)
                .unwrap_err()
                .code,
            10001
        );
        assert!(check_write("k", 1, None, Some(now + 59), None, now).is_err());
        let long = "k".repeat(513);
        assert_eq!(
            check_write(&long, 1, None, None, None, now)
                .unwrap_err()
                .status,
            StatusCode::URI_TOO_LONG
        );
        assert!(check_write(&"k".repeat(512), 1, None, None, None, now).is_ok());
        assert_eq!(
            check_write("k", MAX_VALUE_BYTES + 1, None, None, None, now)
                .unwrap_err()
                .status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let meta = json!({"a": "x".repeat(1020)});
        assert!(check_write("k", 1, Some(&meta), None, None, now).is_err());
    }

    #[test]
    fn cursors_round_trip() {
        for k in ["a", "ключ/1", ""] {
            assert_eq!(decode_cursor(&encode_cursor(k)).unwrap(), k);
        }
        assert!(decode_cursor("***").is_err());
    }
}
