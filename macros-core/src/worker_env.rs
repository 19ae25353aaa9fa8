//! Per Worker, `pub mod <let name>`: its TypeScript `Env` declaration and a typed workers-rs
//! `Env` with one accessor per binding.
//!
//! The workers-rs items are written by the facade's `::athanor::__private::worker_env!` from a
//! compact list of accessors; it expands them only when the facade's `worker` feature is on (a
//! `cfg` in generated code would test the features of the user's crate instead).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::{BindingDecl, BindingVal, Decl, Model};
use crate::typescript;

/// Accessor names the generated `Env` uses for itself.
pub(crate) const RESERVED: &[&str] = &["new", "raw", "clone"];

/// Rust keywords of any edition: an accessor with such a name is written as a raw identifier.
const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if",
    "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
    "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn",
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
    "virtual", "yield", "try", "gen",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["self", "super", "crate", "_"];

/// The accessor of a binding: its name in snake case (`MY_KV` -> `my_kv`).
pub(crate) fn accessor_name(binding: &str) -> String {
    let name = binding.to_ascii_lowercase();
    if NOT_RAW.contains(&name.as_str()) {
        format!("{name}_")
    } else {
        name
    }
}

fn accessor_ident(binding: &str) -> syn::Ident {
    let name = accessor_name(binding);
    if KEYWORDS.contains(&name.as_str()) {
        format_ident!("r#{}", name)
    } else {
        format_ident!("{}", name)
    }
}

/// The module of `worker`, with accessors for `bindings` (in fallback mode the caller passes
/// only the bindings whose name and target are known).
pub(crate) fn module(model: &Model, worker: &Decl, bindings: &[&BindingDecl]) -> TokenStream {
    let name = &worker.name;
    let id = worker.id.value();
    let ts = typescript::declaration(model, worker);
    let accessors = bindings.iter().filter_map(|b| accessor(model, b));
    let mod_doc = format!(
        " Worker {id:?}: its TypeScript `Env` declaration and, with athanor's `worker` feature, a typed workers-rs `Env`."
    );
    let env_doc = format!(
        " The bindings of Worker {id:?}, typed. Build it from the `worker::Env` a handler receives: `Env::from(env)`."
    );
    quote! {
        #[doc = #mod_doc]
        pub mod #name {
            /// The TypeScript declaration of this Worker's `Env`, as `wrangler types` writes it.
            pub const TYPESCRIPT_ENV: &str = #ts;

            ::athanor::__private::worker_env! {
                #env_doc;
                #(#accessors)*
            }
        }
    }
}

/// `accessor "BINDING" "doc" => kind;`, the input of the facade's `worker_env!` for one binding.
fn accessor(model: &Model, binding: &BindingDecl) -> Option<TokenStream> {
    let key = &binding.name;
    let fn_name = accessor_ident(key);
    let (kind, what) = match &binding.value {
        BindingVal::Ref(name) if model.find(name).is_none() => (
            quote!(json_value),
            "a variable set from a Rust constant, read as JSON".to_owned(),
        ),
        BindingVal::Ref(target) => {
            let target = model.find(target)?;
            let binding = target.def.binding.as_ref()?;
            let kind = format_ident!("{}", binding.rust);
            let what = binding.noun;
            let kind = quote!(#kind);
            let what = format!("{what} `{}` ({:?})", target.name, target.id.value());
            (kind, what)
        }
        BindingVal::Entrypoint { target, class } => {
            let target = model.find(target)?;
            (
                quote!(service),
                format!(
                    "the entrypoint `{}` of the Worker `{}` ({:?})",
                    class.value(),
                    target.name,
                    target.id.value()
                ),
            )
        }
        BindingVal::PlainText(_) => (quote!(var), "a plain-text variable".to_owned()),
        BindingVal::Secret(_) => (
            quote!(secret),
            "a secret-text variable, set when deploying".to_owned(),
        ),
        BindingVal::Json(j) => {
            let ty = match &j.value {
                Some(serde_json::Value::Bool(_)) => quote!(bool),
                Some(serde_json::Value::Number(n)) if n.is_i64() => quote!(i64),
                Some(serde_json::Value::Number(n)) if n.is_u64() => quote!(u64),
                Some(serde_json::Value::Number(_)) => quote!(f64),
                Some(serde_json::Value::String(_)) => quote!(::std::string::String),
                _ => quote!(::athanor::__private::serde_json::Value),
            };
            (quote!(json(#ty)), "a JSON variable".to_owned())
        }
        BindingVal::Expr(..) => (
            quote!(json_value),
            "a variable set from a Rust expression, read as JSON".to_owned(),
        ),
    };
    let doc = format!(" `{key}`: {what}.");
    Some(quote!(#fn_name #key #doc => #kind;))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_are_snake_case_and_never_keywords() {
        assert_eq!(accessor_name("MY_KV"), "my_kv");
        assert_eq!(accessor_ident("TYPE").to_string(), "r#type");
        assert_eq!(accessor_ident("SELF").to_string(), "self_");
    }
}
