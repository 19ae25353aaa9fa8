//! Rust Workers: a workers-rs crate built into modules with no step by hand and nothing downloaded
//! from outside the package registries.
//!
//! 1. [`cargo`] builds the crate for `wasm32-unknown-unknown` in release.
//! 2. [`bindgen`] runs wasm-bindgen (`--target module`) on the wasm.
//! 3. `wasm-opt -O` shrinks it when it is installed ([`WASM_OPT_ENV`], the project's
//!    `node_modules/.bin` from `npm install binaryen`, `PATH`); otherwise the build says so and
//!    goes on.
//! 4. [`shim`] writes the JavaScript entry.
//!
//! The uploaded parts are the entry (`shim.mjs`, the main module), the glue (`index.js`), its
//! snippets and `index_bg.wasm`. Steps 2 to 4 depend only on the wasm cargo wrote (and on whether
//! wasm-opt runs), so their output is kept beside the build, under the wasm's hash: an unchanged
//! crate costs cargo's own check and nothing more, and gives the same bytes, so the engine sees no
//! change.

mod bindgen;
mod cargo;
mod shim;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ES_MODULE, Module, WASM, WorkerModules, tools};
use crate::error::Error;

pub use bindgen::WASM_BINDGEN_ENV;

/// The environment variable naming the `wasm-opt` to optimise Rust Workers with.
pub const WASM_OPT_ENV: &str = "ATHANOR_WASM_OPT";

/// The entry module's name.
const SHIM: &str = "shim.mjs";
/// What the cached output of steps 2 to 4 is recorded as, written last.
const MANIFEST: &str = "modules.json";
/// Changes when the steps after cargo change, so that older cached output is not reused.
const PIPELINE: &str = "athanor-rust-worker-1";

/// The flags wasm-opt runs with: size and speed (`-O`), and the features the wasm uses and the
/// Workers runtime supports, spelled out rather than `--all-features`.
const WASM_OPT_FLAGS: &[&str] = &[
    "-O",
    "--enable-mutable-globals",
    "--enable-sign-ext",
    "--enable-nontrapping-float-to-int",
    "--enable-bulk-memory",
    "--enable-multivalue",
    "--enable-reference-types",
    "--enable-exception-handling",
    "--debuginfo",
];

/// The parts recorded in the cache, in upload order.
#[derive(Serialize, Deserialize)]
struct Manifest {
    main_module: String,
    parts: Vec<(String, String)>,
}

/// Builds the Worker crate in `crate_dir` (relative to `root`) into its modules.
pub(super) fn build(
    root: &Path,
    crate_dir: &Path,
    log: &dyn Fn(&str),
) -> Result<WorkerModules, Error> {
    let dir = root.join(crate_dir);
    let dir = std::fs::canonicalize(&dir).map_err(|e| {
        Error::Local(format!(
            "the Worker crate {} cannot be read: {e}; fix `crate` (it is relative to the crate that declares the stack)",
            dir.display()
        ))
    })?;
    if !dir.join("Cargo.toml").is_file() {
        return Err(Error::Local(format!(
            "the Worker crate {} has no Cargo.toml: `crate` names a crate directory",
            dir.display()
        )));
    }
    let wasm_path = cargo::build(&dir, log)?;
    let wasm = std::fs::read(&wasm_path)
        .map_err(|e| Error::Local(format!("cannot read {}: {e}", wasm_path.display())))?;
    let wasm_opt = tools::find_in_env("wasm-opt", WASM_OPT_ENV, &dir)?;
    let key = {
        let mut h = Sha256::new();
        h.update(PIPELINE);
        h.update([u8::from(wasm_opt.is_some())]);
        h.update(&wasm);
        hex::encode(h.finalize())
    };
    let out = cargo::target_dir(&dir).join("athanor").join(&key[..32]);
    let manifest = match read_manifest(&out) {
        Some(m) => m,
        None => {
            let _ = std::fs::remove_dir_all(&out);
            std::fs::create_dir_all(&out)
                .map_err(|e| Error::Local(format!("cannot create {}: {e}", out.display())))?;
            bindgen::generate(&wasm_path, &wasm, &out)?;
            finish(&out, wasm_opt.as_deref(), log)?
        }
    };
    let mut modules = Vec::new();
    for (name, content_type) in &manifest.parts {
        let bytes = std::fs::read(out.join(name))
            .map_err(|e| Error::Local(format!("cannot read {}: {e}", out.join(name).display())))?;
        modules.push(Module {
            name: name.clone(),
            content_type: if content_type == WASM {
                WASM
            } else {
                ES_MODULE
            },
            bytes,
        });
    }
    modules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(WorkerModules {
        main_module: manifest.main_module,
        modules,
        sources: sources(&dir),
    })
}

fn read_manifest(out: &Path) -> Option<Manifest> {
    serde_json::from_slice(&std::fs::read(out.join(MANIFEST)).ok()?).ok()
}

/// After wasm-bindgen wrote `out`: makes the glue loadable without a bundler, runs wasm-opt,
/// writes the entry, and records the parts.
fn finish(out: &Path, wasm_opt: Option<&Path>, log: &dyn Fn(&str)) -> Result<Manifest, Error> {
    let io = |what: &Path, e: std::io::Error| Error::Local(format!("{}: {e}", what.display()));
    let glue_path = out.join("index.js");
    let glue = std::fs::read_to_string(&glue_path).map_err(|e| io(&glue_path, e))?;
    // A source-phase import is what the Workers runtime's default import of a wasm part gives.
    let glue = glue.replace("import source ", "import ");
    std::fs::write(&glue_path, &glue).map_err(|e| io(&glue_path, e))?;
    let wasm_path = out.join("index_bg.wasm");
    match wasm_opt {
        Some(tool) => optimise(tool, &wasm_path, log)?,
        None => log(
            "note: wasm-opt was not found (ATHANOR_WASM_OPT, node_modules/.bin, PATH): the wasm is uploaded as wasm-bindgen wrote it; `npm install binaryen` makes it smaller",
        ),
    }
    let shim_path = out.join(SHIM);
    std::fs::write(&shim_path, shim::write(&shim::exports(&glue), "./index.js"))
        .map_err(|e| io(&shim_path, e))?;
    let mut parts = vec![
        (SHIM.to_owned(), ES_MODULE.to_owned()),
        ("index.js".to_owned(), ES_MODULE.to_owned()),
        ("index_bg.wasm".to_owned(), WASM.to_owned()),
    ];
    for snippet in files_under(&out.join("snippets")) {
        let name = snippet
            .strip_prefix(out)
            .unwrap_or(&snippet)
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        parts.push((name, ES_MODULE.to_owned()));
    }
    let manifest = Manifest {
        main_module: SHIM.to_owned(),
        parts,
    };
    let manifest_path = out.join(MANIFEST);
    std::fs::write(
        &manifest_path,
        serde_json::to_vec(&manifest).expect("a manifest serializes"),
    )
    .map_err(|e| io(&manifest_path, e))?;
    Ok(manifest)
}

/// Runs `wasm-opt` on `wasm` in place.
fn optimise(tool: &Path, wasm: &Path, log: &dyn Fn(&str)) -> Result<(), Error> {
    let optimised = wasm.with_extension("opt.wasm");
    log(&format!("optimising the wasm with {}", tool.display()));
    let output = Command::new(tool)
        .args(WASM_OPT_FLAGS)
        .arg(wasm)
        .arg("-o")
        .arg(&optimised)
        .output()
        .map_err(|e| Error::Local(format!("cannot run {}: {e}", tool.display())))?;
    if !output.status.success() {
        return Err(Error::Local(format!(
            "{} failed on {} ({}): {}",
            tool.display(),
            wasm.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    std::fs::rename(&optimised, wasm).map_err(|e| Error::Local(format!("{}: {e}", wasm.display())))
}

/// Every file under `dir`, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The crate's files a change to which means a new build: its manifest, build script and
/// sources.
pub(super) fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = ["Cargo.toml", "build.rs"]
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.is_file())
        .collect();
    out.extend(
        files_under(&dir.join("src"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "rs")),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_without_a_crate_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = build(dir.path(), Path::new("."), &|_| {}).unwrap_err();
        assert!(err.to_string().contains("has no Cargo.toml"), "{err}");
        let err = build(dir.path(), Path::new("nope"), &|_| {}).unwrap_err();
        assert!(err.to_string().contains("cannot be read"), "{err}");
    }

    #[test]
    fn the_sources_are_the_manifest_and_the_rust_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src/nested")).unwrap();
        for f in [
            "Cargo.toml",
            "src/lib.rs",
            "src/nested/a.rs",
            "src/notes.md",
        ] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let names: Vec<String> = sources(dir.path())
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["Cargo.toml", "src/lib.rs", "src/nested/a.rs"]);
    }
}
