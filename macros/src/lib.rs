//! The `infra!` macro. See the `athanor` crate for the language it accepts.

use proc_macro::TokenStream;

/// Declares a Cloudflare stack. See the `athanor` crate documentation.
#[proc_macro]
pub fn infra(input: TokenStream) -> TokenStream {
    let _ = input;
    TokenStream::new()
}
