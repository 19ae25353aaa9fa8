//! Workers for Platforms: dispatch namespaces (addressed by name) and the user Workers uploaded
//! into them, with `keep_bindings` keeping the previous upload's bindings of the listed types.
//! Upload, code, settings, secrets and deletion of those Workers are served by the `workers`
//! handlers, which read the namespace from the path.
//!
//! Sources:
//! - 100119 for an unknown namespace: third-party logs, `The specified dispatch namespace does not
//!   exist on this account. [code: 100119]`.
//! - 100120 for a name that is taken: no public source (the emulator's choice, next to 100119).
//! - 10021 for a namespace name the emulator refuses: the spec's Workers validation code
//!   (reference/cloudflare-api.md §1.5). The name rule is the emulator's: it reuses the Worker
//!   name rule, where the spec's `workers_dispatch_namespace_name` only says `^.+$`.
//! - 10001 for a body that cannot be read: KV's bad-request code (§1.5); no public source for
//!   these routes.
//! - At most 8 tags per script: the Workers for Platforms limits (§8).

use axum::body::Bytes;
use axum::extract::Path;
use rusqlite::Connection;
use serde_json::{Value, json};

use super::AppStateRef;
use crate::envelope::{ApiError, ApiResult, ok, parse_json};
use crate::ids;
use crate::scripts::{self, Scope, Script, views};
use crate::store::{docs, lookup};

const NAMESPACE: &str = lookup::DISPATCH_NAMESPACE;

type NsPath = Path<(String, String)>;
type NsScriptPath = Path<(String, String, String)>;

/// Cloudflare's code for an unknown dispatch namespace: 100119 (third-party logs).
const NAMESPACE_NOT_FOUND: u32 = 100_119;
/// The code for a dispatch namespace name that is taken: 100120, no public source.
const NAMESPACE_EXISTS: u32 = 100_120;

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(
        NAMESPACE_NOT_FOUND,
        format!("dispatch namespace '{name}' not found; list the namespaces, or create it first"),
    )
}

fn already_exists(name: &str) -> ApiError {
    ApiError::conflict(
        NAMESPACE_EXISTS,
        format!(
            "a dispatch namespace named '{name}' already exists; choose another name, or use it"
        ),
    )
}

/// Checks a namespace name with the Worker name rules, answering 400 (code 10021, validation)
/// when it breaks them.
fn check_namespace_name(name: &str) -> Result<(), ApiError> {
    scripts::check_name(name).map_err(|_| {
        ApiError::bad_request(
            10021,
            format!(
                "invalid dispatch namespace name {name:?}: use 1 to 63 lowercase letters, digits, '-' and '_', not starting with '-'"
            ),
        )
    })
}

/// Reads a namespace or answers 404.
pub(crate) fn require_namespace(c: &Connection, name: &str) -> Result<Value, ApiError> {
    docs::get(c, NAMESPACE, name)?.ok_or_else(|| not_found(name))
}

fn view(c: &Connection, doc: &Value) -> Result<Value, ApiError> {
    let name = doc["namespace_name"].as_str().unwrap_or("");
    let mut v = doc.clone();
    v["script_count"] = json!(scripts::count(c, &Scope::Namespace(name.to_owned()))?);
    Ok(v)
}

/// `GET …/workers/dispatch/namespaces`: every namespace (not paginated).
pub(crate) async fn list(state: AppStateRef) -> ApiResult {
    let all = state
        .store
        .tx(|c| {
            docs::list(c, NAMESPACE, "")?
                .iter()
                .map(|d| view(c, d))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    ok(Value::Array(all))
}

/// `POST …/workers/dispatch/namespaces` with `{"name"}`; 409 when the name is taken.
pub(crate) async fn create(state: AppStateRef, body: Bytes) -> ApiResult {
    let body: Value = parse_json(&body, 10001, "dispatch namespace create")?;
    let name = body["name"].as_str().unwrap_or("").to_owned();
    check_namespace_name(&name)?;
    let now = state.clock.rfc3339();
    let account = state.account_id.clone();
    let doc = state
        .store
        .tx(move |c| {
            if docs::get(c, NAMESPACE, &name)?.is_some() {
                return Err(already_exists(&name));
            }
            let doc = json!({
                "namespace_id": ids::uuid(),
                "namespace_name": name,
                "created_on": now, "created_by": account,
                "modified_on": now, "modified_by": account,
                "trusted_workers": false,
            });
            docs::put(c, NAMESPACE, &name, &doc)?;
            view(c, &doc)
        })
        .await?;
    ok(doc)
}

/// `GET …/workers/dispatch/namespaces/{dispatch_namespace}`.
pub(crate) async fn get(state: AppStateRef, Path((_, name)): NsPath) -> ApiResult {
    let doc = state
        .store
        .tx(move |c| {
            let d = require_namespace(c, &name)?;
            view(c, &d)
        })
        .await?;
    ok(doc)
}

/// `PUT …/workers/dispatch/namespaces/{dispatch_namespace}` with `{"name"}`: renames.
pub(crate) async fn rename(state: AppStateRef, Path((_, old)): NsPath, body: Bytes) -> ApiResult {
    let body: Value = parse_json(&body, 10001, "dispatch namespace rename")?;
    let new = body["name"].as_str().unwrap_or("").to_owned();
    check_namespace_name(&new)?;
    let now = state.clock.rfc3339();
    let doc = state
        .store
        .tx(move |c| {
            let mut doc = require_namespace(c, &old)?;
            if new != old {
                if docs::get(c, NAMESPACE, &new)?.is_some() {
                    return Err(already_exists(&new));
                }
                scripts::move_namespace(c, &old, &new)?;
                docs::delete(c, NAMESPACE, &old)?;
            }
            doc["namespace_name"] = json!(new);
            doc["modified_on"] = json!(now);
            docs::put(c, NAMESPACE, &new, &doc)?;
            view(c, &doc)
        })
        .await?;
    ok(doc)
}

/// `DELETE …/workers/dispatch/namespaces/{dispatch_namespace}`: the namespace and its scripts.
pub(crate) async fn delete(state: AppStateRef, Path((_, name)): NsPath) -> ApiResult {
    state
        .store
        .tx(move |c| {
            require_namespace(c, &name)?;
            let scope = Scope::Namespace(name.clone());
            for s in scripts::list(c, &scope)? {
                scripts::delete(c, &scope, &s.id, true)?;
            }
            docs::delete(c, NAMESPACE, &name)
        })
        .await?;
    ok(Value::Null)
}

fn require_script(c: &Connection, ns: &str, name: &str) -> Result<Script, ApiError> {
    require_namespace(c, ns)?;
    scripts::require(c, &Scope::Namespace(ns.to_owned()), name)
}

/// `GET …/dispatch/namespaces/{ns}/scripts/{script_name}`: `{created_on, modified_on,
/// dispatch_namespace, script: {…, migration_tag}}`.
pub(crate) async fn get_script(state: AppStateRef, Path((_, ns, name)): NsScriptPath) -> ApiResult {
    let doc = state
        .store
        .tx(move |c| require_script(c, &ns, &name))
        .await?;
    ok(json!({
        "created_on": doc.created_on,
        "modified_on": doc.modified_on,
        "dispatch_namespace": doc.dispatch_namespace,
        "script": views::view(&doc),
    }))
}

/// `GET …/scripts/{script_name}/bindings`: the bindings, secret values never shown.
pub(crate) async fn bindings(state: AppStateRef, Path((_, ns, name)): NsScriptPath) -> ApiResult {
    let doc = state
        .store
        .tx(move |c| require_script(c, &ns, &name))
        .await?;
    ok(views::public_bindings(&doc))
}

/// `GET …/scripts/{script_name}/tags`: the tags, an array of strings.
pub(crate) async fn get_tags(state: AppStateRef, Path((_, ns, name)): NsScriptPath) -> ApiResult {
    let doc = state
        .store
        .tx(move |c| require_script(c, &ns, &name))
        .await?;
    ok(json!(doc.tags))
}

/// `PUT …/scripts/{script_name}/tags` with an array of strings: replaces the tags (at most 8).
pub(crate) async fn put_tags(
    state: AppStateRef,
    Path((_, ns, name)): NsScriptPath,
    body: Bytes,
) -> ApiResult {
    let tags: Vec<String> = parse_json(&body, 10001, "script tags")?;
    let out = state
        .store
        .tx(move |c| set_tags(c, &ns, &name, |_| tags))
        .await?;
    ok(out)
}

/// `PUT …/scripts/{script_name}/tags/{tag}`: adds one tag.
pub(crate) async fn put_tag(
    state: AppStateRef,
    Path((_, ns, name, tag)): Path<(String, String, String, String)>,
) -> ApiResult {
    state
        .store
        .tx(move |c| {
            set_tags(c, &ns, &name, |mut t| {
                if !t.contains(&tag) {
                    t.push(tag);
                }
                t
            })
        })
        .await?;
    ok(Value::Null)
}

/// `DELETE …/scripts/{script_name}/tags/{tag}`: removes one tag.
pub(crate) async fn delete_tag(
    state: AppStateRef,
    Path((_, ns, name, tag)): Path<(String, String, String, String)>,
) -> ApiResult {
    state
        .store
        .tx(move |c| {
            set_tags(c, &ns, &name, |mut t| {
                t.retain(|x| *x != tag);
                t
            })
        })
        .await?;
    ok(Value::Null)
}

fn set_tags(
    c: &Connection,
    ns: &str,
    name: &str,
    f: impl FnOnce(Vec<String>) -> Vec<String>,
) -> Result<Value, ApiError> {
    let mut doc = require_script(c, ns, name)?;
    let tags = f(std::mem::take(&mut doc.tags));
    scripts::check_tags(&tags)?;
    doc.tags = tags;
    scripts::save(c, &Scope::Namespace(ns.to_owned()), &doc)?;
    Ok(json!(doc.tags))
}
