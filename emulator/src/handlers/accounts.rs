//! Accounts (list, get, update), memberships, the user and token verification (user and account
//! forms).
//!
//! Sources:
//! - An account update the API refuses (bad body, name, id or setting): code 1001, as third-party
//!   clients match Cloudflare's answers to a bad or too long account name (alchemy-run/distilled,
//!   `packages/cloudflare/patches/accounts/updateAccount.json`); Cloudflare documents no code.
//! - Names of at most 100 characters, the settings and their types, and the three
//!   `default_nameservers` values: the spec's `iam_account` schema
//!   (reference/cloudflare-openapi-subset.json).
//! - `GET /accounts` pages: `per_page` 5 to 50, default 20 (the spec's `/accounts` parameters);
//!   larger pages are cut to 50. `/memberships` takes the same bounds: no public source for it.
//! - The verify answer's message code 10000 "This API Token is valid and active": the real
//!   success body (reference/cloudflare-api.md §2).
//! - 7003 "No route for the URI" for a path no route serves: the spec's failure example (§1.5).

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::{AppStateRef, Params, param};
use crate::envelope::{
    ApiError, ApiResult, ok, ok_with_info, ok_with_messages, paginate, parse_json,
};
use crate::state::AppState;
use crate::store::docs;

/// Where the account's editable fields (name, settings) are kept once changed.
const ACCOUNT: &str = "account";
/// The longest account name the API accepts (the spec's `iam_account.name`, `maxLength` 100).
const MAX_NAME_CHARS: usize = 100;
/// The account settings an update may set, with their types.
const SETTINGS: [(&str, &str); 4] = [
    ("enforce_twofactor", "boolean"),
    ("abuse_contact_email", "string"),
    ("default_nameservers", "string"),
    ("use_account_custom_ns_by_default", "boolean"),
];

/// The emulated account as the API describes it, with the name and settings last set by
/// `PUT /accounts/{account_id}`.
async fn account(state: &AppState) -> Result<Value, ApiError> {
    let id = state.account_id.clone();
    let saved = state
        .store
        .tx(move |c| docs::get(c, ACCOUNT, &id))
        .await?
        .unwrap_or(Value::Null);
    let mut account = json!({
        "id": state.account_id,
        "name": "Athanor Local Account",
        "type": "standard",
        "settings": {
            "enforce_twofactor": false,
            "api_access_enabled": null,
            "abuse_contact_email": null,
            "default_nameservers": "cloudflare.standard",
            "use_account_custom_ns_by_default": false,
        },
        "created_on": "2026-01-01T00:00:00Z",
    });
    if let Some(name) = saved["name"].as_str() {
        account["name"] = json!(name);
    }
    if let Some(settings) = saved["settings"].as_object() {
        for (k, v) in settings {
            account["settings"][k] = v.clone();
        }
    }
    Ok(account)
}

fn invalid_account(message: String) -> ApiError {
    ApiError::bad_request(1001, message)
}

/// `PUT /accounts/{account_id}` with `{name, settings?}` (the `id`, when given, must be this
/// account's): renames the account and changes its settings; answers the account.
pub(crate) async fn update(
    state: AppStateRef,
    Path(_account): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body: Map<String, Value> = parse_json(&body, 1001, "account update")?;
    if let Some(id) = body.get("id")
        && id.as_str() != Some(state.account_id.as_str())
    {
        return Err(invalid_account(format!(
            "the body's id {id} is not this account's ({}); leave it out or send the same id",
            state.account_id
        )));
    }
    let name = match body.get("name").and_then(Value::as_str) {
        Some(n) if !n.trim().is_empty() && n.chars().count() <= MAX_NAME_CHARS => n.to_owned(),
        _ => {
            return Err(invalid_account(format!(
                "the account needs a name of 1 to {MAX_NAME_CHARS} characters"
            )));
        }
    };
    let mut settings = Map::new();
    match body.get("settings") {
        None | Some(Value::Null) => {}
        Some(Value::Object(given)) => {
            for (k, v) in given {
                let Some((_, kind)) = SETTINGS.iter().find(|(s, _)| s == k) else {
                    return Err(invalid_account(format!(
                        "unknown account setting {k:?}: expected one of {}",
                        SETTINGS.map(|(s, _)| s).join(", ")
                    )));
                };
                let fits = match *kind {
                    "boolean" => v.is_boolean(),
                    _ => v.is_string(),
                };
                if !fits {
                    return Err(invalid_account(format!(
                        "account setting {k:?} must be a {kind}"
                    )));
                }
                settings.insert(k.clone(), v.clone());
            }
        }
        Some(_) => {
            return Err(invalid_account("settings must be an object".to_owned()));
        }
    }
    if let Some(ns) = settings.get("default_nameservers").and_then(Value::as_str)
        && !["cloudflare.standard", "custom.account", "custom.tenant"].contains(&ns)
    {
        return Err(invalid_account(format!(
            "default_nameservers {ns:?} must be cloudflare.standard, custom.account or custom.tenant"
        )));
    }
    let id = state.account_id.clone();
    state
        .store
        .tx(move |c| {
            let mut saved = docs::get(c, ACCOUNT, &id)?.unwrap_or_else(|| json!({}));
            saved["name"] = json!(name);
            let mut merged = saved["settings"].as_object().cloned().unwrap_or_default();
            merged.extend(settings);
            saved["settings"] = Value::Object(merged);
            docs::put(c, ACCOUNT, &id, &saved)
        })
        .await?;
    ok(account(&state).await?)
}

/// `GET /accounts`: the one emulated account, page-paginated.
pub(crate) async fn list(state: AppStateRef, q: Params) -> ApiResult {
    let mut items = vec![account(&state).await?];
    if let Some(name) = param(&q, "name") {
        items.retain(|a| a["name"].as_str().is_some_and(|n| n.contains(name)));
    }
    let (page, info) = paginate(&items, param(&q, "page"), param(&q, "per_page"), 20, 50)?;
    ok_with_info(Value::Array(page), info)
}

/// `GET /accounts/{account_id}` (the auth layer already refused other ids).
pub(crate) async fn get(state: AppStateRef, Path(_account): Path<String>) -> ApiResult {
    ok(account(&state).await?)
}

/// `GET /memberships`: the user's membership of the emulated account.
pub(crate) async fn memberships(state: AppStateRef, q: Params) -> ApiResult {
    let account = account(&state).await?;
    let items = vec![json!({
        "id": crate::ids::sha256_hex(state.account_id.as_bytes())[..32].to_owned(),
        "status": "accepted",
        "account": {"id": state.account_id, "name": account["name"]},
        "roles": ["Administrator"],
    })];
    let (page, info) = paginate(&items, param(&q, "page"), param(&q, "per_page"), 20, 50)?;
    ok_with_info(Value::Array(page), info)
}

/// `GET /user`: a local user.
pub(crate) async fn user(_state: AppStateRef) -> ApiResult {
    ok(json!({
        "id": "0000000000000000000000000000000a",
        "email": "local@athanor.invalid",
        "first_name": null,
        "last_name": null,
        "suspended": false,
    }))
}

/// `GET /user/tokens/verify` and `GET /accounts/{account_id}/tokens/verify`.
pub(crate) async fn verify_token(state: AppStateRef) -> ApiResult {
    let id = crate::ids::sha256_hex(state.token.as_bytes())[..32].to_owned();
    ok_with_messages(
        json!({"id": id, "status": "active"}),
        json!([{"code": 10000, "message": "This API Token is valid and active", "type": null}]),
    )
}

/// Any path under `/client/v4` that no route serves: 404 with code 7003.
pub(crate) async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, 7003, "No route for that URI")
}
