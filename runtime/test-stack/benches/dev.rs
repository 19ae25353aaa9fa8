//! `dev` against `wrangler dev`, side by side in one run, on the same Worker (one KV get per
//! request): the time from starting the command to the first answered request (the stack binary
//! already built), the time from saving an edit to the first request that sees it, and requests
//! per second. Prints each figure for both tools and the ratio, against the targets: start and
//! reload at most half of wrangler's, throughput at least wrangler's.
//!
//! `cargo bench -p athanor-test-stack --bench dev`. It needs workerd (`ATHANOR_WORKERD`, or `npm ci
//! --prefix emulator/tests/workerd`) and wrangler (`ATHANOR_WRANGLER`, or `npm ci --prefix
//! emulator/tests/wrangler`). `ATHANOR_BENCH_ROUNDS` sets the rounds of start and reload (5).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Worker both tools run: one KV get per request, and a marker the reload changes.
fn worker_code(marker: &str) -> String {
    format!(
        "export default {{ async fetch(request, env) {{ return new Response(`{marker} ${{await env.SESSIONS.get(\"greeting\")}}`); }} }};\n"
    )
}

/// How long one measurement may take before the bench gives up.
const PATIENCE: Duration = Duration::from_secs(120);
/// How long throughput is measured, and with how many requests in flight.
const LOAD_TIME: Duration = Duration::from_secs(4);
const LOAD_CONCURRENCY: usize = 16;

fn tool(variable: &str, package: &str, program: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(variable) {
        return PathBuf::from(p);
    }
    let pinned = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../../emulator/tests/{package}/node_modules/.bin/{program}"
    ));
    assert!(
        pinned.exists(),
        "{program} is not installed: run `npm ci --prefix emulator/tests/{package}` or set {variable}"
    );
    pinned
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A command running in its own process group, stopped (group and all) when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

fn spawn(mut cmd: Command) -> Running {
    use std::os::unix::process::CommandExt;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    Running(cmd.spawn().expect("start the command"))
}

/// One of the two tools, ready to start on a project directory.
trait Tool {
    fn name(&self) -> &'static str;
    /// The file the Worker's code is in.
    fn entry(&self) -> PathBuf;
    /// Starts serving on `port`.
    fn start(&self, port: u16) -> Running;
    /// The Host header a request carries.
    fn host(&self, port: u16) -> String;
}

struct Athanor {
    dir: PathBuf,
    workerd: PathBuf,
}

impl Tool for Athanor {
    fn name(&self) -> &'static str {
        "athanor dev"
    }
    fn entry(&self) -> PathBuf {
        self.dir.join("src/worker/index.js")
    }
    fn start(&self, port: u16) -> Running {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_athanor-test-stack"));
        cmd.args(["dev", "--port", &port.to_string()])
            .env("ATHANOR_STATE_DIR", self.dir.join("state"))
            .env("ATHANOR_TEST_ROOT", self.dir.join("src"))
            .env("ATHANOR_STAGE", "bench")
            .env("ATHANOR_PASSWORD", "bench password")
            .env("ATHANOR_TEST_SECRET", "bench-secret")
            .env("ATHANOR_WORKERD", &self.workerd)
            .env_remove("CLOUDFLARE_API_TOKEN")
            .env_remove("CLOUDFLARE_API_KEY");
        spawn(cmd)
    }
    fn host(&self, port: u16) -> String {
        format!("bin-api.localhost:{port}")
    }
}

struct Wrangler {
    dir: PathBuf,
    bin: PathBuf,
}

impl Wrangler {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .current_dir(&self.dir)
            .env("CI", "1")
            .env("WRANGLER_SEND_METRICS", "false")
            .env("XDG_CONFIG_HOME", self.dir.join(".config"))
            .env_remove("CLOUDFLARE_API_TOKEN")
            .env_remove("CLOUDFLARE_API_KEY");
        cmd
    }
}

impl Tool for Wrangler {
    fn name(&self) -> &'static str {
        "wrangler dev"
    }
    fn entry(&self) -> PathBuf {
        self.dir.join("src/index.js")
    }
    fn start(&self, port: u16) -> Running {
        let port = port.to_string();
        spawn(self.command(&[
            "dev",
            "--port",
            &port,
            "--ip",
            "127.0.0.1",
            "--inspector-port",
            "0",
            "--show-interactive-dev-session=false",
        ]))
    }
    fn host(&self, port: u16) -> String {
        format!("127.0.0.1:{port}")
    }
}

/// GET / on `port` with `host`: the body, when it answered 200.
async fn get(http: &reqwest::Client, port: u16, host: &str) -> Option<String> {
    let r = http
        .get(format!("http://127.0.0.1:{port}/"))
        .header("host", host)
        .send()
        .await
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    r.text().await.ok()
}

/// Polls until a request answers with a body containing `marker`; the time it took.
async fn until_answered(
    http: &reqwest::Client,
    port: u16,
    host: &str,
    marker: &str,
    since: Instant,
) -> Duration {
    loop {
        if let Some(body) = get(http, port, host).await
            && body.contains(marker)
        {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < PATIENCE,
            "no answer with {marker:?} on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Requests per second with [`LOAD_CONCURRENCY`] in flight for [`LOAD_TIME`].
async fn throughput(port: u16, host: &str, marker: &str) -> f64 {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(LOAD_CONCURRENCY)
        .build()
        .unwrap();
    let deadline = Instant::now() + LOAD_TIME;
    let mut tasks = Vec::new();
    for _ in 0..LOAD_CONCURRENCY {
        let (http, host, marker) = (http.clone(), host.to_owned(), marker.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                let body = get(&http, port, &host).await.expect("an answer under load");
                assert!(body.contains(&marker), "{body}");
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / LOAD_TIME.as_secs_f64()
}

struct Figures {
    start: Vec<Duration>,
    reload: Vec<Duration>,
    rps: f64,
}

fn median(values: &[Duration]) -> Duration {
    let mut v = values.to_vec();
    v.sort();
    v[v.len() / 2]
}

/// Starts the tool `rounds` times; each time, waits for its first answer, then saves an edit and
/// waits for the first answer that shows it. Throughput is measured in the last round.
async fn measure(tool: &dyn Tool, rounds: usize) -> Figures {
    let http = reqwest::Client::new();
    let mut figures = Figures {
        start: Vec::new(),
        reload: Vec::new(),
        rps: 0.0,
    };
    for round in 0..rounds {
        let port = free_port();
        let marker = format!("start-{round}");
        std::fs::write(tool.entry(), worker_code(&marker)).unwrap();
        let since = Instant::now();
        let running = tool.start(port);
        let host = tool.host(port);
        figures
            .start
            .push(until_answered(&http, port, &host, &marker, since).await);
        // Let a file-system timestamp tick pass, so the edit is a new modification time.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let edited = format!("edit-{round}");
        let since = Instant::now();
        std::fs::write(tool.entry(), worker_code(&edited)).unwrap();
        figures
            .reload
            .push(until_answered(&http, port, &host, &edited, since).await);
        if round + 1 == rounds {
            figures.rps = throughput(port, &host, &edited).await;
        }
        drop(running);
    }
    figures
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("ATHANOR_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
        .max(1);
    let tmp = tempfile::tempdir().unwrap();

    let athanor = Athanor {
        dir: tmp.path().join("athanor"),
        workerd: tool("ATHANOR_WORKERD", "workerd", "workerd"),
    };
    std::fs::create_dir_all(athanor.dir.join("src/worker")).unwrap();

    let wrangler = Wrangler {
        dir: tmp.path().join("wrangler"),
        bin: tool("ATHANOR_WRANGLER", "wrangler", "wrangler"),
    };
    std::fs::create_dir_all(wrangler.dir.join("src")).unwrap();
    let config = serde_json::json!({
        "name": "bench",
        "main": "src/index.js",
        "compatibility_date": "2025-01-01",
        "kv_namespaces": [{"binding": "SESSIONS", "id": "00000000000000000000000000000001"}],
        "vars": {"VERSION": "1"},
    });
    std::fs::write(wrangler.dir.join("wrangler.json"), config.to_string()).unwrap();
    // The same value the athanor stack seeds, in wrangler's local KV.
    let seeded = wrangler
        .command(&[
            "kv",
            "key",
            "put",
            "greeting",
            "hello",
            "--binding",
            "SESSIONS",
            "--local",
        ])
        .output()
        .expect("run wrangler kv key put");
    assert!(
        seeded.status.success(),
        "wrangler kv key put failed: {}",
        String::from_utf8_lossy(&seeded.stderr)
    );

    println!("dev start, reload and throughput: athanor dev vs wrangler dev, {rounds} rounds each");
    let ours = measure(&athanor, rounds).await;
    let theirs = measure(&wrangler, rounds).await;

    for (tool, f) in [(&athanor as &dyn Tool, &ours), (&wrangler, &theirs)] {
        let list = |v: &[Duration]| v.iter().map(|d| ms(*d)).collect::<Vec<_>>().join(", ");
        println!(
            "{}: start {}; reload {}",
            tool.name(),
            list(&f.start),
            list(&f.reload)
        );
    }
    let start_ratio = median(&ours.start).as_secs_f64() / median(&theirs.start).as_secs_f64();
    let reload_ratio = median(&ours.reload).as_secs_f64() / median(&theirs.reload).as_secs_f64();
    let rps_ratio = ours.rps / theirs.rps;
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "{:<34} {:>12} {:>12} {:>8}  target",
        "figure (median)", "athanor", "wrangler", "ratio"
    );
    println!(
        "{:<34} {:>12} {:>12} {:>8.2}  <= 0.5 ({})",
        "start to first answered request",
        ms(median(&ours.start)),
        ms(median(&theirs.start)),
        start_ratio,
        verdict(start_ratio <= 0.5)
    );
    println!(
        "{:<34} {:>12} {:>12} {:>8.2}  <= 0.5 ({})",
        "save to first request that sees it",
        ms(median(&ours.reload)),
        ms(median(&theirs.reload)),
        reload_ratio,
        verdict(reload_ratio <= 0.5)
    );
    println!(
        "{:<34} {:>12.0} {:>12.0} {:>8.2}  >= 1.0 ({})",
        "requests per second, one KV get",
        ours.rps,
        theirs.rps,
        rps_ratio,
        verdict(rps_ratio >= 1.0)
    );
    if start_ratio > 0.5 || reload_ratio > 0.5 || rps_ratio < 1.0 {
        eprintln!("dev: a ratio missed its target");
        std::process::exit(1);
    }
}
