//! Shared setup of the end-to-end tests: an emulator in this process, a provider pointed at it,
//! and sessions whose state lives in a temporary directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use athanor_cloudflare::{Client, CloudflareProvider};
use athanor_core::binding::{Binding, BindingValue};
use athanor_core::stack::{KvNamespace, KvValue, R2Bucket, Worker};
use athanor_core::{Provider, Resource, ResourceRef, Stack};
use athanor_emulator::{Config, Emulator};
use athanor_runtime::{Session, SessionOptions};

pub struct Env {
    pub dir: tempfile::TempDir,
    pub emulator: Emulator,
    pub provider: Arc<dyn Provider>,
}

impl Env {
    pub async fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let emulator = Emulator::start(Config::new(dir.path().join("emulator")))
            .await
            .unwrap();
        let provider = provider_for(&emulator).await;
        Env {
            dir,
            emulator,
            provider,
        }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn session(&self, stack: Stack) -> Session {
        self.session_with(stack, |o| o)
    }

    pub fn session_with(
        &self,
        stack: Stack,
        f: impl FnOnce(SessionOptions) -> SessionOptions,
    ) -> Session {
        let options = SessionOptions::new("test")
            .state_dir(self.state_dir())
            .password("end-to-end password");
        Session::new(stack, self.provider.clone(), f(options))
    }

    /// The `result` of a successful GET of an API path of the emulator (under its account).
    pub async fn get(&self, path: &str) -> serde_json::Value {
        athanor_test_support::get_result(&self.emulator, path).await
    }

    /// The titles of the emulator's KV namespaces, sorted.
    pub async fn kv_titles(&self) -> Vec<String> {
        athanor_test_support::kv_titles(&self.emulator).await
    }
}

pub async fn provider_for(emulator: &Emulator) -> Arc<dyn Provider> {
    let config = athanor_test_support::client_config(emulator);
    let client = Client::connect(config).await.unwrap();
    Arc::new(CloudflareProvider::new(client))
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn kv(id: &str, title: &str) -> Resource {
    Resource::new(
        id,
        KvNamespace {
            title: Some(title.into()),
            values: vec![KvValue::new("greeting", "hello")],
        },
    )
}

pub fn bucket(id: &str, name: &str) -> Resource {
    Resource::new(
        id,
        R2Bucket {
            name: Some(name.into()),
            ..R2Bucket::default()
        },
    )
}

pub fn worker(id: &str, name: &str, binds: &[&str], version: &str) -> Resource {
    let mut bindings: Vec<Binding> = binds
        .iter()
        .map(|b| {
            Binding::new(
                b.to_uppercase(),
                BindingValue::Resource(ResourceRef::new(*b)),
            )
        })
        .collect();
    bindings.push(Binding::new("VERSION", version));
    Resource::new(
        id,
        Worker {
            code: athanor_core::stack::WorkerCode::Entrypoint("worker/index.js".into()),
            name: Some(name.into()),
            compatibility_date: Some("2025-01-01".into()),
            bindings,
            ..Worker::default()
        },
    )
}

pub fn stack(resources: Vec<Resource>) -> Stack {
    resources
        .into_iter()
        .fold(Stack::new("e2e", fixtures()), Stack::with)
}
