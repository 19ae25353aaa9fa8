//! Secrets Store: stores (create from an object or an array body, list, get, delete with 409 while
//! not empty unless forced) and secrets (bulk create, list, get, patch, duplicate, delete).
//! Secret values are never returned: each is kept sealed (see `sealing`), for the Workers that
//! read it through a binding, with its SHA-256 beside it.
//!
//! The open beta's limits are enforced with Cloudflare's answers: one store per account
//! (`maximum_stores_exceeded`, 400, code 1003), 100 secrets per account
//! (`maximum_secrets_exceeded`), values of at most 65,536 bytes, non-empty names without spaces
//! and at least one known scope. Cloudflare's Secrets Store codes: 1001 for validation and
//! not-found (`store_not_found`, `secret_not_found`, `secret_name_empty`, `secret_scope_invalid`,
//! `secret_scopes_empty`, `invalid_json_body`), 1003 for limits and name conflicts
//! (`maximum_stores_exceeded`, `secret_name_already_exists`).
//!
//! Sources:
//! - One store and 100 secrets per account, values of at most 65,536 bytes:
//!   `developers.cloudflare.com/secrets-store/manage-secrets` ("Limits"; earlier versions of the
//!   page said 1024 bytes for a value, reference/cloudflare-api.md §7).
//! - 1003 `maximum_stores_exceeded`: workers-sdk issue #10052 (`maximum_stores_exceeded [code:
//!   1003]`). 1001 for `store_not_found`, `secret_not_found`, `secret_name_empty`,
//!   `secret_scope_invalid`, `secret_scopes_empty` and `invalid_json_body`, 1003 for
//!   `secret_name_already_exists`: as third-party clients match Cloudflare's answers
//!   (alchemy-run/distilled, `packages/cloudflare/patches/secrets-store/*.json`); not documented.
//! - 1004 `store_not_empty`, 409: the status and the name are the SDK's (§7, `stores.ts`); the
//!   code has no public source (the emulator's choice).
//! - The scopes: the SDK's `scopes` enum (§7). Names of at most 255 bytes: no public source
//!   (Cloudflare documents no bound). Store and secret pages: default 20, up to 1000: no public
//!   source.

use axum::body::Bytes;
use axum::extract::Path;
use rusqlite::Connection;
use serde_json::{Map, Value, json};

use super::{AppStateRef, Params, flag, param, sort_by_field};
use crate::envelope::{ApiError, ApiResult, ok, ok_with_info, paginate, parse_json};
use crate::ids;
use crate::state::AppState;
use crate::store::{docs, lookup};

const STORE: &str = lookup::SECRETS_STORE;
const SECRET: &str = lookup::SECRETS_STORE_SECRET;
/// Largest secret value, in bytes (64 KiB: the API reference and the current documentation; the
/// documentation said 1,024 bytes before September 2026).
pub(crate) const MAX_VALUE_BYTES: usize = 65_536;
/// Longest secret or store name (Cloudflare documents none; a generous bound, no public source).
pub(crate) const MAX_NAME_BYTES: usize = 255;
/// Stores an account may hold during the open beta (`secrets-store/manage-secrets`).
pub(crate) const MAX_STORES_PER_ACCOUNT: usize = 1;
/// Secrets an account may hold during the open beta, across its stores (what
/// `GET /secrets_store/quota` reports; `secrets-store/manage-secrets`).
pub(crate) const MAX_SECRETS_PER_ACCOUNT: usize = 100;
/// Cloudflare's Secrets Store code for validation failures and unknown stores or secrets: 1001
/// (third-party clients' matchers, see the module doc).
const INVALID: u32 = 1001;
/// Cloudflare's Secrets Store code for exceeded limits and taken names: 1003 (workers-sdk issue
/// #10052).
const EXCEEDED: u32 = 1003;
const SCOPES: [&str; 6] = [
    "workers",
    "ai_gateway",
    "dex",
    "access",
    "containers",
    "websearch",
];

fn store_not_found(id: &str) -> ApiError {
    ApiError::not_found(
        INVALID,
        format!(
            "store_not_found: no Secrets Store with id '{id}' in this account; list the stores to find its id"
        ),
    )
}

fn secret_not_found(id: &str) -> ApiError {
    ApiError::not_found(
        INVALID,
        format!(
            "secret_not_found: no secret with id '{id}' in this store; list its secrets to find the id"
        ),
    )
}

fn name_taken(name: &str) -> ApiError {
    ApiError::conflict(
        EXCEEDED,
        format!(
            "secret_name_already_exists: {name} (a secret of that name is already in this store; patch it, or delete it first)"
        ),
    )
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(INVALID, message)
}

/// Parses a JSON body; 400 `invalid_json_body` (code 1001) when it is not.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    parse_json(body, INVALID, what).map_err(|mut e| {
        e.message = format!("invalid_json_body: {}", e.message);
        e
    })
}

fn require_store(c: &Connection, id: &str) -> Result<Value, ApiError> {
    docs::get(c, STORE, id)?.ok_or_else(|| store_not_found(id))
}

/// The document id of secret `id` of `store`: secrets are listed by their `{store}/` prefix.
fn secret_doc_id(store: &str, id: &str) -> String {
    format!("{store}/{id}")
}

/// A secret of a store: 404 code 1001 (`store_not_found` or `secret_not_found`).
fn require_secret(c: &Connection, store: &str, id: &str) -> Result<Value, ApiError> {
    require_store(c, store)?;
    docs::get(c, SECRET, &secret_doc_id(store, id))?.ok_or_else(|| secret_not_found(id))
}

fn secrets_of(c: &Connection, store: &str) -> Result<Vec<Value>, ApiError> {
    docs::list(c, SECRET, &format!("{store}/"))
}

/// The sealing context of the values of `store`'s secrets: a sealed value opens only in its
/// store (a duplicate keeps its source's sealed value).
pub(crate) fn seal_context(store: &str) -> String {
    format!("secrets_store/{store}")
}

/// A value sealed for `store`, and its SHA-256.
fn sealed_value(state: &AppState, store: &str, value: &str) -> (String, String) {
    (
        state.sealer.seal(value, &seal_context(store)),
        ids::sha256_hex(value.as_bytes()),
    )
}

/// A secret as the API shows it: never the value.
fn secret_view(doc: &Value) -> Value {
    let mut v = doc.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("value_sha256");
        o.remove("value_sealed");
    }
    v
}

fn check_name(name: &str, what: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(invalid(format!("{what}_name_empty: a {what} needs a name")));
    }
    if name.len() > MAX_NAME_BYTES || name.chars().any(char::is_whitespace) {
        return Err(invalid(format!(
            "{what}_name_invalid: {name:?} must be 1 to {MAX_NAME_BYTES} bytes without spaces"
        )));
    }
    Ok(())
}

fn check_value(name: &str, value: &str) -> Result<(), ApiError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(invalid(format!(
            "secret_value_too_large: the value of secret '{name}' is {} bytes; the limit is {MAX_VALUE_BYTES} (the value is not shown)",
            value.len()
        )));
    }
    Ok(())
}

/// The scopes of a secret: a missing list means `["workers"]` (lenient: the API requires the
/// field); an empty list, a non-string or an unknown scope is refused.
fn check_scopes(scopes: &Value) -> Result<Vec<String>, ApiError> {
    let list = match scopes {
        Value::Null => return Ok(vec!["workers".to_owned()]),
        Value::Array(a) => a
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| invalid("secret_scope_invalid: scopes must be strings"))?,
        _ => {
            return Err(invalid(
                "secret_scope_invalid: scopes must be an array of strings",
            ));
        }
    };
    if list.is_empty() {
        return Err(invalid(format!(
            "secret_scopes_empty: give at least one scope ({})",
            SCOPES.join(", ")
        )));
    }
    if let Some(bad) = list.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(invalid(format!(
            "secret_scope_invalid: {bad:?} is not a scope; expected one of {}",
            SCOPES.join(", ")
        )));
    }
    Ok(list)
}

/// Refuses `adding` more secrets when the account would hold more than
/// [`MAX_SECRETS_PER_ACCOUNT`].
fn check_secret_quota(c: &Connection, adding: usize) -> Result<(), ApiError> {
    let used = docs::list(c, SECRET, "")?.len();
    if used + adding > MAX_SECRETS_PER_ACCOUNT {
        return Err(ApiError::bad_request(
            EXCEEDED,
            format!(
                "maximum_secrets_exceeded: max {MAX_SECRETS_PER_ACCOUNT} (the account holds {used}; delete some before adding {adding})"
            ),
        ));
    }
    Ok(())
}

fn sorted_page(
    mut items: Vec<Value>,
    q: &std::collections::HashMap<String, String>,
    fields: &[&str],
) -> ApiResult {
    let descending = param(q, "direction") == Some("desc");
    match param(q, "order") {
        Some(f) if fields.contains(&f) => sort_by_field(&mut items, f, descending),
        Some(other) => {
            return Err(invalid(format!(
                "invalid order {other:?}: expected one of {}",
                fields.join(", ")
            )));
        }
        None if descending => items.reverse(),
        None => {}
    }
    let (page, info) = paginate(&items, param(q, "page"), param(q, "per_page"), 20, 1000)?;
    ok_with_info(Value::Array(page), info)
}

/// `POST …/secrets_store/stores` with `{"name"}` (answers one store) or `[{"name"}]` (answers an
/// array).
pub(crate) async fn create_store(state: AppStateRef, body: Bytes) -> ApiResult {
    let body: Value = parse_body(&body, "Secrets Store create")?;
    let (names, as_array): (Vec<String>, bool) = match &body {
        Value::Array(a) => (
            a.iter()
                .map(|s| s["name"].as_str().unwrap_or("").to_owned())
                .collect(),
            true,
        ),
        Value::Object(_) => (vec![body["name"].as_str().unwrap_or("").to_owned()], false),
        _ => {
            return Err(invalid(
                "invalid_json_body: expected {\"name\"} or [{\"name\"}]",
            ));
        }
    };
    for n in &names {
        check_name(n, "store")?;
    }
    let now = state.clock.rfc3339();
    let account = state.account_id.clone();
    let created = state
        .store
        .tx(move |c| {
            let existing = docs::list(c, STORE, "")?;
            if existing.len() + names.len() > MAX_STORES_PER_ACCOUNT {
                let held: Vec<String> = existing
                    .iter()
                    .map(|d| format!("'{}'", d["name"].as_str().unwrap_or("")))
                    .collect();
                return Err(ApiError::bad_request(
                    EXCEEDED,
                    format!(
                        "maximum_stores_exceeded: an account may hold {MAX_STORES_PER_ACCOUNT} Secrets Store during the beta and this one holds {}; use the existing store",
                        if held.is_empty() { "none".to_owned() } else { held.join(", ") }
                    ),
                ));
            }
            let mut out = Vec::new();
            for name in names {
                let id = ids::hex32();
                let doc = json!({"id": id, "name": name, "created": now, "modified": now, "account_id": account});
                docs::put(c, STORE, &id, &doc)?;
                out.push(doc);
            }
            Ok(out)
        })
        .await?;
    if as_array {
        ok(Value::Array(created))
    } else {
        ok(created.into_iter().next().unwrap_or(Value::Null))
    }
}

/// `GET …/secrets_store/stores?page&per_page&order&direction`.
pub(crate) async fn list_stores(state: AppStateRef, q: Params) -> ApiResult {
    let items = state.store.tx(|c| docs::list(c, STORE, "")).await?;
    sorted_page(items, &q, &["name", "created", "modified"])
}

/// `GET …/secrets_store/stores/{store_id}`.
pub(crate) async fn get_store(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult {
    ok(state.store.tx(move |c| require_store(c, &id)).await?)
}

/// `DELETE …/secrets_store/stores/{store_id}?force`: 409 `store_not_empty` while it holds secrets.
pub(crate) async fn delete_store(
    state: AppStateRef,
    Path((_, id)): Path<(String, String)>,
    q: Params,
) -> ApiResult {
    let force = flag(&q, "force");
    state
        .store
        .tx(move |c| {
            require_store(c, &id)?;
            let secrets = secrets_of(c, &id)?;
            if !secrets.is_empty() && !force {
                return Err(ApiError::conflict(
                    1004,
                    format!("store_not_empty: the store holds {} secrets; delete them first, or pass ?force=true to delete them with it", secrets.len()),
                ));
            }
            for s in secrets {
                docs::delete(c, SECRET, &secret_doc_id(&id, s["id"].as_str().unwrap_or("")))?;
            }
            docs::delete(c, STORE, &id)
        })
        .await?;
    ok(Value::Null)
}

/// `POST …/stores/{store_id}/secrets` with `[{name, value, scopes, comment?}]`: an array of
/// secrets, without values.
pub(crate) async fn create_secrets(
    state: AppStateRef,
    Path((_, store)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body: Value = parse_body(&body, "Secrets Store secret create")?;
    let items = match body {
        Value::Array(a) => a,
        one @ Value::Object(_) => vec![one],
        _ => {
            return Err(invalid(
                "invalid_json_body: expected an array of {name, value, scopes}",
            ));
        }
    };
    let mut new = Vec::new();
    for item in &items {
        let name = item["name"].as_str().unwrap_or("").to_owned();
        check_name(&name, "secret")?;
        let Some(value) = item["value"].as_str() else {
            return Err(invalid(format!(
                "secret_value_invalid: secret '{name}' needs a string value"
            )));
        };
        check_value(&name, value)?;
        let scopes = check_scopes(&item["scopes"])?;
        new.push((
            name,
            sealed_value(&state, &store, value),
            scopes,
            item["comment"].clone(),
        ));
    }
    let now = state.clock.rfc3339();
    let created = state
        .store
        .tx(move |c| {
            require_store(c, &store)?;
            let existing = secrets_of(c, &store)?;
            for (i, (name, ..)) in new.iter().enumerate() {
                let taken = existing.iter().any(|d| d["name"] == name.as_str())
                    || new[..i].iter().any(|(n, ..)| n == name);
                if taken {
                    return Err(name_taken(name));
                }
            }
            check_secret_quota(c, new.len())?;
            let mut out = Vec::new();
            for (name, (sealed, hash), scopes, comment) in new {
                let id = ids::hex32();
                let mut doc = json!({
                    "id": id, "name": name, "store_id": store, "status": "active",
                    "created": now, "modified": now, "scopes": scopes, "value_sha256": hash,
                    "value_sealed": sealed,
                });
                if !comment.is_null() {
                    doc["comment"] = comment;
                }
                docs::put(c, SECRET, &secret_doc_id(&store, &id), &doc)?;
                out.push(doc);
            }
            Ok(out)
        })
        .await?;
    ok(Value::Array(created.iter().map(secret_view).collect()))
}

/// `GET …/stores/{store_id}/secrets?page&per_page&order&direction&search`.
pub(crate) async fn list_secrets(
    state: AppStateRef,
    Path((_, store)): Path<(String, String)>,
    q: Params,
) -> ApiResult {
    let mut items = state
        .store
        .tx(move |c| {
            require_store(c, &store)?;
            secrets_of(c, &store)
        })
        .await?;
    if let Some(search) = param(&q, "search").filter(|s| !s.is_empty()) {
        items.retain(|s| {
            s["name"].as_str().is_some_and(|n| n.contains(search))
                || s["comment"].as_str().is_some_and(|n| n.contains(search))
        });
    }
    let items = items.iter().map(secret_view).collect();
    sorted_page(
        items,
        &q,
        &["name", "comment", "created", "modified", "status"],
    )
}

/// `GET …/stores/{store_id}/secrets/{secret_id}`: the secret, never its value.
pub(crate) async fn get_secret(
    state: AppStateRef,
    Path((_, store, id)): Path<(String, String, String)>,
) -> ApiResult {
    let doc = state
        .store
        .tx(move |c| require_secret(c, &store, &id))
        .await?;
    ok(secret_view(&doc))
}

/// `PATCH …/secrets/{secret_id}` with `{value?, scopes?, comment?}` (the name cannot change).
pub(crate) async fn patch_secret(
    state: AppStateRef,
    Path((_, store, id)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let patch: Map<String, Value> = parse_body(&body, "Secrets Store secret patch")?;
    let now = state.clock.rfc3339();
    let sealer = state.sealer.clone();
    let doc = state
        .store
        .tx(move |c| {
            let mut doc = require_secret(c, &store, &id)?;
            if let Some(name) = patch.get("name")
                && *name != doc["name"]
            {
                return Err(invalid(
                    "secret_name_immutable: a secret's name cannot change; duplicate it under the new name",
                ));
            }
            if let Some(v) = patch.get("value") {
                let v = v
                    .as_str()
                    .ok_or_else(|| invalid("secret_value_invalid: value must be a string"))?;
                check_value(doc["name"].as_str().unwrap_or(""), v)?;
                doc["value_sha256"] = json!(ids::sha256_hex(v.as_bytes()));
                doc["value_sealed"] = json!(sealer.seal(v, &seal_context(&store)));
            }
            if let Some(s) = patch.get("scopes") {
                doc["scopes"] = json!(check_scopes(s)?);
            }
            if let Some(comment) = patch.get("comment") {
                doc["comment"] = comment.clone();
            }
            doc["modified"] = json!(now);
            docs::put(c, SECRET, &secret_doc_id(&store, &id), &doc)?;
            Ok(doc)
        })
        .await?;
    ok(secret_view(&doc))
}

/// `POST …/secrets/{secret_id}/duplicate` with `{name, scopes?, comment?}`.
pub(crate) async fn duplicate_secret(
    state: AppStateRef,
    Path((_, store, id)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let body: Value = parse_body(&body, "Secrets Store secret duplicate")?;
    let name = body["name"].as_str().unwrap_or("").to_owned();
    check_name(&name, "secret")?;
    let now = state.clock.rfc3339();
    let doc = state
        .store
        .tx(move |c| {
            let source = require_secret(c, &store, &id)?;
            if secrets_of(c, &store)?
                .iter()
                .any(|d| d["name"] == name.as_str())
            {
                return Err(name_taken(&name));
            }
            check_secret_quota(c, 1)?;
            let new_id = ids::hex32();
            let mut doc = source.clone();
            doc["id"] = json!(new_id);
            doc["name"] = json!(name);
            doc["created"] = json!(now);
            doc["modified"] = json!(now);
            if !body["scopes"].is_null() {
                doc["scopes"] = json!(check_scopes(&body["scopes"])?);
            }
            if !body["comment"].is_null() {
                doc["comment"] = body["comment"].clone();
            }
            docs::put(c, SECRET, &secret_doc_id(&store, &new_id), &doc)?;
            Ok(doc)
        })
        .await?;
    ok(secret_view(&doc))
}

/// `DELETE …/secrets/{secret_id}`.
pub(crate) async fn delete_secret(
    state: AppStateRef,
    Path((_, store, id)): Path<(String, String, String)>,
) -> ApiResult {
    state
        .store
        .tx(move |c| {
            require_store(c, &store)?;
            if !docs::delete(c, SECRET, &secret_doc_id(&store, &id))? {
                return Err(secret_not_found(&id));
            }
            Ok(())
        })
        .await?;
    ok(Value::Null)
}

/// `DELETE …/stores/{store_id}/secrets` with a JSON array of secret ids.
pub(crate) async fn delete_secrets(
    state: AppStateRef,
    Path((_, store)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let ids: Vec<String> = parse_body(&body, "Secrets Store bulk delete")?;
    state
        .store
        .tx(move |c| {
            require_store(c, &store)?;
            for id in &ids {
                if docs::get(c, SECRET, &secret_doc_id(&store, id))?.is_none() {
                    return Err(secret_not_found(id));
                }
            }
            for id in &ids {
                docs::delete(c, SECRET, &secret_doc_id(&store, id))?;
            }
            Ok(())
        })
        .await?;
    ok(Value::Null)
}

/// `GET …/secrets_store/quota`: secrets used against the account's quota.
pub(crate) async fn quota(state: AppStateRef) -> ApiResult {
    let used = state
        .store
        .tx(|c| Ok(docs::list(c, SECRET, "")?.len()))
        .await?;
    ok(json!({"secrets": {"quota": MAX_SECRETS_PER_ACCOUNT, "usage": used}}))
}
