//! The Worker script model, shared by account scripts (`handlers::workers`) and scripts uploaded
//! into a dispatch namespace (`handlers::dispatch`): reading a multipart upload, resolving
//! `inherit` and `keep_bindings`, validating bindings against what exists, applying Durable Object
//! migrations with the expected-tag check, and the JSON views the API answers.
//!
//! Secret values (`secret_text` bindings) are never stored: only their SHA-256, so neither an
//! answer nor the database file can reveal them.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use rusqlite::Connection;
use serde_json::{Map, Value, json};

use crate::envelope::ApiError;
use crate::handlers::{dispatch, kv, r2, secrets_store};
use crate::ids;
use crate::store::{Part, docs, parts};

/// Document kind of scripts; ids are `{dispatch namespace}/{name}`, with an empty namespace for
/// account scripts.
pub(crate) const SCRIPT: &str = "worker_script";
/// Most tags a script may carry.
pub(crate) const MAX_TAGS: usize = 8;
/// Versions kept per script (the oldest are forgotten).
pub(crate) const MAX_VERSIONS: usize = 100;
/// Largest upload (all parts): Cloudflare's 10 MB compressed limit, uncompressed here.
pub(crate) const MAX_SCRIPT_BYTES: usize = 64 * 1024 * 1024;

/// Where a script lives.
#[derive(Debug, Clone, PartialEq, Eq)]
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
pub(crate) fn load(c: &Connection, scope: &Scope, name: &str) -> Result<Option<Value>, ApiError> {
    docs::get(c, SCRIPT, &scope.id(name))
}

/// Reads a script document or answers 404 (10007).
pub(crate) fn require(c: &Connection, scope: &Scope, name: &str) -> Result<Value, ApiError> {
    load(c, scope, name)?.ok_or_else(|| script_not_found(name))
}

/// Writes a script document.
pub(crate) fn save(c: &Connection, scope: &Scope, name: &str, doc: &Value) -> Result<(), ApiError> {
    docs::put(c, SCRIPT, &scope.id(name), doc)
}

/// Every script of a scope, in creation order.
pub(crate) fn list(c: &Connection, scope: &Scope) -> Result<Vec<Value>, ApiError> {
    docs::list(c, SCRIPT, &scope.prefix())
}

/// Every script of every scope.
pub(crate) fn list_all(c: &Connection) -> Result<Vec<Value>, ApiError> {
    docs::list(c, SCRIPT, "")
}

/// Cloudflare's script name rule: `^[a-z0-9_][a-z0-9-_]*$`, at most 63 characters.
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

/// A parsed upload: the metadata object and the module parts.
pub(crate) struct Upload {
    pub metadata: Map<String, Value>,
    pub parts: Vec<Part>,
}

/// Reads an upload: multipart with a `metadata` part (a plain field, or a file with
/// `application/json`) and one part per module; or a raw `application/javascript` service-worker
/// body.
pub(crate) async fn read_upload(req: Request, metadata_field: &str) -> Result<Upload, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/javascript")
        || content_type.starts_with("text/javascript")
    {
        let body = axum::body::to_bytes(req.into_body(), MAX_SCRIPT_BYTES)
            .await
            .map_err(|_| too_large())?;
        let mut metadata = Map::new();
        metadata.insert("body_part".into(), json!("script.js"));
        return Ok(Upload {
            metadata,
            parts: vec![Part {
                name: "script.js".into(),
                content_type: "application/javascript".into(),
                data: body.to_vec(),
            }],
        });
    }
    if !content_type.starts_with("multipart/form-data") {
        return Err(ApiError::bad_request(
            10001,
            format!(
                "Unsupported Content-Type {content_type:?}: upload a Worker as multipart/form-data"
            ),
        ));
    }
    let bad = |e: String| {
        ApiError::bad_request(10006, format!("could not parse the multipart upload: {e}"))
    };
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|e| bad(e.body_text()))?;
    let mut metadata = None;
    let mut out = Vec::new();
    let mut total = 0usize;
    while let Some(field) = form.next_field().await.map_err(|e| bad(e.body_text()))? {
        let name = field
            .name()
            .map(str::to_owned)
            .or_else(|| field.file_name().map(str::to_owned))
            .unwrap_or_default();
        let content_type = field.content_type().map(str::to_owned);
        let data = field.bytes().await.map_err(|e| bad(e.body_text()))?;
        total += data.len();
        if total > MAX_SCRIPT_BYTES {
            return Err(too_large());
        }
        if name == metadata_field {
            let value: Value = serde_json::from_slice(&data).map_err(|e| {
                ApiError::bad_request(
                    10006,
                    format!("the {metadata_field} part is not valid JSON: {e}"),
                )
            })?;
            match value {
                Value::Object(m) => metadata = Some(m),
                _ => {
                    return Err(ApiError::bad_request(
                        10006,
                        format!("the {metadata_field} part must be a JSON object"),
                    ));
                }
            }
        } else {
            let content_type = content_type.unwrap_or_else(|| guess_content_type(&name).into());
            out.push(Part {
                name,
                content_type,
                data: data.to_vec(),
            });
        }
    }
    let metadata = metadata.ok_or_else(|| {
        ApiError::bad_request(10006, format!("the upload has no `{metadata_field}` part"))
    })?;
    Ok(Upload {
        metadata,
        parts: out,
    })
}

fn too_large() -> ApiError {
    ApiError::bad_request(
        10027,
        format!("Worker upload exceeds the size limit of {MAX_SCRIPT_BYTES} bytes"),
    )
}

/// The module type of a part whose upload gave no content type, from its file extension.
fn guess_content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("mjs" | "js") => "application/javascript+module",
        Some("cjs") => "application/javascript",
        Some("wasm") => "application/wasm",
        Some("txt" | "html") => "text/plain",
        Some("map") => "application/source-map",
        Some("py") => "text/x-python",
        _ => "application/octet-stream",
    }
}

/// Everything an upload needs besides the parsed form.
pub(crate) struct UploadContext<'a> {
    pub scope: &'a Scope,
    pub name: &'a str,
    /// `bindings_inherit=strict`: an `inherit` binding that cannot be resolved is an error.
    pub strict_inherit: bool,
    pub now: String,
}

/// Applies an upload inside a transaction: validates it, stores the script and its parts (and a
/// snapshot of them as the new version), and returns the stored document.
pub(crate) fn apply_upload(
    c: &Connection,
    ctx: &UploadContext<'_>,
    upload: Upload,
) -> Result<Value, ApiError> {
    let previous = load(c, ctx.scope, ctx.name)?;
    let (mut doc, new_parts) = prepare_upload(c, ctx, upload)?;
    crate::versions::record_upload(&mut doc, previous.as_ref(), &ctx.now);
    save(c, ctx.scope, ctx.name, &doc)?;
    parts::replace(c, &ctx.scope.id(ctx.name), &new_parts)?;
    crate::versions::keep(c, ctx.scope, ctx.name, &doc, &new_parts)?;
    Ok(doc)
}

/// Validates an upload and builds the document it would store, its new version (numbered after
/// the last one, and the deployment's) appended to `versions`; stores nothing.
pub(crate) fn prepare_upload(
    c: &Connection,
    ctx: &UploadContext<'_>,
    upload: Upload,
) -> Result<(Value, Vec<Part>), ApiError> {
    check_name(ctx.name)?;
    let Upload {
        metadata: m,
        parts: new_parts,
    } = upload;
    let previous = load(c, ctx.scope, ctx.name)?;
    let prev = previous.as_ref();

    let main_module = m
        .get("main_module")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let body_part = m
        .get("body_part")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let entry = match (&main_module, &body_part) {
        (Some(e), _) | (None, Some(e)) => e.clone(),
        (None, None) => {
            return Err(invalid(
                "the metadata names no entry point: set main_module (ES modules) or body_part (service worker)",
            ));
        }
    };
    if !new_parts.iter().any(|p| p.name == entry) {
        return Err(invalid(format!(
            "Uncaught Error: No such module \"{entry}\": the upload has no part with that name"
        )));
    }

    let (classes, migration_tag) = apply_migrations(c, ctx, prev, m.get("migrations"))?;
    let previous_bindings = prev
        .and_then(|p| p.get("bindings"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let keep: Vec<String> = string_list(m.get("keep_bindings"));
    let requested = m
        .get("bindings")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let bindings = resolve_bindings(requested, &keep, &previous_bindings, ctx.strict_inherit)?;
    let part_names: Vec<&str> = new_parts.iter().map(|p| p.name.as_str()).collect();
    validate_bindings(c, ctx.scope, ctx.name, &bindings, &classes, &part_names)?;

    let tags = string_list(m.get("tags"));
    if tags.len() > MAX_TAGS {
        return Err(invalid(format!(
            "a Worker can have at most {MAX_TAGS} tags, got {}",
            tags.len()
        )));
    }
    let etag = {
        let mut all = Vec::new();
        for p in &new_parts {
            all.extend_from_slice(p.name.as_bytes());
            all.extend_from_slice(&p.data);
        }
        ids::sha256_hex(&all)
    };
    let main_source = new_parts
        .iter()
        .find(|p| p.name == entry)
        .map(|p| String::from_utf8_lossy(&p.data).into_owned())
        .unwrap_or_default();
    let handlers: Vec<&str> = ["fetch", "scheduled", "queue", "email", "tail"]
        .into_iter()
        .filter(|h| main_source.contains(h))
        .collect();
    let created_on = prev
        .and_then(|p| p.get("created_on"))
        .cloned()
        .unwrap_or_else(|| json!(ctx.now));
    let tag = prev
        .and_then(|p| p.get("tag"))
        .cloned()
        .unwrap_or_else(|| json!(ids::hex32()));
    let subdomain = prev
        .and_then(|p| p.get("subdomain"))
        .cloned()
        .unwrap_or_else(|| json!({"enabled": false, "previews_enabled": false}));
    let field = |k: &str, default: Value| m.get(k).cloned().unwrap_or(default);
    let version_id = ids::uuid();
    let mut versions: Vec<Value> = prev
        .and_then(|p| p["versions"].as_array().cloned())
        .unwrap_or_default();
    let number = versions
        .last()
        .and_then(|v| v["number"].as_u64())
        .unwrap_or(0)
        + 1;
    versions.push(json!({
        "id": version_id,
        "number": number,
        "metadata": {
            "author_email": "local@athanor.invalid",
            "author_id": "0000000000000000000000000000000a",
            "created_on": ctx.now,
            "modified_on": ctx.now,
            "source": "api",
        },
        "resources": {
            "bindings": public_bindings(&json!({"bindings": bindings})),
            "script": {"etag": etag, "handlers": handlers, "last_deployed_from": "api"},
            "script_runtime": {
                "compatibility_date": field("compatibility_date", json!("2021-11-02")),
                "compatibility_flags": field("compatibility_flags", json!([])),
                "usage_model": field("usage_model", json!("standard")),
            },
        },
    }));
    if versions.len() > MAX_VERSIONS {
        versions.drain(..versions.len() - MAX_VERSIONS);
    }
    let doc = json!({
        "id": ctx.name,
        "tag": tag,
        "etag": etag,
        "dispatch_namespace": match ctx.scope { Scope::Account => Value::Null, Scope::Namespace(ns) => json!(ns) },
        "created_on": created_on,
        "modified_on": ctx.now,
        "main_module": main_module,
        "body_part": body_part,
        "has_modules": main_module.is_some(),
        "handlers": handlers,
        "compatibility_date": field("compatibility_date", json!("2021-11-02")),
        "compatibility_flags": field("compatibility_flags", json!([])),
        "usage_model": field("usage_model", json!("standard")),
        "logpush": field("logpush", json!(false)),
        "observability": field("observability", Value::Null),
        "placement": field("placement", Value::Null),
        "limits": field("limits", json!({})),
        "tail_consumers": field("tail_consumers", json!([])),
        "tags": tags,
        "bindings": bindings,
        "classes": classes,
        "migration_tag": migration_tag,
        "subdomain": subdomain,
        "deployment_id": version_id,
        "versions": versions,
        "parts": new_parts.iter().map(|p| json!({"name": p.name, "content_type": p.content_type})).collect::<Vec<_>>(),
    });
    Ok((doc, new_parts))
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

/// Applies `metadata.migrations` (single-step or stepped) to the previous classes; checks
/// `old_tag` against the current migration tag (code 10079 when they differ).
fn apply_migrations(
    c: &Connection,
    ctx: &UploadContext<'_>,
    prev: Option<&Value>,
    migrations: Option<&Value>,
) -> Result<(Vec<Value>, Value), ApiError> {
    let mut classes: Vec<Value> = prev
        .and_then(|p| p.get("classes"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let current_tag = prev
        .and_then(|p| p.get("migration_tag"))
        .cloned()
        .unwrap_or(Value::Null);
    let Some(m) = migrations.filter(|m| !m.is_null()) else {
        return Ok((classes, current_tag));
    };
    let expected = current_tag.as_str().unwrap_or("");
    let got = m.get("old_tag").and_then(Value::as_str).unwrap_or("");
    if got != expected {
        return Err(ApiError::bad_request(
            10079,
            format!(
                "Actor migration tag precondition failed, got tag '{got}' when expected tag is '{expected}'"
            ),
        ));
    }
    let steps: Vec<&Value> = match m.get("steps").and_then(Value::as_array) {
        Some(steps) => steps.iter().collect(),
        None => vec![m],
    };
    let has = |classes: &[Value], name: &str| classes.iter().any(|k| k["class"] == name);
    for step in steps {
        for (key, sqlite) in [("new_classes", false), ("new_sqlite_classes", true)] {
            for class in string_list(step.get(key)) {
                if has(&classes, &class) {
                    return Err(invalid(format!(
                        "Cannot apply new-class migration to class '{class}' that is already depended on by an existing Durable Object namespace"
                    )));
                }
                classes.push(json!({"class": class, "sqlite": sqlite, "id": ids::hex32()}));
            }
        }
        for r in step
            .get("renamed_classes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let from = r.get("from").and_then(Value::as_str).unwrap_or("");
            let to = r.get("to").and_then(Value::as_str).unwrap_or("");
            if !has(&classes, from) {
                return Err(invalid(format!(
                    "Cannot apply rename migration: class '{from}' does not exist in this script"
                )));
            }
            if to.is_empty() || has(&classes, to) {
                return Err(invalid(format!(
                    "Cannot apply rename migration from '{from}' to '{to}': the target class already exists or is empty"
                )));
            }
            for k in classes.iter_mut().filter(|k| k["class"] == from) {
                k["class"] = json!(to);
            }
        }
        for class in string_list(step.get("deleted_classes")) {
            if !has(&classes, &class) {
                return Err(invalid(format!(
                    "Cannot apply deleted_classes migration to non-existent class '{class}'"
                )));
            }
            classes.retain(|k| k["class"] != class.as_str());
        }
        for t in step
            .get("transferred_classes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let from = t.get("from").and_then(Value::as_str).unwrap_or("");
            let from_script = t.get("from_script").and_then(Value::as_str).unwrap_or("");
            let to = t.get("to").and_then(Value::as_str).unwrap_or("");
            let mut source = load(c, ctx.scope, from_script)?.ok_or_else(|| {
                invalid(format!(
                    "Cannot transfer class '{from}': script '{from_script}' does not exist"
                ))
            })?;
            let source_classes = source["classes"].as_array().cloned().unwrap_or_default();
            let Some(moved) = source_classes.iter().find(|k| k["class"] == from).cloned() else {
                return Err(invalid(format!(
                    "Cannot transfer class '{from}': script '{from_script}' has no such Durable Object class"
                )));
            };
            if has(&classes, to) {
                return Err(invalid(format!(
                    "Cannot transfer class '{from}' to '{to}': '{to}' already exists"
                )));
            }
            source["classes"] = json!(
                source_classes
                    .into_iter()
                    .filter(|k| k["class"] != from)
                    .collect::<Vec<_>>()
            );
            save(c, ctx.scope, from_script, &source)?;
            classes.push(json!({"class": to, "sqlite": moved["sqlite"], "id": moved["id"]}));
        }
    }
    let tag = match m.get("new_tag") {
        Some(Value::String(t)) => json!(t),
        _ => current_tag,
    };
    Ok((classes, tag))
}

/// Resolves `inherit` bindings and `keep_bindings` against the previous upload's bindings, and
/// replaces secret values by their hash.
pub(crate) fn resolve_bindings(
    requested: Vec<Value>,
    keep_types: &[String],
    previous: &[Value],
    strict_inherit: bool,
) -> Result<Vec<Value>, ApiError> {
    let mut out: Vec<Value> = Vec::new();
    for b in requested {
        let name = b
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let kind = b
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if name.is_empty() || kind.is_empty() {
            return Err(invalid(format!(
                "binding #{} needs both a name and a type",
                out.len() + 1
            )));
        }
        if kind == "inherit" {
            let from = b.get("old_name").and_then(Value::as_str).unwrap_or(&name);
            match previous.iter().find(|p| p["name"] == from) {
                Some(p) => {
                    let mut copy = p.clone();
                    copy["name"] = json!(name);
                    out.push(copy);
                }
                None if strict_inherit => {
                    return Err(invalid(format!(
                        "binding '{name}' of type inherit cannot be resolved: the previous version has no binding named '{from}'"
                    )));
                }
                None => {}
            }
            continue;
        }
        out.push(hash_secret(b));
    }
    for p in previous {
        let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
        if keep_types.iter().any(|k| k == kind) && !out.iter().any(|b| b["name"] == p["name"]) {
            out.push(p.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    for b in &out {
        let name = b["name"].as_str().unwrap_or("");
        if !seen.insert(name.to_owned()) {
            return Err(invalid(format!("Binding name '{name}' already in use")));
        }
    }
    Ok(out)
}

/// A `secret_text` binding with its `text` replaced by `text_sha256`.
fn hash_secret(mut b: Value) -> Value {
    if b["type"] == "secret_text"
        && let Some(obj) = b.as_object_mut()
        && let Some(Value::String(text)) = obj.remove("text")
    {
        obj.insert(
            "text_sha256".into(),
            json!(ids::sha256_hex(text.as_bytes())),
        );
    }
    b
}

/// Cloudflare's codes for a binding to something that does not exist (400 each).
mod missing {
    pub const KV_NAMESPACE: u32 = 10041;
    pub const DURABLE_OBJECT_CLASS: u32 = 10061;
    pub const R2_BUCKET: u32 = 10085;
    pub const SERVICE: u32 = 10144;
    pub const SECRETS_STORE_SECRET: u32 = 10182;
    pub const DISPATCH_NAMESPACE: u32 = 100_119;
}

/// Checks that every binding names something that exists: 400 with the code Cloudflare gives for
/// that kind of binding (see [`missing`]), or 10021 (validation) for a malformed binding.
pub(crate) fn validate_bindings(
    c: &Connection,
    scope: &Scope,
    script: &str,
    bindings: &[Value],
    classes: &[Value],
    part_names: &[&str],
) -> Result<(), ApiError> {
    for b in bindings {
        let name = b["name"].as_str().unwrap_or("");
        let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("");
        match b["type"].as_str().unwrap_or("") {
            "plain_text" if !b["text"].is_string() => {
                return Err(invalid(format!(
                    "binding '{name}' of type plain_text needs a string `text`"
                )));
            }
            "secret_text" if !b["text_sha256"].is_string() => {
                return Err(invalid(format!(
                    "binding '{name}' of type secret_text needs a string `text`"
                )));
            }
            "json" if b.get("json").is_none() => {
                return Err(invalid(format!(
                    "binding '{name}' of type json needs a `json` value"
                )));
            }
            "kv_namespace" => {
                let id = s("namespace_id");
                if !kv::namespace_exists(c, id)? {
                    return Err(ApiError::bad_request(
                        missing::KV_NAMESPACE,
                        format!(
                            "KV namespace '{id}' is not valid. (binding '{name}'): create the namespace first or fix its id"
                        ),
                    ));
                }
            }
            "r2_bucket" => {
                let bucket = s("bucket_name");
                let j = b.get("jurisdiction").and_then(Value::as_str);
                if !r2::bucket_exists(c, bucket, j)? {
                    return Err(ApiError::bad_request(
                        missing::R2_BUCKET,
                        format!(
                            "R2 bucket '{bucket}' not found (binding '{name}'): create the bucket first or fix its name"
                        ),
                    ));
                }
            }
            "secrets_store_secret" => {
                let (store, secret) = (s("store_id"), s("secret_name"));
                if !secrets_store::secret_exists(c, store, secret)? {
                    return Err(ApiError::bad_request(
                        missing::SECRETS_STORE_SECRET,
                        format!(
                            "Secrets Store secret '{secret}' in store '{store}' not found (binding '{name}'): create the secret first or fix the store id and secret name"
                        ),
                    ));
                }
            }
            "dispatch_namespace" => {
                let ns = s("namespace");
                if !dispatch::namespace_exists(c, ns)? {
                    return Err(ApiError::bad_request(
                        missing::DISPATCH_NAMESPACE,
                        format!(
                            "dispatch namespace '{ns}' not found (binding '{name}'): create the namespace first"
                        ),
                    ));
                }
            }
            "service" => {
                let service = s("service");
                if service != script && load(c, &Scope::Account, service)?.is_none() {
                    return Err(ApiError::bad_request(
                        missing::SERVICE,
                        format!(
                            "Could not resolve service binding '{name}'. Target script '{service}' not found."
                        ),
                    ));
                }
            }
            "durable_object_namespace" => {
                let class = s("class_name");
                let other = b
                    .get("script_name")
                    .and_then(Value::as_str)
                    .filter(|o| *o != script);
                let known = match other {
                    None => classes.iter().any(|k| k["class"] == class),
                    Some(o) => load(c, scope, o)?
                        .or(load(c, &Scope::Account, o)?)
                        .and_then(|d| d["classes"].as_array().cloned())
                        .is_some_and(|ks| ks.iter().any(|k| k["class"] == class)),
                };
                if class.is_empty() || !known {
                    return Err(ApiError::bad_request(
                        missing::DURABLE_OBJECT_CLASS,
                        format!(
                            "Cannot create binding for class '{class}' because it is not currently configured to implement Durable Objects. Did you forget to apply a Durable Object migration? (binding '{name}')"
                        ),
                    ));
                }
            }
            "wasm_module" | "text_blob" | "data_blob" => {
                let part = s("part");
                if !part_names.contains(&part) {
                    return Err(invalid(format!(
                        "binding '{name}' names part '{part}', which the upload does not contain"
                    )));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The bindings as the API shows them: `secret_text` as `{name, type}` only.
pub(crate) fn public_bindings(doc: &Value) -> Value {
    let list = doc["bindings"].as_array().cloned().unwrap_or_default();
    Value::Array(
        list.into_iter()
            .map(|b| {
                if b["type"] == "secret_text" || b["type"] == "secret_key" {
                    json!({"name": b["name"], "type": b["type"]})
                } else {
                    b
                }
            })
            .collect(),
    )
}

/// The script as the upload answer and the scripts list show it.
pub(crate) fn view(doc: &Value) -> Value {
    let mut v = json!({
        "id": doc["id"],
        "tag": doc["tag"],
        "etag": doc["etag"],
        "handlers": doc["handlers"],
        "named_handlers": [],
        "created_on": doc["created_on"],
        "modified_on": doc["modified_on"],
        "compatibility_date": doc["compatibility_date"],
        "compatibility_flags": doc["compatibility_flags"],
        "usage_model": doc["usage_model"],
        "logpush": doc["logpush"],
        "tags": doc["tags"],
        "tail_consumers": doc["tail_consumers"],
        "has_modules": doc["has_modules"],
        "has_assets": false,
        "startup_time_ms": 0,
        "deployment_id": doc["deployment_id"],
        "entry_point": doc["main_module"].as_str().or(doc["body_part"].as_str()),
    });
    if let Some(tag) = doc["migration_tag"].as_str() {
        v["migration_tag"] = json!(tag);
    }
    if !doc["observability"].is_null() {
        v["observability"] = doc["observability"].clone();
    }
    if !doc["placement"].is_null() {
        v["placement"] = doc["placement"].clone();
    }
    v
}

/// The script's settings (`GET …/settings`).
pub(crate) fn settings(doc: &Value) -> Value {
    json!({
        "bindings": public_bindings(doc),
        "compatibility_date": doc["compatibility_date"],
        "compatibility_flags": doc["compatibility_flags"],
        "limits": doc["limits"],
        "logpush": doc["logpush"],
        "observability": doc["observability"],
        "placement": if doc["placement"].is_null() { json!({}) } else { doc["placement"].clone() },
        "tags": doc["tags"],
        "tail_consumers": doc["tail_consumers"],
        "usage_model": doc["usage_model"],
    })
}

/// The non-versioned settings (`GET …/script-settings`).
pub(crate) fn script_settings(doc: &Value) -> Value {
    json!({
        "logpush": doc["logpush"],
        "observability": doc["observability"],
        "tags": doc["tags"],
        "tail_consumers": doc["tail_consumers"],
    })
}

/// Applies a settings patch (`PATCH …/settings`): every field present replaces the stored one;
/// `bindings` go through the same resolution and validation as an upload.
pub(crate) fn patch_settings(
    c: &Connection,
    scope: &Scope,
    name: &str,
    patch: &Map<String, Value>,
    now: &str,
) -> Result<Value, ApiError> {
    let mut doc = require(c, scope, name)?;
    for key in [
        "compatibility_date",
        "compatibility_flags",
        "usage_model",
        "logpush",
        "observability",
        "placement",
        "limits",
        "tail_consumers",
    ] {
        if let Some(v) = patch.get(key) {
            doc[key] = v.clone();
        }
    }
    if let Some(tags) = patch.get("tags") {
        let tags = string_list(Some(tags));
        if tags.len() > MAX_TAGS {
            return Err(invalid(format!(
                "a Worker can have at most {MAX_TAGS} tags, got {}",
                tags.len()
            )));
        }
        doc["tags"] = json!(tags);
    }
    if let Some(requested) = patch.get("bindings").and_then(Value::as_array) {
        let previous = doc["bindings"].as_array().cloned().unwrap_or_default();
        let bindings = resolve_bindings(requested.clone(), &[], &previous, true)?;
        let classes = doc["classes"].as_array().cloned().unwrap_or_default();
        let part_names: Vec<String> = doc["parts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        let refs: Vec<&str> = part_names.iter().map(String::as_str).collect();
        validate_bindings(c, scope, name, &bindings, &classes, &refs)?;
        doc["bindings"] = json!(bindings);
    }
    doc["modified_on"] = json!(now);
    save(c, scope, name, &doc)?;
    Ok(doc)
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
            if other["id"] == name {
                continue;
            }
            let refers = other["bindings"].as_array().into_iter().flatten().any(|b| {
                (b["type"] == "service" && b["service"] == name)
                    || (b["type"] == "durable_object_namespace" && b["script_name"] == name)
            });
            if refers {
                return Err(invalid(format!(
                    "Cannot delete Worker '{name}': Worker '{}' binds to it. Remove that binding, or delete with ?force=true",
                    other["id"].as_str().unwrap_or("")
                )));
            }
        }
    }
    docs::delete(c, SCRIPT, &scope.id(name))?;
    parts::delete_all(c, &scope.id(name))?;
    crate::versions::forget_all(c, scope, name)
}

/// Replaces a script's code (`PUT …/content`), keeping its settings and bindings.
pub(crate) fn replace_content(
    c: &Connection,
    scope: &Scope,
    name: &str,
    upload: Upload,
    now: &str,
) -> Result<Value, ApiError> {
    let mut doc = require(c, scope, name)?;
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
    doc["main_module"] = json!(main_module);
    doc["body_part"] = json!(body_part);
    doc["has_modules"] = json!(main_module.is_some());
    doc["modified_on"] = json!(now);
    doc["parts"] = json!(
        upload
            .parts
            .iter()
            .map(|p| json!({"name": p.name, "content_type": p.content_type}))
            .collect::<Vec<_>>()
    );
    save(c, scope, name, &doc)?;
    parts::replace(c, &scope.id(name), &upload.parts)?;
    Ok(doc)
}

/// The script's entry-point part.
pub(crate) fn main_part(c: &Connection, scope: &Scope, name: &str) -> Result<Part, ApiError> {
    let doc = require(c, scope, name)?;
    let entry = doc["main_module"]
        .as_str()
        .or(doc["body_part"].as_str())
        .unwrap_or("")
        .to_owned();
    parts::all(c, &scope.id(name))?
        .into_iter()
        .find(|p| p.name == entry)
        .ok_or_else(|| script_not_found(name))
}

/// Adds or replaces a `secret_text` binding (`PUT …/secrets`); the value is kept only as a hash.
pub(crate) fn put_secret(
    c: &Connection,
    scope: &Scope,
    script: &str,
    body: &Value,
) -> Result<Value, ApiError> {
    let mut doc = require(c, scope, script)?;
    let name = body["name"].as_str().unwrap_or("");
    let text = body["text"].as_str();
    let kind = body["type"].as_str().unwrap_or("secret_text");
    if name.is_empty() || text.is_none() || kind != "secret_text" {
        return Err(ApiError::bad_request(
            10001,
            "a Worker secret needs {\"name\", \"text\", \"type\": \"secret_text\"}",
        ));
    }
    let mut bindings: Vec<Value> = doc["bindings"].as_array().cloned().unwrap_or_default();
    bindings.retain(|b| b["name"] != name);
    bindings.push(hash_secret(
        json!({"name": name, "type": "secret_text", "text": text}),
    ));
    doc["bindings"] = json!(bindings);
    save(c, scope, script, &doc)?;
    Ok(json!({"name": name, "type": "secret_text"}))
}

/// The `secret_text` bindings of a script, as `{name, type}`.
pub(crate) fn secrets(doc: &Value) -> Vec<Value> {
    doc["bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "secret_text")
        .map(|b| json!({"name": b["name"], "type": "secret_text"}))
        .collect()
}

/// Removes a `secret_text` binding; 404 (code 10056) when the script has no such secret.
pub(crate) fn delete_secret(
    c: &Connection,
    scope: &Scope,
    script: &str,
    secret: &str,
) -> Result<(), ApiError> {
    let mut doc = require(c, scope, script)?;
    let mut bindings: Vec<Value> = doc["bindings"].as_array().cloned().unwrap_or_default();
    let before = bindings.len();
    bindings.retain(|b| !(b["type"] == "secret_text" && b["name"] == secret));
    if bindings.len() == before {
        return Err(ApiError::not_found(
            10056,
            format!(
                "workers.api.error.binding_not_found: Worker '{script}' has no secret named '{secret}'"
            ),
        ));
    }
    doc["bindings"] = json!(bindings);
    save(c, scope, script, &doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_bindings_keeps_listed_types_and_adds_new_ones() {
        let previous = vec![
            json!({"name": "A", "type": "kv_namespace", "namespace_id": "x"}),
            json!({"name": "S", "type": "secret_text", "text_sha256": "h"}),
            json!({"name": "V", "type": "plain_text", "text": "v"}),
        ];
        let new = vec![json!({"name": "B", "type": "r2_bucket", "bucket_name": "b"})];
        let out = resolve_bindings(new, &["secret_text".into()], &previous, true).unwrap();
        let names: Vec<&str> = out.iter().map(|b| b["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["B", "S"]);
    }

    #[test]
    fn inherit_copies_and_strict_refuses_unknown() {
        let previous = vec![json!({"name": "A", "type": "kv_namespace", "namespace_id": "x"})];
        let out = resolve_bindings(
            vec![json!({"name": "C", "type": "inherit", "old_name": "A"})],
            &[],
            &previous,
            true,
        )
        .unwrap();
        assert_eq!(out[0]["namespace_id"], "x");
        assert_eq!(out[0]["name"], "C");
        let err = resolve_bindings(
            vec![json!({"name": "Z", "type": "inherit"})],
            &[],
            &previous,
            true,
        )
        .unwrap_err();
        assert_eq!(err.code, 10021);
    }

    #[test]
    fn secret_text_is_hashed_and_hidden() {
        let out = resolve_bindings(
            vec![json!({"name": "T", "type": "secret_text", "text": "hunter2"})],
            &[],
            &[],
            true,
        )
        .unwrap();
        assert!(!out[0].to_string().contains("hunter2"));
        let shown = public_bindings(&json!({"bindings": out}));
        assert_eq!(shown, json!([{"name": "T", "type": "secret_text"}]));
    }

    #[test]
    fn duplicate_binding_names_are_refused() {
        let err = resolve_bindings(
            vec![
                json!({"name": "A", "type": "plain_text", "text": "1"}),
                json!({"name": "A", "type": "plain_text", "text": "2"}),
            ],
            &[],
            &[],
            true,
        )
        .unwrap_err();
        assert_eq!(err.code, 10021);
    }

    #[test]
    fn script_names() {
        assert!(check_name("my-worker_1").is_ok());
        assert!(check_name("_x").is_ok());
        assert!(check_name("-x").is_err());
        assert!(check_name("My").is_err());
        assert!(check_name(&"a".repeat(64)).is_err());
    }
}
