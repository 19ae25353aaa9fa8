//! An in-memory provider for the engine's unit tests: records every call, and fails or
//! "crashes" on demand, so the engine is tested without HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use athanor_core::output::{
    AnalyticsEngineDatasetOutput, D1DatabaseOutput, DispatchNamespaceOutput,
    DurableObjectNamespaceOutput, KvNamespaceOutput, QueueConsumerOutput, QueueOutput,
    R2BucketOutput, SecretOutput, SecretsStoreOutput, WorkerOutput,
};
use athanor_core::provider::{Applying, BoxFuture, Desired, Existing, Prepared};
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
    /// Resources whose rest (after the output is published) fails.
    pub fail_rest: Mutex<BTreeSet<String>>,
    /// For a resource, a call its rest waits to see (ten seconds at most) before it
    /// ends: proof that the engine ran that call while the rest was under way.
    pub rest_waits_for: Mutex<BTreeMap<String, String>>,
    /// The resources whose rest ended, in order.
    pub rests: Mutex<Vec<String>>,
    /// What [`Provider::check_credentials`] answers.
    pub credentials_problem: Mutex<Option<String>>,
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

impl MemoryProvider {
    async fn create_now(&self, desired: &Desired<'_>) -> Result<Output, ProviderError> {
        tokio::task::yield_now().await;
        let id = &desired.resource.id;
        let key = Self::key(desired.resource.kind().as_str(), desired.name);
        let how = match (desired.adopt, desired.resumed) {
            (true, _) => " (adopt)",
            (false, true) => " (resumed)",
            (false, false) => "",
        };
        self.calls.lock().unwrap().push(format!("create {id}{how}"));
        if self.fail_create.lock().unwrap().contains(id) {
            return Err(ProviderError::Local {
                message: format!("refused to create {id}"),
            });
        }
        if let Some(existing) = self.live.lock().unwrap().get(&key) {
            if desired.adopt || desired.resumed {
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
    }

    async fn update_now(
        &self,
        desired: &Desired<'_>,
        existing: Existing<'_>,
    ) -> Result<Output, ProviderError> {
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
    }

    /// A namespace with values and a Worker have a rest, as at Cloudflare: it waits for the call
    /// `rest_waits_for` names, records its end in `rests`, and fails as told.
    fn with_rest<'a>(&'a self, id: &str, output: Output, desired: &Desired<'_>) -> Applying<'a> {
        let has_rest = match &desired.resource.props {
            Props::KvNamespace(p) => !p.values.is_empty(),
            Props::Worker(_) => true,
            _ => false,
        };
        if !has_rest {
            return Applying::done(output);
        }
        let id = id.to_owned();
        let done = output.clone();
        Applying {
            output,
            rest: Some(Box::pin(async move {
                let awaited = self.rest_waits_for.lock().unwrap().get(&id).cloned();
                if let Some(call) = awaited {
                    // Ten seconds: far longer than any engine step here, even on a busy machine.
                    let mut seen = false;
                    for _ in 0..10_000 {
                        seen = self.calls.lock().unwrap().contains(&call);
                        if seen {
                            break;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    }
                    if !seen {
                        return Err(ProviderError::Local {
                            message: format!("the rest of {id} never saw `{call}`"),
                        });
                    }
                }
                tokio::task::yield_now().await;
                self.rests.lock().unwrap().push(id.clone());
                if self.fail_rest.lock().unwrap().contains(&id) {
                    return Err(ProviderError::Local {
                        message: format!("the rest of {id} failed"),
                    });
                }
                Ok(done)
            })),
        }
    }
}

impl Provider for MemoryProvider {
    fn check_credentials(&self) -> BoxFuture<'_, Option<String>> {
        self.calls.lock().unwrap().push("check_credentials".into());
        let problem = self.credentials_problem.lock().unwrap().clone();
        Box::pin(async move { problem })
    }

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

    fn start_create<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        _prepared: Prepared,
    ) -> BoxFuture<'a, Result<Applying<'a>, ProviderError>> {
        Box::pin(async move {
            let output = self.create_now(desired).await?;
            Ok(self.with_rest(&desired.resource.id, output, desired))
        })
    }

    fn start_update<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        existing: Existing<'a>,
        _prepared: Prepared,
    ) -> BoxFuture<'a, Result<Applying<'a>, ProviderError>> {
        Box::pin(async move {
            let output = self.update_now(desired, existing).await?;
            Ok(self.with_rest(&desired.resource.id, output, desired))
        })
    }

    fn find<'a>(
        &'a self,
        desired: &'a Desired<'a>,
    ) -> BoxFuture<'a, Result<Option<Output>, ProviderError>> {
        Box::pin(async move {
            self.calls
                .lock()
                .unwrap()
                .push(format!("find {}", desired.resource.id));
            Ok(self
                .live
                .lock()
                .unwrap()
                .get(&Self::key(desired.resource.kind().as_str(), desired.name))
                .cloned())
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
