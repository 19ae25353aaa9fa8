//! What a deployed resource reports back: ids, names, URLs.
//!
//! Providers return an [`Output`]; the engine records it in state, resolves references with it
//! (a Worker's KV binding needs the namespace id) and prints it after `deploy`. The generated
//! typed outputs of a stack read these structs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::stack::Kind;

/// The output of one deployed resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Output {
    /// See [`KvNamespaceOutput`].
    KvNamespace(KvNamespaceOutput),
    /// See [`R2BucketOutput`].
    R2Bucket(R2BucketOutput),
    /// See [`D1DatabaseOutput`].
    D1Database(D1DatabaseOutput),
    /// See [`AnalyticsEngineDatasetOutput`].
    AnalyticsEngineDataset(AnalyticsEngineDatasetOutput),
    /// See [`QueueOutput`].
    Queue(QueueOutput),
    /// See [`QueueConsumerOutput`].
    QueueConsumer(QueueConsumerOutput),
    /// See [`DurableObjectNamespaceOutput`].
    DurableObjectNamespace(DurableObjectNamespaceOutput),
    /// See [`SecretsStoreOutput`].
    SecretsStore(SecretsStoreOutput),
    /// See [`SecretOutput`].
    Secret(SecretOutput),
    /// See [`SecretOutput`] (a reference resolves to the same facts).
    SecretRef(SecretOutput),
    /// See [`DispatchNamespaceOutput`].
    DispatchNamespace(DispatchNamespaceOutput),
    /// See [`WorkerOutput`].
    Worker(WorkerOutput),
}

impl Output {
    /// The kind of resource this output belongs to.
    pub fn kind(&self) -> Kind {
        match self {
            Output::KvNamespace(_) => Kind::KvNamespace,
            Output::R2Bucket(_) => Kind::R2Bucket,
            Output::D1Database(_) => Kind::D1Database,
            Output::AnalyticsEngineDataset(_) => Kind::AnalyticsEngineDataset,
            Output::Queue(_) => Kind::Queue,
            Output::QueueConsumer(_) => Kind::QueueConsumer,
            Output::DurableObjectNamespace(_) => Kind::DurableObjectNamespace,
            Output::SecretsStore(_) => Kind::SecretsStore,
            Output::Secret(_) => Kind::Secret,
            Output::SecretRef(_) => Kind::SecretRef,
            Output::DispatchNamespace(_) => Kind::DispatchNamespace,
            Output::Worker(_) => Kind::Worker,
        }
    }

    /// The Cloudflare id, where the resource has one distinct from its name.
    pub fn id(&self) -> Option<&str> {
        match self {
            Output::KvNamespace(o) => Some(&o.id),
            Output::D1Database(o) => Some(&o.id),
            Output::Queue(o) => Some(&o.id),
            Output::QueueConsumer(o) => Some(&o.id),
            Output::SecretsStore(o) => Some(&o.id),
            Output::Secret(o) | Output::SecretRef(o) => Some(&o.id),
            Output::DispatchNamespace(o) => Some(&o.id),
            Output::DurableObjectNamespace(_)
            | Output::R2Bucket(_)
            | Output::AnalyticsEngineDataset(_)
            | Output::Worker(_) => None,
        }
    }

    /// The resource's physical name (title, bucket, script, store or secret name; class name for
    /// a Durable Object namespace).
    pub fn name(&self) -> &str {
        match self {
            Output::KvNamespace(o) => &o.title,
            Output::R2Bucket(o) => &o.name,
            Output::D1Database(o) => &o.name,
            Output::AnalyticsEngineDataset(o) => &o.dataset,
            Output::Queue(o) => &o.name,
            Output::QueueConsumer(o) => &o.script,
            Output::DurableObjectNamespace(o) => &o.class_name,
            Output::SecretsStore(o) => &o.name,
            Output::Secret(o) | Output::SecretRef(o) => &o.name,
            Output::DispatchNamespace(o) => &o.name,
            Output::Worker(o) => &o.name,
        }
    }

    /// What other resources use of this output: the output without the details that a
    /// deploy may change while the resource stays the same one (a Worker's etag, URL and
    /// bindings; a bucket's storage class and public URL; a namespace's title, since bindings
    /// name it by id; a database's applied migrations).
    ///
    /// A dependent is deployed with its dependencies' handles and updated only when one of them
    /// changes, so a provider may publish the output as soon as its handle is final and finish
    /// the rest of the resource (a namespace's values, a Worker's workers.dev switch) while its
    /// dependents deploy.
    pub fn handle(&self) -> Output {
        let mut handle = self.clone();
        match &mut handle {
            Output::Worker(o) => {
                o.url = None;
                o.etag = None;
                o.migration_tag = None;
                o.content_hash.clear();
                o.durable_objects.clear();
                o.bindings.clear();
            }
            Output::KvNamespace(o) => o.title.clear(),
            Output::R2Bucket(o) => {
                o.location = None;
                o.storage_class = None;
                o.public_url = None;
            }
            Output::D1Database(o) => {
                o.migrations.clear();
                o.seed = None;
            }
            Output::AnalyticsEngineDataset(_)
            | Output::Queue(_)
            | Output::QueueConsumer(_)
            | Output::DurableObjectNamespace(_)
            | Output::SecretsStore(_)
            | Output::Secret(_)
            | Output::SecretRef(_)
            | Output::DispatchNamespace(_) => {}
        }
        handle
    }

    /// The public URL: a Worker's on workers.dev, a public bucket's on r2.dev.
    pub fn url(&self) -> Option<&str> {
        match self {
            Output::Worker(o) => o.url.as_deref(),
            Output::R2Bucket(o) => o.public_url.as_deref(),
            _ => None,
        }
    }
}

/// A deployed KV namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvNamespaceOutput {
    /// The namespace id (32 hex characters).
    pub id: String,
    /// The namespace title.
    pub title: String,
}

/// A deployed R2 bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct R2BucketOutput {
    /// The bucket name.
    pub name: String,
    /// The jurisdiction, when not `default`.
    pub jurisdiction: Option<String>,
    /// The location Cloudflare chose.
    pub location: Option<String>,
    /// The default storage class.
    pub storage_class: Option<String>,
    /// The public address, `https://pub-....r2.dev`, when the bucket is `public`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

/// A D1 database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct D1DatabaseOutput {
    /// The database id (a UUID): what a Worker's `d1` binding names.
    pub id: String,
    /// The database name.
    pub name: String,
    /// The migrations applied, by file name, with the SHA-256 of the file as applied: a file
    /// changed after it was applied is refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub migrations: BTreeMap<String, String>,
    /// SHA-256 of the seed file as last run: a changed file runs again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
}

/// A Workers Analytics Engine dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyticsEngineDatasetOutput {
    /// The dataset name, as a Worker's binding and SQL queries name it.
    pub dataset: String,
}

/// A queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueOutput {
    /// The queue id (32 hex characters).
    pub id: String,
    /// The queue name: what a Worker's `queue` binding names.
    pub name: String,
}

/// A Worker consuming a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueConsumerOutput {
    /// The consumer id.
    pub id: String,
    /// The queue's id.
    pub queue_id: String,
    /// The consuming Worker's script name.
    pub script: String,
}

/// A Durable Object namespace, as its Worker's migrations declare it.
///
/// It has no id here: the namespace comes into being with the upload of the Worker exporting
/// the class, after this resource is applied, so its id is in that Worker's
/// [`WorkerOutput::durable_objects`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurableObjectNamespaceOutput {
    /// The class name.
    pub class_name: String,
    /// The script that exports the class, when it is not the Worker that binds it.
    pub script_name: Option<String>,
    /// The script environment, if any.
    pub environment: Option<String>,
    /// Whether the class uses SQLite storage.
    pub sqlite: bool,
}

/// A Secrets Store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretsStoreOutput {
    /// The store id.
    pub id: String,
    /// The store name.
    pub name: String,
    /// Whether athanor created the store (an adopted or pre-existing store is never deleted).
    pub created: bool,
}

/// A Secrets Store secret (managed by a `Secret`, or referenced by a `SecretRef`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretOutput {
    /// The secret id.
    pub id: String,
    /// The secret name.
    pub name: String,
    /// The id of the store holding it.
    pub store_id: String,
}

/// A Workers for Platforms dispatch namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchNamespaceOutput {
    /// The namespace id (a UUID).
    pub id: String,
    /// The namespace name, which the API addresses it by.
    pub name: String,
}

/// A deployed Worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerOutput {
    /// The script name.
    pub name: String,
    /// The dispatch namespace, for a user Worker of Workers for Platforms.
    pub namespace: Option<String>,
    /// `https://NAME.SUBDOMAIN.workers.dev` when `url: true`.
    pub url: Option<String>,
    /// The upload's etag, as Cloudflare reported it.
    pub etag: Option<String>,
    /// The Durable Object migration tag after the upload.
    pub migration_tag: Option<String>,
    /// A hash of the uploaded modules.
    pub content_hash: String,
    /// The Durable Object namespace id of each class the script exports, by class name, as
    /// Cloudflare lists them after the upload. Empty for a Worker without Durable Objects.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub durable_objects: BTreeMap<String, String>,
    /// The type of each binding of the script, by binding name (never a value), so that a
    /// binding removed or retyped outside athanor shows as drift.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bindings: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_recorded_before_the_new_fields_still_load() {
        let worker: Output = serde_json::from_str(
            r#"{"kind":"Worker","name":"w","namespace":null,"url":null,"etag":"e","migration_tag":null,"content_hash":"h"}"#,
        )
        .unwrap();
        let Output::Worker(w) = &worker else {
            panic!("{worker:?}")
        };
        assert!(w.durable_objects.is_empty() && w.bindings.is_empty());
        // Empty maps are left out, so an output recorded before them keeps its digest.
        assert!(!serde_json::to_string(&worker).unwrap().contains("bindings"));

        let class: Output = serde_json::from_str(
            r#"{"kind":"DurableObjectNamespace","class_name":"Counter","script_name":null,"environment":null,"sqlite":true,"namespace_id":null}"#,
        )
        .unwrap();
        assert_eq!(class.name(), "Counter");
        assert_eq!(class.id(), None);
    }

    #[test]
    fn a_handle_keeps_what_dependents_use_and_drops_what_a_deploy_changes() {
        let deployed = |etag: &str, url: Option<&str>| {
            Output::Worker(WorkerOutput {
                name: "api".into(),
                namespace: None,
                url: url.map(str::to_owned),
                etag: Some(etag.into()),
                migration_tag: Some("v1".into()),
                content_hash: etag.into(),
                durable_objects: BTreeMap::from([("Counter".into(), "ns".into())]),
                bindings: BTreeMap::from([("KV".into(), "kv_namespace".into())]),
            })
        };
        let before = deployed("e1", None);
        let after = deployed("e2", Some("https://api.me.workers.dev"));
        assert_ne!(before, after);
        assert_eq!(before.handle(), after.handle());
        assert_eq!(after.handle().name(), "api");

        let renamed = |title: &str| {
            Output::KvNamespace(KvNamespaceOutput {
                id: "0123".into(),
                title: title.into(),
            })
        };
        assert_eq!(renamed("a").handle(), renamed("b").handle());
        assert_eq!(renamed("a").handle().id(), Some("0123"));
        let other = Output::KvNamespace(KvNamespaceOutput {
            id: "4567".into(),
            title: "a".into(),
        });
        assert_ne!(renamed("a").handle(), other.handle());
    }
}
