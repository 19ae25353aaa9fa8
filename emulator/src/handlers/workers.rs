//! Workers scripts of the account: upload, list, download, settings, secrets, delete; the
//! workers.dev subdomains; `workers/services`; Durable Object namespaces derived from
//! migrations. The script model itself is in `scripts`; versions and deployments are in
//! `handlers::versions`.
//!
//! Sources (reference/cloudflare-api.md §1.5 and §5 give theirs):
//! - 10001 "Unsupported or unexpected Content Type", 10006 "Unparseable script body", 10021
//!   "Script content failed validation checks", 10027 "Script body was too large": the spec's
//!   `x-cfLinkErrors` for Workers (reference/cloudflare-openapi-subset.json). The emulator answers
//!   10006 for a settings, usage-model or schedules body it cannot parse, 10001 for a subdomain or
//!   secret body it cannot read, 10021 for a usage model or cron expression it refuses.
//! - 10090 `workers.api.error.service_not_found` on `workers/services/{name}`: how wrangler learns
//!   a Worker is new (reference/wrangler-requests.md; wrangler's `worker-not-found-error.ts`).
//! - 10032 for a workers.dev subdomain the emulator refuses: no public source for an invalid one.
//!   Wrangler reads 10032 (`subdomain_unavailable`) and 10031 on the availability check
//!   (`triggers/subdomain.ts`, §1.5); the emulator answers the first. Subdomains of 1 to 63
//!   characters of `a-z 0-9 -`: a DNS label's rule, no Cloudflare source.
//! - 10056, 404, a secret the Worker does not have: third-party clients match 10056 for a missing
//!   secret (alchemy-run/distilled, `packages/cloudflare/patches/workers/getScriptSecret.json`),
//!   and third-party logs show `Binding … not found [code: 10056]`.
//! - 10066, 404, an unknown Durable Object namespace: alchemy-run/distilled,
//!   `patches/durable-objects/listNamespaceObjects.json`.
//! - 100119, an unknown dispatch namespace: see `handlers::dispatch`.
//! - Usage models `standard`, `bundled`, `unbound`: the SDK's `usage_model` (§5.1); the 2024 spec
//!   has `^(bundled|unbound)$`. Five-field cron expressions: no public source for the check.
//! - Durable Object namespace pages: up to 1000, which wrangler asks for (§6); the default of 20
//!   has no public source (the 2024 spec gives this list no page parameters).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Request};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::script_address::ScriptAddress;
use super::{AppStateRef, Params, flag, is_multipart, param};
use crate::envelope::{ApiError, ApiResult, ok, ok_with_info, paginate, parse_json, raw};
use crate::scripts::model::{Schedule, Subdomain};
use crate::scripts::{self, Scope, Script, Upload, UploadContext, views};
use crate::state::AppState;
use crate::store::{docs, parts};

/// Document kind and id of the account's workers.dev subdomain.
const SUBDOMAIN: (&str, &str) = ("account_subdomain", "account");

type ScriptPath = Path<(String, String)>;

/// Checks that the dispatch namespace of `scope` exists (404 code 100119 otherwise); the account
/// always does.
fn require_scope(c: &rusqlite::Connection, scope: &Scope) -> Result<(), ApiError> {
    if let Scope::Namespace(ns) = scope {
        super::dispatch::require_namespace(c, ns)?;
    }
    Ok(())
}

/// The stored document of script `name` in `scope`; 404 when there is none.
async fn require_script(state: &AppState, scope: Scope, name: String) -> Result<Script, ApiError> {
    state
        .store
        .tx(move |c| scripts::require(c, &scope, &name))
        .await
}

/// Applies a settings patch to script `name` in `scope`, answering the updated document.
async fn patch_script(
    state: &AppState,
    scope: Scope,
    name: String,
    patch: Map<String, Value>,
) -> Result<Script, ApiError> {
    let now = state.clock.rfc3339();
    let sealer = state.sealer.clone();
    state
        .store
        .tx(move |c| scripts::patch_settings(c, &sealer, &scope, &name, &patch, &now))
        .await
}

/// `GET …/workers/scripts`: every account script.
pub(crate) async fn list(state: AppStateRef) -> ApiResult {
    let all = state
        .store
        .tx(|c| scripts::list(c, &Scope::Account))
        .await?;
    ok(Value::Array(all.iter().map(views::view).collect()))
}

/// `PUT …/scripts/{script_name}`: a multipart upload (metadata + modules), into the account or
/// a dispatch namespace.
pub(crate) async fn upload(
    state: AppStateRef,
    ScriptAddress { scope, name }: ScriptAddress,
    q: Params,
    req: Request,
) -> ApiResult {
    let doc = store_upload(&state, scope, name, &q, req, scripts::apply_upload).await?;
    ok(views::view(&doc))
}

/// What every Worker upload endpoint (a script, a version) does before `store`: reads the upload
/// (multipart: `metadata` + modules), then, in one transaction, checks that the scope exists and
/// hands the upload to `store` with its context (`?bindings_inherit=strict`, the time, the
/// sealer).
pub(super) async fn store_upload<T: Send + 'static>(
    state: &AppState,
    scope: Scope,
    name: String,
    q: &HashMap<String, String>,
    req: Request,
    store: fn(&rusqlite::Connection, &UploadContext<'_>, Upload) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let upload = scripts::read_upload(req, "metadata").await?;
    let strict = param(q, "bindings_inherit") == Some("strict");
    let now = state.clock.rfc3339();
    let sealer = state.sealer.clone();
    state
        .store
        .tx(move |c| {
            require_scope(c, &scope)?;
            let ctx = UploadContext {
                scope: &scope,
                name: &name,
                strict_inherit: strict,
                now,
                sealer: &sealer,
            };
            store(c, &ctx, upload)
        })
        .await
}

/// `GET …/workers/scripts/{script_name}`: the code, raw for one module, multipart for several.
pub(crate) async fn download(
    state: AppStateRef,
    Path((_, name)): ScriptPath,
) -> Result<Response, ApiError> {
    let all = state
        .store
        .tx(move |c| {
            scripts::require(c, &Scope::Account, &name)?;
            parts::all(c, &Scope::Account.id(&name))
        })
        .await?;
    if let [only] = all.as_slice() {
        return Ok(raw(&only.content_type, only.data.clone()));
    }
    let boundary = format!("athanor{}", crate::ids::hex32());
    let mut body = Vec::new();
    for p in &all {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{0}\"; filename=\"{0}\"\r\nContent-Type: {1}\r\n\r\n",
                p.name, p.content_type
            )
            .as_bytes(),
        );
        body.extend_from_slice(&p.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(raw(
        &format!("multipart/form-data; boundary={boundary}"),
        body,
    ))
}

/// `GET …/content/v2` (account) or `GET …/content` (dispatch namespace): the entry-point module,
/// raw.
pub(crate) async fn get_content(
    state: AppStateRef,
    ScriptAddress { scope, name }: ScriptAddress,
) -> Result<Response, ApiError> {
    let part = state
        .store
        .tx(move |c| scripts::main_part(c, &scope, &name))
        .await?;
    Ok(raw(&part.content_type, part.data))
}

/// `PUT …/content`: new code (multipart: `metadata` + modules), same settings.
pub(crate) async fn put_content(
    state: AppStateRef,
    ScriptAddress { scope, name }: ScriptAddress,
    req: Request,
) -> ApiResult {
    let upload = scripts::read_upload(req, "metadata").await?;
    let now = state.clock.rfc3339();
    let doc = state
        .store
        .tx(move |c| scripts::replace_content(c, &scope, &name, upload, &now))
        .await?;
    ok(views::view(&doc))
}

/// `GET …/settings`: bindings (secret values never shown), compatibility, tags, …
pub(crate) async fn get_settings(
    state: AppStateRef,
    ScriptAddress { scope, name }: ScriptAddress,
) -> ApiResult {
    let doc = require_script(&state, scope, name).await?;
    ok(views::settings(&doc))
}

/// `PATCH …/settings`: multipart with a `settings` JSON part (a JSON body is accepted too).
pub(crate) async fn patch_settings(
    state: AppStateRef,
    ScriptAddress { scope, name }: ScriptAddress,
    req: Request,
) -> ApiResult {
    let patch: Map<String, Value> = if is_multipart(req.headers()) {
        scripts::read_upload(req, "settings").await?.metadata
    } else {
        let body = axum::body::to_bytes(req.into_body(), scripts::MAX_SCRIPT_BYTES)
            .await
            .map_err(|_| ApiError::bad_request(10027, "settings body too large"))?;
        parse_json(&body, 10006, "Worker settings")?
    };
    let doc = patch_script(&state, scope, name, patch).await?;
    ok(views::settings(&doc))
}

/// `GET …/script-settings`: logpush, observability, tags, tail consumers.
pub(crate) async fn get_script_settings(
    state: AppStateRef,
    Path((_, name)): ScriptPath,
) -> ApiResult {
    let doc = require_script(&state, Scope::Account, name).await?;
    ok(views::script_settings(&doc))
}

/// `PATCH …/script-settings` with JSON `{logpush?, observability?, tags?, tail_consumers?}`.
pub(crate) async fn patch_script_settings(
    state: AppStateRef,
    Path((_, name)): ScriptPath,
    body: Bytes,
) -> ApiResult {
    let patch: Map<String, Value> = parse_json(&body, 10006, "Worker script settings")?;
    let allowed: Map<String, Value> = patch
        .into_iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "logpush" | "observability" | "tags" | "tail_consumers"
            )
        })
        .collect();
    let doc = patch_script(&state, Scope::Account, name, allowed).await?;
    ok(views::script_settings(&doc))
}

/// `DELETE …/scripts/{script_name}?force`, in the account or a dispatch namespace.
pub(crate) async fn delete(
    state: AppStateRef,
    ScriptAddress { scope, name }: ScriptAddress,
    q: Params,
) -> ApiResult {
    let force = flag(&q, "force");
    state
        .store
        .tx(move |c| {
            require_scope(c, &scope)?;
            scripts::delete(c, &scope, &name, force)
        })
        .await?;
    ok(Value::Null)
}

/// `GET …/workers/services/{service_name}`: 404 code 10090 when missing (how wrangler learns a
/// Worker is new); otherwise `default_environment.script` with its `migration_tag`.
pub(crate) async fn service(state: AppStateRef, Path((_, name)): ScriptPath) -> ApiResult {
    let doc = state
        .store
        .tx(move |c| {
            scripts::load(c, &Scope::Account, &name)?.ok_or_else(|| {
                ApiError::not_found(10090, "workers.api.error.service_not_found: This Worker does not exist on your account.")
            })
        })
        .await?;
    ok(json!({
        "id": doc.id,
        "default_environment": {
            "environment": "production",
            "created_on": doc.created_on,
            "modified_on": doc.modified_on,
            "script": views::view(&doc),
        },
        "created_on": doc.created_on,
        "modified_on": doc.modified_on,
    }))
}

/// The account subdomain: the stored one, or the one registered from the start.
fn account_subdomain(c: &rusqlite::Connection, account_id: &str) -> Result<String, ApiError> {
    Ok(docs::get(c, SUBDOMAIN.0, SUBDOMAIN.1)?
        .and_then(|d| d["subdomain"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("athanor-{}", &account_id[..8])))
}

/// `GET …/workers/subdomain`: `{"subdomain"}` (registered from the start).
pub(crate) async fn get_account_subdomain(state: AppStateRef) -> ApiResult {
    let account = state.account_id.clone();
    let sub = state
        .store
        .tx(move |c| account_subdomain(c, &account))
        .await?;
    ok(json!({"subdomain": sub}))
}

/// `PUT …/workers/subdomain` with `{"subdomain"}`.
pub(crate) async fn put_account_subdomain(state: AppStateRef, body: Bytes) -> ApiResult {
    let body: Value = parse_json(&body, 10001, "workers subdomain")?;
    let sub = body["subdomain"]
        .as_str()
        .or(body["name"].as_str())
        .unwrap_or("")
        .to_owned();
    let valid = !sub.is_empty()
        && sub.len() <= 63
        && sub
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !sub.starts_with('-')
        && !sub.ends_with('-');
    if !valid {
        return Err(ApiError::bad_request(
            10032,
            format!("workers.dev subdomain {sub:?} is not valid"),
        ));
    }
    let doc = json!({"subdomain": sub});
    let stored = doc.clone();
    state
        .store
        .tx(move |c| docs::put(c, SUBDOMAIN.0, SUBDOMAIN.1, &stored))
        .await?;
    ok(doc)
}

/// `GET …/workers/scripts/{script_name}/subdomain`: `{enabled, previews_enabled}`.
pub(crate) async fn get_script_subdomain(
    state: AppStateRef,
    Path((_, name)): ScriptPath,
) -> ApiResult {
    let doc = require_script(&state, Scope::Account, name).await?;
    ok(json!(doc.subdomain))
}

/// `POST …/workers/scripts/{script_name}/subdomain` with `{enabled, previews_enabled?}`.
pub(crate) async fn set_script_subdomain(
    state: AppStateRef,
    Path((_, name)): ScriptPath,
    body: Bytes,
) -> ApiResult {
    let body: Value = parse_json(&body, 10001, "script subdomain")?;
    let Some(enabled) = body["enabled"].as_bool() else {
        return Err(ApiError::bad_request(
            10001,
            "the body needs a boolean `enabled`",
        ));
    };
    let previews = body["previews_enabled"].as_bool();
    let sub = state
        .store
        .tx(move |c| set_subdomain(c, &name, enabled, previews))
        .await?;
    ok(sub)
}

/// `DELETE …/workers/scripts/{script_name}/subdomain`: disables workers.dev for the script.
pub(crate) async fn disable_script_subdomain(
    state: AppStateRef,
    Path((_, name)): ScriptPath,
) -> ApiResult {
    state
        .store
        .tx(move |c| set_subdomain(c, &name, false, Some(false)))
        .await?;
    ok(Value::Null)
}

fn set_subdomain(
    c: &rusqlite::Connection,
    name: &str,
    enabled: bool,
    previews: Option<bool>,
) -> Result<Value, ApiError> {
    let mut doc = scripts::require(c, &Scope::Account, name)?;
    doc.subdomain = Subdomain {
        enabled,
        previews_enabled: previews.unwrap_or(enabled),
    };
    scripts::save(c, &Scope::Account, &doc)?;
    Ok(json!(doc.subdomain))
}

/// `GET …/secrets`: `[{name, type}]`.
pub(crate) async fn list_secrets(
    state: AppStateRef,
    ScriptAddress { scope, name }: ScriptAddress,
) -> ApiResult {
    let doc = require_script(&state, scope, name).await?;
    ok(Value::Array(scripts::secrets(&doc)))
}

/// `PUT …/secrets` with `{name, text, type: "secret_text"}`.
pub(crate) async fn put_secret(
    state: AppStateRef,
    ScriptAddress { scope, name }: ScriptAddress,
    body: Bytes,
) -> ApiResult {
    let body: Value = parse_json(&body, 10001, "Worker secret")?;
    let sealer = state.sealer.clone();
    let now = state.clock.rfc3339();
    let out = state
        .store
        .tx(move |c| scripts::put_secret(c, &sealer, &scope, &name, &body, &now))
        .await?;
    ok(out)
}

/// `GET …/secrets/{secret_name}`: `{name, type}`, never the value.
pub(crate) async fn get_secret(
    state: AppStateRef,
    Path((_, name, secret)): Path<(String, String, String)>,
) -> ApiResult {
    let doc = require_script(&state, Scope::Account, name).await?;
    scripts::secrets(&doc)
        .into_iter()
        .find(|s| s["name"] == secret.as_str())
        .map_or_else(
            || {
                Err(ApiError::not_found(
                    10056,
                    format!("workers.api.error.binding_not_found: this Worker has no secret named '{secret}'"),
                ))
            },
            ok,
        )
}

/// `DELETE …/secrets/{secret_name}`.
pub(crate) async fn delete_secret(
    state: AppStateRef,
    Path((_, name, secret)): Path<(String, String, String)>,
) -> ApiResult {
    let now = state.clock.rfc3339();
    state
        .store
        .tx(move |c| scripts::delete_secret(c, &Scope::Account, &name, &secret, &now))
        .await?;
    ok(Value::Null)
}

/// `GET …/workers/durable_objects/namespaces`: one per class declared by the migrations of the
/// account's scripts, named `{script}_{class}`, page-paginated. User Workers in dispatch
/// namespaces are left out: their `script` would be ambiguous with an account script of the same
/// name.
pub(crate) async fn durable_object_namespaces(state: AppStateRef, q: Params) -> ApiResult {
    let all = state
        .store
        .tx(|c| scripts::list(c, &Scope::Account))
        .await?;
    let items: Vec<Value> = all
        .iter()
        .flat_map(|s| {
            s.classes.iter().map(|k| {
                json!({
                    "id": k.id,
                    "name": format!("{}_{}", s.id, k.class),
                    "script": s.id,
                    "class": k.class,
                    "use_sqlite": k.sqlite,
                })
            })
        })
        .collect();
    let (page, info) = paginate(&items, param(&q, "page"), param(&q, "per_page"), 20, 1000)?;
    ok_with_info(Value::Array(page), info)
}

/// `GET …/durable_objects/namespaces/{id}/objects`: no objects run in the emulator, so an empty
/// list (404 code 10066 for an unknown namespace).
pub(crate) async fn durable_objects(state: AppStateRef, Path((_, id)): ScriptPath) -> ApiResult {
    let all = state.store.tx(|c| scripts::list_all(c)).await?;
    let known = all.iter().any(|s| s.classes.iter().any(|k| k.id == id));
    if !known {
        return Err(ApiError::not_found(
            10066,
            format!(
                "Durable Object namespace '{id}' not found; list the namespaces to find its id"
            ),
        ));
    }
    ok_with_info(json!([]), json!({"count": 0, "cursor": "", "cursors": {}}))
}

/// `GET …/usage-model`: `{usage_model}`.
pub(crate) async fn get_usage_model(state: AppStateRef, Path((_, name)): ScriptPath) -> ApiResult {
    let doc = require_script(&state, Scope::Account, name).await?;
    ok(json!({"usage_model": doc.usage_model}))
}

/// `PUT …/usage-model` with `{usage_model: standard|bundled|unbound}`.
pub(crate) async fn put_usage_model(
    state: AppStateRef,
    Path((_, name)): ScriptPath,
    body: Bytes,
) -> ApiResult {
    let body: Value = parse_json(&body, 10006, "usage model")?;
    let model = body["usage_model"].as_str().unwrap_or("").to_owned();
    if !matches!(model.as_str(), "standard" | "bundled" | "unbound") {
        return Err(ApiError::bad_request(
            10021,
            format!("invalid usage_model {model:?}: expected standard, bundled or unbound"),
        ));
    }
    let patch: Map<String, Value> = [("usage_model".to_owned(), json!(model))]
        .into_iter()
        .collect();
    let doc = patch_script(&state, Scope::Account, name, patch).await?;
    ok(json!({"usage_model": doc.usage_model}))
}

/// `GET …/schedules`: the cron triggers, `{schedules: [{cron, created_on, modified_on}]}`.
pub(crate) async fn get_schedules(state: AppStateRef, Path((_, name)): ScriptPath) -> ApiResult {
    let doc = require_script(&state, Scope::Account, name).await?;
    ok(json!({"schedules": doc.schedules}))
}

/// `PUT …/schedules` with `[{cron}]`: replaces the cron triggers.
pub(crate) async fn put_schedules(
    state: AppStateRef,
    Path((_, name)): ScriptPath,
    body: Bytes,
) -> ApiResult {
    let body: Vec<Value> = parse_json(&body, 10006, "schedules")?;
    let now = state.clock.rfc3339();
    let mut schedules = Vec::new();
    for s in body {
        let cron = s["cron"].as_str().unwrap_or("").trim().to_owned();
        if cron.split_whitespace().count() != 5 {
            return Err(ApiError::bad_request(
                10021,
                format!("invalid cron expression {cron:?}: expected five fields"),
            ));
        }
        schedules.push(Schedule {
            cron,
            created_on: now.clone(),
            modified_on: now.clone(),
        });
    }
    let stored = schedules.clone();
    state
        .store
        .tx(move |c| {
            let mut doc = scripts::require(c, &Scope::Account, &name)?;
            doc.schedules = stored;
            scripts::save(c, &Scope::Account, &doc)
        })
        .await?;
    ok(json!({"schedules": schedules}))
}
