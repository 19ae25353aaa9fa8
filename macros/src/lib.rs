//! The `infra!` macro of athanor: a Cloudflare stack declared inline in Rust, validated at compile
//! time. See the `athanor` crate for the language it accepts.
//!
//! The expansion is a short pipeline, one module per stage:
//!
//! - `syntax`: tokens -> the raw syntax tree (spans kept, recovery at every `,` and `;`).
//! - `model`: raw tree -> typed model, each property checked against `kinds`, the one table
//!   of kinds and properties.
//! - `check`: every rule across properties and declarations (references, duplicates, limits,
//!   Cloudflare's name rules).
//! - `expand`: the pipeline itself, and the model -> `stack()`, `Outputs` and one module per
//!   Worker (`worker_env`: the typed workers-rs `Env`; `typescript`: its TypeScript twin).
//! - `ctxt` collects every error so that one pass reports them all; `json` evaluates
//!   `json!(...)` at compile time; `suggest` finds "did you mean"; `worker_crate` checks the
//!   crate of a Rust Worker (`crate: "..."`) on disk.

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

use proc_macro::TokenStream;

/// Declares a Cloudflare stack. See the `athanor` crate documentation for the language.
#[proc_macro]
pub fn infra(input: TokenStream) -> TokenStream {
    expand::infra(input.into()).into()
}
