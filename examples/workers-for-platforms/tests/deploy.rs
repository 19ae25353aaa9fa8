//! The Workers for Platforms binary, end to end against an emulator started here that runs its
//! Workers on workerd: each user Worker lands in its dispatch namespace with exactly its own
//! bindings, the dispatcher reaches it, it reads and writes its own KV namespace and its own D1
//! database (migrated on deploy) and Analytics Engine dataset, and sees no other customer's
//! bindings; a redeploy sends nothing,
//! and destroy removes it all. (`keep_bindings`
//! itself is covered by athanor-cloudflare's end-to-end tests.)

use athanor_test_support::Fixture;
use reqwest::Method;

const BIN: &str = env!("CARGO_BIN_EXE_workers-for-platforms");
const USER_WORKER: &str = "/workers/dispatch/namespaces/customers/scripts/customer-a";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_workers_run_in_their_namespace_with_only_their_own_bindings() {
    let Some(fx) = Fixture::start_serving().await else {
        return;
    };
    fx.run(BIN, &["deploy"], &[]).await;

    let namespace = fx.get("/workers/dispatch/namespaces/customers").await;
    assert_eq!(namespace["namespace_name"], "customers");
    assert_eq!(
        fx.binding_names(USER_WORKER).await,
        ["DB", "EVENTS", "STORAGE", "USER_KV"]
    );

    // The dispatcher reaches each customer, which reads the value seeded into its own namespace
    // and sees only its own bindings.
    let get = |path: &'static str| fx.worker(Method::GET, "platform-dispatcher", path, None);
    assert_eq!(
        get("/customer-a/").await,
        (200, "Welcome, customer A".into())
    );
    assert_eq!(
        get("/customer-b/").await,
        (200, "Welcome, customer B".into())
    );
    assert_eq!(
        get("/customer-a/_bindings").await,
        (200, r#"["DB","EVENTS","STORAGE","USER_KV"]"#.into())
    );
    assert_eq!(
        get("/customer-b/_bindings").await,
        (200, r#"["DB","EVENTS","USER_KV"]"#.into())
    );
    // Each customer's visits land in its own database, migrated on deploy.
    assert_eq!(
        get("/customer-a/_visits").await,
        (200, r#"{"visits":1}"#.into())
    );
    assert_eq!(
        get("/customer-a/_visits").await,
        (200, r#"{"visits":2}"#.into())
    );
    assert_eq!(
        get("/customer-b/_visits").await,
        (200, r#"{"visits":1}"#.into())
    );
    let databases = fx.get("/d1/database").await;
    assert_eq!(databases.as_array().unwrap().len(), 2, "{databases}");
    // And in its own dataset (points arrive after the response: the query waits for them).
    assert_eq!(visits(&fx, "customer_a_events", 2).await, 2);
    assert_eq!(visits(&fx, "customer_b_events", 1).await, 1);
    assert_eq!(get("/customer-z/").await.0, 404);
    // What customer A writes lands in its namespace, and only there.
    let stored = fx
        .worker(
            Method::PUT,
            "platform-dispatcher",
            "/customer-a/note",
            Some("for A"),
        )
        .await;
    assert_eq!(stored.0, 201);
    let a = fx.kv_namespace_id("customer-a-data").await;
    let b = fx.kv_namespace_id("customer-b-data").await;
    let note = |ns: &str| format!("/storage/kv/namespaces/{ns}/values/note");
    let in_a = fx.send(Method::GET, &note(&a), None).await;
    assert_eq!(in_a.status(), 200);
    assert_eq!(in_a.text().await.unwrap(), "for A");
    assert_eq!(fx.send(Method::GET, &note(&b), None).await.status(), 404);
    assert_eq!(get("/customer-b/note").await.0, 404);
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
    let databases = fx.get("/d1/database").await;
    assert_eq!(databases.as_array().unwrap().len(), 0, "{databases}");
    let gone = fx.send(Method::GET, USER_WORKER, None).await;
    assert_eq!(gone.status(), 404);
}

/// The visits recorded in `dataset`, through the Analytics Engine SQL API, once there are
/// `expected` of them (or after two seconds).
async fn visits(fx: &Fixture, dataset: &str, expected: u64) -> u64 {
    let sql = format!("SELECT count() AS n FROM {dataset} WHERE blob1 = 'visit'");
    let mut n = 0;
    for _ in 0..40 {
        let answer: serde_json::Value = reqwest::Client::new()
            .post(fx.emu.account_url("/analytics_engine/sql"))
            .bearer_auth(fx.emu.token())
            .body(sql.clone())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        n = answer["data"][0]["n"]
            .as_str()
            .unwrap_or("0")
            .parse()
            .unwrap();
        if n == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    n
}
