//! The JSON a script is answered as: the script object of uploads and lists, its settings, and
//! its bindings with secret values never shown.

use serde_json::{Value, json};

use super::model::{Binding, Script};

/// The bindings as the API shows them: `secret_text` as `{name, type}` only.
pub(crate) fn public_bindings(script: &Script) -> Value {
    Value::Array(script.bindings.iter().map(Binding::public_json).collect())
}

/// The script as the upload answer and the scripts list show it.
pub(crate) fn view(script: &Script) -> Value {
    let mut v = json!({
        "id": script.id,
        "tag": script.tag,
        "etag": script.etag,
        "handlers": script.handlers,
        "named_handlers": [],
        "created_on": script.created_on,
        "modified_on": script.modified_on,
        "compatibility_date": script.compatibility_date,
        "compatibility_flags": script.compatibility_flags,
        "usage_model": script.usage_model,
        "logpush": script.logpush,
        "tags": script.tags,
        "tail_consumers": script.tail_consumers,
        "has_modules": script.has_modules,
        "has_assets": false,
        "startup_time_ms": 0,
        "deployment_id": script.deployment_id,
        "entry_point": script.entry(),
    });
    if let Some(tag) = &script.migration_tag {
        v["migration_tag"] = json!(tag);
    }
    if !script.observability.is_null() {
        v["observability"] = script.observability.clone();
    }
    if !script.placement.is_null() {
        v["placement"] = script.placement.clone();
    }
    v
}

/// The script's settings (`GET …/settings`).
pub(crate) fn settings(script: &Script) -> Value {
    json!({
        "bindings": public_bindings(script),
        "compatibility_date": script.compatibility_date,
        "compatibility_flags": script.compatibility_flags,
        "limits": script.limits,
        "logpush": script.logpush,
        "observability": script.observability,
        "placement": if script.placement.is_null() { json!({}) } else { script.placement.clone() },
        "tags": script.tags,
        "tail_consumers": script.tail_consumers,
        "usage_model": script.usage_model,
    })
}

/// The non-versioned settings (`GET …/script-settings`).
pub(crate) fn script_settings(script: &Script) -> Value {
    json!({
        "logpush": script.logpush,
        "observability": script.observability,
        "tags": script.tags,
        "tail_consumers": script.tail_consumers,
    })
}
