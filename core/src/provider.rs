//! The contract between the engine and a target.
//!
//! The engine knows the dependency graph and nothing about Cloudflare; a [`Provider`] knows the
//! endpoints and nothing about the graph. The engine resolves everything a call needs first (the
//! physical name, the outputs of the resources referenced, the secret values) and passes it in a
//! [`Desired`]; what was deployed before comes in an [`Existing`].

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
    /// Take over an existing resource of the same name: the user's `adopt: true`, or the engine
    /// recovering a create that was interrupted after Cloudflare made the resource.
    pub adopt: bool,
    /// Where the lines a long step prints go (a Rust Worker's build), as they come.
    pub log: &'a dyn StepLog,
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

/// A failure of a provider call. Messages name the resource and say what to do; they never hold
/// a secret value.
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
    #[error("{method} {path} failed with HTTP {status}{}: {message}", codes_suffix(.codes))]
    Api {
        /// The HTTP method.
        method: String,
        /// The request path (no query string, no secret).
        path: String,
        /// The HTTP status.
        status: u16,
        /// Cloudflare's error codes.
        codes: Vec<u32>,
        /// Cloudflare's messages, joined.
        message: String,
    },
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
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(": {h}")).unwrap_or_default()
}

fn codes_suffix(codes: &[u32]) -> String {
    if codes.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = codes.iter().map(u32::to_string).collect();
        format!(" (code {})", list.join(", "))
    }
}

impl ProviderError {
    /// Whether the error is a 404 or a not-found code, for callers that tolerate absence.
    pub fn is_not_found(&self) -> bool {
        match self {
            ProviderError::NotFound { .. } => true,
            ProviderError::Api { status, .. } => *status == 404,
            _ => false,
        }
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

    /// Creates the resource (or adopts it, when [`Desired::adopt`] is set and it exists).
    fn create<'a>(
        &'a self,
        desired: &'a Desired<'a>,
    ) -> BoxFuture<'a, Result<Output, ProviderError>>;

    /// Brings an existing resource to the desired properties, in place.
    fn update<'a>(
        &'a self,
        desired: &'a Desired<'a>,
        existing: Existing<'a>,
    ) -> BoxFuture<'a, Result<Output, ProviderError>>;

    /// Deletes the resource. A resource that is already gone is not an error.
    fn delete<'a>(&'a self, existing: Existing<'a>) -> BoxFuture<'a, Result<(), ProviderError>>;

    /// Reads the live resource, for drift detection: `None` when it no longer exists.
    fn read<'a>(
        &'a self,
        existing: Existing<'a>,
    ) -> BoxFuture<'a, Result<Option<Output>, ProviderError>>;

    /// The account this provider deploys into. State records it, so that a stage deployed into
    /// one account is never planned, deployed or destroyed against another (the local emulator's
    /// account included). `None` when the provider cannot tell; then nothing is checked.
    fn account(&self) -> Option<String> {
        None
    }
}
