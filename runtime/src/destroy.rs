//! Destroy: remove everything in a stage's state, dependents first, with the walk that removes a
//! deploy's leftovers (`removal`): every record, and before it the instances a failed replace
//! left in it. A failure skips what it references but nothing else, and every failure is reported
//! at the end. `delete: false` records are forgotten without a call; a create that never finished
//! is looked up by its name, and what it made is deleted when athanor can tell it is this stack's
//! (`removal`).

use crate::error::Result;
use crate::removal::{self, Removal};
use crate::state::Snapshot;

/// What a destroy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestroyReport {
    /// Logical ids deleted at the target.
    pub deleted: Vec<String>,
    /// Logical ids removed from state without a delete call.
    pub forgotten: Vec<String>,
}

/// Deletes every recorded resource of `state`.
pub(crate) async fn destroy(ctx: &removal::Context<'_>, state: &Snapshot) -> Result<DestroyReport> {
    let store = ctx.store;
    let mut removals = Vec::new();
    for record in state.records.values() {
        removals.extend(
            record
                .superseded
                .iter()
                .filter(|inst| inst.delete)
                .map(|inst| Removal::of_instance(record, inst)),
        );
        removals.push(Removal::of_record(record));
    }
    let removed = removal::remove(ctx, state.records.clone(), &removals, "destroy").await?;
    store.remove_if_empty().await?;
    Ok(DestroyReport {
        deleted: removed.deleted,
        forgotten: removed.forgotten,
    })
}
