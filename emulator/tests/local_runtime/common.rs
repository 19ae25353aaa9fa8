//! An emulator that serves its Workers on workerd, and a client for its API and its Workers.

use std::path::{Path, PathBuf};

use athanor_emulator::{Config, Emulator, Workerd, WorkersConfig, WorkersStatus};
use reqwest::Method;
use serde_json::{Value, json};

/// The workerd the tests use, or `None` when `ATHANOR_SKIP_WORKERD=1` says to skip; otherwise a
/// missing workerd fails the test with how to install it.
pub fn workerd() -> Option<Workerd> {
    let pinned = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workerd");
    match Workerd::locate(&pinned) {
        Ok(w) => Some(w),
        Err(_) if std::env::var("ATHANOR_SKIP_WORKERD").is_ok_and(|v| v == "1") => {
            eprintln!("skipping: ATHANOR_SKIP_WORKERD=1 and workerd is not installed");
            None
        }
        Err(e) => panic!(
            "{e}\nthe tests pin it: `npm ci --prefix emulator/tests/workerd` (or set ATHANOR_SKIP_WORKERD=1 to skip these tests)"
        ),
    }
}

/// A running emulator with workerd, in a temporary data directory.
pub struct Local {
    pub emu: Emulator,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    http: reqwest::Client,
}

impl Local {
    /// Starts in a new temporary directory; `None` when the test is skipped.
    pub async fn start() -> Option<Local> {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut local = Local::start_in(&dir).await?;
        local._tmp = Some(tmp);
        Some(local)
    }

    /// Starts on the data in `dir` (kept when the emulator stops).
    pub async fn start_in(dir: &Path) -> Option<Local> {
        let workerd = workerd()?;
        let mut config = Config::new(dir);
        config.workers = Some(WorkersConfig { workerd, port: 0 });
        let emu = Emulator::start(config).await.unwrap();
        Some(Local {
            emu,
            dir: dir.to_path_buf(),
            _tmp: None,
            http: reqwest::Client::new(),
        })
    }

    /// Stops the emulator and workerd, keeping the data; returns the temporary directory owner.
    pub async fn stop(self) -> Option<tempfile::TempDir> {
        self.emu.shutdown().await;
        self._tmp
    }

    pub fn api(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.emu.account_url(path))
            .bearer_auth(self.emu.token())
    }

    /// Sends an API request that must succeed; its `result`.
    pub async fn ok(&self, rb: reqwest::RequestBuilder) -> Value {
        let r = rb.send().await.unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert!(
            status.is_success() && body["success"] == true,
            "{status} {body}"
        );
        body["result"].clone()
    }

    /// Creates a KV namespace; its id.
    pub async fn kv_namespace(&self, title: &str) -> String {
        let r = self
            .ok(self
                .api(Method::POST, "/storage/kv/namespaces")
                .json(&json!({"title": title})))
            .await;
        r["id"].as_str().unwrap().to_owned()
    }

    /// Creates an R2 bucket.
    pub async fn bucket(&self, name: &str) {
        self.ok(self
            .api(Method::POST, "/r2/buckets")
            .json(&json!({"name": name})))
            .await;
    }

    /// Uploads account Worker `name` as one ES module with `metadata` (bindings, migrations …),
    /// turns workers.dev on, and waits until it runs.
    pub async fn deploy(&self, name: &str, code: &str, metadata: Value) -> WorkersStatus {
        self.upload(&format!("/workers/scripts/{name}"), code, metadata)
            .await;
        self.ok(self
            .api(Method::POST, &format!("/workers/scripts/{name}/subdomain"))
            .json(&json!({"enabled": true})))
            .await;
        self.emu.workers_ready().await.unwrap()
    }

    /// Uploads one ES module `index.js` to `path` with `metadata`.
    pub async fn upload(&self, path: &str, code: &str, mut metadata: Value) {
        metadata["main_module"] = json!("index.js");
        if metadata.get("compatibility_date").is_none() {
            metadata["compatibility_date"] = json!("2025-09-01");
        }
        let form = reqwest::multipart::Form::new()
            .part(
                "metadata",
                reqwest::multipart::Part::text(metadata.to_string())
                    .mime_str("application/json")
                    .unwrap(),
            )
            .part(
                "index.js",
                reqwest::multipart::Part::text(code.to_owned())
                    .file_name("index.js")
                    .mime_str("application/javascript+module")
                    .unwrap(),
            );
        self.ok(self.api(Method::PUT, path).multipart(form)).await;
    }

    /// A request to Worker `name` on the Workers port: status and body.
    pub async fn fetch(
        &self,
        name: &str,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> (u16, Vec<u8>) {
        let port = self.emu.workers_port().unwrap();
        let mut rb = self
            .http
            .request(method, format!("http://127.0.0.1:{port}{path}"))
            .header("host", format!("{name}.localhost:{port}"));
        if let Some(body) = body {
            rb = rb.body(body);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.bytes().await.unwrap().to_vec())
    }

    /// A GET to Worker `name`: status and text.
    pub async fn get(&self, name: &str, path: &str) -> (u16, String) {
        let (status, body) = self.fetch(name, Method::GET, path, None).await;
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// A POST of JSON to Worker `name` that must answer 200 with JSON.
    pub async fn call(&self, name: &str, path: &str, body: Value) -> Value {
        let (status, bytes) = self
            .fetch(
                name,
                Method::POST,
                path,
                Some(body.to_string().into_bytes()),
            )
            .await;
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(status, 200, "{path} {body}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
    }
}
