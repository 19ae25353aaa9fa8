//! Removing what state records, dependents first: the last phase of a deploy (resources no longer
//! declared, instances a replace left behind) and the whole of a destroy.
//!
//! A removal deletes the resource at the target (or, for `delete: false`, only forgets it), then
//! drops its record, or, for a replaced instance, takes the instance out of its record. A create
//! that never finished is looked up by its name first ([`Provider::find`]): what it made is
//! deleted when the name is one athanor derives for this stack (or, for a Worker, the script
//! carries the stack's tags), and reported as found and kept otherwise, since it may be someone
//! else's. Removals run with as many in flight as the bound allows, each
//! after every removal that references it, and after the instances of its own record (which
//! rewrite that record). A failure skips what it references and nothing else; every failure is
//! reported at the end.

use std::collections::BTreeMap;
use std::path::Path;

use athanor_core::provider::{Desired, Existing, NoLog, RunMemo};
use athanor_core::{Kind, Output, Props, Provider, Resource};

use crate::apply::{remove_record, report, write_record};
use crate::credentials_gate::CredentialsGate;
use crate::error::{Error, Result};
use crate::plan::Action;
use crate::progress::{Event, Observer, observed};
use crate::schedule::{self, NodeFuture};
use crate::state::{Instance, Record, StateStore};

/// One removal: a record, or one replaced instance of a record.
pub(crate) struct Removal {
    /// The logical id of the record.
    pub id: String,
    /// The kind of what is removed.
    pub kind: Kind,
    /// `Delete` (at the target, then from state) or `Forget` (from state only).
    pub action: Action,
    /// The physical name, for messages.
    pub name: String,
    pub props: Props,
    /// What was deployed; `None` for a create that never finished.
    pub output: Option<Output>,
    /// The replaced instance, when this is one (its record stays).
    pub instance: Option<Instance>,
    /// The logical ids it references.
    pub dependencies: Vec<String>,
    /// A record whose create never finished, to be looked up before it is forgotten.
    pub unfinished: bool,
}

impl Removal {
    /// The removal of a whole record: deleted when it has an output and may be deleted, forgotten
    /// otherwise.
    pub(crate) fn of_record(record: &Record) -> Removal {
        Removal {
            id: record.id.clone(),
            kind: record.kind,
            action: match (&record.output, record.delete) {
                (Some(_), true) => Action::Delete,
                _ => Action::Forget,
            },
            name: record.name.clone(),
            props: record.props.clone(),
            output: record.output.clone(),
            instance: None,
            dependencies: record.dependencies.clone(),
            unfinished: record.output.is_none() && record.delete,
        }
    }

    /// The removal of one replaced instance of `record`.
    pub(crate) fn of_instance(record: &Record, instance: &Instance) -> Removal {
        Removal {
            id: record.id.clone(),
            kind: instance.output.kind(),
            action: Action::for_instance(instance),
            name: instance.name.clone(),
            props: instance.props.clone(),
            output: Some(instance.output.clone()),
            instance: Some(instance.clone()),
            dependencies: instance.dependencies.clone(),
            unfinished: false,
        }
    }

    /// How reports name it.
    fn label(&self) -> String {
        match &self.instance {
            Some(_) => format!("{} (replaced instance {})", self.id, self.name),
            None => self.id.clone(),
        }
    }
}

/// What the removals did, by logical id.
#[derive(Debug, Default)]
pub(crate) struct Removed {
    /// Deleted at the target.
    pub deleted: Vec<String>,
    /// Dropped from state without a delete call.
    pub forgotten: Vec<String>,
}

/// For each removal, the removals it waits for: those that reference its id, and, for a whole
/// record, the instances of that record.
fn order(removals: &[Removal]) -> Vec<Vec<usize>> {
    removals
        .iter()
        .enumerate()
        .map(|(a, this)| {
            removals
                .iter()
                .enumerate()
                .filter(|&(b, other)| {
                    a != b
                        && (other.dependencies.contains(&this.id)
                            || (this.instance.is_none()
                                && other.instance.is_some()
                                && other.id == this.id))
                })
                .map(|(b, _)| b)
                .collect()
        })
        .collect()
}

/// Where removals happen and who hears of them.
pub(crate) struct Context<'a> {
    /// The target.
    pub provider: &'a dyn Provider,
    /// The stage's state.
    pub store: &'a StateStore,
    /// The application and the stage, for the names athanor derives and a Worker's ownership
    /// tags.
    pub app: &'a str,
    /// See `app`.
    pub stage: &'a str,
    /// The stack's root directory.
    pub root: &'a Path,
    /// How many removals may be in flight at once.
    pub concurrency: usize,
    /// Who hears about progress.
    pub observer: &'a dyn Observer,
}

/// Carries out `removals` against `records` (state as it is now); `what` names the run in the
/// error that lists the failures.
pub(crate) async fn remove(
    ctx: &Context<'_>,
    records: BTreeMap<String, Record>,
    removals: &[Removal],
    what: &'static str,
) -> Result<Removed> {
    let (provider, store, observer) = (ctx.provider, ctx.store, ctx.observer);
    let waits_for = order(removals);
    // What the resources a lookup depends on recorded (a user Worker's namespace, a secret's
    // store), as the run began.
    let recorded: BTreeMap<String, Output> = records
        .values()
        .filter_map(|r| Some((r.id.clone(), r.output.clone()?)))
        .collect();
    // Instances rewrite their record: one rewrite at a time.
    let records = tokio::sync::Mutex::new(records);
    let removed = std::sync::Mutex::new(Removed::default());
    let gate = CredentialsGate::new(provider);
    let outcomes = schedule::run(&waits_for, ctx.concurrency, |i| {
        let this = &removals[i];
        let (records, removed, recorded) = (&records, &removed, &recorded);
        let work = gate.run(async move {
            let found = match this.unfinished {
                true => look_up(ctx, this, recorded).await?,
                false => None,
            };
            let output = found.as_ref().or(this.output.as_ref());
            let deleting = this.action == Action::Delete || found.is_some();
            if let (true, Some(output)) = (deleting, output) {
                let existing = Existing {
                    id: &this.id,
                    props: &this.props,
                    output,
                    delete: true,
                };
                provider
                    .delete(existing)
                    .await
                    .map_err(Error::provider(&this.label(), this.kind))?;
            }
            match &this.instance {
                None => {
                    remove_record(store, &this.id).await?;
                    records.lock().await.remove(&this.id);
                    let mut removed = removed.lock().expect("removal report lock");
                    match deleting {
                        true => removed.deleted.push(this.id.clone()),
                        false => removed.forgotten.push(this.id.clone()),
                    }
                }
                Some(instance) => {
                    let mut records = records.lock().await;
                    if let Some(current) = records.get_mut(&this.id) {
                        if let Some(pos) = current.superseded.iter().position(|s| s == instance) {
                            current.superseded.remove(pos);
                        }
                        write_record(store, current.clone()).await?;
                    }
                }
            }
            Ok(())
        });
        Box::pin(observed(observer, &this.id, this.action, work)) as NodeFuture<'_, (), Error>
    })
    .await;
    if let Some(refused) = gate.fold(what, &outcomes) {
        return Err(refused);
    }
    let failures = report(observer, &outcomes, |i| removals[i].label());
    if !failures.is_empty() {
        return Err(Error::Failed { what, failures });
    }
    let mut removed = removed.into_inner().expect("removal report lock");
    removed.deleted.sort();
    removed.forgotten.sort();
    Ok(removed)
}

/// Looks up what the unfinished create of `this` made: its output when it is to be deleted
/// (a name athanor derives for this stack, or a Worker with the stack's tags), `None` when
/// nothing was made or what exists is kept (with a warning saying why).
async fn look_up(
    ctx: &Context<'_>,
    this: &Removal,
    recorded: &BTreeMap<String, Output>,
) -> Result<Option<Output>> {
    let resource = Resource::new(this.id.clone(), this.props.clone());
    let stage = ctx.stage;
    let deps: BTreeMap<String, Output> = this
        .dependencies
        .iter()
        .filter_map(|d| Some((d.clone(), recorded.get(d)?.clone())))
        .collect();
    let (no_secrets, memo) = (BTreeMap::new(), RunMemo::default());
    let desired = Desired {
        resource: &resource,
        name: &this.name,
        app: ctx.app,
        stage,
        root: ctx.root,
        deps: &deps,
        secrets: &no_secrets,
        adopt: false,
        resumed: true,
        log: &NoLog,
        memo: &memo,
    };
    let found = ctx
        .provider
        .find(&desired)
        .await
        .map_err(Error::provider(&this.id, this.kind))?;
    let Some(found) = found else {
        return Ok(None);
    };
    let derived = athanor_core::naming::physical_name(ctx.app, &this.id, stage);
    let ours =
        this.kind == Kind::Worker || this.name == derived || this.name == derived.replace('-', "_");
    if ours {
        return Ok(Some(found));
    }
    ctx.observer.event(Event::Warning {
        id: this.id.clone(),
        message: format!(
            "its create was interrupted, and `{}` exists at the target; its name is not one athanor derives for this stack, so it may be someone else's and is kept: delete it by hand if it is what the interrupted create made",
            this.name
        ),
    });
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn removal(id: &str, deps: &[&str], instance: bool) -> Removal {
        Removal {
            id: id.into(),
            kind: Kind::KvNamespace,
            action: Action::Delete,
            name: id.into(),
            props: Props::KvNamespace(Default::default()),
            output: None,
            instance: instance.then(|| Instance {
                name: format!("{id}-old"),
                props: Props::KvNamespace(Default::default()),
                output: Output::KvNamespace(athanor_core::output::KvNamespaceOutput {
                    id: "x".into(),
                    title: "t".into(),
                }),
                delete: true,
                dependencies: Vec::new(),
            }),
            dependencies: deps.iter().map(|d| (*d).into()).collect(),
            unfinished: false,
        }
    }

    #[test]
    fn dependents_go_first_and_a_record_after_its_instances() {
        let removals = [
            removal("kv", &[], false),
            removal("api", &["kv"], false),
            removal("kv", &[], true),
        ];
        let waits = order(&removals);
        // The namespace waits for the Worker that binds it and for its replaced instance; the
        // instance, like every removal of that id, for the Worker.
        assert_eq!(waits[0], [1, 2]);
        assert!(waits[1].is_empty());
        assert_eq!(waits[2], [1]);
    }
}
