//! The athanor runtime: makes Cloudflare match a [`athanor_core::Stack`].
//!
//! The engine knows the dependency graph and nothing about Cloudflare: it talks to a
//! `&dyn athanor_core::Provider`. [`Session`] is the public entry point for Rust callers and
//! tests (`plan`, `deploy`, `destroy`, `outputs`); [`cli::run`] is the command line every stack
//! binary gets.
//!
//! - [`graph`]: dependency order; [`diff`] and [`plan`]: what would change; [`apply`] and
//!   [`destroy`]: carrying it out, concurrently and in order.
//! - [`state`], [`lock`], [`secrets`]: what was deployed, one run per stage, secrets at rest.
//! - [`outputs`], [`types`], [`progress`]: what users see and get.
//! - [`target`]: Cloudflare, or the embedded emulator when no credentials are set.

#![warn(missing_docs)]

pub mod apply;
pub mod cli;
pub mod destroy;
mod dev;
pub mod diff;
pub mod error;
pub mod graph;
pub mod lock;
pub mod outputs;
pub mod plan;
pub mod progress;
mod removal;
mod schedule;
pub mod secrets;
pub mod session;
pub mod state;
pub mod target;
mod terminal;
pub mod types;

pub use error::{Error, Failure, Result};
pub use outputs::Outputs;
pub use plan::{Action, Plan, Step, Summary};
pub use session::{Session, SessionOptions};

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod test_provider;
