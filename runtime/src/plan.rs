//! The plan: for each resource, what a deploy would do, and why.
//!
//! Each declared resource is compared with its record: no record means create; a `creating`
//! record (an interrupted run) means create with adopt; a change of a property the kind cannot
//! change in place (the resolved name included) means replace; other changes mean update; a
//! resource whose dependency is recreated, or whose dependency's output moved, is updated so that
//! it points at the new one. Records no longer declared are deleted (or forgotten, with
//! `delete: false`). Steps come in dependency order, deletions last and dependents first.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use athanor_core::{Kind, Output, Resource, Stack};

use crate::diff::{self, Change};
use crate::error::Result;
use crate::graph::Graph;
use crate::state::{Digests, Instance, Record, Snapshot, Status};

/// What a deploy does to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Nothing: no request is sent.
    Keep,
    /// Create it (or adopt it, see [`Step::adopt`]).
    Create,
    /// Change it in place.
    Update,
    /// Create a new one and delete the old one (or delete first, see [`Step::delete_first`]).
    Replace,
    /// Delete it: it is no longer declared.
    Delete,
    /// Remove it from state without deleting it (`delete: false`).
    Forget,
}

impl Action {
    /// The lowercase verb shown in plans and progress (`create`, `no change`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Keep => "no change",
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Forget => "forget",
        }
    }

    /// What becomes of a replaced instance: deleted, or only forgotten when it was declared
    /// with `delete: false`.
    pub(crate) fn for_instance(instance: &Instance) -> Action {
        if instance.delete {
            Action::Delete
        } else {
            Action::Forget
        }
    }

    fn sign(self) -> &'static str {
        match self {
            Action::Keep => "=",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "±",
            Action::Delete => "-",
            Action::Forget => "×",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One resource's part of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The logical id.
    pub id: String,
    /// The kind (the recorded one for deletions).
    pub kind: Kind,
    /// What happens.
    pub action: Action,
    /// The physical name (the new one for a replace).
    pub name: String,
    /// What changes, property by property.
    pub changes: Vec<Change>,
    /// Create by adopting an existing resource of that name: the user's `adopt: true`.
    pub adopt: bool,
    /// Resuming a create an earlier run was interrupted in: what that run made is taken over as
    /// this stack's own.
    pub resumed: bool,
    /// A replace that must delete the old resource first (its name stays the same).
    pub delete_first: bool,
    /// Drift found with `--refresh`: how the live resource differs from state.
    pub drift: Option<String>,
    /// For deletions of a replaced instance: that instance's name.
    pub superseded: bool,
    /// The digests to record once applied (fingerprint, secrets).
    pub(crate) digests: Digests,
}

/// Counts of a plan's actions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Resources to create.
    pub create: usize,
    /// Resources to update in place.
    pub update: usize,
    /// Resources to replace.
    pub replace: usize,
    /// Resources to delete (replaced instances included).
    pub delete: usize,
    /// Resources to forget without deleting.
    pub forget: usize,
    /// Resources left as they are.
    pub keep: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} to create, {} to update, {} to replace, {} to delete",
            self.create, self.update, self.replace, self.delete
        )?;
        if self.forget > 0 {
            write!(f, ", {} to forget", self.forget)?;
        }
        Ok(())
    }
}

/// What a deploy of one stage would do.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The application.
    pub app: String,
    /// The stage.
    pub stage: String,
    /// Declared resources in dependency order, then deletions (dependents first).
    pub steps: Vec<Step>,
}

impl Plan {
    /// The counts of each action.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for step in &self.steps {
            match step.action {
                Action::Keep => s.keep += 1,
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
                Action::Forget => s.forget += 1,
            }
        }
        s
    }

    /// Whether a deploy would change anything.
    pub fn has_changes(&self) -> bool {
        self.steps.iter().any(|s| s.action != Action::Keep)
    }

    /// The step of logical id `id` (a declared resource, or an orphan).
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id && !s.superseded)
    }

    /// The plan as JSON, for CI (`plan --json`): sensitive values are never included.
    pub fn to_json(&self) -> Value {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                let changes: Vec<Value> = s
                    .changes
                    .iter()
                    .map(|c| {
                        if c.sensitive {
                            json!({ "property": c.property, "sensitive": true })
                        } else {
                            json!({ "property": c.property, "before": c.before, "after": c.after })
                        }
                    })
                    .collect();
                json!({
                    "id": s.id,
                    "kind": s.kind.as_str(),
                    "action": s.action.as_str(),
                    "name": s.name,
                    "adopt": s.adopt,
                    "resumed": s.resumed,
                    "delete_first": s.delete_first,
                    "drift": s.drift,
                    "changes": changes,
                })
            })
            .collect();
        let sum = self.summary();
        json!({
            "app": self.app,
            "stage": self.stage,
            "steps": steps,
            "summary": {
                "create": sum.create, "update": sum.update, "replace": sum.replace,
                "delete": sum.delete, "forget": sum.forget, "unchanged": sum.keep,
            },
        })
    }

    /// The plan as text: one line per resource that changes (every resource with `verbose`),
    /// then the summary.
    pub fn render(&self, verbose: bool) -> String {
        let mut out = String::new();
        for step in &self.steps {
            if step.action == Action::Keep && !verbose {
                continue;
            }
            let mut line = format!(
                "{} {:<9} {:<22} {}",
                step.action.sign(),
                step.action.as_str(),
                step.kind.as_str(),
                step.id
            );
            if step.name != step.id {
                line.push_str(&format!(" ({})", step.name));
            }
            let mut notes: Vec<String> = Vec::new();
            if step.resumed {
                notes.push("resuming an interrupted create: takes over what it made".into());
            } else if step.adopt && step.action == Action::Create {
                notes.push("adopt".into());
            }
            if step.superseded {
                notes.push("replaced instance".into());
            }
            if step.delete_first {
                notes.push("deletes before creating: the name stays the same".into());
            }
            if let Some(drift) = &step.drift {
                notes.push(format!("drift: {drift}"));
            }
            notes.extend(step.changes.iter().map(Change::describe));
            if !notes.is_empty() {
                line.push_str(": ");
                line.push_str(&notes.join(", "));
            }
            out.push_str(&line);
            out.push('\n');
        }
        if !self.has_changes() {
            out.push_str("No changes.\n");
        }
        out.push_str(&format!("Plan: {}\n", self.summary()));
        out
    }
}

/// The inputs of a plan besides the stack and state.
#[derive(Debug, Default)]
pub(crate) struct Inputs {
    /// Keyed digests of each resource's secret values (see `secrets::Keyring::digest`).
    pub secret_digests: BTreeMap<String, BTreeMap<String, String>>,
    /// The provider's fingerprint of each resource's outside inputs (Worker modules).
    pub fingerprints: BTreeMap<String, Option<String>>,
    /// With `--refresh`: each recorded resource as read live (`None`: it is gone).
    pub live: Option<BTreeMap<String, Option<Output>>>,
}

/// What a dependent records of each dependency: SHA-256 of the JSON of the dependency's handle
/// ([`Output::handle`]), so that a dependent is updated when what it uses changes (a namespace
/// recreated under a new id), not when a detail does (a bound Worker's new etag).
pub fn dependency_digest(output: &Output) -> String {
    digest(&output.handle())
}

/// Whether `recorded`, a dependent's digest of a dependency, still describes `output`: the
/// digest of its handle, or, for a record written before handles, of the whole output.
pub(crate) fn dependency_unchanged(recorded: &str, output: &Output) -> bool {
    recorded == dependency_digest(output) || recorded == digest(output)
}

fn digest(output: &Output) -> String {
    let json = serde_json::to_vec(output).expect("outputs serialize");
    hex::encode(Sha256::digest(json))
}

/// Plans a deploy of `stack` at `stage` over `state`.
pub(crate) fn plan(stack: &Stack, stage: &str, state: &Snapshot, inputs: &Inputs) -> Result<Plan> {
    let graph = Graph::from_stack(stack)?;
    let mut steps: Vec<Step> = Vec::with_capacity(stack.resources.len());
    let mut action_of: BTreeMap<&str, Action> = BTreeMap::new();
    for &i in graph.order() {
        let resource = &stack.resources[i];
        let mut step = new_step(stack, stage, inputs, resource);
        match state.records.get(&resource.id) {
            None => step.action = Action::Create,
            Some(rec) if rec.status == Status::Creating || rec.output.is_none() => {
                step.action = Action::Create;
                step.resumed = true;
            }
            Some(rec) if rec.kind != resource.kind() => {
                step.action = Action::Replace;
                step.changes.push(Change {
                    property: "kind".into(),
                    before: Some(Value::String(rec.kind.as_str().into())),
                    after: Some(Value::String(resource.kind().as_str().into())),
                    sensitive: false,
                });
            }
            Some(rec) => compare(&mut step, resource, rec, inputs),
        }
        if step.action == Action::Keep {
            for change in dependency_changes(resource, state, &action_of) {
                step.action = Action::Update;
                step.changes.push(change);
            }
        }
        action_of.insert(&resource.id, step.action);
        steps.push(step);
    }
    steps.extend(deletions(stack, state, inputs)?);
    Ok(Plan {
        app: stack.app.clone(),
        stage: stage.to_owned(),
        steps,
    })
}

/// The step of a declared resource before it is compared with state: a `Keep` with its name and
/// the digests of its inputs.
fn new_step(stack: &Stack, stage: &str, inputs: &Inputs, resource: &Resource) -> Step {
    let id = resource.id.as_str();
    Step {
        id: id.to_owned(),
        kind: resource.kind(),
        action: Action::Keep,
        name: diff::resolved_name(&stack.app, stage, resource),
        changes: Vec::new(),
        adopt: resource.adopt,
        resumed: false,
        delete_first: false,
        drift: None,
        superseded: false,
        digests: Digests {
            fingerprint: inputs.fingerprints.get(id).cloned().flatten(),
            secrets: inputs.secret_digests.get(id).cloned().unwrap_or_default(),
            deps: BTreeMap::new(),
        },
    }
}

/// Compares a declared resource with its record of the same kind: its properties, secrets and
/// modules, and (with `--refresh`) what is live. Sets the step's action, changes and drift.
fn compare(step: &mut Step, resource: &Resource, rec: &Record, inputs: &Inputs) {
    let live = inputs.live.as_ref().and_then(|l| l.get(&resource.id));
    if let Some(None) = live {
        step.action = Action::Create;
        step.drift = Some("deleted outside athanor".into());
        return;
    }
    let mut changes = diff::property_changes(&rec.props, &rec.name, &resource.props, &step.name);
    changes.extend(diff::secret_changes(
        rec.kind,
        &rec.digests.secrets,
        &step.digests.secrets,
    ));
    if rec.digests.fingerprint != step.digests.fingerprint {
        changes.push(Change::opaque("modules"));
    }
    if let Some(Some(live)) = live
        && Some(live) != rec.output.as_ref()
    {
        step.drift = Some(describe_drift(rec.output.as_ref(), live));
    }
    step.action = if diff::needs_replace(resource.kind(), &changes) {
        step.delete_first = rec.name == step.name;
        Action::Replace
    } else if !changes.is_empty() || step.drift.is_some() {
        Action::Update
    } else {
        Action::Keep
    };
    step.changes = changes;
}

/// The dependencies of an otherwise unchanged resource whose outputs will differ from those it
/// was deployed with: recreated in this plan, or changed since (each a change that updates it).
fn dependency_changes(
    resource: &Resource,
    state: &Snapshot,
    action_of: &BTreeMap<&str, Action>,
) -> Vec<Change> {
    let Some(rec) = state.records.get(&resource.id) else {
        return Vec::new();
    };
    resource
        .dependencies()
        .into_iter()
        .filter_map(|dep| {
            let why = match action_of.get(dep) {
                Some(Action::Create | Action::Replace) => Some("recreated"),
                _ => {
                    let now = state.records.get(dep).and_then(|d| d.output.as_ref());
                    let recorded = rec.digests.deps.get(dep);
                    now.is_some_and(|now| {
                        recorded.is_none_or(|recorded| !dependency_unchanged(recorded, now))
                    })
                    .then_some("changed")
                }
            };
            why.map(|why| Change::opaque(format!("dependency {dep} ({why})")))
        })
        .collect()
}

fn describe_drift(recorded: Option<&Output>, live: &Output) -> String {
    let (Some(Ok(Value::Object(old))), Ok(Value::Object(new))) = (
        recorded.map(serde_json::to_value),
        serde_json::to_value(live),
    ) else {
        return "changed outside athanor".into();
    };
    let fields: Vec<&str> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, _)| k.as_str())
        .collect();
    format!("changed outside athanor ({})", fields.join(", "))
}

/// Orphans and leftover replaced instances, dependents first.
fn deletions(stack: &Stack, state: &Snapshot, inputs: &Inputs) -> Result<Vec<Step>> {
    let declared: std::collections::BTreeSet<&str> =
        stack.resources.iter().map(|r| r.id.as_str()).collect();
    let orphans = Graph::from_records(
        state
            .records
            .values()
            .filter(|r| !declared.contains(r.id.as_str()))
            .map(|r| (r.id.clone(), r.dependencies.clone())),
    )?;
    let mut steps = Vec::new();
    for &i in orphans.order().iter().rev() {
        let rec = &state.records[orphans.id(i)];
        let gone = matches!(
            inputs.live.as_ref().and_then(|l| l.get(&rec.id)),
            Some(None)
        );
        let forget = !rec.delete || gone || rec.output.is_none();
        steps.push(Step {
            id: rec.id.clone(),
            kind: rec.kind,
            action: if forget {
                Action::Forget
            } else {
                Action::Delete
            },
            name: rec.name.clone(),
            changes: Vec::new(),
            adopt: false,
            resumed: false,
            delete_first: false,
            drift: gone.then(|| "already deleted outside athanor".into()),
            superseded: false,
            digests: Digests::default(),
        });
    }
    for rec in state.records.values() {
        for old in &rec.superseded {
            steps.push(Step {
                id: rec.id.clone(),
                kind: old.output.kind(),
                action: Action::for_instance(old),
                name: old.name.clone(),
                changes: Vec::new(),
                adopt: false,
                resumed: false,
                delete_first: false,
                drift: None,
                superseded: true,
                digests: Digests::default(),
            });
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Record, SCHEMA_VERSION};
    use athanor_core::Resource;
    use athanor_core::output::KvNamespaceOutput;
    use athanor_core::stack::KvNamespace;

    fn record(id: &str, title: &str) -> Record {
        Record {
            schema_version: SCHEMA_VERSION,
            id: id.into(),
            kind: Kind::KvNamespace,
            status: Status::Created,
            name: title.into(),
            props: KvNamespace::default().into(),
            adopt: false,
            delete: true,
            output: Some(Output::KvNamespace(KvNamespaceOutput {
                id: format!("{id}-id"),
                title: title.into(),
            })),
            dependencies: vec![],
            digests: Digests::default(),
            superseded: vec![],
        }
    }

    #[test]
    fn a_plan_renders_one_line_per_change_and_the_summary() {
        let stack = Stack::new("app", ".")
            .with(Resource::new("new", KvNamespace::default()))
            .with(Resource::new(
                "renamed",
                KvNamespace {
                    title: Some("fresh-title".into()),
                    values: vec![],
                },
            ))
            .with(Resource::new("same", KvNamespace::default()));
        let mut state = Snapshot::default();
        for r in [
            record("renamed", "old-title"),
            record("same", "app-same-dev"),
            record("gone", "app-gone-dev"),
        ] {
            state.records.insert(r.id.clone(), r);
        }
        let plan = plan(&stack, "dev", &state, &Inputs::default()).unwrap();
        let text = plan.render(false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("+ create") && lines[0].contains("new (app-new-dev)"));
        assert!(
            lines[1].contains("name: \"old-title\" -> \"fresh-title\""),
            "{}",
            lines[1]
        );
        assert!(lines[2].starts_with("- delete") && lines[2].contains("gone"));
        assert_eq!(
            lines[3],
            "Plan: 1 to create, 1 to update, 0 to replace, 1 to delete"
        );
        assert!(plan.render(true).contains("= no change"));
        let json = plan.to_json();
        assert_eq!(json["summary"]["unchanged"], 1);
        assert_eq!(json["steps"][1]["changes"][0]["after"], "fresh-title");
    }

    #[test]
    fn a_plan_without_changes_says_so() {
        let stack = Stack::new("app", ".").with(Resource::new("same", KvNamespace::default()));
        let mut state = Snapshot::default();
        state
            .records
            .insert("same".into(), record("same", "app-same-dev"));
        let plan = plan(&stack, "dev", &state, &Inputs::default()).unwrap();
        assert!(!plan.has_changes());
        assert_eq!(
            plan.render(false),
            "No changes.\nPlan: 0 to create, 0 to update, 0 to replace, 0 to delete\n"
        );
    }
}
