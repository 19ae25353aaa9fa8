//! What every handler shares: storage, credentials, the clock, counters and faults.

use std::sync::RwLock;

use crate::Faults;
use crate::clock::Clock;
use crate::faults::FaultState;
use crate::sealing::Sealer;
use crate::stats::Counters;
use crate::store::Store;
use crate::store::d1::D1Files;

/// The shared state behind the router.
pub(crate) struct AppState {
    pub store: Store,
    /// The D1 databases' files, shared by the API and the D1 binding.
    pub d1: D1Files,
    /// Seals secret values before they are stored.
    pub sealer: Sealer,
    pub token: String,
    pub account_id: String,
    pub clock: Clock,
    pub stats: Counters,
    pub faults: FaultState,
    /// Counts the API's changes to Worker scripts; the local runtime follows it.
    pub script_changes: tokio::sync::watch::Sender<u64>,
    /// The last count of changes the local runtime runs; `None` when Workers are not served.
    pub scripts_running: tokio::sync::watch::Sender<Option<u64>>,
    /// Woken when queue messages arrive or a queue or consumer changes; the delivery to queue
    /// consumers (`workerd::delivery`) waits on it.
    pub queue_wake: tokio::sync::Notify,
}

impl AppState {
    /// Bundles the parts of a running emulator.
    pub fn new(
        store: Store,
        d1: D1Files,
        sealer: Sealer,
        token: String,
        account_id: String,
        faults: Faults,
        clock: Clock,
    ) -> AppState {
        AppState {
            store,
            d1,
            sealer,
            token,
            account_id,
            clock,
            stats: Counters::default(),
            faults: FaultState::new(faults),
            script_changes: tokio::sync::watch::Sender::new(0),
            scripts_running: tokio::sync::watch::Sender::new(None),
            queue_wake: tokio::sync::Notify::new(),
        }
    }
}

/// Reads a lock even when a panicking holder poisoned it (the data is plain counters and settings).
pub(crate) fn read<T: Clone>(lock: &RwLock<T>) -> T {
    match lock.read() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}
