//! `dev` through the stack binary, as a user runs it: it deploys to the local emulator, serves the
//! Worker on workerd, prints how to run its Cron Trigger (which then runs), redeploys when its code
//! is saved so that the next request meets the change,
//! prints what the Worker logs with its name, and stops cleanly on SIGTERM with its data kept.
//!
//! workerd comes from `ATHANOR_WORKERD` or the pinned copy in `emulator/tests/workerd` (`npm ci
//! --prefix emulator/tests/workerd`); without it the test fails, unless `ATHANOR_SKIP_WORKERD=1`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn workerd() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ATHANOR_WORKERD") {
        return Some(PathBuf::from(p));
    }
    let pinned = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../emulator/tests/workerd/node_modules/.bin/workerd");
    if pinned.exists() {
        return Some(pinned);
    }
    if std::env::var("ATHANOR_SKIP_WORKERD").is_ok_and(|v| v == "1") {
        eprintln!("skipping: ATHANOR_SKIP_WORKERD=1 and workerd is not installed");
        return None;
    }
    panic!(
        "workerd is not installed: run `npm ci --prefix emulator/tests/workerd` (or set ATHANOR_WORKERD, or ATHANOR_SKIP_WORKERD=1 to skip)"
    );
}

/// Kills the child if the test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines of a child's stream, as they come.
fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line that `wanted` accepts; panics with what came instead.
fn wait_for(rx: &mpsc::Receiver<String>, what: &str, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if wanted(&line) => return line,
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!("no {what} within 60 s; got:\n{}", seen.join("\n"));
}

/// GET / of the Worker `name` on `port`: status and body.
fn get(port: u16, name: &str) -> (u16, String) {
    request(port, name, "/")
}

/// GET `path` of the Worker `name` on `port`: status and body.
fn request(port: u16, name: &str, path: &str) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let r = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}{path}"))
            .header("host", format!("{name}.localhost:{port}"))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    })
}

#[test]
fn dev_serves_reloads_on_save_prints_logs_and_stops_cleanly() {
    let Some(workerd) = workerd() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("src");
    std::fs::create_dir_all(root.join("worker")).unwrap();
    let entry = root.join("worker/index.js");
    std::fs::write(
        &entry,
        "export default { fetch(r, env) { return new Response(`version ${env.VERSION}`); },\n  scheduled(c) { console.log('scheduled', c.cron); } };\n",
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_athanor-test-stack"));
    cmd.args(["dev", "--port", "0"])
        .env("ATHANOR_STATE_DIR", tmp.path().join("state"))
        .env("ATHANOR_TEST_ROOT", &root)
        .env("ATHANOR_STAGE", "ci")
        .env("ATHANOR_PASSWORD", "dev password")
        .env("ATHANOR_TEST_SECRET", "dev-secret-value")
        .env("ATHANOR_WORKERD", &workerd)
        .env("ATHANOR_TEST_CRON", "*/5 * * * *")
        .env_remove("ATHANOR_TEST_VERSION")
        .env_remove("CLOUDFLARE_API_TOKEN")
        .env_remove("CLOUDFLARE_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Running(cmd.spawn().expect("start the stack binary"));
    let stdout = lines(child.0.stdout.take().unwrap());
    let stderr = lines(child.0.stderr.take().unwrap());

    let url_line = wait_for(&stdout, "URL line", |l| {
        l.contains("http://bin-api.localhost:")
    });
    let port: u16 = url_line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {url_line:?}"));
    assert_eq!(get(port, "bin-api"), (200, "version 1".into()));

    // The Cron Trigger: dev prints the request that runs it, and that request runs it.
    let cron_line = wait_for(&stdout, "cron line", |l| l.contains("cron \"*/5 * * * *\""));
    let path = cron_line
        .split(&format!("localhost:{port}"))
        .nth(1)
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no scheduled URL in {cron_line:?}"));
    assert_eq!(path, "/cdn-cgi/handler/scheduled?cron=*/5+*+*+*+*");
    assert_eq!(request(port, "bin-api", path).0, 200);
    wait_for(&stdout, "scheduled log line", |l| {
        l == "[bin-api] scheduled */5 * * * *"
    });

    // Save a new version of the code: the next request that follows the reload meets it.
    std::fs::write(
        &entry,
        "export default { fetch(r, env) { console.log('edited', env.VERSION); return new Response('edited'); } };\n",
    )
    .unwrap();
    wait_for(&stderr, "reload line", |l| {
        l.starts_with("[dev] api changed: redeployed api")
    });
    assert_eq!(get(port, "bin-api"), (200, "edited".into()));
    wait_for(&stdout, "Worker log line", |l| l == "[bin-api] edited 1");

    // SIGTERM stops it cleanly; the data stays.
    let killed = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "dev did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    wait_for(&stderr, "stop line", |l| l.starts_with("dev stopped;"));
    assert!(tmp.path().join("state/local/emulator.sqlite3").exists());
}
