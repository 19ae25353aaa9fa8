//! The local runtime: the emulator runs what is deployed to it on workerd, Cloudflare's own
//! Workers runtime, over its own data.
//!
//! [`locate`] finds the binary; [`config`] turns the deployed scripts into a workerd
//! configuration; [`process`] runs one workerd; [`supervisor`] keeps the running configuration in
//! step with the scripts (a change to a script through the API restarts workerd on the new
//! configuration, a Worker that cannot start is left out with its reason, and a crash is
//! restarted). Bindings reach the emulator's data through `bindings`; [`delivery`] hands queue
//! messages to their consumer Workers.
//!
//! Requests reach a Worker through one listening port, by the first label of their Host:
//! `http://my-worker.localhost:8787` (browsers and curl resolve `*.localhost` to loopback), and
//! `my-worker.<subdomain>.workers.dev` with the same port works too. User Workers of dispatch
//! namespaces are reached through their dispatcher, as on Cloudflare.

mod config;
mod delivery;
pub(crate) mod locate;
#[cfg(unix)]
mod process;
#[cfg(not(unix))]
#[path = "process_unsupported.rs"]
mod process;
mod supervisor;

use std::collections::BTreeMap;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

pub use locate::{TESTED_WORKERD, Workerd, WorkerdNotFound};
pub(crate) use supervisor::LocalRuntime;

/// How the emulator serves its Workers.
#[derive(Debug, Clone)]
pub struct WorkersConfig {
    /// The workerd binary.
    pub workerd: Workerd,
    /// The loopback port Workers answer on; 0 picks a free one.
    pub port: u16,
}

/// Something a served Worker did, or that happened to the local runtime: what `dev` and the
/// standalone emulator print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerEvent {
    /// A `console` call of a Worker.
    Log {
        /// The Worker (`name`, or `namespace/name` for a user Worker).
        worker: String,
        /// `log`, `info`, `warn`, `error` or `debug`.
        level: String,
        /// The arguments, joined by spaces.
        message: String,
    },
    /// An exception a Worker did not catch.
    Exception {
        /// The Worker.
        worker: String,
        /// The error's name (`Error`, `TypeError`, …).
        name: String,
        /// Its message.
        message: String,
        /// Its JavaScript stack.
        stack: String,
    },
    /// workerd (re)started on the deployed scripts.
    Started(WorkersStatus),
    /// A diagnostic of workerd itself.
    Runtime {
        /// The line it printed.
        message: String,
    },
}

impl std::fmt::Display for WorkerEvent {
    /// One line per event (an exception adds its stack below), prefixed with the Worker's name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkerEvent::Log {
                worker,
                level,
                message,
            } => match level.as_str() {
                "log" | "info" => write!(f, "[{worker}] {message}"),
                level => write!(f, "[{worker}] {level}: {message}"),
            },
            WorkerEvent::Exception {
                worker,
                name,
                message,
                stack,
            } => {
                write!(f, "[{worker}] uncaught {name}: {message}")?;
                for line in stack.lines().filter(|l| !l.trim().is_empty()) {
                    write!(f, "\n[{worker}]   {}", line.trim())?;
                }
                Ok(())
            }
            WorkerEvent::Started(status) => {
                write!(f, "workerd serves {} Worker(s)", status.running.len())?;
                for (worker, why) in &status.failed {
                    write!(f, "\n[{worker}] not served: {why}")?;
                }
                for note in &status.notes {
                    write!(f, "\nnote: {note}")?;
                }
                Ok(())
            }
            WorkerEvent::Runtime { message } => write!(f, "workerd: {message}"),
        }
    }
}

/// Which Workers run, and why the others do not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkersStatus {
    /// The Workers that run (`name`, or `namespace/name`).
    pub running: Vec<String>,
    /// The Workers that do not, with why.
    pub failed: BTreeMap<String, String>,
    /// Changes made so that a Worker runs (a compatibility date brought back).
    pub notes: Vec<String>,
}

/// How long an API change waits for the local runtime to run it (the emulator's own).
const RUN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Middleware of the v4 API: a successful change under `/workers/` (an upload, a deletion, a
/// settings or secret change, workers.dev, a deployment, a dispatch namespace) asks the local
/// runtime to catch up, and, when Workers are served, is answered once the change runs, so that
/// a request made after a deploy returns meets the deployed code.
pub(crate) async fn track_script_changes(
    State(state): State<std::sync::Arc<crate::state::AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let changes_scripts = !matches!(*req.method(), Method::GET | Method::HEAD)
        && req.uri().path().contains("/workers/");
    let response = next.run(req).await;
    if changes_scripts && response.status().is_success() {
        let mut generation = 0;
        state.script_changes.send_modify(|g| {
            *g += 1;
            generation = *g;
        });
        let mut running = state.scripts_running.subscribe();
        let served = running.borrow().is_some();
        if served {
            let caught_up = running.wait_for(|r| r.is_none_or(|applied| applied >= generation));
            let _ = tokio::time::timeout(RUN_TIMEOUT, caught_up).await;
        }
    }
    response
}
