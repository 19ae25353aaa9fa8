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

use athanor_core::provider::{Applying, Desired, Prepared, RunMemo};
use athanor_core::{Output, Provider, Resource, Stack};

use crate::credentials_gate::CredentialsGate;
use crate::error::{Error, Failure, Result};
use crate::graph::Graph;
use crate::outputs::Outputs;
use crate::plan::{Action, Plan, Step, dependency_digest, dependency_unchanged};
use crate::progress::{Event, ObservedLog, Observer, observed};
use crate::removal::{self, Removal};
use crate::schedule::{self, NodeFuture, Outcome, Signals, Wait};
use crate::secrets::SecretValues;
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
    /// How many resources may be in flight at once.
    pub concurrency: usize,
    /// Who hears about progress.
    pub observer: &'a dyn Observer,
    /// What the provider kept of the plan's steps (a Worker's modules, collected for its
    /// fingerprint).
    pub memo: &'a RunMemo,
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
///
/// Each resource is up to three nodes of the schedule: its reads ahead ([`Provider::prepare`],
/// for a resource to create or update; they wait for nothing), its create or update (after its
/// reads ahead and after each dependency has published its output), and, inside the same node,
/// the rest of its work, which waits for its dependencies to end, so that a Worker goes on
/// workers.dev only once the values of its namespaces are written, and its record is written
/// after theirs.
pub(crate) async fn apply(ctx: &Context<'_>, plan: &Plan) -> Result<Outputs> {
    let graph = Graph::from_stack(ctx.stack)?;
    let n = ctx.stack.resources.len();
    let outputs: Mutex<BTreeMap<String, Output>> = Mutex::new(BTreeMap::new());
    let steps: BTreeMap<&str, &Step> = plan
        .steps
        .iter()
        .filter(|s| !s.superseded && !matches!(s.action, Action::Delete | Action::Forget))
        .map(|s| (s.id.as_str(), s))
        .collect();
    // Nodes 0..n apply the resources; the reads ahead follow, one per resource that has them.
    let mut ahead_of: Vec<usize> = Vec::new();
    let mut waits: Vec<Vec<Wait>> = graph
        .dep_lists()
        .iter()
        .map(|deps| deps.iter().map(|&d| Wait::Published(d)).collect())
        .collect();
    for (i, resource) in ctx.stack.resources.iter().enumerate() {
        let step = steps.get(resource.id.as_str());
        if step.is_some_and(|s| s.action != Action::Keep) {
            waits[i].push(Wait::Done(n + ahead_of.len()));
            ahead_of.push(i);
            waits.push(Vec::new());
        }
    }
    let prepared: Vec<Mutex<Option<Prepared>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let signals = Signals::new(waits.len());
    let gate = CredentialsGate::new(ctx.provider);
    let outcomes = schedule::run_staged(&waits, ctx.concurrency, &signals, |node| {
        let (outputs, prepared, signals, gate) = (&outputs, &prepared, &signals, &gate);
        if let Some(&i) = node.checked_sub(n).and_then(|k| ahead_of.get(k)) {
            let resource = &ctx.stack.resources[i];
            let step = steps[resource.id.as_str()];
            return Box::pin(gate.run(async move {
                let ready = read_ahead(ctx, resource, step).await?;
                *prepared[i].lock().expect("prepared lock") = Some(ready);
                Ok(())
            })) as NodeFuture<'_, (), Error>;
        }
        let resource = &ctx.stack.resources[node];
        let step = steps.get(resource.id.as_str()).copied();
        let place = Place {
            node,
            deps: &graph.dep_lists()[node],
            signals,
            outputs,
        };
        Box::pin(gate.run(async move {
            let step = step.ok_or_else(|| Error::NotInState {
                id: resource.id.clone(),
                stage: ctx.stage.to_owned(),
            })?;
            let ready = prepared[node].lock().expect("prepared lock").take();
            let output = apply_one(ctx, resource, step, &place, ready.unwrap_or_default()).await?;
            outputs
                .lock()
                .expect("outputs lock")
                .insert(resource.id.clone(), output);
            Ok(())
        }))
    })
    .await;
    // A failure of a resource's reads ahead is the resource's (its apply, skipped for it, is the
    // only node that waits for them).
    let mut outcomes = outcomes;
    for (k, ahead) in outcomes.split_off(n).into_iter().enumerate() {
        if let Outcome::Failed(e) = ahead {
            outcomes[ahead_of[k]] = Outcome::Failed(e);
        }
    }
    if let Some(refused) = gate.fold("deploy", &outcomes) {
        return Err(refused);
    }
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

/// One resource's place in the schedule: how its create or update publishes its output to its
/// dependents, and waits for its dependencies to end.
struct Place<'r> {
    node: usize,
    deps: &'r [usize],
    signals: &'r Signals,
    outputs: &'r Mutex<BTreeMap<String, Output>>,
}

impl Place<'_> {
    /// `output`, whose handle is final, is usable by the resource's dependents.
    fn publish(&self, id: &str, output: &Output) {
        self.outputs
            .lock()
            .expect("outputs lock")
            .insert(id.to_owned(), output.clone());
        self.signals.publish(self.node);
    }

    /// Resolves once every dependency has ended (its rest done, its record written).
    async fn dependencies_ended(&self) {
        for &d in self.deps {
            self.signals.ended(d).await;
        }
    }
}

/// What the provider is asked for `resource` at `step`, with the outputs `deps` of its
/// dependencies known so far.
fn desired<'a>(
    ctx: &'a Context<'_>,
    resource: &'a Resource,
    step: &'a Step,
    deps: &'a BTreeMap<String, Output>,
    log: &'a ObservedLog<'_>,
) -> Desired<'a> {
    Desired {
        resource,
        name: &step.name,
        app: &ctx.stack.app,
        stage: ctx.stage,
        root: &ctx.stack.root,
        deps,
        secrets: ctx.secrets.get(&resource.id).unwrap_or(&NO_SECRETS),
        adopt: step.adopt,
        resumed: step.resumed,
        log,
        memo: ctx.memo,
    }
}

/// A resource's reads ahead: [`Provider::prepare`] with what is known before its dependencies
/// exist.
async fn read_ahead(ctx: &Context<'_>, resource: &Resource, step: &Step) -> Result<Prepared> {
    static NO_DEPS: BTreeMap<String, Output> = BTreeMap::new();
    let log = ObservedLog(ctx.observer);
    let desired = desired(ctx, resource, step, &NO_DEPS, &log);
    let existing = match step.action {
        Action::Update => ctx
            .state
            .records
            .get(&resource.id)
            .and_then(Record::existing),
        _ => None,
    };
    ctx.provider
        .prepare(&desired, existing)
        .await
        .map_err(Error::provider(&resource.id, resource.kind()))
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
    place: &Place<'_>,
    prepared: Prepared,
) -> Result<Output> {
    let record = ctx.state.records.get(&resource.id);
    let deps: BTreeMap<String, Output> = {
        let outputs = place.outputs.lock().expect("outputs lock");
        resource
            .dependencies()
            .into_iter()
            .filter_map(|d| outputs.get(d).map(|o| (d.to_owned(), o.clone())))
            .collect()
    };
    let mut action = step.action;
    if action == Action::Keep {
        let record = record.expect("a kept resource has a record");
        let output = record
            .output
            .clone()
            .expect("a kept resource has an output");
        let unchanged = record.digests.deps.len() == deps.len()
            && deps.iter().all(|(id, o)| {
                record
                    .digests
                    .deps
                    .get(id)
                    .is_some_and(|recorded| dependency_unchanged(recorded, o))
            });
        if unchanged {
            if record_metadata_changed(record, resource) {
                let mut updated = record.clone();
                updated.adopt = resource.adopt;
                updated.delete = resource.delete;
                updated.dependencies = dependencies(resource);
                place.dependencies_ended().await;
                write_record(ctx.store, updated).await?;
            }
            return Ok(output);
        }
        // A dependency's output moved (it was updated or recreated): point at the new one.
        action = Action::Update;
    }
    let dep_digests: BTreeMap<String, String> = deps
        .iter()
        .map(|(id, o)| (id.clone(), dependency_digest(o)))
        .collect();
    let log = ObservedLog(ctx.observer);
    let desired = desired(ctx, resource, step, &deps, &log);
    let run = Run {
        ctx,
        resource,
        step,
        record,
        desired: &desired,
        dep_digests: &dep_digests,
        place,
    };
    observed(
        ctx.observer,
        &resource.id,
        action,
        run.action(action, prepared),
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

/// One create, update or replace, and everything it needs.
struct Run<'r> {
    ctx: &'r Context<'r>,
    resource: &'r Resource,
    step: &'r Step,
    record: Option<&'r Record>,
    desired: &'r Desired<'r>,
    dep_digests: &'r BTreeMap<String, String>,
    place: &'r Place<'r>,
}

impl Run<'_> {
    async fn action(&self, action: Action, prepared: Prepared) -> Result<Output> {
        let (ctx, record) = (self.ctx, self.record);
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
                let applying = ctx
                    .provider
                    .start_update(self.desired, existing, prepared)
                    .await
                    .map_err(self.provider_error())?;
                self.finish(applying, carried).await
            }
            Action::Create => self.create_recorded(prepared, carried).await,
            Action::Replace => {
                let record = record.expect("a replaced resource has a record");
                let existing = record
                    .existing()
                    .expect("a replaced resource has an output");
                let mut superseded = carried;
                if self.step.delete_first {
                    if record.delete {
                        ctx.provider
                            .delete(existing)
                            .await
                            .map_err(self.provider_error())?;
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
                self.create_recorded(prepared, superseded).await
            }
        }
    }

    /// Creates the resource between two writes of its record: `creating` first, so that an
    /// interrupted run finds it and adopts what the create made, then `created` with the
    /// output.
    async fn create_recorded(
        &self,
        prepared: Prepared,
        superseded: Vec<Instance>,
    ) -> Result<Output> {
        write_record(
            self.ctx.store,
            self.record(Status::Creating, None, superseded.clone()),
        )
        .await?;
        let applying = self
            .ctx
            .provider
            .start_create(self.desired, prepared)
            .await
            .map_err(self.provider_error())?;
        self.finish(applying, superseded).await
    }

    /// Publishes the output to the dependents, runs the rest once the dependencies have ended,
    /// checks that the handle did not move, and records the resource as created.
    async fn finish(&self, applying: Applying<'_>, superseded: Vec<Instance>) -> Result<Output> {
        let id = &self.resource.id;
        let handle = applying.output.handle();
        self.place.publish(id, &applying.output);
        self.place.dependencies_ended().await;
        let output = applying.finish().await.map_err(self.provider_error())?;
        if output.handle() != handle {
            return Err(Error::HandleMoved { id: id.clone() });
        }
        write_record(
            self.ctx.store,
            self.record(Status::Created, Some(output.clone()), superseded),
        )
        .await?;
        Ok(output)
    }

    fn provider_error(&self) -> impl Fn(athanor_core::ProviderError) -> Error {
        Error::provider(&self.resource.id, self.resource.kind())
    }

    /// The resource's record, with its sealed secrets.
    fn record(&self, status: Status, output: Option<Output>, superseded: Vec<Instance>) -> Record {
        let (resource, step) = (self.resource, self.step);
        Record {
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
                deps: self.dep_digests.clone(),
            },
            superseded,
        }
    }
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
    let removing = removal::Context {
        provider: ctx.provider,
        store: ctx.store,
        app: &ctx.stack.app,
        stage: ctx.stage,
        root: &ctx.stack.root,
        concurrency: ctx.concurrency,
        observer: ctx.observer,
    };
    removal::remove(&removing, fresh.records, &removals, "deploy")
        .await
        .map(|_| ())
}
