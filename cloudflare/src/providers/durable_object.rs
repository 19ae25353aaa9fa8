//! Durable Object namespaces, which have no API call of their own: a class comes into being
//! through the migrations of the Worker that exports it.
//!
//! This module turns what the Worker binds (classes it exports, by logical id) and what was
//! deployed (read from the script's tags, `athanor:do:<logical id>:<class>`, not only from local
//! state) into one migration step: new classes (`new_sqlite_classes` when SQLite-backed),
//! renamed classes (same logical id, another class name) and deleted classes, with
//! `old_tag`/`new_tag`.
//!
//! The namespace ids exist only once the Worker's upload has created the classes, so they are
//! read after that upload, from the account's namespace list, into the Worker's output.

use std::collections::BTreeMap;

use athanor_core::output::DurableObjectNamespaceOutput;
use athanor_core::stack::DurableObjectNamespace;
use athanor_core::{Kind, Output, ProviderError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Deployed, describe};
use crate::client::Client;
use crate::error::Error;

/// The tag prefix marking a Durable Object class bound by a Worker.
pub(crate) const CLASS_TAG_PREFIX: &str = "athanor:do:";

/// The output of a namespace: the class as declared. No request is made.
pub(crate) fn output(p: &DurableObjectNamespace) -> Output {
    Output::DurableObjectNamespace(DurableObjectNamespaceOutput {
        class_name: p.class_name.clone(),
        script_name: p.script_name.clone(),
        environment: p.environment.clone(),
        sqlite: p.sqlite,
    })
}

/// The class as now declared. Its storage cannot change: Cloudflare has no migration that turns
/// a key-value class into a SQLite one or back, so a changed `sqlite` is refused before anything
/// is sent, naming the two ways out.
pub(crate) fn update(
    p: &DurableObjectNamespace,
    e: Deployed<'_, DurableObjectNamespace, DurableObjectNamespaceOutput>,
) -> Result<Output, ProviderError> {
    if p.sqlite != e.output.sqlite && p.script_name.is_none() {
        let what = describe(Kind::DurableObjectNamespace, e.id, &p.class_name);
        let storage = |sqlite: bool| if sqlite { "SQLite" } else { "key-value" };
        return Err(ProviderError::Local {
            message: format!(
                "{what}: the class is {}-backed and is now declared {}-backed (`sqlite: {}`); Cloudflare cannot change the storage of an existing class: keep `sqlite: {}`, or declare a new `class_name` (a new class, {}-backed; the old one and its objects are deleted)",
                storage(e.output.sqlite),
                storage(p.sqlite),
                p.sqlite,
                e.output.sqlite,
                storage(p.sqlite),
            ),
        });
    }
    Ok(output(p))
}

/// The namespace as recorded; it lives in its Worker.
pub(crate) fn read(
    e: Deployed<'_, DurableObjectNamespace, DurableObjectNamespaceOutput>,
) -> Option<Output> {
    Some(Output::DurableObjectNamespace(e.output.clone()))
}

/// The most namespaces one page of the namespace list holds (what wrangler asks for too).
const NAMESPACES_PER_PAGE: u32 = 1000;

/// One item of `GET /accounts/{a}/workers/durable_objects/namespaces`.
#[derive(Debug, Deserialize)]
struct ListedNamespace {
    id: String,
    #[serde(default)]
    script: Option<String>,
    #[serde(default)]
    class: Option<String>,
}

/// The namespace id of every class the account script `script` exports, by class name: one
/// request per 1,000 namespaces of the account.
pub(crate) async fn namespace_ids(
    client: &Client,
    script: &str,
) -> Result<BTreeMap<String, String>, Error> {
    let listed: Vec<ListedNamespace> = client
        .list_pages(
            &client.account_path("/workers/durable_objects/namespaces"),
            &[],
            NAMESPACES_PER_PAGE,
        )
        .await?;
    Ok(listed
        .into_iter()
        .filter(|n| n.script.as_deref() == Some(script))
        .filter_map(|n| Some((n.class?, n.id)))
        .collect())
}

/// A class a Worker exports and binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BoundClass {
    /// The logical id of the DurableObjectNamespace resource: the class's stable identity.
    pub id: String,
    /// The class name.
    pub class_name: String,
    /// SQLite-backed storage.
    pub sqlite: bool,
}

/// A class the deployed script carries, from its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeployedClass {
    /// The logical id.
    pub id: String,
    /// The class name.
    pub class_name: String,
}

/// One migration step.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Migration {
    pub old_tag: Option<String>,
    pub new_tag: String,
    pub new_classes: Vec<String>,
    pub new_sqlite_classes: Vec<String>,
    pub renamed_classes: Vec<(String, String)>,
    pub deleted_classes: Vec<String>,
}

impl Migration {
    /// The `migrations` metadata field (single-step form).
    pub(crate) fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        if let Some(old) = &self.old_tag {
            m.insert("old_tag".into(), json!(old));
        }
        m.insert("new_tag".into(), json!(self.new_tag));
        if !self.new_classes.is_empty() {
            m.insert("new_classes".into(), json!(self.new_classes));
        }
        if !self.new_sqlite_classes.is_empty() {
            m.insert("new_sqlite_classes".into(), json!(self.new_sqlite_classes));
        }
        if !self.renamed_classes.is_empty() {
            let renamed: Vec<Value> = self
                .renamed_classes
                .iter()
                .map(|(from, to)| json!({"from": from, "to": to}))
                .collect();
            m.insert("renamed_classes".into(), Value::Array(renamed));
        }
        if !self.deleted_classes.is_empty() {
            m.insert("deleted_classes".into(), json!(self.deleted_classes));
        }
        Value::Object(m)
    }

    /// The same changes from another starting tag (after an expected-tag mismatch).
    pub(crate) fn rebased(&self, old_tag: Option<&str>) -> Migration {
        Migration {
            old_tag: old_tag.map(str::to_owned),
            new_tag: next_tag(old_tag),
            ..self.clone()
        }
    }
}

/// The tag after `tag`: `v1` first, `vN` -> `vN+1`, anything else -> `v1` (or `v2` if it was
/// `v1`).
pub(crate) fn next_tag(tag: Option<&str>) -> String {
    match tag {
        None | Some("") => "v1".into(),
        Some(t) => match t.strip_prefix('v').and_then(|n| n.parse::<u64>().ok()) {
            Some(n) => format!("v{}", n + 1),
            None => "v1".into(),
        },
    }
}

/// The tag recording a bound class.
pub(crate) fn class_tag(class: &BoundClass) -> String {
    format!("{CLASS_TAG_PREFIX}{}:{}", class.id, class.class_name)
}

/// The classes recorded in a script's tags.
pub(crate) fn deployed_classes(tags: &[String]) -> Vec<DeployedClass> {
    tags.iter()
        .filter_map(|t| t.strip_prefix(CLASS_TAG_PREFIX))
        .filter_map(|rest| rest.rsplit_once(':'))
        .map(|(id, class)| DeployedClass {
            id: id.to_owned(),
            class_name: class.to_owned(),
        })
        .collect()
}

/// The migration taking the script from `deployed` to `bound`, or `None` when nothing changes.
pub(crate) fn plan(
    bound: &[BoundClass],
    deployed: &[DeployedClass],
    old_tag: Option<&str>,
) -> Option<Migration> {
    let mut m = Migration::default();
    for b in bound {
        match deployed.iter().find(|d| d.id == b.id) {
            Some(d) if d.class_name != b.class_name => {
                m.renamed_classes
                    .push((d.class_name.clone(), b.class_name.clone()));
            }
            Some(_) => {}
            // The same class under another logical id is the same namespace.
            None if deployed.iter().any(|d| d.class_name == b.class_name) => {}
            None if b.sqlite => m.new_sqlite_classes.push(b.class_name.clone()),
            None => m.new_classes.push(b.class_name.clone()),
        }
    }
    for d in deployed {
        let still_bound = bound
            .iter()
            .any(|b| b.id == d.id || b.class_name == d.class_name);
        if !still_bound {
            m.deleted_classes.push(d.class_name.clone());
        }
    }
    if m.new_classes.is_empty()
        && m.new_sqlite_classes.is_empty()
        && m.renamed_classes.is_empty()
        && m.deleted_classes.is_empty()
    {
        return None;
    }
    Some(m.rebased(old_tag))
}

/// The current tag named in an expected-tag mismatch message
/// (`... when expected tag is 'v1'`): `Some(None)` for an empty tag, `None` if not found.
pub(crate) fn expected_tag_in(message: &str) -> Option<Option<String>> {
    let at = message.find("expected tag is")?;
    let rest = &message[at + "expected tag is".len()..];
    let start = rest.find(['\'', '"'])?;
    let quote = rest[start..].chars().next()?;
    let after = &rest[start + 1..];
    let end = after.find(quote)?;
    let tag = &after[..end];
    Some((!tag.is_empty()).then(|| tag.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(id: &str, class: &str, sqlite: bool) -> BoundClass {
        BoundClass {
            id: id.into(),
            class_name: class.into(),
            sqlite,
        }
    }

    #[test]
    fn the_storage_of_an_existing_class_cannot_change() {
        let class = |sqlite: bool| DurableObjectNamespace {
            class_name: "Counter".into(),
            sqlite,
            ..DurableObjectNamespace::default()
        };
        let Output::DurableObjectNamespace(recorded) = output(&class(false)) else {
            unreachable!()
        };
        let kept = class(false);
        let deployed = Deployed {
            id: "counter",
            props: &kept,
            output: &recorded,
        };
        assert!(update(&kept, deployed).is_ok());
        let err = update(&class(true), deployed).unwrap_err().to_string();
        assert!(
            err.contains("is key-value-backed and is now declared SQLite-backed"),
            "{err}"
        );
        assert!(err.contains("keep `sqlite: false`"), "{err}");
    }

    #[test]
    fn a_first_upload_declares_new_classes() {
        let m = plan(
            &[
                bound("counter", "Counter", true),
                bound("room", "Room", false),
            ],
            &[],
            None,
        )
        .unwrap();
        assert_eq!(m.old_tag, None);
        assert_eq!(m.new_tag, "v1");
        assert_eq!(m.new_sqlite_classes, ["Counter"]);
        assert_eq!(m.new_classes, ["Room"]);
        assert_eq!(
            m.to_json(),
            json!({"new_tag": "v1", "new_classes": ["Room"], "new_sqlite_classes": ["Counter"]})
        );
    }

    #[test]
    fn nothing_changed_means_no_migration() {
        let tags = vec![
            "athanor:app:a".to_owned(),
            class_tag(&bound("counter", "Counter", true)),
        ];
        let deployed = deployed_classes(&tags);
        assert_eq!(
            deployed,
            [DeployedClass {
                id: "counter".into(),
                class_name: "Counter".into()
            }]
        );
        assert_eq!(
            plan(&[bound("counter", "Counter", true)], &deployed, Some("v1")),
            None
        );
    }

    #[test]
    fn renames_and_deletions_come_from_what_was_deployed() {
        let deployed = vec![
            DeployedClass {
                id: "counter".into(),
                class_name: "Counter".into(),
            },
            DeployedClass {
                id: "old".into(),
                class_name: "Legacy".into(),
            },
        ];
        let m = plan(&[bound("counter", "Tally", true)], &deployed, Some("v3")).unwrap();
        assert_eq!(m.old_tag.as_deref(), Some("v3"));
        assert_eq!(m.new_tag, "v4");
        assert_eq!(
            m.renamed_classes,
            [("Counter".to_owned(), "Tally".to_owned())]
        );
        assert_eq!(m.deleted_classes, ["Legacy"]);
        assert_eq!(
            m.to_json(),
            json!({"old_tag": "v3", "new_tag": "v4",
                   "renamed_classes": [{"from": "Counter", "to": "Tally"}],
                   "deleted_classes": ["Legacy"]})
        );
    }

    #[test]
    fn tags_advance_and_mismatches_are_read() {
        assert_eq!(next_tag(None), "v1");
        assert_eq!(next_tag(Some("v9")), "v10");
        assert_eq!(next_tag(Some("release")), "v1");
        assert_eq!(
            expected_tag_in(
                "Actor migration tag precondition failed, got tag '' when expected tag is 'v1'"
            ),
            Some(Some("v1".into()))
        );
        assert_eq!(expected_tag_in("expected tag is ''"), Some(None));
        assert_eq!(expected_tag_in("something else"), None);
        let m = plan(&[bound("c", "C", false)], &[], None).unwrap();
        assert_eq!(m.rebased(Some("v1")).new_tag, "v2");
    }
}
