//! Collects a Worker's modules for upload, without Node wherever possible.
//!
//! - `.js` / `.mjs` modules are uploaded as they are, with the graph of their relative imports,
//!   each as an ES module part named by its path relative to the graph's common directory.
//! - `.ts` / `.mts` modules are type-stripped in-process with oxc and uploaded as `.js` / `.mjs`
//!   parts; import specifiers are rewritten to the uploaded part names (`./x.ts` -> `./x.js`).
//! - A workers-rs `worker-build` output (`build/worker/shim.mjs`, found from the crate
//!   directory or its `Cargo.toml`) is the same graph, its `.wasm` becoming a wasm part.
//! - Only when code imports a bare package (from `node_modules`) is esbuild run: the one
//!   [`ESBUILD_ENV`] names, else the project's `node_modules/.bin`, else `PATH`; without it the
//!   error says how to get it.
//!
//! [`WorkerModules::content_hash`] covers every part's name and bytes and the main module's name,
//! so any code change is a change for the engine.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Component, Path, PathBuf};

use oxc::allocator::Allocator;
use oxc::codegen::Codegen;
use oxc::parser::Parser;
use oxc::semantic::SemanticBuilder;
use oxc::span::SourceType;
use oxc::transformer::{TransformOptions, Transformer};
use sha2::{Digest, Sha256};

use crate::error::Error;

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

/// The environment variable naming the esbuild executable to bundle with, before any search:
/// for an esbuild installed outside the project and `PATH`, or a pinned one.
pub const ESBUILD_ENV: &str = "ATHANOR_ESBUILD";

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    JavaScript,
    TypeScript,
    Wasm,
    Text,
    Data,
}

fn kind_of(path: &Path) -> FileKind {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "js" | "mjs" | "cjs" => FileKind::JavaScript,
        "ts" | "mts" | "cts" => FileKind::TypeScript,
        "wasm" => FileKind::Wasm,
        "txt" | "html" | "sql" | "md" | "css" | "svg" => FileKind::Text,
        _ => FileKind::Data,
    }
}

/// An import found in a module: where its specifier sits in the text, and what it names.
struct Import {
    /// Byte range of the specifier inside the quotes.
    start: usize,
    end: usize,
    specifier: String,
    target: PathBuf,
}

struct Collected {
    kind: FileKind,
    /// JavaScript text (type-stripped for TypeScript); `None` for non-JS parts.
    code: Option<String>,
    bytes: Vec<u8>,
    imports: Vec<Import>,
}

/// Collects the modules of the Worker whose entrypoint is `entrypoint` (relative to `root`).
pub fn collect(root: &Path, entrypoint: &Path) -> Result<WorkerModules, Error> {
    let entry = resolve_entry(&root.join(entrypoint))?;
    let mut files: BTreeMap<PathBuf, Collected> = BTreeMap::new();
    let mut queue = VecDeque::from([entry.clone()]);
    let mut bare: Vec<String> = Vec::new();
    while let Some(path) = queue.pop_front() {
        if files.contains_key(&path) {
            continue;
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| Error::Local(format!("cannot read the module {}: {e}", path.display())))?;
        let kind = kind_of(&path);
        let (code, imports) = match kind {
            FileKind::JavaScript | FileKind::TypeScript => {
                let text = String::from_utf8(bytes.clone()).map_err(|_| {
                    Error::Local(format!("the module {} is not valid UTF-8", path.display()))
                })?;
                let code = if kind == FileKind::TypeScript {
                    strip_types(&path, &text)?
                } else {
                    text
                };
                let mut imports = Vec::new();
                for (start, end, specifier) in find_imports(&path, &code)? {
                    if is_relative(&specifier) {
                        let target = resolve_import(&path, &specifier)?;
                        queue.push_back(target.clone());
                        imports.push(Import {
                            start,
                            end,
                            specifier,
                            target,
                        });
                    } else if !is_runtime_provided(&specifier) && !bare.contains(&specifier) {
                        bare.push(specifier);
                    }
                }
                (Some(code), imports)
            }
            _ => (None, Vec::new()),
        };
        files.insert(
            path,
            Collected {
                kind,
                code,
                bytes,
                imports,
            },
        );
    }
    let sources: Vec<PathBuf> = files.keys().cloned().collect();
    if !bare.is_empty() {
        return bundle_with_esbuild(root, &entry, &bare, sources);
    }
    let base = common_dir(files.keys().map(PathBuf::as_path));
    let mut names: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut taken: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (path, file) in &files {
        let name = part_name(&base, path, file.kind);
        if let Some(other) = taken.insert(name.clone(), path.clone()) {
            return Err(Error::Local(format!(
                "{} and {} would both be uploaded as `{name}`: rename one of them",
                other.display(),
                path.display()
            )));
        }
        names.insert(path.clone(), name);
    }
    let mut modules = Vec::new();
    for (path, file) in files {
        let name = names[&path].clone();
        let (content_type, bytes) = match file.kind {
            FileKind::JavaScript | FileKind::TypeScript => {
                let mut code = file.code.unwrap_or_default();
                let mut imports = file.imports;
                imports.sort_by_key(|i| std::cmp::Reverse(i.start));
                for import in imports {
                    let wanted = relative_specifier(&name, &names[&import.target]);
                    if wanted != import.specifier {
                        code.replace_range(import.start..import.end, &wanted);
                    }
                }
                let is_commonjs = path.extension().is_some_and(|e| e == "cjs" || e == "cts");
                (
                    if is_commonjs { COMMONJS } else { ES_MODULE },
                    code.into_bytes(),
                )
            }
            FileKind::Wasm => (WASM, file.bytes),
            FileKind::Text => (TEXT, file.bytes),
            FileKind::Data => (DATA, file.bytes),
        };
        modules.push(Module {
            name,
            content_type,
            bytes,
        });
    }
    modules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(WorkerModules {
        main_module: names[&entry].clone(),
        modules,
        sources,
    })
}

/// The entry file: the path itself, or a workers-rs build output found from a crate directory
/// or its `Cargo.toml`.
fn resolve_entry(path: &Path) -> Result<PathBuf, Error> {
    let crate_dir = if path.is_dir() {
        Some(path.to_path_buf())
    } else if path.file_name().is_some_and(|n| n == "Cargo.toml") {
        path.parent().map(Path::to_path_buf)
    } else {
        None
    };
    if let Some(dir) = crate_dir {
        let shim = dir.join("build").join("worker").join("shim.mjs");
        if shim.is_file() {
            return canonical(&shim);
        }
        return Err(Error::Local(format!(
            "the Worker entrypoint {} is a Rust crate without a workers-rs build: run `worker-build --release` in {} (cargo install worker-build) so that build/worker/shim.mjs exists",
            path.display(),
            dir.display()
        )));
    }
    if !path.is_file() {
        return Err(Error::Local(format!(
            "the Worker entrypoint {} does not exist: fix `entrypoint` (it is relative to the crate that declares the stack)",
            path.display()
        )));
    }
    canonical(path)
}

fn canonical(path: &Path) -> Result<PathBuf, Error> {
    std::fs::canonicalize(path)
        .map_err(|e| Error::Local(format!("cannot resolve {}: {e}", path.display())))
}

fn is_relative(specifier: &str) -> bool {
    specifier.starts_with("./") || specifier.starts_with("../")
}

/// Specifiers the Workers runtime provides itself.
fn is_runtime_provided(specifier: &str) -> bool {
    specifier.starts_with("cloudflare:")
        || specifier.starts_with("node:")
        || specifier.starts_with("workerd:")
}

/// Resolves a relative import the way bundlers do for TypeScript: the exact file, a `.ts`
/// sibling of a `.js` specifier, an added extension, or an `index` file.
fn resolve_import(from: &Path, specifier: &str) -> Result<PathBuf, Error> {
    let clean = specifier.split(['?', '#']).next().unwrap_or(specifier);
    let dir = from.parent().unwrap_or(Path::new("."));
    let base = dir.join(clean);
    let mut candidates = vec![base.clone()];
    if let Some(ext) = base.extension().and_then(|e| e.to_str()) {
        let ts = match ext {
            "js" => Some("ts"),
            "mjs" => Some("mts"),
            _ => None,
        };
        if let Some(ts) = ts {
            candidates.push(base.with_extension(ts));
        }
    }
    for ext in ["ts", "mts", "js", "mjs"] {
        let mut p = base.clone().into_os_string();
        p.push(format!(".{ext}"));
        candidates.push(PathBuf::from(p));
    }
    for index in ["index.ts", "index.js", "index.mjs"] {
        candidates.push(base.join(index));
    }
    for c in candidates {
        if c.is_file() {
            return canonical(&c);
        }
    }
    Err(Error::Local(format!(
        "{} imports `{specifier}`, which does not exist: fix the import",
        from.display()
    )))
}

/// Type-strips a TypeScript module with oxc.
pub fn strip_types(path: &Path, source: &str) -> Result<String, Error> {
    let alloc = Allocator::default();
    let source_type = SourceType::from_path(path).map_err(|e| {
        Error::Local(format!(
            "cannot tell the language of {}: {e}",
            path.display()
        ))
    })?;
    let parsed = Parser::new(&alloc, source, source_type).parse();
    if parsed.panicked || parsed.diagnostics.has_errors() {
        return Err(syntax_error(path, parsed.diagnostics.errors()));
    }
    let mut program = parsed.program;
    let scoping = SemanticBuilder::new()
        .build(&program)
        .semantic
        .into_scoping();
    let transformed = Transformer::new(&alloc, path, &TransformOptions::default())
        .build_with_scoping(scoping, &mut program);
    if transformed.diagnostics.has_errors() {
        return Err(syntax_error(path, transformed.diagnostics.errors()));
    }
    Ok(Codegen::new().build(&program).code)
}

fn syntax_error<'d>(
    path: &Path,
    errors: impl Iterator<Item = &'d oxc::diagnostics::OxcDiagnostic>,
) -> Error {
    let list: Vec<String> = errors.take(5).map(|e| e.to_string()).collect();
    Error::Local(format!(
        "{} does not parse: {}",
        path.display(),
        list.join("; ")
    ))
}

/// The static and dynamic import specifiers of a JavaScript module: byte range inside the
/// quotes, and the specifier text.
fn find_imports(path: &Path, code: &str) -> Result<Vec<(usize, usize, String)>, Error> {
    let alloc = Allocator::default();
    let parsed = Parser::new(&alloc, code, SourceType::mjs()).parse();
    if parsed.panicked || parsed.diagnostics.has_errors() {
        return Err(syntax_error(path, parsed.diagnostics.errors()));
    }
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for requests in parsed.module_record.requested_modules.values() {
        for r in requests {
            spans.push((r.span.start as usize, r.span.end as usize));
        }
    }
    for d in &parsed.module_record.dynamic_imports {
        spans.push((
            d.module_request.start as usize,
            d.module_request.end as usize,
        ));
    }
    spans.sort_unstable();
    spans.dedup();
    let mut out = Vec::new();
    for (start, end) in spans {
        let Some(text) = code.get(start..end) else {
            continue;
        };
        let quoted = text.len() >= 2
            && (text.starts_with('"') || text.starts_with('\''))
            && text.ends_with(&text[..1]);
        if quoted {
            out.push((start + 1, end - 1, text[1..text.len() - 1].to_owned()));
        }
    }
    Ok(out)
}

/// The directory all paths share.
fn common_dir<'p>(paths: impl Iterator<Item = &'p Path>) -> PathBuf {
    let mut common: Option<PathBuf> = None;
    for p in paths {
        let dir = p.parent().unwrap_or(Path::new("/")).to_path_buf();
        common = Some(match common {
            None => dir,
            Some(c) => {
                let mut out = PathBuf::new();
                for (a, b) in c.components().zip(dir.components()) {
                    if a != b {
                        break;
                    }
                    out.push(a.as_os_str());
                }
                out
            }
        });
    }
    common.unwrap_or_default()
}

/// A file's part name: its path relative to `base`, `/`-separated, `.ts` becoming `.js`.
fn part_name(base: &Path, path: &Path, kind: FileKind) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    let mut parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if kind == FileKind::TypeScript
        && let Some(last) = parts.last_mut()
    {
        for (from, to) in [(".mts", ".mjs"), (".cts", ".cjs"), (".ts", ".js")] {
            if let Some(stem) = last.strip_suffix(from) {
                *last = format!("{stem}{to}");
                break;
            }
        }
    }
    parts.join("/")
}

/// The relative specifier from the part `from` to the part `to` (`./x.js`, `../lib/y.js`).
fn relative_specifier(from: &str, to: &str) -> String {
    let from_dir: Vec<&str> = from.split('/').collect::<Vec<_>>();
    let from_dir = &from_dir[..from_dir.len() - 1];
    let to_parts: Vec<&str> = to.split('/').collect();
    let shared = from_dir
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let ups = from_dir.len() - shared;
    let rest = to_parts[shared..].join("/");
    if ups == 0 {
        format!("./{rest}")
    } else {
        format!("{}{rest}", "../".repeat(ups))
    }
}

/// Finds esbuild: the file [`ESBUILD_ENV`] names (an error if it names none), else the
/// project's `node_modules/.bin` (from `root` upwards), then `PATH`.
fn find_esbuild(root: &Path) -> Result<Option<PathBuf>, Error> {
    locate_esbuild(
        root,
        std::env::var_os(ESBUILD_ENV),
        std::env::var_os("PATH"),
    )
}

/// [`find_esbuild`] with the values of [`ESBUILD_ENV`] and `PATH` given.
fn locate_esbuild(
    root: &Path,
    explicit: Option<std::ffi::OsString>,
    path_var: Option<std::ffi::OsString>,
) -> Result<Option<PathBuf>, Error> {
    if let Some(explicit) = explicit.filter(|v| !v.is_empty()) {
        let path = PathBuf::from(explicit);
        if path.is_file() {
            return Ok(Some(path));
        }
        return Err(Error::Local(format!(
            "{ESBUILD_ENV} is set to {}, which is not a file: point it at an esbuild executable, or unset it to use the project's node_modules/.bin or PATH",
            path.display()
        )));
    }
    let exe = if cfg!(windows) {
        "esbuild.cmd"
    } else {
        "esbuild"
    };
    let mut dir = Some(root);
    while let Some(d) = dir {
        let candidate = d.join("node_modules").join(".bin").join(exe);
        if candidate.is_file() {
            return Ok(Some(candidate));
        }
        dir = d.parent();
    }
    Ok(path_var.and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(exe))
            .find(|p| p.is_file())
    }))
}

/// Bundles the Worker with esbuild into one ES module (code importing bare packages).
fn bundle_with_esbuild(
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

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn module<'m>(m: &'m WorkerModules, name: &str) -> &'m Module {
        m.modules
            .iter()
            .find(|x| x.name == name)
            .unwrap_or_else(|| {
                panic!(
                    "no part {name} in {:?}",
                    m.modules.iter().map(|x| &x.name).collect::<Vec<_>>()
                )
            })
    }

    #[test]
    fn javascript_graphs_upload_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let main = "import { helper } from './lib/helper.js';\nimport { DurableObject } from 'cloudflare:workers';\nexport default { fetch() { return new Response(helper()); } };\n";
        write(dir.path(), "src/index.js", main);
        write(
            dir.path(),
            "src/lib/helper.js",
            "export * from '../shared.mjs';\nexport function helper() { return 'hi'; }\n",
        );
        write(dir.path(), "src/shared.mjs", "export const x = 1;\n");
        write(dir.path(), "src/unused.js", "export const unused = 1;\n");
        let m = collect(dir.path(), Path::new("src/index.js")).unwrap();
        assert_eq!(m.main_module, "index.js");
        let names: Vec<&str> = m.modules.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["index.js", "lib/helper.js", "shared.mjs"]);
        assert_eq!(module(&m, "index.js").bytes, main.as_bytes());
        assert!(m.modules.iter().all(|x| x.content_type == ES_MODULE));
    }

    #[test]
    fn typescript_is_stripped_and_imports_point_at_the_uploaded_parts() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "src/worker.ts",
            "import { greet } from './greet.ts';\nimport { add } from './math';\ninterface Env { NAME: string }\nexport default { async fetch(req: Request, env: Env): Promise<Response> { return new Response(greet(env.NAME) + add(1, 2)); } };\n",
        );
        write(
            dir.path(),
            "src/greet.ts",
            "export function greet(name: string): string { return `hi ${name}`; }\n",
        );
        write(
            dir.path(),
            "src/math.ts",
            "export const add = (a: number, b: number): number => a + b;\n",
        );
        let m = collect(dir.path(), Path::new("src/worker.ts")).unwrap();
        assert_eq!(m.main_module, "worker.js");
        let main = String::from_utf8(module(&m, "worker.js").bytes.clone()).unwrap();
        assert!(
            main.contains("\"./greet.js\"") || main.contains("'./greet.js'"),
            "{main}"
        );
        assert!(main.contains("./math.js"), "{main}");
        assert!(!main.contains("interface"), "{main}");
        assert!(!main.contains(": Env"), "{main}");
        let greet = String::from_utf8(module(&m, "greet.js").bytes.clone()).unwrap();
        assert!(!greet.contains(": string"), "{greet}");
    }

    #[test]
    fn a_workers_rs_build_uploads_its_wasm() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "Cargo.toml", "[package]\nname = \"w\"\n");
        write(
            dir.path(),
            "build/worker/shim.mjs",
            "import wasm from './index.wasm';\nexport * from '../index.js';\nexport default { fetch() {} };\n",
        );
        write(dir.path(), "build/index.js", "export const glue = 1;\n");
        std::fs::write(
            dir.path().join("build/worker/index.wasm"),
            b"\0asm\x01\0\0\0",
        )
        .unwrap();
        let m = collect(dir.path(), Path::new(".")).unwrap();
        assert_eq!(m.main_module, "worker/shim.mjs");
        assert_eq!(module(&m, "worker/index.wasm").content_type, WASM);
        assert_eq!(module(&m, "index.js").content_type, ES_MODULE);
        let via_manifest = collect(dir.path(), Path::new("Cargo.toml")).unwrap();
        assert_eq!(via_manifest, m);
    }

    #[test]
    fn query_suffixed_wasm_imports_name_the_uploaded_part() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "index.mjs",
            "import mod from './pkg/app.wasm?module';\nconst lazy = () => import('./lazy.js');\nexport default { fetch() { return new Response(String(mod) + lazy); } };\n",
        );
        write(dir.path(), "lazy.js", "export const x = 1;\n");
        std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
        std::fs::write(dir.path().join("pkg/app.wasm"), b"\0asm\x01\0\0\0").unwrap();
        let m = collect(dir.path(), Path::new("index.mjs")).unwrap();
        let main = String::from_utf8(module(&m, "index.mjs").bytes.clone()).unwrap();
        assert!(main.contains("'./pkg/app.wasm'"), "{main}");
        assert!(main.contains("import('./lazy.js')"), "{main}");
        assert_eq!(module(&m, "pkg/app.wasm").content_type, WASM);
        assert_eq!(module(&m, "lazy.js").content_type, ES_MODULE);
    }

    #[test]
    fn a_crate_without_a_build_says_how_to_build_it() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "Cargo.toml", "[package]\n");
        let err = collect(dir.path(), Path::new("Cargo.toml")).unwrap_err();
        assert!(err.to_string().contains("worker-build"), "{err}");
    }

    #[test]
    fn missing_files_and_imports_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = collect(dir.path(), Path::new("nope.js")).unwrap_err();
        assert!(err.to_string().contains("nope.js"), "{err}");
        write(dir.path(), "a.js", "import './missing.js';\n");
        let err = collect(dir.path(), Path::new("a.js")).unwrap_err();
        assert!(err.to_string().contains("./missing.js"), "{err}");
    }

    #[test]
    fn syntax_errors_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "bad.ts", "export const x: = ;\n");
        let err = collect(dir.path(), Path::new("bad.ts")).unwrap_err();
        assert!(err.to_string().contains("does not parse"), "{err}");
    }

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

    #[test]
    fn an_explicit_esbuild_comes_first_and_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "node_modules/.bin/esbuild", "#!/bin/sh\n");
        write(dir.path(), "tools/esbuild", "#!/bin/sh\n");
        let project = dir.path().join("app/src");
        std::fs::create_dir_all(&project).unwrap();
        let explicit = dir.path().join("tools/esbuild");
        assert_eq!(
            locate_esbuild(&project, Some(explicit.clone().into()), None).unwrap(),
            Some(explicit)
        );
        // Unset or empty: the nearest node_modules/.bin upwards.
        for unset in [None, Some("".into())] {
            assert_eq!(
                locate_esbuild(&project, unset, None).unwrap(),
                Some(dir.path().join("node_modules/.bin/esbuild"))
            );
        }
        let missing = dir.path().join("nowhere/esbuild");
        let err = locate_esbuild(&project, Some(missing.into()), None).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(ESBUILD_ENV) && text.contains("nowhere/esbuild"),
            "{text}"
        );
        let bin = dir.path().join("tools");
        assert_eq!(
            locate_esbuild(Path::new("/"), None, Some(bin.clone().into_os_string())).unwrap(),
            Some(bin.join("esbuild"))
        );
    }

    #[test]
    fn the_hash_covers_names_bytes_and_the_main_module() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.js", "import './b.js';\n");
        write(dir.path(), "b.js", "export const b = 1;\n");
        let first = collect(dir.path(), Path::new("a.js")).unwrap();
        assert_eq!(
            first.content_hash(),
            collect(dir.path(), Path::new("a.js"))
                .unwrap()
                .content_hash()
        );
        write(dir.path(), "b.js", "export const b = 2;\n");
        let changed = collect(dir.path(), Path::new("a.js")).unwrap();
        assert_ne!(first.content_hash(), changed.content_hash());
        let mut renamed = changed.clone();
        renamed.main_module = "b.js".into();
        assert_ne!(renamed.content_hash(), changed.content_hash());
    }

    #[test]
    fn relative_specifiers_between_parts() {
        assert_eq!(relative_specifier("index.js", "lib/a.js"), "./lib/a.js");
        assert_eq!(relative_specifier("lib/a.js", "b.js"), "../b.js");
        assert_eq!(relative_specifier("lib/a.js", "lib/c/d.js"), "./c/d.js");
        assert_eq!(
            relative_specifier("worker/shim.mjs", "index.js"),
            "../index.js"
        );
    }
}
