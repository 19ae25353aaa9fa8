//! The `infra!` pipeline of athanor as a normal library, so that it can be unit-tested and
//! benchmarked outside a compiler; `athanor-macros` is the proc-macro shim that calls [`expand`].
//!
//! The expansion is a short pipeline, one module per stage:
//!
//! - `syntax`: tokens -> the raw syntax tree (spans kept, recovery at every `,` and `;`).
//! - `model`: raw tree -> typed model, each property checked against `kinds`, the one table of
//!   kinds, their properties and every fact about them.
//! - `check`: every rule across properties and declarations (references, duplicates, limits,
//!   Cloudflare's name rules).
//! - `expand`: the pipeline itself, and the model -> `stack()`, `Outputs` and one module per
//!   Worker (`worker_env`: the typed workers-rs `Env`; `typescript`: its TypeScript twin).
//! - `ctxt` collects every error so that one pass reports them all; `json` evaluates
//!   `json!(...)` at compile time; `suggest` finds "did you mean"; `worker_crate` checks the
//!   crate of a Rust Worker (`crate: "..."`) on disk.

#![warn(missing_docs, unreachable_pub)]

mod check;
mod ctxt;
mod expand;
mod json;
mod kinds;
mod model;
mod suggest;
mod syntax;
mod typescript;
mod worker_crate;
mod worker_env;

#[cfg(test)]
mod snapshot;

use proc_macro2::TokenStream;

/// Expands the input of `infra! { ... }`: the generated items, with every mistake of the
/// declaration as a compile error at its token (and the items anyway, so that code using them
/// does not fail further).
pub fn expand(input: TokenStream) -> TokenStream {
    expand::infra(input)
}
