//! Where a command deploys: Cloudflare, or the embedded emulator when no credentials are set.
//!
//! With `CLOUDFLARE_API_TOKEN` (or `CLOUDFLARE_API_KEY` + `CLOUDFLARE_EMAIL`) in the environment,
//! the target is the Cloudflare API (`CLOUDFLARE_ACCOUNT_ID` and `CLOUDFLARE_API_BASE_URL`
//! honoured). Without, the emulator starts in this process on a loopback port, with its data in
//! `<state base>/local/` (`<stack root>/.athanor/local/` by default). Its token is generated once
//! and kept in `local/emulator.json`, and its account id is the emulator's fixed default, so state
//! recorded against one run still matches the next. So is the port its Workers answer on while
//! `dev` runs (8787 when it is free the first time), so the URLs in outputs stay the same. This is
//! the one module that wires a provider to the engine.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::Rng;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use athanor_cloudflare::{Auth, Client, ClientConfig, CloudflareProvider, WorkersUrls};
use athanor_core::Provider;
use athanor_emulator::{Emulator, Workerd, WorkersConfig};

use crate::error::{Error, Result};
use crate::state::{Access, write_atomic};

/// Which kind of target a command runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// The real Cloudflare API.
    Cloudflare,
    /// The embedded local emulator.
    Emulator,
}

/// A connected target: the provider the engine uses, and what to tell the user about it.
pub struct Target {
    /// The provider.
    pub provider: Arc<dyn Provider>,
    /// Cloudflare or the emulator.
    pub kind: TargetKind,
    /// A one-line description: the account, or the emulator's address and data directory.
    pub description: String,
    emulator: Option<Emulator>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("kind", &self.kind)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// The emulator's persisted identity.
#[derive(Serialize, Deserialize)]
struct LocalIdentity {
    token: String,
    /// The port `dev` serves Workers on, and that local Worker URLs name.
    #[serde(default)]
    workers_port: Option<u16>,
}

/// The port local Workers answer on when nothing was recorded yet: wrangler dev's, when free.
const DEFAULT_WORKERS_PORT: u16 = 8787;

impl Target {
    /// Connects to Cloudflare when credentials are set, else starts the emulator with its data
    /// under `state_base/local`.
    pub async fn connect(state_base: &Path) -> Result<Target> {
        let config = ClientConfig::from_env().map_err(|e| Error::Target {
            target: "Cloudflare",
            message: e.to_string(),
        })?;
        match config {
            Some(config) => Target::cloudflare(config).await,
            None => Target::local(&state_base.join("local")).await,
        }
    }

    /// Connects to the Cloudflare API with `config`.
    pub async fn cloudflare(config: ClientConfig) -> Result<Target> {
        let client = Client::connect(config).await.map_err(|e| Error::Target {
            target: "Cloudflare",
            message: e.to_string(),
        })?;
        let description = format!(
            "Cloudflare account {} ({})",
            client.account_id(),
            client.base_url()
        );
        Ok(Target {
            provider: Arc::new(CloudflareProvider::new(client)),
            kind: TargetKind::Cloudflare,
            description,
            emulator: None,
        })
    }

    /// Starts the embedded emulator with its data in `data_dir`; it stores Workers without
    /// running them, and their URLs name its recorded Workers port.
    pub async fn local(data_dir: &Path) -> Result<Target> {
        Target::start_local(data_dir, None).await
    }

    /// Starts the embedded emulator with its data in `data_dir`, running its Workers on
    /// `workerd`, on `port` (`None`: the recorded Workers port).
    pub async fn local_serving(
        data_dir: &Path,
        workerd: Workerd,
        port: Option<u16>,
    ) -> Result<Target> {
        Target::start_local(data_dir, Some((workerd, port))).await
    }

    async fn start_local(data_dir: &Path, serve: Option<(Workerd, Option<u16>)>) -> Result<Target> {
        let fail = |message: String| Error::Target {
            target: "local emulator",
            message,
        };
        let identity = local_identity(data_dir)?;
        let mut config = athanor_emulator::Config::new(data_dir);
        config.token = Some(identity.token.clone());
        let recorded_port = identity.workers_port.unwrap_or(DEFAULT_WORKERS_PORT);
        config.workers = serve.map(|(workerd, port)| WorkersConfig {
            workerd,
            port: port.unwrap_or(recorded_port),
        });
        let emulator = Emulator::start(config).await.map_err(|e| match e {
            athanor_emulator::Error::WorkersPort { .. } => {
                fail(format!("{e} (`dev --port PORT` serves on another port)"))
            }
            e => fail(e.to_string()),
        })?;
        let mut client_config = ClientConfig::new(
            emulator.base_url(),
            Auth::Token(SecretString::from(identity.token)),
        );
        client_config.account_id = Some(emulator.account_id().to_owned());
        let workers_port = emulator.workers_port().unwrap_or(recorded_port);
        client_config.workers_urls = WorkersUrls::Local {
            authority: format!("localhost:{workers_port}"),
        };
        let client = Client::connect(client_config)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let description = format!(
            "local emulator at {} (data in {})",
            emulator.base_url(),
            data_dir.display()
        );
        Ok(Target {
            provider: Arc::new(CloudflareProvider::new(client)),
            kind: TargetKind::Emulator,
            description,
            emulator: Some(emulator),
        })
    }

    /// The embedded emulator, when that is the target.
    pub fn emulator(&self) -> Option<&Emulator> {
        self.emulator.as_ref()
    }

    /// The first line of every command: the target and the stage.
    pub fn headline(&self, app: &str, stage: &str) -> String {
        format!(
            "athanor: app `{app}`, stage `{stage}`, target {}",
            self.description
        )
    }

    /// Stops the emulator, if one runs.
    pub async fn shutdown(self) {
        if let Some(emulator) = self.emulator {
            emulator.shutdown().await;
        }
    }
}

/// The emulator identity kept in `data_dir/emulator.json`: created on first use with a new token
/// and a Workers port (8787 when free, else one the system picks), completed when an older file
/// lacks the port.
fn local_identity(data_dir: &Path) -> Result<LocalIdentity> {
    let path: PathBuf = data_dir.join("emulator.json");
    let recorded = std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<LocalIdentity>(&bytes).ok())
        .filter(|identity| !identity.token.is_empty());
    if let Some(identity) = &recorded
        && identity.workers_port.is_some()
    {
        return Ok(LocalIdentity {
            token: identity.token.clone(),
            workers_port: identity.workers_port,
        });
    }
    let token = recorded.map(|i| i.token).unwrap_or_else(|| {
        let mut raw = [0u8; 24];
        rand::rng().fill_bytes(&mut raw);
        hex::encode(raw)
    });
    let identity = LocalIdentity {
        token,
        workers_port: Some(free_port(DEFAULT_WORKERS_PORT)),
    };
    let body = serde_json::to_vec_pretty(&identity).expect("identity serializes");
    write_atomic(&path, &body, Access::Private)?;
    Ok(identity)
}

/// `preferred` when it can be bound on loopback now, else a port the system picks.
fn free_port(preferred: u16) -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", preferred))
        .or_else(|_| std::net::TcpListener::bind(("127.0.0.1", 0)))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(preferred)
}

/// Refuses local state on CI against real Cloudflare (the CI machine and its state go away
/// after the run, orphaning what was deployed), unless `ATHANOR_CI_STATE_CHECK=false`.
pub(crate) fn ci_guard(kind: TargetKind, state_dir: &Path) -> Result<()> {
    ci_guard_with(kind, state_dir, |name| std::env::var(name).ok())
}

fn ci_guard_with(
    kind: TargetKind,
    state_dir: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<()> {
    let on_ci = env("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0");
    let overridden = env("ATHANOR_CI_STATE_CHECK").is_some_and(|v| v == "false" || v == "0");
    if kind == TargetKind::Cloudflare && on_ci && !overridden {
        return Err(Error::LocalStateOnCi {
            dir: state_dir.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_state_on_ci_is_refused_only_against_cloudflare() {
        let dir = Path::new(".athanor/app/ci");
        let ci = |name: &str| (name == "CI").then(|| "true".to_owned());
        assert!(ci_guard_with(TargetKind::Cloudflare, dir, ci).is_err());
        assert!(ci_guard_with(TargetKind::Emulator, dir, ci).is_ok());
        assert!(ci_guard_with(TargetKind::Cloudflare, dir, |_| None).is_ok());
        let overridden = |name: &str| match name {
            "CI" => Some("true".to_owned()),
            "ATHANOR_CI_STATE_CHECK" => Some("false".to_owned()),
            _ => None,
        };
        assert!(ci_guard_with(TargetKind::Cloudflare, dir, overridden).is_ok());
    }

    #[test]
    fn the_local_identity_is_kept_across_runs() {
        let tmp = tempfile::tempdir().unwrap();
        let first = local_identity(tmp.path()).unwrap();
        let again = local_identity(tmp.path()).unwrap();
        assert_eq!(again.token, first.token);
        assert_eq!(again.workers_port, first.workers_port);
        assert_eq!(first.token.len(), 48);
        assert!(first.workers_port.is_some());
    }

    #[test]
    fn an_identity_without_a_workers_port_keeps_its_token_and_gains_a_port() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("emulator.json"), r#"{"token": "abc"}"#).unwrap();
        let identity = local_identity(tmp.path()).unwrap();
        assert_eq!(identity.token, "abc");
        assert!(identity.workers_port.is_some());
    }
}
