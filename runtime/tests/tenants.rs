//! Tenants at run time through the public API, against the emulator in this process: tenants
//! onboarded together, one re-applied with no request, one whose plan changes alone, one whose
//! name Cloudflare would refuse failing alone before any request, one removed with nothing of it
//! left while the platform's shared namespace stays, and wrong credentials stopping the tenants
//! not yet started. The stacks are built by hand as an `infra!`
//! tenant template builds them (`athanor_test_support::tenant_stack`).

mod common;

use athanor_core::{Stack, TenantId};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use athanor_runtime::{Error, Event, Observer, Recorder, Tenants, TenantsOptions};
use common::*;

const APP: &str = "platform";

/// One tenant's stack (see `athanor_test_support::tenant_stack`).
fn tenant(id: &TenantId, plan: &str, bucket: &str) -> Stack {
    athanor_test_support::tenant_stack(APP, &fixtures(), id, plan, bucket)
}

/// How many user Workers the platform's namespace holds.
async fn scripts_in_namespace(env: &Env) -> u64 {
    env.get("/workers/dispatch/namespaces/customers").await["script_count"]
        .as_u64()
        .unwrap()
}

fn id(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

#[tokio::test]
async fn tenants_are_applied_apart_through_one_client() {
    let env = Env::start().await;
    let recorders: Arc<Mutex<BTreeMap<String, Arc<Recorder>>>> = Arc::default();
    let observers = {
        let recorders = recorders.clone();
        move |t: &TenantId| -> Arc<dyn Observer> {
            recorders
                .lock()
                .unwrap()
                .entry(t.to_string())
                .or_default()
                .clone()
        }
    };
    let tenants = Tenants::new(
        APP,
        env.provider.clone(),
        TenantsOptions::new(athanor_runtime::StateLocation::Local(env.state_dir()))
            .tenants_at_once(4),
    )
    .with_observers(Arc::new(observers));
    // The platform's own stack made the namespace.
    let platform = Stack::new(APP, fixtures()).with(athanor_test_support::platform_namespace());
    env.session(platform).deploy().await.unwrap();

    // Onboard three together.
    let (acme, globex, initech) = (id("acme"), id("globex"), id("initech"));
    let results = tenants
        .apply_all([
            (acme.clone(), tenant(&acme, "free", "acme-files")),
            (globex.clone(), tenant(&globex, "free", "globex-files")),
            (initech.clone(), tenant(&initech, "free", "initech-files")),
        ])
        .await;
    for (tenant, result) in &results {
        let applied = result.as_ref().unwrap_or_else(|e| panic!("{tenant}: {e}"));
        assert_eq!(applied.summary.create, 4, "{tenant}");
    }
    assert_eq!(
        tenants.list().await.unwrap(),
        [acme.clone(), globex.clone(), initech.clone()]
    );
    assert_eq!(scripts_in_namespace(&env).await, 3);
    let outputs = tenants.outputs(&acme).await.unwrap();
    assert_eq!(outputs["kv"].name(), "acme-kv");

    // Unchanged: not one request.
    env.emulator.reset_stats();
    let again = tenants
        .apply(&acme, tenant(&acme, "free", "acme-files"))
        .await
        .unwrap();
    assert_eq!(again.summary.keep, 4);
    assert_eq!(
        env.emulator.stats().total,
        0,
        "{:?}",
        env.emulator.stats().by_route
    );

    // globex moves to the pro plan: its Worker alone is uploaded again.
    env.emulator.reset_stats();
    let moved = tenants
        .apply(&globex, tenant(&globex, "pro", "globex-files"))
        .await
        .unwrap();
    assert_eq!((moved.summary.update, moved.summary.keep), (1, 3));
    let stats = env.emulator.stats();
    assert!(
        stats
            .by_route
            .keys()
            .all(|r| r.contains("/workers/dispatch/namespaces/")),
        "{:?}",
        stats.by_route
    );

    // A name Cloudflare would refuse fails that tenant before any request; the other onboards.
    let (hooli, bad) = (id("hooli"), id("bad"));
    env.emulator.reset_stats();
    let results = tenants
        .apply_all([
            (bad.clone(), tenant(&bad, "free", "Bad_Files")),
            (hooli.clone(), tenant(&hooli, "free", "hooli-files")),
        ])
        .await;
    let err = results[0].1.as_ref().unwrap_err();
    assert!(matches!(err, Error::InvalidName { .. }), "{err}");
    assert!(err.to_string().contains("try `bad-files`"), "{err}");
    assert!(results[1].1.is_ok(), "{:?}", results[1].1);
    // Each tenant's progress reached its own observer; the refused one started nothing.
    let recorders = recorders.lock().unwrap().clone();
    let started = |t: &str| {
        recorders.get(t).map_or(0, |r| {
            r.events()
                .iter()
                .filter(|e| matches!(e, Event::Started { .. }))
                .count()
        })
    };
    assert_eq!((started("bad"), started("hooli")), (0, 4));
    assert!(!tenants.list().await.unwrap().contains(&bad));

    // Offboard acme: nothing of it is left, the shared namespace stays.
    tenants.remove(&acme).await.unwrap();
    assert!(!env.kv_titles().await.contains(&"acme-kv".to_owned()));
    let buckets = env.get("/r2/buckets").await;
    assert!(!buckets.to_string().contains("acme-files"), "{buckets}");
    let gone = athanor_test_support::call(
        &env.emulator,
        reqwest::Method::GET,
        "/workers/dispatch/namespaces/customers/scripts/acme",
    )
    .await;
    assert_eq!(gone["success"], false, "{gone}");
    assert_eq!(scripts_in_namespace(&env).await, 3);
    assert_eq!(tenants.list().await.unwrap(), [globex, hooli, initech]);
    assert!(tenants.outputs(&acme).await.unwrap().is_empty());

    // A stack of another app is refused.
    let other = Stack::new("other", fixtures());
    let err = tenants.apply(&acme, other).await.unwrap_err();
    assert!(matches!(err, Error::TenantApp { .. }), "{err}");
}

#[tokio::test]
async fn wrong_credentials_stop_the_tenants_not_yet_started() {
    let env = Env::start().await;
    let platform = Stack::new(APP, fixtures()).with(athanor_test_support::platform_namespace());
    env.session(platform).deploy().await.unwrap();
    let mut config = athanor_test_support::client_config(&env.emulator);
    config.auth =
        athanor_cloudflare::Auth::Token(secrecy::SecretString::from("revoked".to_owned()));
    let revoked: Arc<dyn athanor_core::Provider> =
        Arc::new(athanor_cloudflare::CloudflareProvider::new(
            athanor_cloudflare::Client::connect(config).await.unwrap(),
        ));
    let tenants = Tenants::new(
        APP,
        revoked,
        TenantsOptions::new(athanor_runtime::StateLocation::Local(env.state_dir()))
            .tenants_at_once(2)
            .concurrency(4),
    );
    let many: Vec<(TenantId, Stack)> = (0..20)
        .map(|i| {
            let t = id(&format!("t{i:02}"));
            let stack = tenant(&t, "free", &format!("t{i:02}-files"));
            (t, stack)
        })
        .collect();
    env.emulator.reset_stats();
    let results = tenants.apply_all(many).await;
    assert_eq!(results.len(), 20);
    let (mut named, mut unsent) = (0, 0);
    for (tenant, result) in &results {
        match result {
            Err(Error::CredentialsRefused {
                problem: Some(p), ..
            }) => {
                assert!(p.contains("CLOUDFLARE_API_TOKEN"), "{tenant}: {p}");
                named += 1;
            }
            Err(Error::NotSent) => unsent += 1,
            other => panic!("{tenant}: {:?}", other.as_ref().map(|a| &a.summary)),
        }
    }
    // The tenants running when the first found out; the rest never started.
    assert!((1..=2).contains(&named), "{named} tenants ran");
    assert_eq!(named + unsent, 20);
    let sent = env.emulator.stats().total;
    assert!(sent <= 2 * (4 + 2), "{sent} requests");
}
