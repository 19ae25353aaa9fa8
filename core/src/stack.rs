//! The declared stack: every resource, its desired properties and its references.
//!
//! A [`Stack`] is plain data. `infra!` generates a `stack()` function that builds one; the runtime
//! reads it, never changes it. Properties hold what the user declared (defaults are resolved by the
//! runtime, which knows the stage), and a reference to another resource is its logical id.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::binding::{Binding, BindingValue};
use crate::secret::SecretSource;

/// Every resource declared by one `infra!` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stack {
    /// The application name (`app "name";`), the first part of state paths and physical names.
    pub app: String,
    /// The directory relative paths (entrypoints, `secret_file`) resolve against: the declaring
    /// crate's `CARGO_MANIFEST_DIR`, so a stack binary works from any working directory.
    pub root: PathBuf,
    /// The resources, in declaration order.
    pub resources: Vec<Resource>,
}

impl Stack {
    /// An empty stack for `app`, resolving relative paths against `root`.
    pub fn new(app: impl Into<String>, root: impl Into<PathBuf>) -> Self {
        Stack {
            app: app.into(),
            root: root.into(),
            resources: Vec::new(),
        }
    }

    /// Adds a resource, builder style.
    pub fn with(mut self, resource: Resource) -> Self {
        self.resources.push(resource);
        self
    }

    /// The resource with logical id `id`.
    pub fn get(&self, id: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.id == id)
    }
}

/// One declared resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// The logical id (`KvNamespace("sessions")`): the resource's stable identity in state.
    pub id: String,
    /// Take over an existing resource of the same name instead of failing (`adopt: true`).
    #[serde(default)]
    pub adopt: bool,
    /// Delete the real resource when it leaves the stack or on destroy (`delete: false` only
    /// forgets it).
    #[serde(default = "default_true")]
    pub delete: bool,
    /// The kind-specific desired properties.
    pub props: Props,
}

fn default_true() -> bool {
    true
}

impl Resource {
    /// A resource with the default lifecycle (no adopt, deleted with the stack).
    pub fn new(id: impl Into<String>, props: impl Into<Props>) -> Self {
        Resource {
            id: id.into(),
            adopt: false,
            delete: true,
            props: props.into(),
        }
    }

    /// Sets `adopt`.
    pub fn adopt(mut self, adopt: bool) -> Self {
        self.adopt = adopt;
        self
    }

    /// Sets `delete`.
    pub fn delete(mut self, delete: bool) -> Self {
        self.delete = delete;
        self
    }

    /// The resource's kind.
    pub fn kind(&self) -> Kind {
        self.props.kind()
    }

    /// The logical ids this resource references (bindings, `store`, `namespace`), each once, in
    /// a stable order. The engine creates these first and deletes them last.
    pub fn dependencies(&self) -> BTreeSet<&str> {
        let mut deps = BTreeSet::new();
        match &self.props {
            Props::Secret(s) => deps.extend(s.store.as_ref().map(|r| r.0.as_str())),
            Props::SecretRef(s) => deps.extend(s.store.as_ref().map(|r| r.0.as_str())),
            Props::Worker(w) => {
                deps.extend(w.namespace.as_ref().map(|r| r.0.as_str()));
                for b in &w.bindings {
                    if let BindingValue::Resource(r) = &b.value {
                        deps.insert(r.0.as_str());
                    }
                }
            }
            _ => {}
        }
        deps
    }

    /// Where each secret this resource needs comes from, keyed by a stable name: `value` for a
    /// [`Secret`], the binding name for a Worker's `secret_text` bindings.
    pub fn secret_sources(&self) -> Vec<(&str, &SecretSource)> {
        match &self.props {
            Props::Secret(s) => vec![("value", &s.value)],
            Props::Worker(w) => w
                .bindings
                .iter()
                .filter_map(|b| match &b.value {
                    BindingValue::SecretText(src) => Some((b.name.as_str(), src)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// A reference to another resource of the same stack, by logical id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResourceRef(pub String);

impl ResourceRef {
    /// A reference to the resource with logical id `id`.
    pub fn new(id: impl Into<String>) -> Self {
        ResourceRef(id.into())
    }
}

/// The kinds of resource athanor manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// A Workers KV namespace, optionally seeded with values.
    KvNamespace,
    /// An R2 bucket.
    R2Bucket,
    /// A Durable Object namespace; it lives through its Worker's migrations.
    DurableObjectNamespace,
    /// A Secrets Store.
    SecretsStore,
    /// A secret in a Secrets Store, whose value athanor manages.
    Secret,
    /// An existing Secrets Store secret, bound by name; athanor never changes it.
    SecretRef,
    /// A Workers for Platforms dispatch namespace.
    DispatchNamespace,
    /// A Worker script, or a user Worker inside a dispatch namespace.
    Worker,
}

impl Kind {
    /// Every kind, in a fixed order.
    pub const ALL: [Kind; 8] = [
        Kind::KvNamespace,
        Kind::R2Bucket,
        Kind::DurableObjectNamespace,
        Kind::SecretsStore,
        Kind::Secret,
        Kind::SecretRef,
        Kind::DispatchNamespace,
        Kind::Worker,
    ];

    /// The name used in the DSL, in state and in messages (`KvNamespace`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::KvNamespace => "KvNamespace",
            Kind::R2Bucket => "R2Bucket",
            Kind::DurableObjectNamespace => "DurableObjectNamespace",
            Kind::SecretsStore => "SecretsStore",
            Kind::Secret => "Secret",
            Kind::SecretRef => "SecretRef",
            Kind::DispatchNamespace => "DispatchNamespace",
            Kind::Worker => "Worker",
        }
    }

    /// The kind named `name` in the DSL.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The Worker binding type a resource of this kind becomes when bound, if it can be bound.
    pub fn binding_type(self) -> Option<&'static str> {
        match self {
            Kind::KvNamespace => Some("kv_namespace"),
            Kind::R2Bucket => Some("r2_bucket"),
            Kind::DurableObjectNamespace => Some("durable_object_namespace"),
            Kind::Secret | Kind::SecretRef => Some("secrets_store_secret"),
            Kind::DispatchNamespace => Some("dispatch_namespace"),
            Kind::Worker => Some("service"),
            Kind::SecretsStore => None,
        }
    }

    /// The properties whose change cannot be applied in place: changing one replaces the
    /// resource (create the new one, then delete the old one). The resolved physical name is
    /// called `name` for every kind.
    pub fn replace_properties(self) -> &'static [&'static str] {
        match self {
            // A title change is a rename in place.
            Kind::KvNamespace => &[],
            Kind::R2Bucket => &["name", "location_hint", "jurisdiction"],
            Kind::DurableObjectNamespace => &[],
            Kind::SecretsStore => &["name"],
            Kind::Secret => &["name", "store"],
            Kind::SecretRef => &[],
            Kind::DispatchNamespace => &["name"],
            Kind::Worker => &["name", "namespace"],
        }
    }

    /// Whether a resource of this kind exists on its own at Cloudflare (and so has a create and
    /// delete call). A Durable Object namespace lives in its Worker's migrations; a SecretRef
    /// only points at a secret managed elsewhere.
    pub fn is_standalone(self) -> bool {
        !matches!(self, Kind::DurableObjectNamespace | Kind::SecretRef)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind-specific desired properties of a resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Props {
    /// See [`KvNamespace`].
    KvNamespace(KvNamespace),
    /// See [`R2Bucket`].
    R2Bucket(R2Bucket),
    /// See [`DurableObjectNamespace`].
    DurableObjectNamespace(DurableObjectNamespace),
    /// See [`SecretsStore`].
    SecretsStore(SecretsStore),
    /// See [`Secret`].
    Secret(Secret),
    /// See [`SecretRef`].
    SecretRef(SecretRef),
    /// See [`DispatchNamespace`].
    DispatchNamespace(DispatchNamespace),
    /// See [`Worker`].
    Worker(Worker),
}

impl Props {
    /// The kind these properties describe.
    pub fn kind(&self) -> Kind {
        match self {
            Props::KvNamespace(_) => Kind::KvNamespace,
            Props::R2Bucket(_) => Kind::R2Bucket,
            Props::DurableObjectNamespace(_) => Kind::DurableObjectNamespace,
            Props::SecretsStore(_) => Kind::SecretsStore,
            Props::Secret(_) => Kind::Secret,
            Props::SecretRef(_) => Kind::SecretRef,
            Props::DispatchNamespace(_) => Kind::DispatchNamespace,
            Props::Worker(_) => Kind::Worker,
        }
    }

    /// The declared physical name (`title` for a KV namespace), if the user set one. `None` means
    /// the runtime derives one from app, logical id and stage (see [`crate::naming`]).
    pub fn declared_name(&self) -> Option<&str> {
        match self {
            Props::KvNamespace(p) => p.title.as_deref(),
            Props::R2Bucket(p) => p.name.as_deref(),
            Props::DurableObjectNamespace(p) => Some(p.class_name.as_str()),
            Props::SecretsStore(p) => p.name.as_deref(),
            Props::Secret(p) => p.name.as_deref(),
            Props::SecretRef(p) => Some(p.name.as_str()),
            Props::DispatchNamespace(p) => p.name.as_deref(),
            Props::Worker(p) => p.name.as_deref(),
        }
    }
}

macro_rules! props_from {
    ($($kind:ident),*) => {$(
        impl From<$kind> for Props {
            fn from(p: $kind) -> Props {
                Props::$kind(p)
            }
        }
    )*};
}
props_from!(
    KvNamespace,
    R2Bucket,
    DurableObjectNamespace,
    SecretsStore,
    Secret,
    SecretRef,
    DispatchNamespace,
    Worker
);

/// A Workers KV namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KvNamespace {
    /// The namespace title; default: a physical name from app, logical id and stage.
    pub title: Option<String>,
    /// Key-value pairs written on deploy; keys removed from this list are deleted.
    #[serde(default)]
    pub values: Vec<KvValue>,
}

/// One seeded key-value pair of a [`KvNamespace`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvValue {
    /// The key (at most 512 bytes).
    pub key: String,
    /// The value: a string as it is, or JSON serialized.
    pub value: KvPayload,
    /// Absolute expiry, in seconds since the Unix epoch.
    pub expiration: Option<u64>,
    /// Expiry in seconds from the write (at least 60).
    pub expiration_ttl: Option<u64>,
    /// Arbitrary JSON metadata stored with the key (at most 1,024 bytes serialized).
    pub metadata: Option<serde_json::Value>,
}

impl KvValue {
    /// A pair with no expiry and no metadata.
    pub fn new(key: impl Into<String>, value: impl Into<KvPayload>) -> Self {
        KvValue {
            key: key.into(),
            value: value.into(),
            expiration: None,
            expiration_ttl: None,
            metadata: None,
        }
    }
}

/// A KV value as declared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvPayload {
    /// Stored as the string's bytes.
    Text(String),
    /// Stored as the JSON text of the value.
    Json(serde_json::Value),
}

impl KvPayload {
    /// The bytes Cloudflare stores for this value.
    pub fn to_stored_string(&self) -> String {
        match self {
            KvPayload::Text(s) => s.clone(),
            KvPayload::Json(v) => v.to_string(),
        }
    }
}

impl From<&str> for KvPayload {
    fn from(s: &str) -> Self {
        KvPayload::Text(s.to_owned())
    }
}

impl From<String> for KvPayload {
    fn from(s: String) -> Self {
        KvPayload::Text(s)
    }
}

impl From<serde_json::Value> for KvPayload {
    fn from(v: serde_json::Value) -> Self {
        KvPayload::Json(v)
    }
}

/// An R2 bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct R2Bucket {
    /// The bucket name; default: a physical name from app, logical id and stage.
    pub name: Option<String>,
    /// `apac`, `eeur`, `enam`, `weur`, `wnam` or `oc`.
    pub location_hint: Option<String>,
    /// `Standard` or `InfrequentAccess`.
    pub storage_class: Option<String>,
    /// `default`, `eu` or `fedramp`.
    pub jurisdiction: Option<String>,
}

/// A Durable Object namespace: a class exported by a Worker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DurableObjectNamespace {
    /// The exported class name.
    pub class_name: String,
    /// The Worker script that exports the class, when it is not the Worker binding it.
    pub script_name: Option<String>,
    /// The script's environment (legacy environments).
    pub environment: Option<String>,
    /// Whether the class uses SQLite storage (`new_sqlite_classes`).
    #[serde(default)]
    pub sqlite: bool,
}

/// A Secrets Store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecretsStore {
    /// The store name; default `default_secrets_store`.
    pub name: Option<String>,
}

/// The name of the store Cloudflare (and athanor) use when none is given.
pub const DEFAULT_SECRETS_STORE: &str = "default_secrets_store";

/// A secret in a Secrets Store, whose value athanor sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Secret {
    /// Where the value is read from when deploying.
    pub value: SecretSource,
    /// The secret's name in the store; default: the logical id in upper snake case.
    pub name: Option<String>,
    /// The store; default: the account's default store, created if missing.
    pub store: Option<ResourceRef>,
    /// Where the secret may be used; default `["workers"]`.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// An existing Secrets Store secret, bound by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretRef {
    /// The secret's name in the store.
    pub name: String,
    /// The store; default: the account's default store.
    pub store: Option<ResourceRef>,
}

/// A Workers for Platforms dispatch namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DispatchNamespace {
    /// The namespace name; default: a physical name from app, logical id and stage.
    pub name: Option<String>,
}

/// A Worker script.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Worker {
    /// The main module, relative to [`Stack::root`] (`.js`, `.mjs`, `.ts`, or a workers-rs build).
    pub entrypoint: PathBuf,
    /// The script name; default: a physical name from app, logical id and stage.
    pub name: Option<String>,
    /// `YYYY-MM-DD`; default: the runtime's pinned date.
    pub compatibility_date: Option<String>,
    /// Compatibility flags.
    #[serde(default)]
    pub compatibility_flags: Vec<String>,
    /// Serve on the account's workers.dev subdomain.
    #[serde(default)]
    pub url: bool,
    /// The bindings, in declaration order.
    #[serde(default)]
    pub bindings: Vec<Binding>,
    /// The dispatch namespace this Worker is uploaded into (a Workers for Platforms user Worker).
    pub namespace: Option<ResourceRef>,
    /// Binding types whose bindings from the previous upload are kept (`keep_bindings`).
    #[serde(default)]
    pub keep_bindings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker() -> Resource {
        Resource::new(
            "api",
            Worker {
                entrypoint: "src/worker.js".into(),
                namespace: Some(ResourceRef::new("tenants")),
                bindings: vec![
                    Binding::new("KV", BindingValue::Resource(ResourceRef::new("kv"))),
                    Binding::new("KV2", BindingValue::Resource(ResourceRef::new("kv"))),
                    Binding::new("V", BindingValue::PlainText("1".into())),
                    Binding::new(
                        "TOKEN",
                        BindingValue::SecretText(SecretSource::env("TOKEN")),
                    ),
                ],
                ..Worker::default()
            },
        )
    }

    #[test]
    fn dependencies_are_unique_and_sorted() {
        let w = worker();
        let deps: Vec<_> = w.dependencies().into_iter().collect();
        assert_eq!(deps, ["kv", "tenants"]);
    }

    #[test]
    fn secret_sources_name_the_binding() {
        let w = worker();
        let sources = w.secret_sources();
        assert_eq!(sources.len(), 1);
        assert_eq!(sources[0].0, "TOKEN");
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::from_name("KVNamespace"), None);
    }

    #[test]
    fn props_serialize_with_their_kind() {
        let json = serde_json::to_value(&worker().props).unwrap();
        assert_eq!(json["kind"], "Worker");
        let back: Props = serde_json::from_value(json).unwrap();
        assert_eq!(back, worker().props);
    }
}
