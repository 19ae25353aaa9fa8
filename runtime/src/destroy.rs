//! Destroy: remove everything in a stage's state, dependents first, with the walk that removes a
//! deploy's leftovers (`removal`): every record, and before it the instances a failed replace
//! left in it. A failure skips what it references but nothing else, and every failure is reported
//! at the end. `delete: false` records, and creates that never finished, are forgotten without a
//! call (the latter with a warning: athanor cannot know whether they exist).

use athanor_core::Provider;

use crate::error::Result;
use crate::progress::{Event, Observer};
use crate::removal::{self, Removal};
use crate::state::{Snapshot, StateStore};

/// What a destroy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestroyReport {
    /// Logical ids deleted at the target.
    pub deleted: Vec<String>,
    /// Logical ids removed from state without a delete call.
    pub forgotten: Vec<String>,
}

/// Deletes every recorded resource of `state`.
pub(crate) async fn destroy(
    provider: &dyn Provider,
    store: &StateStore,
    state: &Snapshot,
    concurrency: usize,
    observer: &dyn Observer,
) -> Result<DestroyReport> {
    let mut removals = Vec::new();
    for record in state.records.values() {
        if record.output.is_none() {
            observer.event(Event::Warning {
                id: record.id.clone(),
                message: format!(
                    "its create was interrupted, so athanor cannot tell whether `{}` exists: check the target and delete it by hand if it does",
                    record.name
                ),
            });
        }
        removals.extend(
            record
                .superseded
                .iter()
                .filter(|inst| inst.delete)
                .map(|inst| Removal::of_instance(record, inst)),
        );
        removals.push(Removal::of_record(record));
    }
    let removed = removal::remove(
        provider,
        store,
        state.records.clone(),
        &removals,
        concurrency,
        observer,
        "destroy",
    )
    .await?;
    store.remove_if_empty().await?;
    Ok(DestroyReport {
        deleted: removed.deleted,
        forgotten: removed.forgotten,
    })
}
