//! The one error type of the runtime.
//!
//! Every message names the resource or file involved, says what went wrong and what to do. No
//! variant carries a secret value: secret failures name the source (`env TOKEN`), never the value.

use std::path::PathBuf;

use athanor_core::secret::SecretReadError;
use athanor_core::{Kind, ProviderError};

/// What can go wrong while planning, deploying, destroying or handling state.
///
/// A variant that wraps a cause returns it from `source()` and leaves it out of its own message,
/// so that each cause is printed once; [`Error::report`] prints the whole chain on one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A resource references a logical id the stack does not declare.
    #[error(
        "resource `{from}` references `{to}`, which is not declared in this stack: declare it or remove the reference"
    )]
    UnknownReference {
        /// The referencing resource.
        from: String,
        /// The missing logical id.
        to: String,
    },
    /// Resources reference each other in a cycle, so no order can create them.
    #[error(
        "resources reference each other in a cycle ({}): remove one of these references",
        .0.join(" -> ")
    )]
    Cycle(Vec<String>),
    /// A name made at run time (a tenant's, say) that Cloudflare would refuse; found before any
    /// request.
    #[error("{kind} `{id}`: Cloudflare would refuse the name {name:?}: {reason}; nothing was sent")]
    InvalidName {
        /// The resource's kind.
        kind: athanor_core::Kind,
        /// Its logical id.
        id: String,
        /// The name.
        name: String,
        /// The rule it breaks, with a suggestion.
        reason: athanor_core::naming::NameError,
    },
    /// A tenant's stack is not of the platform's app (another template's).
    #[error(
        "tenant `{tenant}`: its stack is of the app `{stack_app}`, but these tenants are `{app}`'s: build it with `{app}`'s tenant template"
    )]
    TenantApp {
        /// The tenant.
        tenant: String,
        /// The stack's app.
        stack_app: String,
        /// The platform's app.
        app: String,
    },
    /// Two resources share a logical id.
    #[error("two resources share the logical id `{0}`: give each a distinct id")]
    DuplicateId(String),
    /// A state or lock file could not be read or written.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done (`read`, `write`, `create`).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A state file is not what this runtime wrote.
    #[error(
        "the state file {file} is not valid: {message}; restore it from a backup, or remove the resource with `state forget`"
    )]
    StateCorrupt {
        /// The file: a path, or an object or row of a shared store.
        file: String,
        /// What is wrong with it.
        message: String,
    },
    /// State was written by a newer runtime.
    #[error(
        "the state file {file} has schema version {found}, but this athanor reads version {expected}: upgrade athanor"
    )]
    StateVersion {
        /// The file: a path, or an object or row of a shared store.
        file: String,
        /// The version in the file.
        found: u32,
        /// The version this runtime writes.
        expected: u32,
    },
    /// The stage was deployed into another account than this run's target.
    #[error(
        "stage `{stage}` is deployed into account {recorded}, but this run targets account {current}{}: choose another stage with --stage, or point the run at account {recorded}",
        if *.current_is_local { " (the local emulator)" } else { "" }
    )]
    OtherAccount {
        /// The stage.
        stage: String,
        /// The account recorded in its state.
        recorded: String,
        /// The account this run targets.
        current: String,
        /// Whether this run targets the local emulator.
        current_is_local: bool,
    },
    /// `dev` cannot run.
    #[error("dev cannot start: {message}")]
    Dev {
        /// Why, and what to do.
        message: String,
    },
    /// Another run holds the stage lock.
    #[error(
        "stage `{stage}` is locked by pid {pid} on host {host}{} since {since} (lock {location}): wait for that run to finish (`--lock-timeout SECONDS` waits for it), or pass --force-unlock if it is gone",
        user.as_ref().map(|u| format!(" (user {u})")).unwrap_or_default()
    )]
    Locked {
        /// The stage.
        stage: String,
        /// The holder's process id.
        pid: u32,
        /// The holder's host name.
        host: String,
        /// The holder's user name, when recorded.
        user: Option<String>,
        /// When the holder took the lock (RFC 3339, UTC).
        since: String,
        /// Where the lock is: a file, or an object or row of a shared store.
        location: String,
    },
    /// This run's lease on the stage lock ran out or was taken over (`--force-unlock` elsewhere,
    /// or a pause longer than the lease), so it stopped writing state.
    #[error(
        "this run lost the lock of stage `{stage}` ({location}): {why}; it stopped before writing more state. Run again: the next run adopts whatever this one created"
    )]
    LockLost {
        /// The stage.
        stage: String,
        /// Where the lock is.
        location: String,
        /// What happened.
        why: String,
    },
    /// Another writer changed the state this run read: nothing was overwritten.
    #[error(
        "the state of stage `{stage}` at {location} was changed by another run while this one held it ({detail}); nothing was overwritten: check who else deploys this stage, then run again"
    )]
    StateConflict {
        /// The stage.
        stage: String,
        /// Where the state is.
        location: String,
        /// What differed.
        detail: String,
    },
    /// A shared state store could not be reached or refused a request.
    #[error("cannot {action} the state at {location}: {message}")]
    StateStore {
        /// What was being done (`read`, `write`, `lock`).
        action: &'static str,
        /// Where the state is (never with a password).
        location: String,
        /// Why, and what to do.
        message: String,
    },
    /// The state setting (`--state`, `ATHANOR_STATE`) is not one athanor can use.
    #[error("the state setting {value:?} is not usable: {message}")]
    StateSetting {
        /// The setting, with any password removed.
        value: String,
        /// Why, and what to write instead.
        message: String,
    },
    /// State holds secrets and no password was given.
    #[error(
        "the state of stage `{stage}` holds encrypted secrets but ATHANOR_PASSWORD is not set: export the password they were written with (state was left untouched)"
    )]
    MissingPassword {
        /// The stage.
        stage: String,
    },
    /// The stack declares secrets and no password was given to encrypt them.
    #[error(
        "resource `{id}` needs a secret, which athanor stores encrypted in state, but ATHANOR_PASSWORD is not set: export a password (and keep it: the next deploy needs the same one)"
    )]
    PasswordRequired {
        /// The first resource that declares a secret.
        id: String,
    },
    /// The password does not decrypt the secrets in state.
    #[error(
        "ATHANOR_PASSWORD does not decrypt the secrets in the state of stage `{stage}`: use the password they were written with (state was left untouched)"
    )]
    WrongPassword {
        /// The stage.
        stage: String,
    },
    /// A secret value could not be read from its source.
    #[error("resource `{id}`, secret `{key}`")]
    SecretRead {
        /// The resource.
        id: String,
        /// The secret's key (`value`, or the binding name).
        key: String,
        /// Why (names the variable or file, never the value).
        source: SecretReadError,
    },
    /// Encryption or key derivation failed.
    #[error("cannot {action} secrets: {message}")]
    Crypto {
        /// `derive a key for`, `encrypt`, `decrypt`.
        action: &'static str,
        /// The library's reason (never key material).
        message: String,
    },
    /// A provider call failed.
    #[error("{kind} `{id}`")]
    Provider {
        /// The logical id.
        id: String,
        /// Its kind.
        kind: Kind,
        /// The provider's error (boxed: it is large, and rare).
        source: Box<ProviderError>,
    },
    /// Cloudflare refused the run's credentials (HTTP 401 or 403): one message, rather than one
    /// per resource, saying what to fix.
    #[error(
        "{what}: Cloudflare refused the credentials ({count} refused, e.g. {example}); {}",
        .problem.as_deref().unwrap_or("check CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_KEY with CLOUDFLARE_EMAIL): that it is active and has the permissions these resources need; and check CLOUDFLARE_ACCOUNT_ID")
    )]
    CredentialsRefused {
        /// The run: `deploy`, `destroy` or `refresh` (a plan's reads).
        what: &'static str,
        /// How many resources were refused.
        count: usize,
        /// The first refusal, in full.
        example: String,
        /// What the provider's check of the credentials found wrong, naming the variable to
        /// fix; `None` when it found them good (a permission is missing) or could not tell.
        problem: Option<String>,
    },
    /// A resource's request was not sent: the run stopped once its credentials were found
    /// wrong.
    #[error("not sent: the run stopped, its credentials were refused")]
    NotSent,
    /// Some resources failed; each failure is listed.
    #[error("{} failed:\n{}", what, failures.iter().map(|f| format!("  - {f}")).collect::<Vec<_>>().join("\n"))]
    Failed {
        /// `deploy` or `destroy`.
        what: &'static str,
        /// Each resource that failed or was skipped, with the reason.
        failures: Vec<Failure>,
    },
    /// The logical id is not in state.
    #[error("no resource `{id}` in the state of stage `{stage}`: `state list` shows what is there")]
    NotInState {
        /// The id asked for.
        id: String,
        /// The stage.
        stage: String,
    },
    /// A provider changed what dependents use of a resource's output (its handle) after
    /// publishing it to them: a bug in the provider.
    #[error(
        "`{id}`: the provider changed the resource's id or name after its dependents were deployed with it (a bug in the provider); its record keeps the earlier state: deploy again"
    )]
    HandleMoved {
        /// The resource.
        id: String,
    },
    /// The target (Cloudflare or the emulator) could not be set up.
    #[error("cannot set up the {target} target: {message}")]
    Target {
        /// `Cloudflare` or `local emulator`.
        target: &'static str,
        /// Why, and what to do.
        message: String,
    },
    /// Local state on CI against real Cloudflare would orphan infrastructure when the CI
    /// machine goes away.
    #[error(
        "refusing to keep state in the local directory {} on CI (the CI variable is set) while deploying to Cloudflare: the machine's state is lost after the run and the resources become orphans. Persist that directory (ATHANOR_STATE_DIR on a kept volume) and set ATHANOR_CI_STATE_CHECK=false to proceed",
        dir.display()
    )]
    LocalStateOnCi {
        /// The state directory.
        dir: PathBuf,
    },
    /// Writing a Worker's TypeScript `Env` declaration failed.
    #[error("Worker `{id}`: cannot write its TypeScript Env declaration {}", path.display())]
    Types {
        /// The Worker.
        id: String,
        /// The declaration file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// One resource that failed or was skipped during a deploy or destroy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The logical id.
    pub id: String,
    /// Why (the provider's message, or the failed resource it waited for).
    pub reason: String,
    /// Whether it was skipped because something it waits for failed (rather than failing itself).
    pub skipped: bool,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.skipped {
            write!(f, "`{}` skipped: {}", self.id, self.reason)
        } else {
            write!(f, "`{}` failed: {}", self.id, self.reason)
        }
    }
}

impl Error {
    /// This error and each of its causes on one line, ending with what to do when a provider
    /// step knows: how the command line prints it.
    pub fn report(&self) -> String {
        athanor_core::provider::report(self)
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Wraps a provider's failure on the resource `id` of `kind` (for `map_err`), so every
    /// provider error names the resource it concerns.
    pub(crate) fn provider(id: &str, kind: Kind) -> impl Fn(ProviderError) -> Self {
        move |source| Error::Provider {
            id: id.to_owned(),
            kind,
            source: Box::new(source),
        }
    }
}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
