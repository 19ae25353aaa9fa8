//! The contract between the engine and a target.
//!
//! The engine knows the dependency graph and nothing about Cloudflare; a [`Provider`] knows the
//! endpoints and nothing about the graph. The engine resolves everything a call needs first (the
//! physical name, the outputs of the resources referenced, the secret values) and passes it in a
//! [`Desired`]; what was deployed before comes in an [`Existing`].

use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use secrecy::SecretString;

use crate::output::Output;
use crate::stack::{Props, Resource};

/// A boxed future, so that [`Provider`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Everything a provider needs to create or update one resource.
pub struct Desired<'a> {
    /// The declared resource.
    pub resource: &'a Resource,
    /// The physical name: the declared one, or the default derived from app, id and stage.
    pub name: &'a str,
    /// The application name.
    pub app: &'a str,
    /// The stage being deployed.
    pub stage: &'a str,
    /// The directory relative paths resolve against.
    pub root: &'a Path,
    /// The outputs of the resources this one references, by logical id.
    pub deps: &'a BTreeMap<String, Output>,
    /// The secret values this resource needs, keyed as in [`Resource::secret_sources`].
    pub secrets: &'a BTreeMap<String, SecretString>,
    /// The user's `adopt: true`: take over an existing resource of the same name, whoever made
    /// it (and leave it at Cloudflare when it leaves the stack, where its kind says so).
    pub adopt: bool,
    /// An earlier run of this stack began this create and was interrupted (its record says
    /// `creating`): what exists under this name may be what that run made. Unlike `adopt`, this
    /// takes over only what the provider cannot tell apart from this stack's own (a Worker must
    /// carry this stack's ownership tags), and what it takes over counts as made by this stack.
    pub resumed: bool,
    /// Where the lines a long step prints go (a Rust Worker's build), as they come.
    pub log: &'a dyn StepLog,
    /// What the provider kept of this run's earlier steps: the modules a Worker's fingerprint
    /// collected, for its deploy to upload.
    pub memo: &'a RunMemo,
}

/// What a provider computed for a resource in one step of a run, kept for a later step of the
/// same run: the modules a Worker's fingerprint collected are the ones its deploy uploads, so
/// they are collected (or built) once per deploy, and what goes up is what was hashed. The
/// engine makes one per plan or deploy and drops it at the end, so nothing outlives the run;
/// a caller with no earlier step passes an empty one.
#[derive(Default)]
pub struct RunMemo {
    kept: std::sync::Mutex<BTreeMap<String, Prepared>>,
}

impl RunMemo {
    /// Keeps `value` for resource `id`, in place of what was kept for it.
    pub fn keep<T: Any + Send + Sync>(&self, id: &str, value: T) {
        self.kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), Prepared::new(value));
    }

    /// Takes what was kept for resource `id`, if it is a `T`.
    pub fn take<T: Any>(&self, id: &str) -> Option<T> {
        let kept = self
            .kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)?;
        kept.take()
    }
}

impl std::fmt::Debug for RunMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        f.debug_struct("RunMemo")
            .field("resources", &kept.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Receives the lines a provider's long step prints for one resource (cargo's output while a
/// Rust Worker builds), so that the user sees them as they come rather than a silent wait.
pub trait StepLog: Send + Sync {
    /// One line of output of the step for resource `id`.
    fn line(&self, id: &str, line: &str);
}

/// A [`StepLog`] that drops every line.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLog;

impl StepLog for NoLog {
    fn line(&self, _id: &str, _line: &str) {}
}

impl std::fmt::Debug for Desired<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desired")
            .field("resource", &self.resource)
            .field("name", &self.name)
            .field("stage", &self.stage)
            .field("deps", &self.deps)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("adopt", &self.adopt)
            .field("resumed", &self.resumed)
            .finish_non_exhaustive()
    }
}

/// What was deployed for a resource, as recorded in state.
#[derive(Debug, Clone, Copy)]
pub struct Existing<'a> {
    /// The logical id.
    pub id: &'a str,
    /// The properties last applied.
    pub props: &'a Props,
    /// The output of the last apply.
    pub output: &'a Output,
    /// Whether the resource is deleted at Cloudflare when it leaves the stack (`delete: false`
    /// only forgets it; the engine does not call [`Provider::delete`] then).
    pub delete: bool,
}

/// A request the API refused: which request, the HTTP status, and Cloudflare's codes and
/// messages. It holds no request body and no credential, so it is safe to print.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{method} {path} failed with HTTP {status}{}: {message}", codes_suffix(.codes))]
pub struct ApiError {
    /// The HTTP method.
    pub method: String,
    /// The request path, relative to the API's base URL, without the query string.
    pub path: String,
    /// The HTTP status.
    pub status: u16,
    /// Cloudflare's error codes, in the order given.
    pub codes: Vec<u32>,
    /// Cloudflare's error messages, joined with `; `.
    pub message: String,
}

fn codes_suffix(codes: &[u32]) -> String {
    if codes.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = codes.iter().map(u32::to_string).collect();
        format!(" (code {})", list.join(", "))
    }
}

impl ApiError {
    /// Whether Cloudflare answered with this error code.
    pub fn has_code(&self, code: u32) -> bool {
        self.codes.contains(&code)
    }

    /// Whether the API said the thing addressed does not exist (HTTP 404, or a not-found code).
    pub fn is_not_found(&self) -> bool {
        self.status == 404
            || self
                .codes
                .iter()
                .any(|c| matches!(c, 10006 | 10007 | 10009 | 10013 | 10090 | 10092))
    }

    /// Whether the API refused a create because a resource of that name exists: HTTP 409, or a
    /// message saying so. (Codes are per product, so product-specific codes such as KV's 10014
    /// are checked by the provider that knows them.)
    pub fn is_conflict(&self) -> bool {
        let lower = self.message.to_ascii_lowercase();
        self.status == 409 || lower.contains("already exist") || lower.contains("already_exist")
    }

    /// A short piece of advice for this status: what the user can do about it.
    pub fn advice(&self) -> &'static str {
        match self.status {
            400 | 422 => "the API rejected the input: check the declared properties",
            401 | 403 => {
                "the credentials were refused or lack a permission: check the API token's permissions and the account id"
            }
            404 => {
                "it does not exist at Cloudflare (deleted outside athanor?): check the name, or deploy again to recreate it"
            }
            409 => "it conflicts with the current state at Cloudflare: check the resource there",
            412 => "a precondition failed: deploy again",
            429 => {
                "Cloudflare's rate limit was hit after every retry: wait a few minutes and deploy again"
            }
            s if s >= 500 => "Cloudflare failed after every retry: deploy again later",
            _ => "check the request and deploy again",
        }
    }
}

/// A failure of a provider call. Messages name the resource and say what to do; they never hold
/// a secret value. Each cause is printed once: a variant that wraps another error returns it
/// from `source()` and leaves it out of its own message.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// A resource of that name exists and is not ours.
    #[error(
        "{what} already exists and is not managed by this stack; set `adopt: true` to take it over"
    )]
    AlreadyExists {
        /// The resource, e.g. `KV namespace "user-sessions"`.
        what: String,
    },
    /// A resource the call needs does not exist.
    #[error("{what} does not exist{}", hint_suffix(.hint))]
    NotFound {
        /// The missing resource.
        what: String,
        /// What to do about it.
        hint: Option<String>,
    },
    /// The API refused the request.
    #[error(transparent)]
    Api(ApiError),
    /// The request could not be sent or answered (connection refused, reset, timeout), after
    /// retries.
    #[error("cannot reach {target}: {message}")]
    Transport {
        /// The base URL.
        target: String,
        /// What went wrong.
        message: String,
    },
    /// A local input is wrong: a missing entrypoint, an unreadable module, no bundler.
    #[error("{message}")]
    Local {
        /// What is wrong and what to do.
        message: String,
    },
    /// One step on a resource failed; the cause is the source.
    #[error("{action} {what}")]
    Step {
        /// The resource, e.g. `KV namespace "user-sessions" (KvNamespace "sessions")`.
        what: String,
        /// The step, phrased to precede `what`: `creating`, `writing the values of`.
        action: String,
        /// What the user can do, when there is advice beyond the cause's own message.
        advice: Option<&'static str>,
        /// Why it failed.
        #[source]
        source: Box<ProviderError>,
    },
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(": {h}")).unwrap_or_default()
}

impl ProviderError {
    /// The API's refusal at the root of this error, if it is one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            ProviderError::Api(api) => Some(api),
            ProviderError::Step { source, .. } => source.api(),
            _ => None,
        }
    }

    /// What the user can do about this error, when a step knows more than its cause says.
    pub fn advice(&self) -> Option<&'static str> {
        match self {
            ProviderError::Step { advice, source, .. } => advice.or_else(|| source.advice()),
            _ => None,
        }
    }

    /// Whether the error is a 404 or a not-found code, for callers that tolerate absence.
    pub fn is_not_found(&self) -> bool {
        match self {
            ProviderError::NotFound { .. } => true,
            ProviderError::Step { source, .. } => source.is_not_found(),
            _ => self.api().is_some_and(ApiError::is_not_found),
        }
    }
}

/// An error and its causes on one line: each message once, joined with `: `, then the advice of
/// the outermost provider step that has some. This is how the command line and a deploy's list
/// of failures print errors, since a variant's message leaves its cause out.
pub fn report(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut advice = None;
    let mut current = Some(err);
    while let Some(e) = current {
        if advice.is_none() {
            advice = e
                .downcast_ref::<ProviderError>()
                .and_then(ProviderError::advice);
        }
        current = e.source();
        if let Some(cause) = current {
            let cause = cause.to_string();
            // An error from elsewhere may print its cause itself: never print one twice.
            if !text.ends_with(&cause) {
                text.push_str(": ");
                text.push_str(&cause);
            }
        }
    }
    if let Some(advice) = advice {
        text.push_str("; ");
        text.push_str(advice);
    }
    text
}

/// What a provider read for one resource before its dependencies existed
/// ([`Provider::prepare`]), handed back to its create or update. The engine only carries it; the
/// provider puts in what it needs and takes it out by type.
#[derive(Default)]
pub struct Prepared(Option<Box<dyn Any + Send + Sync>>);

impl Prepared {
    /// Carries `value`.
    pub fn new<T: Any + Send + Sync>(value: T) -> Prepared {
        Prepared(Some(Box::new(value)))
    }

    /// The value carried, if it is a `T`; `None` when nothing was prepared (a caller that
    /// skipped [`Provider::prepare`], or a resource it could not prepare for).
    pub fn take<T: Any>(self) -> Option<T> {
        self.0?.downcast::<T>().ok().map(|b| *b)
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Prepared(..)"
        } else {
            "Prepared(nothing)"
        })
    }
}

/// A create or update whose resource exists: `output`'s handle ([`Output::handle`]) is final,
/// so the resources that reference it may deploy, while `rest` finishes this one (a
/// namespace's values, a Worker's workers.dev switch) and returns the complete output, whose
/// handle is the same.
pub struct Applying<'a> {
    /// The output, complete in everything dependents use.
    pub output: Output,
    /// What is left to do, if anything.
    pub rest: Option<BoxFuture<'a, Result<Output, ProviderError>>>,
}

impl<'a> Applying<'a> {
    /// A create or update with nothing left to do.
    pub fn done(output: Output) -> Applying<'a> {
        Applying { output, rest: None }
    }

    /// Runs what is left and returns the complete output.
    pub async fn finish(self) -> Result<Output, ProviderError> {
        match self.rest {
            Some(rest) => rest.await,
            None => Ok(self.output),
        }
    }
}

impl std::fmt::Debug for Applying<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applying")
            .field("output", &self.output)
            .field("rest", &self.rest.is_some())
            .finish()
    }
}

/// A target that can create, read, update and delete every kind of resource.
///
/// One implementation serves all kinds (it dispatches on [`Resource::kind`] internally), so that
/// the engine holds a single `dyn Provider`.
pub trait Provider: Send + Sync {
    /// A hash of the inputs that live outside the declaration (a Worker's module files), so that
    /// the engine sees a code change as a change. `None` for kinds with no such input.
    fn fingerprint<'a>(
        &'a self,
        desired: &'a Desired<'a>,
    ) -> BoxFuture<'a, Result<Option<String>, ProviderError>>;

    /// What a create or update of this resource needs that depends on nothing the deploy
    /// creates (a Worker's modules; whether its script exists and whose it is; the account's
    /// workers.dev subdomain). The engine calls it as the deploy starts, before the resource's
    /// dependencies exist, so `desired.deps` may be empty and must not be read; `existing` is
    /// what an update starts from. The result goes back to [`Provider::start_create`] or
    /// [`Provider::start_update`]. By default there is nothing to read.
    fn prepare<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        existing: Option<Existing<'a>>,
    ) -> BoxFuture<'a, Result<Prepared, ProviderError>> {
        let _ = (desired, existing);
        Box::pin(async { Ok(Prepared::default()) })
    }

    /// Creates the resource (or adopts it, when [`Desired::adopt`] is set and it exists) up to
    /// the point where its handle ([`Output::handle`]) is final, and returns what is left to do.
    fn start_create<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        prepared: Prepared,
    ) -> BoxFuture<'a, Result<Applying<'a>, ProviderError>>;

    /// Brings an existing resource to the desired properties, in place, up to the point where
    /// its handle is final, and returns what is left to do.
    fn start_update<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        existing: Existing<'a>,
        prepared: Prepared,
    ) -> BoxFuture<'a, Result<Applying<'a>, ProviderError>>;

    /// Creates the resource whole: [`Provider::prepare`], [`Provider::start_create`], then the
    /// rest. The engine runs the three steps apart; this is for a caller with one resource.
    fn create<'a>(
        &'a self,
        desired: &'a Desired<'a>,
    ) -> BoxFuture<'a, Result<Output, ProviderError>> {
        Box::pin(async move {
            let prepared = self.prepare(desired, None).await?;
            self.start_create(desired, prepared).await?.finish().await
        })
    }

    /// Updates the resource whole: [`Provider::prepare`], [`Provider::start_update`], then the
    /// rest.
    fn update<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        existing: Existing<'a>,
    ) -> BoxFuture<'a, Result<Output, ProviderError>> {
        Box::pin(async move {
            let prepared = self.prepare(desired, Some(existing)).await?;
            self.start_update(desired, existing, prepared)
                .await?
                .finish()
                .await
        })
    }

    /// Deletes the resource. A resource that is already gone is not an error.
    fn delete<'a>(&'a self, existing: Existing<'a>) -> BoxFuture<'a, Result<(), ProviderError>>;

    /// Reads the live resource, for drift detection: `None` when it no longer exists.
    fn read<'a>(
        &'a self,
        existing: Existing<'a>,
    ) -> BoxFuture<'a, Result<Option<Output>, ProviderError>>;

    /// Looks up by its name what a create of this stack that never finished may have made, for
    /// the removal of its record: the output when it exists and the provider can take it as this
    /// stack's (a Worker must carry the stack's ownership tags), `None` otherwise.
    /// `desired.deps` holds the recorded outputs of its dependencies. By default nothing is found.
    fn find<'a>(
        &'a self,
        desired: &'a Desired<'a>,
    ) -> BoxFuture<'a, Result<Option<Output>, ProviderError>> {
        let _ = desired;
        Box::pin(async { Ok(None) })
    }

    /// Checks the provider's credentials with as few requests as it takes, once a request of a
    /// run was refused (HTTP 401 or 403): `Some` with what is wrong and the setting to fix (a
    /// token that is not valid, an account it cannot use), `None` when they are good (so the
    /// refusal was a missing permission) or the check itself could not tell. The engine stops
    /// sending a run's requests once it has an answer that is `Some`. By default: `None`.
    fn check_credentials(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async { None })
    }

    /// The account this provider deploys into. State records it, so that a stage deployed into
    /// one account is never planned, deployed or destroyed against another (the local emulator's
    /// account included). `None` when the provider cannot tell; then nothing is checked.
    fn account(&self) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16) -> ProviderError {
        ProviderError::Api(ApiError {
            method: "POST".into(),
            path: "/accounts/a/storage/kv/namespaces".into(),
            status,
            codes: vec![10019],
            message: "missing title".into(),
        })
    }

    #[test]
    fn a_report_prints_each_cause_once_and_the_advice_last() {
        let err = ProviderError::Step {
            what: "KV namespace \"t\"".into(),
            action: "creating".into(),
            advice: Some("check the declared properties"),
            source: Box::new(refused(400)),
        };
        assert_eq!(err.to_string(), "creating KV namespace \"t\"");
        assert_eq!(
            report(&err),
            "creating KV namespace \"t\": POST /accounts/a/storage/kv/namespaces failed with HTTP 400 (code 10019): missing title; check the declared properties"
        );
        assert_eq!(err.api().map(|a| a.status), Some(400));
        assert!(!err.is_not_found());
    }

    #[test]
    fn absence_is_seen_through_a_step() {
        let err = ProviderError::Step {
            what: "Worker \"api\"".into(),
            action: "reading".into(),
            advice: None,
            source: Box::new(refused(404)),
        };
        assert!(err.is_not_found());
        assert_eq!(err.advice(), None);
    }

    #[test]
    fn a_cause_its_wrapper_already_prints_is_not_repeated() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot read the module: {0}")]
        struct Printing(#[source] std::io::Error);
        let err = Printing(std::io::Error::other("denied"));
        assert_eq!(report(&err), "cannot read the module: denied");
    }
}
