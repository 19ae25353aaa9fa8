//! The model at the centre of athanor.
//!
//! `infra!` expands to code that builds a [`Stack`]; the runtime diffs that stack against state and
//! hands each resource to a [`Provider`]. This crate is the contract between them: it holds no
//! network, file-system or async-runtime code, so it also compiles for `wasm32` Workers.
//!
//! - [`stack`]: the declared resources, their properties and references.
//! - [`binding`]: what a Worker binding can be, and the [`IntoBinding`] trait for Rust expressions.
//! - [`secret`]: where a secret comes from ([`SecretSource`]); the value itself is never part of a stack.
//! - [`naming`]: default physical names and the name rules Cloudflare enforces.
//! - [`output`]: what a deployed resource reports back (ids, names, URLs).
//! - [`provider`]: the trait the engine calls, one implementation per target.

pub mod binding;
pub mod cron;
pub mod inline_code;
pub mod naming;
pub mod output;
pub mod provider;
pub mod secret;
pub mod stack;
pub mod tenant;

pub use binding::{Binding, BindingValue, IntoBinding};
pub use output::Output;
pub use provider::{ApiError, Provider, ProviderError};
pub use secret::SecretSource;
pub use stack::{Kind, Props, Resource, ResourceRef, Stack};
pub use tenant::TenantId;
