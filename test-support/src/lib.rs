//! What the end-to-end tests of several crates (the runtime, its test stack, the examples) share:
//! a client configured for the emulator ([`client_config`]), reading the emulator's v4 API back,
//! to see what a deploy left there, and the examples' [`Fixture`], the shared state stores of
//! this machine ([`shared_stores`]), a run's pace and its bound under a rate limit ([`Pace`]),
//! and the tenant the runtime's tenant tests and benchmark
//! onboard ([`tenant_stack`]). Never published.

mod fixture;
mod pace;
mod shared_stores;
mod tenant_stack;

pub use fixture::Fixture;
pub use pace::{Pace, client_rate_limit};
pub use shared_stores::{SharedStore, shared_stores, use_in_this_process};
pub use tenant_stack::{platform_namespace, tenant_stack};

use athanor_emulator::Emulator;
use serde_json::Value;

/// A client configuration for `emulator` as for Cloudflare: its base URL, its token, its
/// account; the rate limit is the client's default, for the caller to change.
pub fn client_config(emulator: &Emulator) -> athanor_cloudflare::ClientConfig {
    let mut config = athanor_cloudflare::ClientConfig::new(
        emulator.base_url(),
        athanor_cloudflare::Auth::Token(secrecy::SecretString::from(emulator.token().to_owned())),
    );
    config.account_id = Some(emulator.account_id().to_owned());
    config
}

/// The JSON answer to `method` on `path` under the emulator's account (`/accounts/{id}{path}`),
/// whatever its status.
pub async fn call(emulator: &Emulator, method: reqwest::Method, path: &str) -> Value {
    reqwest::Client::new()
        .request(method, emulator.account_url(path))
        .bearer_auth(emulator.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The `result` of a GET of `path` under the emulator's account; panics, with the answer,
/// unless it is a success.
pub async fn get_result(emulator: &Emulator, path: &str) -> Value {
    let answer = call(emulator, reqwest::Method::GET, path).await;
    assert_eq!(answer["success"], true, "{path}: {answer}");
    answer["result"].clone()
}

/// The titles of the account's KV namespaces, sorted.
pub async fn kv_titles(emulator: &Emulator) -> Vec<String> {
    let list = get_result(emulator, "/storage/kv/namespaces?per_page=100").await;
    let mut titles: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|ns| ns["title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort_unstable();
    titles
}
