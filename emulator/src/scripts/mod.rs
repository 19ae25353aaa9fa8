//! The Worker script model, shared by account scripts (`handlers::workers`) and user Workers in
//! dispatch namespaces (`handlers::dispatch`): the typed document ([`model`]), uploads
//! ([`upload`]: reading the multipart form, Durable Object migrations, `inherit` and
//! `keep_bindings`, validation against what exists), versions and deployments ([`versions`]), and
//! the JSON views the API answers ([`views`]).
//!
//! Secret values (`secret_text` bindings) are kept sealed (see `sealing`) so that the local
//! runtime can hand them to the Worker, with their SHA-256 beside them; no answer shows either.
//!
//! Sources (reference/cloudflare-api.md §1.5 and §5 give theirs):
//! - 10007 "Resource not found", 10021 "Script content failed validation checks" and 10001
//!   "Unsupported or unexpected Content Type" (here, a secret body the API cannot use): the spec's
//!   Workers `x-cfLinkErrors` (reference/cloudflare-openapi-subset.json).
//! - 10016 for an invalid Worker name: no public source (the emulator's choice). The name rule
//!   `^[a-z0-9_][a-z0-9-_]*$` is the spec's `workers_script_name`; at most 63 characters is not
//!   confirmed (§5.1: it would follow from the workers.dev DNS label).
//! - 10056, 404, a secret the Worker does not have: alchemy-run/distilled
//!   (`packages/cloudflare/patches/workers/deleteScriptSecret.json`) and third-party logs.
//! - At most 8 tags per script: the Workers for Platforms limits (§8,
//!   `cloudflare-for-platforms/workers-for-platforms/reference/limits`).
//! - 100 versions kept per script: Cloudflare keeps the 100 most recent for rollbacks and
//!   deployments (the changelog entry "Worker version rollback limit increased from 10 to 100",
//!   `developers.cloudflare.com/changelog/2025-09-11-increased-version-rollback-limit`).
//! - Uploads of at most 64 MiB: the emulator's own bound on the uncompressed parts, no public
//!   source; Cloudflare's limit is 10 MB after compression (`workers/platform/limits`), which the
//!   emulator does not measure.

pub(crate) mod model;
pub(crate) mod upload;
pub(crate) mod versions;
pub(crate) mod views;

use rusqlite::Connection;
use serde_json::{Map, Value, json};

use crate::envelope::ApiError;
use crate::sealing::Sealer;
use crate::store::{Part, docs, parts};

pub(crate) use model::{Binding, BindingKind, Script};
pub(crate) use upload::{Upload, UploadContext, apply_upload, read_upload};

/// Document kind of scripts; ids are `{dispatch namespace}/{name}`, with an empty namespace for
/// account scripts.
pub(crate) const SCRIPT: &str = "worker_script";
/// Most tags a script may carry (Workers for Platforms limits).
pub(crate) const MAX_TAGS: usize = 8;
/// Versions kept per script, the oldest forgotten (Cloudflare's 100 most recent; changelog
/// 2025-09-11).
pub(crate) const MAX_VERSIONS: usize = 100;
/// Largest upload (all parts), uncompressed: the emulator's own bound, no public source
/// (Cloudflare's limit is 10 MB after compression).
pub(crate) const MAX_SCRIPT_BYTES: usize = 64 * 1024 * 1024;

/// Where a script lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Scope {
    /// A script of the account (`/workers/scripts/{name}`).
    Account,
    /// A user Worker in a dispatch namespace.
    Namespace(String),
}

impl Scope {
    /// The storage id of script `name` in this scope.
    pub fn id(&self, name: &str) -> String {
        match self {
            Scope::Account => format!("/{name}"),
            Scope::Namespace(ns) => format!("{ns}/{name}"),
        }
    }

    /// The storage-id prefix of every script in this scope.
    pub fn prefix(&self) -> String {
        match self {
            Scope::Account => "/".to_owned(),
            Scope::Namespace(ns) => format!("{ns}/"),
        }
    }
}

/// 404 with code 10007, Cloudflare's "script not found".
pub(crate) fn script_not_found(name: &str) -> ApiError {
    ApiError::not_found(
        10007,
        format!("workers.api.error.script_not_found: no Worker named '{name}' exists"),
    )
}

/// 400 with code 10021, Cloudflare's "script failed validation".
pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(10021, message)
}

/// Reads a script document.
pub(crate) fn load(c: &Connection, scope: &Scope, name: &str) -> Result<Option<Script>, ApiError> {
    docs::get(c, SCRIPT, &scope.id(name))?
        .map(parse)
        .transpose()
}

/// Reads a script document or answers 404 (10007).
pub(crate) fn require(c: &Connection, scope: &Scope, name: &str) -> Result<Script, ApiError> {
    load(c, scope, name)?.ok_or_else(|| script_not_found(name))
}

/// Writes a script document.
pub(crate) fn save(c: &Connection, scope: &Scope, script: &Script) -> Result<(), ApiError> {
    docs::put(c, SCRIPT, &scope.id(&script.id), &to_doc(script))
}

/// Every script of a scope, in creation order.
pub(crate) fn list(c: &Connection, scope: &Scope) -> Result<Vec<Script>, ApiError> {
    docs::list(c, SCRIPT, &scope.prefix())?
        .into_iter()
        .map(parse)
        .collect()
}

/// How many scripts `scope` holds, without reading them (a namespace's `script_count`, read on
/// every namespace GET).
pub(crate) fn count(c: &Connection, scope: &Scope) -> Result<usize, ApiError> {
    docs::count_prefixed(c, SCRIPT, &scope.prefix())
}

/// Every script of every scope.
pub(crate) fn list_all(c: &Connection) -> Result<Vec<Script>, ApiError> {
    docs::list(c, SCRIPT, "")?.into_iter().map(parse).collect()
}

fn parse(doc: Value) -> Result<Script, ApiError> {
    serde_json::from_value(doc).map_err(|e| {
        ApiError::internal(format!(
            "a Worker script in the emulator database is corrupt: {e}"
        ))
    })
}

pub(crate) fn to_doc(script: &Script) -> Value {
    serde_json::to_value(script).expect("a script document serializes")
}

/// Cloudflare's script name rule: `^[a-z0-9_][a-z0-9-_]*$` (the spec), at most 63 characters
/// (not confirmed); 400 code 10016 otherwise (no public source for the code).
pub(crate) fn check_name(name: &str) -> Result<(), ApiError> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && b[0] != b'-'
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            10016,
            format!(
                "workers.api.error.invalid_script_name: {name:?} is not a valid Worker name; use 1 to 63 lowercase letters, digits, '-' and '_', not starting with '-'"
            ),
        ))
    }
}

/// Refuses more than [`MAX_TAGS`] tags.
pub(crate) fn check_tags(tags: &[String]) -> Result<(), ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(invalid(format!(
            "a Worker can have at most {MAX_TAGS} tags, got {}",
            tags.len()
        )));
    }
    Ok(())
}

/// A JSON array of strings (anything else is empty).
pub(crate) fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The sealing context of secret binding `binding` of script `name`: a sealed value opens only
/// for the script and binding it was uploaded to. The dispatch namespace is left out, so that a
/// namespace rename keeps its scripts' secrets.
pub(crate) fn secret_context(name: &str, binding: &str) -> String {
    format!("worker_script/{name}#{binding}")
}

/// Applies a settings patch (`PATCH …/settings`): every field present replaces the stored one;
/// `bindings` go through the same resolution and validation as an upload.
pub(crate) fn patch_settings(
    c: &Connection,
    sealer: &Sealer,
    scope: &Scope,
    name: &str,
    patch: &Map<String, Value>,
    now: &str,
) -> Result<Script, ApiError> {
    let mut script = require(c, scope, name)?;
    let get = |k: &str| patch.get(k).cloned();
    if let Some(Value::String(v)) = get("compatibility_date") {
        script.compatibility_date = v;
    }
    if let Some(v) = get("compatibility_flags") {
        script.compatibility_flags = string_list(Some(&v));
    }
    if let Some(Value::String(v)) = get("usage_model") {
        script.usage_model = v;
    }
    for (key, slot) in [
        ("logpush", &mut script.logpush),
        ("observability", &mut script.observability),
        ("placement", &mut script.placement),
        ("limits", &mut script.limits),
        ("tail_consumers", &mut script.tail_consumers),
    ] {
        if let Some(v) = patch.get(key) {
            *slot = v.clone();
        }
    }
    if let Some(tags) = patch.get("tags") {
        let tags = string_list(Some(tags));
        check_tags(&tags)?;
        script.tags = tags;
    }
    if let Some(requested) = patch.get("bindings").and_then(Value::as_array) {
        let requested = upload::parse_bindings(requested)?;
        let bindings = upload::resolve_bindings(requested, &[], &script.bindings, true)?;
        let part_names: Vec<&str> = script.parts.iter().map(|p| p.name.as_str()).collect();
        upload::validate_bindings(c, scope, name, &bindings, &script.classes, &part_names)?;
        script.bindings = upload::seal_secrets(sealer, name, bindings);
    }
    script.modified_on = now.to_owned();
    save(c, scope, &script)?;
    Ok(script)
}

/// Deletes a script. Without `force`, a script that another script binds (service or Durable
/// Object binding) is refused with 400 code 10021.
pub(crate) fn delete(
    c: &Connection,
    scope: &Scope,
    name: &str,
    force: bool,
) -> Result<(), ApiError> {
    require(c, scope, name)?;
    if !force && *scope == Scope::Account {
        for other in list(c, &Scope::Account)? {
            if other.id == name {
                continue;
            }
            let refers = other.bindings.iter().any(|b| match &b.kind {
                BindingKind::Service { service, .. } => service == name,
                BindingKind::DurableObjectNamespace { script_name, .. } => {
                    script_name.as_deref() == Some(name)
                }
                _ => false,
            });
            if refers {
                return Err(invalid(format!(
                    "Cannot delete Worker '{name}': Worker '{}' binds to it. Remove that binding, or delete with ?force=true",
                    other.id
                )));
            }
        }
    }
    docs::delete(c, SCRIPT, &scope.id(name))?;
    parts::delete_all(c, &scope.id(name))?;
    versions::forget_all(c, scope, name)
}

/// Moves every script of dispatch namespace `from` to namespace `to` (a namespace rename).
pub(crate) fn move_namespace(c: &Connection, from: &str, to: &str) -> Result<(), ApiError> {
    let old_scope = Scope::Namespace(from.to_owned());
    let new_scope = Scope::Namespace(to.to_owned());
    for mut script in list(c, &old_scope)? {
        let code = parts::all(c, &old_scope.id(&script.id))?;
        delete(c, &old_scope, &script.id, true)?;
        script.dispatch_namespace = Some(to.to_owned());
        save(c, &new_scope, &script)?;
        parts::replace(c, &new_scope.id(&script.id), &code)?;
    }
    Ok(())
}

/// Replaces a script's code (`PUT …/content`), keeping its settings and bindings.
pub(crate) fn replace_content(
    c: &Connection,
    scope: &Scope,
    name: &str,
    upload: Upload,
    now: &str,
) -> Result<Script, ApiError> {
    let mut script = require(c, scope, name)?;
    let m = upload.metadata;
    let main_module = m
        .get("main_module")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let body_part = m
        .get("body_part")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let entry = main_module.clone().or(body_part.clone()).ok_or_else(|| {
        invalid("the metadata names no entry point: set main_module or body_part")
    })?;
    if !upload.parts.iter().any(|p| p.name == entry) {
        return Err(invalid(format!(
            "Uncaught Error: No such module \"{entry}\""
        )));
    }
    script.has_modules = main_module.is_some();
    script.main_module = main_module;
    script.body_part = body_part;
    script.modified_on = now.to_owned();
    script.etag = upload::etag(&upload.parts);
    script.parts = upload::part_infos(&upload.parts);
    save(c, scope, &script)?;
    parts::replace(c, &scope.id(name), &upload.parts)?;
    Ok(script)
}

/// The script's entry-point part.
pub(crate) fn main_part(c: &Connection, scope: &Scope, name: &str) -> Result<Part, ApiError> {
    let script = require(c, scope, name)?;
    let entry = script.entry().unwrap_or("").to_owned();
    parts::all(c, &scope.id(name))?
        .into_iter()
        .find(|p| p.name == entry)
        .ok_or_else(|| script_not_found(name))
}

/// Adds or replaces a `secret_text` binding (`PUT …/secrets`); the value is kept sealed.
pub(crate) fn put_secret(
    c: &Connection,
    sealer: &Sealer,
    scope: &Scope,
    script_name: &str,
    body: &Value,
    now: &str,
) -> Result<Value, ApiError> {
    let mut script = require(c, scope, script_name)?;
    script.modified_on = now.to_owned();
    let name = body["name"].as_str().unwrap_or("");
    let text = body["text"].as_str();
    let kind = body["type"].as_str().unwrap_or("secret_text");
    let (false, Some(text), "secret_text") = (name.is_empty(), text, kind) else {
        return Err(ApiError::bad_request(
            10001,
            "a Worker secret needs {\"name\", \"text\", \"type\": \"secret_text\"}",
        ));
    };
    script.bindings.retain(|b| b.name != name);
    let binding = Binding {
        name: name.to_owned(),
        kind: BindingKind::SecretText {
            text: Some(text.to_owned()),
            stored: None,
        },
        extra: Map::new(),
    };
    script
        .bindings
        .extend(upload::seal_secrets(sealer, script_name, vec![binding]));
    save_as_new_version(c, scope, script)?;
    Ok(json!({"name": name, "type": "secret_text"}))
}

/// The `secret_text` bindings of a script, as `{name, type}`.
pub(crate) fn secrets(script: &Script) -> Vec<Value> {
    script
        .bindings
        .iter()
        .filter(|b| matches!(b.kind, BindingKind::SecretText { .. }))
        .map(Binding::public_json)
        .collect()
}

/// Removes a `secret_text` binding; 404 (code 10056) when the script has no such secret.
pub(crate) fn delete_secret(
    c: &Connection,
    scope: &Scope,
    script_name: &str,
    secret: &str,
    now: &str,
) -> Result<(), ApiError> {
    let mut script = require(c, scope, script_name)?;
    script.modified_on = now.to_owned();
    let before = script.bindings.len();
    script
        .bindings
        .retain(|b| !(matches!(b.kind, BindingKind::SecretText { .. }) && b.name == secret));
    if script.bindings.len() == before {
        return Err(ApiError::not_found(
            10056,
            format!(
                "workers.api.error.binding_not_found: Worker '{script_name}' has no secret named '{secret}'"
            ),
        ));
    }
    save_as_new_version(c, scope, script)
}

/// Saves `script`, changed by a secret, as a new version deployed at once, as Cloudflare does
/// when a secret is put or deleted (the version keeps the code of the one before).
fn save_as_new_version(c: &Connection, scope: &Scope, mut script: Script) -> Result<(), ApiError> {
    let now = script.modified_on.clone();
    let versioned = versions::record_change(&mut script, "secret", &now);
    save(c, scope, &script)?;
    if versioned {
        let code = parts::all(c, &scope.id(&script.id))?;
        versions::keep(c, scope, &script, &code)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_names() {
        assert!(check_name("my-worker_1").is_ok());
        assert!(check_name("_x").is_ok());
        assert!(check_name("-x").is_err());
        assert!(check_name("My").is_err());
        assert!(check_name(&"a".repeat(64)).is_err());
    }
}
