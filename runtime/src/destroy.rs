//! Destroy: delete everything in a stage's state, dependents first.
//!
//! Walks the recorded dependency graph backwards: a resource is deleted once everything that
//! references it is gone, with as many in flight as the bound and the graph allow. A failure
//! skips what it references (deleting those could break it further) but nothing else, and every
//! failure is reported at the end. `delete: false` records, and creates that never finished, are
//! forgotten without a call (the latter with a warning: athanor cannot know whether they exist).

use std::time::Instant;

use athanor_core::Provider;
use athanor_core::provider::Existing;

use crate::apply::{remove_record, report};
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::plan::Action;
use crate::progress::{Event, Observer};
use crate::schedule::{self, NodeFuture};
use crate::state::{Instance, Record, Snapshot, StateStore};

/// What a destroy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestroyReport {
    /// Logical ids deleted at the target.
    pub deleted: Vec<String>,
    /// Logical ids removed from state without a delete call.
    pub forgotten: Vec<String>,
}

/// Deletes every recorded resource of `state`.
pub async fn destroy(
    provider: &dyn Provider,
    store: &StateStore,
    state: &Snapshot,
    concurrency: usize,
    observer: &dyn Observer,
) -> Result<DestroyReport> {
    let records: Vec<&Record> = state.records.values().collect();
    let graph = Graph::from_records(
        records
            .iter()
            .map(|r| (r.id.clone(), r.dependencies.clone())),
    )?;
    // Reverse the edges: a resource waits for everything that references it.
    let waits_for: Vec<Vec<usize>> = (0..graph.len())
        .map(|i| graph.dependents(i).to_vec())
        .collect();
    let deleted = std::sync::Mutex::new(Vec::new());
    let forgotten = std::sync::Mutex::new(Vec::new());
    let outcomes = schedule::run(&waits_for, concurrency, |i| {
        let record = state.records[graph.id(i)].clone();
        let (deleted, forgotten) = (&deleted, &forgotten);
        Box::pin(async move {
            // Replaced instances that a failed deploy left behind go first: they may reference
            // resources this record also references, never the other way round.
            for old in &record.superseded {
                delete_instance(provider, &record.id, old, observer).await?;
            }
            let action = match (&record.output, record.delete) {
                (Some(_), true) => Action::Delete,
                _ => Action::Forget,
            };
            if record.output.is_none() {
                observer.event(Event::Warning {
                    id: record.id.clone(),
                    message: format!(
                        "its create was interrupted, so athanor cannot tell whether `{}` exists: check the target and delete it by hand if it does",
                        record.name
                    ),
                });
            }
            let started = Instant::now();
            observer.event(Event::Started {
                id: record.id.clone(),
                action,
            });
            let result: Result<()> = async {
                if let (Action::Delete, Some(existing)) = (action, record.existing()) {
                    provider
                        .delete(existing)
                        .await
                        .map_err(Error::provider(&record.id, record.kind))?;
                }
                remove_record(store, &record.id).await
            }
            .await;
            match &result {
                Ok(()) => {
                    observer.event(Event::Finished {
                        id: record.id.clone(),
                        action,
                        elapsed: started.elapsed(),
                    });
                    let list = if action == Action::Delete { deleted } else { forgotten };
                    list.lock().expect("report lock").push(record.id.clone());
                }
                Err(e) => observer.event(Event::Failed {
                    id: record.id.clone(),
                    action,
                    message: e.to_string(),
                }),
            }
            result
        }) as NodeFuture<'_, (), Error>
    })
    .await;
    let failures = report(observer, &outcomes, |i| graph.id(i).to_owned());
    if !failures.is_empty() {
        return Err(Error::Failed {
            what: "destroy",
            failures,
        });
    }
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.remove_if_empty())
        .await
        .expect("state writer panicked")?;
    let mut report = DestroyReport {
        deleted: deleted.into_inner().expect("report lock"),
        forgotten: forgotten.into_inner().expect("report lock"),
    };
    report.deleted.sort();
    report.forgotten.sort();
    Ok(report)
}

async fn delete_instance(
    provider: &dyn Provider,
    id: &str,
    old: &Instance,
    observer: &dyn Observer,
) -> Result<()> {
    if !old.delete {
        return Ok(());
    }
    observer.event(Event::Started {
        id: id.to_owned(),
        action: Action::Delete,
    });
    provider
        .delete(Existing {
            id,
            props: &old.props,
            output: &old.output,
            delete: true,
        })
        .await
        .map_err(Error::provider(
            &format!("{id} (replaced instance {})", old.name),
            old.output.kind(),
        ))
}
