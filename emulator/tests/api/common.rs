//! A started emulator in a temporary directory and a small client for it.

use athanor_emulator::{Config, Emulator};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// An emulator with its data directory; both go away at the end of the test.
pub struct Harness {
    pub emu: Emulator,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

impl Harness {
    pub async fn start() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        Harness::start_in(dir).await
    }

    pub async fn start_in(dir: tempfile::TempDir) -> Harness {
        let emu = Emulator::start(Config::new(dir.path())).await.unwrap();
        Harness {
            emu,
            dir,
            http: reqwest::Client::new(),
        }
    }

    /// `{base}/accounts/{account}{path}`.
    pub fn acct(&self, path: &str) -> String {
        format!("/accounts/{}{}", self.emu.account_id(), path)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.emu.base_url(), path)
    }

    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(self.emu.token())
    }

    /// Sends and parses the JSON envelope.
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let r = rb.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {status} {text}"));
        check_envelope(&body);
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.req(Method::GET, path)).await
    }

    /// Expects success and returns `result`.
    pub async fn ok(&self, rb: reqwest::RequestBuilder) -> Value {
        let (status, body) = self.send(rb).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["success"], true, "{body}");
        body["result"].clone()
    }

    /// Expects a failure with `status` and `code`; returns the message.
    pub async fn fails(&self, rb: reqwest::RequestBuilder, status: u16, code: u64) -> String {
        let (s, body) = self.send(rb).await;
        assert_eq!(s.as_u16(), status, "{body}");
        assert_eq!(body["success"], false, "{body}");
        assert_eq!(body["errors"][0]["code"], code, "{body}");
        body["errors"][0]["message"].as_str().unwrap().to_owned()
    }

    /// Creates a KV namespace and returns its id.
    pub async fn kv_namespace(&self, title: &str) -> String {
        let r = self
            .ok(self
                .req(Method::POST, &self.acct("/storage/kv/namespaces"))
                .json(&serde_json::json!({"title": title})))
            .await;
        r["id"].as_str().unwrap().to_owned()
    }
}

/// Every JSON answer has the envelope's four fields, and failures carry `result: null`.
pub fn check_envelope(body: &Value) {
    if body.get("total").is_some() || body.get("reset").is_some() || body.get("updated").is_some() {
        return; // the emulator's own controls
    }
    assert!(body["success"].is_boolean(), "{body}");
    assert!(body["errors"].is_array(), "{body}");
    assert!(body["messages"].is_array(), "{body}");
    assert!(body.get("result").is_some(), "{body}");
    if body["success"] == false {
        assert!(body["result"].is_null(), "{body}");
        assert!(body["errors"][0]["code"].as_u64().unwrap() >= 971, "{body}");
    }
}

/// A multipart Worker upload: metadata as a plain field plus ES module parts.
pub fn worker_form(metadata: Value, modules: &[(&str, &str)]) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new().text("metadata", metadata.to_string());
    for (name, code) in modules {
        let part = reqwest::multipart::Part::bytes(code.as_bytes().to_vec())
            .file_name(name.to_string())
            .mime_str("application/javascript+module")
            .unwrap();
        form = form.part(name.to_string(), part);
    }
    form
}

pub const MAIN_JS: &str =
    "export default { async fetch(req, env) { return new Response('hi'); } };";
