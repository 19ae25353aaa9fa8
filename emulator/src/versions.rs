//! Worker versions and deployments.
//!
//! Every upload is kept as a version: a snapshot of the script document and of its module parts.
//! A version uploaded without deploying (`POST …/versions`) changes nothing that runs; a
//! deployment (`POST …/deployments`) makes a version the one that runs, which is also how a
//! rollback to an earlier version works. The script document itself is always the deployed
//! version; it carries the list of versions (newest last) and of deployments (newest first).
//!
//! A deployment may split traffic between two versions; the emulator runs no code, so the
//! version with the larger share becomes the script's content and the split is recorded as sent.

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::envelope::ApiError;
use crate::ids;
use crate::scripts::{self, Scope, Upload, UploadContext};
use crate::store::{Part, docs, parts};

/// Document kind of version snapshots; ids are `{script storage id}#{version id}`.
const VERSION: &str = "worker_version";
/// Deployments listed per script: the API's `GET …/deployments` shows the 10 most recent.
pub(crate) const MAX_DEPLOYMENTS: usize = 10;
/// Most versions one deployment may split traffic between.
const MAX_SPLIT: usize = 2;

/// The storage id of version `version` of script `name` (for its snapshot and its parts).
fn key(scope: &Scope, name: &str, version: &str) -> String {
    format!("{}#{version}", scope.id(name))
}

/// 400 with code 10021 (validation), as Cloudflare answers a deployment or version it refuses.
fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(10021, message)
}

/// Keeps `doc`'s newest version (the last of its `versions`) with `parts`, and forgets the
/// snapshots of versions that are no longer listed.
pub(crate) fn keep(
    c: &Connection,
    scope: &Scope,
    name: &str,
    doc: &Value,
    new_parts: &[Part],
) -> Result<(), ApiError> {
    let listed: Vec<&str> = doc["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["id"].as_str())
        .collect();
    let Some(&newest) = listed.last() else {
        return Ok(());
    };
    let mut snapshot = doc.clone();
    if let Some(o) = snapshot.as_object_mut() {
        o.remove("versions");
        o.remove("deployments");
        o.insert("version_id".into(), json!(newest));
    }
    let id = key(scope, name, newest);
    docs::put(c, VERSION, &id, &snapshot)?;
    parts::replace(c, &id, new_parts)?;
    for old in docs::list(c, VERSION, &format!("{}#", scope.id(name)))? {
        let version = old["version_id"].as_str().unwrap_or("");
        if !listed.contains(&version) {
            let id = key(scope, name, version);
            docs::delete(c, VERSION, &id)?;
            parts::delete_all(c, &id)?;
        }
    }
    Ok(())
}

/// Forgets every version of script `name` (when the script is deleted).
pub(crate) fn forget_all(c: &Connection, scope: &Scope, name: &str) -> Result<(), ApiError> {
    for old in docs::list(c, VERSION, &format!("{}#", scope.id(name)))? {
        let id = key(scope, name, old["version_id"].as_str().unwrap_or(""));
        docs::delete(c, VERSION, &id)?;
        parts::delete_all(c, &id)?;
    }
    Ok(())
}

/// A deployment record as the API lists it.
fn deployment(versions: Value, annotations: Value, now: &str) -> Value {
    json!({
        "id": ids::uuid(),
        "source": "api",
        "strategy": "percentage",
        "author_email": "local@athanor.invalid",
        "created_on": now,
        "annotations": if annotations.is_object() { annotations } else { json!({}) },
        "versions": versions,
    })
}

/// Puts `d` first in `doc`'s deployments, keeping the [`MAX_DEPLOYMENTS`] most recent.
fn record(doc: &mut Value, d: Value) {
    let mut all = vec![d];
    all.extend(doc["deployments"].as_array().cloned().unwrap_or_default());
    all.truncate(MAX_DEPLOYMENTS);
    doc["deployments"] = Value::Array(all);
}

/// Records that an upload (`PUT …/scripts/{name}`) deployed its new version to all traffic.
pub(crate) fn record_upload(doc: &mut Value, previous: Option<&Value>, now: &str) {
    doc["deployments"] = previous
        .map(|p| p["deployments"].clone())
        .unwrap_or(Value::Null);
    let version = doc["deployment_id"].clone();
    record(
        doc,
        deployment(
            json!([{"version_id": version, "percentage": 100.0}]),
            Value::Null,
            now,
        ),
    );
}

/// The deployments of a script document, newest first (one, on its current version, for a
/// document stored before deployments were recorded).
pub(crate) fn deployments(doc: &Value) -> Value {
    match doc["deployments"].as_array() {
        Some(list) if !list.is_empty() => Value::Array(list.clone()),
        _ => json!([{
            "id": doc["deployment_id"],
            "source": "api",
            "strategy": "percentage",
            "author_email": "local@athanor.invalid",
            "created_on": doc["modified_on"],
            "annotations": {},
            "versions": [{"version_id": doc["deployment_id"], "percentage": 100.0}],
        }]),
    }
}

/// `POST …/versions`: validates `upload` like a deploying upload and keeps it as a new version of
/// the existing script `ctx.name`, without deploying it; answers the version. Durable Object
/// migrations are refused: they only apply with a deploying upload.
pub(crate) fn upload(
    c: &Connection,
    ctx: &UploadContext<'_>,
    upload: Upload,
) -> Result<Value, ApiError> {
    let mut live = scripts::require(c, ctx.scope, ctx.name)?;
    if upload
        .metadata
        .get("migrations")
        .is_some_and(|m| !m.is_null())
    {
        return Err(invalid(format!(
            "a version of '{}' cannot carry Durable Object migrations; deploy them with a script upload (PUT …/scripts/{})",
            ctx.name, ctx.name
        )));
    }
    let annotations = upload.metadata.get("annotations").cloned();
    let (mut doc, new_parts) = scripts::prepare_upload(c, ctx, upload)?;
    if let Some(a) = annotations.filter(Value::is_object)
        && let Some(last) = doc["versions"].as_array_mut().and_then(|v| v.last_mut())
    {
        last["annotations"] = a;
    }
    live["versions"] = doc["versions"].clone();
    scripts::save(c, ctx.scope, ctx.name, &live)?;
    keep(c, ctx.scope, ctx.name, &doc, &new_parts)?;
    Ok(doc["versions"]
        .as_array()
        .and_then(|v| v.last())
        .cloned()
        .unwrap_or(Value::Null))
}

/// The `versions` of a deployment request: one or two known, distinct versions whose
/// percentages (each above 0 and at most 100) add up to 100.
fn check_split(body: &Value, live: &Value) -> Result<Vec<(String, f64)>, ApiError> {
    match body["strategy"].as_str() {
        Some("percentage") => {}
        other => {
            return Err(invalid(format!(
                "unknown deployment strategy {other:?}: the only strategy is \"percentage\""
            )));
        }
    }
    let Some(items) = body["versions"].as_array().filter(|v| !v.is_empty()) else {
        return Err(invalid(
            "a deployment needs `versions`: [{version_id, percentage}]",
        ));
    };
    if items.len() > MAX_SPLIT {
        return Err(invalid(format!(
            "a deployment splits traffic between at most {MAX_SPLIT} versions, got {}",
            items.len()
        )));
    }
    let mut split = Vec::new();
    for v in items {
        let (Some(id), Some(share)) = (v["version_id"].as_str(), v["percentage"].as_f64()) else {
            return Err(invalid(
                "each deployed version needs a version_id and a percentage",
            ));
        };
        if !(0.01..=100.0).contains(&share) {
            return Err(invalid(format!(
                "version {id} has percentage {share}; use 0.01 to 100"
            )));
        }
        if split.iter().any(|(s, _): &(String, f64)| s == id) {
            return Err(invalid(format!("version {id} is listed twice")));
        }
        let known = live["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|k| k["id"] == id);
        if !known {
            return Err(ApiError::not_found(
                10007,
                format!(
                    "version '{id}' of Worker '{}' not found; list its versions to find the id",
                    live["id"].as_str().unwrap_or("")
                ),
            ));
        }
        split.push((id.to_owned(), share));
    }
    let total: f64 = split.iter().map(|(_, s)| s).sum();
    if (total - 100.0).abs() > 0.001 {
        return Err(invalid(format!(
            "the percentages add up to {total}; they must add up to 100"
        )));
    }
    Ok(split)
}

/// `POST …/deployments`: deploys one version, or splits traffic between two; the version with
/// the larger share becomes the script's content. Answers the deployment.
pub(crate) fn deploy(
    c: &Connection,
    scope: &Scope,
    name: &str,
    body: &Value,
    now: &str,
) -> Result<Value, ApiError> {
    let mut live = scripts::require(c, scope, name)?;
    let split = check_split(body, &live)?;
    let target = split
        .iter()
        .fold(None::<&(String, f64)>, |best, v| match best {
            Some(b) if b.1 >= v.1 => Some(b),
            _ => Some(v),
        })
        .map(|(id, _)| id.clone())
        .unwrap_or_default();
    if live["deployment_id"] != target.as_str() {
        let id = key(scope, name, &target);
        let Some(mut next) = docs::get(c, VERSION, &id)? else {
            return Err(invalid(format!(
                "the content of version {target} is no longer kept; upload it again"
            )));
        };
        // What belongs to the script rather than to a version stays as it is.
        for field in [
            "versions",
            "created_on",
            "tag",
            "subdomain",
            "classes",
            "migration_tag",
            "schedules",
        ] {
            next[field] = live[field].clone();
        }
        if let Some(o) = next.as_object_mut() {
            o.remove("version_id");
        }
        next["deployment_id"] = json!(target);
        next["modified_on"] = json!(now);
        next["deployments"] = live["deployments"].clone();
        parts::replace(c, &scope.id(name), &parts::all(c, &id)?)?;
        live = next;
    }
    let versions: Vec<Value> = split
        .iter()
        .map(|(id, share)| json!({"version_id": id, "percentage": share}))
        .collect();
    let d = deployment(Value::Array(versions), body["annotations"].clone(), now);
    if live["deployments"].as_array().is_none_or(|l| l.is_empty()) {
        live["deployments"] = deployments(&live);
    }
    record(&mut live, d.clone());
    scripts::save(c, scope, name, &live)?;
    Ok(d)
}
