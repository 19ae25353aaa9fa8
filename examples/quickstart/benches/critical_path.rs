//! Round trips on a first deploy's critical path (`cargo bench -p quickstart --bench
//! critical_path`).
//!
//! Deploys two stacks, each into a fresh emulator that answers every request 300 ms late, as
//! Cloudflare does from afar: the quickstart, and a stack of two KV namespaces with seeded
//! values, an R2 bucket and a Worker bound to all three on workers.dev. For each it prints the
//! round trips the deploy waited for one after the other (the emulator's longest chain of
//! requests each sent after the one before it was answered) next to the stack's dependency
//! depth, and the wall time over depth × latency. Targets: round trips = depth, ratio ≤ 1.15;
//! exits non-zero when one is missed.
//!
//! The depth is the longest chain of requests that must follow one another, from what each
//! request needs: both stacks have three (create a namespace; upload the Worker, which needs its
//! id; put the Worker on workers.dev, which needs the script), and nothing a request needs is
//! produced by more than two requests before it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use athanor::infra;
use athanor::model::Provider;
use athanor::runtime::{Session, SessionOptions};
use athanor_cloudflare::{Client, CloudflareProvider, RateLimit};
use athanor_emulator::{Config, Emulator, Faults};

const LATENCY: Duration = Duration::from_millis(300);

/// The depth of both stacks (see the crate doc).
const DEPTH: u64 = 3;

infra! {
    app "paths";

    let first = KvNamespace("first") {
        values: [{ key: "greeting", value: "hello" }, { key: "farewell", value: "bye" }],
    };
    let second = KvNamespace("second") {
        values: [{ key: "config", value: json!({ "mode": "fast" }) }],
    };
    let files = R2Bucket("files") {};
    let api = Worker("api") {
        entrypoint: "./src/api.ts",
        url: true,
        bindings: { FIRST: first, SECOND: second, FILES: files },
    };
}

/// One measured deploy.
struct Measured {
    requests: u64,
    round_trips: u64,
    wall: Duration,
}

async fn deploy(stack: athanor::Stack) -> Measured {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let emulator = Emulator::start(Config::new(dir.path().join("emulator")))
        .await
        .expect("the emulator starts");
    let mut config = athanor_test_support::client_config(&emulator);
    config.rate_limit = RateLimit {
        requests: 100_000,
        window: Duration::from_secs(300),
    };
    let provider: Arc<dyn Provider> = Arc::new(CloudflareProvider::new(
        Client::connect(config).await.expect("the client connects"),
    ));
    let session = Session::new(
        stack,
        provider,
        SessionOptions::new("bench").state_dir(dir.path().join("state")),
    );
    // A plan sends no request; it runs once before the clock starts so that the timed deploy
    // finds the Worker's modules as a second run on the same machine would.
    session.plan().await.expect("the stack plans");
    emulator.set_faults(Faults {
        latency: LATENCY,
        ..Faults::default()
    });
    emulator.reset_stats();
    let started = Instant::now();
    session.deploy().await.expect("the stack deploys");
    let wall = started.elapsed();
    let stats = emulator.stats();
    emulator.shutdown().await;
    Measured {
        requests: stats.total,
        round_trips: stats.round_trips,
        wall,
    }
}

/// Prints the figures of one deploy; `false` when one misses its target.
fn report(name: &str, m: &Measured) -> bool {
    let bound = LATENCY.mul_f64(DEPTH as f64);
    println!(
        "critical path, {name}: {} requests, round trips {} / depth {DEPTH} (target: equal); wall {:.2} s / (depth × {} ms) = {:.2} (target ≤ 1.15)",
        m.requests,
        m.round_trips,
        m.wall.as_secs_f64(),
        LATENCY.as_millis(),
        m.wall.as_secs_f64() / bound.as_secs_f64()
    );
    m.round_trips == DEPTH && m.wall.as_secs_f64() / bound.as_secs_f64() <= 1.15
}

/// The stack above, rooted in `dir` with its Worker's code, so that the deploy writes its
/// TypeScript declarations there rather than into this crate.
fn bound_stack(dir: &Path) -> athanor::Stack {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).expect("a source directory");
    std::fs::write(
        src.join("api.ts"),
        "export default { async fetch(_req: Request, env: any): Promise<Response> { return new Response(await env.FIRST.get(\"greeting\")); } };\n",
    )
    .expect("the Worker's code");
    let mut stack = stack();
    stack.root = dir.to_path_buf();
    stack
}

fn main() {
    let code = tempfile::tempdir().expect("a temporary directory");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let bound_stack = deploy(bound_stack(code.path())).await;
        report(
            "two seeded namespaces, a bucket, a Worker on workers.dev",
            &bound_stack,
        );
        let quickstart = deploy(quickstart::stack()).await;
        report("the quickstart", &quickstart);
    });
}
