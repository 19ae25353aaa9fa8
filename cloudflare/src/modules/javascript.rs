//! JavaScript and TypeScript Workers: the entrypoint and the graph of its relative imports, each
//! an ES module part named by its path relative to the graph's common directory; TypeScript
//! type-stripped with oxc and its import specifiers rewritten to the uploaded part names
//! (`./x.ts` -> `./x.js`). A workers-rs `worker-build` output (`build/worker/shim.mjs`, found
//! from the crate directory or its `Cargo.toml`) is the same graph, its `.wasm` a wasm part. Code
//! that imports a bare package is bundled with esbuild instead.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Component, Path, PathBuf};

use oxc::allocator::Allocator;
use oxc::codegen::Codegen;
use oxc::parser::Parser;
use oxc::semantic::SemanticBuilder;
use oxc::span::SourceType;
use oxc::transformer::{TransformOptions, Transformer};

use super::{COMMONJS, DATA, ES_MODULE, Module, TEXT, WASM, WorkerModules};
use crate::error::Error;

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
pub(super) fn collect(root: &Path, entrypoint: &Path) -> Result<WorkerModules, Error> {
    let entry = resolve_entry(&root.join(entrypoint))?;
    let (files, bare) = read_graph(&entry)?;
    let sources: Vec<PathBuf> = files.keys().cloned().collect();
    if !bare.is_empty() {
        return super::esbuild::bundle(root, &entry, &bare, sources);
    }
    let names = part_names(&files)?;
    let mut modules: Vec<Module> = files
        .into_iter()
        .map(|(path, file)| to_module(&path, file, &names))
        .collect();
    modules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(WorkerModules {
        main_module: names[&entry].clone(),
        modules,
        sources,
    })
}

/// Every file reachable from `entry` by relative imports, read, and the bare specifiers
/// (packages) met on the way, in order of appearance.
fn read_graph(entry: &Path) -> Result<(BTreeMap<PathBuf, Collected>, Vec<String>), Error> {
    let mut files: BTreeMap<PathBuf, Collected> = BTreeMap::new();
    let mut queue = VecDeque::from([entry.to_path_buf()]);
    let mut bare: Vec<String> = Vec::new();
    while let Some(path) = queue.pop_front() {
        if files.contains_key(&path) {
            continue;
        }
        let file = read_module(&path, &mut bare)?;
        queue.extend(file.imports.iter().map(|i| i.target.clone()));
        files.insert(path, file);
    }
    Ok((files, bare))
}

/// One file of the graph: its bytes, and for JavaScript or TypeScript its code (types
/// stripped) and relative imports; bare specifiers not provided by the runtime go to `bare`.
fn read_module(path: &Path, bare: &mut Vec<String>) -> Result<Collected, Error> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Local(format!("cannot read the module {}: {e}", path.display())))?;
    let kind = kind_of(path);
    if !matches!(kind, FileKind::JavaScript | FileKind::TypeScript) {
        return Ok(Collected {
            kind,
            code: None,
            bytes,
            imports: Vec::new(),
        });
    }
    let text = String::from_utf8(bytes.clone())
        .map_err(|_| Error::Local(format!("the module {} is not valid UTF-8", path.display())))?;
    let code = if kind == FileKind::TypeScript {
        strip_types(path, &text)?
    } else {
        text
    };
    let mut imports = Vec::new();
    for (start, end, specifier) in find_imports(path, &code)? {
        if is_relative(&specifier) {
            let target = resolve_import(path, &specifier)?;
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
    Ok(Collected {
        kind,
        code: Some(code),
        bytes,
        imports,
    })
}

/// The name each file is uploaded as, relative to the files' common directory; two files that
/// would get one name are an error.
fn part_names(files: &BTreeMap<PathBuf, Collected>) -> Result<BTreeMap<PathBuf, String>, Error> {
    let base = common_dir(files.keys().map(PathBuf::as_path));
    let mut names: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut taken: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (path, file) in files {
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
    Ok(names)
}

/// The upload part of one file: its imports rewritten to the names their targets are uploaded
/// as, and its content type.
fn to_module(path: &Path, file: Collected, names: &BTreeMap<PathBuf, String>) -> Module {
    let name = names[path].clone();
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
    Module {
        name,
        content_type,
        bytes,
    }
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
pub(super) fn strip_types(path: &Path, source: &str) -> Result<String, Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::tests::write;

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
