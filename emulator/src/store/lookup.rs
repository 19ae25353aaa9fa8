//! The document kinds of the resources other resources refer to, and the lookups that Worker
//! binding validation and the local runtime make across them, so that neither reaches into the
//! HTTP handlers of another product.

use rusqlite::Connection;
use serde_json::Value;

use super::docs;
use crate::envelope::ApiError;

/// Document kind of KV namespaces; ids are the namespace ids.
pub(crate) const KV_NAMESPACE: &str = "kv_namespace";
/// Document kind of R2 buckets; ids are `{jurisdiction}/{name}`.
pub(crate) const R2_BUCKET: &str = "r2_bucket";
/// Document kind of Secrets Store stores; ids are the store ids.
pub(crate) const SECRETS_STORE: &str = "secrets_store";
/// Document kind of Secrets Store secrets; ids are `{store id}/{secret id}`.
pub(crate) const SECRETS_STORE_SECRET: &str = "secrets_store_secret";
/// Document kind of dispatch namespaces; ids are the namespace names.
pub(crate) const DISPATCH_NAMESPACE: &str = "dispatch_namespace";
/// Document kind of D1 databases; ids are the database UUIDs.
pub(crate) const D1_DATABASE: &str = "d1_database";
/// Document kind of queues; ids are the queue ids (see `store::queues`).
pub(crate) const QUEUE: &str = "queue";

/// The storage id of bucket `name` in `jurisdiction` (`None` is the default jurisdiction).
pub(crate) fn r2_bucket_id(name: &str, jurisdiction: Option<&str>) -> String {
    format!("{}/{name}", jurisdiction.unwrap_or("default"))
}

/// Whether a KV namespace with this id exists.
pub(crate) fn kv_namespace_exists(c: &Connection, id: &str) -> Result<bool, ApiError> {
    Ok(docs::get(c, KV_NAMESPACE, id)?.is_some())
}

/// Whether bucket `name` exists in `jurisdiction` (`None` is the default jurisdiction).
pub(crate) fn r2_bucket_exists(
    c: &Connection,
    name: &str,
    jurisdiction: Option<&str>,
) -> Result<bool, ApiError> {
    Ok(docs::get(c, R2_BUCKET, &r2_bucket_id(name, jurisdiction))?.is_some())
}

/// The secret named `name` in Secrets Store `store`, if there is one.
pub(crate) fn secrets_store_secret(
    c: &Connection,
    store: &str,
    name: &str,
) -> Result<Option<Value>, ApiError> {
    if store.is_empty() || name.is_empty() {
        return Ok(None);
    }
    Ok(docs::list(c, SECRETS_STORE_SECRET, &format!("{store}/"))?
        .into_iter()
        .find(|s| s["name"] == name))
}

/// Whether a dispatch namespace with this name exists.
pub(crate) fn dispatch_namespace_exists(c: &Connection, name: &str) -> Result<bool, ApiError> {
    Ok(!name.is_empty() && docs::get(c, DISPATCH_NAMESPACE, name)?.is_some())
}

/// Whether a D1 database with this UUID exists.
pub(crate) fn d1_database_exists(c: &Connection, id: &str) -> Result<bool, ApiError> {
    Ok(!id.is_empty() && docs::get(c, D1_DATABASE, id)?.is_some())
}

/// Whether a queue with this name exists.
pub(crate) fn queue_exists(c: &Connection, name: &str) -> Result<bool, ApiError> {
    Ok(!name.is_empty() && docs::find(c, QUEUE, "queue_name", name)?.is_some())
}
