//! Worker versions and deployments.
//!
//! Every upload is kept as a version: a snapshot of the script document and of its module parts.
//! A version uploaded without deploying (`POST …/versions`) changes nothing that runs; a
//! deployment (`POST …/deployments`) makes a version the one that runs, which is also how a
//! rollback to an earlier version works. The script document itself is always the deployed
//! version; it carries the list of versions (newest last) and of deployments (newest first).
//!
//! A deployment may split traffic between two versions; the local runtime runs one version per
//! script, so the version with the larger share becomes the script's content and the split is
//! recorded as sent.
//!
//! Sources: 10021 "Script content failed validation checks" and 10007 "Resource not found" are the
//! spec's Workers `x-cfLinkErrors` (reference/cloudflare-api.md §1.5); a deployment naming a
//! version the Worker does not have keeps 10007, since what Cloudflare answers there is not
//! public (reading such a version answers 100146, `handlers::versions`). A deployment has one or
//! two versions (`developers.cloudflare.com/workers/configuration/versions-and-deployments`); each
//! share is 0.01 to 100 (the spec's `workers_deployments-strategy-percentage`,
//! reference/cloudflare-openapi-subset.json); that the shares add up to 100 is the emulator's
//! check, no public source. Ten deployments are listed: `wrangler deployments list` shows the 10
//! most recent (wrangler 2.13.0 release notes).

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::model::{Binding, DeployedVersion, Deployment, Script, Version};
use super::{Scope, Upload, UploadContext};
use crate::envelope::ApiError;
use crate::ids;
use crate::store::{Part, docs, parts};

/// Document kind of version snapshots; ids are `{script storage id}#{version id}`.
const VERSION: &str = "worker_version";
/// Deployments listed per script: the API's `GET …/deployments` shows the 10 most recent (what
/// `wrangler deployments list` shows, per its 2.13.0 release notes).
pub(crate) const MAX_DEPLOYMENTS: usize = 10;
/// Most versions one deployment may split traffic between ("one or two versions",
/// `workers/configuration/versions-and-deployments`).
const MAX_SPLIT: usize = 2;

/// A kept version: the script document as that upload stored it.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    version_id: String,
    #[serde(flatten)]
    script: Script,
}

/// The storage id of version `version` of script `name` (for its snapshot and its parts).
fn key(scope: &Scope, name: &str, version: &str) -> String {
    format!("{}#{version}", scope.id(name))
}

/// 400 with code 10021 (validation), as Cloudflare answers a deployment or version it refuses.
fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(10021, message)
}

fn snapshots(c: &Connection, scope: &Scope, name: &str) -> Result<Vec<String>, ApiError> {
    Ok(docs::list(c, VERSION, &format!("{}#", scope.id(name)))?
        .into_iter()
        .filter_map(|d| d["version_id"].as_str().map(str::to_owned))
        .collect())
}

/// Keeps `script`'s newest version (the last of its `versions`) with `code`, and forgets the
/// snapshots of versions that are no longer listed.
pub(crate) fn keep(
    c: &Connection,
    scope: &Scope,
    script: &Script,
    code: &[Part],
) -> Result<(), ApiError> {
    let Some(newest) = script.versions.last() else {
        return Ok(());
    };
    let snapshot = Snapshot {
        version_id: newest.id.clone(),
        script: Script {
            versions: Vec::new(),
            deployments: Vec::new(),
            ..script.clone()
        },
    };
    let id = key(scope, &script.id, &newest.id);
    let doc = serde_json::to_value(&snapshot).expect("a snapshot serializes");
    docs::put(c, VERSION, &id, &doc)?;
    parts::replace(c, &id, code)?;
    for old in snapshots(c, scope, &script.id)? {
        if !script.versions.iter().any(|v| v.id == old) {
            let id = key(scope, &script.id, &old);
            docs::delete(c, VERSION, &id)?;
            parts::delete_all(c, &id)?;
        }
    }
    Ok(())
}

/// Forgets every version of script `name` (when the script is deleted).
pub(crate) fn forget_all(c: &Connection, scope: &Scope, name: &str) -> Result<(), ApiError> {
    for old in snapshots(c, scope, name)? {
        let id = key(scope, name, &old);
        docs::delete(c, VERSION, &id)?;
        parts::delete_all(c, &id)?;
    }
    Ok(())
}

/// A deployment record as the API lists it.
fn deployment(versions: Vec<DeployedVersion>, annotations: Value, now: &str) -> Deployment {
    Deployment {
        id: ids::uuid(),
        source: "api".into(),
        strategy: "percentage".into(),
        author_email: "local@athanor.invalid".into(),
        created_on: now.to_owned(),
        annotations: if annotations.is_object() {
            annotations
        } else {
            json!({})
        },
        versions,
        extra: Map::new(),
    }
}

/// Puts `d` first in `script`'s deployments, keeping the [`MAX_DEPLOYMENTS`] most recent.
fn record(script: &mut Script, d: Deployment) {
    script.deployments.insert(0, d);
    script.deployments.truncate(MAX_DEPLOYMENTS);
}

/// Records that an upload (`PUT …/scripts/{name}`) deployed its new version to all traffic.
pub(crate) fn record_upload(script: &mut Script, previous: Option<&Script>, now: &str) {
    script.deployments = previous.map(|p| p.deployments.clone()).unwrap_or_default();
    let all = vec![DeployedVersion {
        version_id: script.deployment_id.clone(),
        percentage: 100.0,
    }];
    record(script, deployment(all, Value::Null, now));
}

/// Makes a new version of `script` from its newest one, with its present bindings and the same
/// code, and deploys it to all traffic, as Cloudflare does when something other than an upload
/// changes a script (`triggered_by`: `secret` for a secret put or delete). Returns whether there was a
/// version to start from (a script stored before versions were kept has none).
pub(crate) fn record_change(script: &mut Script, triggered_by: &str, now: &str) -> bool {
    let Some(mut version) = script.versions.last().cloned() else {
        return false;
    };
    version.id = ids::uuid();
    version.metadata["created_on"] = json!(now);
    version.metadata["modified_on"] = json!(now);
    version.resources["bindings"] = json!(
        script
            .bindings
            .iter()
            .map(Binding::public_json)
            .collect::<Vec<_>>()
    );
    version.annotations = Some(json!({"workers/triggered_by": triggered_by}));
    script.deployment_id = version.id.clone();
    let all = vec![DeployedVersion {
        version_id: version.id.clone(),
        percentage: 100.0,
    }];
    super::upload::push_version(&mut script.versions, version);
    record(script, deployment(all, Value::Null, now));
    true
}

/// The deployments of a script, newest first (one, on its current version, for a document
/// stored before deployments were recorded).
pub(crate) fn deployments(script: &Script) -> Vec<Deployment> {
    if !script.deployments.is_empty() {
        return script.deployments.clone();
    }
    let mut only = deployment(
        vec![DeployedVersion {
            version_id: script.deployment_id.clone(),
            percentage: 100.0,
        }],
        Value::Null,
        &script.modified_on,
    );
    only.id = script.deployment_id.clone();
    vec![only]
}

/// `POST …/versions`: validates `upload` like a deploying upload and keeps it as a new version of
/// the existing script `ctx.name`, without deploying it; answers the version. Durable Object
/// migrations are refused: they only apply with a deploying upload.
pub(crate) fn upload(
    c: &Connection,
    ctx: &UploadContext<'_>,
    upload: Upload,
) -> Result<Version, ApiError> {
    let mut live = super::require(c, ctx.scope, ctx.name)?;
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
    let annotations = upload
        .metadata
        .get("annotations")
        .cloned()
        .filter(Value::is_object);
    let (mut script, code) = super::upload::prepare_upload(c, ctx, upload)?;
    if let Some(last) = script.versions.last_mut() {
        last.annotations = annotations;
    }
    live.versions = script.versions.clone();
    super::save(c, ctx.scope, &live)?;
    keep(c, ctx.scope, &script, &code)?;
    Ok(script
        .versions
        .pop()
        .expect("prepare_upload appends a version"))
}

/// The `versions` of a deployment request: one or two known, distinct versions whose
/// percentages (each above 0 and at most 100) add up to 100.
fn check_split(body: &Value, live: &Script) -> Result<Vec<DeployedVersion>, ApiError> {
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
    let mut split: Vec<DeployedVersion> = Vec::new();
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
        if split.iter().any(|s| s.version_id == id) {
            return Err(invalid(format!("version {id} is listed twice")));
        }
        if !live.versions.iter().any(|k| k.id == id) {
            return Err(ApiError::not_found(
                10007,
                format!(
                    "version '{id}' of Worker '{}' not found; list its versions to find the id",
                    live.id
                ),
            ));
        }
        split.push(DeployedVersion {
            version_id: id.to_owned(),
            percentage: share,
        });
    }
    let total: f64 = split.iter().map(|s| s.percentage).sum();
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
) -> Result<Deployment, ApiError> {
    let mut live = super::require(c, scope, name)?;
    let split = check_split(body, &live)?;
    let target = split
        .iter()
        .fold(None::<&DeployedVersion>, |best, v| match best {
            Some(b) if b.percentage >= v.percentage => Some(b),
            _ => Some(v),
        })
        .map(|v| v.version_id.clone())
        .unwrap_or_default();
    if live.deployment_id != target {
        let id = key(scope, name, &target);
        let Some(doc) = docs::get(c, VERSION, &id)? else {
            return Err(invalid(format!(
                "the content of version {target} is no longer kept; upload it again"
            )));
        };
        let snapshot: Snapshot = serde_json::from_value(doc).map_err(|e| {
            ApiError::internal(format!("a kept version in the database is corrupt: {e}"))
        })?;
        // What belongs to the script rather than to a version stays as it is.
        live = Script {
            versions: live.versions,
            created_on: live.created_on,
            tag: live.tag,
            subdomain: live.subdomain,
            classes: live.classes,
            migration_tag: live.migration_tag,
            schedules: live.schedules,
            deployments: live.deployments,
            deployment_id: target,
            modified_on: now.to_owned(),
            ..snapshot.script
        };
        parts::replace(c, &scope.id(name), &parts::all(c, &id)?)?;
    }
    let d = deployment(split, body["annotations"].clone(), now);
    if live.deployments.is_empty() {
        live.deployments = deployments(&live);
    }
    record(&mut live, d.clone());
    super::save(c, scope, &live)?;
    Ok(d)
}
