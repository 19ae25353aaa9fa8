//! The whole route table in one place: every path the emulator serves, and the middleware around
//! them (request counting, faults, authentication).

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post, put};

use crate::handlers::{
    accounts, admin, analytics_engine, d1, dispatch, kv, queues, r2, secrets_store, versions,
    workers,
};
use crate::state::AppState;

/// The prefix of the v4 API, as in `https://api.cloudflare.com/client/v4`.
pub const API_PREFIX: &str = "/client/v4";

/// The largest request body: a bulk KV write of 100 MB (reference/cloudflare-api.md §3) plus
/// multipart overhead. The 128 MiB is the emulator's own bound: no public source gives the API's.
const MAX_BODY_BYTES: usize = 128 * 1024 * 1024;

/// Builds the router: the v4 API under [`API_PREFIX`], the emulator's own controls under
/// `/__emulator`.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let api = v4_routes()
        .fallback(accounts::no_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(
            crate::envelope::wrap_bare_failures,
        ))
        .layer(from_fn_with_state(
            state.clone(),
            crate::workerd::track_script_changes,
        ))
        .layer(from_fn_with_state(state.clone(), crate::auth::require))
        .layer(from_fn_with_state(state.clone(), crate::faults::inject))
        .layer(from_fn_with_state(state.clone(), crate::stats::count));
    let admin = Router::new()
        .route(
            "/__emulator/stats",
            get(admin::get_stats).delete(admin::reset_stats),
        )
        .route("/__emulator/faults", put(admin::put_faults))
        .layer(from_fn_with_state(state.clone(), admin::require_token));
    // `nest_service` (not `nest`) so that unmatched paths under the prefix reach the API's own
    // fallback, through the same counting, faults and authentication.
    Router::new()
        .nest_service(API_PREFIX, api.with_state(state.clone()))
        .merge(admin)
        // D1 export and import files: a random name is the key, as in a signed URL.
        .route(
            &format!("{}/{{file}}", d1::FILES_PATH),
            get(d1::download)
                .put(d1::upload)
                .layer(DefaultBodyLimit::max(d1::MAX_FILE_BYTES)),
        )
        .with_state(state)
}

fn v4_routes() -> Router<Arc<AppState>> {
    const A: &str = "/accounts/{account_id}";
    let r = |p: &str| format!("{A}{p}");
    Router::new()
        // Accounts, users and tokens.
        .route("/accounts", get(accounts::list))
        .route(A, get(accounts::get).put(accounts::update))
        .route("/memberships", get(accounts::memberships))
        .route("/user", get(accounts::user))
        .route("/user/tokens/verify", get(accounts::verify_token))
        .route(&r("/tokens/verify"), get(accounts::verify_token))
        // Workers KV.
        .route(
            &r("/storage/kv/namespaces"),
            get(kv::list_namespaces).post(kv::create_namespace),
        )
        .route(
            &r("/storage/kv/namespaces/{namespace_id}"),
            get(kv::get_namespace)
                .put(kv::rename_namespace)
                .delete(kv::delete_namespace),
        )
        .route(
            &r("/storage/kv/namespaces/{namespace_id}/values/{*key_name}"),
            get(kv::get_value).put(kv::put_value).delete(kv::delete_value),
        )
        .route(
            &r("/storage/kv/namespaces/{namespace_id}/metadata/{*key_name}"),
            get(kv::get_metadata),
        )
        .route(
            &r("/storage/kv/namespaces/{namespace_id}/keys"),
            get(kv::list_keys),
        )
        .route(
            &r("/storage/kv/namespaces/{namespace_id}/bulk"),
            put(kv::bulk_write).delete(kv::bulk_delete),
        )
        .route(
            &r("/storage/kv/namespaces/{namespace_id}/bulk/delete"),
            post(kv::bulk_delete),
        )
        .route(
            &r("/storage/kv/namespaces/{namespace_id}/bulk/get"),
            post(kv::bulk_get),
        )
        // R2 buckets.
        .route(&r("/r2/buckets"), get(r2::list).post(r2::create))
        .route(
            &r("/r2/buckets/{bucket_name}"),
            get(r2::get).patch(r2::patch).delete(r2::delete),
        )
        .route(
            &r("/r2/buckets/{bucket_name}/objects/{*object_key}"),
            get(r2::get_object)
                .put(r2::put_object)
                .delete(r2::delete_object),
        )
        .route(
            &r("/r2/buckets/{bucket_name}/cors"),
            get(r2::settings::get_cors)
                .put(r2::settings::put_cors)
                .delete(r2::settings::delete_cors),
        )
        .route(
            &r("/r2/buckets/{bucket_name}/lifecycle"),
            get(r2::settings::get_lifecycle).put(r2::settings::put_lifecycle),
        )
        .route(
            &r("/r2/buckets/{bucket_name}/domains/managed"),
            get(r2::settings::get_managed_domain).put(r2::settings::put_managed_domain),
        )
        .route(
            &r("/r2/buckets/{bucket_name}/domains/custom"),
            get(r2::settings::list_custom_domains),
        )
        // D1.
        .route(&r("/d1/database"), get(d1::list).post(d1::create))
        .route(
            &r("/d1/database/{database_id}"),
            get(d1::get)
                .put(d1::update)
                .patch(d1::edit)
                .delete(d1::delete),
        )
        .route(&r("/d1/database/{database_id}/query"), post(d1::query))
        .route(&r("/d1/database/{database_id}/raw"), post(d1::raw))
        .route(&r("/d1/database/{database_id}/export"), post(d1::export))
        .route(&r("/d1/database/{database_id}/import"), post(d1::import))
        // Workers Analytics Engine.
        .route(&r("/analytics_engine/sql"), post(analytics_engine::sql))
        // Queues.
        .route(&r("/queues"), get(queues::list).post(queues::create))
        .route(
            &r("/queues/{queue_id}"),
            get(queues::get)
                .put(queues::update)
                .patch(queues::edit)
                .delete(queues::delete),
        )
        .route(&r("/queues/{queue_id}/metrics"), get(queues::metrics))
        .route(
            &r("/queues/{queue_id}/purge"),
            get(queues::purge_status).post(queues::purge),
        )
        .route(
            &r("/queues/{queue_id}/consumers"),
            get(queues::list_consumers).post(queues::create_consumer),
        )
        .route(
            &r("/queues/{queue_id}/consumers/{consumer_id}"),
            get(queues::get_consumer)
                .put(queues::update_consumer)
                .delete(queues::delete_consumer),
        )
        .route(&r("/queues/{queue_id}/messages"), post(queues::push_message))
        .route(
            &r("/queues/{queue_id}/messages/batch"),
            post(queues::push_batch),
        )
        .route(
            &r("/workers/scripts/{script_name}/queue-consumers"),
            get(queues::script_consumers),
        )
        // Workers scripts, subdomains, services and Durable Objects.
        .route(&r("/workers/scripts"), get(workers::list))
        .route(
            &r("/workers/scripts/{script_name}"),
            get(workers::download)
                .put(workers::upload)
                .delete(workers::delete),
        )
        .route(
            &r("/workers/scripts/{script_name}/content"),
            put(workers::put_content),
        )
        .route(
            &r("/workers/scripts/{script_name}/content/v2"),
            get(workers::get_content),
        )
        .route(
            &r("/workers/scripts/{script_name}/settings"),
            get(workers::get_settings).patch(workers::patch_settings),
        )
        .route(
            &r("/workers/scripts/{script_name}/script-settings"),
            get(workers::get_script_settings).patch(workers::patch_script_settings),
        )
        .route(
            &r("/workers/scripts/{script_name}/versions"),
            get(versions::list_versions).post(versions::upload_version),
        )
        .route(
            &r("/workers/scripts/{script_name}/versions/{version_id}"),
            get(versions::get_version),
        )
        .route(
            &r("/workers/scripts/{script_name}/usage-model"),
            get(workers::get_usage_model).put(workers::put_usage_model),
        )
        .route(
            &r("/workers/scripts/{script_name}/schedules"),
            get(workers::get_schedules).put(workers::put_schedules),
        )
        .route(
            &r("/workers/scripts/{script_name}/deployments"),
            get(versions::list_deployments).post(versions::create_deployment),
        )
        .route(
            &r("/workers/scripts/{script_name}/subdomain"),
            get(workers::get_script_subdomain)
                .post(workers::set_script_subdomain)
                .delete(workers::disable_script_subdomain),
        )
        .route(
            &r("/workers/scripts/{script_name}/secrets"),
            get(workers::list_secrets).put(workers::put_secret),
        )
        .route(
            &r("/workers/scripts/{script_name}/secrets/{secret_name}"),
            get(workers::get_secret).delete(workers::delete_secret),
        )
        .route(
            &r("/workers/subdomain"),
            get(workers::get_account_subdomain).put(workers::put_account_subdomain),
        )
        .route(&r("/workers/services/{service_name}"), get(workers::service))
        .route(
            &r("/workers/durable_objects/namespaces"),
            get(workers::durable_object_namespaces),
        )
        .route(
            &r("/workers/durable_objects/namespaces/{id}/objects"),
            get(workers::durable_objects),
        )
        // Secrets Store.
        .route(
            &r("/secrets_store/stores"),
            get(secrets_store::list_stores).post(secrets_store::create_store),
        )
        .route(
            &r("/secrets_store/stores/{store_id}"),
            get(secrets_store::get_store).delete(secrets_store::delete_store),
        )
        .route(
            &r("/secrets_store/stores/{store_id}/secrets"),
            get(secrets_store::list_secrets)
                .post(secrets_store::create_secrets)
                .delete(secrets_store::delete_secrets),
        )
        .route(
            &r("/secrets_store/stores/{store_id}/secrets/{secret_id}"),
            get(secrets_store::get_secret)
                .patch(secrets_store::patch_secret)
                .delete(secrets_store::delete_secret),
        )
        .route(
            &r("/secrets_store/stores/{store_id}/secrets/{secret_id}/duplicate"),
            post(secrets_store::duplicate_secret),
        )
        .route(&r("/secrets_store/quota"), get(secrets_store::quota))
        // Workers for Platforms.
        .route(
            &r("/workers/dispatch/namespaces"),
            get(dispatch::list).post(dispatch::create),
        )
        .route(
            &r("/workers/dispatch/namespaces/{dispatch_namespace}"),
            get(dispatch::get).put(dispatch::rename).delete(dispatch::delete),
        )
        .route(
            &r("/workers/dispatch/namespaces/{dispatch_namespace}/scripts/{script_name}"),
            get(dispatch::get_script)
                .put(workers::upload)
                .delete(workers::delete),
        )
        .route(
            &r("/workers/dispatch/namespaces/{dispatch_namespace}/scripts/{script_name}/bindings"),
            get(dispatch::bindings),
        )
        .route(
            &r("/workers/dispatch/namespaces/{dispatch_namespace}/scripts/{script_name}/content"),
            get(workers::get_content).put(workers::put_content),
        )
        .route(
            &r("/workers/dispatch/namespaces/{dispatch_namespace}/scripts/{script_name}/settings"),
            get(workers::get_settings).patch(workers::patch_settings),
        )
        .route(
            &r("/workers/dispatch/namespaces/{dispatch_namespace}/scripts/{script_name}/secrets"),
            get(workers::list_secrets).put(workers::put_secret),
        )
        .route(
            &r("/workers/dispatch/namespaces/{dispatch_namespace}/scripts/{script_name}/tags"),
            get(dispatch::get_tags).put(dispatch::put_tags),
        )
        .route(
            &r("/workers/dispatch/namespaces/{dispatch_namespace}/scripts/{script_name}/tags/{tag}"),
            put(dispatch::put_tag).delete(dispatch::delete_tag),
        )
}
