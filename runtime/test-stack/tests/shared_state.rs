//! Shared state through the command line, against each shared store (`.ci/services`): two stack
//! processes with state directories of their own but one shared store, the second refused while
//! the first deploys, the first killed with -9 holding the lock, the lease running out and the
//! next run converging with no duplicate; and `state migrate` from local state to each store and
//! back, each side then planning nothing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use athanor_emulator::{Config, Emulator};
use athanor_test_support::{SharedStore, shared_stores};

const BIN: &str = env!("CARGO_BIN_EXE_athanor-test-stack");
/// The lease the processes take: short, so that a killed holder's lock runs out soon.
const LEASE_SECONDS: &str = "2";

/// One process's place: a state directory of its own and a copy of the stack's sources.
struct Machine {
    dir: tempfile::TempDir,
}

impl Machine {
    fn new() -> Machine {
        let dir = tempfile::tempdir().unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/worker/index.js");
        std::fs::create_dir_all(dir.path().join("src/worker")).unwrap();
        std::fs::copy(fixture, dir.path().join("src/worker/index.js")).unwrap();
        Machine { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The stack binary, pointed at `emulator` as if it were Cloudflare, in `stage`, keeping
    /// state where `store` says (or in this machine's directory).
    fn command(
        &self,
        emulator: &Emulator,
        stage: &str,
        store: Option<&SharedStore>,
        args: &[&str],
    ) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("CLOUDFLARE_API_BASE_URL", emulator.base_url())
            .env("CLOUDFLARE_API_TOKEN", emulator.token())
            .env("CLOUDFLARE_ACCOUNT_ID", emulator.account_id())
            .env("ATHANOR_STATE_DIR", self.path().join("state"))
            .env("ATHANOR_TEST_ROOT", self.path().join("src"))
            .env("ATHANOR_STAGE", stage)
            .env("ATHANOR_PASSWORD", "shared password")
            .env("ATHANOR_TEST_SECRET", "shared-secret-value")
            .env("ATHANOR_LOCK_LEASE_SECONDS", LEASE_SECONDS)
            .env("ATHANOR_CI_STATE_CHECK", "false")
            .env_remove("ATHANOR_STATE")
            .env_remove("ATHANOR_TEST_ABORT_AFTER_FIRST_CREATE")
            .env_remove("ATHANOR_TEST_HOLD_AFTER_FIRST_CREATE");
        if let Some(store) = store {
            cmd.env("ATHANOR_STATE", &store.setting);
            cmd.envs(store.env.iter().map(|(k, v)| (*k, v.as_str())));
        }
        cmd
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: Command) -> Run {
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(cmd: Command, what: &str) -> Run {
    let r = run(cmd);
    assert_eq!(
        r.code,
        Some(0),
        "{what}\nstdout:\n{}\nstderr:\n{}",
        r.stdout,
        r.stderr
    );
    r
}

/// A unique stage, so that runs of these tests never share a place in a shared store.
fn stage() -> String {
    format!("ci-{}", &uuid_like()[..12])
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", nanos, std::process::id())
}

async fn emulator(dir: &Path) -> Emulator {
    Emulator::start(Config::new(dir.join("emulator")))
        .await
        .unwrap()
}

/// Waits until the child says `holding` on stderr: it has created its first resource and holds
/// the stage lock.
fn wait_holding(child: &mut Child) {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.trim() == "holding" {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the first process never reached its first create");
}

async fn kv_titles(emulator: &Emulator) -> Vec<String> {
    athanor_test_support::kv_titles(emulator).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_holding_the_lock_blocks_others_until_its_lease_runs_out() {
    let scratch = tempfile::tempdir().unwrap();
    for store in shared_stores(&uuid_like()) {
        let emulator = emulator(&scratch.path().join(store.name)).await;
        let stage = stage();
        let (first, second) = (Machine::new(), Machine::new());

        let mut holder = first.command(&emulator, &stage, Some(&store), &[]);
        holder
            .env("ATHANOR_TEST_HOLD_AFTER_FIRST_CREATE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut holder = holder.spawn().unwrap();
        wait_holding(&mut holder);

        // Refused at once, naming the holder.
        let refused = run(second.command(&emulator, &stage, Some(&store), &["deploy"]));
        assert_eq!(refused.code, Some(1), "{}: {}", store.name, refused.stderr);
        assert!(
            refused
                .stderr
                .contains(&format!("is locked by pid {}", holder.id())),
            "{}: {}",
            store.name,
            refused.stderr
        );

        // Killed with -9: nothing releases the lock; its lease runs out.
        holder.kill().unwrap();
        holder.wait().unwrap();
        let started = Instant::now();
        let mut deploy = second.command(&emulator, &stage, Some(&store), &["deploy"]);
        deploy.args(["--lock-timeout", "60"]);
        ok(deploy, store.name);
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}: the lease took {:?} to run out",
            store.name,
            started.elapsed()
        );
        // The namespace the killed run created was adopted, not made twice.
        assert_eq!(
            kv_titles(&emulator).await,
            ["bin-sessions"],
            "{}",
            store.name
        );
        let mut plan = second.command(&emulator, &stage, Some(&store), &["plan"]);
        plan.arg("--detailed-exitcode");
        ok(plan, store.name);
        // The first machine, back, sees the same state: nothing to do.
        let mut plan = first.command(&emulator, &stage, Some(&store), &["plan"]);
        plan.arg("--detailed-exitcode");
        ok(plan, store.name);
        let mut destroy = first.command(&emulator, &stage, Some(&store), &["destroy"]);
        destroy.arg("--yes");
        ok(destroy, store.name);
        assert!(kv_titles(&emulator).await.is_empty(), "{}", store.name);
        emulator.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_migrates_from_local_to_each_store_and_back() {
    let scratch = tempfile::tempdir().unwrap();
    for store in shared_stores(&uuid_like()) {
        let emulator = emulator(&scratch.path().join(store.name)).await;
        let stage = stage();
        let machine = Machine::new();
        ok(
            machine.command(&emulator, &stage, None, &["deploy"]),
            "local deploy",
        );
        let plan_is_empty = |store: Option<&SharedStore>| {
            let mut plan = machine.command(&emulator, &stage, store, &["plan"]);
            plan.arg("--detailed-exitcode");
            plan
        };

        // Local -> the shared store (reached with the store's variables).
        let to_store = || {
            let mut cmd = machine.command(
                &emulator,
                &stage,
                None,
                &["state", "migrate", "--to", &store.setting],
            );
            cmd.envs(store.env.iter().map(|(k, v)| (*k, v.as_str())));
            cmd
        };
        let moved = ok(to_store(), store.name);
        assert!(
            moved.stdout.contains("3 records"),
            "{}: {}",
            store.name,
            moved.stdout
        );
        ok(plan_is_empty(Some(&store)), store.name);
        // The old copy is kept, and a second migration into the store is refused.
        let again = run(to_store());
        assert_eq!(again.code, Some(1), "{}", store.name);
        assert!(
            again.stderr.contains("already holds state"),
            "{}",
            again.stderr
        );
        ok(plan_is_empty(None), "the local copy");

        // The shared store -> a new local directory.
        let back: PathBuf = machine.path().join("back");
        let back_setting = back.display().to_string();
        ok(
            machine.command(
                &emulator,
                &stage,
                Some(&store),
                &["state", "migrate", "--to", &back_setting],
            ),
            store.name,
        );
        let back_store = SharedStore {
            name: "back",
            setting: back_setting,
            env: Vec::new(),
        };
        ok(plan_is_empty(Some(&back_store)), "migrated back");
        let mut destroy = machine.command(&emulator, &stage, Some(&store), &["destroy"]);
        destroy.arg("--yes");
        ok(destroy, store.name);
        emulator.shutdown().await;
    }
}
