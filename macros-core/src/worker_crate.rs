//! The Rust crate of a Worker declared with `crate: "…"`, checked at compile time: the directory
//! (relative to the declaring crate) holds a `Cargo.toml` whose `[lib]` is a `cdylib`, which is
//! what `cargo build --target wasm32-unknown-unknown` turns into a `.wasm`. This is the one file
//! the macro reads besides its input; the expansion `include_bytes!`s it so that an edit to it
//! re-checks the declaration.

use std::path::{Path, PathBuf};

/// What is wrong with a Worker crate.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// No `Cargo.toml` in the directory.
    NoManifest(PathBuf),
    /// The manifest has no `cdylib` in `[lib] crate-type`.
    NotCdylib(PathBuf),
}

/// Checks the Worker crate at `path` (relative to `manifest_dir`, the declaring crate); its
/// `Cargo.toml` when it is one.
pub(crate) fn check(manifest_dir: &Path, path: &str) -> Result<PathBuf, Problem> {
    let manifest = manifest_dir.join(path).join("Cargo.toml");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        return Err(Problem::NoManifest(manifest));
    };
    if lib_crate_types(&text).iter().any(|t| t == "cdylib") {
        Ok(manifest)
    } else {
        Err(Problem::NotCdylib(manifest))
    }
}

/// The `crate-type` list of a manifest's `[lib]` section (also written `crate_type`, or
/// `lib = { crate-type = [...] }`); empty when it has none.
pub(crate) fn lib_crate_types(manifest: &str) -> Vec<String> {
    let mut in_lib = false;
    let mut value: Option<String> = None;
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(collecting) = value.as_mut() {
            collecting.push_str(line);
            if line.contains(']') {
                break;
            }
            continue;
        }
        if line.starts_with('[') {
            in_lib = line == "[lib]";
            continue;
        }
        let inline = line
            .strip_prefix("lib")
            .map(str::trim_start)
            .and_then(|l| l.strip_prefix('='))
            .map(str::trim_start)
            .filter(|l| l.starts_with('{'));
        let field = if let Some(table) = inline {
            table
                .find("crate-type")
                .or_else(|| table.find("crate_type"))
                .map(|i| &table[i..])
        } else if in_lib {
            Some(line).filter(|l| l.starts_with("crate-type") || l.starts_with("crate_type"))
        } else {
            None
        };
        let Some(field) = field else { continue };
        let Some((_, rest)) = field.split_once('=') else {
            continue;
        };
        let rest = rest.trim();
        value = Some(rest.to_owned());
        if rest.contains(']') {
            break;
        }
    }
    let Some(value) = value else {
        return Vec::new();
    };
    let inside = value
        .split_once('[')
        .map(|(_, r)| r.split(']').next().unwrap_or(""))
        .unwrap_or("");
    inside
        .split(',')
        .map(|t| t.trim().trim_matches('"').trim_matches('\'').to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_types_in_every_spelling() {
        let lib = "[package]\nname = \"w\"\n\n[lib]\ncrate-type = [\"cdylib\", \"rlib\"] # both\n\n[dependencies]\nworker = \"0.8\"\n";
        assert_eq!(lib_crate_types(lib), ["cdylib", "rlib"]);
        let multi = "[lib]\ncrate_type = [\n  \"rlib\",\n  \"cdylib\",\n]\n";
        assert_eq!(lib_crate_types(multi), ["rlib", "cdylib"]);
        let inline =
            "[package]\nname = \"w\"\nlib = { path = \"src/lib.rs\", crate-type = ['cdylib'] }\n";
        assert_eq!(lib_crate_types(inline), ["cdylib"]);
        assert!(lib_crate_types("[package]\nname = \"w\"\n").is_empty());
        // A crate-type elsewhere is not the library's.
        assert!(lib_crate_types("[[bin]]\ncrate-type = [\"cdylib\"]\n").is_empty());
    }

    #[test]
    fn crates_are_checked_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("w")).unwrap();
        assert!(matches!(
            check(dir.path(), "w"),
            Err(Problem::NoManifest(_))
        ));
        std::fs::write(dir.path().join("w/Cargo.toml"), "[package]\nname = \"w\"\n").unwrap();
        assert!(matches!(check(dir.path(), "w"), Err(Problem::NotCdylib(_))));
        std::fs::write(
            dir.path().join("w/Cargo.toml"),
            "[lib]\ncrate-type = [\"cdylib\"]\n",
        )
        .unwrap();
        assert_eq!(check(dir.path(), "w"), Ok(dir.path().join("w/Cargo.toml")));
    }
}
