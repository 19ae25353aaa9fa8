//! The secrets binary, end to end against an emulator started here: a Secret is created in the
//! existing default store, a SecretRef binds a secret made outside the stack, no value shows up in
//! output or state, a redeploy sends nothing, and destroy keeps what the stack did not create.

use athanor_test_support::Fixture;
use reqwest::Method;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_secrets");
const MY_SECRET: &str = "my-secret-value-5b1f0c";
const TOKEN: &str = "worker-token-9e27aa";
const PASSWORD: &str = "state password";

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_bound_never_shown_and_foreign_ones_are_kept() {
    let fx = Fixture::start().await;
    // The store and API_KEY exist before the stack, as the guide assumes.
    let store = fx
        .result(
            Method::POST,
            "/secrets_store/stores",
            Some(json!({ "name": "default_secrets_store" })),
        )
        .await;
    let store_id = store["id"].as_str().unwrap().to_owned();
    let secrets_path = format!("/secrets_store/stores/{store_id}/secrets");
    fx.result(
        Method::POST,
        &secrets_path,
        Some(json!([{ "name": "API_KEY", "value": "made-elsewhere", "scopes": ["workers"] }])),
    )
    .await;

    let env = [
        ("MY_SECRET", MY_SECRET),
        ("TOKEN", TOKEN),
        ("ATHANOR_PASSWORD", PASSWORD),
    ];
    let out = fx.run(BIN, &["deploy"], &env).await;

    let names = |list: serde_json::Value| -> Vec<String> {
        let mut names: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort_unstable();
        names
    };
    assert_eq!(names(fx.get(&secrets_path).await), ["API_KEY", "my_secret"]);
    let script = fx.get("/workers/scripts").await;
    let script_name = script[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        fx.binding_names(&format!("/workers/scripts/{script_name}"))
            .await,
        ["API_KEY", "MY_SECRET", "TOKEN"]
    );

    // No value in what the binary printed, nor in any state file.
    let mut seen = String::from_utf8_lossy(&out.stdout).into_owned();
    seen.push_str(&String::from_utf8_lossy(&out.stderr));
    for file in files_under(&fx.state_dir()) {
        seen.push_str(&String::from_utf8_lossy(&std::fs::read(file).unwrap()));
    }
    for value in [MY_SECRET, TOKEN, PASSWORD] {
        assert!(!seen.contains(value), "{value:?} leaked");
    }

    // Nothing changed: not a single request.
    fx.emu.reset_stats();
    fx.run(BIN, &["deploy"], &env).await;
    assert_eq!(fx.emu.stats().total, 0, "{:?}", fx.emu.stats().by_route);

    // Destroy removes the stack's secret and Worker, and keeps the store and API_KEY.
    fx.run(BIN, &["destroy", "--yes"], &env).await;
    assert_eq!(names(fx.get(&secrets_path).await), ["API_KEY"]);
    assert!(
        fx.get("/workers/scripts")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// The value `.ci/test` gives a secret's variable while everything builds: `None` when the build
/// had none, which fails the scans below unless `ATHANOR_SKIP_BUILD_SECRET_SCAN` says to skip
/// them (with no value at build time they could not fail).
fn built_with(variable: &str, value: Option<&'static str>) -> Option<&'static str> {
    if value.is_none() && std::env::var_os("ATHANOR_SKIP_BUILD_SECRET_SCAN").is_none() {
        panic!(
            "build the tests with {variable} set (as .ci/test does) so that this scan can fail, or set ATHANOR_SKIP_BUILD_SECRET_SCAN=1 to skip it"
        );
    }
    value
}

#[test]
fn secret_values_set_while_the_stack_was_built_are_not_in_its_binary() {
    let binary = std::fs::read(BIN).unwrap();
    for (variable, value) in [
        ("MY_SECRET", option_env!("MY_SECRET")),
        ("TOKEN", option_env!("TOKEN")),
    ] {
        let Some(value) = built_with(variable, value) else {
            continue;
        };
        assert!(
            value.len() >= 8,
            "{variable} must be long enough to be found"
        );
        assert!(
            !binary.windows(value.len()).any(|w| w == value.as_bytes()),
            "the value of {variable} at build time is in the binary"
        );
    }
}
