//! An R2 bucket's settings: its CORS policy (`…/cors`: get, put, delete), its object lifecycle
//! rules (`…/lifecycle`: get, put), public access at its r2.dev domain (`…/domains/managed`: get,
//! put) and its custom domains (`…/domains/custom`: an empty list, since the emulator serves no
//! zones). Bodies are checked the way R2 checks them, then kept as the JSON GET answers with
//! (`store::r2::settings`); every route takes the `cf-r2-jurisdiction` header and answers a missing
//! bucket with 404 code 10006, as the bucket routes do.
//!
//! Sources for the shapes and rules below:
//! - Field names, required fields, the methods and the condition types: cloudflare-typescript
//!   `src/resources/r2/buckets/{cors,lifecycle}.ts` and `domains/{managed,custom}.ts` (generated
//!   from the OpenAPI spec); the spec's `r2_managed_domain_response` example shows
//!   `domain = "pub-{bucketId}.r2.dev"`.
//! - At most 100 CORS rules (S3's limit for a CORS configuration; not documented for R2);
//!   `maxAgeSeconds` up to 86400 ("the maximum value (86400)", cloudflare-docs
//!   `r2/buckets/cors.mdx`); at most 1000 lifecycle rules (`r2/buckets/object-lifecycles.mdx`,
//!   "a 1000 rule maximum").
//! - A new bucket's default lifecycle ("Buckets have a default lifecycle rule to expire multipart
//!   uploads seven days after initiation", `object-lifecycles.mdx`); its id `Default Multipart
//!   Abort Rule`, `maxAge: 604800` and `conditions: {}` as real GET answers show them in several
//!   third-party fixtures and `wrangler r2 bucket lifecycle list` outputs. The SDK types
//!   `conditions.prefix` as required; clients send `{}` and Cloudflare answers it, so it is
//!   optional here.
//! - No CORS policy: 404 code 10059 "The CORS configuration does not exist." (third-party logs of
//!   `wrangler r2 bucket cors list` and API clients' tests).
//! - A body R2 refuses: 400 code 10040, the code Cloudflare gives a CORS file in S3's format
//!   (workers-sdk PR #12456) and wrangler's tests give a malformed body.
//! - Results of PUT and DELETE on CORS and lifecycle are untyped in the SDK; `{}` here, like the
//!   bucket delete.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::HeaderMap;
use serde_json::{Map, Value, json};

use super::{jurisdiction, require_bucket};
use crate::envelope::{ApiError, ApiResult, ok, parse_json};
use crate::handlers::AppStateRef;
use crate::store::r2::settings::{self, Settings};

/// R2's code for a request body it cannot accept.
const BAD_BODY: u32 = 10040;
/// R2's code for a bucket without a CORS policy.
const NO_CORS: u32 = 10059;
const CORS_METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];
const MAX_CORS_RULES: usize = 100;
const MAX_CORS_AGE_SECONDS: u64 = 86_400;
const MAX_LIFECYCLE_RULES: usize = 1000;
/// Seven days: when R2's default rule aborts an incomplete multipart upload.
const DEFAULT_ABORT_AFTER_SECONDS: u64 = 7 * 86_400;

/// Reads (creating if needed) and optionally changes the settings of the addressed bucket in one
/// transaction; `change` sees them after the bucket was found.
async fn with_settings<T, F>(
    state: AppStateRef,
    headers: &HeaderMap,
    name: String,
    change: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut Settings) -> Result<(T, bool), ApiError> + Send + 'static,
{
    let j = jurisdiction(headers)?;
    state
        .store
        .tx(move |c| {
            let (id, _) = require_bucket(c, &j, &name)?;
            let mut s = settings::load(c, &id)?;
            let (out, changed) = change(&mut s)?;
            if changed {
                settings::save(c, &id, &s)?;
            }
            Ok(out)
        })
        .await
}

/// `GET …/r2/buckets/{bucket_name}/cors`: `{rules}`; 404 code 10059 when no policy is set.
pub(crate) async fn get_cors(
    state: AppStateRef,
    headers: HeaderMap,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult {
    let rules = with_settings(state, &headers, name, |s| {
        let rules = s.cors.clone().ok_or_else(|| {
            ApiError::not_found(NO_CORS, "The CORS configuration does not exist.")
        })?;
        Ok((rules, false))
    })
    .await?;
    ok(json!({ "rules": rules }))
}

/// `PUT …/r2/buckets/{bucket_name}/cors` with `{rules}`: replaces the policy.
pub(crate) async fn put_cors(
    state: AppStateRef,
    headers: HeaderMap,
    Path((_, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body: Value = parse_json(&body, BAD_BODY, "R2 CORS policy")?;
    let rules = cors_rules(&body)?;
    with_settings(state, &headers, name, move |s| {
        s.cors = Some(rules);
        Ok(((), true))
    })
    .await?;
    ok(json!({}))
}

/// `DELETE …/r2/buckets/{bucket_name}/cors`: removes the policy (none to remove is no error).
pub(crate) async fn delete_cors(
    state: AppStateRef,
    headers: HeaderMap,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult {
    with_settings(state, &headers, name, |s| Ok(((), s.cors.take().is_some()))).await?;
    ok(json!({}))
}

/// `GET …/r2/buckets/{bucket_name}/lifecycle`: `{rules}`, R2's default rule until a client sets
/// them.
pub(crate) async fn get_lifecycle(
    state: AppStateRef,
    headers: HeaderMap,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult {
    let rules = with_settings(state, &headers, name, |s| {
        Ok((s.lifecycle.clone().unwrap_or_else(default_lifecycle), false))
    })
    .await?;
    ok(json!({ "rules": rules }))
}

/// `PUT …/r2/buckets/{bucket_name}/lifecycle` with `{rules}`: replaces every rule, the default
/// one included.
pub(crate) async fn put_lifecycle(
    state: AppStateRef,
    headers: HeaderMap,
    Path((_, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body: Value = parse_json(&body, BAD_BODY, "R2 lifecycle rules")?;
    let rules = lifecycle_rules(&body)?;
    with_settings(state, &headers, name, move |s| {
        s.lifecycle = Some(rules);
        Ok(((), true))
    })
    .await?;
    ok(json!({}))
}

/// `GET …/r2/buckets/{bucket_name}/domains/managed`: `{bucketId, domain, enabled}`.
pub(crate) async fn get_managed_domain(
    state: AppStateRef,
    headers: HeaderMap,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult {
    let view = with_settings(state, &headers, name, |s| Ok((managed_view(s), false))).await?;
    ok(view)
}

/// `PUT …/r2/buckets/{bucket_name}/domains/managed` with `{enabled}`: turns public access at the
/// r2.dev domain on or off; answers like GET.
pub(crate) async fn put_managed_domain(
    state: AppStateRef,
    headers: HeaderMap,
    Path((_, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body: Value = parse_json(&body, BAD_BODY, "R2 managed domain")?;
    let enabled = match object(&body, "the body")?.get("enabled") {
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("enabled", "expected true or false")),
        None => return Err(invalid("enabled", "required")),
    };
    let view = with_settings(state, &headers, name, move |s| {
        let changed = s.managed_enabled != enabled;
        s.managed_enabled = enabled;
        Ok((managed_view(s), changed))
    })
    .await?;
    ok(view)
}

/// `GET …/r2/buckets/{bucket_name}/domains/custom`: `{domains: []}` (the emulator has no zones to
/// attach a domain from).
pub(crate) async fn list_custom_domains(
    state: AppStateRef,
    headers: HeaderMap,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult {
    with_settings(state, &headers, name, |_| Ok(((), false))).await?;
    ok(json!({ "domains": [] }))
}

fn managed_view(s: &Settings) -> Value {
    json!({
        "bucketId": s.bucket_id,
        "domain": format!("pub-{}.r2.dev", s.bucket_id),
        "enabled": s.managed_enabled,
    })
}

/// The lifecycle every new bucket has: abort incomplete multipart uploads after seven days.
fn default_lifecycle() -> Vec<Value> {
    vec![json!({
        "id": "Default Multipart Abort Rule",
        "enabled": true,
        "conditions": {},
        "abortMultipartUploadsTransition": {
            "condition": {"type": "Age", "maxAge": DEFAULT_ABORT_AFTER_SECONDS},
        },
    })]
}

/// 400 code 10040, naming where in the body the problem is (`rules[0].allowed.methods[1]`).
fn invalid(at: &str, problem: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(BAD_BODY, format!("{at}: {problem}"))
}

fn object<'a>(v: &'a Value, at: &str) -> Result<&'a Map<String, Value>, ApiError> {
    v.as_object()
        .ok_or_else(|| invalid(at, "expected an object"))
}

/// A field that is present and not `null`.
fn optional<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn required<'a>(obj: &'a Map<String, Value>, key: &str, at: &str) -> Result<&'a Value, ApiError> {
    optional(obj, key).ok_or_else(|| invalid(&format!("{at}.{key}"), "required"))
}

fn string(v: &Value, at: &str) -> Result<String, ApiError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| invalid(at, "expected a string"))
}

fn strings(v: &Value, at: &str) -> Result<Vec<String>, ApiError> {
    let items = v
        .as_array()
        .ok_or_else(|| invalid(at, "expected an array of strings"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, s)| string(s, &format!("{at}[{i}]")))
        .collect()
}

/// The `rules` array of a body (none is an empty list), at most `max` long.
fn rule_list(body: &Value, max: usize) -> Result<&[Value], ApiError> {
    match optional(object(body, "the body")?, "rules") {
        None => Ok(&[]),
        Some(v) => {
            let rules = v
                .as_array()
                .ok_or_else(|| invalid("rules", "expected an array"))?;
            if rules.len() > max {
                return Err(invalid(
                    "rules",
                    format!("{} rules, at most {max} are allowed", rules.len()),
                ));
            }
            Ok(rules)
        }
    }
}

/// Checks a CORS policy body and returns its rules as GET answers them.
fn cors_rules(body: &Value) -> Result<Vec<Value>, ApiError> {
    rule_list(body, MAX_CORS_RULES)?
        .iter()
        .enumerate()
        .map(|(i, r)| cors_rule(r, &format!("rules[{i}]")))
        .collect()
}

fn cors_rule(v: &Value, at: &str) -> Result<Value, ApiError> {
    let rule = object(v, at)?;
    let allowed_at = format!("{at}.allowed");
    let allowed = object(required(rule, "allowed", at)?, &allowed_at)?;
    let mut out_allowed = Map::new();
    for key in ["origins", "methods"] {
        let list_at = format!("{allowed_at}.{key}");
        let list = strings(required(allowed, key, &allowed_at)?, &list_at)?;
        if list.is_empty() {
            return Err(invalid(&list_at, "at least one is required"));
        }
        if key == "methods"
            && let Some((i, m)) = list
                .iter()
                .enumerate()
                .find(|(_, m)| !CORS_METHODS.contains(&m.as_str()))
        {
            return Err(invalid(
                &format!("{list_at}[{i}]"),
                format!("{m:?} is not one of {}", CORS_METHODS.join(", ")),
            ));
        }
        out_allowed.insert(key.into(), json!(list));
    }
    if let Some(h) = optional(allowed, "headers") {
        let headers = strings(h, &format!("{allowed_at}.headers"))?;
        out_allowed.insert("headers".into(), json!(headers));
    }
    let mut out = Map::new();
    if let Some(id) = optional(rule, "id") {
        out.insert("id".into(), json!(string(id, &format!("{at}.id"))?));
    }
    out.insert("allowed".into(), Value::Object(out_allowed));
    if let Some(h) = optional(rule, "exposeHeaders") {
        out.insert(
            "exposeHeaders".into(),
            json!(strings(h, &format!("{at}.exposeHeaders"))?),
        );
    }
    if let Some(age) = optional(rule, "maxAgeSeconds") {
        let age_at = format!("{at}.maxAgeSeconds");
        match age.as_u64() {
            Some(n) if n <= MAX_CORS_AGE_SECONDS => {
                out.insert("maxAgeSeconds".into(), json!(n));
            }
            _ => {
                return Err(invalid(
                    &age_at,
                    format!(
                        "{age} is not a whole number of seconds from 0 to {MAX_CORS_AGE_SECONDS}"
                    ),
                ));
            }
        }
    }
    Ok(Value::Object(out))
}

/// Checks a lifecycle body and returns its rules as GET answers them.
fn lifecycle_rules(body: &Value) -> Result<Vec<Value>, ApiError> {
    let mut ids = HashSet::new();
    rule_list(body, MAX_LIFECYCLE_RULES)?
        .iter()
        .enumerate()
        .map(|(i, r)| lifecycle_rule(r, &format!("rules[{i}]"), &mut ids))
        .collect()
}

fn lifecycle_rule(v: &Value, at: &str, ids: &mut HashSet<String>) -> Result<Value, ApiError> {
    let rule = object(v, at)?;
    let id_at = format!("{at}.id");
    let id = string(required(rule, "id", at)?, &id_at)?;
    if id.is_empty() {
        return Err(invalid(&id_at, "must not be empty"));
    }
    if !ids.insert(id.clone()) {
        return Err(invalid(&id_at, format!("{id:?} names another rule too")));
    }
    let enabled = required(rule, "enabled", at)?
        .as_bool()
        .ok_or_else(|| invalid(&format!("{at}.enabled"), "expected true or false"))?;
    let conditions_at = format!("{at}.conditions");
    let conditions = object(required(rule, "conditions", at)?, &conditions_at)?;
    let mut out_conditions = Map::new();
    if let Some(p) = optional(conditions, "prefix") {
        let prefix = string(p, &format!("{conditions_at}.prefix"))?;
        out_conditions.insert("prefix".into(), json!(prefix));
    }
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    out.insert("enabled".into(), json!(enabled));
    out.insert("conditions".into(), Value::Object(out_conditions));
    for (key, types) in [
        ("deleteObjectsTransition", &["Age", "Date"][..]),
        ("abortMultipartUploadsTransition", &["Age"][..]),
    ] {
        if let Some(t) = optional(rule, key) {
            let t_at = format!("{at}.{key}");
            let mut out_t = Map::new();
            if let Some(c) = optional(object(t, &t_at)?, "condition") {
                out_t.insert(
                    "condition".into(),
                    condition(c, &format!("{t_at}.condition"), types)?,
                );
            }
            out.insert(key.into(), Value::Object(out_t));
        }
    }
    if let Some(list) = optional(rule, "storageClassTransitions") {
        let list_at = format!("{at}.storageClassTransitions");
        let items = list
            .as_array()
            .ok_or_else(|| invalid(&list_at, "expected an array"))?;
        let mut out_list = Vec::with_capacity(items.len());
        for (i, t) in items.iter().enumerate() {
            let t_at = format!("{list_at}[{i}]");
            let transition = object(t, &t_at)?;
            let c = condition(
                required(transition, "condition", &t_at)?,
                &format!("{t_at}.condition"),
                &["Age", "Date"],
            )?;
            let class_at = format!("{t_at}.storageClass");
            let class = string(required(transition, "storageClass", &t_at)?, &class_at)?;
            if class != "InfrequentAccess" {
                return Err(invalid(
                    &class_at,
                    format!(
                        "{class:?}: the only storage class to transition to is InfrequentAccess"
                    ),
                ));
            }
            out_list.push(json!({"condition": c, "storageClass": class}));
        }
        out.insert("storageClassTransitions".into(), Value::Array(out_list));
    }
    Ok(Value::Object(out))
}

/// A lifecycle condition: `{type: "Age", maxAge: seconds}` or `{type: "Date", date}`, of the
/// `types` the transition allows.
fn condition(v: &Value, at: &str, types: &[&str]) -> Result<Value, ApiError> {
    let c = object(v, at)?;
    let type_at = format!("{at}.type");
    let kind = string(required(c, "type", at)?, &type_at)?;
    if !types.contains(&kind.as_str()) {
        return Err(invalid(
            &type_at,
            format!("{kind:?} is not one of {}", types.join(", ")),
        ));
    }
    if kind == "Age" {
        let age = required(c, "maxAge", at)?;
        match age.as_u64() {
            Some(n) if n > 0 => Ok(json!({"type": "Age", "maxAge": n})),
            _ => Err(invalid(
                &format!("{at}.maxAge"),
                format!("{age} is not a positive whole number of seconds"),
            )),
        }
    } else {
        let date_at = format!("{at}.date");
        let date = string(required(c, "date", at)?, &date_at)?;
        if !valid_date(&date) {
            return Err(invalid(
                &date_at,
                format!("{date:?} is not a date (2025-01-01 or 2025-01-01T00:00:00Z)"),
            ));
        }
        Ok(json!({"type": "Date", "date": date}))
    }
}

/// Whether `s` is an ISO 8601 date (`2025-01-31`) or RFC 3339 timestamp
/// (`2025-01-31T00:00:00Z`, fractions and offsets allowed).
fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, to: usize| {
        b.get(from..to)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let number = |from: usize, to: usize| -> u32 { s[from..to].parse().unwrap_or(0) };
    // YYYY-MM-DD
    let date_shape = digits(0, 4)
        && b.get(4) == Some(&b'-')
        && digits(5, 7)
        && b.get(7) == Some(&b'-')
        && digits(8, 10);
    if !date_shape {
        return false;
    }
    let (year, month, day) = (number(0, 4), number(5, 7), number(8, 10));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if !(1..=month_days).contains(&day) {
        return false;
    }
    if b.len() == 10 {
        return true;
    }
    // THH:MM:SS
    if !(matches!(b[10], b'T' | b't')
        && digits(11, 13)
        && b.get(13) == Some(&b':')
        && digits(14, 16)
        && b.get(16) == Some(&b':')
        && digits(17, 19)
        && number(11, 13) < 24
        && number(14, 16) < 60
        && number(17, 19) < 61)
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit())
                && rest[1..3].parse::<u32>().is_ok_and(|h| h < 24)
                && rest[4..6].parse::<u32>().is_ok_and(|m| m < 60)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors_error(body: Value) -> String {
        let e = cors_rules(&body).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, BAD_BODY), "{e:?}");
        e.message
    }

    fn lifecycle_error(body: Value) -> String {
        let e = lifecycle_rules(&body).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, BAD_BODY), "{e:?}");
        e.message
    }

    #[test]
    fn cors_rules_keep_what_was_given_and_drop_the_rest() {
        let rules = cors_rules(&json!({"rules": [
            {"id": "r", "allowed": {"origins": ["*"], "methods": ["GET", "HEAD"], "headers": ["x-a"]},
             "exposeHeaders": ["ETag"], "maxAgeSeconds": 3600, "unknown": 1},
            {"allowed": {"origins": ["https://a.example"], "methods": ["PUT"]}},
        ]}))
        .unwrap();
        assert_eq!(
            rules,
            vec![
                json!({"id": "r", "allowed": {"origins": ["*"], "methods": ["GET", "HEAD"], "headers": ["x-a"]},
                       "exposeHeaders": ["ETag"], "maxAgeSeconds": 3600}),
                json!({"allowed": {"origins": ["https://a.example"], "methods": ["PUT"]}}),
            ]
        );
        assert_eq!(cors_rules(&json!({})).unwrap(), Vec::<Value>::new());
    }

    #[test]
    fn cors_refusals_name_the_field() {
        let m = cors_error(
            json!({"rules": [{"allowed": {"origins": ["*"], "methods": ["GET", "PATCH"]}}]}),
        );
        assert!(
            m.starts_with("rules[0].allowed.methods[1]: \"PATCH\""),
            "{m}"
        );
        let m = cors_error(json!({"rules": [{"AllowedOrigins": ["*"]}]}));
        assert_eq!(m, "rules[0].allowed: required");
        let m = cors_error(json!({"rules": [{"allowed": {"origins": [], "methods": ["GET"]}}]}));
        assert!(m.starts_with("rules[0].allowed.origins"), "{m}");
        let m = cors_error(
            json!({"rules": [{"allowed": {"origins": ["*"], "methods": ["GET"]}, "maxAgeSeconds": 86401}]}),
        );
        assert!(m.starts_with("rules[0].maxAgeSeconds"), "{m}");
        cors_error(json!({"rules": [{"allowed": {"origins": "*", "methods": ["GET"]}}]}));
        cors_error(json!({"rules": {}}));
        cors_error(json!([]));
        let one = json!({"allowed": {"origins": ["*"], "methods": ["GET"]}});
        assert_eq!(
            cors_rules(&json!({"rules": vec![one.clone(); 100]}))
                .unwrap()
                .len(),
            100
        );
        let m = cors_error(json!({"rules": vec![one; 101]}));
        assert!(m.contains("at most 100"), "{m}");
    }

    #[test]
    fn lifecycle_rules_are_normalized() {
        let rules = lifecycle_rules(&json!({"rules": [
            {"id": "logs", "enabled": true, "conditions": {"prefix": "logs/"},
             "deleteObjectsTransition": {"condition": {"type": "Age", "maxAge": 86400}},
             "storageClassTransitions": [{"condition": {"type": "Date", "date": "2030-01-01T00:00:00Z"},
                                          "storageClass": "InfrequentAccess"}]},
            {"id": "mpu", "enabled": false, "conditions": {},
             "abortMultipartUploadsTransition": {"condition": {"type": "Age", "maxAge": 3600}}},
        ]}))
        .unwrap();
        assert_eq!(rules[0]["conditions"]["prefix"], "logs/");
        assert_eq!(
            rules[0]["storageClassTransitions"][0]["condition"]["date"],
            "2030-01-01T00:00:00Z"
        );
        assert_eq!(rules[1]["conditions"], json!({}));
        assert_eq!(
            rules[1]["abortMultipartUploadsTransition"]["condition"]["maxAge"],
            3600
        );
        assert_eq!(lifecycle_rules(&json!({"rules": []})).unwrap().len(), 0);
    }

    #[test]
    fn lifecycle_refusals_name_the_field() {
        let rule = |extra: Value| {
            let mut r = json!({"id": "a", "enabled": true, "conditions": {"prefix": ""}});
            r.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            json!({"rules": [r]})
        };
        let m = lifecycle_error(json!({"rules": [{"enabled": true, "conditions": {}}]}));
        assert_eq!(m, "rules[0].id: required");
        let m = lifecycle_error(json!({"rules": [{"id": "a", "conditions": {}}]}));
        assert_eq!(m, "rules[0].enabled: required");
        let m = lifecycle_error(json!({"rules": [{"id": "a", "enabled": true}]}));
        assert_eq!(m, "rules[0].conditions: required");
        let m = lifecycle_error(json!({"rules": [
            {"id": "a", "enabled": true, "conditions": {}},
            {"id": "a", "enabled": true, "conditions": {}},
        ]}));
        assert!(m.starts_with("rules[1].id"), "{m}");
        let m = lifecycle_error(rule(json!({
            "abortMultipartUploadsTransition": {"condition": {"type": "Date", "date": "2030-01-01"}}
        })));
        assert!(
            m.starts_with("rules[0].abortMultipartUploadsTransition.condition.type"),
            "{m}"
        );
        let m = lifecycle_error(rule(
            json!({"deleteObjectsTransition": {"condition": {"type": "Age", "maxAge": 0}}}),
        ));
        assert!(
            m.starts_with("rules[0].deleteObjectsTransition.condition.maxAge"),
            "{m}"
        );
        let m = lifecycle_error(rule(
            json!({"deleteObjectsTransition": {"condition": {"type": "Date", "date": "soon"}}}),
        ));
        assert!(
            m.starts_with("rules[0].deleteObjectsTransition.condition.date"),
            "{m}"
        );
        let m = lifecycle_error(rule(json!({"storageClassTransitions": [
            {"condition": {"type": "Age", "maxAge": 60}, "storageClass": "Glacier"}
        ]})));
        assert!(
            m.starts_with("rules[0].storageClassTransitions[0].storageClass"),
            "{m}"
        );
        let m = lifecycle_error(rule(
            json!({"storageClassTransitions": [{"storageClass": "InfrequentAccess"}]}),
        ));
        assert_eq!(m, "rules[0].storageClassTransitions[0].condition: required");
        let one = json!({"id": "x", "enabled": true, "conditions": {}});
        let many: Vec<Value> = (0..1001)
            .map(|i| {
                let mut r = one.clone();
                r["id"] = json!(format!("r{i}"));
                r
            })
            .collect();
        assert!(lifecycle_error(json!({ "rules": many })).contains("at most 1000"));
    }

    #[test]
    fn dates() {
        for ok in [
            "2030-01-01",
            "2024-02-29",
            "2030-01-01T00:00:00Z",
            "2030-01-01T12:30:59.123Z",
            "2030-01-01T00:00:00+02:00",
        ] {
            assert!(valid_date(ok), "{ok}");
        }
        for bad in [
            "",
            "soon",
            "2030-1-01",
            "2030-13-01",
            "2023-02-29",
            "2030-01-32",
            "2030-01-01T",
            "2030-01-01T24:00:00Z",
            "2030-01-01T00:00:00",
            "2030-01-01T00:00:00.Z",
            "2030-01-01T00:00:00+2:00",
        ] {
            assert!(!valid_date(bad), "{bad}");
        }
    }

    #[test]
    fn the_default_lifecycle_aborts_uploads_after_seven_days() {
        let rules = default_lifecycle();
        assert_eq!(rules[0]["id"], "Default Multipart Abort Rule");
        assert_eq!(
            rules[0]["abortMultipartUploadsTransition"]["condition"],
            json!({"type": "Age", "maxAge": 604_800})
        );
        // The default rule is itself a valid rule.
        assert_eq!(lifecycle_rules(&json!({ "rules": rules })).unwrap(), rules);
    }
}
