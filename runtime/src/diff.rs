//! Property-level differences between a resource as recorded and as declared.
//!
//! Properties are compared as JSON, field by field; a Worker's bindings binding by binding. The
//! physical name is compared resolved (declared, or derived from app, id and stage), as the
//! pseudo-property `name`, so that changing the stage or the declared name shows the same way.
//! Secret values are compared by keyed digest only, and shown as `(sensitive)`.

use std::collections::BTreeMap;

use serde_json::Value;

use athanor_core::naming::{physical_name, secret_name};
use athanor_core::stack::DEFAULT_SECRETS_STORE;
use athanor_core::{Kind, Props, Resource, Stack};

use crate::error::Error;

/// One property that changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The property: `name`, `values`, `bindings.MY_KV`, `modules`, `dependency sessions`.
    pub property: String,
    /// The recorded value (`None` when absent, or sensitive).
    pub before: Option<Value>,
    /// The declared value (`None` when absent, or sensitive).
    pub after: Option<Value>,
    /// A secret: values are never shown.
    pub sensitive: bool,
}

impl Change {
    /// A change whose values are not shown (modules, dependencies).
    pub fn opaque(property: impl Into<String>) -> Change {
        Change {
            property: property.into(),
            before: None,
            after: None,
            sensitive: false,
        }
    }

    /// The property before its first `.` (`bindings` for `bindings.MY_KV`).
    pub fn root(&self) -> &str {
        self.property.split('.').next().unwrap_or(&self.property)
    }

    /// `property: before -> after`, `property (sensitive)` or `property (changed)`.
    pub fn describe(&self) -> String {
        if self.sensitive {
            return format!("{} (sensitive)", self.property);
        }
        match (&self.before, &self.after) {
            (None, None) => format!("{} (changed)", self.property),
            (before, after) => format!(
                "{}: {} -> {}",
                self.property,
                short(before.as_ref()),
                short(after.as_ref())
            ),
        }
    }
}

fn short(value: Option<&Value>) -> String {
    const MAX: usize = 48;
    let Some(value) = value else {
        return "(none)".into();
    };
    let text = value.to_string();
    if text.chars().count() <= MAX {
        text
    } else {
        let cut: String = text.chars().take(MAX - 1).collect();
        format!("{cut}…")
    }
}

/// The physical name of a resource: the declared one, else the default for its kind (a derived
/// `app-id-stage` name; a Secret's name from its id; the default Secrets Store).
pub fn resolved_name(app: &str, stage: &str, resource: &Resource) -> String {
    match &resource.props {
        Props::SecretsStore(p) => p
            .name
            .clone()
            .unwrap_or_else(|| DEFAULT_SECRETS_STORE.to_owned()),
        Props::Secret(p) => p.name.clone().unwrap_or_else(|| secret_name(&resource.id)),
        // A name SQL takes without quotes.
        Props::AnalyticsEngineDataset(p) => p
            .dataset
            .clone()
            .unwrap_or_else(|| physical_name(app, &resource.id, stage).replace('-', "_")),
        props => props
            .declared_name()
            .map(str::to_owned)
            .unwrap_or_else(|| physical_name(app, &resource.id, stage)),
    }
}

/// Refuses, before any request, a resource whose name Cloudflare would refuse: names given as
/// Rust expressions (a tenant's, built at run time) are not checked at compile time.
pub(crate) fn check_names(stack: &Stack, stage: &str) -> Result<(), Error> {
    for resource in &stack.resources {
        let kind = resource.props.kind();
        let name = match kind {
            // A class name, not a name Cloudflare keeps unique: declared or nothing.
            Kind::DurableObjectNamespace => match resource.props.declared_name() {
                Some(n) => n.to_owned(),
                None => continue,
            },
            _ => resolved_name(&stack.app, stage, resource),
        };
        if let Err(reason) = athanor_core::naming::check_name(kind, &name) {
            return Err(Error::InvalidName {
                kind,
                id: resource.id.clone(),
                name,
                reason,
            });
        }
    }
    Ok(())
}

/// The field of a kind's properties that holds its declared name (compared resolved instead).
fn name_field(kind: Kind) -> &'static str {
    match kind {
        Kind::KvNamespace => "title",
        Kind::DurableObjectNamespace => "class_name",
        Kind::AnalyticsEngineDataset => "dataset",
        _ => "name",
    }
}

/// The changes from `old` (named `old_name`) to `new` (named `new_name`), names resolved.
pub(crate) fn property_changes(
    old: &Props,
    old_name: &str,
    new: &Props,
    new_name: &str,
) -> Vec<Change> {
    let mut changes = Vec::new();
    if old_name != new_name {
        changes.push(Change {
            property: "name".into(),
            before: Some(Value::String(old_name.to_owned())),
            after: Some(Value::String(new_name.to_owned())),
            sensitive: false,
        });
    }
    let skip = name_field(new.kind());
    let old = fields(old);
    let new = fields(new);
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for key in keys {
        if key == "kind" || key == skip {
            continue;
        }
        let (before, after) = (old.get(key), new.get(key));
        if key == "bindings" {
            changes.extend(binding_changes(before, after));
        } else if !same(before, after) {
            changes.push(Change {
                property: key.clone(),
                before: before.filter(|v| !is_empty(v)).cloned(),
                after: after.filter(|v| !is_empty(v)).cloned(),
                sensitive: false,
            });
        }
    }
    changes
}

fn fields(props: &Props) -> serde_json::Map<String, Value> {
    match serde_json::to_value(props) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// `null`, `[]` and `false` are what an unset property serializes to.
fn is_empty(v: &Value) -> bool {
    matches!(v, Value::Null | Value::Bool(false)) || v.as_array().is_some_and(Vec::is_empty)
}

fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        (Some(v), None) | (None, Some(v)) => is_empty(v),
        (None, None) => true,
    }
}

fn binding_changes(before: Option<&Value>, after: Option<&Value>) -> Vec<Change> {
    let by_name = |v: Option<&Value>| -> BTreeMap<String, Value> {
        v.and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|b| {
                        let name = b.get("name")?.as_str()?.to_owned();
                        Some((name, b.get("value").cloned().unwrap_or(Value::Null)))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (old, new) = (by_name(before), by_name(after));
    let names: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut changes: Vec<Change> = names
        .into_iter()
        .filter(|n| old.get(*n) != new.get(*n))
        .map(|n| Change {
            property: format!("bindings.{n}"),
            before: old.get(n).cloned(),
            after: new.get(n).cloned(),
            sensitive: false,
        })
        .collect();
    // Same bindings in another order: still a change of the upload.
    if changes.is_empty() && before != after && !same(before, after) {
        changes.push(Change::opaque("bindings"));
    }
    changes
}

/// Secret values whose keyed digest differs (or that appear or disappear), as sensitive changes:
/// `value` for a Secret, `bindings.NAME` for a Worker's `secret_text`.
pub(crate) fn secret_changes(
    kind: Kind,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Vec<Change> {
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| Change {
            property: if kind == Kind::Worker {
                format!("bindings.{k}")
            } else {
                k.clone()
            },
            before: None,
            after: None,
            sensitive: true,
        })
        .collect()
}

/// Whether these changes need a replace: one of them is a property the kind cannot change in
/// place ([`Kind::replace_properties`]).
pub(crate) fn needs_replace(kind: Kind, changes: &[Change]) -> bool {
    changes
        .iter()
        .any(|c| kind.replace_properties().contains(&c.root()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use athanor_core::binding::{Binding, BindingValue};
    use athanor_core::stack::{KvNamespace, KvValue, R2Bucket, Worker};
    use athanor_core::{ResourceRef, SecretSource};

    #[test]
    fn a_name_cloudflare_would_refuse_is_found_before_any_request() {
        let bucket = |name: &str| R2Bucket {
            name: Some(name.into()),
            ..R2Bucket::default()
        };
        let good = Stack::new("app", ".")
            .with(Resource::new("files", bucket("acme-files")))
            .with(Resource::new("default-named", R2Bucket::default()));
        assert!(check_names(&good, "tenant-acme").is_ok());
        let bad = Stack::new("app", ".").with(Resource::new("files", bucket("Acme_Files")));
        let err = check_names(&bad, "tenant-acme").unwrap_err().to_string();
        assert!(
            err.starts_with("R2Bucket `files`: Cloudflare would refuse the name \"Acme_Files\""),
            "{err}"
        );
        assert!(err.contains("try `acme-files`"), "{err}");
    }

    #[test]
    fn an_unchanged_resource_has_no_changes() {
        let p: Props = KvNamespace::default().into();
        assert!(property_changes(&p, "app-kv-dev", &p, "app-kv-dev").is_empty());
    }

    #[test]
    fn a_declared_name_equal_to_the_default_is_no_change() {
        let old: Props = KvNamespace::default().into();
        let new: Props = KvNamespace {
            title: Some("app-kv-dev".into()),
            values: vec![],
        }
        .into();
        assert!(property_changes(&old, "app-kv-dev", &new, "app-kv-dev").is_empty());
    }

    #[test]
    fn a_bucket_rename_is_a_replace_and_a_title_change_is_not() {
        let bucket: Props = R2Bucket::default().into();
        let changes = property_changes(&bucket, "old-bucket", &bucket, "new-bucket");
        assert_eq!(
            changes[0].describe(),
            "name: \"old-bucket\" -> \"new-bucket\""
        );
        assert!(needs_replace(Kind::R2Bucket, &changes));
        let kv: Props = KvNamespace::default().into();
        let changes = property_changes(&kv, "a", &kv, "b");
        assert!(!needs_replace(Kind::KvNamespace, &changes));
        let hinted: Props = R2Bucket {
            location_hint: Some("weur".into()),
            ..R2Bucket::default()
        }
        .into();
        let changes = property_changes(&bucket, "b", &hinted, "b");
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].property, "location_hint");
        assert!(needs_replace(Kind::R2Bucket, &changes));
    }

    #[test]
    fn worker_bindings_are_compared_one_by_one() {
        let worker = |v: &str, kv: &str| -> Props {
            Worker {
                code: athanor_core::stack::WorkerCode::Entrypoint("w.js".into()),
                bindings: vec![
                    Binding::new("VERSION", v),
                    Binding::new("KV", BindingValue::Resource(ResourceRef::new(kv))),
                    Binding::new("TOKEN", SecretSource::env("TOKEN")),
                ],
                ..Worker::default()
            }
            .into()
        };
        let changes = property_changes(&worker("1", "kv"), "w", &worker("2", "kv"), "w");
        assert_eq!(changes.len(), 1);
        assert_eq!(
            changes[0].describe(),
            "bindings.VERSION: {\"plain_text\":\"1\"} -> {\"plain_text\":\"2\"}"
        );
        assert!(!needs_replace(Kind::Worker, &changes));
        let changes = property_changes(&worker("1", "kv"), "w", &worker("1", "kv2"), "w");
        assert_eq!(changes[0].property, "bindings.KV");
    }

    #[test]
    fn seeded_values_show_as_one_property() {
        let old: Props = KvNamespace::default().into();
        let new: Props = KvNamespace {
            title: None,
            values: vec![KvValue::new("k", "v")],
        }
        .into();
        let changes = property_changes(&old, "n", &new, "n");
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].property, "values");
        assert_eq!(changes[0].before, None);
    }

    #[test]
    fn secret_changes_never_show_values() {
        let old = BTreeMap::from([("TOKEN".to_owned(), "aa".to_owned())]);
        let new = BTreeMap::from([("TOKEN".to_owned(), "bb".to_owned())]);
        let changes = secret_changes(Kind::Worker, &old, &new);
        assert_eq!(changes[0].describe(), "bindings.TOKEN (sensitive)");
        assert!(secret_changes(Kind::Worker, &old, &old).is_empty());
        assert_eq!(
            secret_changes(Kind::Secret, &BTreeMap::new(), &old)[0].describe(),
            "TOKEN (sensitive)"
        );
    }
}
