//! The standalone emulator binary, driven by a real client no one here wrote: wrangler 4 (KV,
//! R2, `deploy` of a Worker that then answers its URL on workerd, and `versions upload` /
//! `versions deploy` / `rollback`; D1's create, execute (commands and files), migrations, export
//! and delete; Queues: create, `deploy` of a producer and consumer whose messages are delivered,
//! info, consumer removal, pause, purge and delete).
//!
//! `.ci/run` installs wrangler with `npm ci --prefix emulator/tests/wrangler` and workerd with
//! `npm ci --prefix emulator/tests/workerd`, and exports `ATHANOR_WRANGLER` and `ATHANOR_WORKERD`.
//! Without them the test fails, unless `ATHANOR_SKIP_WRANGLER=1` (or `ATHANOR_SKIP_WORKERD=1`) says
//! to skip it.

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
    /// The Workers port, when it serves Workers.
    workers_port: Option<u16>,
}

impl Standalone {
    /// Starts the binary on `data`, serving Workers with `workerd` when given.
    async fn start(data: &Path, workerd: Option<&Path>) -> Standalone {
        let mut command = Command::new(env!("CARGO_BIN_EXE_athanor-emulator"));
        command.args(["--port", "0", "--data"]).arg(data);
        match workerd {
            Some(path) => command
                .args(["--workers-port", "0"])
                .env("ATHANOR_WORKERD", path),
            None => command.arg("--no-workers"),
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the athanor-emulator binary");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut base_url, mut token, mut account_id, mut workers_port) = (None, None, None, None);
        while base_url.is_none()
            || token.is_none()
            || account_id.is_none()
            || (workerd.is_some() && workers_port.is_none())
        {
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
                "ATHANOR_WORKERS_PORT" => workers_port = v.parse().ok(),
                _ => {}
            }
        }
        Standalone {
            child,
            base_url: base_url.unwrap(),
            token: token.unwrap(),
            account_id: account_id.unwrap(),
            workers_port,
        }
    }

    /// A GET of `url` on the Workers port: the request goes to 127.0.0.1 with `url`'s host in
    /// its Host header, as a resolver that sends the host to the emulator would.
    async fn worker_get(&self, url: &str) -> (u16, String) {
        let port = self.workers_port.expect("the emulator serves Workers");
        let host = url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let r = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
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

/// `program` from `variable` or the pinned npm package under `tests/{package}`; `None` when
/// `ATHANOR_SKIP_{…}=1` says to skip, otherwise a panic that says how to install it.
fn find_tool(program: &str, variable: &str, package: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(variable) {
        return Some(PathBuf::from(p));
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/{package}/node_modules/.bin/{program}"));
    if local.exists() {
        return Some(local);
    }
    let skip = format!("ATHANOR_SKIP_{}", program.to_ascii_uppercase());
    if std::env::var(&skip).is_ok_and(|v| v == "1") {
        eprintln!("skipping: {skip}=1 and {program} is not installed");
        return None;
    }
    panic!(
        "{program} is not installed: run `npm ci --prefix emulator/tests/{package}` (or set {variable}, or {skip}=1 to skip this test)"
    );
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
    let Some(bin) = find_tool("wrangler", "ATHANOR_WRANGLER", "wrangler") else {
        return;
    };
    let Some(workerd) = find_tool("workerd", "ATHANOR_WORKERD", "workerd") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let emu = Standalone::start(&tmp.path().join("data"), Some(&workerd)).await;
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
    let url = deployed
        .split_whitespace()
        .find(|w| w.starts_with("https://wrangler-worker.") && w.contains(".workers.dev"))
        .unwrap_or_else(|| panic!("no workers.dev URL in:\n{deployed}"));
    // The Worker wrangler deployed answers its URL, reading the value wrangler put.
    let (status, body) = emu.worker_get(url).await;
    assert_eq!(
        (status, body.as_str()),
        (200, "hello from wrangler"),
        "{url}"
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
    let (_, body) = emu.worker_get(url).await;
    assert_eq!(body, "version two");
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
    let mut emu = Standalone::start(&tmp.path().join("data"), None).await;
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

#[tokio::test]
async fn wrangler_drives_d1() {
    let Some(bin) = find_tool("wrangler", "ATHANOR_WRANGLER", "wrangler") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let emu = Standalone::start(&tmp.path().join("data"), None).await;
    let work = tmp.path().join("work");
    std::fs::create_dir_all(work.join("migrations")).unwrap();
    let w = |args: &'static [&'static str]| wrangler(&bin, &emu, &work, args);

    let created = w(&["d1", "create", "wrangler-db", "--location", "weur"]).await;
    assert!(created.contains("in region WEUR"), "{created}");
    let list = emu.api("/d1/database").await;
    let id = list["result"][0]["uuid"].as_str().unwrap().to_owned();
    let listed = w(&["d1", "list", "--json"]).await;
    assert!(listed.contains(&id), "{listed}");

    // `execute --command`: the query API, looked up by name.
    let out = w(&[
        "d1",
        "execute",
        "wrangler-db",
        "--remote",
        "--json",
        "--command",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('one'); SELECT body FROM notes",
    ])
    .await;
    let results: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(results[2]["results"][0]["body"], "one", "{results}");

    // `execute --file`: the import protocol (init, upload to the URL, ingest).
    std::fs::write(
        work.join("more.sql"),
        "INSERT INTO notes (body) VALUES ('two');\nINSERT INTO notes (body) VALUES ('three');\n",
    )
    .unwrap();
    let imported = w(&[
        "d1",
        "execute",
        "wrangler-db",
        "--remote",
        "--file",
        "more.sql",
    ])
    .await;
    assert!(imported.contains("Executed 2 queries"), "{imported}");

    // Migrations, through the query API and wrangler's d1_migrations table.
    std::fs::write(
        work.join("wrangler.json"),
        format!(
            r#"{{"name": "d1-user", "main": "index.js", "compatibility_date": "2025-09-01",
                "d1_databases": [{{"binding": "DB", "database_name": "wrangler-db", "database_id": "{id}"}}]}}"#
        ),
    )
    .unwrap();
    std::fs::write(
        work.join("migrations/0001_tags.sql"),
        "CREATE TABLE tags (name TEXT);",
    )
    .unwrap();
    let applied = w(&["d1", "migrations", "apply", "wrangler-db", "--remote"]).await;
    assert!(applied.contains("0001_tags.sql"), "{applied}");

    // `export`: the polling protocol, then a download from the URL it gives.
    w(&[
        "d1",
        "export",
        "wrangler-db",
        "--remote",
        "--output",
        "dump.sql",
    ])
    .await;
    let dump = std::fs::read_to_string(work.join("dump.sql")).unwrap();
    assert!(
        dump.starts_with("PRAGMA defer_foreign_keys=TRUE;"),
        "{dump}"
    );
    assert!(dump.contains("VALUES(3,'three');"), "{dump}");
    assert!(dump.contains("CREATE TABLE tags"), "{dump}");

    w(&["d1", "delete", "wrangler-db", "--skip-confirmation"]).await;
    assert_eq!(
        emu.api("/d1/database").await["result"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn wrangler_drives_queues() {
    let Some(bin) = find_tool("wrangler", "ATHANOR_WRANGLER", "wrangler") else {
        return;
    };
    let Some(workerd) = find_tool("workerd", "ATHANOR_WORKERD", "workerd") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let emu = Standalone::start(&tmp.path().join("data"), Some(&workerd)).await;
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let w = |args: &'static [&'static str]| wrangler(&bin, &emu, &work, args);

    w(&["queues", "create", "jobs", "--delivery-delay-secs", "0"]).await;
    w(&["kv", "namespace", "create", "queue-seen"]).await;
    let list = emu.api("/storage/kv/namespaces").await;
    let ns = list["result"][0]["id"].as_str().unwrap().to_owned();
    // One Worker produces and consumes; `deploy` adds the consumer (and creates its dead-letter
    // queue), and a second `deploy` updates it.
    std::fs::write(
        work.join("index.js"),
        r#"export default {
  async fetch(request, env) {
    await env.JOBS.send({ hello: "wrangler" });
    return new Response("sent");
  },
  async queue(batch, env) {
    for (const m of batch.messages) await env.SEEN.put(`seen:${m.body.hello}`, batch.queue);
  },
};
"#,
    )
    .unwrap();
    std::fs::write(
        work.join("wrangler.json"),
        serde_json::json!({
            "name": "queue-app",
            "main": "index.js",
            "compatibility_date": "2025-09-01",
            "workers_dev": true,
            "kv_namespaces": [{"binding": "SEEN", "id": ns}],
            "queues": {
                "producers": [{"binding": "JOBS", "queue": "jobs"}],
                "consumers": [{
                    "queue": "jobs",
                    "max_batch_size": 5,
                    "max_batch_timeout": 0,
                    "max_retries": 2,
                    "dead_letter_queue": "jobs-dlq",
                }],
            },
        })
        .to_string(),
    )
    .unwrap();
    let deployed = w(&["deploy"]).await;
    assert!(deployed.contains("Consumer for jobs"), "{deployed}");
    let redeployed = w(&["deploy"]).await;
    assert!(redeployed.contains("Consumer for jobs"), "{redeployed}");
    let info = w(&["queues", "info", "jobs"]).await;
    assert!(
        info.contains("Producers: worker:queue-app")
            && info.contains("Consumers: worker:queue-app"),
        "{info}"
    );
    let listed = w(&["queues", "list"]).await;
    assert!(listed.contains("jobs-dlq"), "{listed}");

    assert_eq!(
        emu.worker_get("http://queue-app.localhost").await,
        (200, "sent".to_owned())
    );
    let mut seen = Value::Null;
    for _ in 0..200 {
        seen = emu
            .api(&format!("/storage/kv/namespaces/{ns}/keys?prefix=seen:"))
            .await;
        if seen["result"].as_array().is_some_and(|k| !k.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen["result"][0]["name"], "seen:wrangler", "{seen}");

    w(&["queues", "consumer", "remove", "jobs", "queue-app"]).await;
    let info = w(&["queues", "info", "jobs"]).await;
    assert!(info.contains("Number of Consumers: 0"), "{info}");
    w(&["queues", "pause-delivery", "jobs"]).await;
    w(&["queues", "purge", "jobs", "--force"]).await;
    w(&["queues", "delete", "jobs-dlq"]).await;
    let listed = w(&["queues", "list"]).await;
    assert!(!listed.contains("jobs-dlq"), "{listed}");
}
