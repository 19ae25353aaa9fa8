//! A Worker's modules for upload, without Node wherever possible, from one of two code sources:
//!
//! - a JavaScript or TypeScript entrypoint (`javascript`): `.js` / `.mjs` modules uploaded as
//!   they are with the graph of their relative imports, `.ts` / `.mts` type-stripped in-process
//!   with oxc, a `worker-build` output uploaded as its graph; esbuild (`esbuild`) only when code
//!   imports a bare package from `node_modules`;
//! - a Rust crate written with workers-rs (`rust`): built to wasm with cargo, bound with
//!   wasm-bindgen (in-process, or the CLI of the crate's version), optimised with wasm-opt when it
//!   is installed, and given a JavaScript entry written here; no esbuild.
//!
//! [`WorkerModules::content_hash`] covers every part's name and bytes and the main module's name,
//! so any code change is a change for the engine, and an unchanged build none.

mod esbuild;
mod javascript;
mod rust;
mod tools;

use std::path::{Path, PathBuf};

use athanor_core::inline_code::InlineCode;
use athanor_core::stack::WorkerCode;
use sha2::{Digest, Sha256};

use crate::error::Error;

pub use esbuild::ESBUILD_ENV;
pub use rust::{WASM_BINDGEN_ENV, WASM_OPT_ENV};

/// The content type of an ES module part.
pub const ES_MODULE: &str = "application/javascript+module";
/// The content type of a CommonJS module part (`.cjs`).
pub const COMMONJS: &str = "application/javascript";
/// The content type of a WebAssembly part.
pub const WASM: &str = "application/wasm";
/// The content type of a text part.
pub const TEXT: &str = "text/plain";
/// The content type of a binary data part.
pub const DATA: &str = "application/octet-stream";

/// One uploaded module part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The part name, a relative path with `/` separators (`lib/helper.js`).
    pub name: String,
    /// The part's content type.
    pub content_type: &'static str,
    /// The bytes uploaded.
    pub bytes: Vec<u8>,
}

/// Every module of one Worker, ready for the multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerModules {
    /// The name of the main module part.
    pub main_module: String,
    /// The parts, sorted by name.
    pub modules: Vec<Module>,
    /// The local files the parts were made from (for a bundle: those of the relative import
    /// graph), so that a watcher knows what to watch. Not part of [`WorkerModules::content_hash`].
    pub sources: Vec<PathBuf>,
}

impl WorkerModules {
    /// A hex SHA-256 over the main module name and every part's name, content type and bytes.
    pub fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(self.main_module.as_bytes());
        for m in &self.modules {
            field(m.name.as_bytes());
            field(m.content_type.as_bytes());
            field(&m.bytes);
        }
        hex::encode(h.finalize())
    }
}

/// Collects the modules of the Worker whose code is `code` (relative to `root`); `log` receives
/// the lines a build prints (cargo's, for a Rust Worker) as they come.
pub fn collect(root: &Path, code: &WorkerCode, log: &dyn Fn(&str)) -> Result<WorkerModules, Error> {
    match code {
        WorkerCode::Entrypoint(entry) => javascript::collect(root, entry),
        WorkerCode::Crate(dir) => rust::build(root, dir, log),
        WorkerCode::Inline(code) => inline(code),
    }
}

/// Modules given as bytes, typed by their extension and uploaded as given (no TypeScript is
/// stripped and nothing is bundled: the caller hands over what runs).
fn inline(code: &InlineCode) -> Result<WorkerModules, Error> {
    if code.modules().is_empty() {
        return Err(Error::Local(
            "the Worker's inline code has no modules (code read back from state has only its digest: give the code again)".into(),
        ));
    }
    if !code
        .modules()
        .iter()
        .any(|(name, _)| name == code.main_module())
    {
        let names: Vec<&str> = code.modules().iter().map(|(n, _)| n.as_str()).collect();
        return Err(Error::Local(format!(
            "the Worker's main module {:?} is not among its modules ({})",
            code.main_module(),
            names.join(", ")
        )));
    }
    let mut modules = Vec::new();
    for (name, bytes) in code.modules() {
        let ext = name.rsplit_once('.').map_or("", |(_, ext)| ext);
        let content_type = match ext {
            "js" | "mjs" => ES_MODULE,
            "cjs" => COMMONJS,
            "wasm" => WASM,
            "txt" | "html" | "json" | "sql" => TEXT,
            "ts" | "mts" | "tsx" => {
                return Err(Error::Local(format!(
                    "the inline module {name:?} is TypeScript, which is uploaded as given: compile it to JavaScript first"
                )));
            }
            _ => DATA,
        };
        modules.push(Module {
            name: name.clone(),
            content_type,
            bytes: bytes.clone(),
        });
    }
    Ok(WorkerModules {
        main_module: code.main_module().to_owned(),
        modules,
        sources: Vec::new(),
    })
}

/// The files of the Rust crate in `dir` whose change means a new build (its manifest, build
/// script and sources), read without building: what `dev` watches.
pub fn crate_sources(dir: &Path) -> Vec<PathBuf> {
    rust::sources(dir)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes `text` to `rel` under `dir`, creating its directories.
    pub(crate) fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn entry(root: &Path, path: &str) -> WorkerModules {
        collect(root, &WorkerCode::Entrypoint(path.into()), &|_| {}).unwrap()
    }

    #[test]
    fn the_hash_covers_names_bytes_and_the_main_module() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.js", "import './b.js';\n");
        write(dir.path(), "b.js", "export const b = 1;\n");
        let first = entry(dir.path(), "a.js");
        assert_eq!(
            first.content_hash(),
            entry(dir.path(), "a.js").content_hash()
        );
        write(dir.path(), "b.js", "export const b = 2;\n");
        let changed = entry(dir.path(), "a.js");
        assert_ne!(first.content_hash(), changed.content_hash());
        let mut renamed = changed.clone();
        renamed.main_module = "b.js".into();
        assert_ne!(renamed.content_hash(), changed.content_hash());
    }
}
