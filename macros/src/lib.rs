//! The `infra!` macro of athanor: a Cloudflare stack declared inline in Rust, validated at compile
//! time. See the `athanor` crate for the language it accepts.
//!
//! This crate is the proc-macro shim; the pipeline (parse, check, expand) is the library
//! `athanor-macros-core`, so that it is tested and benchmarked like any library.

use proc_macro::TokenStream;

/// Declares a Cloudflare stack. See the `athanor` crate documentation for the language.
#[proc_macro]
pub fn infra(input: TokenStream) -> TokenStream {
    athanor_macros_core::expand(input.into()).into()
}
