//! An in-memory provider for the engine's unit tests: records every call, and fails or
//! "crashes" on demand, so the engine is tested without HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use athanor_core::output::{
    AnalyticsEngineDatasetOutput, D1DatabaseOutput, DispatchNamespaceOutput,
    DurableObjectNamespaceOutput, KvNamespaceOutput, QueueConsumerOutput, QueueOutput,
    R2BucketOutput, SecretOutput, SecretsStoreOutput, WorkerOutput,
};
use athanor_core::provider::{BoxFuture, Desired, Existing};
use athanor_core::{Output, Props, Provider, ProviderError};

/// A provider whose "cloud" is a map of live resources by kind and name.
#[derive(Default)]
pub(crate) struct MemoryProvider {
    pub calls: Mutex<Vec<String>>,
    pub live: Mutex<BTreeMap<String, Output>>,
    pub fail_create: Mutex<BTreeSet<String>>,
    /// Creates that reach the cloud and then fail (as if the process died after the request).
    pub crash_after_create: Mutex<BTreeSet<String>>,
    pub fail_delete: Mutex<BTreeSet<String>>,
    pub fingerprints: Mutex<BTreeMap<String, String>>,
    counter: Mutex<u64>,
}

impl MemoryProvider {
    pub(crate) fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    pub(crate) fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    fn key(kind: &str, name: &str) -> String {
        format!("{kind}/{name}")
    }

    fn output(&self, desired: &Desired<'_>) -> Output {
        let mut n = self.counter.lock().unwrap();
        *n += 1;
        let id = format!("id-{n}");
        let name = desired.name.to_owned();
        match &desired.resource.props {
            Props::KvNamespace(_) => Output::KvNamespace(KvNamespaceOutput { id, title: name }),
            Props::R2Bucket(p) => Output::R2Bucket(R2BucketOutput {
                name,
                jurisdiction: p.jurisdiction.clone(),
                location: p.location_hint.clone(),
                storage_class: None,
                public_url: None,
            }),
            Props::Queue(_) => Output::Queue(QueueOutput { id, name }),
            Props::QueueConsumer(p) => Output::QueueConsumer(QueueConsumerOutput {
                id,
                queue_id: p.queue.0.clone(),
                script: p.worker.0.clone(),
            }),
            Props::AnalyticsEngineDataset(_) => {
                Output::AnalyticsEngineDataset(AnalyticsEngineDatasetOutput { dataset: name })
            }
            Props::D1Database(_) => Output::D1Database(D1DatabaseOutput {
                id,
                name,
                migrations: Default::default(),
                seed: None,
            }),
            Props::DurableObjectNamespace(p) => {
                Output::DurableObjectNamespace(DurableObjectNamespaceOutput {
                    class_name: p.class_name.clone(),
                    script_name: None,
                    environment: None,
                    sqlite: p.sqlite,
                })
            }
            Props::SecretsStore(_) => Output::SecretsStore(SecretsStoreOutput {
                id,
                name,
                created: true,
            }),
            Props::Secret(_) | Props::SecretRef(_) => Output::Secret(SecretOutput {
                id,
                name,
                store_id: "store".into(),
            }),
            Props::DispatchNamespace(_) => {
                Output::DispatchNamespace(DispatchNamespaceOutput { id, name })
            }
            Props::Worker(_) => Output::Worker(WorkerOutput {
                name,
                namespace: None,
                url: None,
                etag: None,
                migration_tag: None,
                // What a real upload would carry: which dependency ids it bound.
                content_hash: desired
                    .deps
                    .values()
                    .filter_map(|o| o.id().map(str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
                durable_objects: Default::default(),
                bindings: Default::default(),
            }),
        }
    }
}

impl Provider for MemoryProvider {
    fn fingerprint<'a>(
        &'a self,
        desired: &'a Desired<'a>,
    ) -> BoxFuture<'a, Result<Option<String>, ProviderError>> {
        Box::pin(async move {
            Ok(self
                .fingerprints
                .lock()
                .unwrap()
                .get(&desired.resource.id)
                .cloned())
        })
    }

    fn create<'a>(
        &'a self,
        desired: &'a Desired<'a>,
    ) -> BoxFuture<'a, Result<Output, ProviderError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let id = &desired.resource.id;
            let key = Self::key(desired.resource.kind().as_str(), desired.name);
            self.calls.lock().unwrap().push(format!(
                "create {id}{}",
                if desired.adopt { " (adopt)" } else { "" }
            ));
            if self.fail_create.lock().unwrap().contains(id) {
                return Err(ProviderError::Local {
                    message: format!("refused to create {id}"),
                });
            }
            if let Some(existing) = self.live.lock().unwrap().get(&key) {
                if desired.adopt {
                    return Ok(existing.clone());
                }
                return Err(ProviderError::AlreadyExists { what: key });
            }
            let output = self.output(desired);
            self.live.lock().unwrap().insert(key, output.clone());
            if self.crash_after_create.lock().unwrap().remove(id) {
                return Err(ProviderError::Transport {
                    target: "memory".into(),
                    message: "connection reset after the create".into(),
                });
            }
            Ok(output)
        })
    }

    fn update<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        existing: Existing<'a>,
    ) -> BoxFuture<'a, Result<Output, ProviderError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            self.calls
                .lock()
                .unwrap()
                .push(format!("update {}", existing.id));
            let mut output = self.output(desired);
            // An update keeps the id.
            if let (Output::KvNamespace(o), Some(old)) = (&mut output, existing.output.id()) {
                o.id = old.to_owned();
            }
            let mut live = self.live.lock().unwrap();
            live.remove(&Self::key(
                existing.output.kind().as_str(),
                existing.output.name(),
            ));
            live.insert(
                Self::key(desired.resource.kind().as_str(), desired.name),
                output.clone(),
            );
            Ok(output)
        })
    }

    fn delete<'a>(&'a self, existing: Existing<'a>) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            self.calls.lock().unwrap().push(format!(
                "delete {} {}",
                existing.id,
                existing.output.name()
            ));
            if self.fail_delete.lock().unwrap().contains(existing.id) {
                return Err(ProviderError::Local {
                    message: format!("refused to delete {}", existing.id),
                });
            }
            self.live.lock().unwrap().remove(&Self::key(
                existing.output.kind().as_str(),
                existing.output.name(),
            ));
            Ok(())
        })
    }

    fn read<'a>(
        &'a self,
        existing: Existing<'a>,
    ) -> BoxFuture<'a, Result<Option<Output>, ProviderError>> {
        Box::pin(async move {
            Ok(self
                .live
                .lock()
                .unwrap()
                .get(&Self::key(
                    existing.output.kind().as_str(),
                    existing.output.name(),
                ))
                .cloned())
        })
    }
}
