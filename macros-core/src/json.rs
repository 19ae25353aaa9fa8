//! The value of a `json!(...)` at compile time, when it holds no Rust expression.
//!
//! Known values drive the checks on sizes (KV metadata), the literal types of the TypeScript
//! `Env` and the Rust type of a JSON binding's accessor. A `json!` that interpolates Rust values
//! has no compile-time value; it is then only checked by rustc.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use serde_json::{Map, Number, Value};

/// The JSON value the tokens of a `json!` spell, or `None` when they hold a Rust expression.
pub(crate) fn evaluate(tokens: TokenStream) -> Option<Value> {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let (value, rest) = value(&trees)?;
    rest.is_empty().then_some(value)
}

/// One value at the start of `trees`, and what follows it.
fn value(trees: &[TokenTree]) -> Option<(Value, &[TokenTree])> {
    let (first, rest) = trees.split_first()?;
    match first {
        TokenTree::Group(g) if g.delimiter() == Delimiter::None => {
            let inner: Vec<TokenTree> = g.stream().into_iter().collect();
            Some((evaluate_trees(&inner)?, rest))
        }
        TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => {
            let inner: Vec<TokenTree> = g.stream().into_iter().collect();
            Some((object(&inner)?, rest))
        }
        TokenTree::Group(g) if g.delimiter() == Delimiter::Bracket => {
            let inner: Vec<TokenTree> = g.stream().into_iter().collect();
            Some((array(&inner)?, rest))
        }
        TokenTree::Ident(i) => {
            let v = match i.to_string().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => return None,
            };
            Some((v, rest))
        }
        TokenTree::Punct(p) if p.as_char() == '-' => {
            let (lit, rest) = rest.split_first()?;
            let TokenTree::Literal(lit) = lit else {
                return None;
            };
            Some((number(&format!("-{lit}"))?, rest))
        }
        TokenTree::Literal(lit) => Some((literal(lit)?, rest)),
        _ => None,
    }
}

fn evaluate_trees(trees: &[TokenTree]) -> Option<Value> {
    let (v, rest) = value(trees)?;
    rest.is_empty().then_some(v)
}

fn literal(lit: &proc_macro2::Literal) -> Option<Value> {
    let parsed = syn::Lit::new(lit.clone());
    match parsed {
        syn::Lit::Str(s) => Some(Value::String(s.value())),
        syn::Lit::Int(_) | syn::Lit::Float(_) => number(&lit.to_string()),
        syn::Lit::Bool(b) => Some(Value::Bool(b.value)),
        _ => None,
    }
}

fn number(text: &str) -> Option<Value> {
    let text = text.replace('_', "");
    if let Ok(i) = text.parse::<i64>() {
        return Some(Value::Number(i.into()));
    }
    if let Ok(u) = text.parse::<u64>() {
        return Some(Value::Number(u.into()));
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

/// Splits at top-level commas (a trailing comma allowed).
fn split_commas(trees: &[TokenTree]) -> Vec<&[TokenTree]> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, t) in trees.iter().enumerate() {
        if matches!(t, TokenTree::Punct(p) if p.as_char() == ',') {
            parts.push(&trees[start..i]);
            start = i + 1;
        }
    }
    if start < trees.len() {
        parts.push(&trees[start..]);
    }
    parts
}

fn array(trees: &[TokenTree]) -> Option<Value> {
    split_commas(trees)
        .into_iter()
        .map(evaluate_trees)
        .collect::<Option<Vec<_>>>()
        .map(Value::Array)
}

fn object(trees: &[TokenTree]) -> Option<Value> {
    let mut map = Map::new();
    for entry in split_commas(trees) {
        let (key, rest) = entry.split_first()?;
        let TokenTree::Literal(key) = key else {
            return None;
        };
        let syn::Lit::Str(key) = syn::Lit::new(key.clone()) else {
            return None;
        };
        let (colon, rest) = rest.split_first()?;
        if !matches!(colon, TokenTree::Punct(p) if p.as_char() == ':') {
            return None;
        }
        map.insert(key.value(), evaluate_trees(rest)?);
    }
    Some(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn pure_json_is_known_at_compile_time() {
        let v = evaluate(quote!({ "userId": "user_456", "n": -3, "f": 1.5, "ok": [true, null] }));
        assert_eq!(
            v,
            Some(
                serde_json::json!({ "userId": "user_456", "n": -3, "f": 1.5, "ok": [true, null] })
            )
        );
    }

    #[test]
    fn interpolated_rust_has_no_compile_time_value() {
        assert_eq!(evaluate(quote!({ "n": count })), None);
        assert_eq!(evaluate(quote!({ "n": 1 + 2 })), None);
    }
}
