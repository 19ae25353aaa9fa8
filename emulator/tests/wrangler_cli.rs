//! The standalone emulator binary, driven by a real client no one here wrote: wrangler 4 (KV,
//! R2, `deploy`, and `versions upload` / `versions deploy` / `rollback`).
//!
//! `.ci/run` installs wrangler with `npm ci --prefix emulator/tests/wrangler` and exports
//! `ATHANOR_WRANGLER`. Without wrangler the test says why and passes, unless `CI` is set.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The standalone emulator process; killed when dropped.
struct Standalone {
    child: Child,
    base_url: String,
    token: String,
    account_id: String,
}

impl Standalone {
    async fn start(data: &Path) -> Standalone {
        let mut child = Command::new(env!("CARGO_BIN_EXE_athanor-emulator"))
            .args(["--port", "0", "--data"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the athanor-emulator binary");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut base_url, mut token, mut account_id) = (None, None, None);
        while base_url.is_none() || token.is_none() || account_id.is_none() {
            let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
                .await
                .expect("the emulator printed its exports in time")
                .unwrap()
                .expect("the emulator exited before printing its exports");
            let Some((k, v)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) else {
                continue;
            };
            match k {
                "CLOUDFLARE_API_BASE_URL" => base_url = Some(v.to_owned()),
                "CLOUDFLARE_API_TOKEN" => token = Some(v.to_owned()),
                "CLOUDFLARE_ACCOUNT_ID" => account_id = Some(v.to_owned()),
                _ => {}
            }
        }
        Standalone {
            child,
            base_url: base_url.unwrap(),
            token: token.unwrap(),
            account_id: account_id.unwrap(),
        }
    }

    async fn api(&self, path: &str) -> Value {
        let r = reqwest::Client::new()
            .get(format!(
                "{}/accounts/{}{path}",
                self.base_url, self.account_id
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    /// The deployed code of account Worker `name`.
    async fn content(&self, name: &str) -> String {
        reqwest::Client::new()
            .get(format!(
                "{}/accounts/{}/workers/scripts/{name}/content/v2",
                self.base_url, self.account_id
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

fn find_wrangler() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ATHANOR_WRANGLER") {
        return Some(PathBuf::from(p));
    }
    let local =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wrangler/node_modules/.bin/wrangler");
    local.exists().then_some(local)
}

/// Runs one wrangler command in `dir`; its stdout, or a panic with both streams.
async fn wrangler(bin: &Path, emu: &Standalone, dir: &Path, args: &[&str]) -> String {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(bin)
            .args(args)
            .current_dir(dir)
            .env("CLOUDFLARE_API_BASE_URL", &emu.base_url)
            .env("CLOUDFLARE_API_TOKEN", &emu.token)
            .env("CLOUDFLARE_ACCOUNT_ID", &emu.account_id)
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CI", "1")
            .env("XDG_CONFIG_HOME", dir.join(".config"))
            .env_remove("CLOUDFLARE_API_KEY")
            .env_remove("CLOUDFLARE_EMAIL")
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("wrangler {args:?} timed out"))
    .expect("run wrangler");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "wrangler {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn wrangler_drives_the_standalone_emulator() {
    let Some(bin) = find_wrangler() else {
        let why = "wrangler is not installed: run `npm ci --prefix emulator/tests/wrangler` (or set ATHANOR_WRANGLER)";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipping the wrangler test: {why}");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let emu = Standalone::start(&tmp.path().join("data")).await;
    let work = tmp.path().join("work");
    std::fs::create_dir_all(work.join("src")).unwrap();
    let w = |args: &'static [&'static str]| wrangler(&bin, &emu, &work, args);

    // KV namespaces.
    w(&["kv", "namespace", "create", "athanor-wrangler"]).await;
    let list = emu.api("/storage/kv/namespaces").await;
    let ns = list["result"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["title"] == "athanor-wrangler")
        .expect("wrangler created the namespace")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = w(&["kv", "namespace", "list"]).await;
    assert!(listed.contains(&ns), "{listed}");

    // KV keys, remotely.
    let put = [
        "kv",
        "key",
        "put",
        "--namespace-id",
        &ns,
        "greeting",
        "hello from wrangler",
        "--remote",
    ];
    wrangler(&bin, &emu, &work, &put).await;
    let got = wrangler(
        &bin,
        &emu,
        &work,
        &[
            "kv",
            "key",
            "get",
            "--namespace-id",
            &ns,
            "greeting",
            "--remote",
        ],
    )
    .await;
    assert!(got.contains("hello from wrangler"), "{got}");
    let keys = wrangler(
        &bin,
        &emu,
        &work,
        &["kv", "key", "list", "--namespace-id", &ns, "--remote"],
    )
    .await;
    assert!(keys.contains("\"greeting\""), "{keys}");

    // R2 buckets.
    w(&["r2", "bucket", "create", "wrangler-bucket"]).await;
    let buckets = w(&["r2", "bucket", "list"]).await;
    assert!(buckets.contains("wrangler-bucket"), "{buckets}");
    assert_eq!(
        emu.api("/r2/buckets/wrangler-bucket").await["result"]["name"],
        "wrangler-bucket"
    );

    // Deploy a Worker with a KV binding.
    let code = "export default { async fetch(req, env) { return new Response(await env.MY_KV.get('greeting')); } };\n";
    std::fs::write(work.join("src/index.js"), code).unwrap();
    let config = serde_json::json!({
        "name": "wrangler-worker",
        "main": "src/index.js",
        "compatibility_date": "2025-01-01",
        "kv_namespaces": [{"binding": "MY_KV", "id": ns}],
    });
    std::fs::write(work.join("wrangler.json"), config.to_string()).unwrap();
    let deployed = w(&["deploy"]).await;
    assert!(
        deployed.contains("wrangler-worker.") && deployed.contains(".workers.dev"),
        "{deployed}"
    );

    let settings = emu.api("/workers/scripts/wrangler-worker/settings").await;
    let bindings = settings["result"]["bindings"].as_array().unwrap();
    assert!(
        bindings.iter().any(|b| b["type"] == "kv_namespace"
            && b["name"] == "MY_KV"
            && b["namespace_id"] == ns.as_str()),
        "{settings}"
    );
    let sub = emu.api("/workers/scripts/wrangler-worker/subdomain").await;
    assert_eq!(sub["result"]["enabled"], true, "{sub}");
    let content = emu.content("wrangler-worker").await;
    assert!(content.contains("env.MY_KV.get"), "{content}");

    // A version uploaded without deploying, deployed, then rolled back.
    let deployments = emu
        .api("/workers/scripts/wrangler-worker/deployments")
        .await;
    let first = deployments["result"]["deployments"][0]["versions"][0]["version_id"]
        .as_str()
        .expect("the deploy is listed")
        .to_owned();
    let code = "export default { async fetch() { return new Response('version two'); } };\n";
    std::fs::write(work.join("src/index.js"), code).unwrap();
    let uploaded = w(&["versions", "upload"]).await;
    let second = uploaded
        .lines()
        .find_map(|l| l.trim().strip_prefix("Worker Version ID: "))
        .unwrap_or_else(|| panic!("no version id in:\n{uploaded}"))
        .trim()
        .to_owned();
    assert!(!emu.content("wrangler-worker").await.contains("version two"));
    let target = format!("{second}@100%");
    wrangler(&bin, &emu, &work, &["versions", "deploy", &target, "-y"]).await;
    assert!(emu.content("wrangler-worker").await.contains("version two"));
    wrangler(
        &bin,
        &emu,
        &work,
        &["rollback", &first, "-y", "--message", "back to the first"],
    )
    .await;
    let content = emu.content("wrangler-worker").await;
    assert!(content.contains("env.MY_KV.get"), "{content}");
    drop(emu.child);
}

#[cfg(unix)]
#[tokio::test]
async fn standalone_binary_prints_exports_and_stops_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let mut emu = Standalone::start(&tmp.path().join("data")).await;
    assert!(emu.base_url.starts_with("http://127.0.0.1:") && emu.base_url.ends_with("/client/v4"));
    assert_eq!(emu.account_id, athanor_emulator::DEFAULT_ACCOUNT_ID);
    let accounts = reqwest::Client::new()
        .get(format!("{}/accounts", emu.base_url))
        .bearer_auth(&emu.token)
        .send()
        .await
        .unwrap();
    assert_eq!(accounts.status(), 200);
    let pid = emu.child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), emu.child.wait())
        .await
        .expect("the emulator stops on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    // Its data stays for the next start.
    assert!(tmp.path().join("data/emulator.sqlite3").exists());
}
