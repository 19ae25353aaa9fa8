//! Versions and deployments of account Workers: list and get versions, upload a version without
//! deploying it, list deployments and deploy (or roll back to) a version. The model is in
//! `versions`.
//!
//! Sources: 10007 "Resource not found" (a Worker that does not exist) and 10021 "Script content
//! failed validation checks" (a deployment body it cannot read) are the spec's Workers
//! `x-cfLinkErrors` (reference/cloudflare-api.md §1.5). 100146 for an unknown version of a Worker
//! that exists: the API's answer to `GET …/versions/{id}` quoted in workers-sdk issue #14410
//! (wrangler reading a version it had just created), and the code alchemy-run/distilled matches
//! for the same call (`packages/cloudflare/patches/workers/getScriptVersion.json`, checked by its
//! tests against the live API). Version pages: default 10, at most 100 (the versions kept, see
//! `scripts::versions`); the spec gives `per_page` no bounds, so the default has no public source.

use axum::body::Bytes;
use axum::extract::{Path, Request};
use serde_json::{Value, json};

use super::{AppStateRef, Params, param};
use crate::envelope::{ApiError, ApiResult, ok, ok_with_info, paginate, parse_json};
use crate::scripts::{self, Scope, Script, versions};

type ScriptPath = Path<(String, String)>;

/// The account script `name`; 404 (10007) when there is none.
async fn require_script(state: &AppStateRef, name: String) -> Result<Script, ApiError> {
    state
        .store
        .tx(move |c| scripts::require(c, &Scope::Account, &name))
        .await
}

/// `GET …/versions`: `{items: [{id, number, metadata}]}`, newest first, one per upload.
pub(crate) async fn list_versions(
    state: AppStateRef,
    Path((_, name)): ScriptPath,
    q: Params,
) -> ApiResult {
    let doc = require_script(&state, name).await?;
    let mut items: Vec<Value> = doc
        .versions
        .iter()
        .map(|v| json!({"id": v.id, "number": v.number, "metadata": v.metadata}))
        .collect();
    items.reverse();
    let (page, info) = paginate(&items, param(&q, "page"), param(&q, "per_page"), 10, 100)?;
    ok_with_info(json!({"items": page}), info)
}

/// The code for a version the Worker does not have (see the module's sources).
const VERSION_NOT_FOUND: u32 = 100_146;

/// `GET …/versions/{version_id}`: one version with its resources; 404 (100146) when the Worker
/// has no such version, 404 (10007) when there is no such Worker.
pub(crate) async fn get_version(
    state: AppStateRef,
    Path((_, name, version)): Path<(String, String, String)>,
) -> ApiResult {
    let doc = require_script(&state, name).await?;
    match doc.versions.iter().find(|v| v.id == version) {
        Some(v) => ok(json!(v)),
        None => Err(ApiError::not_found(
            VERSION_NOT_FOUND,
            format!("version '{version}' of this Worker not found"),
        )),
    }
}

/// `POST …/versions`: a multipart upload (metadata + modules) kept as a new version of an
/// existing Worker, not deployed; answers the version with its resources.
pub(crate) async fn upload_version(
    state: AppStateRef,
    Path((_, name)): ScriptPath,
    q: Params,
    req: Request,
) -> ApiResult {
    let version =
        super::workers::store_upload(&state, Scope::Account, name, &q, req, versions::upload)
            .await?;
    let mut answer = json!(version);
    answer["startup_time_ms"] = json!(0);
    ok(answer)
}

/// `GET …/deployments`: `{deployments: [...]}`, the most recent first.
pub(crate) async fn list_deployments(state: AppStateRef, Path((_, name)): ScriptPath) -> ApiResult {
    let doc = require_script(&state, name).await?;
    ok(json!({"deployments": versions::deployments(&doc)}))
}

/// `POST …/deployments` with `{strategy: "percentage", versions: [{version_id, percentage}],
/// annotations?}`: deploys the versions; answers the deployment.
pub(crate) async fn create_deployment(
    state: AppStateRef,
    Path((_, name)): ScriptPath,
    body: Bytes,
) -> ApiResult {
    let body: Value = parse_json(&body, 10021, "deployment")?;
    let now = state.clock.rfc3339();
    let d = state
        .store
        .tx(move |c| versions::deploy(c, &Scope::Account, &name, &body, &now))
        .await?;
    ok(json!(d))
}
