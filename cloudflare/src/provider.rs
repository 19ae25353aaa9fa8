//! [`CloudflareProvider`]: the engine's [`Provider`], dispatching each call on the resource's
//! kind to its module under `providers/`.
//!
//! The properties and the output are matched here, once (`Typed::of`): each module function
//! receives the values of its own kind (the properties to apply, and what was deployed as a
//! `Deployed`), and values of disagreeing kinds stop there, with the one `mismatch` error.

use athanor_core::output::{
    AnalyticsEngineDatasetOutput, D1DatabaseOutput, DispatchNamespaceOutput,
    DurableObjectNamespaceOutput, KvNamespaceOutput, QueueConsumerOutput, QueueOutput,
    R2BucketOutput, SecretOutput, SecretsStoreOutput, WorkerOutput,
};
use athanor_core::provider::{Applying, BoxFuture, Desired, Existing, Prepared};
use athanor_core::stack::{
    AnalyticsEngineDataset, D1Database, DispatchNamespace, DurableObjectNamespace, KvNamespace,
    Queue, QueueConsumer, R2Bucket, Secret, SecretRef, SecretsStore, Worker,
};
use athanor_core::{Kind, Output, Props, Provider, ProviderError};

use crate::client::Client;
use crate::providers::secrets_store::DefaultStoreCache;
use crate::providers::{
    Deployed, analytics_engine, d1_database, dispatch_namespace, durable_object, kv_namespace,
    queue, r2_bucket, secret, secret_ref, secrets_store, worker,
};

/// Creates, updates, reads and deletes every kind of resource through the Cloudflare v4 API.
#[derive(Debug)]
pub struct CloudflareProvider {
    client: Client,
    default_store: DefaultStoreCache,
}

impl CloudflareProvider {
    /// A provider working through `client` (and its account).
    pub fn new(client: Client) -> CloudflareProvider {
        CloudflareProvider {
            client,
            default_store: DefaultStoreCache::default(),
        }
    }

    /// The client the provider works through.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// One call's values typed by their kind: the properties to apply (the desired ones in an
/// update, the recorded ones otherwise) and what was deployed, so that no module matches them
/// again.
#[derive(Debug)]
enum Typed<'a> {
    KvNamespace(Call<'a, KvNamespace, KvNamespaceOutput>),
    R2Bucket(Call<'a, R2Bucket, R2BucketOutput>),
    D1Database(Call<'a, D1Database, D1DatabaseOutput>),
    AnalyticsEngineDataset(Call<'a, AnalyticsEngineDataset, AnalyticsEngineDatasetOutput>),
    Queue(Call<'a, Queue, QueueOutput>),
    QueueConsumer(Call<'a, QueueConsumer, QueueConsumerOutput>),
    DurableObjectNamespace(Call<'a, DurableObjectNamespace, DurableObjectNamespaceOutput>),
    SecretsStore(Call<'a, SecretsStore, SecretsStoreOutput>),
    Secret(Call<'a, Secret, SecretOutput>),
    SecretRef(Call<'a, SecretRef, SecretOutput>),
    DispatchNamespace(Call<'a, DispatchNamespace, DispatchNamespaceOutput>),
    Worker(Call<'a, Worker, WorkerOutput>),
}

/// The properties a call applies, and what was deployed, of one kind.
#[derive(Debug)]
struct Call<'a, P, O>(&'a P, Deployed<'a, P, O>);

impl<'a> Typed<'a> {
    /// What was deployed, typed by its kind, with its recorded properties to apply (for a delete
    /// or a read).
    fn recorded(e: Existing<'a>) -> Result<Typed<'a>, ProviderError> {
        Typed::of(e.props, e)
    }

    /// `apply` and what was deployed, typed by their kind; the one place where values of
    /// disagreeing kinds are caught, as a [`mismatch`].
    fn of(apply: &'a Props, e: Existing<'a>) -> Result<Typed<'a>, ProviderError> {
        let id = e.id;
        Ok(match (apply, e.props, e.output) {
            (Props::KvNamespace(p), Props::KvNamespace(props), Output::KvNamespace(output)) => {
                Typed::KvNamespace(Call(p, Deployed { id, props, output }))
            }
            (Props::R2Bucket(p), Props::R2Bucket(props), Output::R2Bucket(output)) => {
                Typed::R2Bucket(Call(p, Deployed { id, props, output }))
            }
            (Props::D1Database(p), Props::D1Database(props), Output::D1Database(output)) => {
                Typed::D1Database(Call(p, Deployed { id, props, output }))
            }
            (
                Props::AnalyticsEngineDataset(p),
                Props::AnalyticsEngineDataset(props),
                Output::AnalyticsEngineDataset(output),
            ) => Typed::AnalyticsEngineDataset(Call(p, Deployed { id, props, output })),
            (Props::Queue(p), Props::Queue(props), Output::Queue(output)) => {
                Typed::Queue(Call(p, Deployed { id, props, output }))
            }
            (
                Props::QueueConsumer(p),
                Props::QueueConsumer(props),
                Output::QueueConsumer(output),
            ) => Typed::QueueConsumer(Call(p, Deployed { id, props, output })),
            (
                Props::DurableObjectNamespace(p),
                Props::DurableObjectNamespace(props),
                Output::DurableObjectNamespace(output),
            ) => Typed::DurableObjectNamespace(Call(p, Deployed { id, props, output })),
            (Props::SecretsStore(p), Props::SecretsStore(props), Output::SecretsStore(output)) => {
                Typed::SecretsStore(Call(p, Deployed { id, props, output }))
            }
            (Props::Secret(p), Props::Secret(props), Output::Secret(output)) => {
                Typed::Secret(Call(p, Deployed { id, props, output }))
            }
            (Props::SecretRef(p), Props::SecretRef(props), Output::SecretRef(output)) => {
                Typed::SecretRef(Call(p, Deployed { id, props, output }))
            }
            (
                Props::DispatchNamespace(p),
                Props::DispatchNamespace(props),
                Output::DispatchNamespace(output),
            ) => Typed::DispatchNamespace(Call(p, Deployed { id, props, output })),
            (Props::Worker(p), Props::Worker(props), Output::Worker(output)) => {
                Typed::Worker(Call(p, Deployed { id, props, output }))
            }
            (_, _, output) => return Err(mismatch(output.kind(), id)),
        })
    }
}

/// The error for values of disagreeing kinds reaching the provider (a bug in the engine): the
/// properties to apply, or those recorded, are not of the kind `expected` of the recorded output.
fn mismatch(expected: Kind, id: &str) -> ProviderError {
    ProviderError::Local {
        message: format!(
            "{expected} \"{id}\": the properties handed to the provider are not {expected} properties (a bug in the engine)"
        ),
    }
}

impl Provider for CloudflareProvider {
    fn account(&self) -> Option<String> {
        Some(self.client.account_id().to_owned())
    }

    fn check_credentials(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(self.client.credentials_problem())
    }

    fn fingerprint<'a>(
        &'a self,
        desired: &'a Desired<'a>,
    ) -> BoxFuture<'a, Result<Option<String>, ProviderError>> {
        Box::pin(async move {
            match &desired.resource.props {
                Props::Worker(p) => {
                    let modules = worker::collect_modules(desired, p).await?;
                    let hash = modules.content_hash();
                    // The deploy uploads what was hashed, and collects nothing again.
                    desired.memo.keep(&desired.resource.id, modules);
                    Ok(Some(hash))
                }
                Props::D1Database(p) => d1_database::fingerprint(desired, p),
                _ => Ok(None),
            }
        })
    }

    fn prepare<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        existing: Option<Existing<'a>>,
    ) -> BoxFuture<'a, Result<Prepared, ProviderError>> {
        Box::pin(async move {
            match &desired.resource.props {
                Props::Worker(p) => {
                    let previous = match existing.map(|e| e.output) {
                        Some(Output::Worker(o)) => Some(o),
                        _ => None,
                    };
                    worker::read_ahead(&self.client, desired, p, previous).await
                }
                _ => Ok(Prepared::default()),
            }
        })
    }

    fn start_create<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        prepared: Prepared,
    ) -> BoxFuture<'a, Result<Applying<'a>, ProviderError>> {
        Box::pin(async move {
            let (c, d) = (&self.client, desired);
            let done = Applying::done;
            match &d.resource.props {
                Props::KvNamespace(p) => kv_namespace::create(c, d, p).await,
                Props::R2Bucket(p) => r2_bucket::create(c, d, p).await,
                Props::D1Database(p) => d1_database::create(c, d, p).await.map(done),
                Props::AnalyticsEngineDataset(_) => Ok(done(analytics_engine::output(d))),
                Props::Queue(p) => queue::create(c, d, p).await.map(done),
                Props::QueueConsumer(p) => queue::create_consumer(c, d, p).await.map(done),
                Props::DurableObjectNamespace(p) => Ok(done(durable_object::output(p))),
                Props::SecretsStore(_) => secrets_store::create(c, d).await.map(done),
                Props::Secret(p) => secret::create(c, d, p, &self.default_store).await.map(done),
                Props::SecretRef(p) => secret_ref::resolve(c, d, p, &self.default_store)
                    .await
                    .map(done),
                Props::DispatchNamespace(_) => dispatch_namespace::create(c, d).await.map(done),
                Props::Worker(p) => worker::create(c, d, p, prepared).await,
            }
        })
    }

    fn start_update<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        existing: Existing<'a>,
        prepared: Prepared,
    ) -> BoxFuture<'a, Result<Applying<'a>, ProviderError>> {
        Box::pin(async move {
            let (c, d) = (&self.client, desired);
            let done = Applying::done;
            match Typed::of(&d.resource.props, existing)? {
                Typed::KvNamespace(Call(p, e)) => kv_namespace::update(c, d, p, e).await,
                Typed::R2Bucket(Call(p, e)) => r2_bucket::update(c, d, p, e).await,
                Typed::D1Database(Call(p, e)) => d1_database::update(c, d, p, e).await.map(done),
                Typed::AnalyticsEngineDataset(_) => Ok(done(analytics_engine::output(d))),
                Typed::Queue(Call(p, e)) => queue::update(c, d, p, e).await.map(done),
                Typed::QueueConsumer(Call(p, e)) => {
                    queue::update_consumer(c, d, p, e).await.map(done)
                }
                Typed::DurableObjectNamespace(Call(p, e)) => durable_object::update(p, e).map(done),
                Typed::SecretsStore(Call(_, e)) => Ok(done(secrets_store::update(e))),
                Typed::Secret(Call(p, e)) => secret::update(c, d, p, e).await.map(done),
                Typed::SecretRef(Call(p, _)) => secret_ref::resolve(c, d, p, &self.default_store)
                    .await
                    .map(done),
                Typed::DispatchNamespace(Call(_, e)) => Ok(done(dispatch_namespace::update(e))),
                Typed::Worker(Call(p, e)) => worker::update(c, d, p, e, prepared).await,
            }
        })
    }

    fn find<'a>(
        &'a self,
        desired: &'a Desired<'a>,
    ) -> BoxFuture<'a, Result<Option<Output>, ProviderError>> {
        Box::pin(async move {
            let (c, d) = (&self.client, desired);
            match &d.resource.props {
                Props::KvNamespace(_) => kv_namespace::find(c, d).await,
                Props::R2Bucket(p) => r2_bucket::find(c, d, p).await,
                Props::D1Database(_) => d1_database::find(c, d).await,
                Props::Queue(_) => queue::find(c, d).await,
                Props::SecretsStore(_) => secrets_store::find_made(c, d).await,
                Props::Secret(p) => secret::find_made(c, d, p, &self.default_store).await,
                Props::DispatchNamespace(_) => dispatch_namespace::find(c, d).await,
                Props::Worker(p) => worker::find(c, d, p).await,
                // Nothing at Cloudflare to delete (a class lives in its Worker, a dataset keeps its
                // data points, a reference names a secret not ours); a consumer goes with its
                // queue or its Worker.
                Props::DurableObjectNamespace(_)
                | Props::AnalyticsEngineDataset(_)
                | Props::SecretRef(_)
                | Props::QueueConsumer(_) => Ok(None),
            }
        })
    }

    fn delete<'a>(&'a self, existing: Existing<'a>) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let c = &self.client;
            match Typed::recorded(existing)? {
                Typed::KvNamespace(Call(_, e)) => kv_namespace::delete(c, e).await,
                Typed::R2Bucket(Call(_, e)) => r2_bucket::delete(c, e).await,
                Typed::D1Database(Call(_, e)) => d1_database::delete(c, e).await,
                // Cloudflare keeps written data points for their retention period; nothing to call.
                Typed::AnalyticsEngineDataset(_) => Ok(()),
                Typed::Queue(Call(_, e)) => queue::delete(c, e).await,
                Typed::QueueConsumer(Call(_, e)) => queue::delete_consumer(c, e).await,
                // Lives in its Worker's migrations; a SecretRef points at a secret not ours.
                Typed::DurableObjectNamespace(_) | Typed::SecretRef(_) => Ok(()),
                Typed::SecretsStore(Call(_, e)) => secrets_store::delete(c, e).await,
                Typed::Secret(Call(_, e)) => secret::delete(c, e).await,
                Typed::DispatchNamespace(Call(_, e)) => dispatch_namespace::delete(c, e).await,
                Typed::Worker(Call(_, e)) => worker::delete(c, e).await,
            }
        })
    }

    fn read<'a>(
        &'a self,
        existing: Existing<'a>,
    ) -> BoxFuture<'a, Result<Option<Output>, ProviderError>> {
        Box::pin(async move {
            let c = &self.client;
            match Typed::recorded(existing)? {
                Typed::KvNamespace(Call(_, e)) => kv_namespace::read(c, e).await,
                Typed::R2Bucket(Call(_, e)) => r2_bucket::read(c, e).await,
                Typed::D1Database(Call(_, e)) => d1_database::read(c, e).await,
                Typed::AnalyticsEngineDataset(Call(_, e)) => {
                    Ok(Some(Output::AnalyticsEngineDataset(e.output.clone())))
                }
                Typed::Queue(Call(_, e)) => queue::read(c, e).await,
                Typed::QueueConsumer(Call(_, e)) => queue::read_consumer(c, e).await,
                Typed::DurableObjectNamespace(Call(_, e)) => Ok(durable_object::read(e)),
                Typed::SecretsStore(Call(_, e)) => secrets_store::read(c, e).await,
                // A SecretRef reads like a Secret and keeps its own variant.
                Typed::Secret(Call(_, e)) => {
                    Ok(secret::read(c, Kind::Secret, e).await?.map(Output::Secret))
                }
                Typed::SecretRef(Call(_, e)) => Ok(secret::read(c, Kind::SecretRef, e)
                    .await?
                    .map(Output::SecretRef)),
                Typed::DispatchNamespace(Call(_, e)) => dispatch_namespace::read(c, e).await,
                Typed::Worker(Call(_, e)) => worker::read(c, e).await,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_disagreeing_kinds_stop_at_the_one_mismatch() {
        let kv = Props::KvNamespace(KvNamespace::default());
        let r2 = Props::R2Bucket(R2Bucket::default());
        let output = Output::KvNamespace(KvNamespaceOutput {
            id: "0123abcd".into(),
            title: "t".into(),
        });
        let existing = |props| Existing {
            id: "sessions",
            props,
            output: &output,
            delete: true,
        };
        assert!(matches!(
            Typed::recorded(existing(&kv)),
            Ok(Typed::KvNamespace(Call(_, Deployed { id: "sessions", .. })))
        ));
        assert!(matches!(
            Typed::of(&kv, existing(&kv)),
            Ok(Typed::KvNamespace(_))
        ));
        let expected = "KvNamespace \"sessions\": the properties handed to the provider are not KvNamespace properties (a bug in the engine)";
        // Recorded properties and output of different kinds.
        let err = Typed::recorded(existing(&r2)).unwrap_err();
        assert_eq!(err.to_string(), expected);
        // Desired properties of another kind than the recorded output, in an update.
        let err = Typed::of(&r2, existing(&kv)).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
}
