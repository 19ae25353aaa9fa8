//! TypeScript `Env` declarations for JS/TS Workers, written beside their entrypoints.
//!
//! `infra!` generates each Worker's declaration (the shape `wrangler types` writes) into
//! `Stack::typescript_env`; `types` and `deploy` write it to `<entrypoint dir>/<logical id>.env.d.ts`.
//! The name comes from the logical id, which is unique in a stack, so two Workers never write the
//! same file, even when they share a directory or an entrypoint; characters outside
//! `[A-Za-z0-9_-]` in the id are written as `%XX`. A file whose content is already right is not
//! rewritten, so builds watching the directory are not woken for nothing. Workers built from
//! Rust (workers-rs) get a typed `Env` module from the macro instead and no file here.

use std::path::PathBuf;

use athanor_core::stack::WorkerCode;
use athanor_core::{Props, Stack};

use crate::error::{Error, Result};
use crate::state::{Access, file_name, write_atomic};

/// Entrypoint extensions of Workers written in JavaScript or TypeScript.
const SCRIPT_EXTENSIONS: [&str; 8] = ["js", "mjs", "cjs", "jsx", "ts", "mts", "cts", "tsx"];

/// Where the declaration of Worker `id` with entrypoint `entrypoint` goes, if it is a JS/TS one.
pub(crate) fn declaration_path(stack: &Stack, id: &str) -> Option<PathBuf> {
    let Props::Worker(worker) = &stack.get(id)?.props else {
        return None;
    };
    let WorkerCode::Entrypoint(entrypoint) = &worker.code else {
        return None;
    };
    let ext = entrypoint.extension()?.to_str()?;
    if !SCRIPT_EXTENSIONS.contains(&ext) {
        return None;
    }
    let entry = stack.root.join(entrypoint);
    let dir = entry.parent()?.to_owned();
    Some(dir.join(format!("{}.env.d.ts", file_name(id))))
}

/// Writes every JS/TS Worker's declaration; returns the files written or already current.
pub(crate) fn write_all(stack: &Stack) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (id, declaration) in &stack.typescript_env {
        let Some(path) = declaration_path(stack, id) else {
            continue;
        };
        let content = if declaration.ends_with('\n') {
            declaration.clone()
        } else {
            format!("{declaration}\n")
        };
        if std::fs::read(&path).ok().as_deref() != Some(content.as_bytes()) {
            write_atomic(&path, content.as_bytes(), Access::Shared).map_err(|e| match e {
                Error::Io { source, .. } => Error::Types {
                    id: id.clone(),
                    path: path.clone(),
                    source,
                },
                other => other,
            })?;
        }
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use athanor_core::Resource;
    use athanor_core::stack::Worker;

    fn worker(id: &str, entry: &str) -> Resource {
        Resource::new(
            id,
            Worker {
                code: WorkerCode::Entrypoint(entry.into()),
                ..Worker::default()
            },
        )
    }

    #[test]
    fn declarations_go_beside_js_and_ts_entrypoints_without_collisions() {
        let tmp = tempfile::tempdir().unwrap();
        let stack = Stack::new("app", tmp.path())
            .with(worker("api", "src/worker.ts"))
            .with(worker("api.v2", "src/worker.ts"))
            .with(worker("rusty", "build/worker/shim.wasm"))
            .with_typescript_env("api", "interface Env { A: string }")
            .with_typescript_env("api.v2", "interface Env { B: string }")
            .with_typescript_env("rusty", "interface Env {}");
        let written = write_all(&stack).unwrap();
        assert_eq!(written.len(), 2);
        let a = std::fs::read_to_string(tmp.path().join("src/api.env.d.ts")).unwrap();
        let b = std::fs::read_to_string(tmp.path().join("src/api%2Ev2.env.d.ts")).unwrap();
        assert_eq!(a, "interface Env { A: string }\n");
        assert_eq!(b, "interface Env { B: string }\n");
        // A second run leaves current files alone.
        let before = std::fs::metadata(tmp.path().join("src/api.env.d.ts"))
            .unwrap()
            .modified()
            .unwrap();
        write_all(&stack).unwrap();
        let after = std::fs::metadata(tmp.path().join("src/api.env.d.ts"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after);
    }
}
