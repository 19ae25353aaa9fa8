//! Finding the workerd binary: `ATHANOR_WORKERD`, then `node_modules/.bin/workerd` in the project
//! directory or one of its parents (where `npm install workerd` puts it), then `PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The npm version of workerd the emulator is tested with; the install hint names it.
pub const TESTED_WORKERD: &str = "1.20261117.1";

/// A workerd binary that answered `--version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workerd {
    path: PathBuf,
    /// The release date it reports (`workerd 2026-11-17`), which is also the newest compatibility
    /// date it is sure to support.
    date: String,
}

/// Why no usable workerd was found; its message says where the emulator looked and how to install
/// one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct WorkerdNotFound(String);

impl Workerd {
    /// Finds workerd for a project in `project_dir`: `ATHANOR_WORKERD`, then
    /// `node_modules/.bin/workerd` in `project_dir` or a parent, then `PATH`.
    pub fn locate(project_dir: &Path) -> Result<Workerd, WorkerdNotFound> {
        Workerd::locate_with(project_dir, |name| std::env::var_os(name))
    }

    /// [`Workerd::locate`] over any environment lookup.
    pub fn locate_with(
        project_dir: &Path,
        env: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Workerd, WorkerdNotFound> {
        if let Some(path) = env("ATHANOR_WORKERD").filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            return Workerd::at(&path).map_err(|why| {
                WorkerdNotFound(format!(
                    "ATHANOR_WORKERD names {}, which {why}; point it at a workerd binary (npm package `workerd`, in node_modules/.bin)",
                    path.display()
                ))
            });
        }
        let mut looked = Vec::new();
        for dir in project_dir.ancestors() {
            let candidate = dir.join("node_modules/.bin/workerd");
            if candidate.exists() {
                return Workerd::at(&candidate).map_err(|why| {
                    WorkerdNotFound(format!(
                        "{} {why}; reinstall it with `npm install --save-dev workerd@{TESTED_WORKERD}`",
                        candidate.display()
                    ))
                });
            }
            looked.push(candidate);
        }
        if let Some(paths) = env("PATH") {
            for dir in std::env::split_paths(&paths) {
                let candidate = dir.join("workerd");
                if candidate.is_file()
                    && let Ok(found) = Workerd::at(&candidate)
                {
                    return Ok(found);
                }
            }
        }
        Err(WorkerdNotFound(format!(
            "workerd, the runtime that runs Workers locally, was not found (looked at ATHANOR_WORKERD, {} and PATH); install it with `npm install --save-dev workerd@{TESTED_WORKERD}` in {}, or set ATHANOR_WORKERD to its path",
            looked
                .first()
                .map(|p| format!("{} and its parents", p.display()))
                .unwrap_or_default(),
            project_dir.display()
        )))
    }

    /// The workerd at `path`, if it runs and reports a version.
    pub fn at(path: &Path) -> Result<Workerd, String> {
        let output = Command::new(path)
            .arg("--version")
            .output()
            .map_err(|e| format!("could not be run ({e})"))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let date = text
            .split_whitespace()
            .find(|w| is_date(w))
            .ok_or_else(|| format!("did not report a version (it printed {:?})", text.trim()))?;
        Ok(Workerd {
            path: path.to_path_buf(),
            date: date.to_owned(),
        })
    }

    /// The binary.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The release date it reports, `YYYY-MM-DD`.
    pub fn date(&self) -> &str {
        &self.date
    }
}

/// Whether `s` is a `YYYY-MM-DD` date.
pub(crate) fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(is_date("2026-11-17"));
        assert!(!is_date("2026-1-17"));
        assert!(!is_date("workerd"));
    }

    #[test]
    fn a_missing_workerd_says_where_it_looked_and_how_to_install_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = Workerd::locate_with(dir.path(), |_| None).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("ATHANOR_WORKERD"), "{message}");
        assert!(message.contains("node_modules/.bin/workerd"), "{message}");
        assert!(
            message.contains(&format!("npm install --save-dev workerd@{TESTED_WORKERD}")),
            "{message}"
        );
    }

    #[test]
    fn a_bad_override_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = Workerd::locate_with(dir.path(), |name| {
            (name == "ATHANOR_WORKERD").then(|| "/nonexistent/workerd".into())
        })
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/workerd"), "{err}");
    }
}
