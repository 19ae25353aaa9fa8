//! Finding the programs a build may use (esbuild, wasm-opt): the file an environment variable
//! names (an error if it names none), else the project's `node_modules/.bin` from the project
//! directory upwards (where `npm install` puts them), else `PATH`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// Finds `program` for the project in `root`: `explicit` (the value of `variable`), then
/// `node_modules/.bin` from `root` upwards, then `path_var`. `None` when it is nowhere.
pub(super) fn find(
    program: &str,
    variable: &str,
    root: &Path,
    explicit: Option<OsString>,
    path_var: Option<OsString>,
) -> Result<Option<PathBuf>, Error> {
    if let Some(explicit) = explicit.filter(|v| !v.is_empty()) {
        let path = PathBuf::from(explicit);
        if path.is_file() {
            return Ok(Some(path));
        }
        return Err(Error::Local(format!(
            "{variable} is set to {}, which is not a file: point it at a {program} executable, or unset it to use the project's node_modules/.bin or PATH",
            path.display()
        )));
    }
    let exe = if cfg!(windows) {
        format!("{program}.cmd")
    } else {
        program.to_owned()
    };
    for dir in root.ancestors() {
        let candidate = dir.join("node_modules").join(".bin").join(&exe);
        if candidate.is_file() {
            return Ok(Some(candidate));
        }
    }
    Ok(path_var.and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(&exe))
            .find(|p| p.is_file())
    }))
}

/// [`find`] with the variable and `PATH` read from the environment.
pub(super) fn find_in_env(
    program: &str,
    variable: &str,
    root: &Path,
) -> Result<Option<PathBuf>, Error> {
    find(
        program,
        variable,
        root,
        std::env::var_os(variable),
        std::env::var_os("PATH"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
    }

    #[test]
    fn an_explicit_path_comes_first_and_must_exist_then_node_modules_then_path() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("node_modules/.bin/tool"));
        touch(&dir.path().join("tools/tool"));
        let project = dir.path().join("app/src");
        std::fs::create_dir_all(&project).unwrap();
        let explicit = dir.path().join("tools/tool");
        let found = |explicit: Option<OsString>, path: Option<OsString>, root: &Path| {
            find("tool", "ATHANOR_TOOL", root, explicit, path)
        };
        assert_eq!(
            found(Some(explicit.clone().into()), None, &project).unwrap(),
            Some(explicit)
        );
        for unset in [None, Some("".into())] {
            assert_eq!(
                found(unset, None, &project).unwrap(),
                Some(dir.path().join("node_modules/.bin/tool"))
            );
        }
        let err = found(Some(dir.path().join("nowhere/tool").into()), None, &project).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("ATHANOR_TOOL") && text.contains("nowhere/tool"),
            "{text}"
        );
        let bin = dir.path().join("tools");
        assert_eq!(
            found(None, Some(bin.clone().into_os_string()), Path::new("/")).unwrap(),
            Some(bin.join("tool"))
        );
        assert_eq!(found(None, None, Path::new("/")).unwrap(), None);
    }
}
