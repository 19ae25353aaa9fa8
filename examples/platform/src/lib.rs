//! A Workers for Platforms backend: customers are onboarded, changed and offboarded at run time,
//! through an HTTP API, each from one checked `infra!` tenant template.
//!
//! The platform's own stack ([`platform`]: the dispatch namespace and the dispatcher Worker) is
//! deployed once, with `platform deploy`. Each customer is then a tenant ([`customer`]): a KV
//! namespace, an R2 bucket and their Worker in the namespace, applied by
//! [`athanor::runtime::Tenants`], which keeps each tenant's state apart (one stage each) and sends
//! every tenant's requests through one client, so many onboardings at once stay within
//! Cloudflare's rate limit. An unchanged tenant applied again sends no request at all.
//!
//! The API ([`router`]):
//!
//! | request | answer |
//! |---|---|
//! | `POST /tenants/{id}` `{"plan": "free"\|"pro", "code": "<ES module>"}` | 200: what changed and the tenant's outputs |
//! | `GET /tenants/{id}` | 200: the tenant's outputs; 404 for no such tenant |
//! | `DELETE /tenants/{id}` | 200: what was deleted; 404 for no such tenant |
//! | `GET /tenants` | 200: `{"tenants": [ids]}` |
//!
//! `code` is optional: without it the customer runs [`DEFAULT_CUSTOMER_WORKER`]. Every error is
//! JSON `{"error": "..."}`: 400 for an id that is not a tenant id (with the rule and a
//! `suggestion`) or a body that is not the JSON above, 409 while another apply of the same tenant
//! holds its lock, 422 for a name Cloudflare would refuse (found before any request), 502 when
//! Cloudflare (or the emulator) refused or failed part of the apply, 500 for anything else (the
//! state store unreachable, ...). The message is the runtime's report, which names the resource
//! and the reason and never holds a secret; what did get applied is recorded, so sending the same
//! request again resumes where it stopped.
//!
//! The API has no authentication: `platform serve` listens on loopback only. Put it behind your
//! own before exposing it.

pub mod customer;
pub mod platform;

use std::sync::Arc;

use athanor::model::inline_code::InlineCode;
use athanor::model::{Provider, TenantId};
use athanor::runtime::{Applied, Error, Tenants, TenantsOptions};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

/// The Worker a customer runs until they send their own code: it answers with the welcome seeded
/// into its own KV namespace and its plan, so a new customer works from the first request.
pub const DEFAULT_CUSTOMER_WORKER: &str = include_str!("default-customer.js");

/// A customer's plan, bound to their Worker as `PLAN` (`"free"` or `"pro"`), so their code can
/// read which features they paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    /// The free plan.
    Free,
    /// The paid plan.
    Pro,
}

impl Plan {
    /// The plan as the Worker's `PLAN` binding reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
        }
    }
}

/// The body of `POST /tenants/{id}`: the customer's plan and, optionally, their Worker's code (one
/// JavaScript ES module).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Onboarding {
    /// The customer's plan.
    pub plan: Plan,
    /// The source of the customer's Worker, an ES module with a default export; `None` runs
    /// [`DEFAULT_CUSTOMER_WORKER`].
    #[serde(default)]
    pub code: Option<String>,
}

/// The tenants of this platform, applied through `provider` (share one: its client carries the
/// account's rate limit). The app is the platform stack's, which the customer template shares, so
/// tenants' state sits beside the platform's.
pub fn tenants(provider: Arc<dyn Provider>, options: TenantsOptions) -> Tenants {
    Tenants::new(platform::stack().app, provider, options)
}

/// The stack of customer `id` on `onboarding`'s plan, running their code (or the default Worker).
pub fn customer_stack(id: &TenantId, onboarding: &Onboarding) -> athanor::Stack {
    let source = onboarding
        .code
        .as_deref()
        .unwrap_or(DEFAULT_CUSTOMER_WORKER);
    customer::tenant(id, onboarding.plan.as_str(), InlineCode::javascript(source))
}

/// The tenants API over `tenants` (see the module documentation).
pub fn router(tenants: Arc<Tenants>) -> Router {
    Router::new()
        .route("/tenants", get(list))
        .route("/tenants/{id}", get(outputs).post(onboard).delete(offboard))
        .with_state(tenants)
}

/// An error answer: a status and a JSON body `{"error": message, ...}`.
struct ApiError {
    status: StatusCode,
    body: Value,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: json!({ "error": message.into() }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

/// The runtime's error as an answer: its one-line report, with the status that says whose
/// fault it is.
impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        let status = match &error {
            // Another request is applying this tenant right now: try again after it.
            Error::Locked { .. } | Error::LockLost { .. } | Error::StateConflict { .. } => {
                StatusCode::CONFLICT
            }
            // The request makes a name Cloudflare refuses; nothing was sent.
            Error::InvalidName { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            // Cloudflare refused or failed a step (the customer's code, a name taken, an
            // outage): the message says which resource and why.
            Error::Provider { .. } | Error::Failed { .. } => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.report())
    }
}

/// `id` as a tenant id, or a 400 with the rule and a close id that follows it.
fn tenant_id(id: &str) -> Result<TenantId, ApiError> {
    TenantId::new(id).map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        body: json!({
            "error": format!("{id:?} is not a tenant id: {}", e.reason),
            "suggestion": e.suggestion,
        }),
    })
}

/// What `apply` did, as JSON.
fn applied_json(id: &TenantId, applied: &Applied) -> Value {
    let s = &applied.summary;
    json!({
        "tenant": id.as_str(),
        "summary": {
            "created": s.create,
            "updated": s.update,
            "replaced": s.replace,
            "deleted": s.delete,
            "kept": s.keep,
        },
        "outputs": applied.outputs,
    })
}

/// `POST /tenants/{id}`: onboards the tenant, or brings it to the plan and code sent.
async fn onboard(
    State(tenants): State<Arc<Tenants>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<axum::Json<Value>, ApiError> {
    let id = tenant_id(&id)?;
    let onboarding: Onboarding = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the body is not {{\"plan\": \"free\" | \"pro\", \"code\": \"<JavaScript ES module>\"}}: {e}"
            ),
        )
    })?;
    let applied = tenants.apply(&id, customer_stack(&id, &onboarding)).await?;
    Ok(axum::Json(applied_json(&id, &applied)))
}

/// `GET /tenants/{id}`: the tenant's outputs as recorded.
async fn outputs(
    State(tenants): State<Arc<Tenants>>,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let id = tenant_id(&id)?;
    let outputs = tenants.outputs(&id).await?;
    if outputs.is_empty() {
        return Err(no_tenant(&id));
    }
    Ok(axum::Json(
        json!({ "tenant": id.as_str(), "outputs": outputs }),
    ))
}

/// `DELETE /tenants/{id}`: deletes everything the tenant has (the shared namespace stays).
async fn offboard(
    State(tenants): State<Arc<Tenants>>,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let id = tenant_id(&id)?;
    let report = tenants.remove(&id).await?;
    if report.deleted.is_empty() && report.forgotten.is_empty() {
        return Err(no_tenant(&id));
    }
    Ok(axum::Json(json!({
        "tenant": id.as_str(),
        "deleted": report.deleted,
        "kept": report.forgotten,
    })))
}

/// `GET /tenants`: the ids of the tenants that have state, sorted.
async fn list(State(tenants): State<Arc<Tenants>>) -> Result<axum::Json<Value>, ApiError> {
    let ids: Vec<String> = tenants
        .list()
        .await?
        .into_iter()
        .map(|id| id.to_string())
        .collect();
    Ok(axum::Json(json!({ "tenants": ids })))
}

fn no_tenant(id: &TenantId) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no tenant `{id}`"))
}
