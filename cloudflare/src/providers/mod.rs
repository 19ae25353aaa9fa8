//! One module per resource kind, each knowing its Cloudflare endpoints and nothing else.
//!
//! Every function takes the [`Client`], the engine's [`Desired`] with the properties of its own
//! kind, and what was deployed as a [`Deployed`] of its own kind: the dispatcher in
//! `provider.rs` matches the kinds once, so a module never checks them again. Each returns the
//! engine's [`ProviderError`] naming the resource, the failed step and what to do.

pub(crate) mod analytics_engine;
pub(crate) mod d1_database;
pub(crate) mod dispatch_namespace;
pub(crate) mod durable_object;
pub(crate) mod kv_namespace;
pub(crate) mod queue;
pub(crate) mod r2_bucket;
pub(crate) mod secret;
pub(crate) mod secret_ref;
pub(crate) mod secrets_store;
pub(crate) mod worker;

use athanor_core::provider::Desired;
use athanor_core::{Kind, ProviderError};
use serde::de::DeserializeOwned;

use crate::client::{Client, Request};
use crate::error::Error;

/// How a kind is named in messages.
pub(crate) fn label(kind: Kind) -> &'static str {
    match kind {
        Kind::KvNamespace => "KV namespace",
        Kind::R2Bucket => "R2 bucket",
        Kind::D1Database => "D1 database",
        Kind::AnalyticsEngineDataset => "Analytics Engine dataset",
        Kind::Queue => "queue",
        Kind::QueueConsumer => "consumer of a queue, the Worker",
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

/// What was deployed for one resource, typed by its kind: its recorded properties and output.
#[derive(Debug)]
pub(crate) struct Deployed<'a, P, O> {
    /// The logical id.
    pub id: &'a str,
    /// The properties last applied.
    pub props: &'a P,
    /// The output of the last apply.
    pub output: &'a O,
}

// By hand: a derive would ask `P` and `O` to be `Copy` too, where only references are copied.
impl<P, O> Clone for Deployed<'_, P, O> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P, O> Copy for Deployed<'_, P, O> {}

/// After a create was refused because the name is taken: go on and take the resource over only
/// with `adopt`, or when an earlier attempt of this create may have made it (a retry of a request
/// whose answer was lost, or an interrupted run's create being resumed); otherwise the error
/// saying that `what` is not ours.
pub(crate) fn may_adopt(d: &Desired<'_>, refused: &Error, what: &str) -> Result<(), ProviderError> {
    if d.adopt || d.resumed || refused.maybe_applied_before() {
        Ok(())
    } else {
        Err(ProviderError::AlreadyExists {
            what: what.to_owned(),
        })
    }
}

/// Deletes `what` with `req`; one already gone is fine.
pub(crate) async fn delete_if_exists(
    client: &Client,
    req: Request,
    what: &str,
) -> Result<(), ProviderError> {
    client
        .delete_if_exists(req)
        .await
        .map_err(|err| err.context(what, "deleting"))
}

/// Reads `what` back with `req`; `None` when it no longer exists.
pub(crate) async fn read_if_exists<T: DeserializeOwned>(
    client: &Client,
    req: Request,
    what: &str,
) -> Result<Option<T>, ProviderError> {
    client
        .get_if_exists::<T>(req)
        .await
        .map_err(|err| err.context(what, "reading"))
}
