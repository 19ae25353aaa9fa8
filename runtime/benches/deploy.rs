//! Deploy and plan speed (`cargo bench -p athanor-runtime --bench deploy`).
//!
//! 1. Deploys a generated stack of 200 resources (100 KV namespaces, 100 Workers in chains of 10,
//!    each Worker binding its own namespace and the previous Worker of its chain) against the
//!    emulator with 50 ms of latency injected per request, and prints the wall time as a ratio to
//!    the lower bound: the larger of the longest chain's round trips times the latency, and
//!    the total request count times the latency divided by the concurrency. The request volume
//!    sets that bound; a second configuration (80 resources in chains of 40) is one where the
//!    chain sets it. Target: under 1.3 for both.
//! 2. Deploys 1,000 resources (500 namespaces, 500 Workers in chains of 10) under Cloudflare's
//!    API rate limit of 1,200 requests per 5 minutes, on the emulator and on the client, with the
//!    window scaled down to [`WINDOW`] so that the run takes seconds. Counts the requests answered
//!    429 (target: none) and holds the wall time to the earliest finish the limit allows at
//!    athanor's own pace (`athanor_test_support::Pace`: the same deploy run again with no limit,
//!    on a fresh emulator and state, gives the pace). Target: wall / bound ≤ 1.05.
//! 3. Plans 1,000 resources against state that matches them, with state in a local directory
//!    and in each shared store (an S3-compatible server and Postgres, as `.ci/services` starts
//!    them), and prints the times. Target: under 100 ms locally.
//!
//! Exits non-zero when a figure misses its target.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use athanor_cloudflare::{Client, CloudflareProvider};
use athanor_core::binding::{Binding, BindingValue};
use athanor_core::output::{KvNamespaceOutput, WorkerOutput};
use athanor_core::provider::{Desired, RunMemo};
use athanor_core::stack::{KvNamespace, Worker};
use athanor_core::{Output, Provider, Resource, ResourceRef, Stack};
use athanor_emulator::{Config, Emulator, Faults, RateLimit};
use athanor_runtime::internals::dependency_digest;
use athanor_runtime::internals::{
    Digests, Record, SCHEMA_VERSION, Status, lock_stage, session_store,
};
use athanor_runtime::{Session, SessionOptions, StateLocation};
use athanor_test_support::Pace;

const LATENCY: Duration = Duration::from_millis(50);
const CONCURRENCY: usize = 8;
/// Cloudflare's budget per window, kept.
const BUDGET: u32 = 1200;
/// Cloudflare's 5-minute window, scaled down.
const WINDOW: Duration = Duration::from_secs(4);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn kv(id: String) -> Resource {
    Resource::new(id, KvNamespace::default())
}

fn worker(id: String, binds: &[String]) -> Resource {
    Resource::new(
        id,
        Worker {
            code: athanor_core::stack::WorkerCode::Entrypoint("worker/index.js".into()),
            compatibility_date: Some("2025-01-01".into()),
            bindings: binds
                .iter()
                .map(|b| {
                    Binding::new(
                        b.to_uppercase().replace('-', "_"),
                        BindingValue::Resource(ResourceRef::new(b.clone())),
                    )
                })
                .collect(),
            ..Worker::default()
        },
    )
}

/// `pairs` namespaces and `pairs` Workers in chains of `chain`: Worker i binds namespace i and
/// Worker i-1 of its chain.
fn generated(app: &str, pairs: usize, chain: usize) -> Stack {
    let mut stack = Stack::new(app, root());
    for i in 0..pairs {
        stack = stack.with(kv(format!("kv-{i}")));
        let mut binds = vec![format!("kv-{i}")];
        if i % chain != 0 {
            binds.push(format!("w-{}", i - 1));
        }
        stack = stack.with(worker(format!("w-{i}"), &binds));
    }
    stack
}

/// A provider for `emulator` whose client keeps to `limit` (none: a limit that never binds).
async fn provider(emulator: &Emulator, limit: Option<RateLimit>) -> Arc<dyn Provider> {
    let mut config = athanor_test_support::client_config(emulator);
    config.rate_limit = athanor_test_support::client_rate_limit(limit);
    Arc::new(CloudflareProvider::new(
        Client::connect(config).await.unwrap(),
    ))
}

/// An emulator, a provider connected to it and a state directory, all in one temporary
/// directory, removed when the returned `TempDir` is dropped.
async fn start() -> (tempfile::TempDir, Emulator, Arc<dyn Provider>, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(Config::new(tmp.path().join("emulator")))
        .await
        .unwrap();
    let provider = provider(&emulator, None).await;
    let state = tmp.path().join("state");
    (tmp, emulator, provider, state)
}

fn session(stack: Stack, provider: &Arc<dyn Provider>, state: &Path, stage: &str) -> Session {
    let options = SessionOptions::new(stage)
        .state_dir(state)
        .concurrency(CONCURRENCY);
    Session::new(stack, provider.clone(), options)
}

/// How one configuration of the deploy benchmark did.
struct DeployFigure {
    ratio: f64,
}

/// Deploys `pairs` namespaces and Workers in chains of `chain` with latency injected and prints
/// the wall time against the lower bound.
async fn deploy_bench(label: &str, pairs: usize, chain: usize) -> DeployFigure {
    let (_tmp, emulator, provider, state) = start().await;

    // Calibrate: the requests one namespace and one chained Worker cost, without latency.
    let one_kv = Stack::new("calib", root()).with(kv("kv-0".into()));
    emulator.reset_stats();
    session(one_kv.clone(), &provider, &state, "calib")
        .deploy()
        .await
        .unwrap();
    let kv_requests = emulator.stats().total;
    let two = one_kv
        .clone()
        .with(worker("w-0".into(), &["kv-0".into()]))
        .with(kv("kv-1".into()))
        .with(worker("w-1".into(), &["kv-1".into(), "w-0".into()]));
    emulator.reset_stats();
    session(two, &provider, &state, "calib")
        .deploy()
        .await
        .unwrap();
    let worker_requests = (emulator.stats().total - kv_requests) / 2;

    let stack = generated("bench", pairs, chain);
    emulator.set_faults(Faults {
        latency: LATENCY,
        ..Faults::default()
    });
    emulator.reset_stats();
    let started = Instant::now();
    let outputs = session(stack, &provider, &state, "bench")
        .deploy()
        .await
        .unwrap();
    let wall = started.elapsed();
    let stats = emulator.stats();
    let total = stats.total;
    assert_eq!(outputs.len(), 2 * pairs);

    // The longest chain: its first namespace's create, then each Worker's upload after its
    // namespace and its predecessor, so the chain's uploads in turn (a Worker's read ahead goes
    // out at the start, beside the creates).
    let chain_requests = kv_requests + chain as u64;
    let by_chain = LATENCY.mul_f64(chain_requests as f64);
    let by_volume = LATENCY.mul_f64(total as f64 / CONCURRENCY as f64);
    let bound = by_chain.max(by_volume);
    let ratio = wall.as_secs_f64() / bound.as_secs_f64();
    println!(
        "deploy ({label}): {} resources in chains of {chain}, {total} requests ({kv_requests} per namespace, {worker_requests} per Worker), latency {} ms, concurrency {CONCURRENCY}; round trips {} (chain {chain_requests})",
        2 * pairs,
        LATENCY.as_millis(),
        stats.round_trips,
    );
    println!(
        "deploy ({label}): wall {:.2} s, lower bound {:.2} s (chain {:.2} s, volume {:.2} s), ratio {ratio:.2} (target < 1.3)",
        wall.as_secs_f64(),
        bound.as_secs_f64(),
        by_chain.as_secs_f64(),
        by_volume.as_secs_f64(),
    );
    emulator.shutdown().await;
    DeployFigure { ratio }
}

/// One deploy of the 1,000-resource stack in `dir`, with the emulator and the client limited to
/// `limit` (`None`: no limit anywhere): when its requests arrived, and how many were answered 429.
async fn deploy_at(dir: &Path, limit: Option<RateLimit>) -> (Pace, u64) {
    let emulator = Emulator::start(Config::new(dir.join("emulator")))
        .await
        .unwrap();
    let provider = provider(&emulator, limit).await;
    let stack = generated("scale", 500, 10);
    emulator.set_faults(Faults {
        rate_limit: limit,
        ..Faults::default()
    });
    let session = session(stack, &provider, &dir.join("state"), "scale");
    let (outputs, pace) = Pace::measure(&emulator, session.deploy(), || {}).await;
    assert_eq!(outputs.unwrap().len(), 1000);
    let refused = emulator.stats().too_many_requests;
    emulator.shutdown().await;
    (pace, refused)
}

/// Deploys 1,000 resources under the rate limit, then with no limit for the pace; prints and
/// returns the requests answered 429 and wall / bound.
async fn scale_bench() -> (u64, f64) {
    let tmp = tempfile::tempdir().unwrap();
    let limit = RateLimit {
        requests: BUDGET,
        window: WINDOW,
    };
    let (limited, refused) = deploy_at(&tmp.path().join("limited"), Some(limit)).await;
    let (free, _) = deploy_at(&tmp.path().join("unlimited"), None).await;
    let budget = u64::from(BUDGET);
    let bound = free.earliest_finish(budget, WINDOW);
    let (by_limit, windows, last) = free.limit_alone(budget, WINDOW);
    let ratio = limited.wall.as_secs_f64() / bound.as_secs_f64();
    println!(
        "scale: 1000 resources (500 namespaces, 500 Workers in chains of 10), concurrency {CONCURRENCY}; limit {BUDGET} requests per {} s on emulator and client (Cloudflare's per 5 min, scaled)",
        WINDOW.as_secs()
    );
    println!(
        "scale: {} requests, {refused} answered 429 (target 0); requests received per {} s: {:?}",
        limited.requests,
        WINDOW.as_secs(),
        limited.per_slice(WINDOW),
    );
    println!(
        "scale: wall {:.2} s, bound {:.2} s, wall / bound {ratio:.3} (target <= 1.05); from the limit alone {:.2} s ({windows} windows, then {last} requests); unlimited run {:.2} s ({:.0} requests/s)",
        limited.wall.as_secs_f64(),
        bound.as_secs_f64(),
        by_limit.as_secs_f64(),
        free.wall.as_secs_f64(),
        free.requests as f64 / free.wall.as_secs_f64(),
    );
    (refused, ratio)
}

/// Plans 1,000 resources over matching state in each store; returns the local median.
async fn plan_bench() -> Duration {
    let (tmp, emulator, provider, state) = start().await;
    let stack = generated("plan", 500, 10);
    // A stage of its own, so that runs never meet in a shared store.
    let stage = format!("bench-{}", std::process::id());
    // State that matches the stack: what a deploy would have recorded.
    let mut records = Vec::new();
    let mut outputs: BTreeMap<String, Output> = BTreeMap::new();
    for r in &stack.resources {
        let name = athanor_runtime::internals::resolved_name("plan", &stage, r);
        let output = match r.kind() {
            athanor_core::Kind::KvNamespace => Output::KvNamespace(KvNamespaceOutput {
                id: format!("{:032x}", outputs.len()),
                title: name.clone(),
            }),
            _ => Output::Worker(WorkerOutput {
                name: name.clone(),
                namespace: None,
                url: None,
                etag: None,
                migration_tag: None,
                content_hash: String::new(),
                durable_objects: Default::default(),
                bindings: Default::default(),
            }),
        };
        let deps: BTreeMap<String, Output> = r
            .dependencies()
            .into_iter()
            .map(|d| (d.to_owned(), outputs[d].clone()))
            .collect();
        let empty = BTreeMap::new();
        let desired = Desired {
            resource: r,
            name: &name,
            app: "plan",
            stage: &stage,
            root: &stack.root,
            deps: &deps,
            secrets: &empty,
            adopt: false,
            resumed: false,
            log: &athanor_core::provider::NoLog,
            memo: &RunMemo::default(),
        };
        let fingerprint = provider.fingerprint(&desired).await.unwrap();
        records.push(Record {
            schema_version: SCHEMA_VERSION,
            id: r.id.clone(),
            kind: r.kind(),
            status: Status::Created,
            name,
            props: r.props.clone(),
            adopt: false,
            delete: true,
            output: Some(output.clone()),
            dependencies: r.dependencies().into_iter().map(str::to_owned).collect(),
            digests: Digests {
                fingerprint,
                secrets: BTreeMap::new(),
                deps: deps
                    .iter()
                    .map(|(k, o)| (k.clone(), dependency_digest(o)))
                    .collect(),
            },
            superseded: vec![],
        });
        outputs.insert(r.id.clone(), output);
    }
    // The same plan with state in each store: this directory, then each shared store.
    let unique = format!("bench-{}", std::process::id());
    let shared = athanor_test_support::shared_stores(&unique);
    athanor_test_support::use_in_this_process(&shared);
    let mut local_median = Duration::ZERO;
    let mut locations = vec![("local", StateLocation::Local(state.clone()))];
    for store in &shared {
        locations.push((
            store.name,
            StateLocation::parse(&store.setting, tmp.path()).unwrap(),
        ));
    }
    for (name, location) in locations {
        let session = Session::new(
            stack.clone(),
            provider.clone(),
            SessionOptions::new(stage.clone())
                .state(location)
                .concurrency(CONCURRENCY),
        );
        write_state(&session, &records).await;
        let mut times = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let plan = session.plan().await.unwrap();
            times.push(started.elapsed());
            assert!(!plan.has_changes(), "{}", plan.render(false));
        }
        times.sort();
        if name == "local" {
            local_median = times[2];
        }
        println!(
            "plan: 1000 resources with state in {name}: median {:.1} ms, best {:.1} ms (target < 100 ms locally; state load, module fingerprints and diff included)",
            times[2].as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3
        );
        // Leave no bench state in a shared store.
        let held = lock_stage(&session).await.unwrap();
        let store = session_store(&session);
        for record in &records {
            store.remove_record(&record.id).await.unwrap();
        }
        store.remove_if_empty().await.unwrap();
        held.release().await.unwrap();
    }
    emulator.shutdown().await;
    local_median
}

/// Writes `records` into `session`'s state under its lock, 16 at a time, as a deploy would.
async fn write_state(session: &Session, records: &[Record]) {
    let held = lock_stage(session).await.unwrap();
    let store = session_store(session).clone();
    let mut writes: tokio::task::JoinSet<athanor_runtime::Result<()>> = tokio::task::JoinSet::new();
    for record in records {
        if writes.len() >= 16 {
            writes.join_next().await.unwrap().unwrap().unwrap();
        }
        let (store, record) = (store.clone(), record.clone());
        writes.spawn(async move { store.write_record(&record).await });
    }
    while let Some(done) = writes.join_next().await {
        done.unwrap().unwrap();
    }
    held.release().await.unwrap();
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let missed = runtime.block_on(async {
        let volume = deploy_bench("volume-bound", 100, 10).await;
        let chain = deploy_bench("chain-bound", 40, 40).await;
        let (refused, scale) = scale_bench().await;
        let plan = plan_bench().await;
        [
            (volume.ratio >= 1.3).then_some("the volume-bound deploy ratio"),
            (chain.ratio >= 1.3).then_some("the chain-bound deploy ratio"),
            (refused > 0).then_some("no request answered 429 at the rate limit"),
            (scale > 1.05).then_some("the deploy ratio at the rate limit"),
            (plan >= Duration::from_millis(100)).then_some("the local plan time"),
        ]
    });
    let missed: Vec<&str> = missed.into_iter().flatten().collect();
    if !missed.is_empty() {
        eprintln!("missed its target: {}", missed.join(", "));
        std::process::exit(1);
    }
}
