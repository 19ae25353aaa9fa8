//! `athanor-emulator`: the local Cloudflare v4 API as a standalone process.
//!
//! `athanor-emulator --port 8787 --data DIR [--token T] [--account-id ID]` prints lines a shell
//! can `eval` (base URL, token, account id), then serves until Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use athanor_emulator::{Config, Emulator};

const USAGE: &str = "usage: athanor-emulator [--port PORT] [--data DIR] [--token TOKEN] [--account-id ID]

Serves a local emulator of the Cloudflare v4 API on 127.0.0.1 (loopback only).

  --port PORT        port to listen on (default 8787; 0 picks a free one)
  --data DIR         directory holding the emulator's SQLite database (default .athanor/local)
  --token TOKEN      API token to accept (default: a generated one)
  --account-id ID    account id, 32 lowercase hex characters (default: a fixed one)

On start it prints `export CLOUDFLARE_API_BASE_URL=...`, `export CLOUDFLARE_API_TOKEN=...` and
`export CLOUDFLARE_ACCOUNT_ID=...`, so `eval \"$(athanor-emulator ... &)\"`-style scripts can use it.";

/// Parses the command line by hand: four options, no dependencies.
fn parse(args: impl Iterator<Item = String>) -> Result<Config, String> {
    let mut config = Config::new(".athanor/local");
    config.port = 8787;
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
        match flag.as_str() {
            "--port" => {
                let v = value()?;
                config.port = v
                    .parse()
                    .map_err(|_| format!("--port {v:?} is not a port number (0-65535)"))?;
            }
            "--data" => config.data_dir = PathBuf::from(value()?),
            "--token" => config.token = Some(value()?),
            "--account-id" => config.account_id = Some(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(config)
}

fn main() -> ExitCode {
    let config = match parse(std::env::args().skip(1)) {
        Ok(c) => c,
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
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> ExitCode {
    let data = config.data_dir.clone();
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
        let c = parse(args("--port 9000 --data /tmp/x --token t --account-id=abc")).unwrap();
        assert_eq!(c.port, 9000);
        assert_eq!(c.data_dir, std::path::PathBuf::from("/tmp/x"));
        assert_eq!(c.token.as_deref(), Some("t"));
        assert_eq!(c.account_id.as_deref(), Some("abc"));
        assert_eq!(parse(args("")).unwrap().port, 8787);
    }

    #[test]
    fn refuses_bad_input() {
        assert!(parse(args("--port nope")).is_err());
        assert!(parse(args("--port")).is_err());
        assert!(parse(args("--bogus 1")).is_err());
        assert_eq!(parse(args("--help")).unwrap_err(), "");
    }
}
