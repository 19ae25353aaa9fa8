//! Secrets in a custom Secrets Store, from the "Secret" guide, in Rust.
//!
//! The store `production-secrets` is adopted if it exists; `my-secret` is set in it from
//! `MY_SECRET` (or from the file `./secrets/signing-key.pem`, for `SIGNING_KEY`), and `API_KEY`,
//! which must already exist in it, is bound by name.

use std::process::ExitCode;

use athanor::infra;

infra! {
    app "secrets-custom-store";

    let store = SecretsStore("my-store") { name: "production-secrets", adopt: true };

    let my_secret = Secret("my-secret") { store: store, value: secret_env("MY_SECRET") };
    let signing_key = Secret("signing-key") {
        store: store,
        name: "SIGNING_KEY",
        value: secret_file("./secrets/signing-key.pem"),
        scopes: ["workers"],
    };
    let api_key_ref = SecretRef("api-key") { name: "API_KEY", store: store };

    let worker = Worker("worker") {
        name: "secrets-custom-store",
        entrypoint: "./src/worker.ts",
        bindings: {
            MY_SECRET: my_secret,
            SIGNING_KEY: signing_key,
            API_KEY: api_key_ref,
        },
    };
}

fn main() -> ExitCode {
    athanor::cli::run(stack())
}
