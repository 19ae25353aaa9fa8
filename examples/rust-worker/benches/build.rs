//! Building and deploying the Rust Worker example, side by side with `worker-build`.
//!
//! For athanor: `rust-worker deploy` from clean (an empty wasm target directory, an empty state,
//! a new emulator: the wasm32 build of every dependency included), then a redeploy with nothing
//! changed (its seconds and its API requests), and the size of what was uploaded (raw and
//! gzipped). For worker-build: `worker-build --release` on the same crate from an empty target
//! directory, and the size of what it writes for wrangler to upload.
//!
//! worker-build downloads wasm-bindgen, wasm-opt and esbuild from outside the package registries
//! unless `WASM_BINDGEN_BIN`, `WASM_OPT_BIN` and `ESBUILD_BIN` name local binaries; it runs here
//! when `ATHANOR_BENCH_WORKER_BUILD` names a worker-build and those three are set, and is skipped
//! with the reason otherwise. When `WASM_OPT_BIN` is set, athanor uses the same wasm-opt
//! (`ATHANOR_WASM_OPT`), so that both sizes are optimised alike.
//!
//! `cargo bench -p rust-worker --bench build`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use athanor_emulator::{Config, Emulator};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn gzip_len(bytes: &[u8]) -> usize {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap().len()
}

fn kib(bytes: usize) -> String {
    format!("{:.0} KiB", bytes as f64 / 1024.0)
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Runs the stack binary's `deploy` against `emu`; how long it took.
fn deploy(emu: &Emulator, state: &Path, wasm_target: &Path) -> Duration {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rust-worker"));
    cmd.arg("deploy")
        .env("CLOUDFLARE_API_BASE_URL", emu.base_url())
        .env("CLOUDFLARE_API_TOKEN", emu.token())
        .env("CLOUDFLARE_ACCOUNT_ID", emu.account_id())
        .env("ATHANOR_STATE_DIR", state)
        .env("ATHANOR_STAGE", "bench")
        .env("ATHANOR_CI_STATE_CHECK", "false")
        .env("ATHANOR_WASM_TARGET_DIR", wasm_target)
        .env("ATHANOR_PASSWORD", "bench password")
        .env("SIGNING_KEY", "bench signing key")
        .env("TOKEN", "bench token");
    if let Some(opt) = std::env::var_os("WASM_OPT_BIN") {
        cmd.env("ATHANOR_WASM_OPT", opt);
    }
    let started = Instant::now();
    let out = cmd.output().expect("run the stack binary");
    assert!(
        out.status.success(),
        "deploy failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

/// The modules athanor uploaded: their total size raw and gzipped, from the build's record.
fn uploaded(wasm_target: &Path) -> (usize, usize) {
    let dir = std::fs::read_dir(wasm_target.join("athanor"))
        .expect("the build kept its output")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("modules.json").is_file())
        .expect("one build output");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("modules.json")).unwrap()).unwrap();
    let mut all = Vec::new();
    for part in manifest["parts"].as_array().unwrap() {
        all.extend(std::fs::read(dir.join(part[0].as_str().unwrap())).unwrap());
    }
    (all.len(), gzip_len(&all))
}

/// Runs worker-build on the crate from an empty target directory: its time and output sizes, or
/// why it cannot run here.
fn worker_build(target: &Path) -> Result<(Duration, usize, usize), String> {
    let bin = std::env::var_os("ATHANOR_BENCH_WORKER_BUILD")
        .ok_or("ATHANOR_BENCH_WORKER_BUILD names no worker-build (`cargo install worker-build`)")?;
    for var in ["WASM_BINDGEN_BIN", "WASM_OPT_BIN", "ESBUILD_BIN"] {
        if std::env::var_os(var).is_none() {
            return Err(format!(
                "{var} is not set, and worker-build would download it from outside the package registries"
            ));
        }
    }
    let build = crate_dir().join("build");
    let started = Instant::now();
    let out = Command::new(bin)
        .arg("--release")
        .current_dir(crate_dir())
        .env("CARGO_TARGET_DIR", target)
        .output()
        .map_err(|e| format!("cannot run worker-build: {e}"))?;
    let elapsed = started.elapsed();
    let result = if out.status.success() {
        let mut all = std::fs::read(build.join("index.js")).map_err(|e| e.to_string())?;
        all.extend(std::fs::read(build.join("index_bg.wasm")).map_err(|e| e.to_string())?);
        Ok((elapsed, all.len(), gzip_len(&all)))
    } else {
        Err(format!(
            "worker-build failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    };
    let _ = std::fs::remove_dir_all(&build);
    result
}

#[tokio::main]
async fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm_target = tmp.path().join("athanor-wasm");
    let state = tmp.path().join("state");
    let emu = Emulator::start(Config::new(tmp.path().join("emulator")))
        .await
        .unwrap();
    let emu_ref = &emu;

    println!("Rust Worker example: athanor vs worker-build, from clean");
    let (first, again, requests) = tokio::task::block_in_place(|| {
        let first = deploy(emu_ref, &state, &wasm_target);
        emu_ref.reset_stats();
        let again = deploy(emu_ref, &state, &wasm_target);
        (first, again, emu_ref.stats().total)
    });
    let (raw, gz) = uploaded(&wasm_target);
    let theirs = tokio::task::block_in_place(|| worker_build(&tmp.path().join("worker-build")));

    println!("{:<44} {:>14} {:>14}", "figure", "athanor", "worker-build");
    let wb = |f: &dyn Fn(&(Duration, usize, usize)) -> String| match &theirs {
        Ok(t) => f(t),
        Err(_) => "not run".to_owned(),
    };
    println!(
        "{:<44} {:>14} {:>14}",
        "build (+ deploy, athanor) from clean",
        secs(first),
        wb(&|t| secs(t.0))
    );
    println!(
        "{:<44} {:>14} {:>14}",
        "redeploy with nothing changed",
        format!("{} ({requests} req)", secs(again)),
        "-"
    );
    println!(
        "{:<44} {:>14} {:>14}",
        "uploaded size, raw",
        kib(raw),
        wb(&|t| kib(t.1))
    );
    println!(
        "{:<44} {:>14} {:>14}",
        "uploaded size, gzip",
        kib(gz),
        wb(&|t| kib(t.2))
    );
    if let Err(why) = &theirs {
        println!("worker-build was not run: {why}");
    }
    assert_eq!(
        requests, 0,
        "a redeploy with nothing changed sends no request"
    );
    emu.shutdown().await;
}
