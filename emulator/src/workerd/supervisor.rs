//! Keeps workerd running the deployed scripts.
//!
//! The v4 API counts its changes to scripts (see `track_script_changes`); on each, the supervisor
//! reads every script, generates the configuration, and, when it differs from the running one,
//! stops workerd and starts it on the new one. The listening socket stays open across restarts,
//! so a request made meanwhile waits for the new process. A Worker that workerd refuses to start
//! (a syntax error, an unknown compatibility flag) is named in workerd's error: it is left out,
//! with that error as its reason, until its script changes, and the rest start. A crash of
//! workerd is restarted, a few times.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, oneshot, watch};

use super::config::{self, Deployed, Generated, Inputs};
use super::delivery::Delivery;
use super::process::{self, Process, StartFailure};
use super::{WorkerEvent, WorkersConfig, WorkersStatus};
use crate::Error;
use crate::bindings::BindingService;
use crate::scripts::{self, Scope};
use crate::state::AppState;
use crate::store::parts;

/// How long the supervisor waits for more changes before it applies them.
const SETTLE: Duration = Duration::from_millis(5);
/// Crashes tolerated within [`CRASH_WINDOW`] before restarts wait for the next change (the
/// local runtime's own policy: no Cloudflare counterpart).
const MAX_CRASHES: usize = 3;
const CRASH_WINDOW: Duration = Duration::from_secs(30);

/// The local runtime of a running emulator.
pub(crate) struct LocalRuntime {
    port: u16,
    requested: watch::Receiver<u64>,
    applied: watch::Receiver<(u64, WorkersStatus)>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    bindings: Option<BindingService>,
    delivery: Option<Delivery>,
}

/// Where the runtime keeps its files under the data directory.
struct Paths {
    config: PathBuf,
    modules: PathBuf,
    durable_objects: PathBuf,
}

impl LocalRuntime {
    /// Binds the Workers port, starts the binding service and the supervisor, and applies the
    /// scripts deployed so far.
    pub async fn start(
        app: Arc<AppState>,
        config: WorkersConfig,
        data_dir: &Path,
        events: broadcast::Sender<WorkerEvent>,
    ) -> Result<LocalRuntime, Error> {
        let socket = std::net::TcpListener::bind(("127.0.0.1", config.port)).map_err(|source| {
            Error::WorkersPort {
                port: config.port,
                source,
            }
        })?;
        let port = socket
            .local_addr()
            .map_err(|source| Error::WorkersPort {
                port: config.port,
                source,
            })?
            .port();
        let dir = data_dir.join("workerd");
        let paths = Paths {
            config: dir.join("config.capnp"),
            modules: dir.join("modules"),
            durable_objects: data_dir.join("durable-objects"),
        };
        for d in [&paths.modules, &paths.durable_objects] {
            std::fs::create_dir_all(d).map_err(|source| Error::DataDir {
                path: d.clone(),
                source,
            })?;
        }
        let bindings = BindingService::start(app.clone(), events.clone()).await?;
        let requested = app.script_changes.subscribe();
        let (applied_tx, applied) = watch::channel((0, WorkersStatus::default()));
        let (stop, stopped) = oneshot::channel();
        let delivery = Delivery::start(
            app.clone(),
            port,
            bindings.token().to_owned(),
            applied.clone(),
            events.clone(),
        );
        let supervisor = Supervisor {
            app,
            workerd: config.workerd,
            socket,
            port,
            paths,
            bindings_addr: bindings.addr(),
            bindings_token: bindings.token().to_owned(),
            events,
            refused: BTreeMap::new(),
            running: None,
            crashes: Vec::new(),
        };
        let task = tokio::spawn(supervisor.run(requested.clone(), applied_tx, stopped));
        Ok(LocalRuntime {
            port,
            requested,
            applied,
            stop: Some(stop),
            task: Some(task),
            bindings: Some(bindings),
            delivery: Some(delivery),
        })
    }

    /// The port Workers answer on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits until every change made so far runs, and tells which Workers do.
    pub async fn ready(&self) -> WorkersStatus {
        let target = *self.requested.borrow();
        let mut applied = self.applied.clone();
        match applied
            .wait_for(|(generation, _)| *generation >= target)
            .await
        {
            Ok(state) => state.1.clone(),
            Err(_) => WorkersStatus::default(),
        }
    }

    /// Stops the queue delivery, workerd and the binding service.
    pub async fn shutdown(mut self) {
        if let Some(delivery) = self.delivery.take() {
            delivery.stop().await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(bindings) = self.bindings.take() {
            bindings.stop().await;
        }
    }
}

struct Supervisor {
    app: Arc<AppState>,
    workerd: super::Workerd,
    socket: std::net::TcpListener,
    port: u16,
    paths: Paths,
    bindings_addr: std::net::SocketAddr,
    bindings_token: String,
    events: broadcast::Sender<WorkerEvent>,
    /// Workers workerd refused, by label: the fingerprint of the script refused, and why.
    refused: BTreeMap<String, (String, String)>,
    running: Option<(Generated, Process)>,
    crashes: Vec<Instant>,
}

impl Supervisor {
    async fn run(
        mut self,
        mut requested: watch::Receiver<u64>,
        applied: watch::Sender<(u64, WorkersStatus)>,
        mut stopped: oneshot::Receiver<()>,
    ) {
        // However the supervisor ends (a panic included), API changes stop waiting for it.
        let _no_longer_running = NotRunning(self.app.clone());
        let mut generation = *requested.borrow_and_update();
        let status = self.apply().await;
        applied.send_replace((generation, status));
        self.app.scripts_running.send_replace(Some(generation));
        loop {
            let crashed = async {
                match self.running.as_mut() {
                    Some((_, process)) => process.wait().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut stopped => break,
                changed = requested.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    tokio::time::sleep(SETTLE).await;
                    generation = *requested.borrow_and_update();
                }
                () = crashed => {
                    self.running = None;
                    let now = Instant::now();
                    self.crashes.retain(|t| now.duration_since(*t) < CRASH_WINDOW);
                    self.crashes.push(now);
                    if self.crashes.len() > MAX_CRASHES {
                        let _ = self.events.send(WorkerEvent::Runtime {
                            message: format!("workerd exited {} times within {} s; Workers are not served until the next deploy", self.crashes.len(), CRASH_WINDOW.as_secs()),
                        });
                        continue;
                    }
                    let _ = self.events.send(WorkerEvent::Runtime {
                        message: "workerd exited unexpectedly; restarting it".into(),
                    });
                }
            }
            let status = self.apply().await;
            applied.send_replace((generation, status));
            self.app.scripts_running.send_replace(Some(generation));
        }
        if let Some((_, process)) = self.running.take() {
            process.stop().await;
        }
    }

    /// Brings workerd in step with the deployed scripts.
    async fn apply(&mut self) -> WorkersStatus {
        let scripts = match self.load().await {
            Ok(scripts) => scripts,
            Err(message) => {
                let _ = self.events.send(WorkerEvent::Runtime { message });
                return WorkersStatus::default();
            }
        };
        // A refusal holds while its script is unchanged.
        let fingerprints: BTreeMap<String, String> = scripts
            .iter()
            .map(|d| (d.label(), fingerprint(d)))
            .collect();
        self.refused
            .retain(|label, (print, _)| fingerprints.get(label) == Some(print));
        // Each failed start names at least one more Worker to leave out, or gives up.
        for _ in 0..=scripts.len() {
            let generated = self.generate(&scripts);
            if let Some((current, process)) = self.running.as_mut()
                && *current == generated
                && !process.exited()
            {
                return status_of(&generated);
            }
            let stopping = Instant::now();
            if let Some((_, process)) = self.running.take() {
                process.stop().await;
            }
            let starting = Instant::now();
            let started = self.start(&generated).await;
            tracing::debug!(
                stop_ms = (starting - stopping).as_millis() as u64,
                start_ms = starting.elapsed().as_millis() as u64,
                "workerd restarted"
            );
            match started {
                Ok(process) => {
                    let status = status_of(&generated);
                    self.running = Some((generated, process));
                    self.forget_unused_modules();
                    let _ = self.events.send(WorkerEvent::Started(status.clone()));
                    return status;
                }
                Err(failure) => {
                    let named = blame(&failure.stderr);
                    let new: Vec<_> = named
                        .into_iter()
                        .filter(|(label, _)| {
                            !self.refused.contains_key(label) && fingerprints.contains_key(label)
                        })
                        .collect();
                    if new.is_empty() {
                        // Not one Worker's fault: every Worker fails with workerd's words.
                        let why = format!("workerd could not start: {}", failure.stderr.join("\n"));
                        let _ = self.events.send(WorkerEvent::Runtime {
                            message: why.clone(),
                        });
                        for (label, print) in &fingerprints {
                            self.refused
                                .insert(label.clone(), (print.clone(), why.clone()));
                        }
                        continue;
                    }
                    for (label, why) in new {
                        let print = fingerprints[&label].clone();
                        self.refused.insert(label, (print, why));
                    }
                }
            }
        }
        WorkersStatus {
            failed: self
                .refused
                .iter()
                .map(|(l, (_, why))| (l.clone(), why.clone()))
                .collect(),
            ..WorkersStatus::default()
        }
    }

    /// Every deployed script with its code.
    async fn load(&self) -> Result<Vec<Deployed>, String> {
        self.app
            .store
            .tx(|c| {
                let mut out = Vec::new();
                for script in scripts::list_all(c)? {
                    let scope = match &script.dispatch_namespace {
                        Some(ns) => Scope::Namespace(ns.clone()),
                        None => Scope::Account,
                    };
                    let code = parts::all(c, &scope.id(&script.id))?;
                    out.push(Deployed { script, code });
                }
                Ok(out)
            })
            .await
            .map_err(|e| format!("could not read the deployed scripts: {}", e.message))
    }

    fn generate(&self, scripts: &[Deployed]) -> Generated {
        let today = self.app.clock.rfc3339();
        let today = &today[..10];
        let newest = if self.workerd.date() < today {
            self.workerd.date()
        } else {
            today
        };
        let refused: BTreeMap<String, String> = self
            .refused
            .iter()
            .map(|(l, (_, why))| (l.clone(), why.clone()))
            .collect();
        let durable_objects = self.paths.durable_objects.display().to_string();
        let authority = format!("localhost:{}", self.port);
        let inputs = Inputs {
            bindings_addr: self.bindings_addr,
            bindings_token: &self.bindings_token,
            sealer: &self.app.sealer,
            newest_date: newest,
            durable_objects_dir: &durable_objects,
            url_authority: &authority,
            refused: &refused,
        };
        config::generate(scripts, &inputs)
    }

    /// Writes the configuration and its modules, and starts workerd on them.
    async fn start(&self, generated: &Generated) -> Result<Process, StartFailure> {
        if let Err(e) = self.write(generated) {
            return Err(StartFailure {
                stderr: vec![format!(
                    "could not write the workerd configuration under {}: {e}",
                    self.paths.modules.display()
                )],
            });
        }
        process::start(
            &self.workerd,
            &self.paths.config,
            &self.socket,
            &generated.env,
            self.events.clone(),
        )
        .await
    }

    fn write(&self, generated: &Generated) -> std::io::Result<()> {
        let dir = self.paths.config.parent().unwrap_or(Path::new("."));
        for (name, data) in &generated.files {
            let path = dir.join(name);
            if !path.exists() {
                write_private(&path, data)?;
            }
        }
        // The configuration holds the binding service's token: owner-only.
        write_private(&self.paths.config, generated.text.as_bytes())
    }

    /// Deletes module files the running configuration no longer embeds.
    fn forget_unused_modules(&self) {
        let Some((generated, _)) = &self.running else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(&self.paths.modules) else {
            return;
        };
        for entry in entries.flatten() {
            let name = format!("modules/{}", entry.file_name().to_string_lossy());
            if !generated.files.contains_key(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Marks the local runtime as gone when dropped: API changes then answer without waiting.
struct NotRunning(Arc<AppState>);

impl Drop for NotRunning {
    fn drop(&mut self) {
        self.0.scripts_running.send_replace(None);
    }
}

/// Writes a file readable by its owner only, atomically (a new file renamed into place).
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(data)?;
    drop(file);
    std::fs::rename(&tmp, path)
}

fn status_of(generated: &Generated) -> WorkersStatus {
    WorkersStatus {
        running: generated.running.clone(),
        failed: generated.left_out.clone(),
        notes: generated.notes.clone(),
    }
}

/// A hash of everything stored about a script, so a refusal lasts until the script changes.
fn fingerprint(d: &Deployed) -> String {
    let mut all = scripts::to_doc(&d.script).to_string().into_bytes();
    for p in &d.code {
        all.extend_from_slice(&p.data);
    }
    crate::ids::sha256_hex(&all)
}

/// The Workers a start-up failure names (`service worker:{label}: {message}`), with their
/// messages.
fn blame(stderr: &[String]) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for line in stderr {
        let Some(rest) = line.strip_prefix("service worker:") else {
            continue;
        };
        let Some((label, message)) = rest.split_once(": ") else {
            continue;
        };
        let why = out.entry(label.to_owned()).or_default();
        if !why.is_empty() {
            why.push_str("; ");
        }
        why.push_str(message.trim());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_up_errors_are_blamed_on_the_workers_they_name() {
        let stderr = vec![
            "service worker:bad-one: Uncaught SyntaxError: Unexpected end of input".to_owned(),
            "  at bad.js:2".to_owned(),
            "service worker:ns/user: No such compatibility flag: nope".to_owned(),
            "service athanor:router: something".to_owned(),
        ];
        let named = blame(&stderr);
        assert_eq!(named.len(), 2);
        assert_eq!(
            named["bad-one"],
            "Uncaught SyntaxError: Unexpected end of input"
        );
        assert_eq!(named["ns/user"], "No such compatibility flag: nope");
    }
}
