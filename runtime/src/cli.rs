//! The command line of a stack binary: `athanor::cli::run(stack())`.
//!
//! Commands: `plan`, `deploy`, `dev`, `destroy`, `types`, `outputs`,
//! `state list|show|forget|migrate`. Flags: `--stage` (default `ATHANOR_STAGE`, else the user
//! name, else `dev`), `--state` (default `ATHANOR_STATE`, else the local directory), `--yes`,
//! `--json`, `--concurrency`, `--refresh`, `-v`, `--force-unlock`, `--lock-timeout`, and
//! `plan --detailed-exitcode`. The
//! first line (on stderr) names the target and the stage; results go to stdout, progress to
//! stderr (live lines on a terminal, plain lines otherwise). `destroy` asks for confirmation when
//! stdin is a terminal, unless `--yes`. Exit codes: 0 success, 1 failure (a declined `destroy`
//! included: nothing was deleted), 2 usage error (or, with `plan --detailed-exitcode`, changes
//! present).

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use secrecy::SecretString;
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use athanor_core::Stack;

use crate::dev::{self, DevOptions};
use crate::error::{Error, Result};
use crate::outputs;
use crate::session::{DEFAULT_CONCURRENCY, Session, SessionOptions};
use crate::state::{self, LockOptions, StateLocation, StateStore};
use crate::target::{Target, TargetKind, ci_guard};
use crate::terminal::{Progress, TICK};

#[derive(Debug, Parser)]
#[command(
    about = "Plan, deploy and destroy this stack's Cloudflare resources.",
    long_about = "Plan, deploy and destroy this stack's Cloudflare resources.\n\nWith CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_KEY + CLOUDFLARE_EMAIL) set, the target is Cloudflare; without, an embedded local emulator. Secrets in state are encrypted with ATHANOR_PASSWORD. State lives in .athanor/ beside the stack's crate (or ATHANOR_STATE_DIR), or where --state / ATHANOR_STATE says: a directory, s3://bucket/prefix, r2://bucket/prefix or postgres://user@host/db, so that a team shares one state and one lock."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The stage to work on [default: ATHANOR_STAGE, else the user name, else `dev`].
    #[arg(long, global = true, value_parser = clap::builder::NonEmptyStringValueParser::new())]
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
    /// More logging (-v: debug, -vv: trace, -vvv: the embedded emulator's debug lines too).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Remove the stage lock left by another run first (only when that run is known gone).
    #[arg(long, global = true)]
    force_unlock: bool,
    /// Where state and its lock live: a directory, s3://bucket/prefix, r2://bucket/prefix or
    /// postgres://user@host/db [default: ATHANOR_STATE, else .athanor/ beside the crate].
    #[arg(long, global = true, env = "ATHANOR_STATE", hide_env_values = true)]
    state: Option<String>,
    /// Wait up to this many seconds for a stage lock another run holds, instead of stopping at
    /// once.
    #[arg(long, global = true, default_value_t = 0, value_name = "SECONDS")]
    lock_timeout: u64,
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
    /// Deploy to the local emulator, run the Workers on workerd, and redeploy on every save.
    Dev {
        /// The port Workers answer on (`http://NAME.localhost:PORT`) [default: the one recorded
        /// for the local emulator, 8787 at first; 0 picks a free one].
        #[arg(long)]
        port: Option<u16>,
    },
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
    /// Copy this stage's state to another store (the copy here is kept until you remove it).
    Migrate {
        /// Where to: a directory, s3://bucket/prefix, r2://bucket/prefix or
        /// postgres://user@host/db.
        #[arg(long)]
        to: String,
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
            eprintln!("error: {}", e.report());
            ExitCode::FAILURE
        }
    }
}

/// What each `-v` shows. The embedded emulator's debug lines come at -vvv only: they would come
/// before the first line, which names the target (and the emulator's address).
fn log_filter(verbose: u8) -> tracing_subscriber::filter::Targets {
    let filter = match verbose {
        0 => "warn",
        1 => "athanor_runtime=debug,athanor_cloudflare=debug,athanor_emulator=info,warn",
        2 => "athanor_runtime=trace,athanor_cloudflare=trace,athanor_emulator=info,info",
        _ => "athanor_runtime=trace,athanor_cloudflare=trace,athanor_emulator=debug,info",
    };
    filter.parse().expect("the filters above are valid")
}

fn init_logging(verbose: u8) {
    let filter = log_filter(verbose);
    // The builder's own level (INFO unless told) comes before the filter: let everything through
    // to it.
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .finish()
        .with(filter)
        .try_init();
}

/// The stage: `--stage`, else `ATHANOR_STAGE`, else the user name, else `dev`.
fn stage(flag: Option<String>) -> String {
    stage_from(flag, |name| std::env::var(name).ok())
}

/// [`stage`] with the environment read through `env`. A blank value counts as unset, so an empty
/// `ATHANOR_STAGE` falls through to the user name (`USER`, `USERNAME` on Windows, `LOGNAME`).
fn stage_from(flag: Option<String>, env: impl Fn(&str) -> Option<String>) -> String {
    std::iter::once(flag)
        .chain(["ATHANOR_STAGE", "USER", "USERNAME", "LOGNAME"].map(env))
        .flatten()
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
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
    let location = state_location(&cli, &stack.root)?;
    let store = StateStore::new(&location, &stack.app, &stage);
    match &cli.command {
        Command::Plan { detailed_exitcode } => {
            let detailed_exitcode = *detailed_exitcode;
            online(
                stack,
                &cli,
                &stage,
                &base,
                &location,
                async |session, _, _| plan(session, &cli, detailed_exitcode).await,
            )
            .await
        }
        Command::Deploy => {
            online(
                stack,
                &cli,
                &stage,
                &base,
                &location,
                async |session, progress, target| deploy(session, &cli, progress, target).await,
            )
            .await
        }
        Command::Destroy => {
            online(
                stack,
                &cli,
                &stage,
                &base,
                &location,
                async |session, progress, _| destroy(session, &cli, progress).await,
            )
            .await
        }
        Command::Dev { port } => {
            let options = DevOptions {
                // The local emulator is this machine's: so is the state of what runs on it.
                session: session_options(&cli, &stage, &StateLocation::Local(base.clone())),
                local_dir: base.join("local"),
                port: *port,
                live: live_progress(std::io::stderr().is_terminal(), cli.verbose),
            };
            dev::run(stack, options).await
        }
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
            Ok(ExitCode::SUCCESS)
        }
        Command::Outputs => {
            headline_offline(&stack.app, &stage);
            let recorded = outputs::from_state(&store.load().await?);
            print_outputs(&recorded, cli.json);
            let local = matches!(athanor_cloudflare::ClientConfig::from_env(), Ok(None));
            if local && recorded.values().any(|o| o.url().is_some()) && !cli.json {
                eprintln!("{}", local_workers_note(&stack.root));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::State { command } => {
            headline_offline(&stack.app, &stage);
            state_command(&stack, &store, &stage, command, &cli).await
        }
    }
}

/// Runs `command` against the target: connects (Cloudflare, or the embedded emulator), says
/// which on the first line, draws progress, and reports what the run cost the emulator.
async fn online(
    stack: Stack,
    cli: &Cli,
    stage: &str,
    base: &Path,
    location: &StateLocation,
    command: impl AsyncFnOnce(&Session, &Progress, &Target) -> Result<ExitCode>,
) -> Result<ExitCode> {
    let target = Target::connect(base).await?;
    eprintln!("{}", target.headline(&stack.app, stage));
    if !location.is_local() {
        eprintln!("state: {location}");
    }
    if target.kind == TargetKind::Cloudflare
        && let Some(dir) = StateStore::new(location, &stack.app, stage).dir()
    {
        ci_guard(target.kind, dir)?;
    }
    let progress = Arc::new(Progress::new(live_progress(
        std::io::stderr().is_terminal(),
        cli.verbose,
    )));
    // On a terminal, elapsed times count up between events too.
    let ticker = progress.start_ticker(TICK);
    let session = Session::new(
        stack,
        target.provider.clone(),
        session_options(cli, stage, location),
    )
    .with_observer(progress.clone());
    let result = command(&session, &progress, &target).await;
    if let Some(ticker) = ticker {
        ticker.stop().await;
    }
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

/// The session options the flags and the environment give.
fn session_options(cli: &Cli, stage: &str, location: &StateLocation) -> SessionOptions {
    SessionOptions {
        stage: stage.to_owned(),
        state: Some(location.clone()),
        concurrency: usize::from(cli.concurrency),
        password: password(),
        refresh: cli.refresh,
        force_unlock: cli.force_unlock,
        lock_timeout: Duration::from_secs(cli.lock_timeout),
    }
}

/// Where state lives: `--state` (or `ATHANOR_STATE`), else the local directory.
fn state_location(cli: &Cli, root: &Path) -> Result<StateLocation> {
    match cli.state.as_deref() {
        Some(setting) => StateLocation::parse(setting, root),
        None => Ok(StateLocation::default_for(root)),
    }
}

/// How a state command takes the stage lock.
fn lock_options(cli: &Cli) -> LockOptions {
    LockOptions::new(cli.force_unlock, Duration::from_secs(cli.lock_timeout))
}

/// What a deploy to the local emulator leaves: Workers stored, not running, and how to run them.
fn local_workers_note(root: &Path) -> String {
    match athanor_emulator::Workerd::locate(root) {
        Ok(_) => "The local emulator stores the Workers; `dev` runs them and serves their URLs."
            .to_owned(),
        Err(missing) => format!(
            "The local emulator stores the Workers without running them: {missing}; then `dev` serves their URLs."
        ),
    }
}

async fn plan(session: &Session, cli: &Cli, detailed_exitcode: bool) -> Result<ExitCode> {
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

async fn deploy(
    session: &Session,
    cli: &Cli,
    progress: &Progress,
    target: &Target,
) -> Result<ExitCode> {
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
    if target.kind == TargetKind::Emulator {
        eprintln!("{}", local_workers_note(&session.stack().root));
    }
    Ok(ExitCode::SUCCESS)
}

async fn destroy(session: &Session, cli: &Cli, progress: &Progress) -> Result<ExitCode> {
    let count = session.state().await?.records.len();
    if count == 0 {
        println!("Nothing to destroy in stage `{}`.", session.stage());
        return Ok(ExitCode::SUCCESS);
    }
    if !cli.yes && std::io::stdin().is_terminal() {
        let confirmed = confirm(
            &session.stack().app,
            session.stage(),
            count,
            &mut std::io::stdin().lock(),
            &mut std::io::stderr(),
        )?;
        if !confirmed {
            // Not a success: what was asked for did not happen.
            eprintln!("Destroy cancelled: nothing was deleted.");
            return Ok(ExitCode::FAILURE);
        }
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

/// Asks on `prompt` whether to delete the `count` resources of `app`/`stage`; `yes` or `y` on
/// `input` confirms, anything else (an empty line, end of input) cancels.
fn confirm(
    app: &str,
    stage: &str,
    count: usize,
    input: &mut impl BufRead,
    prompt: &mut impl Write,
) -> Result<bool> {
    let _ = write!(
        prompt,
        "Delete all {count} resources of app `{app}`, stage `{stage}`? Type `yes` to confirm: "
    );
    let _ = prompt.flush();
    let mut answer = String::new();
    input
        .read_line(&mut answer)
        .map_err(|e| Error::io("read", "stdin", e))?;
    let answer = answer.trim();
    Ok(answer.eq_ignore_ascii_case("yes") || answer.eq_ignore_ascii_case("y"))
}

/// Whether progress is drawn as live lines: on a terminal, unless `-v` logs go there too (a log
/// line between two redraws would be erased in place of a live line).
fn live_progress(stderr_is_terminal: bool, verbose: u8) -> bool {
    stderr_is_terminal && verbose == 0
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

async fn state_command(
    stack: &Stack,
    store: &StateStore,
    stage: &str,
    command: &StateCommand,
    cli: &Cli,
) -> Result<ExitCode> {
    let not_found = |id: &str| Error::NotInState {
        id: id.to_owned(),
        stage: stage.to_owned(),
    };
    match command {
        StateCommand::List => {
            let snapshot = store.load().await?;
            if cli.json {
                let list: Vec<_> = snapshot
                    .records
                    .values()
                    .map(|r| json!({ "id": r.id, "kind": r.kind.as_str(), "name": r.name, "status": r.status }))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list).expect("json"));
            } else if snapshot.records.is_empty() {
                println!("State of stage `{stage}` is empty ({}).", store.location());
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
            // A record holds no secret value, only keyed digests of them.
            let record = store.load_record(id).await?.ok_or_else(|| not_found(id))?;
            println!(
                "{}",
                serde_json::to_string_pretty(&record).expect("records serialize")
            );
        }
        StateCommand::Forget { id } => {
            state::forget(store, id, lock_options(cli)).await?;
            println!("Forgot `{id}`: it is no longer managed by this stage, and was not deleted.");
        }
        StateCommand::Migrate { to } => {
            let to = StateLocation::parse(to, &stack.root)?;
            let target = StateStore::new(&to, &stack.app, stage);
            let copied = state::migrate(store, &target, lock_options(cli)).await?;
            if cli.json {
                println!(
                    "{}",
                    json!({ "from": store.location(), "to": target.location(), "records": copied })
                );
            } else {
                println!(
                    "Copied the state of stage `{stage}` ({copied} records) from {} to {}. The copy at {} is kept: run with --state {to} from now on, and remove the old copy when you no longer need it.",
                    store.location(),
                    target.location(),
                    store.location(),
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    #[test]
    fn each_verbosity_shows_athanor_first_and_the_rest_later() {
        let shows = |v: u8, target: &str, level: Level| log_filter(v).would_enable(target, &level);
        assert!(shows(0, "athanor_runtime::apply", Level::WARN));
        assert!(!shows(0, "athanor_runtime::apply", Level::INFO));
        assert!(shows(1, "athanor_cloudflare::client", Level::DEBUG));
        assert!(!shows(1, "athanor_emulator::routes", Level::DEBUG));
        assert!(!shows(1, "hyper_util::client", Level::INFO));
        assert!(shows(2, "athanor_runtime::apply", Level::TRACE));
        assert!(shows(2, "hyper_util::client", Level::INFO));
        assert!(shows(3, "athanor_emulator::routes", Level::DEBUG));
    }

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
    fn the_stage_comes_from_the_flag_then_athanor_stage_then_the_user_then_dev() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let all = env(&[("ATHANOR_STAGE", "staging"), ("USER", "ada")]);
        assert_eq!(stage_from(Some("prod".into()), all), "prod");
        assert_eq!(stage_from(None, all), "staging");
        assert_eq!(stage_from(None, env(&[("USER", "ada")])), "ada");
        assert_eq!(stage_from(None, env(&[("USERNAME", "grace")])), "grace");
        assert_eq!(stage_from(None, env(&[("LOGNAME", "alan")])), "alan");
        // Blank values count as unset.
        let blank = env(&[("ATHANOR_STAGE", " "), ("USER", "ada")]);
        assert_eq!(stage_from(None, blank), "ada");
        assert_eq!(stage_from(None, env(&[])), "dev");
        assert!(!stage(None).is_empty());
        assert!(Cli::try_parse_from(["s", "plan", "--stage", ""]).is_err());
    }

    #[test]
    fn live_lines_only_on_a_terminal_without_logs() {
        assert!(live_progress(true, 0));
        assert!(!live_progress(true, 1));
        assert!(!live_progress(false, 0));
    }

    #[test]
    fn destroy_goes_ahead_only_on_yes() {
        for (answer, expected) in [
            ("yes\n", true),
            ("y\n", true),
            ("YES\r\n", true),
            ("no\n", false),
            ("\n", false),
            ("", false),
            ("yess\n", false),
        ] {
            let mut prompt = Vec::new();
            let confirmed = confirm("app", "prod", 3, &mut answer.as_bytes(), &mut prompt).unwrap();
            assert_eq!(confirmed, expected, "answer {answer:?}");
            let prompt = String::from_utf8(prompt).unwrap();
            assert_eq!(
                prompt,
                "Delete all 3 resources of app `app`, stage `prod`? Type `yes` to confirm: "
            );
        }
    }
}
