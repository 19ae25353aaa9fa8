//! The command line, through a stack binary (`testbin/test_stack.rs`) run as a child process
//! against its embedded emulator: deploy, plan exit codes, the lock, passwords, an interrupted
//! deploy, and a scan of every output, state file and the binary for the secret value.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SECRET: &str = "s3cr3t-e2e-0a9f1c77d2";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

struct Dir {
    tmp: tempfile::TempDir,
    seen: std::cell::RefCell<String>,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().unwrap(),
            seen: Default::default(),
        }
    }

    fn state(&self) -> PathBuf {
        self.tmp.path().to_owned()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_athanor-test-stack"));
        cmd.args(args)
            .env("ATHANOR_STATE_DIR", self.state())
            .env("ATHANOR_STAGE", "ci")
            .env("ATHANOR_PASSWORD", "binary password")
            .env("ATHANOR_TEST_SECRET", SECRET)
            .env_remove("ATHANOR_TEST_VERSION")
            .env_remove("ATHANOR_TEST_ABORT_AFTER_FIRST_CREATE");
        for var in [
            "CLOUDFLARE_API_TOKEN",
            "CF_API_TOKEN",
            "CLOUDFLARE_API_KEY",
            "CF_API_KEY",
            "CLOUDFLARE_EMAIL",
            "CF_EMAIL",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    fn run(&self, cmd: &mut Command) -> Run {
        let Output {
            status,
            stdout,
            stderr,
        } = cmd.output().unwrap();
        let run = Run {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        };
        self.seen.borrow_mut().push_str(&run.stdout);
        self.seen.borrow_mut().push_str(&run.stderr);
        run
    }

    fn athanor(&self, args: &[&str]) -> Run {
        self.run(&mut self.command(args))
    }

    /// Every file of the stage's state (the emulator's own data is the "cloud": not state).
    fn state_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = tree(&self.state().join("bin"));
        files.sort();
        files
    }
}

fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(tree(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.push((path, bytes));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn deploy_plan_and_no_secret_anywhere() {
    let dir = Dir::new();
    let first = dir.athanor(&["deploy"]);
    assert_eq!(first.code, Some(0), "{}\n{}", first.stdout, first.stderr);
    let headline = first.stderr.lines().next().unwrap();
    assert!(headline.contains("stage `ci`"), "{headline}");
    assert!(headline.contains("local emulator"), "{headline}");
    assert!(first.stdout.contains("bin-sessions"), "{}", first.stdout);
    assert!(first.stdout.contains("3 to create"), "{}", first.stdout);

    let plan = dir.athanor(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("No changes."));

    let deploy = dir.athanor(&["deploy", "--json"]);
    assert_eq!(deploy.code, Some(0), "{}", deploy.stderr);
    let json: serde_json::Value = serde_json::from_str(&deploy.stdout).unwrap();
    assert_eq!(json["plan"]["summary"]["unchanged"], 3);
    assert!(json["outputs"]["sessions"]["id"].is_string());

    let changed = dir.run(
        dir.command(&["plan", "--detailed-exitcode"])
            .env("ATHANOR_TEST_VERSION", "2"),
    );
    assert_eq!(changed.code, Some(2));
    assert!(
        changed.stdout.contains("bindings.VERSION"),
        "{}",
        changed.stdout
    );
    let secret_changed = dir.run(
        dir.command(&["plan", "--json"])
            .env("ATHANOR_TEST_SECRET", "another-secret-value-99"),
    );
    assert!(
        secret_changed.stdout.contains("\"sensitive\": true"),
        "{}",
        secret_changed.stdout
    );
    assert!(!secret_changed.stdout.contains("another-secret-value-99"));

    let outputs = dir.athanor(&["outputs", "--json"]);
    assert_eq!(outputs.code, Some(0));
    assert!(outputs.stdout.contains("bin-api"));
    let list = dir.athanor(&["state", "list"]);
    assert!(list.stdout.contains("sessions") && list.stdout.contains("api"));
    let show = dir.athanor(&["state", "show", "api"]);
    assert!(show.stdout.contains("(sealed)"), "{}", show.stdout);
    let usage = dir.athanor(&["deploy", "--no-such-flag"]);
    assert_eq!(usage.code, Some(2));

    // The secret is nowhere: not in any output, not in state, not in the binary.
    assert!(!dir.seen.borrow().contains(SECRET));
    for (path, bytes) in dir.state_files() {
        assert!(
            !contains(&bytes, SECRET),
            "{} holds the secret",
            path.display()
        );
    }
    let binary = std::fs::read(env!("CARGO_BIN_EXE_athanor-test-stack")).unwrap();
    assert!(!contains(&binary, SECRET));

    let destroy = dir.athanor(&["destroy", "--yes"]);
    assert_eq!(destroy.code, Some(0), "{}", destroy.stderr);
    assert!(destroy.stdout.contains("3 deleted"), "{}", destroy.stdout);
}

#[test]
fn passwords_and_the_lock_are_enforced() {
    let dir = Dir::new();
    assert_eq!(dir.athanor(&["deploy"]).code, Some(0));
    let before = dir.state_files();

    let wrong = dir.run(
        dir.command(&["deploy"])
            .env("ATHANOR_PASSWORD", "not the password"),
    );
    assert_eq!(wrong.code, Some(1));
    assert!(
        wrong.stderr.contains("ATHANOR_PASSWORD does not decrypt"),
        "{}",
        wrong.stderr
    );
    let missing = dir.run(dir.command(&["plan"]).env_remove("ATHANOR_PASSWORD"));
    assert_eq!(missing.code, Some(1));
    assert!(
        missing.stderr.contains("ATHANOR_PASSWORD is not set"),
        "{}",
        missing.stderr
    );
    assert_eq!(dir.state_files(), before);

    // A lock held by a live process (this test) refuses a second deploy at once.
    let lock = dir.state().join("bin").join("ci").join("lock");
    let holder = serde_json::json!({
        "pid": std::process::id(),
        "host": std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim(),
        "since": "2026-01-01T00:00:00Z",
    });
    std::fs::write(&lock, holder.to_string()).unwrap();
    let locked = dir.athanor(&["deploy"]);
    assert_eq!(locked.code, Some(1));
    assert!(
        locked
            .stderr
            .contains(&format!("locked by pid {}", std::process::id())),
        "{}",
        locked.stderr
    );
    let forced = dir.athanor(&["deploy", "--force-unlock"]);
    assert_eq!(forced.code, Some(0), "{}", forced.stderr);
    assert!(!lock.exists());
    assert!(!dir.seen.borrow().contains(SECRET));
}

#[test]
fn a_process_killed_after_its_first_create_is_recovered_without_a_duplicate() {
    let dir = Dir::new();
    let killed = dir.run(
        dir.command(&[])
            .env("ATHANOR_TEST_ABORT_AFTER_FIRST_CREATE", "1"),
    );
    assert_ne!(killed.code, Some(0));
    let list = dir.athanor(&["state", "list"]);
    assert!(
        list.stdout.contains("interrupted create"),
        "{}",
        list.stdout
    );
    let deploy = dir.athanor(&["deploy"]);
    assert_eq!(deploy.code, Some(0), "{}\n{}", deploy.stdout, deploy.stderr);
    assert!(
        !dir.athanor(&["state", "list"])
            .stdout
            .contains("interrupted")
    );

    // Look into the emulator's data: exactly one namespace of that title.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let local = dir.state().join("local");
        let identity: serde_json::Value =
            serde_json::from_slice(&std::fs::read(local.join("emulator.json")).unwrap()).unwrap();
        let mut config = athanor_emulator::Config::new(&local);
        config.token = Some(identity["token"].as_str().unwrap().to_owned());
        let emulator = athanor_emulator::Emulator::start(config).await.unwrap();
        let url = emulator.account_url("/storage/kv/namespaces?per_page=100");
        let body: serde_json::Value = reqwest::Client::new()
            .get(url)
            .bearer_auth(emulator.token())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let titles: Vec<&str> = body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles, ["bin-sessions"]);
        emulator.shutdown().await;
    });
}
