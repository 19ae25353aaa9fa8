//! The wasm-bindgen step: the crate's wasm becomes the `--target module` glue (`index.js`, which
//! instantiates the wasm itself), `index_bg.wasm` and the crate's JavaScript snippets, with the
//! flags workers-rs relies on (a reset after a panic, the abort handler).
//!
//! wasm-bindgen's glue and the wasm it reads must come from the same wasm-bindgen: the version is
//! read from the wasm. When its schema is the one built in here (the `embedded-wasm-bindgen`
//! feature, on by default), it runs in-process; otherwise the `wasm-bindgen` CLI of exactly that
//! version is used (`ATHANOR_WASM_BINDGEN`, then `PATH`), and without it the error names the
//! command that installs it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::Error;

/// The environment variable naming a `wasm-bindgen` CLI, used when the crate's wasm-bindgen is
/// not the one built into athanor.
pub const WASM_BINDGEN_ENV: &str = "ATHANOR_WASM_BINDGEN";

/// The wasm-bindgen versions a wasm was built with: its schema and its release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Versions {
    pub schema: String,
    pub version: String,
}

/// The wasm-bindgen versions recorded in a wasm's custom section
/// (`{"schema_version":"0.2.130","version":"0.2.130"}`), if it has them.
pub(super) fn versions(wasm: &[u8]) -> Option<Versions> {
    let field = |name: &str| -> Option<String> {
        let needle = format!("\"{name}\":\"");
        let start = find(wasm, needle.as_bytes())? + needle.len();
        let len = wasm[start..].iter().position(|b| *b == b'"')?;
        String::from_utf8(wasm[start..start + len].to_vec()).ok()
    };
    Some(Versions {
        schema: field("schema_version")?,
        version: field("version")?,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Runs wasm-bindgen on `wasm` into `out` (`index.js`, `index_bg.wasm`, `snippets/…`).
pub(super) fn generate(wasm: &Path, bytes: &[u8], out: &Path) -> Result<(), Error> {
    let Some(versions) = versions(bytes) else {
        return Err(Error::Local(format!(
            "{} carries no wasm-bindgen data: is the crate a workers-rs Worker (`worker` in its dependencies, `#[event(fetch)]`)?",
            wasm.display()
        )));
    };
    #[cfg(feature = "embedded-wasm-bindgen")]
    if versions.schema == wasm_bindgen_shared::SCHEMA_VERSION {
        return in_process(wasm, out);
    }
    let cli = cli_of(&versions.version)?;
    let status = Command::new(&cli)
        .arg(wasm)
        .arg("--out-dir")
        .arg(out)
        .args([
            "--no-typescript",
            "--target",
            "module",
            "--out-name",
            "index",
            "--experimental-reset-state-function",
            "--force-enable-abort-handler",
        ])
        .status()
        .map_err(|e| Error::Local(format!("cannot run {}: {e}", cli.display())))?;
    if !status.success() {
        return Err(Error::Local(format!(
            "{} failed on {} ({status})",
            cli.display(),
            wasm.display()
        )));
    }
    Ok(())
}

/// The schema of the wasm-bindgen built in, if it is.
fn built_in() -> Option<&'static str> {
    #[cfg(feature = "embedded-wasm-bindgen")]
    return Some(wasm_bindgen_shared::SCHEMA_VERSION);
    #[cfg(not(feature = "embedded-wasm-bindgen"))]
    return None;
}

#[cfg(feature = "embedded-wasm-bindgen")]
fn in_process(wasm: &Path, out: &Path) -> Result<(), Error> {
    let mut bindgen = wasm_bindgen_cli_support::Bindgen::new();
    bindgen
        .input_path(wasm)
        .out_name("index")
        .typescript(false)
        .reset_state_function(true)
        .force_enable_abort_handler(true);
    bindgen
        .module(true)
        .and_then(|b| b.generate(out))
        .map_err(|e| Error::Local(format!("wasm-bindgen on {}: {e:#}", wasm.display())))
}

/// A `wasm-bindgen` CLI of `version`: [`WASM_BINDGEN_ENV`], else one on `PATH`.
fn cli_of(version: &str) -> Result<PathBuf, Error> {
    let candidates = std::env::var_os(WASM_BINDGEN_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .chain(
            std::env::var_os("PATH")
                .map(|p| {
                    std::env::split_paths(&p)
                        .map(|d| d.join("wasm-bindgen"))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        );
    for candidate in candidates {
        let reported = Command::new(&candidate)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        if reported.is_some_and(|r| r.split_whitespace().nth(1) == Some(version)) {
            return Ok(candidate);
        }
    }
    let install = format!(
        "install the wasm-bindgen CLI of that version with `cargo install wasm-bindgen-cli --version ={version} --locked` (or point {WASM_BINDGEN_ENV} at one)"
    );
    Err(Error::Local(match built_in() {
        Some(built_in) => format!(
            "the crate is built with wasm-bindgen {version}, and athanor binds wasm-bindgen {built_in} itself: {install}, or move the crate to {built_in} with `cargo update -p wasm-bindgen --precise {built_in}`"
        ),
        None => format!(
            "the crate is built with wasm-bindgen {version}, and this build of athanor has no wasm-bindgen of its own (its `embedded-wasm-bindgen` feature is off): {install}, or turn the feature on"
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_versions_are_read_from_the_custom_section() {
        let mut wasm = b"\0asm\x01\0\0\0 junk ".to_vec();
        wasm.extend_from_slice(br#"{"schema_version":"0.2.128","version":"0.2.129"} more"#);
        assert_eq!(
            versions(&wasm),
            Some(Versions {
                schema: "0.2.128".into(),
                version: "0.2.129".into()
            })
        );
        assert_eq!(versions(b"\0asm\x01\0\0\0"), None);
    }

    #[test]
    fn another_version_without_its_cli_names_the_install_command() {
        let err = cli_of("0.0.1").unwrap_err().to_string();
        assert!(
            err.contains("cargo install wasm-bindgen-cli --version =0.0.1 --locked"),
            "{err}"
        );
        assert!(err.contains(WASM_BINDGEN_ENV), "{err}");
    }
}
