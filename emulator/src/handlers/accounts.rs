//! Accounts, memberships, the user and token verification (user and account forms).

use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{AppStateRef, Params, param};
use crate::envelope::{ApiError, ApiResult, ok, ok_with_info, ok_with_messages, paginate};
use crate::state::AppState;

/// The emulated account as the API describes it.
fn account(state: &AppState) -> Value {
    json!({
        "id": state.account_id,
        "name": "Athanor Local Account",
        "type": "standard",
        "settings": {
            "enforce_twofactor": false,
            "api_access_enabled": null,
            "abuse_contact_email": null,
        },
        "created_on": "2026-01-01T00:00:00Z",
    })
}

/// `GET /accounts`: the one emulated account, page-paginated.
pub(crate) async fn list(state: AppStateRef, q: Params) -> ApiResult {
    let mut items = vec![account(&state)];
    if let Some(name) = param(&q, "name") {
        items.retain(|a| a["name"].as_str().is_some_and(|n| n.contains(name)));
    }
    let (page, info) = paginate(&items, param(&q, "page"), param(&q, "per_page"), 20, 50)?;
    ok_with_info(Value::Array(page), info)
}

/// `GET /accounts/{account_id}` (the auth layer already refused other ids).
pub(crate) async fn get(state: AppStateRef, Path(_account): Path<String>) -> ApiResult {
    ok(account(&state))
}

/// `GET /memberships`: the user's membership of the emulated account.
pub(crate) async fn memberships(state: AppStateRef, q: Params) -> ApiResult {
    let items = vec![json!({
        "id": crate::ids::sha256_hex(state.account_id.as_bytes())[..32].to_owned(),
        "status": "accepted",
        "account": {"id": state.account_id, "name": "Athanor Local Account"},
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
