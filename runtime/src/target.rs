//! Where a command deploys: Cloudflare, or the embedded emulator when no credentials are set.
//!
//! With `CLOUDFLARE_API_TOKEN` (or `CLOUDFLARE_API_KEY` + `CLOUDFLARE_EMAIL`) in the environment,
//! the target is the Cloudflare API (`CLOUDFLARE_ACCOUNT_ID` and `CLOUDFLARE_API_BASE_URL`
//! honoured). Without, the emulator starts in this process on a loopback port, with its data in
//! `<state base>/local/` (`<stack root>/.athanor/local/` by default). Its token is generated once
//! and kept in `local/emulator.json`, and its account id is the emulator's fixed default, so state
//! recorded against one run still matches the next. This is the one module that wires a provider
//! to the engine.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::RngCore;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use athanor_cloudflare::{Auth, Client, ClientConfig, CloudflareProvider};
use athanor_core::Provider;
use athanor_emulator::Emulator;

use crate::error::{Error, Result};
use crate::state::write_atomic;

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
}

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

    /// Starts the embedded emulator with its data in `data_dir`.
    pub async fn local(data_dir: &Path) -> Result<Target> {
        let fail = |message: String| Error::Target {
            target: "local emulator",
            message,
        };
        let token = local_token(data_dir)?;
        let mut config = athanor_emulator::Config::new(data_dir);
        config.token = Some(token.clone());
        let emulator = Emulator::start(config)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let mut client_config =
            ClientConfig::new(emulator.base_url(), Auth::Token(SecretString::from(token)));
        client_config.account_id = Some(emulator.account_id().to_owned());
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

/// The emulator token kept in `data_dir/emulator.json`, created on first use.
fn local_token(data_dir: &Path) -> Result<String> {
    let path: PathBuf = data_dir.join("emulator.json");
    if let Ok(bytes) = std::fs::read(&path)
        && let Ok(identity) = serde_json::from_slice::<LocalIdentity>(&bytes)
        && !identity.token.is_empty()
    {
        return Ok(identity.token);
    }
    let mut raw = [0u8; 24];
    rand::rng().fill_bytes(&mut raw);
    let token = hex::encode(raw);
    let body = serde_json::to_vec_pretty(&LocalIdentity {
        token: token.clone(),
    })
    .expect("identity serializes");
    write_atomic(&path, &body)?;
    Ok(token)
}

/// Refuses local state on CI against real Cloudflare (the CI machine and its state go away
/// after the run, orphaning what was deployed), unless `ATHANOR_CI_STATE_CHECK=false`.
pub fn ci_guard(kind: TargetKind, state_dir: &Path) -> Result<()> {
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
    fn the_local_token_is_kept_across_runs() {
        let tmp = tempfile::tempdir().unwrap();
        let first = local_token(tmp.path()).unwrap();
        assert_eq!(local_token(tmp.path()).unwrap(), first);
        assert_eq!(first.len(), 48);
    }
}
