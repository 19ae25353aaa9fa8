//! Deploys through a faulty network (`cargo bench -p athanor-runtime --bench faults`).
//!
//! 50 rounds, each a stage of its own. Every round deploys a stack of 16 resources: 8 KV
//! namespaces with seeded values, 2 R2 buckets and 6 Workers, each bound to namespaces and
//! buckets, 3 of them also to the Worker before them. The emulator answers 10% of requests 429,
//! 10% with a 5xx, and drops 5% of connections without an answer.
//!
//! A deploy that fails is run again, under the same faults, up to 5 times. Then the faults stop,
//! and the round checks three things:
//! - the emulator holds exactly the declared resources, with no duplicate;
//! - a plan has nothing to do;
//! - destroy leaves nothing of the stage.
//!
//! It prints how many rounds converged on the first deploy and how many needed more. Targets:
//! every round converges, with 0 duplicates and 0 leftovers; it exits non-zero otherwise.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use athanor_cloudflare::{Client, CloudflareProvider};
use athanor_core::binding::{Binding, BindingValue};
use athanor_core::stack::{KvNamespace, KvValue, R2Bucket, Worker, WorkerCode};
use athanor_core::{Provider, Resource, ResourceRef, Stack};
use athanor_emulator::{Config, Emulator, Faults};
use athanor_runtime::{Session, SessionOptions};

const ROUNDS: usize = 50;
const ATTEMPTS: usize = 5;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn bind(id: &str) -> Binding {
    Binding::new(
        id.to_uppercase().replace('-', "_"),
        BindingValue::Resource(ResourceRef::new(id)),
    )
}

fn stack() -> Stack {
    let mut stack = Stack::new("faults", root());
    for i in 0..8 {
        stack = stack.with(Resource::new(
            format!("kv-{i}"),
            KvNamespace {
                title: None,
                values: vec![
                    KvValue::new("greeting", format!("hello {i}")),
                    KvValue::new("farewell", format!("bye {i}")),
                ],
            },
        ));
    }
    for i in 0..2 {
        stack = stack.with(Resource::new(format!("files-{i}"), R2Bucket::default()));
    }
    for i in 0..6 {
        let mut bindings = vec![bind(&format!("kv-{i}")), bind(&format!("files-{}", i % 2))];
        if i % 2 == 1 {
            bindings.push(bind(&format!("w-{}", i - 1)));
        }
        stack = stack.with(Resource::new(
            format!("w-{i}"),
            Worker {
                code: WorkerCode::Entrypoint("worker/index.js".into()),
                compatibility_date: Some("2025-01-01".into()),
                bindings,
                ..Worker::default()
            },
        ));
    }
    stack
}

async fn provider(emulator: &Emulator) -> Arc<dyn Provider> {
    let config = athanor_test_support::client_config(emulator);
    Arc::new(CloudflareProvider::new(
        Client::connect(config).await.unwrap(),
    ))
}

/// The names of what the emulator holds for `stage`: KV titles, bucket names, script names.
async fn held(emulator: &Emulator, stage: &str) -> Vec<String> {
    let suffix = format!("-{stage}");
    let mut names = athanor_test_support::kv_titles(emulator).await;
    let r2 = athanor_test_support::get_result(emulator, "/r2/buckets").await;
    names.extend(
        r2["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_owned()),
    );
    let scripts = athanor_test_support::get_result(emulator, "/workers/scripts").await;
    names.extend(
        scripts
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned()),
    );
    names.retain(|n| n.ends_with(&suffix));
    names.sort();
    names
}

fn main() -> std::process::ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tmp = tempfile::tempdir().unwrap();
        let emulator = Emulator::start(Config::new(tmp.path().join("emulator")))
            .await
            .unwrap();
        let provider = provider(&emulator).await;
        let stack = stack();
        let faults = Faults {
            share_429: 0.10,
            share_5xx: 0.10,
            share_dropped: 0.05,
            ..Faults::default()
        };
        let (mut first_time, mut later, mut failed) = (0, 0, Vec::new());
        let (mut duplicates, mut leftovers, mut requests) = (0, 0, 0);
        let started = Instant::now();
        for round in 0..ROUNDS {
            let stage = format!("round{round}");
            let session = || {
                let options = SessionOptions::new(stage.clone())
                    .state_dir(tmp.path().join("state"))
                    .lock_timeout(Duration::from_secs(30));
                Session::new(stack.clone(), provider.clone(), options)
            };
            emulator.set_faults(faults.clone());
            emulator.reset_stats();
            let mut attempts = 0;
            let converged = loop {
                attempts += 1;
                match session().deploy().await {
                    Ok(_) => break true,
                    Err(_) if attempts < ATTEMPTS => continue,
                    Err(e) => {
                        failed.push(format!("round {round}: {}", e.report()));
                        break false;
                    }
                }
            };
            requests += emulator.stats().total;
            emulator.set_faults(Faults::default());
            if !converged {
                continue;
            }
            if attempts == 1 {
                first_time += 1;
            } else {
                later += 1;
            }
            let names = held(&emulator, &stage).await;
            let unique: BTreeSet<&String> = names.iter().collect();
            duplicates += names.len() - unique.len();
            if unique.len() != stack.resources.len() {
                failed.push(format!(
                    "round {round}: {} resources held for {} declared: {names:?}",
                    unique.len(),
                    stack.resources.len()
                ));
            }
            let plan = session().plan().await.unwrap();
            if plan.has_changes() {
                failed.push(format!(
                    "round {round}: a plan after it converged has changes:\n{}",
                    plan.render(false)
                ));
            }
            session().destroy().await.unwrap();
            leftovers += held(&emulator, &stage).await.len();
        }
        println!(
            "faults: {ROUNDS} rounds of {} resources, 10% 429, 10% 5xx, 5% dropped connections; {requests} requests in {:.1} s",
            stack.resources.len(),
            started.elapsed().as_secs_f64()
        );
        println!(
            "faults: converged on the first deploy {first_time}, on a later one {later}, not at all {}; duplicates {duplicates}; left after destroy {leftovers} (targets: every round converges, 0, 0)",
            ROUNDS - first_time - later
        );
        for f in failed.iter().take(5) {
            eprintln!("faults: {f}");
        }
        emulator.shutdown().await;
        if failed.is_empty() && duplicates == 0 && leftovers == 0 {
            std::process::ExitCode::SUCCESS
        } else {
            std::process::ExitCode::FAILURE
        }
    })
}
