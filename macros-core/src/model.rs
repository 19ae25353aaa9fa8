//! The raw syntax tree -> the typed model: each property checked against the kinds table.
//!
//! This stage reports what one property alone can get wrong: an unknown kind or property, a
//! property given twice, a missing required one, a literal of the wrong type, a secret written in
//! source. Rules across properties and declarations live in `check`.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::{Expr, Ident, Lit, LitBool, LitStr};

use crate::ctxt::Ctxt;
use crate::json;
use crate::kinds::{self, KindDef, Ty};
use crate::suggest;
use crate::syntax::{Block, Field, Key, RawDecl, TenantDecl, Value};

/// A whole declaration block, typed.
pub(crate) struct Model {
    /// `app "name";`, if given (default: the crate name).
    pub app: Option<LitStr>,
    /// `tenant(...);`, if given: the block is a tenant template.
    pub tenant: Option<TenantDecl>,
    /// The declarations that parsed, in order.
    pub decls: Vec<Decl>,
    /// `let` names whose declaration was refused (an unknown kind): references to them are not
    /// reported again.
    pub broken: Vec<Ident>,
    /// The position in `decls` of each `let` name (its first declaration).
    index: HashMap<String, usize>,
}

impl Model {
    /// The declaration whose `let` name is `name` (the first one, if declared twice).
    pub(crate) fn find(&self, name: &Ident) -> Option<&Decl> {
        self.index.get(&name.to_string()).map(|i| &self.decls[*i])
    }

    /// Whether `name` is a refused declaration (so a reference to it is not reported again).
    pub(crate) fn is_broken(&self, name: &Ident) -> bool {
        self.broken.iter().any(|b| b == name)
    }
}

/// One resource declaration.
pub(crate) struct Decl {
    /// The `let` name.
    pub name: Ident,
    /// Its kind's row in the table.
    pub def: &'static KindDef,
    /// The logical id.
    pub id: LitStr,
    /// The properties given, each once.
    pub props: Vec<Prop>,
}

impl Decl {
    /// The value of the property `name`, if given.
    pub(crate) fn get(&self, name: &str) -> Option<&Typed> {
        self.props
            .iter()
            .find(|p| p.def.name == name)
            .map(|p| &p.value)
    }

    /// A string literal property, if given as a literal.
    pub(crate) fn lit_str(&self, name: &str) -> Option<&LitStr> {
        match self.get(name) {
            Some(Typed::Str(Text::Lit(s))) => Some(s),
            _ => None,
        }
    }

    /// A bool property, if given as a literal.
    pub(crate) fn lit_bool(&self, name: &str) -> Option<&LitBool> {
        match self.get(name) {
            Some(Typed::Bool(Flag::Lit(b))) => Some(b),
            _ => None,
        }
    }

    // The properties the checks and the expansion read by meaning, typed. Each name is spelled
    // here only (and in the kinds table); the generic expansion reads the rest through the table.

    /// A Worker's code source: its `crate` when given (both given is an error already
    /// reported), else its `entrypoint`.
    pub(crate) fn code(&self) -> Option<CodeSource<'_>> {
        match (self.get("entrypoint"), self.get("crate"), self.get("code")) {
            (_, Some(Typed::Str(text)), _) => Some(CodeSource::Crate(text)),
            (Some(Typed::Str(text)), None, _) => Some(CodeSource::Entrypoint(text)),
            (None, None, Some(Typed::Inline(tokens, span))) => {
                Some(CodeSource::Inline(tokens, *span))
            }
            _ => None,
        }
    }

    /// The code sources a Worker gives, by property name (one is right).
    pub(crate) fn code_sources(&self) -> Vec<&'static str> {
        ["entrypoint", "crate", "code"]
            .into_iter()
            .filter(|p| self.get(p).is_some())
            .collect()
    }

    /// The dispatch namespace a Worker is a user Worker of.
    pub(crate) fn namespace(&self) -> Option<&Ident> {
        match self.get("namespace") {
            Some(Typed::Ref(r)) => Some(r),
            _ => None,
        }
    }

    /// A Worker's `url` flag, when a literal.
    pub(crate) fn url(&self) -> Option<&LitBool> {
        self.lit_bool("url")
    }

    /// A Worker's script name, when a literal.
    pub(crate) fn script_name(&self) -> Option<&LitStr> {
        self.lit_str("name")
    }

    /// The bindings of a Worker (empty for other kinds).
    pub(crate) fn bindings(&self) -> &[BindingDecl] {
        match self.get("bindings") {
            Some(Typed::Bindings(b)) => b,
            _ => &[],
        }
    }

    /// The binding types a Worker keeps from its previous upload, with their spans.
    pub(crate) fn keep_bindings(&self) -> &[(String, Span)] {
        match self.get("keep_bindings") {
            Some(Typed::BindingTypes(types)) => types,
            _ => &[],
        }
    }

    /// A Worker's cron expressions.
    pub(crate) fn crons(&self) -> &[Text] {
        match self.get("crons") {
            Some(Typed::StrList(items)) => items,
            _ => &[],
        }
    }

    /// An R2 bucket's CORS rules.
    pub(crate) fn cors(&self) -> &[RecordVal] {
        self.records("cors")
    }

    /// An R2 bucket's lifecycle rules.
    pub(crate) fn lifecycle(&self) -> &[RecordVal] {
        self.records("lifecycle")
    }

    fn records(&self, name: &str) -> &[RecordVal] {
        match self.get(name) {
            Some(Typed::Records(records)) => records,
            _ => &[],
        }
    }

    /// The seeded values of a KV namespace (empty for other kinds).
    pub(crate) fn kv_values(&self) -> &[KvItem] {
        match self.get("values") {
            Some(Typed::KvValues(items)) => items,
            _ => &[],
        }
    }

    /// A Durable Object namespace's class, when a literal.
    pub(crate) fn class_name(&self) -> Option<&LitStr> {
        self.lit_str("class_name")
    }

    /// The script a Durable Object namespace's class lives in: `None` when it is the binding
    /// Worker's own; `Some(None)` when given as an expression.
    pub(crate) fn class_script(&self) -> Option<Option<&LitStr>> {
        self.get("script_name").map(|_| self.lit_str("script_name"))
    }

    /// `Kind("id")`, the way messages name a declaration.
    pub(crate) fn describe(&self) -> String {
        format!("{}({:?})", self.def.kind, self.id.value())
    }
}

/// A Worker's code source, as declared.
pub(crate) enum CodeSource<'a> {
    /// `entrypoint: "..."`: the main module of a JavaScript or TypeScript Worker.
    Entrypoint(&'a Text),
    /// `crate: "..."`: the directory of a Rust Worker's crate.
    Crate(&'a Text),
    /// `code: expr`: modules given at run time.
    Inline(&'a TokenStream, Span),
}

/// One property of a declaration.
pub(crate) struct Prop {
    /// Its row in the table.
    pub def: &'static kinds::Prop,
    /// Where its name is written.
    pub key_span: Span,
    /// Its value.
    pub value: Typed,
}

/// A property value of the type its row asks for.
pub(crate) enum Typed {
    Str(Text),
    Bool(Flag),
    U64(Num),
    StrList(Vec<Text>),
    Secret(SecretVal),
    Ref(Ident),
    KvValues(Vec<KvItem>),
    Records(Vec<RecordVal>),
    /// A path relative to the crate: a directory or a file, as the property's type says.
    Path(Text),
    /// A Rust expression of type `InlineCode`.
    Inline(TokenStream, Span),
    Bindings(Vec<BindingDecl>),
    BindingTypes(Vec<(String, Span)>),
    KvPayload(Payload),
    Json(JsonVal),
}

/// A string: a literal (checked) or a Rust expression (type-checked by rustc).
pub(crate) enum Text {
    Lit(LitStr),
    Expr(TokenStream, Span),
}

/// A bool: a literal or a Rust expression.
pub(crate) enum Flag {
    Lit(LitBool),
    Expr(TokenStream, Span),
}

/// A non-negative integer: a literal (its value and span) or a Rust expression.
pub(crate) enum Num {
    Lit(u64, Span),
    Expr(TokenStream, Span),
}

/// `secret_env(..)` / `secret_file(..)`.
pub(crate) struct SecretVal {
    /// `true` for `secret_file`.
    pub file: bool,
    /// The variable name or path.
    pub arg: Text,
}

/// A JSON value: the tokens inside `json!(...)` (or a bare literal), and the value itself when
/// it is known at compile time (no Rust expression interpolated).
pub(crate) struct JsonVal {
    pub inner: TokenStream,
    pub span: Span,
    pub value: Option<serde_json::Value>,
}

/// A KV value: text, JSON, or a Rust expression converting into a KV payload.
pub(crate) enum Payload {
    Text(Text),
    Json(JsonVal),
}

/// One entry of a [`kinds::Ty::Records`] list: its table and the properties given.
pub(crate) struct RecordVal {
    pub table: &'static kinds::Records,
    /// Where the entry is written.
    pub span: Span,
    pub props: Vec<Prop>,
}

impl RecordVal {
    /// The value of the property `name`, if given.
    pub(crate) fn get(&self, name: &str) -> Option<&Typed> {
        self.props
            .iter()
            .find(|p| p.def.name == name)
            .map(|p| &p.value)
    }
}

/// One entry of a KV namespace's `values`.
pub(crate) struct KvItem {
    pub key: Option<Text>,
    pub value: Option<Payload>,
    pub expiration: Option<Num>,
    pub expiration_ttl: Option<Num>,
    pub metadata: Option<JsonVal>,
}

/// One binding of a Worker.
pub(crate) struct BindingDecl {
    /// The name as written.
    pub name: String,
    /// Where the name is.
    pub name_span: Span,
    /// What it is bound to.
    pub value: BindingVal,
}

/// What a binding is bound to.
pub(crate) enum BindingVal {
    /// A resource of the block, by `let` name; or, when no declaration has that name and it
    /// starts with an uppercase letter, a Rust constant (see [`is_constant_like`]).
    Ref(Ident),
    /// `worker.entrypoint("Class")`: a `service` binding to an exported class of a Worker.
    Entrypoint {
        /// The Worker, by `let` name.
        target: Ident,
        /// The class's name.
        class: LitStr,
    },
    /// A string literal: `plain_text`.
    PlainText(LitStr),
    /// A bool or number literal, or `json!`: `json`.
    Json(JsonVal),
    /// `secret_env`/`secret_file`: `secret_text`.
    Secret(SecretVal),
    /// Any other Rust expression, converted with `IntoBinding`.
    Expr(TokenStream, Span),
}

/// Whether a bare name in a binding position that names no declaration reads as a Rust constant
/// (`LEVEL`, `Config`) rather than a misspelt reference (`sesions`).
pub(crate) fn is_constant_like(name: &Ident) -> bool {
    name.to_string()
        .starts_with(|c: char| c.is_ascii_uppercase())
}

/// The bare name `expr` is, if it is one.
fn receiver_name(expr: &Expr) -> Option<&Ident> {
    match expr {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
        _ => None,
    }
}

/// `worker.entrypoint("Class")`, whose receiver [`receiver_name`] has found.
fn entrypoint(call: syn::ExprMethodCall, binding: &str, cx: &Ctxt) -> Option<BindingVal> {
    let target = receiver_name(&call.receiver)?.clone();
    let class = match call.args.iter().collect::<Vec<_>>().as_slice() {
        [
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }),
        ] => s.clone(),
        _ => {
            cx.error(
                call.method.span(),
                format!(
                    "binding `{binding}`: `.entrypoint(..)` takes the name of the class the Worker exports, as one string literal: `{target}.entrypoint(\"AdminApi\")`"
                ),
            );
            return None;
        }
    };
    Some(BindingVal::Entrypoint { target, class })
}

/// The names a tenant template's expressions read: `tenant` (the id) and each parameter.
fn template_params(tenant: &TenantDecl) -> Vec<Ident> {
    let mut names = vec![Ident::new("tenant", Span::call_site())];
    for p in &tenant.params {
        if let syn::Pat::Ident(i) = &*p.pat {
            names.push(i.ident.clone());
        }
    }
    names
}

/// Makes each bare name of a template parameter a Rust expression (a bare name is otherwise a
/// reference to a resource): `PLAN: plan` binds the parameter's value.
fn rust_params(value: &mut Value, params: &[Ident]) {
    match value {
        Value::Ident(i) if params.contains(i) => {
            let i = i.clone();
            *value = Value::Expr(syn::parse_quote!(#i));
        }
        Value::List { items, .. } => items.iter_mut().for_each(|v| rust_params(v, params)),
        Value::Object { fields, .. } => fields
            .iter_mut()
            .for_each(|f| rust_params(&mut f.value, params)),
        _ => {}
    }
}

/// Types the raw block, recording every mistake in `cx`.
pub(crate) fn build(block: Block, cx: &Ctxt) -> Model {
    let mut model = Model {
        app: block.app,
        tenant: block.tenant,
        decls: Vec::new(),
        broken: Vec::new(),
        index: HashMap::new(),
    };
    let params = model
        .tenant
        .as_ref()
        .map(template_params)
        .unwrap_or_default();
    for mut raw in block.decls {
        for field in &mut raw.fields {
            rust_params(&mut field.value, &params);
        }
        match build_decl(raw, cx) {
            Ok(decl) => {
                model
                    .index
                    .entry(decl.name.to_string())
                    .or_insert(model.decls.len());
                model.decls.push(decl);
            }
            Err(name) => model.broken.push(name),
        }
    }
    model
}

fn build_decl(raw: RawDecl, cx: &Ctxt) -> Result<Decl, Ident> {
    let kind_name = raw.kind.to_string();
    let Some(def) = kinds::kind_def(&kind_name) else {
        let names = kinds::KINDS.iter().map(|k| k.kind.as_str());
        cx.error(
            raw.kind.span(),
            format!(
                "unknown resource kind `{kind_name}`{}; expected one of {}",
                suggest::did_you_mean(&kind_name, names.clone()),
                list(names)
            ),
        );
        return Err(raw.name);
    };
    let id = match &raw.id {
        syn::Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) if !s.value().is_empty() => s.clone(),
        other => {
            cx.error(
                syn::spanned::Spanned::span(other),
                "the logical id must be a non-empty string literal, `Kind(\"my-id\")`: it is the resource's identity in state",
            );
            LitStr::new(&raw.name.to_string(), raw.name.span())
        }
    };
    let what = format!("{kind_name}({:?})", id.value());
    let (props, given) = build_props(def.props, raw.fields, &what, cx);
    for p in def.props.iter().filter(|p| p.required) {
        if !given.contains(&p.name) {
            cx.error(
                raw.brace,
                format!(
                    "{what} is missing the required property `{}` ({})",
                    p.name, p.doc
                ),
            );
        }
    }
    let has_code = def.props.iter().any(|p| p.role == kinds::Role::Code);
    if has_code
        && !def
            .props
            .iter()
            .any(|p| p.role == kinds::Role::Code && given.contains(&p.name))
    {
        cx.error(
            raw.brace,
            format!(
                "{what} is missing its code: `entrypoint: \"./src/worker.ts\"` for a JavaScript or TypeScript Worker, `crate: \".\"` for a Rust one, or `code: InlineCode::javascript(..)` for modules given at run time"
            ),
        );
    }
    Ok(Decl {
        name: raw.name,
        def,
        id,
        props,
    })
}

/// The properties that typed, and the names of every known property given (typed or not, so a
/// mistyped required property is not also reported missing).
fn build_props(
    table: &'static [kinds::Prop],
    fields: Vec<Field>,
    what: &str,
    cx: &Ctxt,
) -> (Vec<Prop>, Vec<&'static str>) {
    let mut props: Vec<Prop> = Vec::new();
    let mut given: Vec<&'static str> = Vec::new();
    for field in fields {
        let Some(prop_def) = known_key(table, &field.key, what, cx) else {
            continue;
        };
        if given.contains(&prop_def.name) {
            cx.error(
                field.key.span(),
                format!("`{}` is given twice in {what}; keep one", prop_def.name),
            );
            continue;
        }
        given.push(prop_def.name);
        if let Some(value) = typed(field.value, prop_def, what, cx) {
            check_value(&value, prop_def, what, cx);
            props.push(Prop {
                def: prop_def,
                key_span: field.key.span(),
                value,
            });
        }
    }
    (props, given)
}

/// The key as an identifier, if the kind has such a property; reports it otherwise.
fn known_key(
    table: &'static [kinds::Prop],
    key: &Key,
    what: &str,
    cx: &Ctxt,
) -> Option<&'static kinds::Prop> {
    let text = key.text();
    let found = table.iter().find(|p| p.name == text);
    match (key, found) {
        (Key::Ident(_), Some(found)) => Some(found),
        _ => {
            let names: Vec<&str> = table.iter().map(|p| p.name).collect();
            cx.error(
                key.span(),
                format!(
                    "unknown property `{text}` for {what}{}; expected one of {}",
                    suggest::did_you_mean(&text, names.iter().copied()),
                    list(names.iter().copied())
                ),
            );
            None
        }
    }
}

/// `a`, `b` or `c`
fn list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names
        .into_iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn typed(value: Value, prop: &kinds::Prop, what: &str, cx: &Ctxt) -> Option<Typed> {
    let name = prop.name;
    let wrong = |value: &Value| {
        cx.error(
            value.span(),
            format!(
                "`{name}` of {what} expects {}, found {}",
                prop.ty.describe(),
                describe_value(value)
            ),
        );
        None
    };
    match prop.ty {
        Ty::Str => text(value, name, what, cx).map(Typed::Str),
        Ty::Dir | Ty::File => text(value, name, what, cx).map(Typed::Path),
        Ty::Date => {
            let date = text(value, name, what, cx)?;
            if let Text::Lit(lit) = &date
                && !is_date(&lit.value())
            {
                cx.error(
                    lit.span(),
                    format!("`{name}` of {what} must be a date, `YYYY-MM-DD`"),
                );
            }
            Some(Typed::Str(date))
        }
        Ty::Bool => match value {
            Value::Lit(Lit::Bool(b)) => Some(Typed::Bool(Flag::Lit(b))),
            Value::Ident(_) | Value::Expr(_) => {
                Some(Typed::Bool(Flag::Expr(value.to_tokens(), value.span())))
            }
            other => wrong(&other),
        },
        Ty::U64 => num(value, prop, what, cx).map(Typed::U64),
        Ty::StrList => match value {
            Value::List { items, .. } => Some(Typed::StrList(
                items
                    .into_iter()
                    .filter_map(|v| text(v, name, what, cx))
                    .collect(),
            )),
            other => wrong(&other),
        },
        Ty::Secret => match value {
            Value::SecretCall { func, args, span } => {
                secret(func, args, span, cx).map(Typed::Secret)
            }
            Value::Lit(Lit::Str(s)) => {
                cx.error(
                    s.span(),
                    format!(
                        "a secret is never written in source code: read `{name}` of {what} when deploying with `secret_env(\"VAR\")` or `secret_file(\"path\")`"
                    ),
                );
                None
            }
            other => wrong(&other),
        },
        Ty::Ref(_) => match value {
            Value::Ident(i) => Some(Typed::Ref(i)),
            other => wrong(&other),
        },
        Ty::Records(table) => match value {
            Value::List { items, .. } => Some(Typed::Records(
                items
                    .into_iter()
                    .filter_map(|item| record(item, table, name, what, cx))
                    .collect(),
            )),
            other => wrong(&other),
        },
        Ty::KvValues => match value {
            Value::List { items, .. } => Some(Typed::KvValues(
                items
                    .into_iter()
                    .filter_map(|item| kv_item(item, what, cx))
                    .collect(),
            )),
            other => wrong(&other),
        },
        Ty::Bindings => match value {
            Value::Object { fields, .. } => Some(Typed::Bindings(
                fields
                    .into_iter()
                    .filter_map(|f| binding(f, what, cx))
                    .collect(),
            )),
            other => wrong(&other),
        },
        Ty::BindingTypes => match value {
            Value::List { items, .. } => Some(Typed::BindingTypes(
                items
                    .into_iter()
                    .filter_map(|item| match item {
                        Value::Ident(i) => Some((i.to_string(), i.span())),
                        Value::Lit(Lit::Str(s)) => Some((s.value(), s.span())),
                        other => {
                            cx.error(
                                other.span(),
                                format!(
                                    "`{name}` lists binding types such as `kv_namespace`, found {}",
                                    describe_value(&other)
                                ),
                            );
                            None
                        }
                    })
                    .collect(),
            )),
            other => wrong(&other),
        },
        Ty::KvPayload => match value {
            Value::Json(m) => Some(Typed::KvPayload(Payload::Json(json_val(&m)))),
            Value::Lit(Lit::Str(s)) => Some(Typed::KvPayload(Payload::Text(Text::Lit(s)))),
            Value::Ident(_) | Value::Expr(_) => Some(Typed::KvPayload(Payload::Text(Text::Expr(
                value.to_tokens(),
                value.span(),
            )))),
            other => wrong(&other),
        },
        Ty::Inline => match value {
            Value::Ident(_) | Value::Expr(_) => {
                Some(Typed::Inline(value.to_tokens(), value.span()))
            }
            other => wrong(&other),
        },
        Ty::Json => match value {
            Value::Json(m) => Some(Typed::Json(json_val(&m))),
            Value::Ident(_) | Value::Expr(_) => Some(Typed::Json(JsonVal {
                inner: value.to_tokens(),
                span: value.span(),
                value: None,
            })),
            other => wrong(&other),
        },
    }
}

fn text(value: Value, name: &str, what: &str, cx: &Ctxt) -> Option<Text> {
    match value {
        Value::Lit(Lit::Str(s)) => Some(Text::Lit(s)),
        Value::Ident(_) | Value::Expr(_) => Some(Text::Expr(value.to_tokens(), value.span())),
        other => {
            cx.error(
                other.span(),
                format!(
                    "`{name}` of {what} expects a string, found {}",
                    describe_value(&other)
                ),
            );
            None
        }
    }
}

fn num(value: Value, prop: &kinds::Prop, what: &str, cx: &Ctxt) -> Option<Num> {
    match value {
        Value::Lit(Lit::Int(i)) => match i.base10_parse::<u64>() {
            Ok(n) => Some(Num::Lit(n, i.span())),
            Err(_) => {
                cx.error(
                    i.span(),
                    format!("`{}` of {what} does not fit in a u64", prop.name),
                );
                None
            }
        },
        Value::Ident(_) | Value::Expr(_) => Some(Num::Expr(value.to_tokens(), value.span())),
        other => {
            cx.error(
                other.span(),
                format!(
                    "`{}` of {what} expects {}, found {}",
                    prop.name,
                    prop.ty.describe(),
                    describe_value(&other)
                ),
            );
            None
        }
    }
}

fn secret(func: Ident, args: Vec<syn::Expr>, span: Span, cx: &Ctxt) -> Option<SecretVal> {
    let file = func == "secret_file";
    let [arg] = <[syn::Expr; 1]>::try_from(args).ok().or_else(|| {
        cx.error(
            span,
            format!(
                "`{func}` takes one argument: {}",
                if file {
                    "`secret_file(\"path\")`"
                } else {
                    "`secret_env(\"VAR\")`"
                }
            ),
        );
        None
    })?;
    let arg = match arg {
        syn::Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => {
            if s.value().is_empty() {
                cx.error(s.span(), format!("`{func}` needs a non-empty name"));
                return None;
            }
            Text::Lit(s)
        }
        other => {
            let span = syn::spanned::Spanned::span(&other);
            Text::Expr(other.into_token_stream(), span)
        }
    };
    Some(SecretVal { file, arg })
}

fn json_val(mac: &syn::Macro) -> JsonVal {
    JsonVal {
        inner: mac.tokens.clone(),
        span: syn::spanned::Spanned::span(&mac.path),
        value: json::evaluate(mac.tokens.clone()),
    }
}

/// One entry of a list of records: `{ property: value, ... }` with its table's properties, the
/// required ones given.
fn record(
    value: Value,
    table: &'static kinds::Records,
    list: &str,
    what: &str,
    cx: &Ctxt,
) -> Option<RecordVal> {
    let Value::Object { span, fields } = value else {
        cx.error(
            value.span(),
            format!(
                "each entry of `{list}` of {what} is {} `{{ ... }}`, found {}",
                table.what,
                describe_value(&value)
            ),
        );
        return None;
    };
    let item_what = format!("{} of {what}", table.what);
    let (props, given) = build_props(table.props, fields, &item_what, cx);
    for p in table.props.iter().filter(|p| p.required) {
        if !given.contains(&p.name) {
            cx.error(
                span,
                format!(
                    "{item_what} is missing the required property `{}` ({})",
                    p.name, p.doc
                ),
            );
        }
    }
    Some(RecordVal { table, span, props })
}

/// The checks of one value against its row: an enumeration (each item of a list) and a range.
fn check_value(value: &Typed, prop: &kinds::Prop, what: &str, cx: &Ctxt) {
    if let Some(allowed) = prop.allowed {
        let literals: Vec<&LitStr> = match value {
            Typed::Str(Text::Lit(lit)) => vec![lit],
            Typed::StrList(items) => items
                .iter()
                .filter_map(|t| match t {
                    Text::Lit(lit) => Some(lit),
                    Text::Expr(..) => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for lit in literals {
            let v = lit.value();
            if !allowed.contains(&v.as_str()) {
                cx.error(
                    lit.span(),
                    format!(
                        "`{}` of {what} cannot be {v:?}{}; expected one of {}",
                        prop.name,
                        suggest::did_you_mean(&v, allowed.iter().copied()),
                        allowed
                            .iter()
                            .map(|a| format!("\"{a}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
    }
    if let (Some((low, high)), Typed::U64(Num::Lit(n, span))) = (prop.range, value)
        && !(low..=high).contains(n)
    {
        cx.error(
            *span,
            format!(
                "`{}` of {what} is {n}: Cloudflare accepts {low} to {high} ({})",
                prop.name, prop.doc
            ),
        );
    }
}

fn kv_item(value: Value, what: &str, cx: &Ctxt) -> Option<KvItem> {
    let Value::Object { span, fields } = value else {
        cx.error(
            value.span(),
            format!(
                "each entry of `values` of {what} is `{{ key: \"...\", value: ... }}`, found {}",
                describe_value(&value)
            ),
        );
        return None;
    };
    let item_what = format!("a value of {what}");
    let (props, given) = build_props(kinds::KV_VALUE.props, fields, &item_what, cx);
    let mut item = KvItem {
        key: None,
        value: None,
        expiration: None,
        expiration_ttl: None,
        metadata: None,
    };
    for p in props {
        match (p.def.name, p.value) {
            ("key", Typed::Str(t)) => item.key = Some(t),
            ("value", Typed::KvPayload(v)) => item.value = Some(v),
            ("expiration", Typed::U64(n)) => item.expiration = Some(n),
            ("expiration_ttl", Typed::U64(n)) => item.expiration_ttl = Some(n),
            ("metadata", Typed::Json(j)) => item.metadata = Some(j),
            _ => unreachable!("KV_VALUE rows and their types agree"),
        }
    }
    for p in kinds::KV_VALUE.props.iter().filter(|p| p.required) {
        if !given.contains(&p.name) {
            cx.error(
                span,
                format!(
                    "{item_what} is missing the required property `{}` ({})",
                    p.name, p.doc
                ),
            );
        }
    }
    Some(item)
}

fn binding(field: Field, what: &str, cx: &Ctxt) -> Option<BindingDecl> {
    let name = field.key.text();
    let name_span = field.key.span();
    let value = match field.value {
        Value::Ident(i) => BindingVal::Ref(i),
        Value::Lit(Lit::Str(s)) => BindingVal::PlainText(s),
        Value::Lit(lit @ (Lit::Bool(_) | Lit::Int(_) | Lit::Float(_))) => {
            let inner = lit.to_token_stream();
            BindingVal::Json(JsonVal {
                value: json::evaluate(inner.clone()),
                span: lit.span(),
                inner,
            })
        }
        Value::Json(m) => BindingVal::Json(json_val(&m)),
        Value::SecretCall { func, args, span } => BindingVal::Secret(secret(func, args, span, cx)?),
        Value::Expr(Expr::MethodCall(call))
            if call.method == "entrypoint"
                && receiver_name(&call.receiver).is_some_and(|r| !is_constant_like(r)) =>
        {
            entrypoint(call, &name, cx)?
        }
        value @ Value::Expr(_) => BindingVal::Expr(value.to_tokens(), value.span()),
        other => {
            cx.error(
                other.span(),
                format!(
                    "binding `{name}` of {what} must be a resource, a string, a bool, a number, `json!(...)`, `secret_env(..)`/`secret_file(..)` or a Rust expression; found {}",
                    describe_value(&other)
                ),
            );
            return None;
        }
    };
    Some(BindingDecl {
        name,
        name_span,
        value,
    })
}

/// How a value reads in "found ..." messages.
fn describe_value(value: &Value) -> &'static str {
    match value {
        Value::Lit(Lit::Str(_)) => "a string literal",
        Value::Lit(Lit::Bool(_)) => "a bool literal",
        Value::Lit(Lit::Int(_)) => "an integer literal",
        Value::Lit(Lit::Float(_)) => "a float literal",
        Value::Lit(_) => "a literal",
        Value::Json(_) => "`json!(...)`",
        Value::SecretCall { .. } => "a secret",
        Value::Ident(_) => "a name",
        Value::List { .. } => "a list",
        Value::Object { .. } => "a `{ ... }` block",
        Value::Expr(_) => "an expression",
    }
}

/// Whether `s` is a date as Cloudflare writes it, `YYYY-MM-DD`, with a month and day in range.
fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    if parts.len() != 3 || !digits(parts[0], 4) || !digits(parts[1], 2) || !digits(parts[2], 2) {
        return false;
    }
    let month: u32 = parts[1].parse().unwrap_or(0);
    let day: u32 = parts[2].parse().unwrap_or(0);
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_checked_by_shape_and_range() {
        assert!(is_date("2025-04-01"));
        assert!(!is_date("2025-4-1"));
        assert!(!is_date("2025-13-01"));
        assert!(!is_date("yesterday"));
    }
}
