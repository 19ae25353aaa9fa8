//! Bundling with esbuild, for JavaScript and TypeScript that import bare packages from
//! `node_modules`: the one [`ESBUILD_ENV`] names, else the project's `node_modules/.bin`, else
//! `PATH`; without it the error says how to get it.

use std::path::{Path, PathBuf};

use super::{ES_MODULE, Module, WorkerModules, tools};
use crate::error::Error;

/// The environment variable naming the esbuild executable to bundle with, before any search:
/// for an esbuild installed outside the project and `PATH`, or a pinned one.
pub const ESBUILD_ENV: &str = "ATHANOR_ESBUILD";

/// Finds esbuild: the file [`ESBUILD_ENV`] names, else the project's `node_modules/.bin` (from
/// `root` upwards), then `PATH`.
fn find_esbuild(root: &Path) -> Result<Option<PathBuf>, Error> {
    tools::find_in_env("esbuild", ESBUILD_ENV, root)
}

/// Bundles the Worker with esbuild into one ES module (code importing bare packages).
pub(super) fn bundle(
    root: &Path,
    entry: &Path,
    bare: &[String],
    sources: Vec<PathBuf>,
) -> Result<WorkerModules, Error> {
    let Some(esbuild) = find_esbuild(root)? else {
        return Err(Error::Local(format!(
            "{} imports the package{} {}, which needs bundling with esbuild, and esbuild was found neither in node_modules/.bin nor on PATH: run `npm install --save-dev esbuild` in {} (or set {ESBUILD_ENV} to an esbuild executable)",
            entry.display(),
            if bare.len() == 1 { "" } else { "s" },
            bare.iter()
                .map(|b| format!("`{b}`"))
                .collect::<Vec<_>>()
                .join(", "),
            root.display()
        )));
    };
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let out_dir =
        std::env::temp_dir().join(format!("athanor-esbuild-{}-{stamp}", std::process::id()));
    let stem = entry
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "worker".into());
    let name = format!("{stem}.js");
    let out_file = out_dir.join(&name);
    let output = std::process::Command::new(&esbuild)
        .arg(entry)
        .args([
            "--bundle",
            "--format=esm",
            "--target=es2022",
            "--platform=neutral",
            "--main-fields=module,main",
            "--conditions=workerd,worker,browser",
            "--external:cloudflare:*",
            "--external:node:*",
            "--log-level=error",
        ])
        .arg(format!("--outfile={}", out_file.display()))
        .current_dir(root)
        .output()
        .map_err(|e| Error::Local(format!("cannot run {}: {e}", esbuild.display())))?;
    let result = if output.status.success() {
        std::fs::read(&out_file).map_err(|e| {
            Error::Local(format!(
                "esbuild wrote no bundle for {}: {e}",
                entry.display()
            ))
        })
    } else {
        Err(Error::Local(format!(
            "esbuild failed to bundle {}: {}",
            entry.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    };
    let _ = std::fs::remove_dir_all(&out_dir);
    Ok(WorkerModules {
        main_module: name.clone(),
        modules: vec![Module {
            name,
            content_type: ES_MODULE,
            bytes: result?,
        }],
        sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::javascript::collect;
    use crate::modules::tests::write;

    #[test]
    fn bare_packages_are_bundled_with_esbuild_or_the_error_says_how_to_get_it() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "w.ts",
            "import { shout } from 'tiny-pkg';\nimport { DurableObject } from 'cloudflare:workers';\nexport class C extends DurableObject {}\nexport default { fetch(): Response { return new Response(shout('hi')); } };\n",
        );
        write(
            dir.path(),
            "node_modules/tiny-pkg/package.json",
            "{\"name\": \"tiny-pkg\", \"version\": \"1.0.0\", \"main\": \"index.js\"}",
        );
        write(
            dir.path(),
            "node_modules/tiny-pkg/index.js",
            "export function shout(s) { return s.toUpperCase() + '!tiny-pkg-marker'; }\n",
        );
        match find_esbuild(dir.path()).unwrap() {
            None => {
                let err = collect(dir.path(), Path::new("w.ts")).unwrap_err();
                let text = err.to_string();
                assert!(text.contains("`tiny-pkg`"), "{text}");
                assert!(text.contains("npm install --save-dev esbuild"), "{text}");
            }
            Some(_) => {
                let m = collect(dir.path(), Path::new("w.ts")).unwrap();
                assert_eq!(m.main_module, "w.js");
                assert_eq!(m.modules.len(), 1);
                let code = String::from_utf8(m.modules[0].bytes.clone()).unwrap();
                assert!(code.contains("tiny-pkg-marker"), "{code}");
                assert!(code.contains("cloudflare:workers"), "{code}");
                assert!(!code.contains("from \"tiny-pkg\""), "{code}");
            }
        }
    }
}
