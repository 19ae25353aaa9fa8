//! The fixture of the examples' end-to-end tests: an emulator started by the test, the example's
//! stack binary run against it as if it were Cloudflare, and the API and the Workers read back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use athanor_emulator::{Config, Emulator, Workerd, WorkersConfig};
use serde_json::Value;

/// An emulator and a state directory, both removed with the fixture.
pub struct Fixture {
    /// The emulator, started by the test.
    pub emu: Emulator,
    dir: tempfile::TempDir,
}

impl Fixture {
    /// An emulator of the v4 API alone (it stores Workers without running them).
    pub async fn start() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let emu = Emulator::start(Config::new(dir.path().join("emulator")))
            .await
            .unwrap();
        Fixture { emu, dir }
    }

    /// An emulator that also runs its Workers on workerd (`ATHANOR_WORKERD`, or the copy pinned
    /// in `emulator/tests/workerd`); `None` when workerd is missing and `ATHANOR_SKIP_WORKERD=1`
    /// says to skip, a panic saying how to install it otherwise.
    pub async fn start_serving() -> Option<Fixture> {
        let pinned = Path::new(env!("CARGO_MANIFEST_DIR")).join("../emulator/tests/workerd");
        let workerd = match Workerd::locate(&pinned) {
            Ok(w) => w,
            Err(_) if std::env::var("ATHANOR_SKIP_WORKERD").is_ok_and(|v| v == "1") => {
                eprintln!("skipping: ATHANOR_SKIP_WORKERD=1 and workerd is not installed");
                return None;
            }
            Err(e) => panic!(
                "{e}\nthe tests pin it: `npm ci --prefix emulator/tests/workerd` (or set ATHANOR_SKIP_WORKERD=1)"
            ),
        };
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("emulator"));
        config.workers = Some(WorkersConfig { workerd, port: 0 });
        let emu = Emulator::start(config).await.unwrap();
        Some(Fixture { emu, dir })
    }

    /// A request to account Worker `name` on the emulator's Workers port (Host `NAME.localhost`):
    /// status and body.
    pub async fn worker(
        &self,
        method: reqwest::Method,
        name: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, String) {
        let port = self.emu.workers_port().expect("the fixture serves Workers");
        let mut req = reqwest::Client::new()
            .request(method, format!("http://127.0.0.1:{port}{path}"))
            .header("host", format!("{name}.localhost:{port}"));
        if let Some(body) = body {
            req = req.body(body.to_owned());
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Where the stack binary keeps its state (`ATHANOR_STATE_DIR`).
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Runs the stack binary `bin` with `args`, pointed at the emulator as if it were
    /// Cloudflare, with `env` added; panics with its output unless it succeeds.
    pub async fn run(&self, bin: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env("CLOUDFLARE_API_BASE_URL", self.emu.base_url())
            .env("CLOUDFLARE_API_TOKEN", self.emu.token())
            .env("CLOUDFLARE_ACCOUNT_ID", self.emu.account_id())
            .env("ATHANOR_STATE_DIR", self.state_dir())
            .env("ATHANOR_STAGE", "test")
            .env("ATHANOR_CI_STATE_CHECK", "false")
            .envs(env.iter().copied());
        let shown = format!("{bin} {args:?}");
        let out = tokio::task::spawn_blocking(move || cmd.output().expect("run the stack binary"))
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{shown} failed\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Sends `method` to `/accounts/{id}{path}` with an optional JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let url = self.emu.account_url(path);
        let mut req = reqwest::Client::new()
            .request(method, url)
            .bearer_auth(self.emu.token());
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    /// The `result` of a successful call.
    pub async fn result(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let answer: Value = self.send(method, path, body).await.json().await.unwrap();
        assert_eq!(answer["success"], true, "{path}: {answer}");
        answer["result"].clone()
    }

    /// The `result` of a successful GET.
    pub async fn get(&self, path: &str) -> Value {
        crate::get_result(&self.emu, path).await
    }

    /// The names of the bindings stored for the script at `script_path` (sorted).
    pub async fn binding_names(&self, script_path: &str) -> Vec<String> {
        let settings = self.get(&format!("{script_path}/settings")).await;
        let mut names: Vec<String> = settings["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort_unstable();
        names
    }

    /// The id of the KV namespace titled `title`.
    pub async fn kv_namespace_id(&self, title: &str) -> String {
        let list = self.get("/storage/kv/namespaces?per_page=100").await;
        let ns = list
            .as_array()
            .unwrap()
            .iter()
            .find(|ns| ns["title"] == title);
        ns.unwrap_or_else(|| panic!("no namespace {title}: {list}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The titles of every KV namespace, sorted.
    pub async fn kv_titles(&self) -> Vec<String> {
        crate::kv_titles(&self.emu).await
    }
}
