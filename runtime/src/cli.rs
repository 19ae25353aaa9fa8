//! The command line of a stack binary: `athanor::cli::run(stack())`.
//!
//! Commands: `plan`, `deploy`, `destroy`, `types`, `outputs`, `state list|show|forget`. Flags:
//! `--stage` (default `ATHANOR_STAGE`, else the user name, else `dev`), `--yes`, `--json`,
//! `--concurrency`, `--refresh`, `-v`, `--force-unlock`, and `plan --detailed-exitcode`. The
//! first line (on stderr) names the target and the stage; results go to stdout, progress to
//! stderr. Exit codes: 0 success, 1 failure, 2 usage error (or, with `plan
//! --detailed-exitcode`, changes present).

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use secrecy::SecretString;
use serde_json::json;

use athanor_core::Stack;

use crate::error::{Error, Result};
use crate::lock::StageLock;
use crate::outputs;
use crate::session::{DEFAULT_CONCURRENCY, Session, SessionOptions};
use crate::state::{self, StateStore};
use crate::target::{Target, TargetKind, ci_guard};
use crate::terminal::Progress;

#[derive(Debug, Parser)]
#[command(
    about = "Plan, deploy and destroy this stack's Cloudflare resources.",
    long_about = "Plan, deploy and destroy this stack's Cloudflare resources.\n\nWith CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_KEY + CLOUDFLARE_EMAIL) set, the target is Cloudflare; without, an embedded local emulator. Secrets in state are encrypted with ATHANOR_PASSWORD. State lives in .athanor/ beside the stack's crate, or in ATHANOR_STATE_DIR."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The stage to work on [default: ATHANOR_STAGE, else the user name, else `dev`].
    #[arg(long, global = true)]
    stage: Option<String>,
    /// Do not ask before destroying.
    #[arg(long, short = 'y', global = true)]
    yes: bool,
    /// Print results as JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Resources in flight at once.
    #[arg(long, global = true, default_value_t = DEFAULT_CONCURRENCY as u16, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Read the live resources first, show drift, and repair it on deploy.
    #[arg(long, global = true)]
    refresh: bool,
    /// More logging (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Remove the stage lock left by another run first (only when that run is known gone).
    #[arg(long, global = true)]
    force_unlock: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what a deploy would change.
    Plan {
        /// Exit with 2 when there are changes (0 when none, 1 on error).
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Make the target match the stack.
    Deploy,
    /// Delete every resource of the stage.
    Destroy,
    /// Write each JS/TS Worker's TypeScript `Env` declaration beside its entrypoint.
    Types,
    /// Print the recorded outputs (ids, names, URLs).
    Outputs,
    /// Inspect or edit state.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// List the recorded resources.
    List,
    /// Show one record.
    Show {
        /// The logical id.
        id: String,
    },
    /// Remove a resource from state without deleting it.
    Forget {
        /// The logical id.
        id: String,
    },
}

/// Runs the command line (`plan`, `deploy`, `destroy`, `types`, `outputs`, `state`) for `stack`.
pub fn run(stack: Stack) -> ExitCode {
    run_with_args(stack, std::env::args_os())
}

/// [`run`] with explicit arguments (the first is the program name), for tests and wrappers.
pub fn run_with_args(
    stack: Stack,
    args: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(stack, cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "athanor_runtime=debug,athanor_cloudflare=debug,athanor_emulator=info,warn",
        _ => "athanor_runtime=trace,athanor_cloudflare=trace,athanor_emulator=debug,info",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

/// The stage: `--stage`, else `ATHANOR_STAGE`, else the user name, else `dev`.
fn stage(flag: Option<String>) -> String {
    flag.or_else(|| std::env::var("ATHANOR_STAGE").ok())
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("USERNAME").ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "dev".to_owned())
}

fn password() -> Option<SecretString> {
    std::env::var("ATHANOR_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
        .map(SecretString::from)
}

async fn execute(stack: Stack, cli: Cli) -> Result<ExitCode> {
    let stage = stage(cli.stage.clone());
    let base = state::base_dir(&stack.root);
    let store = StateStore::new(&base, &stack.app, &stage);
    match &cli.command {
        Command::Plan { .. } | Command::Deploy | Command::Destroy => {}
        Command::Types => {
            headline_offline(&stack.app, &stage);
            let written = crate::types::write_all(&stack)?;
            if cli.json {
                println!("{}", json!(written));
            } else if written.is_empty() {
                println!("No JS/TS Worker declares an Env.");
            } else {
                for path in written {
                    println!("wrote {}", path.display());
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        Command::Outputs => {
            headline_offline(&stack.app, &stage);
            let recorded = outputs::from_state(&store.load()?);
            print_outputs(&recorded, cli.json);
            return Ok(ExitCode::SUCCESS);
        }
        Command::State { command } => {
            headline_offline(&stack.app, &stage);
            return state_command(&store, &stage, command, cli.json, cli.force_unlock);
        }
    }
    let target = Target::connect(&base).await?;
    eprintln!("{}", target.headline(&stack.app, &stage));
    if target.kind == TargetKind::Cloudflare {
        ci_guard(target.kind, store.dir())?;
    }
    let progress = Arc::new(Progress::new(std::io::stderr().is_terminal()));
    let options = SessionOptions {
        stage: stage.clone(),
        state_dir: Some(base.clone()),
        concurrency: usize::from(cli.concurrency),
        password: password(),
        refresh: cli.refresh,
        force_unlock: cli.force_unlock,
    };
    let session =
        Session::new(stack, target.provider.clone(), options).with_observer(progress.clone());
    let result = command(&session, &cli, &progress).await;
    if let Some(emulator) = target.emulator() {
        // What the run cost in API requests: the same calls would go to Cloudflare.
        let stats = emulator.stats();
        eprintln!(
            "emulator: {} API requests, {} mutating",
            stats.total, stats.mutating
        );
    }
    target.shutdown().await;
    result
}

async fn command(session: &Session, cli: &Cli, progress: &Progress) -> Result<ExitCode> {
    match cli.command {
        Command::Plan { detailed_exitcode } => {
            let plan = session.plan().await?;
            if cli.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&plan.to_json()).expect("json")
                );
            } else {
                print!("{}", plan.render(cli.verbose > 0));
            }
            Ok(if detailed_exitcode && plan.has_changes() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Deploy => {
            let result = session.deploy_with_plan().await;
            let table = progress.finish();
            if !table.is_empty() && !cli.json {
                eprintln!();
                eprint!("{table}");
            }
            let (plan, outputs) = result?;
            if cli.json {
                let out = json!({ "plan": plan.to_json(), "outputs": outputs::to_json(&outputs) });
                println!("{}", serde_json::to_string_pretty(&out).expect("json"));
            } else {
                println!("Deployed: {}", plan.summary());
                print!("{}", outputs::render(&outputs));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Destroy => {
            let count = session.state()?.records.len();
            if count == 0 {
                println!("Nothing to destroy in stage `{}`.", session.stage());
                return Ok(ExitCode::SUCCESS);
            }
            if !cli.yes && std::io::stdin().is_terminal() && !confirm(session, count)? {
                println!("Destroy cancelled.");
                return Ok(ExitCode::SUCCESS);
            }
            let result = session.destroy().await;
            let table = progress.finish();
            if !table.is_empty() && !cli.json {
                eprintln!();
                eprint!("{table}");
            }
            let report = result?;
            if cli.json {
                println!(
                    "{}",
                    json!({ "deleted": report.deleted, "forgotten": report.forgotten })
                );
            } else {
                println!(
                    "Destroyed: {} deleted, {} forgotten.",
                    report.deleted.len(),
                    report.forgotten.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Types | Command::Outputs | Command::State { .. } => {
            unreachable!("handled without a target")
        }
    }
}

fn confirm(session: &Session, count: usize) -> Result<bool> {
    let mut err = std::io::stderr();
    let _ = write!(
        err,
        "Delete all {count} resources of app `{}`, stage `{}`? Type `yes` to confirm: ",
        session.stack().app,
        session.stage()
    );
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::io("read", "stdin", e))?;
    Ok(matches!(answer.trim(), "yes" | "y"))
}

/// The first line for commands that do not contact the target.
fn headline_offline(app: &str, stage: &str) {
    let target = match athanor_cloudflare::ClientConfig::from_env() {
        Ok(Some(_)) => "Cloudflare (credentials set; not contacted)",
        Ok(None) => "local emulator (not started)",
        Err(_) => "Cloudflare (credentials invalid; not contacted)",
    };
    eprintln!("athanor: app `{app}`, stage `{stage}`, target {target}");
}

fn print_outputs(recorded: &outputs::Outputs, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&outputs::to_json(recorded)).expect("json")
        );
    } else if recorded.is_empty() {
        println!("No outputs: nothing deployed in this stage.");
    } else {
        print!("{}", outputs::render(recorded));
    }
}

fn state_command(
    store: &StateStore,
    stage: &str,
    command: &StateCommand,
    json: bool,
    force_unlock: bool,
) -> Result<ExitCode> {
    let not_found = |id: &str| Error::NotInState {
        id: id.to_owned(),
        stage: stage.to_owned(),
    };
    match command {
        StateCommand::List => {
            let snapshot = store.load()?;
            if json {
                let list: Vec<_> = snapshot
                    .records
                    .values()
                    .map(|r| json!({ "id": r.id, "kind": r.kind.as_str(), "name": r.name, "status": r.status }))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list).expect("json"));
            } else if snapshot.records.is_empty() {
                println!(
                    "State of stage `{stage}` is empty ({}).",
                    display(store.dir())
                );
            } else {
                for r in snapshot.records.values() {
                    let status = match r.status {
                        state::Status::Creating => "  (interrupted create)",
                        state::Status::Created => "",
                    };
                    println!("{:<24} {:<22} {}{status}", r.id, r.kind.as_str(), r.name);
                }
            }
        }
        StateCommand::Show { id } => {
            let mut record = store.load_record(id)?.ok_or_else(|| not_found(id))?;
            // Sealed values are ciphertext; their keys are all a reader needs.
            let sealed: Vec<String> = std::mem::take(&mut record.secrets).into_keys().collect();
            let mut value = serde_json::to_value(&record).expect("records serialize");
            if !sealed.is_empty() {
                value["secrets"] = json!(
                    sealed
                        .iter()
                        .map(|k| (k.clone(), json!("(sealed)")))
                        .collect::<serde_json::Map<_, _>>()
                );
            }
            println!("{}", serde_json::to_string_pretty(&value).expect("json"));
        }
        StateCommand::Forget { id } => {
            let _lock = StageLock::acquire(store.dir(), stage, force_unlock)?;
            store.load_record(id)?.ok_or_else(|| not_found(id))?;
            store.remove_record(id)?;
            println!("Forgot `{id}`: it is no longer managed by this stage, and was not deleted.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_with_2() {
        let stack = Stack::new("app", ".");
        let code = run_with_args(stack, ["stack", "launch"]);
        assert_eq!(code, ExitCode::from(2));
    }

    #[test]
    fn flags_parse_anywhere() {
        let cli = Cli::try_parse_from([
            "s",
            "plan",
            "--detailed-exitcode",
            "--stage",
            "prod",
            "-vv",
            "--json",
        ])
        .unwrap();
        assert_eq!(cli.stage.as_deref(), Some("prod"));
        assert_eq!(cli.verbose, 2);
        assert!(cli.json);
        assert!(matches!(
            cli.command,
            Command::Plan {
                detailed_exitcode: true
            }
        ));
        assert!(Cli::try_parse_from(["s", "deploy", "--concurrency", "0"]).is_err());
        let cli = Cli::try_parse_from(["s", "state", "show", "sessions"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::State {
                command: StateCommand::Show { .. }
            }
        ));
    }

    #[test]
    fn an_explicit_stage_wins() {
        assert_eq!(stage(Some("prod".into())), "prod");
        assert!(!stage(None).is_empty());
    }
}
