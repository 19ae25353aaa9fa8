//! Secrets in the default Secrets Store, from the "Secret" guide, in Rust.
//!
//! `MY_SECRET=... TOKEN=... ATHANOR_PASSWORD=... cargo run -p secrets -- deploy`. The values are
//! read when deploying, never at compile time: the binary holds only where each secret comes
//! from (state keeps them encrypted with `ATHANOR_PASSWORD`). `API_KEY` must
//! already exist in the default store (a `SecretRef` never creates or changes a secret).
//! The custom-store variant is the `custom-store` binary (`cargo run -p secrets --bin
//! custom-store`): during the beta, Cloudflare allows one store per account, so the two are
//! separate stacks.

use std::process::ExitCode;

use athanor::infra;

infra! {
    app "secrets";

    // A secret whose value athanor sets; the store `default_secrets_store` is created if missing.
    let my_secret = Secret("my-secret") { value: secret_env("MY_SECRET") };

    // An existing secret, bound by name without creating or updating its value.
    let api_key_ref = SecretRef("api-key") { name: "API_KEY" };

    let worker = Worker("worker") {
        entrypoint: "./src/worker.ts",
        url: true,
        bindings: {
            MY_SECRET: my_secret,
            API_KEY: api_key_ref,
            // A Worker secret (`secret_text`), not in a store: read from the environment on deploy.
            TOKEN: secret_env("TOKEN"),
        },
    };
}

fn main() -> ExitCode {
    athanor::cli::run(stack())
}
