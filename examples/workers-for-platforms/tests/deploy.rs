//! The Workers for Platforms binary, end to end against an emulator started here: the user
//! Worker lands in its dispatch namespace with exactly its own bindings, the dispatch Worker binds
//! the namespace, a redeploy sends nothing, and destroy removes it all. (`keep_bindings` itself is
//! covered by athanor-cloudflare's end-to-end tests.)

#[path = "../../support/harness.rs"]
mod harness;

use harness::Fixture;
use reqwest::Method;

const BIN: &str = env!("CARGO_BIN_EXE_workers-for-platforms");
const USER_WORKER: &str = "/workers/dispatch/namespaces/customers/scripts/customer-a";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_worker_is_deployed_into_its_namespace_and_keeps_kv_bindings() {
    let fx = Fixture::start().await;
    fx.run(BIN, &["deploy"], &[]).await;

    let namespace = fx.get("/workers/dispatch/namespaces/customers").await;
    assert_eq!(namespace["namespace_name"], "customers");
    assert_eq!(fx.binding_names(USER_WORKER).await, ["STORAGE", "USER_KV"]);
    assert_eq!(
        fx.binding_names("/workers/scripts/platform-dispatcher")
            .await,
        ["DISPATCHER"]
    );
    // A user Worker is not an account script.
    let scripts = fx.get("/workers/scripts").await;
    assert_eq!(scripts.as_array().unwrap().len(), 1, "{scripts}");

    // Nothing changed: not a single request.
    fx.emu.reset_stats();
    fx.run(BIN, &["deploy"], &[]).await;
    assert_eq!(fx.emu.stats().total, 0, "{:?}", fx.emu.stats().by_route);

    fx.run(BIN, &["destroy", "--yes"], &[]).await;
    let namespaces = fx.get("/workers/dispatch/namespaces").await;
    assert_eq!(namespaces.as_array().unwrap().len(), 0, "{namespaces}");
    assert!(fx.kv_titles().await.is_empty());
    let gone = fx.send(Method::GET, USER_WORKER, None).await;
    assert_eq!(gone.status(), 404);
}
