//! `dev`: the stack on the local Cloudflare, running.
//!
//! It deploys the stack to the embedded emulator (whatever credentials are set) with its Workers
//! running on workerd, prints their URLs, and then watches each Worker's module graph (its
//! entrypoint and the files it imports): a saved change is deployed again, which re-uploads only
//! the Workers whose code changed, and the next request meets the new code. What the Workers log
//! and throw is printed with their names. Ctrl-C stops workerd and the emulator; the data stays in
//! `.athanor/local/` for the next run.
//!
//! Watching polls the modification times of the few files a module graph has, which costs a few
//! `stat` calls per tick and sees editors that save by renaming as well as those that write in
//! place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use athanor_core::stack::WorkerCode;
use athanor_core::{Props, Stack};
use athanor_emulator::{Emulator, WorkerEvent, Workerd};

use crate::error::{Error, Result};
use crate::outputs;
use crate::progress::Silent;
use crate::session::{Session, SessionOptions};
use crate::target::Target;
use crate::terminal::{Progress, TICK};

/// How often the watched files are checked.
const POLL: Duration = Duration::from_millis(5);
/// How long files must stay unchanged before a change is deployed (an editor's save can be
/// several writes).
const SETTLE: Duration = Duration::from_millis(5);

/// What `dev` needs besides the stack.
pub(crate) struct DevOptions {
    /// The session options (stage, state directory, password, concurrency).
    pub session: SessionOptions,
    /// The Workers port; `None`: the one recorded for the local emulator (8787 at first).
    pub port: Option<u16>,
    /// The local emulator's data directory.
    pub local_dir: std::path::PathBuf,
    /// Live progress lines for the first deploy.
    pub live: bool,
}

/// Runs `dev` until Ctrl-C (or SIGTERM).
pub(crate) async fn run(stack: Stack, options: DevOptions) -> Result<ExitCode> {
    let workerd = Workerd::locate(&stack.root).map_err(|e| Error::Dev {
        message: format!("{e}\n(`deploy` still works without it: it stores Workers in the local emulator without running them)"),
    })?;
    let target = Target::local_serving(&options.local_dir, workerd, options.port).await?;
    let emulator = target.emulator().expect("a local target has an emulator");
    eprintln!(
        "{} (dev: Workers run on workerd)",
        target.headline(&stack.app, &options.session.stage)
    );
    let printer = tokio::spawn(print_events(emulator.worker_events()));

    let progress = Arc::new(Progress::new(options.live));
    let ticker = progress.start_ticker(TICK);
    let provider = target.provider.clone();
    let first_session = Session::new(stack.clone(), provider.clone(), options.session.clone())
        .with_observer(progress.clone());
    // Reloads report in one line each; the first deploy's table is enough.
    let session = Session::new(stack, provider, options.session).with_observer(Arc::new(Silent));
    let first = first_session.deploy_with_plan().await;
    if let Some(ticker) = ticker {
        ticker.stop().await;
    }
    let table = progress.finish();
    if !table.is_empty() {
        eprint!("{table}");
    }
    let outcome = match first {
        Ok((plan, outputs)) => {
            let status = emulator.workers_ready().await.unwrap_or_default();
            println!("Deployed: {}", plan.summary());
            print!("{}", outputs::render(&outputs));
            print_status(emulator, &status);
            for line in schedule_lines(session.stack(), &outputs, emulator) {
                println!("{line}");
            }
            println!("Watching the Workers' code; Ctrl-C to stop.");
            watch(session, emulator).await
        }
        Err(e) => Err(e),
    };
    target.shutdown().await;
    printer.abort();
    eprintln!(
        "dev stopped; the local data stays in {}",
        options.local_dir.display()
    );
    outcome
}

/// Deploys again whenever a watched file changes, until Ctrl-C.
async fn watch(session: Session, emulator: &Emulator) -> Result<ExitCode> {
    let mut watched = Watched::of(session.stack());
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return Ok(ExitCode::SUCCESS),
            () = tokio::time::sleep(POLL) => {}
        }
        let changed = watched.changed();
        if changed.is_empty() {
            continue;
        }
        // Let the editor finish writing.
        loop {
            tokio::time::sleep(SETTLE).await;
            if watched.changed().is_empty() {
                break;
            }
        }
        let started = Instant::now();
        match session.deploy_with_plan().await {
            Ok((plan, _)) => {
                let status = emulator.workers_ready().await.unwrap_or_default();
                let redeployed: Vec<&str> = plan
                    .steps
                    .iter()
                    .filter(|s| s.action != crate::plan::Action::Keep)
                    .map(|s| s.id.as_str())
                    .collect();
                let what = if redeployed.is_empty() {
                    "nothing changed".to_owned()
                } else {
                    format!("redeployed {}", redeployed.join(", "))
                };
                eprintln!(
                    "[dev] {} changed: {what} in {} ms",
                    changed.join(", "),
                    started.elapsed().as_millis()
                );
                for (worker, why) in &status.failed {
                    eprintln!("[dev] {worker} is not served: {why}");
                }
            }
            Err(e) => eprintln!(
                "[dev] {} changed, and the deploy failed: {}",
                changed.join(", "),
                e.report()
            ),
        }
        // Imports may have changed: watch the graph as it is now.
        watched = Watched::of(session.stack());
    }
}

/// Prints each running account Worker's URL and each Worker that does not run.
fn print_status(emulator: &Emulator, status: &athanor_emulator::WorkersStatus) {
    for worker in status.running.iter().filter(|w| !w.contains('/')) {
        if let Some(url) = emulator.worker_url(worker) {
            println!("  {worker}  {url}");
        }
    }
    for (worker, why) in &status.failed {
        eprintln!("[dev] {worker} is not served: {why}");
    }
    for note in &status.notes {
        eprintln!("[dev] note: {note}");
    }
}

/// For each account Worker with Cron Triggers, the request that runs its `scheduled()` handler
/// now, as each trigger would.
fn schedule_lines(stack: &Stack, outputs: &outputs::Outputs, emulator: &Emulator) -> Vec<String> {
    let mut lines = Vec::new();
    for r in &stack.resources {
        let Props::Worker(w) = &r.props else { continue };
        let Some(athanor_core::Output::Worker(o)) = outputs.get(&r.id) else {
            continue;
        };
        if w.namespace.is_some() {
            continue;
        }
        let Some(url) = emulator.worker_url(&o.name) else {
            continue;
        };
        for cron in &w.crons {
            lines.push(format!(
                "  {}  cron \"{cron}\": curl \"{url}/cdn-cgi/handler/scheduled?cron={}\"",
                o.name,
                cron.replace(' ', "+")
            ));
        }
    }
    lines
}

/// Prints Worker logs and exceptions (stdout) and workerd's own messages (stderr).
async fn print_events(mut events: tokio::sync::broadcast::Receiver<WorkerEvent>) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(event @ (WorkerEvent::Log { .. } | WorkerEvent::Exception { .. })) => {
                println!("{event}");
            }
            Ok(event @ WorkerEvent::Runtime { .. }) => eprintln!("{event}"),
            Ok(WorkerEvent::Started(_)) => {}
            Err(RecvError::Lagged(n)) => eprintln!("[dev] {n} Worker log lines were dropped"),
            Err(RecvError::Closed) => break,
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// A file's modification time and length, `None` when it cannot be read: a change of either is
/// a save.
type Stamp = Option<(SystemTime, u64)>;

/// The files of every Worker's module graph, with their last modification.
struct Watched {
    /// File -> (the logical ids of the Workers it belongs to, its stamp).
    files: BTreeMap<PathBuf, (Vec<String>, Stamp)>,
}

impl Watched {
    /// The module graphs of `stack`'s Workers as they are now (a Worker whose graph cannot be
    /// read, say for a syntax error, is watched through its entrypoint).
    fn of(stack: &Stack) -> Watched {
        let mut files: BTreeMap<PathBuf, (Vec<String>, Stamp)> = BTreeMap::new();
        for resource in &stack.resources {
            let Props::Worker(worker) = &resource.props else {
                continue;
            };
            let sources = watched_sources(stack, &worker.code);
            for file in sources {
                let entry = files
                    .entry(file.clone())
                    .or_insert_with(|| (Vec::new(), stamp(&file)));
                entry.0.push(resource.id.clone());
            }
        }
        Watched { files }
    }

    /// The Workers whose files changed since the last call (and records the new times).
    fn changed(&mut self) -> Vec<String> {
        let mut workers: Vec<String> = Vec::new();
        for (file, (ids, seen)) in &mut self.files {
            let now = stamp(file);
            if now != *seen {
                *seen = now;
                for id in ids {
                    if !workers.contains(id) {
                        workers.push(id.clone());
                    }
                }
            }
        }
        workers
    }
}

/// The files of a Worker's code: a JavaScript or TypeScript module graph, or a Rust crate's
/// manifest and sources (read without building); none for inline code. A graph that cannot be read (a syntax error) is
/// watched through its entrypoint, so that the save that mends it is seen.
fn watched_sources(stack: &Stack, code: &WorkerCode) -> Vec<PathBuf> {
    match code {
        WorkerCode::Entrypoint(entry) => {
            athanor_cloudflare::modules::collect(&stack.root, code, &|_| {})
                .map(|m| m.sources)
                .unwrap_or_else(|_| vec![stack.root.join(entry)])
        }
        WorkerCode::Crate(dir) => athanor_cloudflare::modules::crate_sources(&stack.root.join(dir)),
        // Given as bytes: no file to watch.
        WorkerCode::Inline(_) => Vec::new(),
    }
}

/// A file's [`Stamp`].
fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use athanor_core::Resource;
    use athanor_core::stack::Worker;

    #[test]
    fn a_saved_import_marks_its_worker_changed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("index.js"),
            "import { hi } from './lib.js';\nexport default { fetch() { return new Response(hi); } };\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("lib.js"), "export const hi = 'hi';\n").unwrap();
        let stack = Stack::new("app", dir.path()).with(Resource::new(
            "api",
            Worker {
                code: WorkerCode::Entrypoint("index.js".into()),
                ..Worker::default()
            },
        ));
        let mut watched = Watched::of(&stack);
        assert_eq!(watched.files.len(), 2);
        assert!(watched.changed().is_empty());
        // A change of length is seen even within the file system's timestamp granularity.
        std::fs::write(dir.path().join("lib.js"), "export const hi = 'hello';\n").unwrap();
        assert_eq!(watched.changed(), ["api"]);
        assert!(watched.changed().is_empty());
    }
}
