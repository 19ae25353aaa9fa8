//! What `infra!` accepts and what it refuses: every file under `ui/pass` compiles and runs its
//! assertions on the generated stack; every file under `ui/fail` fails with the diagnostics of
//! its `.stderr`. Bless changed diagnostics with `TRYBUILD=overwrite cargo test --test ui`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
