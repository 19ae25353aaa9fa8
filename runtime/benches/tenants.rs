//! Onboarding 1,000 tenants under Cloudflare's API rate limit
//! (`cargo bench -p athanor-runtime --bench tenants`).
//!
//! What: a platform onboards [`TENANTS`] tenants with [`Tenants::apply_all`], each a stage of its
//! own with the shape of `tests/tenants.rs` (`athanor_test_support::tenant_stack`): the platform's dispatch namespace (adopted and kept;
//! the platform's own stack creates it once first), a KV namespace seeded with one value, an R2
//! bucket, and the tenant's Worker uploaded as `InlineCode` into the dispatch namespace. State is
//! in a temporary directory; the bounds are the defaults a platform gets ([`TENANTS_AT_ONCE`]
//! tenants at once, [`CONCURRENCY`] requests in flight each).
//!
//! How: the emulator runs in this process and enforces Cloudflare's global limit of 1,200
//! requests per sliding window, past which it answers 429 for a whole window. The window is
//! scaled down from 5 minutes to [`WINDOW`] so that the run takes seconds, and the client gets the
//! same scaled limit through `ClientConfig::rate_limit`, as a user on Cloudflare runs with the
//! real one. The figure is the ratio of the wall time to the bound, not the seconds: with the real
//! window the waits grow 75-fold and the rest does not. At 1,200 per 4 s (300/s) the limit binds
//! throughout: unlimited, athanor and the emulator go about four times as fast.
//!
//! The bound is the earliest finish the limit allows at athanor's own pace. The pace is measured,
//! not modelled: the same onboarding runs again with no limit anywhere, on a fresh emulator and
//! state, the emulator's request count sampled every millisecond; that run goes second, so warm,
//! which can only tighten the bound. Then request `i` is sent no sooner than one window after
//! request `i - 1,200` (the sliding window) nor sooner after request `i - 1` than the unlimited run
//! sent it, and the run ends as long after its last request as the unlimited run did. With R
//! requests that is at least `(ceil(R / 1,200) - 1) * W` plus the unlimited run's time to send its
//! first `R - (ceil(R / 1,200) - 1) * 1,200` requests and its time after the last one (the limit
//! alone, printed beside it), and at least the unlimited run's time. Target: wall / bound ≤ 1.10.
//!
//! Counted: the requests the emulator received and those it answered 429 (its `stats()`). The
//! client retries a 429, so one it gives up on also fails its tenant.
//!
//! Memory: the process's peak resident memory (VmHWM, the emulator included), its growth during
//! the limited run per tenant, and, from a counting allocator, the peak of live heap (sampled every
//! millisecond) and the heap still held per tenant once every tenant is applied (the results
//! included). Resident memory is mostly freed heap that glibc's per-thread arenas keep, not live
//! data.
//!
//! The e2e test's shape is kept, not a leaner one: it is what a platform onboards, and its 6
//! requests a tenant (one of them the read that adopts the shared namespace) are what the limit
//! spends. The platform's own deploy goes through a client of its own, as `platform deploy` runs
//! in another process. The whole bench takes about 30 s on 2 shared cores, more when 429s block
//! it. It also prints when the first and last request of each window's worth arrived.
//!
//! Exits non-zero when any request was answered 429 or any tenant failed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use athanor_cloudflare::{Client, CloudflareProvider};
use athanor_core::{Provider, Stack, TenantId};
use athanor_emulator::{Config, Emulator, Faults, RateLimit};
use athanor_runtime::{
    DEFAULT_CONCURRENCY, DEFAULT_TENANTS_AT_ONCE, Session, SessionOptions, StateLocation, Tenants,
    TenantsOptions,
};
use athanor_test_support::{Pace, platform_namespace, tenant_stack};

const APP: &str = "platform";
/// Tenants onboarded.
const TENANTS: usize = 1000;
/// Cloudflare's budget per window, kept.
const BUDGET: u32 = 1200;
/// Cloudflare's 5-minute window, scaled down.
const WINDOW: Duration = Duration::from_secs(4);
/// Tenants applied at once.
const TENANTS_AT_ONCE: usize = DEFAULT_TENANTS_AT_ONCE;
/// Requests in flight per tenant.
const CONCURRENCY: usize = DEFAULT_CONCURRENCY;

/// The system allocator, counting the bytes live (one atomic add per call; the peak is sampled).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    LIVE.fetch_add(bytes, Ordering::Relaxed);
}

// SAFETY: every call goes to `System` unchanged; only counters are updated beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on as is.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is passed on as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A kB figure of `/proc/self/status` (`VmHWM`, `VmRSS`); 0 where there is none.
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

const MIB: f64 = 1024.0 * 1024.0;

/// What one onboarding run measured.
struct Run {
    /// When its requests arrived.
    pace: Pace,
    /// Requests answered 429.
    too_many: u64,
    failed: Vec<String>,
    rss_before_kb: u64,
    heap_before: usize,
    heap_peak: usize,
    heap_after: usize,
}

/// Starts an emulator in `dir` and the platform's namespace, then onboards every tenant with the
/// emulator and the client limited to `limit` (`None`: no limit anywhere).
async fn onboard(dir: &Path, limit: Option<RateLimit>) -> Run {
    let emulator = Emulator::start(Config::new(dir.join("emulator")))
        .await
        .unwrap();
    let mut config = athanor_test_support::client_config(&emulator);
    config.rate_limit = athanor_test_support::client_rate_limit(limit);
    let state = dir.join("state");

    // The platform's own stack makes the namespace, once, earlier and on its own (`platform
    // deploy` is another process): its request is not in the tenants' client's budget.
    let platform: Arc<dyn Provider> = Arc::new(CloudflareProvider::new(
        Client::connect(config.clone()).await.unwrap(),
    ));
    Session::new(
        Stack::new(APP, root()).with(platform_namespace()),
        platform,
        SessionOptions::new("prod").state_dir(&state),
    )
    .deploy()
    .await
    .unwrap();
    let provider: Arc<dyn Provider> = Arc::new(CloudflareProvider::new(
        Client::connect(config).await.unwrap(),
    ));

    let tenants = Tenants::new(
        APP,
        provider,
        TenantsOptions::new(StateLocation::Local(state))
            .tenants_at_once(TENANTS_AT_ONCE)
            .concurrency(CONCURRENCY),
    );
    let stacks: Vec<(TenantId, Stack)> = (0..TENANTS)
        .map(|i| {
            let id = TenantId::new(format!("tenant-{i:04}")).unwrap();
            let stack = tenant_stack(APP, &root(), &id, "free", &format!("{id}-files"));
            (id, stack)
        })
        .collect();

    emulator.set_faults(Faults {
        rate_limit: limit,
        ..Faults::default()
    });
    let rss_before_kb = status_kb("VmRSS");
    let heap_before = LIVE.load(Ordering::Relaxed);
    let mut heap_peak = heap_before;
    let (results, pace) = Pace::measure(&emulator, tenants.apply_all(stacks), || {
        heap_peak = heap_peak.max(LIVE.load(Ordering::Relaxed));
    })
    .await;
    let heap_after = LIVE.load(Ordering::Relaxed);
    let mut failed = Vec::new();
    for (id, result) in &results {
        match result {
            Ok(applied) => assert_eq!(applied.summary.create, 4, "{id}"),
            Err(e) => failed.push(format!("{id}: {e}")),
        }
    }
    let run = Run {
        pace,
        too_many: emulator.stats().too_many_requests,
        failed,
        rss_before_kb,
        heap_before,
        heap_peak,
        heap_after,
    };
    drop(results);
    emulator.shutdown().await;
    run
}

fn main() -> std::process::ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let limit = RateLimit {
        requests: BUDGET,
        window: WINDOW,
    };
    let tmp = tempfile::tempdir().unwrap();
    let (limited, peak_kb, free) = runtime.block_on(async {
        let limited = onboard(&tmp.path().join("limited"), Some(limit)).await;
        let peak_kb = status_kb("VmHWM");
        let free = onboard(&tmp.path().join("unlimited"), None).await;
        (limited, peak_kb, free)
    });

    let free_run = free;
    let free = &free_run.pace;
    let r = free.requests;
    let b = u64::from(BUDGET);
    let (by_limit, windows, last) = free.limit_alone(b, WINDOW);
    let tail = free.wall.saturating_sub(free.time_to(r));
    let bound = free.earliest_finish(b, WINDOW);
    let ratio = limited.pace.wall.as_secs_f64() / bound.as_secs_f64();
    let tenants = TENANTS as f64;

    println!(
        "tenants: {TENANTS} tenants (dispatch namespace adopted, seeded KV namespace, R2 bucket, Worker in the namespace), {TENANTS_AT_ONCE} at once, concurrency {CONCURRENCY}; limit {BUDGET} requests per {} s on emulator and client",
        WINDOW.as_secs()
    );
    println!(
        "tenants: {r} requests ({:.0} per tenant), {} answered 429 (the emulator received {}), {} tenants failed",
        r as f64 / tenants,
        limited.too_many,
        limited.pace.requests,
        limited.failed.len(),
    );
    println!(
        "tenants: requests received per {} s: {:?}",
        WINDOW.as_secs(),
        limited.pace.per_slice(WINDOW)
    );
    let edges: Vec<String> = (1..=limited.pace.requests / u64::from(BUDGET))
        .flat_map(|k| [(k - 1) * u64::from(BUDGET) + 1, k * u64::from(BUDGET)])
        .map(|n| format!("#{n} {:.2}", limited.pace.time_to(n).as_secs_f64()))
        .collect();
    println!("tenants: arrivals: {}", edges.join(", "));
    println!(
        "tenants: wall {:.2} s, bound {:.2} s, wall / bound {ratio:.3} (target <= 1.10)",
        limited.pace.wall.as_secs_f64(),
        bound.as_secs_f64(),
    );
    println!(
        "tenants: bound from the limit alone {:.2} s ({windows} windows of {} s, then {:.2} s for the first {last} requests and {:.2} s after the last); unlimited run {:.2} s ({:.0} requests/s)",
        by_limit.as_secs_f64(),
        WINDOW.as_secs(),
        free.time_to(last).as_secs_f64(),
        tail.as_secs_f64(),
        free.wall.as_secs_f64(),
        r as f64 / free.wall.as_secs_f64(),
    );
    println!(
        "tenants: memory: peak resident (VmHWM, emulator included) {:.1} MiB, {:.0} KiB per tenant grown; live heap peak {:.1} MiB (sampled), {:.1} KiB per tenant held after",
        peak_kb as f64 / 1024.0,
        peak_kb.saturating_sub(limited.rss_before_kb) as f64 / tenants,
        limited.heap_peak as f64 / MIB,
        limited.heap_after.saturating_sub(limited.heap_before) as f64 / 1024.0 / tenants,
    );
    for f in limited.failed.iter().take(5) {
        eprintln!("tenants: failed: {f}");
    }
    if limited.too_many > 0 || free_run.too_many > 0 || !limited.failed.is_empty() || ratio > 1.10 {
        eprintln!(
            "tenants: FAILED: {} requests answered 429, {} tenants failed, wall / bound {ratio:.3} (target <= 1.10)",
            limited.too_many + free_run.too_many,
            limited.failed.len()
        );
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
