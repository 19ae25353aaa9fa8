//! The public Rust API of the runtime: one stack, one stage, one provider.
//!
//! A [`Session`] is what the command line drives and what end-to-end tests call: [`Session::plan`],
//! [`Session::deploy`] (returns typed [`Outputs`]), [`Session::destroy`], [`Session::outputs`] and
//! the `state` operations. Deploy and destroy hold the stage lock for their whole run. Secrets are
//! read and the password checked before anything is written, so a wrong or missing password
//! leaves state untouched.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use athanor_core::provider::{Desired, RunMemo};
use athanor_core::{Output, Provider, Stack};

use crate::apply::{self, Context};
use crate::credentials_gate::CredentialsGate;
use crate::destroy::{self, DestroyReport};
use crate::error::{Error, Result};
use crate::outputs::{self, Outputs};
use crate::plan::{self, Inputs, Plan};
use crate::progress::{ObservedLog, Observer, Silent};
use crate::schedule::{self, NodeFuture};
use crate::secrets::{self, Keyring, SecretValues, SecretsHeader};
use crate::state::{LockOptions, Meta, SCHEMA_VERSION, Snapshot, StateLocation, StateStore};

/// The default number of resources in flight at once.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// How a session runs.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// The stage (`--stage`).
    pub stage: String,
    /// Where state lives (`--state`, `ATHANOR_STATE`); `None`: the directory
    /// `$ATHANOR_STATE_DIR`, else `<stack root>/.athanor`.
    pub state: Option<StateLocation>,
    /// Resources in flight at once (`--concurrency`), at least 1.
    pub concurrency: usize,
    /// The state password (`ATHANOR_PASSWORD`); needed when secrets are involved.
    pub password: Option<SecretString>,
    /// Read live resources before planning, to show and repair drift (`--refresh`).
    pub refresh: bool,
    /// Remove an existing stage lock first (`--force-unlock`).
    pub force_unlock: bool,
    /// How long to wait for a stage lock another run holds (`--lock-timeout`); zero: refuse at
    /// once.
    pub lock_timeout: Duration,
}

impl SessionOptions {
    /// Options for `stage` with the defaults: state under the stack root, concurrency 8, no
    /// password, no refresh.
    pub fn new(stage: impl Into<String>) -> SessionOptions {
        SessionOptions {
            stage: stage.into(),
            state: None,
            concurrency: DEFAULT_CONCURRENCY,
            password: None,
            refresh: false,
            force_unlock: false,
            lock_timeout: Duration::ZERO,
        }
    }

    /// Keeps state in the directory `dir`, builder style.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state = Some(StateLocation::Local(dir.into()));
        self
    }

    /// Keeps state at `location` (a directory, a bucket, a database), builder style.
    pub fn state(mut self, location: StateLocation) -> Self {
        self.state = Some(location);
        self
    }

    /// Waits up to `timeout` for a stage lock another run holds, builder style.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Sets the password, builder style.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(SecretString::from(password.into()));
        self
    }

    /// Sets the concurrency, builder style.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets `refresh`, builder style.
    pub fn refresh(mut self, refresh: bool) -> Self {
        self.refresh = refresh;
        self
    }
}

/// One stack at one stage against one provider.
pub struct Session {
    stack: Stack,
    options: SessionOptions,
    provider: Arc<dyn Provider>,
    pub(crate) store: StateStore,
    observer: Arc<dyn Observer>,
    /// The keys derived from the password, with the header they were derived for.
    keyring: std::sync::Mutex<Option<(SecretsHeader, Arc<Keyring>)>>,
}

/// What planning needs to hand on to a deploy.
struct Prepared {
    state: Snapshot,
    secrets: SecretValues,
    /// A header to write before the first secret's digest (none was in state).
    new_header: Option<SecretsHeader>,
    plan: Plan,
    /// What the provider kept while planning, for the deploy (a Worker's modules).
    memo: RunMemo,
}

impl Session {
    /// A session; nothing is read or written until a method is called.
    pub fn new(stack: Stack, provider: Arc<dyn Provider>, options: SessionOptions) -> Session {
        let location = options
            .state
            .clone()
            .unwrap_or_else(|| StateLocation::default_for(&stack.root));
        let store = StateStore::new(&location, &stack.app, &options.stage);
        Session {
            stack,
            options,
            provider,
            store,
            observer: Arc::new(Silent),
            keyring: std::sync::Mutex::new(None),
        }
    }

    /// Sends progress events to `observer`, builder style.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Session {
        self.observer = observer;
        self
    }

    /// The stack.
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// The stage.
    pub fn stage(&self) -> &str {
        &self.options.stage
    }

    /// Where this app and stage's state is, for messages (never with a password).
    pub fn state_location(&self) -> String {
        self.store.location()
    }

    /// The directory holding this app and stage's state (one file per resource, and the lock),
    /// when state is local.
    pub fn state_dir(&self) -> Option<&Path> {
        self.store.dir()
    }

    /// Plans a deploy without changing anything (and without taking the lock).
    pub async fn plan(&self) -> Result<Plan> {
        Ok(self.prepare().await?.plan)
    }

    /// Deploys the stack: returns the outputs of every declared resource.
    pub async fn deploy(&self) -> Result<Outputs> {
        Ok(self.deploy_with_plan().await?.1)
    }

    /// Deploys the stack, returning the plan it carried out with the outputs.
    pub async fn deploy_with_plan(&self) -> Result<(Plan, Outputs)> {
        self.locked(async {
            let prepared = self.prepare().await?;
            self.write_meta(&prepared).await?;
            crate::types::write_all(&self.stack)?;
            let ctx = Context {
                stack: &self.stack,
                stage: self.stage(),
                provider: self.provider.as_ref(),
                store: &self.store,
                state: &prepared.state,
                secrets: &prepared.secrets,
                concurrency: self.options.concurrency,
                observer: self.observer.as_ref(),
                memo: &prepared.memo,
            };
            let outputs = apply::apply(&ctx, &prepared.plan).await?;
            Ok((prepared.plan, outputs))
        })
        .await
    }

    /// Deletes everything in this stage's state, dependents first.
    pub async fn destroy(&self) -> Result<DestroyReport> {
        self.locked(async {
            let state = self.store.load().await?;
            self.check_account(&state)?;
            let ctx = crate::removal::Context {
                provider: self.provider.as_ref(),
                store: &self.store,
                app: &self.stack.app,
                stage: self.stage(),
                root: &self.stack.root,
                concurrency: self.options.concurrency,
                observer: self.observer.as_ref(),
            };
            destroy::destroy(&ctx, &state).await
        })
        .await
    }

    /// The outputs recorded in state.
    pub async fn outputs(&self) -> Result<Outputs> {
        Ok(outputs::from_state(&self.store.load().await?))
    }

    /// Everything in this stage's state.
    pub(crate) async fn state(&self) -> Result<Snapshot> {
        self.store.load().await
    }

    /// How this session takes the stage lock.
    pub(crate) fn lock_options(&self) -> LockOptions {
        LockOptions::new(self.options.force_unlock, self.options.lock_timeout)
    }

    /// Runs `work` holding the stage lock, then releases it (settling what was written) whether
    /// `work` failed or not; `work`'s error comes first.
    async fn locked<T>(&self, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let guard = self.store.lock(self.lock_options()).await?;
        let result = work.await;
        let released = guard.release().await;
        let value = result?;
        released?;
        Ok(value)
    }

    async fn write_meta(&self, prepared: &Prepared) -> Result<()> {
        let existing = prepared.state.meta.clone();
        let secrets = prepared
            .new_header
            .clone()
            .or_else(|| existing.as_ref().and_then(|m| m.secrets.clone()));
        let meta = Meta {
            schema_version: SCHEMA_VERSION,
            app: self.stack.app.clone(),
            stage: self.stage().to_owned(),
            secrets,
            account: self
                .provider
                .account()
                .or_else(|| existing.as_ref().and_then(|m| m.account.clone())),
        };
        if existing.as_ref() != Some(&meta) {
            self.store.write_meta(&meta).await?;
        }
        Ok(())
    }

    /// The keys of `header` under `password`: derived once per session (the derivation is slow
    /// on purpose, and `dev` deploys again on every save).
    fn open_keyring(
        &self,
        password: &SecretString,
        header: &SecretsHeader,
    ) -> Result<Arc<Keyring>> {
        let mut cache = self
            .keyring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((cached, keyring)) = cache.as_ref()
            && cached == header
        {
            return Ok(keyring.clone());
        }
        let keyring = Arc::new(Keyring::open(password, header, self.stage())?);
        *cache = Some((header.clone(), keyring.clone()));
        Ok(keyring)
    }

    /// Refuses a stage whose state records another account than the provider's.
    fn check_account(&self, state: &Snapshot) -> Result<()> {
        let recorded = state.meta.as_ref().and_then(|m| m.account.clone());
        match (recorded, self.provider.account()) {
            (Some(recorded), Some(current)) if recorded != current => Err(Error::OtherAccount {
                stage: self.stage().to_owned(),
                current_is_local: current == athanor_emulator::DEFAULT_ACCOUNT_ID,
                recorded,
                current,
            }),
            _ => Ok(()),
        }
    }

    /// Loads state, reads secrets, checks the password, fingerprints, refreshes and plans.
    async fn prepare(&self) -> Result<Prepared> {
        crate::diff::check_names(&self.stack, self.stage())?;
        let state = self.store.load().await?;
        self.check_account(&state)?;
        let secrets = secrets::read_values(&self.stack)?;
        let header = state.meta.as_ref().and_then(|m| m.secrets.as_ref());
        let needs_keys = !secrets.is_empty() || state.holds_secrets();
        let (keyring, new_header) = match (&self.options.password, header) {
            (Some(pw), Some(header)) => (Some(self.open_keyring(pw, header)?), None),
            (Some(pw), None) if needs_keys => {
                let (k, h) = Keyring::create(pw)?;
                (Some(Arc::new(k)), Some(h))
            }
            (None, _) if state.holds_secrets() => {
                return Err(Error::MissingPassword {
                    stage: self.stage().to_owned(),
                });
            }
            (None, _) if !secrets.is_empty() => {
                let id = secrets.keys().next().cloned().unwrap_or_default();
                return Err(Error::PasswordRequired { id });
            }
            _ => (None, None),
        };
        let mut inputs = Inputs::default();
        if let Some(keyring) = &keyring {
            for (id, values) in &secrets {
                let digests = values
                    .iter()
                    .map(|(k, v)| (k.clone(), keyring.digest(id, k, v)))
                    .collect();
                inputs.secret_digests.insert(id.clone(), digests);
            }
        }
        // Fingerprints (a Worker's modules collected or built) and refresh reads go out
        // `concurrency` at a time, in stack order; after a failure no more start, and the first
        // failure in that order is reported.
        let recorded = outputs::from_state(&state);
        let empty = Default::default();
        let concurrency = self.options.concurrency.max(1);
        let memo = RunMemo::default();
        let resources = &self.stack.resources;
        let fingerprints = schedule::run_each(resources.len(), concurrency, |i| {
            let (resource, recorded, secrets, empty, memo) =
                (&resources[i], &recorded, &secrets, &empty, &memo);
            Box::pin(async move {
                let deps: std::collections::BTreeMap<String, Output> = resource
                    .dependencies()
                    .into_iter()
                    .filter_map(|d| recorded.get(d).map(|o| (d.to_owned(), o.clone())))
                    .collect();
                let name = crate::diff::resolved_name(&self.stack.app, self.stage(), resource);
                let log = ObservedLog(self.observer.as_ref());
                let desired = Desired {
                    resource,
                    name: &name,
                    app: &self.stack.app,
                    stage: self.stage(),
                    root: &self.stack.root,
                    deps: &deps,
                    secrets: secrets.get(&resource.id).unwrap_or(empty),
                    adopt: resource.adopt,
                    resumed: false,
                    log: &log,
                    memo,
                };
                self.provider
                    .fingerprint(&desired)
                    .await
                    .map_err(Error::provider(&resource.id, resource.kind()))
            }) as NodeFuture<'_, Option<String>, Error>
        })
        .await?;
        for (resource, fingerprint) in resources.iter().zip(fingerprints) {
            inputs.fingerprints.insert(resource.id.clone(), fingerprint);
        }
        if self.options.refresh {
            let existing: Vec<_> = state
                .records
                .values()
                .filter_map(|record| Some((record, record.existing()?)))
                .collect();
            let gate = CredentialsGate::new(self.provider.as_ref());
            let reads = schedule::run_each(existing.len(), concurrency, |i| {
                let (record, existing) = existing[i];
                Box::pin(gate.run(async move {
                    self.provider
                        .read(existing)
                        .await
                        .map_err(Error::provider(&record.id, record.kind))
                })) as NodeFuture<'_, Option<Output>, Error>
            })
            .await
            .map_err(|e| gate.explain("refresh", e))?;
            let mut live = std::collections::BTreeMap::new();
            for ((record, _), read) in existing.iter().zip(reads) {
                live.insert(record.id.clone(), read);
            }
            inputs.live = Some(live);
        }
        let plan = plan::plan(&self.stack, self.stage(), &state, &inputs)?;
        Ok(Prepared {
            state,
            secrets,
            new_header,
            plan,
            memo,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_never_print_the_password() {
        let options = SessionOptions::new("dev").password("hunter2-distinctive");
        assert!(!format!("{options:?}").contains("hunter2-distinctive"));
    }
}
