//! Deploys through a faulty network (`cargo bench -p quickstart --bench faults`).
//!
//! Two suites of [`ROUNDS`] rounds: the quickstart, and a generated stack of 200 resources (80 KV
//! namespaces with two seeded values each, 20 R2 buckets and 100 Workers, each Worker bound to a
//! namespace and a bucket, every other one also to the Worker before it). Each round deploys into
//! a fresh emulator that answers 10% of requests 429, 10% with a 5xx, and drops 5% of
//! connections without an answer. A deploy that fails is run again, under the same faults, up to
//! [`ATTEMPTS`] times. Then the faults stop, and the round checks that:
//! - the emulator holds exactly what a deploy without faults leaves (KV namespaces, R2 buckets,
//!   Worker scripts, Durable Object namespaces), with no duplicate;
//! - a plan has nothing to do;
//! - destroy leaves exactly what a destroy without faults leaves: nothing for the generated
//!   stack, the namespace the quickstart declares `delete: false`.
//!
//! The waits are scaled down 50-fold, as the benchmarks at the rate limit scale its window: an
//! injected 429 asks for 20 ms (`Retry-After: 0.02`) instead of 1 s, and the client's backoff
//! starts at 10 ms instead of 500 ms and stops at 160 ms. What is counted (retries, convergence,
//! what is left) does not depend on the waits, and a round takes a second, not a minute.
//!
//! Prints, for each suite, the rounds that converged on the first deploy and on a later one, the
//! duplicates and what was left. Targets: every round converges, 0 duplicates, 0 left beyond what
//! the stack keeps; exits non-zero otherwise.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use athanor::Stack;
use athanor::model::binding::{Binding, BindingValue};
use athanor::model::stack::{KvNamespace, KvValue, R2Bucket, Worker, WorkerCode};
use athanor::model::{Provider, Resource, ResourceRef};
use athanor::runtime::{Session, SessionOptions};
use athanor_cloudflare::{Client, CloudflareProvider, RateLimit, RetryPolicy};
use athanor_emulator::{Config, Emulator, Faults};

/// Rounds of each suite.
const ROUNDS: usize = 50;
/// Deploys a round may take to converge.
const ATTEMPTS: usize = 5;
/// The stage every round deploys.
const STAGE: &str = "faults";

/// The faults of every deploy, with the waits they ask for scaled down (see the crate doc).
fn faults() -> Faults {
    Faults {
        share_429: 0.10,
        share_5xx: 0.10,
        share_dropped: 0.05,
        retry_after_429: Some(Duration::from_millis(20)),
        ..Faults::default()
    }
}

fn bind(id: &str) -> Binding {
    Binding::new(
        id.to_uppercase().replace('-', "_"),
        BindingValue::Resource(ResourceRef::new(id)),
    )
}

/// The generated stack of 200 resources, rooted in `dir` with its Workers' code.
fn generated(dir: &Path) -> Stack {
    let code = dir.join("worker");
    std::fs::create_dir_all(&code).expect("a source directory");
    std::fs::write(
        code.join("index.js"),
        "export default { async fetch() { return new Response(\"ok\"); } };\n",
    )
    .expect("the Workers' code");
    let mut stack = Stack::new("generated", dir);
    for i in 0..80 {
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
    for i in 0..20 {
        stack = stack.with(Resource::new(format!("files-{i}"), R2Bucket::default()));
    }
    for i in 0..100 {
        let mut bindings = vec![
            bind(&format!("kv-{}", i % 80)),
            bind(&format!("files-{}", i % 20)),
        ];
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

/// A provider for `emulator` with the client's backoff scaled down and a rate limit that never
/// binds (each round sends a few thousand requests at most).
async fn provider(emulator: &Emulator) -> Arc<dyn Provider> {
    let mut config = athanor_test_support::client_config(emulator);
    config.rate_limit = RateLimit {
        requests: 100_000,
        window: Duration::from_secs(300),
    };
    config.retry = RetryPolicy {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(160),
        ..RetryPolicy::default()
    };
    Arc::new(CloudflareProvider::new(
        Client::connect(config).await.expect("the client connects"),
    ))
}

/// What the emulator holds, as `kind name` lines, sorted, duplicates kept.
async fn held(emulator: &Emulator) -> Vec<String> {
    let mut names: Vec<String> = athanor_test_support::kv_titles(emulator)
        .await
        .into_iter()
        .map(|t| format!("kv {t}"))
        .collect();
    let listed = [
        ("r2", "/r2/buckets", "name"),
        ("script", "/workers/scripts", "id"),
        (
            "durable-object",
            "/workers/durable_objects/namespaces",
            "name",
        ),
    ];
    for (kind, path, field) in listed {
        let result = athanor_test_support::get_result(emulator, path).await;
        let items = result
            .get("buckets")
            .unwrap_or(&result)
            .as_array()
            .expect("a list")
            .clone();
        names.extend(
            items
                .iter()
                .map(|item| format!("{kind} {}", item[field].as_str().unwrap_or_default())),
        );
    }
    names.sort();
    names
}

/// One emulator, its provider and a state directory, for one round.
struct Round {
    _dir: tempfile::TempDir,
    emulator: Emulator,
    provider: Arc<dyn Provider>,
}

impl Round {
    async fn start() -> Round {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let emulator = Emulator::start(Config::new(dir.path().join("emulator")))
            .await
            .expect("the emulator starts");
        let provider = provider(&emulator).await;
        Round {
            _dir: dir,
            emulator,
            provider,
        }
    }

    fn session(&self, stack: &Stack) -> Session {
        let options = SessionOptions::new(STAGE).state_dir(self._dir.path().join("state"));
        Session::new(stack.clone(), self.provider.clone(), options)
    }
}

/// What one suite counted.
#[derive(Default)]
struct Figures {
    first_time: usize,
    later: usize,
    duplicates: usize,
    /// Left after destroy beyond what a destroy without faults leaves.
    left: usize,
    requests: u64,
    too_many: u64,
    failed: Vec<String>,
}

/// Runs the suite over `stack`: a reference deploy and destroy without faults, then the rounds.
async fn suite(name: &str, stack: &Stack) -> Figures {
    let reference = Round::start().await;
    reference
        .session(stack)
        .deploy()
        .await
        .unwrap_or_else(|e| panic!("{name}: a deploy without faults fails: {}", e.report()));
    let deployed = held(&reference.emulator).await;
    reference.session(stack).destroy().await.expect("destroy");
    let kept = held(&reference.emulator).await;
    reference.emulator.shutdown().await;

    let mut f = Figures::default();
    let started = Instant::now();
    for round in 0..ROUNDS {
        let r = Round::start().await;
        r.emulator.set_faults(faults());
        let mut attempts = 0;
        let converged = loop {
            attempts += 1;
            match r.session(stack).deploy().await {
                Ok(_) => break true,
                Err(_) if attempts < ATTEMPTS => continue,
                Err(e) => {
                    f.failed.push(format!("round {round}: {}", e.report()));
                    break false;
                }
            }
        };
        let stats = r.emulator.stats();
        f.requests += stats.total;
        f.too_many += stats.too_many_requests;
        r.emulator.set_faults(Faults::default());
        if converged {
            if attempts == 1 {
                f.first_time += 1;
            } else {
                f.later += 1;
            }
            let names = held(&r.emulator).await;
            let unique: BTreeSet<&String> = names.iter().collect();
            f.duplicates += names.len() - unique.len();
            if names != deployed {
                f.failed.push(format!(
                    "round {round}: holds {names:?}, a deploy without faults {deployed:?}"
                ));
            }
            let plan = r.session(stack).plan().await.expect("plan");
            if plan.has_changes() {
                f.failed.push(format!(
                    "round {round}: a plan after it converged has changes:\n{}",
                    plan.render(false)
                ));
            }
            r.session(stack).destroy().await.expect("destroy");
            let after = held(&r.emulator).await;
            f.left += after.iter().filter(|n| !kept.contains(n)).count();
        }
        r.emulator.shutdown().await;
    }
    println!(
        "faults, {name}: {ROUNDS} rounds of {} resources, 10% 429, 10% 5xx, 5% dropped connections; {} requests ({} answered 429) in {:.1} s",
        stack.resources.len(),
        f.requests,
        f.too_many,
        started.elapsed().as_secs_f64()
    );
    println!(
        "faults, {name}: converged on the first deploy {}, on a later one {}, not at all {}; duplicates {}; left after destroy {} beyond the {} the stack keeps (targets: every round converges, 0, 0)",
        f.first_time,
        f.later,
        ROUNDS - f.first_time - f.later,
        f.duplicates,
        f.left,
        kept.len(),
    );
    for failure in f.failed.iter().take(5) {
        eprintln!("faults, {name}: {failure}");
    }
    f
}

fn main() -> std::process::ExitCode {
    let code = tempfile::tempdir().expect("a temporary directory");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let suites = runtime.block_on(async {
        [
            suite("quickstart", &quickstart::stack()).await,
            suite("200 generated resources", &generated(code.path())).await,
        ]
    });
    let ok = suites
        .iter()
        .all(|f| f.failed.is_empty() && f.duplicates == 0 && f.left == 0);
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
