//! Tenants at run time: a platform's backend applies one stack per customer, built from an
//! `infra!` tenant template (`fn tenant(tenant: &TenantId, ...) -> Stack`), with no command line.
//!
//! Each tenant's state is a stage of the platform's app, `tenant-<id>`, on whatever state backend
//! the platform configured, so tenants never share a record or a lock, and the state backend's
//! stage listing is the list of tenants. Every tenant goes through one provider, so one client
//! and its account-wide rate limiter serve them all: many tenants applied at once together stay
//! under Cloudflare's limit. Fairness comes from bounds: at most `tenants_at_once` tenants run,
//! each with at most `concurrency` requests in flight, so a tenant with a thousand resources
//! holds no more of the account's budget than one with three.

use std::sync::Arc;
use std::time::Duration;

use athanor_core::{Provider, Stack, TenantId};
use futures_util::StreamExt;
use secrecy::SecretString;

use crate::destroy::DestroyReport;
use crate::error::{Error, Result};
use crate::outputs::Outputs;
use crate::plan::Summary;
use crate::progress::Observer;
use crate::session::{DEFAULT_CONCURRENCY, Session, SessionOptions};
use crate::state::{StateLocation, list_stages};

/// The default number of tenants applied at once by [`Tenants::apply_all`].
pub const DEFAULT_TENANTS_AT_ONCE: usize = 16;

/// How a platform keeps and applies its tenants.
#[derive(Debug, Clone)]
pub struct TenantsOptions {
    /// Where every tenant's state lives (one stage each).
    pub state: StateLocation,
    /// The state password, when tenants' stacks hold secrets.
    pub password: Option<SecretString>,
    /// Requests in flight at once for one tenant, at least 1.
    pub concurrency: usize,
    /// Tenants applied at once by [`Tenants::apply_all`], at least 1.
    pub tenants_at_once: usize,
    /// How long to wait for a tenant's lock that another process holds (two backends onboarding
    /// the same customer); zero: refuse at once.
    pub lock_timeout: Duration,
}

impl TenantsOptions {
    /// State at `state`, no password, the default bounds, a 30 s lock wait.
    pub fn new(state: StateLocation) -> TenantsOptions {
        TenantsOptions {
            state,
            password: None,
            concurrency: DEFAULT_CONCURRENCY,
            tenants_at_once: DEFAULT_TENANTS_AT_ONCE,
            lock_timeout: Duration::from_secs(30),
        }
    }

    /// Sets the state password, builder style.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(SecretString::from(password.into()));
        self
    }

    /// Sets the requests in flight per tenant, builder style.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets the tenants applied at once, builder style.
    pub fn tenants_at_once(mut self, n: usize) -> Self {
        self.tenants_at_once = n.max(1);
        self
    }
}

/// What applying one tenant did.
#[derive(Debug, Clone)]
pub struct Applied {
    /// How many resources were created, updated, replaced, deleted and kept.
    pub summary: Summary,
    /// The outputs of every resource of the tenant's stack.
    pub outputs: Outputs,
}

/// Where a tenant's progress goes: the [`Observer`] of each tenant's steps, so that a backend
/// can tag every event with the tenant it belongs to.
pub type TenantObservers = Arc<dyn Fn(&TenantId) -> Arc<dyn Observer> + Send + Sync>;

/// The tenants of one platform app, applied through one provider.
pub struct Tenants {
    app: String,
    provider: Arc<dyn Provider>,
    options: TenantsOptions,
    observers: Option<TenantObservers>,
}

impl std::fmt::Debug for Tenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenants")
            .field("app", &self.app)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Tenants {
    /// The tenants of the platform `app` (the `app` of its tenant template), applied through
    /// `provider` (share one: its client carries the account's rate limit).
    pub fn new(
        app: impl Into<String>,
        provider: Arc<dyn Provider>,
        options: TenantsOptions,
    ) -> Tenants {
        Tenants {
            app: app.into(),
            provider,
            options,
            observers: None,
        }
    }

    /// Reports each tenant's steps to the observer `observers` gives for it, builder style.
    pub fn with_observers(mut self, observers: TenantObservers) -> Tenants {
        self.observers = Some(observers);
        self
    }

    /// The platform app.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// The session of `tenant` for `stack`.
    fn session(&self, tenant: &TenantId, stack: Stack) -> Result<Session> {
        if stack.app != self.app {
            return Err(Error::TenantApp {
                tenant: tenant.to_string(),
                stack_app: stack.app,
                app: self.app.clone(),
            });
        }
        let mut options = SessionOptions::new(tenant.stage())
            .state(self.options.state.clone())
            .concurrency(self.options.concurrency)
            .lock_timeout(self.options.lock_timeout);
        options.password = self.options.password.clone();
        let session = Session::new(stack, self.provider.clone(), options);
        Ok(match &self.observers {
            Some(observers) => session.with_observer(observers(tenant)),
            None => session,
        })
    }

    /// A session that only reads or removes `tenant`'s state (no stack needed).
    fn state_session(&self, tenant: &TenantId) -> Result<Session> {
        self.session(tenant, Stack::new(self.app.clone(), "."))
    }

    /// Makes Cloudflare match `stack` for `tenant`: creates what is new, updates what changed,
    /// deletes what the stack no longer declares. An unchanged tenant sends no request. A name
    /// Cloudflare would refuse is found before any request.
    pub async fn apply(&self, tenant: &TenantId, stack: Stack) -> Result<Applied> {
        let (plan, outputs) = self.session(tenant, stack)?.deploy_with_plan().await?;
        Ok(Applied {
            summary: plan.summary(),
            outputs,
        })
    }

    /// Applies many tenants, at most `tenants_at_once` at a time, each on its own; the results
    /// come back in the order given, and one tenant's failure stops no other, but for one:
    /// once a tenant's run finds the credentials wrong ([`Error::CredentialsRefused`] naming a
    /// problem), the tenants not yet started fail with [`Error::NotSent`], sending nothing.
    pub async fn apply_all(
        &self,
        tenants: impl IntoIterator<Item = (TenantId, Stack)>,
    ) -> Vec<(TenantId, Result<Applied>)> {
        let refused = std::sync::atomic::AtomicBool::new(false);
        let refused = &refused;
        // Unordered, so that a slow tenant holds one place and not the ones after it.
        let mut done: Vec<(usize, (TenantId, Result<Applied>))> =
            futures_util::stream::iter(tenants.into_iter().enumerate())
                .map(|(i, (id, stack))| async move {
                    if refused.load(std::sync::atomic::Ordering::Relaxed) {
                        return (i, (id, Err(Error::NotSent)));
                    }
                    let result = self.apply(&id, stack).await;
                    if let Err(Error::CredentialsRefused {
                        problem: Some(_), ..
                    }) = &result
                    {
                        refused.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    (i, (id, result))
                })
                .buffer_unordered(self.options.tenants_at_once)
                .collect()
                .await;
        done.sort_by_key(|(i, _)| *i);
        done.into_iter().map(|(_, r)| r).collect()
    }

    /// The outputs recorded for `tenant` (empty for a tenant never applied).
    pub async fn outputs(&self, tenant: &TenantId) -> Result<Outputs> {
        self.state_session(tenant)?.outputs().await
    }

    /// Deletes everything `tenant` has, dependents first, and its state with it. A resource
    /// the template marks `delete: false` or adopted (the platform's dispatch namespace) stays.
    pub async fn remove(&self, tenant: &TenantId) -> Result<DestroyReport> {
        self.state_session(tenant)?.destroy().await
    }

    /// The tenants that have state, sorted.
    pub async fn list(&self) -> Result<Vec<TenantId>> {
        let stages = list_stages(&self.options.state, &self.app).await?;
        Ok(stages
            .iter()
            .filter_map(|s| TenantId::from_stage(s))
            .collect())
    }
}
