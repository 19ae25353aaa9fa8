//! Bundling with a real esbuild: a Worker (`.ts` and `.js`) importing a bare package from its
//! project's `node_modules` becomes one ES module with the package inlined, and the emulator
//! accepts its upload.
//!
//! `.ci/run` installs the pinned esbuild with `npm ci --prefix cloudflare/tests/esbuild` and
//! exports `ATHANOR_ESBUILD`, which the product honours itself. Without that variable the pinned
//! binary is linked into the test project's `node_modules/.bin`, where the product looks next.
//! Without esbuild the test says why and passes, unless `CI` is set.

use std::path::{Path, PathBuf};

use athanor_cloudflare::modules::{self, ES_MODULE, ESBUILD_ENV};
use athanor_core::stack::Worker;
use athanor_core::{Binding, Output, Provider};

use crate::common::{Decl, Fixture, start};

/// The esbuild the test runs: `ATHANOR_ESBUILD`, else the pinned npm package.
fn pinned_esbuild() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(ESBUILD_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let local =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/esbuild/node_modules/.bin/esbuild");
    local.exists().then_some(local)
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A project with a tiny ES package of two files in its own `node_modules`, and Workers that
/// import it: `src/worker.ts` and `src/index.js`.
fn project(root: &Path, esbuild: &Path) {
    write(
        root,
        "node_modules/tiny-greeting/package.json",
        r#"{"name": "tiny-greeting", "version": "1.0.0", "type": "module", "main": "index.js"}"#,
    );
    write(
        root,
        "node_modules/tiny-greeting/index.js",
        "import { excite } from './lib/excite.js';\nexport function greet(name) { return excite('hello ' + name) + ' tiny-greeting-marker'; }\n",
    );
    write(
        root,
        "node_modules/tiny-greeting/lib/excite.js",
        "export const excite = (s) => s.toUpperCase() + '!excited-marker';\n",
    );
    write(
        root,
        "src/worker.ts",
        "import { greet } from 'tiny-greeting';\nimport { DurableObject } from 'cloudflare:workers';\ninterface Env { NAME: string }\nexport class Counter extends DurableObject {}\nexport default {\n  async fetch(_req: Request, env: Env): Promise<Response> {\n    return new Response(greet(env.NAME));\n  },\n};\n",
    );
    write(
        root,
        "src/index.js",
        "import { greet } from 'tiny-greeting';\nimport { suffix } from './local.js';\nexport default { fetch() { return new Response(greet('js') + suffix); } };\n",
    );
    write(
        root,
        "src/local.js",
        "export const suffix = ' local-marker';\n",
    );
    if std::env::var_os(ESBUILD_ENV).is_none() {
        let bin = root.join("node_modules/.bin");
        std::fs::create_dir_all(&bin).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(esbuild, bin.join("esbuild")).unwrap();
        #[cfg(not(unix))]
        std::fs::copy(esbuild, bin.join("esbuild.exe")).unwrap();
    }
}

/// The uploaded code of an account script with one module, as the API returns it.
async fn downloaded(fx: &Fixture, name: &str) -> String {
    let resp = reqwest::Client::new()
        .get(fx.emulator.account_url(&format!("/workers/scripts/{name}")))
        .bearer_auth(fx.emulator.token())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

/// Bundles `entrypoint`, checks the bundle, deploys it and checks what the emulator stored.
async fn bundle_and_deploy(fx: &Fixture, root: &Path, entrypoint: &str, main: &str) -> String {
    let code = athanor_core::stack::WorkerCode::Entrypoint(entrypoint.into());
    let bundled = modules::collect(root, &code, &|_| {}).unwrap();
    assert_eq!(bundled.main_module, main);
    assert_eq!(bundled.modules.len(), 1, "one ES module: {bundled:?}");
    let module = &bundled.modules[0];
    assert_eq!(
        (module.name.as_str(), module.content_type),
        (main, ES_MODULE)
    );
    let code = String::from_utf8(module.bytes.clone()).unwrap();
    for inlined in ["tiny-greeting-marker", "!excited-marker", "toUpperCase"] {
        assert!(code.contains(inlined), "{inlined} is not inlined:\n{code}");
    }
    assert!(
        !code.contains("\"tiny-greeting\"") && !code.contains("'tiny-greeting'"),
        "the package is still imported:\n{code}"
    );
    assert!(code.contains("export"), "not an ES module:\n{code}");

    let name = format!("bundled-{}", main.trim_end_matches(".js"));
    let props = Worker {
        code: athanor_core::stack::WorkerCode::Entrypoint(entrypoint.into()),
        bindings: vec![Binding::new("NAME", "esbuild")],
        ..Worker::default()
    };
    let decl = Decl::new("bundled", &name, props).root(root);
    let out = fx.provider.create(&decl.desired()).await.unwrap();
    let Output::Worker(w) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(w.content_hash, bundled.content_hash());
    assert_eq!(downloaded(fx, &name).await, code);
    code
}

#[tokio::test]
async fn a_bare_package_is_bundled_into_one_module_that_uploads() {
    let Some(esbuild) = pinned_esbuild() else {
        let why = "esbuild is not installed: run `npm ci --prefix cloudflare/tests/esbuild` (or set ATHANOR_ESBUILD)";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipping the esbuild test: {why}");
        return;
    };
    let fx = start().await;
    let root = fx.dir.path().join("project");
    project(&root, &esbuild);

    let ts = bundle_and_deploy(&fx, &root, "src/worker.ts", "worker.js").await;
    assert!(
        !ts.contains("interface Env") && !ts.contains("Promise<Response>"),
        "types left in the bundle:\n{ts}"
    );
    assert!(
        ts.contains("cloudflare:workers"),
        "the runtime module stays external:\n{ts}"
    );
    assert!(ts.contains("Counter"), "{ts}");

    let js = bundle_and_deploy(&fx, &root, "src/index.js", "index.js").await;
    assert!(
        js.contains("local-marker"),
        "the relative import is inlined too:\n{js}"
    );
}
