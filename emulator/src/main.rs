//! `athanor-emulator`: the local Cloudflare v4 API as a standalone process.
//!
//! `athanor-emulator --port 8787 --data DIR [--token T] [--account-id ID] [--workers-port P]
//! [--no-workers]` prints lines a shell can `eval` (base URL, token, account id), then serves until
//! Ctrl-C or SIGTERM; with workerd installed, the Workers deployed to it answer on the Workers
//! port (also printed, as `ATHANOR_WORKERS_PORT`), and what they log is printed.

use std::path::PathBuf;
use std::process::ExitCode;

use athanor_emulator::{Config, Emulator, Workerd, WorkersConfig};

const USAGE: &str =
    "usage: athanor-emulator [--port PORT] [--data DIR] [--token TOKEN] [--account-id ID]
                        [--workers-port PORT] [--no-workers]

Serves a local emulator of the Cloudflare v4 API on 127.0.0.1 (loopback only), and runs the
Workers deployed to it on workerd.

  --port PORT           port of the API (default 8787; 0 picks a free one)
  --data DIR            directory holding the emulator's data (default .athanor/local)
  --token TOKEN         API token to accept (default: a generated one)
  --account-id ID       account id, 32 lowercase hex characters (default: a fixed one)
  --workers-port PORT   port deployed Workers answer on, as http://NAME.localhost:PORT
                        (default 8788; 0 picks a free one)
  --no-workers          store Workers without running them

workerd is found through ATHANOR_WORKERD, node_modules/.bin/workerd in the current directory or a
parent, or PATH; without it the emulator stores Workers without running them, and says so.

On start it prints `export CLOUDFLARE_API_BASE_URL=...`, `export CLOUDFLARE_API_TOKEN=...`,
`export CLOUDFLARE_ACCOUNT_ID=...` and, when it serves Workers, `export ATHANOR_WORKERS_PORT=...`,
so `eval \"$(athanor-emulator ... &)\"`-style scripts can use it.";

/// The parsed command line.
struct Options {
    config: Config,
    /// Serve Workers on this port (`None` with `--no-workers`).
    workers_port: Option<u16>,
}

/// Parses the command line by hand: six options, no dependencies.
fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut config = Config::new(".athanor/local");
    config.port = 8787;
    let mut workers_port = Some(8788);
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let port = |v: String| {
            v.parse::<u16>()
                .map_err(|_| format!("{flag} {v:?} is not a port number (0-65535)"))
        };
        match flag.as_str() {
            "--port" => config.port = port(value()?)?,
            "--workers-port" => workers_port = Some(port(value()?)?),
            "--no-workers" => workers_port = None,
            "--data" => config.data_dir = PathBuf::from(value()?),
            "--token" => config.token = Some(value()?),
            "--account-id" => config.account_id = Some(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Options {
        config,
        workers_port,
    })
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("athanor-emulator: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("athanor-emulator: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(options))
}

async fn serve(options: Options) -> ExitCode {
    let Options {
        mut config,
        workers_port,
    } = options;
    let data = config.data_dir.clone();
    if let Some(port) = workers_port {
        let here = std::env::current_dir().unwrap_or_default();
        match Workerd::locate(&here) {
            Ok(workerd) => config.workers = Some(WorkersConfig { workerd, port }),
            Err(missing) => eprintln!("# athanor-emulator: Workers are stored, not run: {missing}"),
        }
    }
    let emulator = match Emulator::start(config).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("athanor-emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("export CLOUDFLARE_API_BASE_URL={}", emulator.base_url());
    println!("export CLOUDFLARE_API_TOKEN={}", emulator.token());
    println!("export CLOUDFLARE_ACCOUNT_ID={}", emulator.account_id());
    eprintln!(
        "# athanor-emulator: serving the Cloudflare v4 API at {} (data in {}); Ctrl-C to stop",
        emulator.base_url(),
        data.display()
    );
    if let Some(port) = emulator.workers_port() {
        println!("export ATHANOR_WORKERS_PORT={port}");
        eprintln!(
            "# athanor-emulator: deployed Workers answer at http://NAME.localhost:{port} (or with Host NAME.<anything>)"
        );
        let mut events = emulator.worker_events();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => eprintln!("{event}"),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        eprintln!(
                            "# athanor-emulator: {n} Worker events were dropped (printing fell behind)"
                        );
                    }
                    Err(_) => break,
                }
            }
        });
    }
    wait_for_signal().await;
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn args(s: &str) -> impl Iterator<Item = String> {
        s.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn parses_every_option() {
        let o = parse(args(
            "--port 9000 --data /tmp/x --token t --account-id=abc --workers-port 9001",
        ))
        .unwrap();
        let c = &o.config;
        assert_eq!(c.port, 9000);
        assert_eq!(c.data_dir, std::path::PathBuf::from("/tmp/x"));
        assert_eq!(c.token.as_deref(), Some("t"));
        assert_eq!(c.account_id.as_deref(), Some("abc"));
        assert_eq!(o.workers_port, Some(9001));
        let defaults = parse(args("")).unwrap();
        assert_eq!(defaults.config.port, 8787);
        assert_eq!(defaults.workers_port, Some(8788));
        assert_eq!(parse(args("--no-workers")).unwrap().workers_port, None);
    }

    #[test]
    fn refuses_bad_input() {
        assert!(parse(args("--port nope")).is_err());
        assert!(parse(args("--workers-port 70000")).is_err());
        assert!(parse(args("--port")).is_err());
        assert!(parse(args("--bogus 1")).is_err());
        assert_eq!(parse(args("--help")).err().as_deref(), Some(""));
    }
}
