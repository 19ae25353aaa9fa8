//! The command line, through a stack binary (`src/main.rs`) run as a child process against its
//! embedded emulator: deploy, plan exit codes, `--refresh`, `types`, `outputs`, `state`, the lock,
//! passwords, an interrupted deploy, a deploy killed at each of its requests (the request carried
//! out, its answer lost), and a scan of every output (debug logs included), state file and the
//! binary for the secret values.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SECRET: &str = "s3cr3t-e2e-0a9f1c77d2";
/// A second value of the same secret, deployed once with debug logs on.
const OTHER_SECRET: &str = "another-secret-value-99";

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
    /// A state directory, and a copy of the stack's sources (its root) beside it.
    fn new() -> Dir {
        let dir = Dir {
            tmp: tempfile::tempdir().unwrap(),
            seen: Default::default(),
        };
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/worker/index.js");
        std::fs::create_dir_all(dir.root().join("worker")).unwrap();
        std::fs::copy(fixtures, dir.root().join("worker/index.js")).unwrap();
        dir
    }

    fn state(&self) -> PathBuf {
        self.tmp.path().to_owned()
    }

    fn root(&self) -> PathBuf {
        self.tmp.path().join("src")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_athanor-test-stack"));
        cmd.args(args)
            .env("ATHANOR_STATE_DIR", self.state())
            .env("ATHANOR_TEST_ROOT", self.root())
            .env("ATHANOR_STAGE", "ci")
            .env("ATHANOR_PASSWORD", "binary password")
            .env("ATHANOR_TEST_SECRET", SECRET)
            .env_remove("ATHANOR_TEST_VERSION")
            .env_remove("ATHANOR_TEST_ABORT_AFTER_FIRST_CREATE")
            .env_remove("ATHANOR_TEST_HOLD_AFTER_FIRST_CREATE")
            .env_remove("ATHANOR_STATE");
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

    /// Runs `f` on the emulator of this directory (started here on its data, while no stack
    /// binary runs).
    fn with_emulator<T>(&self, f: impl AsyncFnOnce(&athanor_emulator::Emulator) -> T) -> T {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let local = self.state().join("local");
            let identity: serde_json::Value =
                serde_json::from_slice(&std::fs::read(local.join("emulator.json")).unwrap())
                    .unwrap();
            let mut config = athanor_emulator::Config::new(&local);
            config.token = Some(identity["token"].as_str().unwrap().to_owned());
            let emulator = athanor_emulator::Emulator::start(config).await.unwrap();
            let out = f(&emulator).await;
            emulator.shutdown().await;
            out
        })
    }

    /// Sends one request to the emulator of this directory, and returns the response's JSON
    /// body.
    fn emulator_api(&self, method: reqwest::Method, path: &str) -> serde_json::Value {
        self.with_emulator(async |emulator| {
            athanor_test_support::call(emulator, method, path).await
        })
    }

    fn kv_titles(&self) -> Vec<String> {
        self.with_emulator(athanor_test_support::kv_titles)
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
    // Nothing changed: not one mutating request reached the (emulated) API.
    assert!(
        deploy.stderr.contains(" API requests, 0 mutating"),
        "{}",
        deploy.stderr
    );
    assert!(
        first.stderr.contains(" mutating") && !first.stderr.contains(", 0 mutating"),
        "{}",
        first.stderr
    );
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
            .env("ATHANOR_TEST_SECRET", OTHER_SECRET),
    );
    assert!(
        secret_changed.stdout.contains("\"sensitive\": true"),
        "{}",
        secret_changed.stdout
    );
    let text_plan = dir.run(
        dir.command(&["plan"])
            .env("ATHANOR_TEST_SECRET", OTHER_SECRET),
    );
    assert!(
        text_plan.stdout.contains("bindings.TOKEN (sensitive)"),
        "{}",
        text_plan.stdout
    );
    // With debug and trace logs on: still no secret anywhere.
    let logged = dir.run(
        dir.command(&["deploy", "-vv"])
            .env("ATHANOR_TEST_SECRET", OTHER_SECRET),
    );
    assert_eq!(logged.code, Some(0), "{}", logged.stderr);
    let headline = logged.stderr.lines().next().unwrap();
    assert!(
        headline.starts_with("athanor: app `bin`, stage `ci`"),
        "{headline}"
    );
    let all_logs = dir.run(
        dir.command(&["plan", "-vvv"])
            .env("ATHANOR_TEST_SECRET", OTHER_SECRET),
    );
    assert!(all_logs.stderr.contains("DEBUG"), "{}", all_logs.stderr);
    // Not a terminal: no colour codes in the logs.
    assert!(!all_logs.stderr.contains('\x1b'), "{:?}", all_logs.stderr);
    let back = dir.athanor(&["deploy", "-v"]);
    assert_eq!(back.code, Some(0), "{}", back.stderr);

    let outputs = dir.athanor(&["outputs", "--json"]);
    assert_eq!(outputs.code, Some(0));
    assert!(outputs.stdout.contains("bin-api"));
    let list = dir.athanor(&["state", "list"]);
    assert!(list.stdout.contains("sessions") && list.stdout.contains("api"));
    let show = dir.athanor(&["state", "show", "api"]);
    // A secret leaves only its keyed digest in state.
    assert!(show.stdout.contains("\"TOKEN\""), "{}", show.stdout);
    assert!(!show.stdout.contains("ciphertext"), "{}", show.stdout);
    let usage = dir.athanor(&["deploy", "--no-such-flag"]);
    assert_eq!(usage.code, Some(2));

    // The secrets are nowhere: not in any output, not in state, not in the binary.
    let binary = std::fs::read(env!("CARGO_BIN_EXE_athanor-test-stack")).unwrap();
    for secret in [SECRET, OTHER_SECRET] {
        assert!(!dir.seen.borrow().contains(secret));
        for (path, bytes) in dir.state_files() {
            assert!(
                !contains(&bytes, secret),
                "{} holds the secret",
                path.display()
            );
        }
        assert!(!contains(&binary, secret));
    }

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
    let expected = format!(
        "stage `ci` is locked by pid {} on host {} since 2026-01-01T00:00:00Z",
        std::process::id(),
        holder["host"].as_str().unwrap()
    );
    assert!(locked.stderr.contains(&expected), "{}", locked.stderr);
    assert!(
        locked.stderr.contains("--force-unlock"),
        "{}",
        locked.stderr
    );
    // Every command that writes state honours the lock; reading it does not need it.
    let forget = dir.athanor(&["state", "forget", "sessions"]);
    assert_eq!(forget.code, Some(1));
    assert!(forget.stderr.contains(&expected), "{}", forget.stderr);
    let destroy = dir.athanor(&["destroy", "--yes"]);
    assert_eq!(destroy.code, Some(1));
    assert!(destroy.stderr.contains(&expected), "{}", destroy.stderr);
    assert_eq!(dir.athanor(&["plan"]).code, Some(0));
    assert_eq!(dir.athanor(&["state", "list"]).code, Some(0));
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
    assert_eq!(dir.kv_titles(), ["bin-sessions"]);
}

#[test]
fn refresh_shows_drift_and_deploy_repairs_it() {
    let dir = Dir::new();
    assert_eq!(dir.athanor(&["deploy"]).code, Some(0));
    let outputs = dir.athanor(&["outputs", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&outputs.stdout).unwrap();
    let id = json["sessions"]["id"].as_str().unwrap().to_owned();

    // Deleted behind athanor's back: only a refresh sees it.
    dir.emulator_api(
        reqwest::Method::DELETE,
        &format!("/storage/kv/namespaces/{id}"),
    );
    assert!(dir.kv_titles().is_empty());
    let blind = dir.athanor(&["plan", "--detailed-exitcode"]);
    assert_eq!(blind.code, Some(0), "{}", blind.stdout);
    let refreshed = dir.athanor(&["plan", "--refresh", "--detailed-exitcode"]);
    assert_eq!(refreshed.code, Some(2), "{}", refreshed.stderr);
    assert!(
        refreshed.stdout.contains("drift: deleted outside athanor"),
        "{}",
        refreshed.stdout
    );
    let json = dir.athanor(&["plan", "--refresh", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let step = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "sessions")
        .unwrap();
    assert_eq!(step["action"], "create");
    assert_eq!(step["drift"], "deleted outside athanor");

    let repair = dir.athanor(&["deploy", "--refresh"]);
    assert_eq!(repair.code, Some(0), "{}", repair.stderr);
    assert_eq!(dir.kv_titles(), ["bin-sessions"]);
    let clean = dir.athanor(&["plan", "--refresh", "--detailed-exitcode"]);
    assert_eq!(clean.code, Some(0), "{}\n{}", clean.stdout, clean.stderr);
}

#[test]
fn types_writes_the_env_declaration_beside_the_entrypoint() {
    let dir = Dir::new();
    let declaration = dir.root().join("worker/api.env.d.ts");
    let run = dir.athanor(&["types"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let headline = run.stderr.lines().next().unwrap();
    assert!(headline.contains("stage `ci`"), "{headline}");
    assert!(headline.contains("local emulator"), "{headline}");
    assert_eq!(
        run.stdout.trim(),
        format!("wrote {}", declaration.display())
    );
    let text = std::fs::read_to_string(&declaration).unwrap();
    assert!(text.starts_with("interface Env {"), "{text}");
    assert!(text.contains("SESSIONS: KVNamespace;"), "{text}");
    let json = dir.athanor(&["types", "--json"]);
    let written: Vec<PathBuf> = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(written, [declaration]);
    // `types` contacts no target and writes no state.
    assert!(!dir.state().join("local").exists());
    assert!(dir.state_files().is_empty());
}

#[test]
fn state_forget_stops_managing_without_deleting() {
    let dir = Dir::new();
    assert_eq!(dir.athanor(&["deploy"]).code, Some(0));
    let forget = dir.athanor(&["state", "forget", "sessions"]);
    assert_eq!(forget.code, Some(0), "{}", forget.stderr);
    assert!(
        forget.stdout.contains("Forgot `sessions`"),
        "{}",
        forget.stdout
    );
    let list = dir.athanor(&["state", "list", "--json"]);
    let ids: Vec<String> = serde_json::from_str::<Vec<serde_json::Value>>(&list.stdout)
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["api", "signing"]);
    let show = dir.athanor(&["state", "show", "sessions"]);
    assert_eq!(show.code, Some(1));
    assert!(
        show.stderr.contains("no resource `sessions`"),
        "{}",
        show.stderr
    );
    let again = dir.athanor(&["state", "forget", "sessions"]);
    assert_eq!(again.code, Some(1));
    // Still there at the target.
    assert_eq!(dir.kv_titles(), ["bin-sessions"]);
    let destroy = dir.athanor(&["destroy", "--yes"]);
    assert_eq!(destroy.code, Some(0), "{}", destroy.stderr);
    assert!(destroy.stdout.contains("2 deleted"), "{}", destroy.stdout);
    assert_eq!(dir.kv_titles(), ["bin-sessions"]);
}

/// The names the emulator holds for the test stack: KV titles, scripts, and secrets of the
/// default store (which the stack's Secret creates when missing and never deletes).
async fn held_names(emulator: &athanor_emulator::Emulator) -> Vec<String> {
    let call =
        |path: &'static str| athanor_test_support::call(emulator, reqwest::Method::GET, path);
    let mut names = athanor_test_support::kv_titles(emulator).await;
    let scripts = call("/workers/scripts").await;
    names.extend(
        scripts["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| s["id"].as_str().unwrap_or_default().to_owned()),
    );
    let stores = call("/secrets_store/stores").await;
    for store in stores["result"].as_array().into_iter().flatten() {
        let id = store["id"].as_str().unwrap_or_default();
        let path = format!("/secrets_store/stores/{id}/secrets");
        let secrets = athanor_test_support::call(emulator, reqwest::Method::GET, &path).await;
        names.extend(
            secrets["result"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| s["name"].as_str().unwrap_or_default().to_owned()),
        );
    }
    names.sort();
    names
}

/// The stack binary run against `emulator` as it would run against Cloudflare.
fn against(dir: &Dir, emulator: &athanor_emulator::Emulator, args: &[&str]) -> Command {
    let mut cmd = dir.command(args);
    cmd.env("CLOUDFLARE_API_BASE_URL", emulator.base_url())
        .env("CLOUDFLARE_API_TOKEN", emulator.token())
        .env("CLOUDFLARE_ACCOUNT_ID", emulator.account_id())
        .env("ATHANOR_CI_STATE_CHECK", "false");
    cmd
}

#[test]
fn a_deploy_killed_at_any_request_converges_without_a_duplicate_or_a_leak() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let start = || async {
            let tmp = tempfile::tempdir().unwrap();
            let emulator =
                athanor_emulator::Emulator::start(athanor_emulator::Config::new(tmp.path()))
                    .await
                    .unwrap();
            (tmp, emulator, Dir::new())
        };
        // The requests of a full deploy.
        let (_tmp, emulator, dir) = start().await;
        let full = dir.run(&mut against(&dir, &emulator, &["deploy"]));
        assert_eq!(full.code, Some(0), "{}", full.stderr);
        let requests = emulator.stats().total;
        let declared = held_names(&emulator).await;
        assert_eq!(declared, ["BIN_SIGNING", "bin-api", "bin-sessions"]);
        emulator.shutdown().await;

        let mut covered = 0;
        for k in 1..=requests {
            let (_tmp, emulator, dir) = start().await;
            emulator.set_faults(athanor_emulator::Faults {
                hold_answer_of: Some(k),
                ..Default::default()
            });
            let mut child = against(&dir, &emulator, &["deploy"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            // Request k is carried out and its answer held: kill the run there.
            while !emulator.held() && child.try_wait().unwrap().is_none() {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            covered += u64::from(emulator.held());
            child.kill().unwrap();
            child.wait().unwrap();
            emulator.set_faults(athanor_emulator::Faults::default());

            let again = dir.run(&mut against(&dir, &emulator, &["deploy"]));
            assert_eq!(
                again.code,
                Some(0),
                "killed at request {k}: {}",
                again.stderr
            );
            assert_eq!(
                held_names(&emulator).await,
                declared,
                "killed at request {k}"
            );
            let plan = dir.run(&mut against(&dir, &emulator, &["plan"]));
            assert_eq!(plan.code, Some(0), "killed at request {k}: {}", plan.stdout);
            let gone = dir.run(&mut against(&dir, &emulator, &["destroy", "--yes"]));
            assert_eq!(gone.code, Some(0), "killed at request {k}: {}", gone.stderr);
            assert!(
                held_names(&emulator).await.is_empty(),
                "killed at request {k}: left after destroy"
            );
            emulator.shutdown().await;
        }
        println!("killed at request k: {covered} of {requests} covered");
        assert_eq!(covered, requests);
    });
}
