//! The typed Worker script document: what the emulator stores for each script, and what the local
//! runtime builds a workerd configuration from.
//!
//! Every struct keeps the fields it does not know in `extra`, so a document written by a newer
//! emulator (or a field sent by a newer client) survives a read and a write unchanged. A binding is
//! typed by its `type`; a type the emulator does not know is kept whole as [`BindingKind::Other`].

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, json};

/// Unknown fields, kept as they came.
pub(crate) type Extra = Map<String, Value>;

/// One Worker script: its code (as parts), settings, bindings, Durable Object classes, workers.dev
/// state, versions and deployments. The document is always the deployed version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Script {
    /// The script name.
    pub id: String,
    /// A stable identifier of the script (kept across uploads).
    pub tag: String,
    /// The hash of the current code.
    pub etag: String,
    /// The dispatch namespace of a user Worker; `None` for account scripts.
    #[serde(default)]
    pub dispatch_namespace: Option<String>,
    pub created_on: String,
    pub modified_on: String,
    /// The ES module entry point, for module Workers.
    #[serde(default)]
    pub main_module: Option<String>,
    /// The script part, for service-worker Workers.
    #[serde(default)]
    pub body_part: Option<String>,
    #[serde(default)]
    pub has_modules: bool,
    /// Event handlers found in the entry point (`fetch`, `scheduled`, …).
    #[serde(default)]
    pub handlers: Vec<String>,
    #[serde(default = "default_compatibility_date")]
    pub compatibility_date: String,
    #[serde(default)]
    pub compatibility_flags: Vec<String>,
    #[serde(default = "default_usage_model")]
    pub usage_model: String,
    #[serde(default)]
    pub logpush: Value,
    #[serde(default)]
    pub observability: Value,
    #[serde(default)]
    pub placement: Value,
    #[serde(default = "empty_object")]
    pub limits: Value,
    #[serde(default = "empty_array")]
    pub tail_consumers: Value,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub bindings: Vec<Binding>,
    /// Durable Object classes the migrations declared.
    #[serde(default)]
    pub classes: Vec<DurableObjectClass>,
    #[serde(default)]
    pub migration_tag: Option<String>,
    #[serde(default)]
    pub subdomain: Subdomain,
    /// The id of the deployed version.
    pub deployment_id: String,
    /// Every kept version, oldest first.
    #[serde(default)]
    pub versions: Vec<Version>,
    /// Deployments, newest first.
    #[serde(default)]
    pub deployments: Vec<Deployment>,
    /// The names and content types of the code parts (their bytes live in `script_parts`).
    #[serde(default)]
    pub parts: Vec<PartInfo>,
    /// Cron triggers.
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Script {
    /// The entry point's part name: `main_module` for module Workers, `body_part` otherwise.
    pub fn entry(&self) -> Option<&str> {
        self.main_module.as_deref().or(self.body_part.as_deref())
    }

    /// The Durable Object class `name`, if the migrations declared it.
    pub fn class(&self, name: &str) -> Option<&DurableObjectClass> {
        self.classes.iter().find(|k| k.class == name)
    }
}

fn default_compatibility_date() -> String {
    "2021-11-02".to_owned()
}

fn default_usage_model() -> String {
    "standard".to_owned()
}

fn empty_object() -> Value {
    json!({})
}

fn empty_array() -> Value {
    json!([])
}

/// A Durable Object class declared by a migration, with the id of its namespace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DurableObjectClass {
    pub class: String,
    /// Whether the class stores its data in SQLite (`new_sqlite_classes`).
    #[serde(default)]
    pub sqlite: bool,
    /// The namespace id, 32 hex characters; kept across renames and transfers.
    pub id: String,
}

/// Whether the script is served on workers.dev (off until turned on).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Subdomain {
    pub enabled: bool,
    pub previews_enabled: bool,
}

/// A code part's name and content type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PartInfo {
    pub name: String,
    pub content_type: String,
}

/// A cron trigger.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Schedule {
    pub cron: String,
    pub created_on: String,
    pub modified_on: String,
}

/// A version: what one upload carried, as `GET …/versions/{id}` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Version {
    pub id: String,
    pub number: u64,
    pub metadata: Value,
    pub resources: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A deployment: which versions take what share of the traffic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Deployment {
    pub id: String,
    pub source: String,
    pub strategy: String,
    pub author_email: String,
    pub created_on: String,
    #[serde(default = "empty_object")]
    pub annotations: Value,
    pub versions: Vec<DeployedVersion>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One version of a deployment and its share of the traffic, in percent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeployedVersion {
    pub version_id: String,
    pub percentage: f64,
}

/// A binding: the name the Worker sees, what it is bound to, and any fields the emulator does not
/// know (kept as sent).
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    pub name: String,
    pub kind: BindingKind,
    pub extra: Extra,
}

/// A sealed secret value: the ciphertext (see `sealing`) and the SHA-256 of the value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SealedText {
    /// The value sealed under the emulator's key; absent in documents written before values
    /// were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
    pub text_sha256: String,
}

/// What a binding is bound to, by its `type`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum BindingKind {
    PlainText {
        text: String,
    },
    Json {
        json: Value,
    },
    /// A secret as uploaded (`text`) or as stored (`sealed`): an upload's text is sealed before
    /// the binding is stored, and never serialized.
    SecretText {
        #[serde(default, skip_serializing)]
        text: Option<String>,
        #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
        stored: Option<SealedText>,
    },
    KvNamespace {
        namespace_id: String,
    },
    R2Bucket {
        bucket_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        jurisdiction: Option<String>,
    },
    DurableObjectNamespace {
        class_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        script_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        environment: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace_id: Option<String>,
    },
    Service {
        service: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        environment: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        entrypoint: Option<String>,
    },
    DispatchNamespace {
        namespace: String,
    },
    /// A D1 database: the SDK sends `database_id`, wrangler `id` (the older name); kept as sent.
    D1 {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        database_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    SecretsStoreSecret {
        store_id: String,
        secret_name: String,
    },
    /// A queue producer: the queue by name, and (wrangler sends it) a delay in seconds for every
    /// message this binding sends; an empty name is refused at upload, as Cloudflare does.
    Queue {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        queue_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery_delay: Option<i64>,
    },
    /// A Workers Analytics Engine dataset. Cloudflare's default when `dataset` is absent (wrangler
    /// leaves it out when the configuration does) is the binding's name; kept as sent, resolved by
    /// [`Binding::analytics_engine_dataset`].
    AnalyticsEngine {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dataset: Option<String>,
    },
    WasmModule {
        part: String,
    },
    TextBlob {
        part: String,
    },
    DataBlob {
        part: String,
    },
    /// Copies the binding `old_name` (or the same name) of the previous version; resolved at
    /// upload, never stored.
    Inherit {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        old_name: Option<String>,
    },
    /// A type the emulator does not model (ai, vectorize, …): its fields are in
    /// [`Binding::extra`]; it is stored and shown, and the local runtime refuses to start a Worker
    /// that has one.
    #[serde(skip)]
    Other(String),
}

impl BindingKind {
    /// The binding's `type`, as the API spells it.
    pub fn type_name(&self) -> &str {
        match self {
            BindingKind::PlainText { .. } => "plain_text",
            BindingKind::Json { .. } => "json",
            BindingKind::SecretText { .. } => "secret_text",
            BindingKind::KvNamespace { .. } => "kv_namespace",
            BindingKind::R2Bucket { .. } => "r2_bucket",
            BindingKind::DurableObjectNamespace { .. } => "durable_object_namespace",
            BindingKind::Service { .. } => "service",
            BindingKind::DispatchNamespace { .. } => "dispatch_namespace",
            BindingKind::D1 { .. } => "d1",
            BindingKind::SecretsStoreSecret { .. } => "secrets_store_secret",
            BindingKind::Queue { .. } => "queue",
            BindingKind::AnalyticsEngine { .. } => "analytics_engine",
            BindingKind::WasmModule { .. } => "wasm_module",
            BindingKind::TextBlob { .. } => "text_blob",
            BindingKind::DataBlob { .. } => "data_blob",
            BindingKind::Inherit { .. } => "inherit",
            BindingKind::Other(t) => t,
        }
    }

    /// The database a `d1` binding names: `database_id`, or wrangler's `id`.
    pub fn d1_database(&self) -> Option<&str> {
        match self {
            BindingKind::D1 { database_id, id } => database_id
                .as_deref()
                .or(id.as_deref())
                .filter(|d| !d.is_empty()),
            _ => None,
        }
    }
}

impl Binding {
    /// The dataset an `analytics_engine` binding writes to: its `dataset`, or (absent or empty)
    /// the binding's name, as Cloudflare documents.
    pub fn analytics_engine_dataset(&self) -> Option<&str> {
        match &self.kind {
            BindingKind::AnalyticsEngine { dataset } => Some(
                dataset
                    .as_deref()
                    .filter(|d| !d.is_empty())
                    .unwrap_or(&self.name),
            ),
            _ => None,
        }
    }

    /// Reads a binding from its JSON object; the error names the binding and what is wrong.
    pub fn from_json(value: Value) -> Result<Binding, String> {
        let Value::Object(mut map) = value else {
            return Err("a binding must be a JSON object".to_owned());
        };
        let name = match map.remove("name") {
            Some(Value::String(n)) if !n.is_empty() => n,
            _ => return Err("a binding needs a non-empty string `name`".to_owned()),
        };
        let type_name = match map.get("type") {
            Some(Value::String(t)) if !t.is_empty() => t.clone(),
            _ => return Err(format!("binding '{name}' needs a string `type`")),
        };
        let kind = match serde_json::from_value::<BindingKind>(Value::Object(map.clone())) {
            Ok(kind) => kind,
            Err(e) if is_unknown_variant(&e) => BindingKind::Other(type_name),
            Err(e) => {
                return Err(format!(
                    "binding '{name}' of type {type_name} is malformed: {e}"
                ));
            }
        };
        // What the typed kind did not take stays in `extra`.
        map.remove("type");
        if let BindingKind::SecretText { .. } = kind {
            map.remove("text");
        }
        if !matches!(kind, BindingKind::Other(_))
            && let Ok(Value::Object(known)) = serde_json::to_value(&kind)
        {
            for key in known.keys() {
                map.remove(key);
            }
        }
        Ok(Binding {
            name,
            kind,
            extra: map,
        })
    }

    /// The binding as JSON: `{name, type, …fields, …extra}` (a secret's value never included).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("name".into(), json!(self.name));
        match &self.kind {
            BindingKind::Other(t) => {
                out.insert("type".into(), json!(t));
            }
            kind => {
                if let Ok(Value::Object(fields)) = serde_json::to_value(kind) {
                    out.extend(fields);
                }
            }
        }
        for (k, v) in &self.extra {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(out)
    }

    /// The binding as the API shows it: a secret as `{name, type}` only.
    pub fn public_json(&self) -> Value {
        match self.kind {
            BindingKind::SecretText { .. } => json!({"name": self.name, "type": "secret_text"}),
            _ if self.kind.type_name() == "secret_key" => {
                json!({"name": self.name, "type": "secret_key"})
            }
            _ => self.to_json(),
        }
    }
}

fn is_unknown_variant(e: &serde_json::Error) -> bool {
    e.to_string().starts_with("unknown variant")
}

impl Serialize for Binding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Binding {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Binding, D::Error> {
        Binding::from_json(Value::deserialize(d)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_bindings_round_trip_with_their_extra_fields() {
        let b = json!({"name": "KV", "type": "kv_namespace", "namespace_id": "abc", "future": 1});
        let binding = Binding::from_json(b.clone()).unwrap();
        assert!(matches!(binding.kind, BindingKind::KvNamespace { .. }));
        assert_eq!(binding.extra.get("future"), Some(&json!(1)));
        assert_eq!(binding.to_json(), b);
    }

    #[test]
    fn a_d1_binding_keeps_the_field_it_was_sent_with() {
        for b in [
            json!({"name": "DB", "type": "d1", "id": "u-1"}),
            json!({"name": "DB", "type": "d1", "database_id": "u-1"}),
        ] {
            let binding = Binding::from_json(b.clone()).unwrap();
            assert_eq!(binding.kind.d1_database(), Some("u-1"));
            assert_eq!(binding.to_json(), b);
        }
    }

    #[test]
    fn an_analytics_engine_dataset_defaults_to_the_binding_name() {
        let named = json!({"name": "EVENTS", "type": "analytics_engine", "dataset": "app_events"});
        let binding = Binding::from_json(named.clone()).unwrap();
        assert!(matches!(binding.kind, BindingKind::AnalyticsEngine { .. }));
        assert_eq!(binding.analytics_engine_dataset(), Some("app_events"));
        assert_eq!(binding.to_json(), named);
        let unnamed = json!({"name": "EVENTS", "type": "analytics_engine"});
        let binding = Binding::from_json(unnamed.clone()).unwrap();
        assert_eq!(binding.analytics_engine_dataset(), Some("EVENTS"));
        assert_eq!(binding.to_json(), unnamed);
        let err =
            Binding::from_json(json!({"name": "E", "type": "analytics_engine", "dataset": 7}))
                .unwrap_err();
        assert!(
            err.contains("binding 'E' of type analytics_engine"),
            "{err}"
        );
    }

    #[test]
    fn a_queue_binding_keeps_wranglers_delivery_delay() {
        let b =
            json!({"name": "JOBS", "type": "queue", "queue_name": "jobs", "delivery_delay": 30});
        let binding = Binding::from_json(b.clone()).unwrap();
        assert!(matches!(
            binding.kind,
            BindingKind::Queue { ref queue_name, delivery_delay: Some(30) } if queue_name == "jobs"
        ));
        assert_eq!(binding.to_json(), b);
        let unnamed = json!({"name": "JOBS", "type": "queue"});
        assert_eq!(
            Binding::from_json(unnamed.clone()).unwrap().to_json(),
            unnamed
        );
    }

    #[test]
    fn unknown_types_are_kept_whole() {
        let b = json!({"name": "V", "type": "vectorize", "index_name": "docs"});
        let binding = Binding::from_json(b.clone()).unwrap();
        assert_eq!(binding.kind.type_name(), "vectorize");
        assert_eq!(binding.to_json(), b);
    }

    #[test]
    fn malformed_known_bindings_name_the_binding() {
        let err = Binding::from_json(json!({"name": "KV", "type": "kv_namespace"})).unwrap_err();
        assert!(err.contains("binding 'KV' of type kv_namespace"), "{err}");
        assert!(Binding::from_json(json!({"type": "json", "json": 1})).is_err());
    }

    #[test]
    fn a_secret_text_never_serializes_its_text() {
        let binding =
            Binding::from_json(json!({"name": "T", "type": "secret_text", "text": "hunter2"}))
                .unwrap();
        let BindingKind::SecretText { text, .. } = &binding.kind else {
            panic!("not a secret")
        };
        assert_eq!(text.as_deref(), Some("hunter2"));
        assert!(!binding.to_json().to_string().contains("hunter2"));
        assert_eq!(
            binding.public_json(),
            json!({"name": "T", "type": "secret_text"})
        );
    }

    #[test]
    fn a_script_document_keeps_unknown_fields() {
        let doc = json!({
            "id": "w", "tag": "t", "etag": "e", "created_on": "c", "modified_on": "m",
            "deployment_id": "d", "something_new": {"x": 1},
            "bindings": [{"name": "V", "type": "plain_text", "text": "1"}],
        });
        let script: Script = serde_json::from_value(doc).unwrap();
        assert_eq!(script.compatibility_date, "2021-11-02");
        let back = serde_json::to_value(&script).unwrap();
        assert_eq!(back["something_new"], json!({"x": 1}));
        assert_eq!(back["bindings"][0]["text"], "1");
    }
}
