//! One module per resource kind, each knowing its Cloudflare endpoints and nothing else.
//!
//! Every function takes the [`Client`](crate::Client) and the engine's
//! [`Desired`](athanor_core::provider::Desired) / [`Existing`](athanor_core::provider::Existing)
//! values, and returns the engine's [`ProviderError`] naming the resource, the failed step and
//! what to do.

pub(crate) mod dispatch_namespace;
pub(crate) mod durable_object;
pub(crate) mod kv_namespace;
pub(crate) mod r2_bucket;
pub(crate) mod secret;
pub(crate) mod secret_ref;
pub(crate) mod secrets_store;
pub(crate) mod worker;

use athanor_core::{Kind, ProviderError};

/// How a kind is named in messages.
pub(crate) fn label(kind: Kind) -> &'static str {
    match kind {
        Kind::KvNamespace => "KV namespace",
        Kind::R2Bucket => "R2 bucket",
        Kind::DurableObjectNamespace => "Durable Object class",
        Kind::SecretsStore => "Secrets Store",
        Kind::Secret | Kind::SecretRef => "Secrets Store secret",
        Kind::DispatchNamespace => "dispatch namespace",
        Kind::Worker => "Worker",
    }
}

/// `KV namespace "user-sessions" (KvNamespace "sessions")`: the physical and logical names.
pub(crate) fn describe(kind: Kind, id: &str, name: &str) -> String {
    format!("{} \"{name}\" ({kind} \"{id}\")", label(kind))
}

/// The error for properties of the wrong kind reaching a provider (an engine bug).
pub(crate) fn wrong_kind(expected: Kind, id: &str) -> ProviderError {
    ProviderError::Local {
        message: format!(
            "{expected} \"{id}\": the properties handed to the provider are not {expected} properties (a bug in the engine)"
        ),
    }
}
