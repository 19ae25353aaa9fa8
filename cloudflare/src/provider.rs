//! [`CloudflareProvider`]: the engine's [`Provider`], dispatching each call on the resource's
//! kind to its module under `providers/`.

use athanor_core::provider::{BoxFuture, Desired, Existing};
use athanor_core::{Kind, Output, Provider, ProviderError};

use crate::client::Client;
use crate::providers::secrets_store::DefaultStoreCache;
use crate::providers::{
    dispatch_namespace, durable_object, kv_namespace, r2_bucket, secret, secret_ref, secrets_store,
    worker,
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

impl Provider for CloudflareProvider {
    fn account(&self) -> Option<String> {
        Some(self.client.account_id().to_owned())
    }

    fn fingerprint<'a>(
        &'a self,
        desired: &'a Desired<'a>,
    ) -> BoxFuture<'a, Result<Option<String>, ProviderError>> {
        Box::pin(async move {
            match desired.resource.kind() {
                Kind::Worker => Ok(Some(worker::collect_modules(desired).await?.content_hash())),
                _ => Ok(None),
            }
        })
    }

    fn create<'a>(
        &'a self,
        desired: &'a Desired<'a>,
    ) -> BoxFuture<'a, Result<Output, ProviderError>> {
        Box::pin(async move {
            let c = &self.client;
            match desired.resource.kind() {
                Kind::KvNamespace => kv_namespace::create(c, desired).await,
                Kind::R2Bucket => r2_bucket::create(c, desired).await,
                Kind::DurableObjectNamespace => durable_object::output(desired),
                Kind::SecretsStore => secrets_store::create(c, desired).await,
                Kind::Secret => secret::create(c, desired, &self.default_store).await,
                Kind::SecretRef => secret_ref::resolve(c, desired, &self.default_store).await,
                Kind::DispatchNamespace => dispatch_namespace::create(c, desired).await,
                Kind::Worker => worker::create(c, desired).await,
            }
        })
    }

    fn update<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        existing: Existing<'a>,
    ) -> BoxFuture<'a, Result<Output, ProviderError>> {
        Box::pin(async move {
            let c = &self.client;
            match desired.resource.kind() {
                Kind::KvNamespace => kv_namespace::update(c, desired, existing).await,
                Kind::R2Bucket => r2_bucket::update(c, desired, existing).await,
                Kind::DurableObjectNamespace => durable_object::output(desired),
                Kind::SecretsStore => secrets_store::update(existing),
                Kind::Secret => secret::update(c, desired, existing).await,
                Kind::SecretRef => secret_ref::resolve(c, desired, &self.default_store).await,
                Kind::DispatchNamespace => dispatch_namespace::update(existing),
                Kind::Worker => worker::update(c, desired, existing).await,
            }
        })
    }

    fn delete<'a>(&'a self, existing: Existing<'a>) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let c = &self.client;
            match existing.output.kind() {
                Kind::KvNamespace => kv_namespace::delete(c, existing).await,
                Kind::R2Bucket => r2_bucket::delete(c, existing).await,
                // Lives in its Worker's migrations; a SecretRef points at a secret not ours.
                Kind::DurableObjectNamespace | Kind::SecretRef => Ok(()),
                Kind::SecretsStore => secrets_store::delete(c, existing).await,
                Kind::Secret => secret::delete(c, existing).await,
                Kind::DispatchNamespace => dispatch_namespace::delete(c, existing).await,
                Kind::Worker => worker::delete(c, existing).await,
            }
        })
    }

    fn read<'a>(
        &'a self,
        existing: Existing<'a>,
    ) -> BoxFuture<'a, Result<Option<Output>, ProviderError>> {
        Box::pin(async move {
            let c = &self.client;
            match existing.output.kind() {
                Kind::KvNamespace => kv_namespace::read(c, existing).await,
                Kind::R2Bucket => r2_bucket::read(c, existing).await,
                Kind::DurableObjectNamespace => Ok(durable_object::read(existing)),
                Kind::SecretsStore => secrets_store::read(c, existing).await,
                Kind::Secret | Kind::SecretRef => secret::read(c, existing).await,
                Kind::DispatchNamespace => dispatch_namespace::read(c, existing).await,
                Kind::Worker => worker::read(c, existing).await,
            }
        })
    }
}
