//! The expansion snapshot: the quickstart example's `infra!` block, expanded and pretty-printed,
//! compared with the checked-in `macros-core/snapshots/quickstart.expanded.rs`.
//!
//! A change to the generated code shows up here as a diff to review. Bless an intended change
//! with `ATHANOR_BLESS=1 cargo test -p athanor-macros-core --lib snapshot`.

use std::path::Path;

use crate::expand;

fn infra_tokens(source: &str) -> proc_macro2::TokenStream {
    let file = syn::parse_file(source).expect("the example parses as Rust");
    file.items
        .into_iter()
        .find_map(|item| match item {
            syn::Item::Macro(m) if m.mac.path.is_ident("infra") => Some(m.mac.tokens),
            _ => None,
        })
        .expect("the example has an `infra!` block")
}

#[test]
fn quickstart_expansion_matches_the_snapshot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(root.join("../examples/quickstart/src/lib.rs"))
        .expect("the quickstart example exists");
    let expanded = expand::infra(infra_tokens(&source));
    let file: syn::File = syn::parse2(expanded).expect("the expansion is valid Rust");
    let actual = prettyplease::unparse(&file);
    assert!(
        !actual.contains("compile_error"),
        "the quickstart must expand without errors:\n{actual}"
    );
    let snapshot = root.join("snapshots/quickstart.expanded.rs");
    if std::env::var_os("ATHANOR_BLESS").is_some() {
        std::fs::create_dir_all(snapshot.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(&snapshot, &actual).expect("write the snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "the expansion differs from {} from line {}:\n  expected: {:?}\n  actual:   {:?}\nreview it, then bless with ATHANOR_BLESS=1",
            snapshot.display(),
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

#[test]
fn secret_values_in_the_environment_are_not_in_the_expansion() {
    // `.ci/test` sets the secrets example's variables for the whole run; a macro that read them
    // while expanding would put them in the code.
    let values: Vec<String> = ["MY_SECRET", "TOKEN"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .collect();
    if values.is_empty() {
        assert!(
            std::env::var_os("ATHANOR_SKIP_BUILD_SECRET_SCAN").is_some(),
            "run with MY_SECRET and TOKEN set (as .ci/test does) so that this scan can fail, or set ATHANOR_SKIP_BUILD_SECRET_SCAN=1 to skip it"
        );
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(root.join("../examples/secrets/src/main.rs"))
        .expect("the secrets example exists");
    let expanded = expand::infra(infra_tokens(&source)).to_string();
    assert!(
        expanded.contains("MY_SECRET"),
        "the example reads MY_SECRET"
    );
    for value in values {
        assert!(
            !expanded.contains(&value),
            "a secret value is in the expansion"
        );
    }
}

#[test]
fn a_block_with_errors_still_emits_stack_and_every_env() {
    let tokens: proc_macro2::TokenStream = quote::quote! {
        let kv = KvNamespace("kv") { titel: "x" };
        let api = Worker("api") { entrypoint: "./w.js", bindings: { KV: kv, OTHER: nope } };
    };
    let out = expand::infra(tokens).to_string();
    assert!(out.contains("compile_error"));
    assert!(out.contains("unknown property `titel`"));
    assert!(out.contains("unknown resource `nope`"));
    assert!(out.contains("pub fn stack"));
    assert!(out.contains("pub mod api"));
    assert!(
        out.contains("kv \"KV\""),
        "the accessor of a valid binding is kept"
    );
    assert!(
        !out.contains("\"OTHER\""),
        "no accessor for an unknown target"
    );
}
