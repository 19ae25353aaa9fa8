//! A stack binary declared by hand, as `infra!` would generate one, for the command-line tests in
//! `tests/`: a KV namespace, a Secrets Store secret and a Worker binding both, a plain variable
//! (`ATHANOR_TEST_VERSION` at run time, default `1`) and a secret read from `ATHANOR_TEST_SECRET`
//! when deploying, never at build time; with `ATHANOR_TEST_CRON` set, the Worker has that Cron
//! Trigger. Its Worker's module is `worker/index.js` under
//! `ATHANOR_TEST_ROOT` (default: this crate's `fixtures/`), where `types` and `deploy` also write
//! the Worker's TypeScript `Env` declaration.
//!
//! A crate of its own, never published, so that `cargo install athanor-runtime` installs no test
//! binary.
//!
//! With `ATHANOR_TEST_ABORT_AFTER_FIRST_CREATE` set, it deploys through the public API with a
//! provider that aborts the process as soon as the first create has reached the target: the
//! "killed after its first create" case. With `ATHANOR_TEST_HOLD_AFTER_FIRST_CREATE` set, the
//! provider instead prints `holding` on stderr and waits, holding the stage lock, until the
//! process is killed: the "a run dies holding the lock" case. Both keep state where
//! `ATHANOR_STATE` says (default: `ATHANOR_STATE_DIR`), in the stage `ATHANOR_STAGE` (default
//! `ci`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use athanor_core::binding::{Binding, BindingValue};
use athanor_core::provider::{Applying, BoxFuture, Desired, Existing, Prepared};
use athanor_core::stack::{KvNamespace, KvValue, Secret, Worker};
use athanor_core::{Output, Provider, ProviderError, Resource, ResourceRef, SecretSource, Stack};
use athanor_runtime::Target;
use athanor_runtime::{Session, SessionOptions, StateLocation};

/// The TypeScript `Env` of the Worker `api`, as `infra!` would generate it.
const API_ENV: &str = "interface Env {\n  SESSIONS: KVNamespace;\n  SIGNING: SecretsStoreSecret;\n  VERSION: string;\n  TOKEN: string;\n}";

fn stack() -> Stack {
    let version = std::env::var("ATHANOR_TEST_VERSION").unwrap_or_else(|_| "1".into());
    let root = std::env::var_os("ATHANOR_TEST_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"));
    Stack::new("bin", root)
        .with(Resource::new(
            "sessions",
            KvNamespace {
                title: Some("bin-sessions".into()),
                values: vec![KvValue::new("greeting", "hello")],
            },
        ))
        .with(Resource::new(
            "signing",
            Secret {
                value: SecretSource::env("ATHANOR_TEST_SECRET"),
                name: Some("BIN_SIGNING".into()),
                store: None,
                scopes: vec![],
            },
        ))
        .with(Resource::new(
            "api",
            Worker {
                code: athanor_core::stack::WorkerCode::Entrypoint("worker/index.js".into()),
                name: Some("bin-api".into()),
                compatibility_date: Some("2025-01-01".into()),
                url: true,
                bindings: vec![
                    Binding::new(
                        "SESSIONS",
                        BindingValue::Resource(ResourceRef::new("sessions")),
                    ),
                    Binding::new(
                        "SIGNING",
                        BindingValue::Resource(ResourceRef::new("signing")),
                    ),
                    Binding::new("VERSION", version),
                    Binding::new("TOKEN", SecretSource::env("ATHANOR_TEST_SECRET")),
                ],
                crons: std::env::var("ATHANOR_TEST_CRON").into_iter().collect(),
                ..Worker::default()
            },
        ))
        .with_typescript_env("api", API_ENV)
}

/// What the provider does right after the first create has reached the target.
#[derive(Clone, Copy)]
enum AfterCreate {
    /// Abort the process.
    Abort,
    /// Say so on stderr and wait to be killed.
    Hold,
}

/// Passes everything through, and stops after the first create as told.
struct StopAfterFirstCreate(Arc<dyn Provider>, AfterCreate);

impl Provider for StopAfterFirstCreate {
    fn fingerprint<'a>(
        &'a self,
        desired: &'a Desired<'a>,
    ) -> BoxFuture<'a, Result<Option<String>, ProviderError>> {
        self.0.fingerprint(desired)
    }

    fn prepare<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        existing: Option<Existing<'a>>,
    ) -> BoxFuture<'a, Result<Prepared, ProviderError>> {
        self.0.prepare(desired, existing)
    }

    fn start_create<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        prepared: Prepared,
    ) -> BoxFuture<'a, Result<Applying<'a>, ProviderError>> {
        Box::pin(async move {
            let _created = self
                .0
                .start_create(desired, prepared)
                .await?
                .finish()
                .await?;
            match self.1 {
                AfterCreate::Abort => std::process::abort(),
                AfterCreate::Hold => {
                    eprintln!("holding");
                    std::future::pending().await
                }
            }
        })
    }

    fn start_update<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        existing: Existing<'a>,
        prepared: Prepared,
    ) -> BoxFuture<'a, Result<Applying<'a>, ProviderError>> {
        self.0.start_update(desired, existing, prepared)
    }

    fn delete<'a>(&'a self, existing: Existing<'a>) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.0.delete(existing)
    }

    fn read<'a>(
        &'a self,
        existing: Existing<'a>,
    ) -> BoxFuture<'a, Result<Option<Output>, ProviderError>> {
        self.0.read(existing)
    }
}

fn main() -> ExitCode {
    let after_create = if std::env::var_os("ATHANOR_TEST_ABORT_AFTER_FIRST_CREATE").is_some() {
        AfterCreate::Abort
    } else if std::env::var_os("ATHANOR_TEST_HOLD_AFTER_FIRST_CREATE").is_some() {
        AfterCreate::Hold
    } else {
        return athanor_runtime::cli::run(stack());
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        let stack = stack();
        let base = athanor_runtime::internals::base_dir(&stack.root);
        let target = Target::connect(&base).await.expect("target");
        let provider = Arc::new(StopAfterFirstCreate(target.provider.clone(), after_create));
        let state = match std::env::var("ATHANOR_STATE") {
            Ok(setting) => StateLocation::parse(&setting, &stack.root).expect("ATHANOR_STATE"),
            Err(_) => StateLocation::Local(base),
        };
        let stage = std::env::var("ATHANOR_STAGE").unwrap_or_else(|_| "ci".into());
        let mut options = SessionOptions::new(stage).state(state).concurrency(1);
        options.password = std::env::var("ATHANOR_PASSWORD").ok().map(Into::into);
        let _ = Session::new(stack, provider, options).deploy().await;
        ExitCode::FAILURE
    })
}
