//! Every rule across properties and declarations: references, duplicates, limits, and the names
//! Cloudflare would refuse (with `athanor_core::naming`, so the macro and the runtime agree).

use std::collections::{BTreeMap, BTreeSet};

use athanor_core::{Kind, naming};
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Ident, LitStr};

use crate::ctxt::Ctxt;
use crate::expand;
use crate::kinds;
use crate::model::{
    BindingVal, CodeSource, Decl, KvItem, Model, Num, Text, Typed, is_constant_like,
};
use crate::suggest;
use crate::worker_crate;
use crate::worker_env;

/// The code of a Worker: one source, and a Rust crate that is one (checked on disk, relative to
/// the crate being compiled).
fn worker_code(decl: &Decl, what: &str, cx: &Ctxt) {
    if let [first, second, ..] = decl.code_sources().as_slice() {
        let span = decl
            .props
            .iter()
            .find(|p| p.def.name == *second)
            .map_or_else(Span::call_site, |p| p.key_span);
        cx.error(
            span,
            format!(
                "{what} gives both `{first}` and `{second}`: a Worker has one code source; keep `entrypoint` for JavaScript or TypeScript, `crate` for Rust, or `code` for modules given at run time"
            ),
        );
        return;
    }
    let Some(CodeSource::Crate(text)) = decl.code() else {
        return;
    };
    let span = match text {
        Text::Lit(lit) => lit.span(),
        Text::Expr(_, span) => *span,
    };
    let (Text::Lit(lit), Some(manifest_dir)) = (text, std::env::var_os("CARGO_MANIFEST_DIR"))
    else {
        return;
    };
    let path = lit.value();
    match worker_crate::check(std::path::Path::new(&manifest_dir), &path) {
        Ok(_) => {}
        Err(worker_crate::Problem::NoManifest(_)) => cx.error(
            span,
            format!(
                "no crate at `{path}` (relative to this crate): the directory has no Cargo.toml; `crate` names the directory of the Worker's crate, `\".\"` for this one"
            ),
        ),
        Err(worker_crate::Problem::NotCdylib(_)) => cx.error(
            span,
            format!(
                "the crate at `{path}` does not build a Worker: its [lib] has no `cdylib` crate-type; add `crate-type = [\"cdylib\", \"rlib\"]` under [lib] in its Cargo.toml"
            ),
        ),
    }
}

/// Cloudflare's limit on a KV key, in bytes.
const MAX_KV_KEY: usize = 512;
/// Cloudflare's limit on a KV value's serialized metadata, in bytes.
const MAX_KV_METADATA: usize = 1024;
/// Cloudflare's shortest `expiration_ttl`, in seconds.
const MIN_KV_TTL: u64 = 60;

/// Checks the model, recording every problem in `cx`.
pub(crate) fn check(model: &Model, cx: &Ctxt) {
    unique_let_names_and_ids(model, cx);
    template_params(model, cx);
    unique_physical_names(model, cx);
    for decl in &model.decls {
        references(model, decl, cx);
        tenant_strings(model, decl, cx);
        names(decl, cx);
        paths(decl, cx);
        match decl.def.kind {
            Kind::KvNamespace => kv_values(decl, cx),
            Kind::R2Bucket => bucket_rules(decl, cx),
            Kind::QueueConsumer => queue_consumer(model, decl, cx),
            Kind::Worker => worker(decl, cx),
            _ => {}
        }
    }
}

/// `let` names and logical ids are unique, and no Worker's `let` name collides with an item the
/// expansion generates.
fn unique_let_names_and_ids(model: &Model, cx: &Ctxt) {
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut ids: BTreeMap<String, &Decl> = BTreeMap::new();
    for decl in &model.decls {
        let name = decl.name.to_string();
        if !names.insert(name.clone()) {
            cx.error(
                decl.name.span(),
                format!("`{name}` is declared twice; give each resource its own `let` name"),
            );
        }
        if let Some(item) = expand::module_clash(decl) {
            cx.error(
                decl.name.span(),
                format!(
                    "`{name}` collides with {item} that `infra!` generates: a Worker's `let` name also names its generated module; rename it, for example to `{}`",
                    name.to_lowercase()
                ),
            );
        }
        let id = decl.id.value();
        if let Some(first) = ids.get(&id) {
            cx.error(
                decl.id.span(),
                format!(
                    "the logical id {id:?} is already used by `{}`; logical ids identify resources in state and must be unique",
                    first.name
                ),
            );
        } else {
            ids.insert(id, decl);
        }
    }
}

/// Two resources that would get the same physical name at Cloudflare.
fn unique_physical_names(model: &Model, cx: &Ctxt) {
    let mut seen: BTreeMap<(Kind, String, String), &Decl> = BTreeMap::new();
    for decl in &model.decls {
        let kind = decl.def.kind;
        let Some(unique) = &decl.def.unique_name else {
            continue;
        };
        let (prop, what) = (unique.prop, unique.what);
        // A scope is a literal (a jurisdiction) or a reference (a dispatch namespace).
        let scope = unique
            .scope
            .and_then(|s| match decl.get(s) {
                Some(Typed::Str(Text::Lit(lit))) => Some(lit.value()),
                Some(Typed::Ref(r)) => Some(r.to_string()),
                _ => None,
            })
            .unwrap_or_default();
        let Some(name) = decl.lit_str(prop) else {
            continue;
        };
        let key = (kind, scope, name.value());
        if let Some(first) = seen.get(&key) {
            cx.error(
                name.span(),
                format!(
                    "the {what} {:?} is already used by `{}`; Cloudflare keeps one per account",
                    name.value(),
                    first.name
                ),
            );
        } else {
            seen.insert(key, decl);
        }
    }
}

/// `store:`, `namespace:` and binding references name a resource of the right kind.
fn references(model: &Model, decl: &Decl, cx: &Ctxt) {
    for prop in &decl.props {
        if let (Typed::Ref(target), kinds::Ty::Ref(expected)) = (&prop.value, prop.def.ty)
            && let Some(found) = resolve(model, target, cx)
            && found.def.kind != expected
        {
            cx.error(
                target.span(),
                format!(
                    "`{}` of {} must be a {expected}, but `{target}` is a {}",
                    prop.def.name,
                    decl.describe(),
                    found.def.kind
                ),
            );
        }
    }
    for binding in decl.bindings() {
        if let BindingVal::Entrypoint { target, class } = &binding.value {
            entrypoint(model, decl, &binding.name, target, class, cx);
            continue;
        }
        let BindingVal::Ref(target) = &binding.value else {
            continue;
        };
        if model.find(target).is_none() && is_constant_like(target) {
            continue;
        }
        let Some(found) = resolve(model, target, cx) else {
            continue;
        };
        match found.def.kind {
            _ if found.def.binding.is_none() && matches!(decl.code(), Some(CodeSource::Crate(_))) => cx.error(
                target.span(),
                format!(
                    "`{target}` is a SecretsStore, for which a Rust Worker's Env has no accessor (workers-rs reads one secret per binding); bind a Secret or SecretRef in it instead"
                ),
            ),
            _ if found.def.binding.is_none() => cx.error(
                target.span(),
                format!(
                    "`{target}` is a SecretsStore, which cannot be bound to a Worker; bind a Secret or SecretRef in it instead"
                ),
            ),
            Kind::Worker if found.name == decl.name => cx.error(
                target.span(),
                format!("binding `{}` binds {} to itself", binding.name, decl.describe()),
            ),
            Kind::Worker if found.namespace().is_some() => cx.error(
                target.span(),
                format!(
                    "`{target}` is a user Worker inside a dispatch namespace and cannot be bound as a service; bind its DispatchNamespace instead"
                ),
            ),
            _ => {}
        }
    }
}

/// `target.entrypoint("Class")` bound in `decl`: `target` is another Worker of the account,
/// `Class` a name JavaScript can export.
fn entrypoint(
    model: &Model,
    decl: &Decl,
    binding: &str,
    target: &Ident,
    class: &LitStr,
    cx: &Ctxt,
) {
    if let Some(found) = resolve(model, target, cx) {
        if found.def.kind != Kind::Worker {
            cx.error(
                target.span(),
                format!(
                    "binding `{binding}`: `.entrypoint(..)` names a class exported by a Worker, but `{target}` is a {}; bind `{target}` itself",
                    found.def.kind
                ),
            );
        } else if found.name == decl.name {
            cx.error(
                target.span(),
                format!("binding `{binding}` binds {} to itself", decl.describe()),
            );
        } else if found.namespace().is_some() {
            cx.error(
                target.span(),
                format!(
                    "`{target}` is a user Worker inside a dispatch namespace and cannot be bound as a service; bind its DispatchNamespace instead"
                ),
            );
        }
    }
    let name = class.value();
    if let Err(why) = naming::check_export_name(&name) {
        cx.error(
            class.span(),
            format!("binding `{binding}`: entrypoint {name:?} {why}"),
        );
    }
}

/// The declaration `name` refers to; reports an unknown name with the closest one.
fn resolve<'a>(model: &'a Model, name: &Ident, cx: &Ctxt) -> Option<&'a Decl> {
    if let Some(found) = model.find(name) {
        return Some(found);
    }
    if !model.is_broken(name) {
        let names: Vec<String> = model.decls.iter().map(|d| d.name.to_string()).collect();
        cx.error(
            name.span(),
            format!(
                "unknown resource `{name}`{}; a reference names a `let` declared in this block",
                suggest::did_you_mean(&name.to_string(), names.iter().map(String::as_str))
            ),
        );
    }
    None
}

/// Names Cloudflare would refuse. A template's name with `{tenant}` is checked for tenant ids
/// of every length and character a [`TenantId`](athanor_core::TenantId) allows.
fn names(decl: &Decl, cx: &Ctxt) {
    let Some(rule) = &decl.def.name_rule else {
        return;
    };
    let Some(name) = decl.lit_str(rule.prop) else {
        return;
    };
    let prop = rule.prop;
    let template = name.value();
    if !template.contains(expand::TENANT) {
        if let Err(e) = naming::check_name(decl.def.kind, &template) {
            cx.error(
                name.span(),
                format!(
                    "Cloudflare would refuse `{prop}` of {}: {e}",
                    decl.describe()
                ),
            );
        }
        return;
    }
    for sample in athanor_core::tenant::SAMPLE_TENANT_IDS {
        let resolved = template.replace(expand::TENANT, sample);
        if let Err(e) = naming::check_name(decl.def.kind, &resolved) {
            cx.error(
                name.span(),
                format!(
                    "Cloudflare would refuse `{prop}` of {} for some tenants: for the tenant id {sample:?} it is {resolved:?}, and {}; a tenant id is up to {} of `a-z`, `0-9` and `-`",
                    decl.describe(),
                    e.reason,
                    athanor_core::tenant::MAX_TENANT_ID
                ),
            );
            return;
        }
    }
}

/// A tenant template's parameters are plain names, none of them `tenant` (the id, given first)
/// or a resource's `let` name (a bare name would be ambiguous).
fn template_params(model: &Model, cx: &Ctxt) {
    let Some(tenant) = &model.tenant else {
        return;
    };
    for param in &tenant.params {
        let syn::Pat::Ident(p) = &*param.pat else {
            cx.error(
                param.pat.span(),
                "a tenant template's parameter is a plain name: `plan: &str`",
            );
            continue;
        };
        if p.ident == "tenant" {
            cx.error(
                p.ident.span(),
                "`tenant` is the tenant's id, which the generated `fn tenant(tenant: &TenantId, ...)` takes first; name this parameter otherwise",
            );
        } else if model.find(&p.ident).is_some() {
            cx.error(
                p.ident.span(),
                format!(
                    "the parameter `{}` has the name of a resource of the template; rename one of them",
                    p.ident
                ),
            );
        }
    }
}

/// `{tenant}` in strings: only a tenant template knows it; in a template, a name Cloudflare keeps
/// unique holds it, unless the resource is adopted (one the tenants share, such as the
/// platform's dispatch namespace), or every tenant would fight over the same resource.
fn tenant_strings(model: &Model, decl: &Decl, cx: &Ctxt) {
    if model.tenant.is_none() {
        for prop in &decl.props {
            if let Typed::Str(Text::Lit(s)) = &prop.value
                && s.value().contains(expand::TENANT)
            {
                cx.error(
                    s.span(),
                    format!(
                        "`{}` of {} uses `{{tenant}}`, which only a tenant template knows: declare the block's parameters with `tenant(...);`, or write the name out",
                        prop.def.name,
                        decl.describe()
                    ),
                );
            }
        }
        return;
    }
    let Some(unique) = &decl.def.unique_name else {
        return;
    };
    let adopted = decl.lit_bool("adopt").is_some_and(|b| b.value);
    if let Some(name) = decl.lit_str(unique.prop)
        && !name.value().contains(expand::TENANT)
        && !adopted
    {
        cx.error(
            name.span(),
            format!(
                "every tenant would create the {} {:?} of {}: put `{{tenant}}` in it (`\"{{tenant}}-{}\"`), leave it out for a name made from the tenant's stage, or `adopt: true` for a resource the tenants share",
                unique.what,
                name.value(),
                decl.describe(),
                name.value()
            ),
        );
    }
}

/// Path properties given as literals (a D1 database's `migrations` and `seed`) name a directory
/// or a file, as their type says, relative to the crate being compiled.
fn paths(decl: &Decl, cx: &Ctxt) {
    let Some(manifest_dir) = std::env::var_os("CARGO_MANIFEST_DIR") else {
        return;
    };
    for prop in &decl.props {
        let Typed::Path(Text::Lit(lit)) = &prop.value else {
            continue;
        };
        let path = std::path::Path::new(&manifest_dir).join(lit.value());
        let (found, noun) = match prop.def.ty {
            kinds::Ty::Dir => (path.is_dir(), "a directory"),
            _ => (path.is_file(), "a file"),
        };
        if !found {
            cx.error(
                lit.span(),
                format!(
                    "`{}` of {} names {:?}, which is not {noun} relative to the crate's `Cargo.toml`; create it, or fix the path",
                    prop.def.name,
                    decl.describe(),
                    lit.value(),
                ),
            );
        }
    }
}

/// A queue consumer: an account Worker (a user Worker in a dispatch namespace consumes no
/// queue), the only consumer of its queue (Cloudflare takes one Worker consumer per queue), and a
/// dead-letter queue other than the queue itself.
fn queue_consumer(model: &Model, decl: &Decl, cx: &Ctxt) {
    let what = decl.describe();
    let reference = |name: &str| match decl.get(name) {
        Some(Typed::Ref(r)) => Some(r),
        _ => None,
    };
    if let Some(worker) = reference("worker")
        && model.find(worker).is_some_and(|w| w.namespace().is_some())
    {
        cx.error(
            worker.span(),
            format!(
                "`{worker}` is a user Worker inside a dispatch namespace, which cannot consume a queue; consume it with an account Worker (the dispatch Worker, for one)"
            ),
        );
    }
    let Some(queue) = reference("queue") else {
        return;
    };
    if reference("dead_letter_queue").is_some_and(|dlq| dlq == queue) {
        let dlq = reference("dead_letter_queue").expect("just matched");
        cx.error(
            dlq.span(),
            format!(
                "{what} sends spent messages back to `{queue}`, the queue it consumes; declare another Queue as its dead-letter queue"
            ),
        );
    }
    let first = model.decls.iter().find(|other| {
        other.def.kind == Kind::QueueConsumer
            && matches!(other.get("queue"), Some(Typed::Ref(q)) if q == queue)
    });
    if let Some(first) = first
        && first.name != decl.name
    {
        cx.error(
            queue.span(),
            format!(
                "`{queue}` already has a consumer, {}; Cloudflare delivers a queue to one Worker: remove one of them",
                first.describe()
            ),
        );
    }
}

/// The most CORS rules a bucket takes.
const MAX_CORS_RULES: usize = 100;
/// The most lifecycle rules a bucket takes.
const MAX_LIFECYCLE_RULES: usize = 1000;

/// An R2 bucket's CORS and lifecycle rules: within Cloudflare's counts, lifecycle ids unique,
/// and each lifecycle rule doing something.
fn bucket_rules(decl: &Decl, cx: &Ctxt) {
    let what = decl.describe();
    let span_of = |name: &str| {
        decl.props
            .iter()
            .find(|p| p.def.name == name)
            .map(|p| p.key_span)
    };
    if decl.cors().len() > MAX_CORS_RULES
        && let Some(span) = span_of("cors")
    {
        cx.error(
            span,
            format!(
                "`cors` of {what} has {} rules; a bucket takes at most {MAX_CORS_RULES}: merge rules that share their methods",
                decl.cors().len()
            ),
        );
    }
    let rules = decl.lifecycle();
    if rules.len() > MAX_LIFECYCLE_RULES
        && let Some(span) = span_of("lifecycle")
    {
        cx.error(
            span,
            format!(
                "`lifecycle` of {what} has {} rules; a bucket takes at most {MAX_LIFECYCLE_RULES}",
                rules.len()
            ),
        );
    }
    let mut ids: BTreeMap<String, ()> = BTreeMap::new();
    for rule in rules {
        if let Some(Typed::Str(Text::Lit(id))) = rule.get("id")
            && ids.insert(id.value(), ()).is_some()
        {
            cx.error(
                id.span(),
                format!(
                    "two lifecycle rules of {what} are named {:?}; give each its own `id`",
                    id.value()
                ),
            );
        }
        let acts = [
            "expire_after_days",
            "abort_uploads_after_days",
            "infrequent_access_after_days",
        ];
        if !acts.iter().any(|a| rule.get(a).is_some()) {
            cx.error(
                rule.span,
                format!(
                    "a lifecycle rule of {what} does nothing: give it `expire_after_days`, `abort_uploads_after_days` or `infrequent_access_after_days`"
                ),
            );
        }
    }
}

fn kv_values(decl: &Decl, cx: &Ctxt) {
    let items = decl.kv_values();
    let mut keys: BTreeMap<String, ()> = BTreeMap::new();
    for item in items {
        kv_item(decl, item, cx);
        if let Some(Text::Lit(key)) = &item.key
            && keys.insert(key.value(), ()).is_some()
        {
            cx.error(
                key.span(),
                format!(
                    "the key {:?} is given twice in {}; keep one",
                    key.value(),
                    decl.describe()
                ),
            );
        }
    }
}

fn kv_item(decl: &Decl, item: &KvItem, cx: &Ctxt) {
    let what = decl.describe();
    if let Some(Text::Lit(key)) = &item.key {
        let len = key.value().len();
        if len > MAX_KV_KEY {
            cx.error(
                key.span(),
                format!(
                    "a KV key of {what} is {len} bytes; Cloudflare allows at most {MAX_KV_KEY}"
                ),
            );
        }
        if key.value().is_empty() {
            cx.error(key.span(), format!("a KV key of {what} cannot be empty"));
        }
    }
    if let Some(Num::Lit(ttl, span)) = &item.expiration_ttl
        && *ttl < MIN_KV_TTL
    {
        cx.error(
                *span,
                format!(
                    "`expiration_ttl` of a value of {what} is {ttl} s; Cloudflare requires at least {MIN_KV_TTL} s"
                ),
            );
    }
    if let (Some(_), Some(ttl)) = (&item.expiration, &item.expiration_ttl) {
        let span = match ttl {
            Num::Lit(_, s) | Num::Expr(_, s) => *s,
        };
        cx.error(
            span,
            format!(
                "a value of {what} sets both `expiration` (an epoch second) and `expiration_ttl` (seconds from now); keep one"
            ),
        );
    }
    if let Some(meta) = &item.metadata
        && let Some(value) = &meta.value
    {
        let len = value.to_string().len();
        if len > MAX_KV_METADATA {
            cx.error(
                    meta.span,
                    format!(
                        "the metadata of a value of {what} is {len} bytes serialized; Cloudflare allows at most {MAX_KV_METADATA}"
                    ),
                );
        }
    }
}

/// A Worker's Cron Triggers: each expression as Cloudflare reads it, and none on a user Worker,
/// which has no schedules.
fn schedule(decl: &Decl, what: &str, cx: &Ctxt) {
    for cron in decl.crons() {
        if let Text::Lit(lit) = cron
            && let Err(e) = athanor_core::cron::check(&lit.value())
        {
            cx.error(
                lit.span(),
                format!(
                    "{:?} in `crons` of {what} is not a cron expression Cloudflare accepts: {e}; for example `\"*/5 * * * *\"` (every five minutes) or `\"0 9 * * MON-FRI\"`",
                    lit.value()
                ),
            );
        }
    }
    if let (Some(first), Some(_)) = (decl.crons().first(), decl.namespace()) {
        let span = match first {
            Text::Lit(lit) => lit.span(),
            Text::Expr(_, span) => *span,
        };
        cx.error(
            span,
            format!(
                "{what} is a user Worker inside a dispatch namespace, which Cron Triggers do not run; put the schedule on the dispatch Worker and have it call the user Worker"
            ),
        );
    }
}

fn worker(decl: &Decl, cx: &Ctxt) {
    let what = decl.describe();
    worker_code(decl, &what, cx);
    if let (Some(url), Some(_)) = (decl.url(), decl.namespace())
        && url.value
    {
        cx.error(
                url.span,
                format!(
                    "{what} is a user Worker inside a dispatch namespace and cannot be served on workers.dev; remove `url: true` and route requests through a dispatch Worker"
                ),
            );
    }
    schedule(decl, &what, cx);
    for (ty, span) in decl.keep_bindings() {
        if !kinds::BINDING_TYPES.contains(&ty.as_str()) {
            cx.error(
                *span,
                format!(
                    "unknown binding type `{ty}` in `keep_bindings` of {what}{}; binding types are Cloudflare's, such as `kv_namespace`, `r2_bucket`, `secret_text`",
                    suggest::did_you_mean(ty, kinds::BINDING_TYPES.iter().copied())
                ),
            );
        }
    }
    let mut names: BTreeMap<String, &str> = BTreeMap::new();
    let mut accessors: BTreeMap<String, &str> = BTreeMap::new();
    for binding in decl.bindings() {
        if let Err(e) = naming::check_binding_name(&binding.name) {
            cx.error(
                binding.name_span,
                format!("binding name {:?} of {what} is refused: {e}", binding.name),
            );
            continue;
        }
        if names.insert(binding.name.clone(), &binding.name).is_some() {
            cx.error(
                binding.name_span,
                format!(
                    "binding `{}` is given twice in {what}; a Worker's binding names are unique",
                    binding.name
                ),
            );
            continue;
        }
        let accessor = worker_env::accessor_name(&binding.name);
        if worker_env::RESERVED.contains(&accessor.as_str()) {
            cx.error(
                binding.name_span,
                format!(
                    "binding `{}` of {what} would clash with `Env::{accessor}` of the generated Env; rename it",
                    binding.name
                ),
            );
        } else if let Some(other) = accessors.insert(accessor.clone(), &binding.name) {
            cx.error(
                binding.name_span,
                format!(
                    "bindings `{other}` and `{}` of {what} would both be read with `env.{accessor}()`; rename one",
                    binding.name
                ),
            );
        }
    }
}
