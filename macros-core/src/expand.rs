//! The pipeline, and the model -> the generated items: `stack()`, `Outputs`, one module per
//! Worker.
//!
//! Everything generated names athanor through `::athanor::__private`, so a user depends on the
//! facade alone. When the block has errors, the same items are still emitted (with bodies that
//! never run) next to the errors, so the user sees their mistake and no cascade of "cannot find
//! `stack`".

use std::collections::BTreeSet;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;

use crate::check;
use crate::ctxt::Ctxt;
use crate::kinds::Role;
use crate::model::{
    self, BindingDecl, BindingVal, CodeSource, Decl, JsonVal, KvItem, Model, Num, Payload,
    RecordVal, SecretVal, Text, Typed,
};
use crate::syntax;
use crate::worker_env;
use athanor_core::Kind;

/// `infra! { ... }` -> the generated items, and every error found.
pub(crate) fn infra(input: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let block = syntax::parse_block(input, &cx);
    let model = model::build(block, &cx);
    check::check(&model, &cx);
    let valid = !cx.has_errors();
    let items = items(&model, valid);
    match cx.check() {
        Ok(()) => items,
        Err(errors) => {
            let errors = errors.into_compile_error();
            quote!(#errors #items)
        }
    }
}

/// The path of athanor-core in generated code: inside generated function bodies, an alias
/// (`use ::athanor::__private::athanor_core as __athanor_core;`) keeps the expansion short.
fn core() -> TokenStream {
    quote!(__athanor_core)
}

/// The `use` that [`core`] and [`json_tokens`] rely on, at the top of a generated body.
fn aliases() -> TokenStream {
    quote! {
        #[allow(unused_imports)]
        use ::athanor::__private as __athanor;
        #[allow(unused_imports)]
        use ::athanor::__private::athanor_core as __athanor_core;
        #[allow(unused_imports)]
        use ::athanor::__private::serde_json as __athanor_json;
    }
}

fn items(model: &Model, valid: bool) -> TokenStream {
    let stack = stack_fn(model, valid);
    let outputs = outputs(model, valid);
    let modules = unique_decls(model)
        .into_iter()
        .filter(|d| d.def.kind == Kind::Worker && module_clash(d).is_none())
        .map(|w| worker_env::module(model, w, &usable_bindings(model, w)));
    quote! {
        #stack
        #outputs
        #(#modules)*
    }
}

/// The declarations whose `let` name is not taken by an earlier one.
fn unique_decls(model: &Model) -> Vec<&Decl> {
    let mut seen = BTreeSet::new();
    model
        .decls
        .iter()
        .filter(|d| seen.insert(d.name.to_string()))
        .collect()
}

/// The generated item that Worker `decl`'s module, named after its `let` name, would collide
/// with: a module shares Rust's type namespace with the `Outputs` struct. (`fn stack` is in the
/// value namespace, and other kinds generate no item of their own, only a field of `Outputs`.)
pub(crate) fn module_clash(decl: &Decl) -> Option<&'static str> {
    let generated = decl.def.kind == Kind::Worker && decl.name.unraw() == "Outputs";
    generated.then_some("the `Outputs` struct")
}

/// The bindings an `Env` accessor can be generated for: a valid, unique name and a known target.
fn usable_bindings<'a>(model: &Model, worker: &'a Decl) -> Vec<&'a BindingDecl> {
    let mut seen = BTreeSet::new();
    worker
        .bindings()
        .iter()
        .filter(|b| athanor_core::naming::check_binding_name(&b.name).is_ok())
        .filter(|b| !worker_env::RESERVED.contains(&worker_env::accessor_name(&b.name).as_str()))
        .filter(|b| seen.insert(worker_env::accessor_name(&b.name)))
        .filter(|b| match &b.value {
            BindingVal::Ref(r) => model.find(r).is_some() || model::is_constant_like(r),
            BindingVal::Entrypoint { target, .. } => model.find(target).is_some(),
            _ => true,
        })
        .collect()
}

/// What a tenant template's strings write for the tenant's id.
pub(crate) const TENANT: &str = "{tenant}";

fn stack_fn(model: &Model, valid: bool) -> TokenStream {
    let c = core();
    let (doc, signature) = match &model.tenant {
        Some(t) => {
            // A parameter named `tenant` is refused (check.rs); left out, it cannot also clash.
            let params = t
                .params
                .iter()
                .filter(|p| !matches!(&*p.pat, syn::Pat::Ident(i) if i.ident == "tenant"));
            (
                " The stack of one tenant, from this `infra!` template: `{tenant}` in its strings is `tenant`, and its expressions read the parameters. Apply it with `athanor::runtime::Tenants`.",
                quote!(tenant(tenant: &::athanor::__private::athanor_core::TenantId, #(#params),*)),
            )
        }
        None => (
            " The stack this `infra!` block declares: every resource with its desired properties and references, for the runtime (`athanor::cli::run(stack())`).",
            quote!(stack()),
        ),
    };
    if !valid {
        return quote! {
            #[doc = #doc]
            #[allow(unused_variables)]
            pub fn #signature -> ::athanor::__private::athanor_core::Stack {
                ::core::unreachable!("the infra! block has errors")
            }
        };
    }
    let app = match &model.app {
        Some(app) => quote!(#app),
        None => quote!(::core::env!("CARGO_PKG_NAME")),
    };
    let resources = model.decls.iter().map(|d| resource(model, d));
    let typescript = model
        .decls
        .iter()
        .filter(|d| d.def.kind == Kind::Worker)
        .map(|w| {
            let id = w.id.value();
            let name = &w.name;
            quote!(.with_typescript_env(#id, #name::TYPESCRIPT_ENV))
        });
    let aliases = aliases();
    quote! {
        #[doc = #doc]
        pub fn #signature -> ::athanor::__private::athanor_core::Stack {
            #aliases
            #c::Stack::new(#app, ::core::env!("CARGO_MANIFEST_DIR"))
                #(.with(#resources))*
                #(#typescript)*
        }
    }
}

fn resource(model: &Model, decl: &Decl) -> TokenStream {
    let c = core();
    let id = decl.id.value();
    let kind = format_ident!("{}", decl.def.kind.as_str());
    // Kinds with a `Default` list only the properties given; the others list every field.
    let has_default = decl.def.has_default;
    let mut fields: Vec<TokenStream> = decl
        .def
        .fields()
        .filter(|p| !has_default || decl.get(p.name).is_some())
        .map(|p| {
            let field = format_ident!("{}", p.name);
            let value = field_value(model, p, decl.get(p.name));
            quote!(#field: #value)
        })
        .collect();
    // A kind's code sources make one field, `code`, always given.
    let has_code = decl.def.props.iter().any(|p| p.role == Role::Code);
    if has_code {
        fields.insert(0, worker_code(model, decl));
    }
    let given = decl
        .props
        .iter()
        .filter(|p| p.def.role == Role::Field)
        .count()
        + usize::from(has_code);
    let all = decl.def.fields().count() + usize::from(has_code);
    let rest = (has_default && given < all).then(|| quote!(..::core::default::Default::default()));
    let lifecycle = decl
        .def
        .props
        .iter()
        .filter(|p| p.role == Role::Lifecycle)
        .filter_map(|p| {
            let name = p.name;
            let value = match decl.get(name)? {
                Typed::Bool(flag) => flag_tokens(flag),
                _ => return None,
            };
            let method = format_ident!("{}", name);
            Some(quote!(.#method(#value)))
        });
    quote! {
        #c::Resource::new(#id, #c::stack::#kind { #(#fields,)* #rest })
            #(#lifecycle)*
    }
}

/// The Rust value of one core field from its property (or its default when not given).
fn field_value(model: &Model, prop: &crate::kinds::Prop, value: Option<&Typed>) -> TokenStream {
    use crate::kinds::Ty;
    let c = core();
    let Some(value) = value else {
        return match prop.ty {
            Ty::Bool => quote!(false),
            Ty::StrList | Ty::KvValues | Ty::Bindings | Ty::BindingTypes | Ty::Records(_) => {
                quote!(::std::vec::Vec::new())
            }
            _ => quote!(::core::option::Option::None),
        };
    };
    let some = |t: TokenStream| {
        if prop.required {
            t
        } else {
            quote!(::core::option::Option::Some(#t))
        }
    };
    match value {
        Typed::Str(Text::Lit(s)) if model.tenant.is_some() && s.value().contains(TENANT) => {
            some(quote!(__athanor::tenant_string(#s, tenant)))
        }
        Typed::Str(Text::Lit(s)) if !prop.required => quote!(__athanor::some_string(#s)),
        Typed::Str(text) => some(string_tokens(text)),
        Typed::Path(text) => some(path_tokens(text)),
        Typed::Bool(flag) => flag_tokens(flag),
        Typed::U64(n) => some(num_tokens(n)),
        Typed::StrList(items) => {
            let items = items.iter().map(string_tokens);
            quote!(::std::vec![#(#items),*])
        }
        Typed::Secret(s) => secret_tokens(s),
        Typed::Ref(r) => {
            let id = model
                .find(r)
                .map(|d| d.id.value())
                .unwrap_or_else(|| r.to_string());
            some(quote!(#c::ResourceRef::new(#id)))
        }
        Typed::KvValues(items) => {
            let items = items.iter().map(kv_item);
            quote!(::std::vec![#(#items),*])
        }
        Typed::Bindings(bindings) => {
            let bindings = bindings.iter().map(|b| binding(model, b));
            quote!(::std::vec![#(#bindings),*])
        }
        Typed::BindingTypes(types) => {
            let types = types.iter().map(|(t, _)| quote!(__athanor::string(#t)));
            quote!(::std::vec![#(#types),*])
        }
        Typed::Records(records) => {
            let records = records.iter().map(|r| record(model, r));
            quote!(::std::vec![#(#records),*])
        }
        Typed::KvPayload(p) => payload_tokens(p),
        Typed::Json(j) => some(json_tokens(j)),
        // A code source: `worker_code` makes the `code` field.
        Typed::Inline(tokens, _) => tokens.clone(),
    }
}

/// One entry of a list of records: its core struct, the properties given, the rest default.
fn record(model: &Model, record: &RecordVal) -> TokenStream {
    let c = core();
    let name = format_ident!("{}", record.table.name);
    let fields = record.table.props.iter().filter_map(|p| {
        let value = record.get(p.name)?;
        let field = format_ident!("{}", p.name);
        let value = field_value(model, p, Some(value));
        Some(quote!(#field: #value))
    });
    quote!(#c::stack::#name { #(#fields,)* ..::core::default::Default::default() })
}

fn string_tokens(text: &Text) -> TokenStream {
    match text {
        Text::Lit(s) => quote!(__athanor::string(#s)),
        Text::Expr(e, span) => quote_spanned!(*span=> ::std::string::String::from(#e)),
    }
}

/// The `code` field of a Worker: `WorkerCode::Entrypoint(..)` or `WorkerCode::Crate(..)` (an
/// empty entrypoint when neither is given, an error already reported). A crate's manifest is
/// `include_bytes!`d, so that editing it checks the declaration again.
fn worker_code(model: &Model, decl: &Decl) -> TokenStream {
    let c = core();
    if let Some(CodeSource::Inline(tokens, span)) = decl.code() {
        return quote_spanned!(span=> code: #c::stack::WorkerCode::Inline(#tokens));
    }
    let (variant, text) = match decl.code() {
        Some(CodeSource::Crate(text)) => (format_ident!("Crate"), Some(text)),
        Some(CodeSource::Entrypoint(text)) => (format_ident!("Entrypoint"), Some(text)),
        Some(CodeSource::Inline(..)) | None => (format_ident!("Entrypoint"), None),
    };
    let path = match text {
        // A template's path with `{tenant}`: each tenant's own module.
        Some(Text::Lit(s)) if model.tenant.is_some() && s.value().contains(TENANT) => {
            quote!(::std::path::PathBuf::from(__athanor::tenant_string(#s, tenant)))
        }
        Some(text) => path_tokens(text),
        None => quote!(::std::path::PathBuf::new()),
    };
    let tracked = match (text, std::env::var_os("CARGO_MANIFEST_DIR")) {
        (Some(Text::Lit(lit)), Some(dir)) if variant == "Crate" => {
            crate::worker_crate::check(std::path::Path::new(&dir), &lit.value())
                .ok()
                .and_then(|m| m.to_str().map(str::to_owned))
                .map(|m| {
                    quote!(
                        const _: &[u8] = ::core::include_bytes!(#m);
                    )
                })
        }
        _ => None,
    };
    let code = quote!(#c::stack::WorkerCode::#variant(#path));
    match tracked {
        Some(tracked) => quote!(code: { #tracked #code }),
        None => quote!(code: #code),
    }
}

fn path_tokens(text: &Text) -> TokenStream {
    match text {
        Text::Lit(s) => quote!(::std::path::PathBuf::from(#s)),
        Text::Expr(e, span) => quote_spanned!(*span=> ::std::path::PathBuf::from(#e)),
    }
}

fn flag_tokens(flag: &model::Flag) -> TokenStream {
    match flag {
        model::Flag::Lit(b) => quote!(#b),
        model::Flag::Expr(e, span) => quote_spanned!(*span=> { let value: bool = #e; value }),
    }
}

fn num_tokens(n: &Num) -> TokenStream {
    match n {
        Num::Lit(v, _) => quote!(#v),
        Num::Expr(e, span) => quote_spanned!(*span=> ::core::convert::Into::<u64>::into(#e)),
    }
}

fn secret_tokens(s: &SecretVal) -> TokenStream {
    let c = core();
    let arg = match &s.arg {
        Text::Lit(l) => quote!(#l),
        Text::Expr(e, _) => e.clone(),
    };
    let span = match &s.arg {
        Text::Lit(l) => l.span(),
        Text::Expr(_, span) => *span,
    };
    if s.file {
        quote_spanned!(span=> #c::SecretSource::file(#arg))
    } else {
        quote_spanned!(span=> #c::SecretSource::env(#arg))
    }
}

fn json_tokens(j: &JsonVal) -> TokenStream {
    let inner = &j.inner;
    quote_spanned!(j.span=> __athanor_json::json!(#inner))
}

fn payload_tokens(p: &Payload) -> TokenStream {
    let c = core();
    match p {
        Payload::Text(Text::Lit(s)) => quote!(#c::stack::KvPayload::Text(__athanor::string(#s))),
        Payload::Text(Text::Expr(e, span)) => {
            quote_spanned!(*span=> <#c::stack::KvPayload as ::core::convert::From<_>>::from(#e))
        }
        Payload::Json(j) => {
            let json = json_tokens(j);
            quote!(#c::stack::KvPayload::Json(#json))
        }
    }
}

fn kv_item(item: &KvItem) -> TokenStream {
    let c = core();
    let key = item
        .key
        .as_ref()
        .map(string_tokens)
        .unwrap_or_else(|| quote!(::std::string::String::new()));
    let value = item
        .value
        .as_ref()
        .map(payload_tokens)
        .unwrap_or_else(|| quote!(#c::stack::KvPayload::Text(::std::string::String::new())));
    let opt = |n: Option<TokenStream>| match n {
        Some(t) => quote!(::core::option::Option::Some(#t)),
        None => quote!(::core::option::Option::None),
    };
    let expiration = opt(item.expiration.as_ref().map(num_tokens));
    let expiration_ttl = opt(item.expiration_ttl.as_ref().map(num_tokens));
    let metadata = opt(item.metadata.as_ref().map(json_tokens));
    quote! {
        #c::stack::KvValue {
            key: #key,
            value: #value,
            expiration: #expiration,
            expiration_ttl: #expiration_ttl,
            metadata: #metadata,
        }
    }
}

fn binding(model: &Model, b: &BindingDecl) -> TokenStream {
    let c = core();
    let name = &b.name;
    let value = match &b.value {
        BindingVal::Ref(r) => match model.find(r) {
            Some(target) => {
                let id = target.id.value();
                quote!(#c::BindingValue::Resource(#c::ResourceRef::new(#id)))
            }
            None => quote_spanned!(r.span()=> #c::IntoBinding::into_binding(#r)),
        },
        BindingVal::Entrypoint { target, class } => {
            let id = model.find(target).map(|t| t.id.value());
            quote!(#c::ResourceRef::new(#id).entrypoint(#class))
        }
        BindingVal::PlainText(s) => {
            quote!(#c::BindingValue::PlainText(__athanor::string(#s)))
        }
        BindingVal::Json(j) => {
            let json = json_tokens(j);
            quote!(#c::BindingValue::Json(#json))
        }
        BindingVal::Secret(s) => {
            let source = secret_tokens(s);
            quote!(#c::BindingValue::SecretText(#source))
        }
        BindingVal::Expr(e, span) => quote_spanned!(*span=> #c::IntoBinding::into_binding(#e)),
    };
    quote!(#c::Binding::new(#name, #value))
}

fn outputs(model: &Model, valid: bool) -> TokenStream {
    let full = quote!(::athanor::__private::athanor_core);
    let decls = unique_decls(model);
    let fields = decls.iter().map(|d| {
        let name = &d.name;
        let ty = syn::Ident::new(d.def.output, Span::call_site());
        let doc = format!(" The output of {}.", d.describe());
        quote!(#[doc = #doc] pub #name: #full::output::#ty)
    });
    let body = if valid {
        let reads = decls.iter().map(|d| {
            let name = &d.name;
            let id = d.id.value();
            quote!(#name: ::athanor::__private::outputs::get(outputs, #id)?)
        });
        quote!(::core::option::Option::Some(Outputs { #(#reads),* }))
    } else {
        quote!({
            let _ = outputs;
            ::core::unreachable!("the infra! block has errors")
        })
    };
    quote! {
        /// What `deploy` reports for each resource of this stack (ids, names, URLs), typed.
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq)]
        pub struct Outputs {
            #(#fields,)*
        }

        impl Outputs {
            /// Reads the outputs `deploy` returns (keyed by logical id); `None` when a resource
            /// is missing or of another kind.
            #[allow(unused_variables)]
            pub fn from_outputs(
                outputs: &::std::collections::BTreeMap<::std::string::String, #full::Output>,
            ) -> ::core::option::Option<Outputs> {
                #body
            }
        }
    }
}
