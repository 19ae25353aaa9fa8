//! Deploy: carry out a plan against a provider, writing state after every step.
//!
//! Declared resources run concurrently under a bound, each starting when everything it
//! references is done (its `Desired` carries their outputs). A `creating` record goes down before
//! every create call, so an interrupted run adopts instead of duplicating. A replace creates the
//! new resource first when the name changes (the old one is deleted at the end, once its
//! dependents point at the new one), and deletes first when the name stays. Orphans and replaced
//! instances are deleted only when everything else succeeded, dependents first; `delete: false`
//! only forgets. A resource with nothing to change sends no request, unless a dependency's output
//! moved under it. A failure skips its dependents; independent work goes on; every failure is
//! reported at the end.

use std::collections::BTreeMap;
use std::sync::Mutex;

use secrecy::SecretString;

use athanor_core::provider::Desired;
use athanor_core::{Output, Provider, Resource, Stack};

use crate::error::{Error, Failure, Result};
use crate::graph::Graph;
use crate::outputs::Outputs;
use crate::plan::{Action, Plan, Step, output_digest};
use crate::progress::{Event, ObservedLog, Observer, observed};
use crate::removal::{self, Removal};
use crate::schedule::{self, NodeFuture, Outcome};
use crate::secrets::{Keyring, SecretValues};
use crate::state::{Digests, Instance, Record, SCHEMA_VERSION, Snapshot, StateStore, Status};

/// Everything a deploy needs besides the plan.
pub(crate) struct Context<'a> {
    /// The declared stack.
    pub stack: &'a Stack,
    /// The stage.
    pub stage: &'a str,
    /// The target.
    pub provider: &'a dyn Provider,
    /// Where state goes.
    pub store: &'a StateStore,
    /// State as the plan saw it.
    pub state: &'a Snapshot,
    /// The secret values of the stack.
    pub secrets: &'a SecretValues,
    /// The keys sealing secrets (required when the stack has secrets).
    pub keyring: Option<&'a Keyring>,
    /// How many resources may be in flight at once.
    pub concurrency: usize,
    /// Who hears about progress.
    pub observer: &'a dyn Observer,
}

static NO_SECRETS: BTreeMap<String, SecretString> = BTreeMap::new();

/// Writes a record (the store keeps its other in-flight requests going meanwhile).
pub(crate) async fn write_record(store: &StateStore, record: Record) -> Result<()> {
    store.write_record(&record).await
}

/// Removes a record.
pub(crate) async fn remove_record(store: &StateStore, id: &str) -> Result<()> {
    store.remove_record(id).await
}

/// Applies `plan` and returns the outputs of every declared resource.
pub(crate) async fn apply(ctx: &Context<'_>, plan: &Plan) -> Result<Outputs> {
    let graph = Graph::from_stack(ctx.stack)?;
    let outputs: Mutex<BTreeMap<String, Output>> = Mutex::new(BTreeMap::new());
    let steps: BTreeMap<&str, &Step> = plan
        .steps
        .iter()
        .filter(|s| !s.superseded && !matches!(s.action, Action::Delete | Action::Forget))
        .map(|s| (s.id.as_str(), s))
        .collect();
    let outcomes = schedule::run(graph.dep_lists(), ctx.concurrency, |i| {
        let resource = &ctx.stack.resources[i];
        let step = steps.get(resource.id.as_str()).copied();
        let outputs = &outputs;
        Box::pin(async move {
            let step = step.ok_or_else(|| Error::NotInState {
                id: resource.id.clone(),
                stage: ctx.stage.to_owned(),
            })?;
            let output = apply_one(ctx, resource, step, outputs).await?;
            outputs
                .lock()
                .expect("outputs lock")
                .insert(resource.id.clone(), output.clone());
            Ok(output)
        }) as NodeFuture<'_, Output, Error>
    })
    .await;
    let failures = report(ctx.observer, &outcomes, |i| graph.id(i).to_owned());
    if !failures.is_empty() {
        return Err(Error::Failed {
            what: "deploy",
            failures,
        });
    }
    delete_leftovers(ctx, plan).await?;
    Ok(outputs.into_inner().expect("outputs lock"))
}

/// Turns outcomes into failures, telling the observer about skips.
pub(crate) fn report<T>(
    observer: &dyn Observer,
    outcomes: &[Outcome<T, Error>],
    id: impl Fn(usize) -> String,
) -> Vec<Failure> {
    let mut failures = Vec::new();
    for (i, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Outcome::Done(_) => {}
            Outcome::Failed(e) => failures.push(Failure {
                id: id(i),
                reason: e.report(),
                skipped: false,
            }),
            Outcome::Skipped { blocked_by } => {
                let because = blocked_by.map_or_else(|| "not reached".to_owned(), &id);
                observer.event(Event::Skipped {
                    id: id(i),
                    because: because.clone(),
                });
                failures.push(Failure {
                    id: id(i),
                    reason: format!("waits for `{because}`, which did not succeed"),
                    skipped: true,
                });
            }
        }
    }
    failures
}

/// Runs one resource's part: returns its output.
async fn apply_one(
    ctx: &Context<'_>,
    resource: &Resource,
    step: &Step,
    outputs: &Mutex<BTreeMap<String, Output>>,
) -> Result<Output> {
    let record = ctx.state.records.get(&resource.id);
    let deps: BTreeMap<String, Output> = {
        let outputs = outputs.lock().expect("outputs lock");
        resource
            .dependencies()
            .into_iter()
            .filter_map(|d| outputs.get(d).map(|o| (d.to_owned(), o.clone())))
            .collect()
    };
    let dep_digests: BTreeMap<String, String> = deps
        .iter()
        .map(|(id, o)| (id.clone(), output_digest(o)))
        .collect();
    let secrets = ctx.secrets.get(&resource.id).unwrap_or(&NO_SECRETS);
    let mut action = step.action;
    if action == Action::Keep {
        let record = record.expect("a kept resource has a record");
        let output = record
            .output
            .clone()
            .expect("a kept resource has an output");
        if record.digests.deps == dep_digests {
            if record_metadata_changed(record, resource) {
                let mut updated = record.clone();
                updated.adopt = resource.adopt;
                updated.delete = resource.delete;
                updated.dependencies = dependencies(resource);
                write_record(ctx.store, updated).await?;
            }
            return Ok(output);
        }
        // A dependency's output moved (it was updated or recreated): point at the new one.
        action = Action::Update;
    }
    let desired = Desired {
        resource,
        name: &step.name,
        app: &ctx.stack.app,
        stage: ctx.stage,
        root: &ctx.stack.root,
        deps: &deps,
        secrets,
        adopt: step.adopt,
        log: &ObservedLog(ctx.observer),
    };
    observed(
        ctx.observer,
        &resource.id,
        action,
        run_action(ctx, resource, step, action, record, &desired, &dep_digests),
    )
    .await
}

fn record_metadata_changed(record: &Record, resource: &Resource) -> bool {
    record.adopt != resource.adopt
        || record.delete != resource.delete
        || record.dependencies != dependencies(resource)
}

fn dependencies(resource: &Resource) -> Vec<String> {
    resource
        .dependencies()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

async fn run_action(
    ctx: &Context<'_>,
    resource: &Resource,
    step: &Step,
    action: Action,
    record: Option<&Record>,
    desired: &Desired<'_>,
    dep_digests: &BTreeMap<String, String>,
) -> Result<Output> {
    let perr = Error::provider(&resource.id, resource.kind());
    let sealed = seal(ctx, resource, desired.secrets)?;
    let new_record = |status: Status, output: Option<Output>, superseded: Vec<Instance>| Record {
        schema_version: SCHEMA_VERSION,
        id: resource.id.clone(),
        kind: resource.kind(),
        status,
        name: step.name.clone(),
        props: resource.props.clone(),
        adopt: resource.adopt,
        delete: resource.delete,
        output,
        dependencies: dependencies(resource),
        digests: Digests {
            fingerprint: step.digests.fingerprint.clone(),
            secrets: step.digests.secrets.clone(),
            deps: dep_digests.clone(),
        },
        secrets: sealed.clone(),
        superseded,
    };
    let carried = record.map(|r| r.superseded.clone()).unwrap_or_default();
    match action {
        Action::Keep | Action::Delete | Action::Forget => {
            unreachable!("apply_one handles {action} elsewhere")
        }
        Action::Update => {
            let existing = record
                .expect("an updated resource has a record")
                .existing()
                .expect("an updated resource has an output");
            let output = ctx
                .provider
                .update(desired, existing)
                .await
                .map_err(&perr)?;
            write_record(
                ctx.store,
                new_record(Status::Created, Some(output.clone()), carried),
            )
            .await?;
            Ok(output)
        }
        Action::Create => create_recorded(ctx, desired, &perr, &new_record, carried).await,
        Action::Replace => {
            let record = record.expect("a replaced resource has a record");
            let existing = record
                .existing()
                .expect("a replaced resource has an output");
            let mut superseded = carried;
            if step.delete_first {
                if record.delete {
                    ctx.provider.delete(existing).await.map_err(&perr)?;
                }
            } else {
                superseded.push(Instance {
                    name: record.name.clone(),
                    props: record.props.clone(),
                    output: existing.output.clone(),
                    delete: record.delete,
                    dependencies: record.dependencies.clone(),
                });
            }
            create_recorded(ctx, desired, &perr, &new_record, superseded).await
        }
    }
}

/// Creates the resource between two writes of its record: `creating` first, so that an
/// interrupted run finds it and adopts what the create made, then `created` with the output.
async fn create_recorded(
    ctx: &Context<'_>,
    desired: &Desired<'_>,
    perr: &impl Fn(athanor_core::ProviderError) -> Error,
    new_record: &impl Fn(Status, Option<Output>, Vec<Instance>) -> Record,
    superseded: Vec<Instance>,
) -> Result<Output> {
    write_record(
        ctx.store,
        new_record(Status::Creating, None, superseded.clone()),
    )
    .await?;
    let output = ctx.provider.create(desired).await.map_err(perr)?;
    write_record(
        ctx.store,
        new_record(Status::Created, Some(output.clone()), superseded),
    )
    .await?;
    Ok(output)
}

fn seal(
    ctx: &Context<'_>,
    resource: &Resource,
    values: &BTreeMap<String, SecretString>,
) -> Result<BTreeMap<String, crate::secrets::Sealed>> {
    if values.is_empty() {
        return Ok(BTreeMap::new());
    }
    let keyring = ctx.keyring.ok_or_else(|| Error::PasswordRequired {
        id: resource.id.clone(),
    })?;
    values
        .iter()
        .map(|(k, v)| Ok((k.clone(), keyring.seal_secret(&resource.id, k, v)?)))
        .collect()
}

/// Removes orphans and replaced instances (those of earlier runs and of this one), dependents
/// first; fails with every failure.
async fn delete_leftovers(ctx: &Context<'_>, plan: &Plan) -> Result<()> {
    // The plan's action stands: it also forgets what `--refresh` found already deleted.
    let mut removals: Vec<Removal> = plan
        .steps
        .iter()
        .filter(|s| !s.superseded && matches!(s.action, Action::Delete | Action::Forget))
        .filter_map(|s| {
            let record = ctx.state.records.get(&s.id)?;
            Some(Removal {
                action: s.action,
                ..Removal::of_record(record)
            })
        })
        .collect();
    let fresh = ctx.store.load().await?;
    for record in fresh.records.values() {
        removals.extend(
            record
                .superseded
                .iter()
                .map(|inst| Removal::of_instance(record, inst)),
        );
    }
    if removals.is_empty() {
        return Ok(());
    }
    removal::remove(
        ctx.provider,
        ctx.store,
        fresh.records,
        &removals,
        ctx.concurrency,
        ctx.observer,
        "deploy",
    )
    .await
    .map(|_| ())
}
