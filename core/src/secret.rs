//! Where a secret value comes from.
//!
//! A stack never holds a secret value: it holds a [`SecretSource`] (an environment variable or a
//! file), read by the runtime when deploying. So no value is baked into a compiled stack binary.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Where a secret is read from when deploying.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    /// `secret_env("VAR")`: the environment variable `VAR`.
    Env(String),
    /// `secret_file("path")`: the contents of a file, relative to the stack's root; one trailing
    /// newline is dropped.
    File(PathBuf),
}

/// A secret could not be read. Names the source, never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretReadError {
    /// The environment variable is not set.
    #[error("the environment variable `{0}` is not set: export it before deploying")]
    MissingEnv(String),
    /// The environment variable is set but not valid Unicode.
    #[error("the environment variable `{0}` is not valid UTF-8")]
    NotUnicode(String),
    /// The file could not be read.
    #[error("cannot read the secret file {}: {source}", path.display())]
    File {
        /// The resolved path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid UTF-8.
    #[error("the secret file {} is not valid UTF-8", path.display())]
    FileNotUnicode {
        /// The resolved path.
        path: PathBuf,
    },
}

impl SecretSource {
    /// `secret_env(var)`.
    pub fn env(var: impl Into<String>) -> Self {
        SecretSource::Env(var.into())
    }

    /// `secret_file(path)`.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        SecretSource::File(path.into())
    }

    /// A description safe to print: `env TOKEN` or `file ./key.pem`.
    pub fn describe(&self) -> String {
        match self {
            SecretSource::Env(v) => format!("env {v}"),
            SecretSource::File(p) => format!("file {}", p.display()),
        }
    }

    /// Reads the value now, resolving a relative file path against `root`.
    pub fn read(&self, root: &Path) -> Result<SecretString, SecretReadError> {
        match self {
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(v) => Ok(SecretString::from(v)),
                Err(std::env::VarError::NotPresent) => {
                    Err(SecretReadError::MissingEnv(var.clone()))
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    Err(SecretReadError::NotUnicode(var.clone()))
                }
            },
            SecretSource::File(p) => {
                let path = root.join(p);
                let bytes = std::fs::read(&path).map_err(|source| SecretReadError::File {
                    path: path.clone(),
                    source,
                })?;
                let mut text = String::from_utf8(bytes)
                    .map_err(|_| SecretReadError::FileNotUnicode { path })?;
                if text.ends_with('\n') {
                    text.pop();
                    if text.ends_with('\r') {
                        text.pop();
                    }
                }
                Ok(SecretString::from(text))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn a_file_secret_loses_one_trailing_newline() {
        let dir = std::env::temp_dir().join(format!("athanor-core-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("key"), "s3cr3t\n").unwrap();
        let value = SecretSource::file("key").read(&dir).unwrap();
        assert_eq!(value.expose_secret(), "s3cr3t");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_variable_is_named_in_the_error() {
        let err = SecretSource::env("ATHANOR_CORE_TEST_UNSET_VAR")
            .read(Path::new("."))
            .unwrap_err();
        assert!(err.to_string().contains("ATHANOR_CORE_TEST_UNSET_VAR"));
    }
}
