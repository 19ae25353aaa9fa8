//! The runtime's state and lock, through the public API, against every store: a local directory,
//! an S3-compatible server and Postgres (`.ci/services` starts both; see
//! `athanor_test_support::shared_stores`). Deploys, no-op plans from a fresh session, destroy;
//! the lock admitting one run at a time among 20; 20 concurrent deploys of one stage leaving one
//! consistent state and no duplicate; tenants, a stage each, listed from every store.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use athanor_core::Resource;
use athanor_core::stack::{KvNamespace, KvValue};
use athanor_runtime::internals::{lock_stage, snapshot};
use athanor_runtime::{Error, SessionOptions, StateLocation};
use common::{Env, stack};

/// Every store, each with a place of its own: (name, location).
fn stores(env: &Env) -> Vec<(&'static str, StateLocation)> {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let shared = athanor_test_support::shared_stores(&unique);
    athanor_test_support::use_in_this_process(&shared);
    let mut stores = vec![("local", StateLocation::Local(env.state_dir()))];
    for store in shared {
        let location = StateLocation::parse(&store.setting, env.dir.path()).unwrap();
        stores.push((store.name, location));
    }
    stores
}

/// Sessions of one app (unique per test, so that tests sharing a Postgres database stay apart)
/// and stage, keeping state at `location`.
fn options(location: &StateLocation) -> impl Fn(SessionOptions) -> SessionOptions + '_ {
    move |o| o.state(location.clone())
}

fn app() -> String {
    format!("shared-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

fn kv(app: &str, store: &str, version: usize) -> Resource {
    Resource::new(
        "sessions",
        KvNamespace {
            title: Some(format!("{app}-{store}")),
            values: vec![KvValue::new("version", version.to_string())],
        },
    )
}

fn stack_of(app: &str, resources: Vec<Resource>) -> athanor_core::Stack {
    let mut stack = stack(resources);
    stack.app = app.to_owned();
    stack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_store_deploys_plans_nothing_from_a_fresh_session_and_destroys() {
    let env = Env::start().await;
    for (name, location) in stores(&env) {
        let app = app();
        let s = stack_of(&app, vec![kv(&app, name, 1)]);
        let outputs = env
            .session_with(s.clone(), options(&location))
            .deploy()
            .await
            .unwrap_or_else(|e| panic!("{name}: {}", e.report()));
        assert!(outputs.contains_key("sessions"), "{name}");
        // A new session reads what the first wrote (through a new connection, for shared stores).
        let plan = env
            .session_with(s.clone(), options(&location))
            .plan()
            .await
            .unwrap();
        assert!(!plan.has_changes(), "{name}: {}", plan.render(true));
        let (plan, _) = env
            .session_with(s.clone(), options(&location))
            .deploy_with_plan()
            .await
            .unwrap();
        assert!(!plan.has_changes(), "{name}");
        let report = env
            .session_with(s.clone(), options(&location))
            .destroy()
            .await
            .unwrap();
        assert_eq!(report.deleted, ["sessions"], "{name}");
        let left = snapshot(&env.session_with(s, options(&location)))
            .await
            .unwrap();
        assert!(
            left.records.is_empty() && left.meta.is_none(),
            "{name}: {left:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_stage_lock_admits_one_run_at_a_time() {
    let env = Env::start().await;
    for (name, location) in stores(&env) {
        let s = stack_of(&app(), vec![]);
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let runs = (0..20).map(|_| {
            let session = env.session_with(s.clone(), |o| {
                o.state(location.clone())
                    .lock_timeout(Duration::from_secs(120))
            });
            let (inside, most) = (inside.clone(), most.clone());
            async move {
                let lock = lock_stage(&session).await?;
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
                lock.release().await
            }
        });
        let results = futures_join(runs).await;
        for r in &results {
            assert!(r.is_ok(), "{name}: {}", r.as_ref().unwrap_err().report());
        }
        assert_eq!(
            most.load(Ordering::SeqCst),
            1,
            "{name}: two runs held the lock at once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_deploys_of_one_stage_leave_one_consistent_state() {
    let env = Env::start().await;
    for (name, location) in stores(&env) {
        let app = app();
        // Waiting: every deploy gets its turn.
        let deploys = (0..20).map(|version| {
            let session = env.session_with(stack_of(&app, vec![kv(&app, name, version)]), |o| {
                o.state(location.clone())
                    .lock_timeout(Duration::from_secs(120))
            });
            async move { session.deploy().await }
        });
        for r in futures_join(deploys).await {
            r.unwrap_or_else(|e| panic!("{name}: {}", e.report()));
        }
        check_consistent(&env, &app, name, &location).await;

        // Not waiting: each deploy either runs or is refused at once, naming the holder.
        let deploys = (20..40).map(|version| {
            let session = env.session_with(stack_of(&app, vec![kv(&app, name, version)]), |o| {
                o.state(location.clone())
            });
            async move { session.deploy().await }
        });
        let results = futures_join(deploys).await;
        let ran = results.iter().filter(|r| r.is_ok()).count();
        assert!(ran >= 1, "{name}: no deploy ran");
        for r in results {
            match r {
                Ok(_) | Err(Error::Locked { .. }) => {}
                Err(e) => panic!("{name}: {}", e.report()),
            }
        }
        check_consistent(&env, &app, name, &location).await;
    }
}

/// One namespace at the target for the stage's one resource, recorded in state with its id, and
/// the recorded version's plan a no-op.
async fn check_consistent(env: &Env, app: &str, store: &str, location: &StateLocation) {
    let title = format!("{app}-{store}");
    let namespaces = env.get("/storage/kv/namespaces?per_page=100").await;
    let ids: Vec<&str> = namespaces
        .as_array()
        .unwrap()
        .iter()
        .filter(|ns| ns["title"] == title.as_str())
        .map(|ns| ns["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{store}: duplicates {ids:?}");
    let probe = env.session_with(stack_of(app, vec![]), options(location));
    let state = snapshot(&probe).await.unwrap();
    let record = &state.records["sessions"];
    let athanor_core::Output::KvNamespace(output) = record.output.as_ref().unwrap() else {
        panic!("{store}: {record:?}")
    };
    assert_eq!(output.id, ids[0], "{store}");
    let athanor_core::Props::KvNamespace(props) = &record.props else {
        panic!("{store}")
    };
    let athanor_core::stack::KvPayload::Text(version) = &props.values[0].value else {
        panic!("{store}")
    };
    let version: usize = version.parse().unwrap();
    let plan = env
        .session_with(
            stack_of(app, vec![kv(app, store, version)]),
            options(location),
        )
        .plan()
        .await
        .unwrap();
    assert!(!plan.has_changes(), "{store}: {}", plan.render(true));
}

/// Runs futures at once and collects their results in order.
async fn futures_join<T: Send + 'static>(
    futures: impl IntoIterator<Item = impl std::future::Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_store_keeps_tenants_apart_and_lists_them() {
    let env = Env::start().await;
    for (store, location) in stores(&env) {
        let app = app();
        let tenants = athanor_runtime::Tenants::new(
            app.clone(),
            env.provider.clone(),
            athanor_runtime::TenantsOptions::new(location),
        );
        let ids: Vec<athanor_core::TenantId> = ["acme", "globex"]
            .iter()
            .map(|t| athanor_core::TenantId::new(*t).unwrap())
            .collect();
        let stacks = ids.iter().map(|id| {
            let title = format!("{app}-{store}-{id}");
            let kv = Resource::new(
                "kv",
                KvNamespace {
                    title: Some(title),
                    values: vec![KvValue::new("tenant", id.to_string())],
                },
            );
            (id.clone(), stack_of(&app, vec![kv]))
        });
        for (id, result) in tenants.apply_all(stacks.collect::<Vec<_>>()).await {
            result.unwrap_or_else(|e| panic!("{store}, {id}: {}", e.report()));
        }
        assert_eq!(tenants.list().await.unwrap(), ids, "{store}");
        assert_eq!(
            tenants.outputs(&ids[1]).await.unwrap()["kv"].name(),
            format!("{app}-{store}-globex"),
            "{store}"
        );
        tenants.remove(&ids[0]).await.unwrap();
        assert_eq!(tenants.list().await.unwrap(), &ids[1..], "{store}");
        tenants.remove(&ids[1]).await.unwrap();
        assert!(tenants.list().await.unwrap().is_empty(), "{store}");
    }
}
