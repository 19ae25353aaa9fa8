//! The platform end to end, against an emulator started here that runs its Workers on workerd:
//! the binary deploys the platform's stack, the tenants API served in this test onboards two
//! customers, each of whose Workers answers through the dispatcher from its own KV namespace;
//! onboarding a customer again unchanged sends no request; a plan change reaches that customer's
//! Worker alone; a bad id is refused with a suggestion; onboardings that fail (a name taken in
//! the account, code that does not start) touch no other customer; offboarding leaves nothing of
//! the customer while the namespace and the others stay; and the binary destroys the platform.

use std::sync::Arc;

use athanor::runtime::{StateLocation, TenantsOptions};
use athanor_cloudflare::{Auth, Client, ClientConfig, CloudflareProvider};
use athanor_test_support::Fixture;
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_platform");
const DISPATCHER: &str = "platform-dispatcher";

/// globex's own Worker: it shows the welcome from its KV namespace, its plan, and the path the
/// dispatcher passed on (the tenant prefix removed).
const GLOBEX_CODE: &str = r#"export default {
  async fetch(request, env) {
    const welcome = await env.KV.get("welcome");
    return new Response(`globex: ${welcome} ${env.PLAN} ${new URL(request.url).pathname}`);
  },
};"#;

/// The tenants API served by this test.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    /// Status and JSON body of `method` on `path`, with `body` as JSON.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let answer = req.send().await.unwrap();
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap())
    }

    /// Onboards (or updates) `id`; the answer's status and body.
    async fn onboard(&self, id: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, &format!("/tenants/{id}"), Some(body))
            .await
    }
}

/// The counts of an onboarding's summary: created, updated, kept.
fn counts(body: &Value) -> (u64, u64, u64) {
    let s = &body["summary"];
    let n = |k: &str| s[k].as_u64().unwrap();
    (n("created"), n("updated"), n("kept"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_are_onboarded_apart_at_run_time() {
    let Some(fx) = Fixture::start_serving().await else {
        return;
    };
    fx.run(BIN, &["deploy"], &[]).await;

    // The backend: tenants on the fixture's emulator, their state beside the platform's.
    let mut config = ClientConfig::new(
        fx.emu.base_url(),
        Auth::Token(SecretString::from(fx.emu.token().to_owned())),
    );
    config.account_id = Some(fx.emu.account_id().to_owned());
    let provider = Arc::new(CloudflareProvider::new(
        Client::connect(config).await.unwrap(),
    ));
    let tenants = platform::tenants(
        provider,
        TenantsOptions::new(StateLocation::Local(fx.state_dir())),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = Api {
        base: format!("http://{}", listener.local_addr().unwrap()),
        http: reqwest::Client::new(),
    };
    tokio::spawn(async move {
        axum::serve(listener, platform::router(Arc::new(tenants)))
            .await
            .unwrap();
    });
    let through = |path: &'static str| fx.worker(Method::GET, DISPATCHER, path, None);

    // Two customers: acme on the default Worker, globex with its own code.
    let (status, acme) = api.onboard("acme", json!({"plan": "free"})).await;
    assert_eq!(status, 200, "{acme}");
    assert_eq!(counts(&acme), (4, 0, 0), "{acme}");
    assert_eq!(acme["outputs"]["worker"]["name"], "acme");
    assert_eq!(acme["outputs"]["worker"]["namespace"], "customers");
    assert_eq!(acme["outputs"]["kv"]["title"], "acme-kv");
    let globex = json!({"plan": "free", "code": GLOBEX_CODE});
    let (status, body) = api.onboard("globex", globex.clone()).await;
    assert_eq!(status, 200, "{body}");

    // Each answers through the dispatcher from its own KV namespace.
    assert_eq!(
        through("/acme/").await,
        (200, "Welcome, acme! (plan: free)".into())
    );
    assert_eq!(
        through("/globex/hello").await,
        (200, "globex: Welcome, globex! free /hello".into())
    );
    assert_eq!(
        fx.binding_names("/workers/dispatch/namespaces/customers/scripts/acme")
            .await,
        ["FILES", "KV", "PLAN"]
    );
    let (status, recorded) = api.call(Method::GET, "/tenants/acme", None).await;
    assert_eq!(status, 200);
    assert_eq!(recorded["outputs"], acme["outputs"]);

    // acme again, unchanged: not one request to Cloudflare.
    fx.emu.reset_stats();
    let (status, again) = api.onboard("acme", json!({"plan": "free"})).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(counts(&again), (0, 0, 4));
    assert_eq!(fx.emu.stats().total, 0, "{:?}", fx.emu.stats().by_route);

    // globex moves to pro: its Worker alone is uploaded again.
    fx.emu.reset_stats();
    let pro = json!({"plan": "pro", "code": GLOBEX_CODE});
    let (status, moved) = api.onboard("globex", pro).await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(counts(&moved), (0, 1, 3));
    let routes = fx.emu.stats().by_route;
    assert!(
        routes
            .keys()
            .all(|r| r.contains("/workers/dispatch/namespaces/")),
        "{routes:?}"
    );
    assert_eq!(
        through("/globex/").await,
        (200, "globex: Welcome, globex! pro /".into())
    );
    assert_eq!(
        through("/acme/").await,
        (200, "Welcome, acme! (plan: free)".into())
    );

    // An id that is no tenant id: the rule, and one that follows it.
    let (status, refused) = api.onboard("Acme%20Corp!", json!({"plan": "free"})).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("lowercase"),
        "{refused}"
    );
    assert_eq!(refused["suggestion"], "acme-corp");
    let (status, _) = api.onboard("acme", json!({"plan": "gold"})).await;
    assert_eq!(status, 400);

    // initech's KV namespace title is already taken in the account: its onboarding fails with
    // Cloudflare's reason, its Worker never uploaded, and no other customer notices.
    let taken = fx
        .result(
            Method::POST,
            "/storage/kv/namespaces",
            Some(json!({"title": "initech-kv"})),
        )
        .await;
    let (status, failed) = api.onboard("initech", json!({"plan": "free"})).await;
    assert_eq!(status, 502, "{failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("already exists"), "{error}");
    assert_eq!(through("/initech/").await.0, 404);
    assert_eq!(
        through("/acme/").await,
        (200, "Welcome, acme! (plan: free)".into())
    );

    // hooli's code does not start. Cloudflare refuses such an upload; the emulator stores it and
    // workerd leaves it out. Either way the reason reaches someone, and the others run on.
    let (status, body) = api
        .onboard("hooli", json!({"plan": "free", "code": "export default {"}))
        .await;
    if status == 200 {
        let (status, answer) = through("/hooli/").await;
        assert_eq!(status, 502, "{answer}");
        assert!(answer.contains("SyntaxError"), "{answer}");
    } else {
        assert_eq!(status, 502, "{body}");
        assert!(body.to_string().contains("SyntaxError"), "{body}");
    }
    assert_eq!(
        through("/globex/").await,
        (200, "globex: Welcome, globex! pro /".into())
    );
    assert_eq!(
        through("/acme/").await,
        (200, "Welcome, acme! (plan: free)".into())
    );

    // Offboard acme: nothing of it is left; the namespace and globex stay.
    let (status, gone) = api.call(Method::DELETE, "/tenants/acme", None).await;
    assert_eq!(status, 200, "{gone}");
    assert_eq!(gone["kept"], json!(["customers"]));
    assert!(!fx.kv_titles().await.contains(&"acme-kv".to_owned()));
    let buckets = fx.get("/r2/buckets").await.to_string();
    assert!(!buckets.contains("acme-files"), "{buckets}");
    let script = "/workers/dispatch/namespaces/customers/scripts/acme";
    assert_eq!(fx.send(Method::GET, script, None).await.status(), 404);
    assert_eq!(api.call(Method::GET, "/tenants/acme", None).await.0, 404);
    assert_eq!(api.call(Method::DELETE, "/tenants/acme", None).await.0, 404);
    assert_eq!(
        through("/acme/").await,
        (404, "no Worker for tenant \"acme\"\n".into())
    );
    assert_eq!(
        through("/globex/").await,
        (200, "globex: Welcome, globex! pro /".into())
    );
    let (_, listed) = api.call(Method::GET, "/tenants", None).await;
    assert_eq!(listed["tenants"], json!(["globex", "hooli", "initech"]));

    // Offboard the rest, then destroy the platform: only the namespace someone else made stays.
    for id in ["globex", "hooli", "initech"] {
        let (status, body) = api
            .call(Method::DELETE, &format!("/tenants/{id}"), None)
            .await;
        assert_eq!(status, 200, "{id}: {body}");
    }
    fx.run(BIN, &["destroy", "--yes"], &[]).await;
    assert_eq!(fx.get("/workers/dispatch/namespaces").await, json!([]));
    assert_eq!(fx.get("/workers/scripts").await, json!([]));
    assert_eq!(fx.get("/r2/buckets").await["buckets"], json!([]));
    assert_eq!(fx.kv_titles().await, ["initech-kv"], "{taken}");
    let (_, listed) = api.call(Method::GET, "/tenants", None).await;
    assert_eq!(listed["tenants"], json!([]));
}
