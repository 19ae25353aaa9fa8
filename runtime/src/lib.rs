//! The athanor runtime: makes Cloudflare match a [`athanor_core::Stack`].
//!
//! The engine knows the dependency graph and nothing about Cloudflare: it talks to a
//! `&dyn athanor_core::Provider`. The public surface is what a caller uses:
//!
//! - [`Session`] and [`SessionOptions`]: `plan`, `deploy`, `destroy`, `outputs` of one stage;
//! - [`Plan`], its [`Step`]s, their [`Action`] and [`Change`]s, and its [`Summary`];
//! - [`Outputs`], [`DestroyReport`], [`Error`] and [`Failure`];
//! - [`Observer`] and its [`Event`]s, to show progress ([`Silent`], [`Recorder`]);
//! - [`Target`]: Cloudflare, or the embedded emulator when no credentials are set;
//! - [`Tenants`]: a platform's customers applied at run time, one stage each, from an `infra!`
//!   tenant template;
//! - [`cli::run`]: the command line every stack binary gets.
//!
//! The engine itself (graph, diff, apply, destroy, state, lock, secrets at rest) is private.

#![warn(missing_docs)]
#![warn(unreachable_pub)]

mod apply;
pub mod cli;
mod credentials_gate;
mod destroy;
mod dev;
mod diff;
mod error;
mod graph;
mod outputs;
mod plan;
mod progress;
mod removal;
mod schedule;
mod secrets;
mod session;
mod state;
mod target;
mod tenants;
mod terminal;
mod types;

pub use destroy::DestroyReport;
pub use diff::Change;
pub use error::{Error, Failure, Result};
pub use outputs::Outputs;
pub use plan::{Action, Plan, Step, Summary};
pub use progress::{Event, Observer, Recorder, Silent};
pub use session::{DEFAULT_CONCURRENCY, Session, SessionOptions};
pub use state::StateLocation;
pub use target::{Target, TargetKind};
pub use tenants::{Applied, DEFAULT_TENANTS_AT_ONCE, TenantObservers, Tenants, TenantsOptions};

/// Engine internals for this crate's benchmarks and tests; not part of the API.
#[doc(hidden)]
pub mod internals {
    pub use crate::diff::resolved_name;
    pub use crate::plan::dependency_digest;
    pub use crate::state::{
        Digests, Record, SCHEMA_VERSION, Snapshot, StateStore, Status, base_dir,
    };

    /// Everything in `session`'s state.
    pub async fn snapshot(session: &crate::Session) -> crate::Result<Snapshot> {
        session.state().await
    }

    /// Takes `session`'s stage lock (waiting as its options say) and holds it, as another run
    /// would, until released or dropped.
    pub async fn lock_stage(session: &crate::Session) -> crate::Result<HeldLock> {
        Ok(HeldLock(session.store.lock(session.lock_options()).await?))
    }

    /// The state store of `session`.
    pub fn session_store(session: &crate::Session) -> &StateStore {
        &session.store
    }

    /// A stage lock taken by [`lock_stage`].
    #[derive(Debug)]
    pub struct HeldLock(crate::state::StageGuard);

    impl HeldLock {
        /// Frees the lock, settling what was written.
        pub async fn release(self) -> crate::Result<()> {
            self.0.release().await
        }
    }
}

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod test_provider;
