//! Cloudflare Queues' rules, shared by the v4 API (`handlers::queues`), the Workers' producer
//! binding (`bindings::queues`) and the delivery to consumers (`workerd::delivery`): queue names,
//! the settings of a queue and of a consumer (defaults and ranges), message limits and delays, the
//! content types a message is stored with, and the error codes Cloudflare gives for them.
//!
//! Sources: names and code 11003 from the API's own refusal (`Must match
//! ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`, quoted in workers-sdk issue #2522); settings ranges from
//! wrangler (`queues/constants.ts`: delivery delay 0..=86400 s, retention 60..=1209600 s, codes
//! 100127 and 100128 for invalid consumer and queue settings) and Cloudflare's docs (`queues/
//! configuration/batching-retries`: batch size 1..=100, default 10; batch timeout 0..=60 s,
//! default 5 s; max retries default 3, at most 100 (`platform/limits`)); message codes from
//! `queues/reference/error-codes` (10104 .. 10208, 15000); 128 KB messages and batches of 100
//! messages or 256 KB from the limits page (1 KB is 1000 bytes there).

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::envelope::ApiError;

/// Largest message body, in bytes (128 KB, 1 KB being 1000 bytes: `queues/platform/limits`).
pub(crate) const MAX_MESSAGE_BYTES: usize = 128_000;
/// Most messages in one `sendBatch` (or HTTP batch) (`queues/platform/limits`).
pub(crate) const MAX_BATCH_MESSAGES: usize = 100;
/// Largest total of the bodies of one batch, in bytes (256 KB, `queues/platform/limits`).
pub(crate) const MAX_BATCH_BYTES: usize = 256_000;
/// Longest delay of a message, a queue's delivery delay and a consumer's retry delay, in seconds
/// (wrangler's `MAX_DELIVERY_DELAY_SECS`; the error-codes page's "1 and 86400 seconds"; the
/// current limits page, `queues/platform/limits`, gives `delaySeconds` 24 hours; the 12 hours
/// was the older beta-era page, `queues/limits`).
pub(crate) const MAX_DELAY_SECS: i64 = 86_400;
/// Shortest and longest message retention period, and the default (4 days), in seconds.
pub(crate) const MIN_RETENTION_SECS: i64 = 60;
pub(crate) const MAX_RETENTION_SECS: i64 = 1_209_600;
pub(crate) const DEFAULT_RETENTION_SECS: i64 = 345_600;
/// A consumer's defaults: 10 messages per batch, 5 s to fill one, 3 retries.
pub(crate) const DEFAULT_BATCH_SIZE: i64 = 10;
pub(crate) const DEFAULT_MAX_WAIT_TIME_MS: i64 = 5_000;
pub(crate) const DEFAULT_MAX_RETRIES: i64 = 3;
/// A consumer's limits (`queues/platform/limits`): batches of 100 messages, 60 s of batch wait,
/// 100 retries, 250 concurrent consumer invocations.
pub(crate) const MAX_BATCH_SIZE: i64 = 100;
pub(crate) const MAX_WAIT_TIME_MS: i64 = 60_000;
pub(crate) const MAX_RETRIES: i64 = 100;
pub(crate) const MAX_CONCURRENCY: i64 = 250;

/// Cloudflare's codes. The control-plane codes (110xx, 10026) are not in Cloudflare's
/// documentation: their sources are third-party, as each says.
pub(crate) mod code {
    /// 11000, the queue does not exist (the control-plane API): third-party clients' error
    /// matchers (`QueueNotFound`, alchemy-run/distilled PR #273).
    pub const QUEUE_NOT_FOUND: u32 = 11_000;
    /// 11001, the consumer's Worker exports no `queue()` handler ("queue handler is missing"):
    /// alchemy-run/distilled PR #273; Alchemy retries uploads on it
    /// (reference/alchemy.md §2).
    pub const QUEUE_HANDLER_MISSING: u32 = 11_001;
    /// 11003, the queue name breaks the naming rule: the API's refusal quoted in workers-sdk issue
    /// #2522; alchemy-run/distilled (`patches/queues/updateQueue.json`).
    pub const INVALID_QUEUE_NAME: u32 = 11_003;
    /// 11004, the queue already has a consumer (`workers.api.error.consumer_exists [code:
    /// 11004]`, workers-sdk issue #5347).
    pub const CONSUMER_EXISTS: u32 = 11_004;
    /// 11005, no consumer with that id: no public source (the emulator's choice).
    pub const CONSUMER_NOT_FOUND: u32 = 11_005;
    /// 11009, the name is taken by another queue: third-party wrangler output, `Queue name '…'
    /// is already taken. Please use a different name and try again. [code: 11009]`.
    pub const QUEUE_NAME_TAKEN: u32 = 11_009;
    /// 10026, the request body is not what the endpoint takes: alchemy-run/distilled
    /// (`InvalidRequestBody` in `patches/queues/createConsumer.json`).
    pub const INVALID_REQUEST_BODY: u32 = 10_026;
    /// 10104 QueueNotFound (the message API and the binding): `queues/reference/error-codes`.
    pub const MESSAGE_QUEUE_NOT_FOUND: u32 = 10_104;
    /// 10203 MessageMetadataInvalid, a message's content type or delay is invalid (the
    /// error-codes page).
    pub const MESSAGE_METADATA_INVALID: u32 = 10_203;
    /// 10204 MessageSizeOutOfBounds (the error-codes page).
    pub const MESSAGE_SIZE_OUT_OF_BOUNDS: u32 = 10_204;
    /// 10205 BatchSizeOutOfBounds (the error-codes page).
    pub const BATCH_SIZE_OUT_OF_BOUNDS: u32 = 10_205;
    /// 10206 BatchCountOutOfBounds (the error-codes page).
    pub const BATCH_COUNT_OUT_OF_BOUNDS: u32 = 10_206;
    /// 10207 JSONRequestBodyInvalid (the error-codes page).
    pub const JSON_BODY_INVALID: u32 = 10_207;
    /// 10208 JSONRequestBodyMalformed (the error-codes page).
    pub const JSON_BODY_MALFORMED: u32 = 10_208;
    /// 100127, invalid consumer settings (wrangler reads it by number: `queues/constants.ts`).
    pub const INVALID_CONSUMER_SETTINGS: u32 = 100_127;
    /// 100128, invalid queue settings (wrangler reads it by number: `queues/constants.ts`).
    pub const INVALID_QUEUE_SETTINGS: u32 = 100_128;
}

/// Checks a queue name: 1 to 63 lowercase letters, digits and dashes, starting and ending with a
/// letter or digit.
pub(crate) fn check_name(name: &str) -> Result<(), ApiError> {
    let b = name.as_bytes();
    let inner = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| inner(c) || *c == b'-')
        && b.first().is_some_and(inner)
        && b.last().is_some_and(inner);
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            code::INVALID_QUEUE_NAME,
            format!(
                "Invalid queue name: {name:?}. Must match ^[a-z0-9]([a-z0-9-]{{0,61}}[a-z0-9])?$"
            ),
        ))
    }
}

/// The content type a message was sent with, which says how its bytes decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentType {
    /// UTF-8 text.
    Text,
    /// JSON text.
    Json,
    /// Raw bytes (an `ArrayBufferView` in the Worker).
    Bytes,
    /// V8's structured serialization (what workerd sends without a content type, before the
    /// `queues_json_messages` compatibility date).
    V8,
}

impl ContentType {
    /// Parses `text`, `json`, `bytes` or `v8` (any case), as workerd's `X-Msg-Fmt`.
    pub(crate) fn parse(s: &str) -> Option<ContentType> {
        Some(match s.to_ascii_lowercase().as_str() {
            "text" => ContentType::Text,
            "json" => ContentType::Json,
            "bytes" => ContentType::Bytes,
            "v8" => ContentType::V8,
            _ => return None,
        })
    }

    /// The name workerd and the API use.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ContentType::Text => "text",
            ContentType::Json => "json",
            ContentType::Bytes => "bytes",
            ContentType::V8 => "v8",
        }
    }
}

/// A message's content type from its optional name; `default` when absent.
pub(crate) fn content_type(
    name: Option<&str>,
    default: ContentType,
) -> Result<ContentType, ApiError> {
    match name {
        None => Ok(default),
        Some(n) => ContentType::parse(n).ok_or_else(|| {
            ApiError::bad_request(
                code::MESSAGE_METADATA_INVALID,
                format!(
                    "message content type {n:?} is invalid; it must be one of text, bytes, json or v8"
                ),
            )
        }),
    }
}

/// Checks a message delay in seconds.
pub(crate) fn check_delay(secs: i64) -> Result<i64, ApiError> {
    if (0..=MAX_DELAY_SECS).contains(&secs) {
        Ok(secs)
    } else {
        Err(ApiError::bad_request(
            code::MESSAGE_METADATA_INVALID,
            format!(
                "message delay {secs} is invalid: it must be between 0 and {MAX_DELAY_SECS} seconds"
            ),
        ))
    }
}

/// Checks one message's size.
pub(crate) fn check_message_size(len: usize) -> Result<(), ApiError> {
    if len > MAX_MESSAGE_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::MESSAGE_SIZE_OUT_OF_BOUNDS,
            format!("message length of {len} bytes exceeds limit of {MAX_MESSAGE_BYTES}"),
        ));
    }
    Ok(())
}

/// Checks a batch's message count and total size.
pub(crate) fn check_batch(count: usize, bytes: usize) -> Result<(), ApiError> {
    if count == 0 || count > MAX_BATCH_MESSAGES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::BATCH_COUNT_OUT_OF_BOUNDS,
            format!(
                "batch message count of {count} is out of bounds: send 1 to {MAX_BATCH_MESSAGES} messages"
            ),
        ));
    }
    if bytes > MAX_BATCH_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::BATCH_SIZE_OUT_OF_BOUNDS,
            format!("batch size of {bytes} bytes exceeds limit of {MAX_BATCH_BYTES}"),
        ));
    }
    Ok(())
}

/// A queue's settings, as the API shows them (every field filled in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct QueueSettings {
    /// Seconds every message waits before it can be delivered (unless it says otherwise).
    pub delivery_delay: i64,
    /// Whether delivery to the consumer is paused (messages are kept).
    pub delivery_paused: bool,
    /// Seconds a message is kept before it is deleted undelivered.
    pub message_retention_period: i64,
}

impl Default for QueueSettings {
    fn default() -> QueueSettings {
        QueueSettings {
            delivery_delay: 0,
            delivery_paused: false,
            message_retention_period: DEFAULT_RETENTION_SECS,
        }
    }
}

impl QueueSettings {
    /// Applies the fields present in `patch` (a `settings` object) over these settings; code
    /// 100128 for a value of the wrong type or out of range.
    pub(crate) fn apply(&self, patch: &Value) -> Result<QueueSettings, ApiError> {
        let bad = |m: String| ApiError::bad_request(code::INVALID_QUEUE_SETTINGS, m);
        let Some(fields) = patch.as_object() else {
            if patch.is_null() {
                return Ok(self.clone());
            }
            return Err(bad("settings must be an object".into()));
        };
        let mut out = self.clone();
        for (key, value) in fields {
            if value.is_null() {
                continue;
            }
            match key.as_str() {
                "delivery_delay" => {
                    out.delivery_delay = ranged(value, 0, MAX_DELAY_SECS)
                        .ok_or_else(|| bad(range_message(key, 0, MAX_DELAY_SECS)))?;
                }
                "message_retention_period" => {
                    out.message_retention_period =
                        ranged(value, MIN_RETENTION_SECS, MAX_RETENTION_SECS).ok_or_else(|| {
                            bad(range_message(key, MIN_RETENTION_SECS, MAX_RETENTION_SECS))
                        })?;
                }
                "delivery_paused" => {
                    out.delivery_paused = value
                        .as_bool()
                        .ok_or_else(|| bad("delivery_paused must be a boolean".into()))?;
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

/// A Worker consumer's settings, as the API shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ConsumerSettings {
    pub batch_size: i64,
    pub max_retries: i64,
    pub max_wait_time_ms: i64,
    /// `None` is the platform's maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<i64>,
    /// Seconds a retried message waits; `None` is no wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay: Option<i64>,
}

impl Default for ConsumerSettings {
    fn default() -> ConsumerSettings {
        ConsumerSettings {
            batch_size: DEFAULT_BATCH_SIZE,
            max_retries: DEFAULT_MAX_RETRIES,
            max_wait_time_ms: DEFAULT_MAX_WAIT_TIME_MS,
            max_concurrency: None,
            retry_delay: None,
        }
    }
}

impl ConsumerSettings {
    /// Reads a `settings` object (absent fields take the defaults); code 100127 for a value of the
    /// wrong type or out of range.
    pub(crate) fn parse(settings: Option<&Value>) -> Result<ConsumerSettings, ApiError> {
        let bad = |m: String| ApiError::bad_request(code::INVALID_CONSUMER_SETTINGS, m);
        let mut out = ConsumerSettings::default();
        let Some(settings) = settings.filter(|s| !s.is_null()) else {
            return Ok(out);
        };
        let Some(fields) = settings.as_object() else {
            return Err(bad("settings must be an object".into()));
        };
        let field = |key: &str, min: i64, max: i64| -> Result<Option<i64>, ApiError> {
            match fields.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => ranged(v, min, max)
                    .map(Some)
                    .ok_or_else(|| bad(range_message(key, min, max))),
            }
        };
        if let Some(v) = field("batch_size", 1, MAX_BATCH_SIZE)? {
            out.batch_size = v;
        }
        if let Some(v) = field("max_retries", 0, MAX_RETRIES)? {
            out.max_retries = v;
        }
        if let Some(v) = field("max_wait_time_ms", 0, MAX_WAIT_TIME_MS)? {
            out.max_wait_time_ms = v;
        }
        out.max_concurrency = field("max_concurrency", 1, MAX_CONCURRENCY)?;
        out.retry_delay = field("retry_delay", 0, MAX_DELAY_SECS)?;
        if fields.contains_key("visibility_timeout_ms") {
            return Err(bad(
                "visibility_timeout_ms is a setting of http_pull consumers, not of a Worker consumer".into(),
            ));
        }
        Ok(out)
    }
}

/// A whole number in `min..=max` (a float with no fraction counts).
fn ranged(v: &Value, min: i64, max: i64) -> Option<i64> {
    let n = v
        .as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))?;
    (min..=max).contains(&n).then_some(n)
}

fn range_message(key: &str, min: i64, max: i64) -> String {
    format!("{key} must be a whole number between {min} and {max}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn queue_names_follow_cloudflares_pattern() {
        for ok in ["a", "jobs", "my-queue-2", "0", &"a".repeat(63)] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert_eq!(check_name(bad).unwrap_err().code, 11_003, "{bad}");
        }
    }

    #[test]
    fn consumer_settings_take_defaults_and_refuse_out_of_range_values() {
        let s = ConsumerSettings::parse(None).unwrap();
        assert_eq!(
            (s.batch_size, s.max_retries, s.max_wait_time_ms),
            (10, 3, 5000)
        );
        let s = ConsumerSettings::parse(Some(&json!({"batch_size": 100, "max_retries": 0,
            "max_wait_time_ms": 60000, "max_concurrency": null, "retry_delay": 30})))
        .unwrap();
        assert_eq!(s.batch_size, 100);
        assert_eq!(s.retry_delay, Some(30));
        assert_eq!(s.max_concurrency, None);
        for bad in [
            json!({"batch_size": 101}),
            json!({"batch_size": 0}),
            json!({"max_retries": 101}),
            json!({"max_wait_time_ms": 60001}),
            json!({"max_concurrency": 251}),
            json!({"retry_delay": -1}),
            json!({"batch_size": "ten"}),
        ] {
            let err = ConsumerSettings::parse(Some(&bad)).unwrap_err();
            assert_eq!(err.code, 100_127, "{bad}");
        }
    }

    #[test]
    fn queue_settings_patch_only_what_is_given() {
        let base = QueueSettings::default();
        let s = base.apply(&json!({"delivery_paused": true})).unwrap();
        assert!(s.delivery_paused);
        assert_eq!(s.message_retention_period, DEFAULT_RETENTION_SECS);
        assert_eq!(
            base.apply(&json!({"message_retention_period": 59}))
                .unwrap_err()
                .code,
            100_128
        );
        assert_eq!(
            base.apply(&json!({"delivery_delay": 86_401}))
                .unwrap_err()
                .code,
            100_128
        );
    }

    #[test]
    fn message_limits() {
        assert!(check_message_size(MAX_MESSAGE_BYTES).is_ok());
        assert_eq!(
            check_message_size(MAX_MESSAGE_BYTES + 1).unwrap_err().code,
            10_204
        );
        assert_eq!(check_batch(101, 10).unwrap_err().code, 10_206);
        assert_eq!(
            check_batch(2, MAX_BATCH_BYTES + 1).unwrap_err().code,
            10_205
        );
        assert_eq!(check_delay(86_401).unwrap_err().code, 10_203);
        assert_eq!(
            content_type(Some("xml"), ContentType::V8).unwrap_err().code,
            10_203
        );
        assert_eq!(
            content_type(Some("JSON"), ContentType::V8).unwrap(),
            ContentType::Json
        );
    }
}
