//! The platform binary.
//!
//! - `platform deploy | plan | destroy | outputs | ...`: athanor's command line for the
//!   platform's own stack (the dispatch namespace and the dispatcher Worker); deploy it first.
//! - `platform serve [--port N]`: the tenants API (see the library's documentation) on
//!   `127.0.0.1:N` (8080 by default), applying customers to the same target and state the command
//!   line uses: Cloudflare when `CLOUDFLARE_API_TOKEN` (or `CLOUDFLARE_API_KEY` +
//!   `CLOUDFLARE_EMAIL`) is set, else the embedded local emulator (which stores Workers without
//!   running them); state where `ATHANOR_STATE` says (a directory, `s3://`, `r2://`,
//!   `postgres://`), else `ATHANOR_STATE_DIR`, else `.athanor/` beside this crate. Each customer
//!   is a stage `tenant-<id>` of the app `platform`, beside the platform's own stages.
//!   `ATHANOR_PASSWORD` is passed on, should a template ever hold secrets.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use athanor::runtime::{StateLocation, Target, TenantsOptions};

/// The port `serve` listens on when `--port` is not given.
const DEFAULT_PORT: u16 = 8080;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("serve") {
        return athanor::cli::run(platform::platform::stack());
    }
    let port = match port(&args[1..]) {
        Ok(port) => port,
        Err(message) => {
            eprintln!("platform serve: {message}\nusage: platform serve [--port N]");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("platform serve: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(port)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("platform serve: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The port of `serve`'s arguments: `--port N` or `--port=N`, else [`DEFAULT_PORT`].
fn port(args: &[String]) -> Result<u16, String> {
    let value = match args {
        [] => return Ok(DEFAULT_PORT),
        [flag, value] if flag == "--port" => value.as_str(),
        [flag] if flag.starts_with("--port=") => &flag["--port=".len()..],
        _ => return Err(format!("unexpected arguments {args:?}")),
    };
    value
        .parse()
        .map_err(|_| format!("--port takes a port number, not {value:?}"))
}

/// Connects to the target, then serves the tenants API until Ctrl-C.
async fn serve(port: u16) -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let state = match std::env::var("ATHANOR_STATE") {
        Ok(setting) if !setting.trim().is_empty() => {
            StateLocation::parse(&setting, root).map_err(|e| e.report())?
        }
        _ => StateLocation::default_for(root),
    };
    // The same directory the command line gives the local emulator, so `serve` meets what
    // `deploy` made there.
    let base = match std::env::var_os("ATHANOR_STATE_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => root.join(".athanor"),
    };
    let target = Target::connect(&base).await.map_err(|e| e.report())?;
    let mut options = TenantsOptions::new(state.clone());
    if let Ok(password) = std::env::var("ATHANOR_PASSWORD")
        && !password.is_empty()
    {
        options = options.password(password);
    }
    let tenants = Arc::new(platform::tenants(target.provider.clone(), options));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    eprintln!(
        "platform: target {}, state {state}\nplatform: the tenants API is on http://{address}/tenants (Ctrl-C or SIGTERM stops it)",
        target.description
    );
    let served = axum::serve(listener, platform::router(tenants))
        .with_graceful_shutdown(stopped())
        .await
        .map_err(|e| format!("serving failed: {e}"));
    target.shutdown().await;
    served
}

/// Resolves on Ctrl-C, or on SIGTERM (how a container or a service manager stops a process), so
/// requests in flight finish and the local emulator stops cleanly.
async fn stopped() {
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
