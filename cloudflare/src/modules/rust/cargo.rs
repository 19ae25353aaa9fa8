//! The cargo step of a Rust Worker: `cargo build --lib --release --target wasm32-unknown-unknown`
//! for the crate, in a target directory of athanor's own (so it never waits on the cargo that
//! runs the stack binary), its progress and diagnostics handed to the caller line by line, and
//! the `.wasm` it wrote read from cargo's JSON messages.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::error::Error;

/// The target a Worker is built for.
pub(super) const TARGET: &str = "wasm32-unknown-unknown";
/// The environment variable naming the target directory of Worker builds.
pub(crate) const TARGET_DIR_ENV: &str = "ATHANOR_WASM_TARGET_DIR";

/// The target directory of the Worker builds of `crate_dir`: `ATHANOR_WASM_TARGET_DIR`, else
/// `target/athanor-wasm` beside the nearest `Cargo.lock` above the crate (its workspace's), so
/// that builds share their dependencies and stay out of the way of the workspace's own.
pub(super) fn target_dir(crate_dir: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os(TARGET_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let root = crate_dir
        .ancestors()
        .find(|d| d.join("Cargo.lock").is_file())
        .unwrap_or(crate_dir);
    root.join("target").join("athanor-wasm")
}

/// One line of cargo's JSON output, as far as it is read.
#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    manifest_path: Option<PathBuf>,
    #[serde(default)]
    filenames: Vec<PathBuf>,
    #[serde(default)]
    success: Option<bool>,
}

/// Builds the crate at `crate_dir` for wasm32 in release, handing each line cargo prints to
/// `log`; the path of the `.wasm` it wrote.
pub(super) fn build(crate_dir: &Path, log: &dyn Fn(&str)) -> Result<PathBuf, Error> {
    let manifest = crate_dir.join("Cargo.toml");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(&cargo)
        .args(["build", "--lib", "--release", "--target", TARGET])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir(crate_dir))
        .env("WASM_BINDGEN_USE_JS_SYS", "1")
        // The stack binary may run under `cargo run`, whose settings are not the Worker's.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .current_dir(crate_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::Local(format!(
                "cannot run {} to build the Rust Worker {}: {e}; install Rust with rustup (https://rustup.rs)",
                PathBuf::from(&cargo).display(),
                crate_dir.display()
            ))
        })?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let messages = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<Message>(&l).ok())
            .collect::<Vec<_>>()
    });
    let mut errors: Vec<String> = Vec::new();
    let stderr = child.stderr.take().expect("stderr is piped");
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        log(&line);
        if line.starts_with("error") || (!errors.is_empty() && errors.len() < 40) {
            errors.push(line);
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::Local(format!("waiting for cargo: {e}")))?;
    let messages = messages.join().unwrap_or_default();
    let succeeded = status.success()
        && messages
            .iter()
            .any(|m| m.reason == "build-finished" && m.success == Some(true));
    if !succeeded {
        let mut message = format!(
            "building the Rust Worker {} for {TARGET} failed ({status})",
            crate_dir.display()
        );
        let text = errors.join("\n");
        if text.contains("target may not be installed")
            || text.contains("can't find crate for `core`")
        {
            message.push_str(&format!(
                "; the {TARGET} target is not installed: `rustup target add {TARGET}`"
            ));
        }
        if !text.is_empty() {
            message.push_str(":\n");
            message.push_str(&text);
        }
        return Err(Error::Local(message));
    }
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let manifest = canonical(&manifest);
    messages
        .into_iter()
        .filter(|m| m.reason == "compiler-artifact")
        .filter(|m| m.manifest_path.as_deref().map(canonical).as_ref() == Some(&manifest))
        .flat_map(|m| m.filenames)
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        .ok_or_else(|| {
            Error::Local(format!(
                "building {} wrote no .wasm: a Worker crate needs `crate-type = [\"cdylib\"]` under [lib] in its Cargo.toml",
                crate_dir.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_dir_sits_beside_the_workspace_lock() {
        let dir = tempfile::tempdir().unwrap();
        let member = dir.path().join("crates/worker");
        std::fs::create_dir_all(&member).unwrap();
        std::fs::write(dir.path().join("Cargo.lock"), "").unwrap();
        if std::env::var_os(TARGET_DIR_ENV).is_none() {
            assert_eq!(target_dir(&member), dir.path().join("target/athanor-wasm"));
        }
    }
}
