//! The test harness: an emulator in a temporary directory, a client and a provider on it, and
//! owned declarations that lend `Desired` / `Existing` values.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use athanor_cloudflare::{Auth, Client, ClientConfig, CloudflareProvider, RetryPolicy};
use athanor_core::output::{DurableObjectNamespaceOutput, WorkerOutput};
use athanor_core::provider::{Desired, Existing, RunMemo};
use athanor_core::{Output, Props, Resource};
use athanor_emulator::{Config, Emulator, Stats};
use secrecy::SecretString;
use serde_json::Value;

/// A running emulator with a provider on it.
pub struct Fixture {
    pub emulator: Emulator,
    pub client: Client,
    pub provider: CloudflareProvider,
    pub dir: tempfile::TempDir,
}

/// Retries fast enough for tests (a 429's `Retry-After` of 1 s is still honoured).
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 20,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        max_elapsed: Duration::from_secs(60),
        max_retry_after: Duration::from_secs(5),
    }
}

pub async fn start() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(Config::new(dir.path().join("emulator")))
        .await
        .unwrap();
    let mut config = ClientConfig::new(
        emulator.base_url(),
        Auth::Token(SecretString::from(emulator.token().to_owned())),
    );
    config.account_id = Some(emulator.account_id().to_owned());
    config.retry = fast_retry();
    let client = Client::connect(config).await.unwrap();
    let provider = CloudflareProvider::new(client.clone());
    Fixture {
        emulator,
        client,
        provider,
        dir,
    }
}

impl Fixture {
    /// `GET` through the API with the raw HTTP client: the envelope's `result`.
    pub async fn api_get(&self, rest: &str) -> (u16, Value) {
        let url = self.emulator.account_url(rest);
        let resp = reqwest::Client::new()
            .get(url)
            .bearer_auth(self.emulator.token())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        (status, body["result"].clone())
    }

    /// A request through the API with a JSON body; the whole envelope.
    pub async fn api_send(&self, method: reqwest::Method, rest: &str, body: Value) -> (u16, Value) {
        let url = self.emulator.account_url(rest);
        let resp = reqwest::Client::new()
            .request(method, url)
            .bearer_auth(self.emulator.token())
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// A KV value's raw bytes and its `expiration` header.
    pub async fn kv_value(&self, ns: &str, key: &str) -> (u16, String, Option<String>) {
        let url = self
            .emulator
            .account_url(&format!("/storage/kv/namespaces/{ns}/values/{key}"));
        let resp = reqwest::Client::new()
            .get(url)
            .bearer_auth(self.emulator.token())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let exp = resp
            .headers()
            .get("expiration")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (status, resp.text().await.unwrap(), exp)
    }

    pub fn reset(&self) {
        self.emulator.reset_stats();
    }

    pub fn stats(&self) -> Stats {
        self.emulator.stats()
    }
}

/// How many times a route was requested.
pub fn count(stats: &Stats, route: &str) -> u64 {
    stats.by_route.get(route).copied().unwrap_or(0)
}

/// An owned declaration lending `Desired` values.
pub struct Decl {
    pub resource: Resource,
    pub name: String,
    pub app: String,
    pub stage: String,
    pub root: PathBuf,
    pub deps: BTreeMap<String, Output>,
    pub secrets: BTreeMap<String, SecretString>,
    pub adopt: bool,
    pub resumed: bool,
    /// What the provider keeps between steps, as the engine keeps it for one run.
    pub memo: RunMemo,
}

impl Decl {
    pub fn new(id: &str, name: &str, props: impl Into<Props>) -> Decl {
        Decl {
            resource: Resource::new(id, props),
            name: name.to_owned(),
            app: "athanor-test".into(),
            stage: "dev".into(),
            root: PathBuf::from("."),
            deps: BTreeMap::new(),
            secrets: BTreeMap::new(),
            adopt: false,
            resumed: false,
            memo: RunMemo::default(),
        }
    }

    /// As the engine resumes a create an interrupted run began.
    pub fn resumed(mut self) -> Decl {
        self.resumed = true;
        self
    }

    pub fn adopt(mut self) -> Decl {
        self.adopt = true;
        self.resource.adopt = true;
        self
    }

    pub fn dep(mut self, id: &str, output: Output) -> Decl {
        self.deps.insert(id.to_owned(), output);
        self
    }

    pub fn secret(mut self, key: &str, value: &str) -> Decl {
        self.secrets
            .insert(key.to_owned(), SecretString::from(value.to_owned()));
        self
    }

    pub fn root(mut self, root: impl Into<PathBuf>) -> Decl {
        self.root = root.into();
        self
    }

    pub fn desired(&self) -> Desired<'_> {
        Desired {
            resource: &self.resource,
            name: &self.name,
            app: &self.app,
            stage: &self.stage,
            root: &self.root,
            deps: &self.deps,
            secrets: &self.secrets,
            adopt: self.adopt,
            resumed: self.resumed,
            log: &athanor_core::provider::NoLog,
            memo: &self.memo,
        }
    }

    /// What the engine would hand back after this declaration produced `output`.
    pub fn existing<'a>(&'a self, output: &'a Output) -> Existing<'a> {
        Existing {
            id: &self.resource.id,
            props: &self.resource.props,
            output,
            delete: self.resource.delete,
        }
    }
}

/// The Worker output inside `out`; panics on another kind.
pub fn worker_output(out: &Output) -> &WorkerOutput {
    match out {
        Output::Worker(w) => w,
        other => panic!("not a Worker output: {other:?}"),
    }
}

/// The output of a Durable Object namespace for `class`, exported by the Worker that binds it.
pub fn do_output(class: &str, sqlite: bool) -> Output {
    Output::DurableObjectNamespace(DurableObjectNamespaceOutput {
        class_name: class.into(),
        script_name: None,
        environment: None,
        sqlite,
    })
}
