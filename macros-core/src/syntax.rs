//! Tokens -> the raw syntax tree of a declaration block, spans kept.
//!
//! This stage knows the shape of the language (`app "x";`, `let NAME = Kind("id") { ... };`,
//! nested `{ ... }` blocks and `[ ... ]` lists) and nothing about kinds or properties. A syntax
//! error is recorded and parsing resumes at the next `,` or `;`, so one pass reports them all.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, LitStr, Token, braced, bracketed, parenthesized, token};

use crate::ctxt::Ctxt;

/// A whole `infra!` block.
pub(crate) struct Block {
    /// `app "name";`, if given.
    pub app: Option<LitStr>,
    /// `tenant(params);`, if given: the block is a tenant template.
    pub tenant: Option<TenantDecl>,
    /// The `let` declarations, in order.
    pub decls: Vec<RawDecl>,
}

/// `tenant(plan: &str, ...);`: the block declares one tenant's stack, built at run time by a
/// generated `fn tenant(tenant: &TenantId, plan: &str, ...) -> Stack`.
pub(crate) struct TenantDecl {
    /// The parameters after the tenant id, as Rust writes them.
    pub params: Vec<syn::PatType>,
}

/// `let NAME = Kind("id") { fields };`
pub(crate) struct RawDecl {
    /// The `let` name other declarations refer to.
    pub name: Ident,
    /// The kind, as written.
    pub kind: Ident,
    /// The logical id argument.
    pub id: Expr,
    /// The properties.
    pub fields: Vec<Field>,
    /// The `{ ... }` of the properties, for "missing property" errors.
    pub brace: Span,
}

/// `key: value`
pub(crate) struct Field {
    /// The key.
    pub key: Key,
    /// The value.
    pub value: Value,
}

/// A field key: an identifier, or a string literal (accepted so that a binding name that is not
/// an identifier gets a precise diagnostic instead of a syntax error).
pub(crate) enum Key {
    Ident(Ident),
    Str(LitStr),
}

impl Key {
    /// The key's text.
    pub(crate) fn text(&self) -> String {
        match self {
            Key::Ident(i) => i.unraw().to_string(),
            Key::Str(s) => s.value(),
        }
    }

    /// Where the key is.
    pub(crate) fn span(&self) -> Span {
        match self {
            Key::Ident(i) => i.span(),
            Key::Str(s) => s.span(),
        }
    }
}

/// A value, classified by its shape only.
pub(crate) enum Value {
    /// A literal: string, bool, integer, float.
    Lit(Lit),
    /// `json!(...)`.
    Json(syn::Macro),
    /// `secret_env(..)` or `secret_file(..)`.
    SecretCall {
        /// `secret_env` or `secret_file`.
        func: Ident,
        /// The arguments.
        args: Vec<Expr>,
        /// The whole call.
        span: Span,
    },
    /// A bare identifier: a resource reference, or a constant.
    Ident(Ident),
    /// `[ ... ]`.
    List { span: Span, items: Vec<Value> },
    /// `{ ... }`.
    Object { span: Span, fields: Vec<Field> },
    /// Any other Rust expression.
    Expr(Expr),
}

impl Value {
    /// Where the value is.
    pub(crate) fn span(&self) -> Span {
        match self {
            Value::Lit(l) => l.span(),
            Value::Json(m) => m.path.span(),
            Value::SecretCall { span, .. } => *span,
            Value::Ident(i) => i.span(),
            Value::List { span, .. } | Value::Object { span, .. } => *span,
            Value::Expr(e) => e.span(),
        }
    }

    /// The value as a Rust expression, for the positions that take one.
    pub(crate) fn to_tokens(&self) -> TokenStream {
        use quote::ToTokens;
        match self {
            Value::Lit(l) => l.to_token_stream(),
            Value::Json(m) => m.to_token_stream(),
            Value::SecretCall { func, args, .. } => quote::quote!(#func(#(#args),*)),
            Value::Ident(i) => i.to_token_stream(),
            Value::List { items, .. } => {
                let items = items.iter().map(Value::to_tokens);
                quote::quote!([#(#items),*])
            }
            Value::Object { .. } => quote::quote!(()),
            Value::Expr(e) => e.to_token_stream(),
        }
    }
}

/// Parses a block, recording every syntax error in `cx`.
pub(crate) fn parse_block(tokens: TokenStream, cx: &Ctxt) -> Block {
    let parser = |input: ParseStream| {
        let mut block = Block {
            app: None,
            tenant: None,
            decls: Vec::new(),
        };
        while !input.is_empty() {
            if let Err(e) = parse_statement(input, cx, &mut block) {
                cx.push(e);
                skip_past(input, |i| i.peek(Token![;]));
            }
        }
        Ok(block)
    };
    match parser.parse2(tokens) {
        Ok(block) => block,
        Err(e) => {
            cx.push(e);
            Block {
                app: None,
                tenant: None,
                decls: Vec::new(),
            }
        }
    }
}

fn parse_statement(input: ParseStream, cx: &Ctxt, block: &mut Block) -> syn::Result<()> {
    if input.peek(Token![let]) {
        let decl = parse_decl(input, cx)?;
        block.decls.push(decl);
        return Ok(());
    }
    let lookahead = input.lookahead1();
    if lookahead.peek(Ident::peek_any) {
        let word: Ident = input.call(Ident::parse_any)?;
        if word == "app" {
            let name: LitStr = input.parse().map_err(|e| {
                syn::Error::new(e.span(), "expected the application name: `app \"my-app\";`")
            })?;
            input.parse::<Token![;]>()?;
            if block.app.is_some() {
                cx.error(
                    name.span(),
                    "`app` is given twice; keep one `app \"name\";`",
                );
            }
            block.app = Some(name);
            return Ok(());
        }
        if word == "tenant" {
            let tenant = parse_tenant(input)?;
            if block.tenant.is_some() {
                cx.error(
                    word.span(),
                    "`tenant(...)` is given twice; a block is one tenant template",
                );
            }
            block.tenant = Some(tenant);
            return Ok(());
        }
        return Err(syn::Error::new(
            word.span(),
            format!(
                "expected `let NAME = Kind(\"id\") {{ ... }};`, `app \"name\";` or `tenant(...);`, found `{word}`"
            ),
        ));
    }
    Err(syn::Error::new(
        input.span(),
        "expected `let NAME = Kind(\"id\") { ... };` or `app \"name\";`",
    ))
}

/// `(name: Type, ...);` after `tenant`.
fn parse_tenant(input: ParseStream) -> syn::Result<TenantDecl> {
    let args;
    parenthesized!(args in input);
    let params = syn::punctuated::Punctuated::<syn::PatType, Token![,]>::parse_terminated_with(
        &args,
        |p| {
            let pat = syn::Pat::parse_single(p)?;
            let colon: Token![:] = p.parse()?;
            let ty: syn::Type = p.parse()?;
            Ok(syn::PatType {
                attrs: Vec::new(),
                pat: Box::new(pat),
                colon_token: colon,
                ty: Box::new(ty),
            })
        },
    )
    .map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected the template's parameters, as a function takes them: `tenant(plan: &str, code: InlineCode);`",
        )
    })?;
    input
        .parse::<Token![;]>()
        .map_err(|e| syn::Error::new(e.span(), "expected `;` after `tenant(...)`"))?;
    Ok(TenantDecl {
        params: params.into_iter().collect(),
    })
}

fn parse_decl(input: ParseStream, cx: &Ctxt) -> syn::Result<RawDecl> {
    input.parse::<Token![let]>()?;
    let name: Ident = input.parse()?;
    input.parse::<Token![=]>()?;
    let kind: Ident = input.parse()?;
    let args;
    parenthesized!(args in input);
    let id: Expr = args.parse()?;
    args.parse::<Option<Token![,]>>()?;
    if !args.is_empty() {
        return Err(args.error("a resource takes one logical id: `Kind(\"id\")`"));
    }
    let (fields, brace) = if input.peek(token::Brace) {
        let content;
        let brace = braced!(content in input);
        (parse_fields(&content, cx), brace.span.join())
    } else {
        (Vec::new(), kind.span())
    };
    input
        .parse::<Token![;]>()
        .map_err(|e| syn::Error::new(e.span(), "expected `;` after the declaration"))?;
    Ok(RawDecl {
        name,
        kind,
        id,
        fields,
        brace,
    })
}

/// `key: value, ...` with recovery at each comma.
fn parse_fields(input: ParseStream, cx: &Ctxt) -> Vec<Field> {
    let mut fields = Vec::new();
    while !input.is_empty() {
        match parse_field(input, cx) {
            Ok(f) => fields.push(f),
            Err(e) => {
                cx.push(e);
                skip_past(input, |i| i.peek(Token![,]));
                continue;
            }
        }
        if input.is_empty() {
            break;
        }
        if let Err(e) = input.parse::<Token![,]>() {
            cx.push(syn::Error::new(e.span(), "expected `,` between properties"));
            skip_past(input, |i| i.peek(Token![,]));
        }
    }
    fields
}

fn parse_field(input: ParseStream, cx: &Ctxt) -> syn::Result<Field> {
    let key =
        if input.peek(LitStr) {
            Key::Str(input.parse()?)
        } else {
            Key::Ident(input.call(Ident::parse_any).map_err(|e| {
                syn::Error::new(e.span(), "expected a property name: `name: value`")
            })?)
        };
    input
        .parse::<Token![:]>()
        .map_err(|e| syn::Error::new(e.span(), format!("expected `:` after `{}`", key.text())))?;
    let value = parse_value(input, cx)?;
    Ok(Field { key, value })
}

/// One value: a `{ ... }` block, a `[ ... ]` list, or a Rust expression.
fn parse_value(input: ParseStream, cx: &Ctxt) -> syn::Result<Value> {
    if input.peek(token::Brace) {
        let content;
        let brace = braced!(content in input);
        let fields = parse_fields(&content, cx);
        return Ok(Value::Object {
            span: brace.span.join(),
            fields,
        });
    }
    if input.peek(token::Bracket) {
        let content;
        let bracket = bracketed!(content in input);
        let mut items = Vec::new();
        while !content.is_empty() {
            match parse_value(&content, cx) {
                Ok(v) => items.push(v),
                Err(e) => {
                    cx.push(e);
                    skip_past(&content, |i| i.peek(Token![,]));
                }
            }
            if !content.is_empty() {
                content.parse::<Token![,]>()?;
            }
        }
        return Ok(Value::List {
            span: bracket.span.join(),
            items,
        });
    }
    // Fast paths for the common single-token values (a literal, a reference), which need none
    // of the expression parser.
    if ends_after_one_token(input) {
        if input.peek(Lit) {
            return Ok(Value::Lit(input.parse()?));
        }
        if input.peek(Ident) {
            return Ok(Value::Ident(input.parse()?));
        }
    }
    let expr: Expr = input.parse()?;
    Ok(classify(expr))
}

/// Whether the value at the cursor is one token: the next one is a `,` or the end.
fn ends_after_one_token(input: ParseStream) -> bool {
    if input.peek2(Token![,]) {
        return true;
    }
    let fork = input.fork();
    fork.parse::<TokenTree>().is_ok() && fork.is_empty()
}

/// Sorts an expression into the shapes the language gives a meaning to.
fn classify(expr: Expr) -> Value {
    match expr {
        Expr::Group(g) if g.attrs.is_empty() => classify(*g.expr),
        Expr::Lit(l) if l.attrs.is_empty() => Value::Lit(l.lit),
        Expr::Macro(m) if m.attrs.is_empty() && m.mac.path.is_ident("json") => Value::Json(m.mac),
        Expr::Path(p)
            if p.attrs.is_empty() && p.qself.is_none() && p.path.get_ident().is_some() =>
        {
            Value::Ident(p.path.get_ident().cloned().expect("checked above"))
        }
        Expr::Call(c) if c.attrs.is_empty() => {
            let secret_fn = match &*c.func {
                Expr::Path(p) => p
                    .path
                    .get_ident()
                    .filter(|i| *i == "secret_env" || *i == "secret_file")
                    .cloned(),
                _ => None,
            };
            match secret_fn {
                Some(func) => {
                    let span = c.span();
                    Value::SecretCall {
                        func,
                        args: c.args.into_iter().collect(),
                        span,
                    }
                }
                None => Value::Expr(Expr::Call(c)),
            }
        }
        other => Value::Expr(other),
    }
}

/// Skips tokens until `stop` matches (then consumes that token too) or the stream ends.
fn skip_past(input: ParseStream, stop: impl Fn(ParseStream) -> bool) {
    while !input.is_empty() && !stop(input) {
        if input.parse::<TokenTree>().is_err() {
            return;
        }
    }
    if !input.is_empty() {
        let _ = input.parse::<TokenTree>();
    }
}
