//! A local emulator of the Cloudflare v4 API.
//!
//! It serves, over loopback HTTP under `/client/v4`, the paths athanor (and wrangler) use: accounts
//! and token verification, Workers KV, R2 buckets, D1 databases, Workers scripts with bindings and
//! Durable Object migrations, their versions and deployments, Secrets Store, Queues, Workers for
//! Platforms, and the Workers Analytics Engine SQL API. State lives in SQLite inside a data
//! directory, so what was deployed is still there after a restart.
//!
//! The emulator is the default target when no Cloudflare credentials are set, and the test suite's
//! Cloudflare: it counts requests ([`Stats`]) and can be slowed down or broken ([`Faults`]).
//!
//! With [`Config::workers`] set, it also runs what is deployed to it on workerd ([`Workerd`]):
//! every Worker answers at `http://NAME.localhost:PORT`, with its bindings backed by the same data
//! the API serves, and what the Workers log comes out as [`WorkerEvent`]s.
//!
//! Layout: [`routes`] holds the whole route table; `handlers` one module per resource family;
//! `scripts` the typed Worker model with its uploads, versions and deployments; `store` the SQLite
//! storage (and the D1 databases' own files); `kv_rules`, `d1_rules` and `queue_rules` what the API
//! and the bindings both enforce; `analytics_engine_sql` the Analytics Engine SQL the API runs;
//! `sealing` secret values at rest; `workerd` the local runtime and `bindings` the service its
//! bindings call; `envelope` the v4 response shapes; `auth`, `faults` and `stats` the middleware
//! around every request; `clock` the time they all read.

mod analytics_engine_sql;
mod auth;
mod bindings;
mod clock;
mod d1_rules;
mod envelope;
mod error;
#[cfg(test)]
mod error_code_sources;
mod faults;
mod handlers;
mod ids;
mod kv_rules;
mod queue_rules;
pub mod routes;
mod scripts;
mod sealing;
mod server;
mod state;
mod stats;
mod store;
mod workerd;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use clock::Clock;
pub use error::Error;
pub use stats::Stats;
pub use workerd::{
    TESTED_WORKERD, WorkerEvent, Workerd, WorkerdNotFound, WorkersConfig, WorkersStatus,
};

/// The account id the emulator uses when none is configured: fixed, so that state recorded against
/// one run of the emulator still names the same account on the next.
pub const DEFAULT_ACCOUNT_ID: &str = "a7c0de1f2e3d4c5b6a79881726354a5b";

/// How to start an [`Emulator`]. Its `Debug` output never shows the token.
#[derive(Clone)]
pub struct Config {
    /// Directory holding the SQLite database; created if missing.
    pub data_dir: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The API token the emulator accepts; `None` generates a random one.
    pub token: Option<String>,
    /// The account id; `None` uses [`DEFAULT_ACCOUNT_ID`].
    pub account_id: Option<String>,
    /// Faults injected into `/client/v4` requests; none by default.
    pub faults: Faults,
    /// Run the deployed Workers on workerd and serve them; `None` (the default) only stores them.
    pub workers: Option<WorkersConfig>,
}

impl Config {
    /// A configuration with its data in `data_dir`, a random port, a generated token and no faults.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            port: 0,
            token: None,
            account_id: None,
            faults: Faults::default(),
            workers: None,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("port", &self.port)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("account_id", &self.account_id)
            .field("faults", &self.faults)
            .field("workers", &self.workers)
            .finish()
    }
}

/// Faults injected into every `/client/v4` request, for tests and benchmarks of clients.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added to every request before it is answered.
    pub latency: Duration,
    /// Share (0.0..=1.0) of requests answered 429 with `Retry-After` and code 971.
    pub share_429: f64,
    /// The `Retry-After` of those 429s: 1 s when `None`. A benchmark scales it down with the
    /// rest of its waits; below a second it is sent in fractional seconds (`0.02`), which
    /// athanor's client reads and Cloudflare never sends.
    pub retry_after_429: Option<Duration>,
    /// Share (0.0..=1.0) of requests answered 500, 502 or 503.
    pub share_5xx: f64,
    /// Share (0.0..=1.0) of requests whose connection is closed without an answer.
    pub share_dropped: f64,
    /// Cloudflare's global API rate limit (1,200 requests per 5 minutes) when set: past the
    /// budget, every request is answered 429 for the next window's length.
    pub rate_limit: Option<RateLimit>,
    /// How many of the next KV bulk writes leave their last key unwritten and report it in
    /// `unsuccessful_keys` (with HTTP 200), as Cloudflare may: a client must send it again.
    pub kv_bulk_unwritten: u32,
    /// The `n`-th request from when these faults were set (1 for the first) is carried out and
    /// its answer is never sent: the moment a client is killed with its request applied and its
    /// answer lost. [`Emulator::held`] says when it is held.
    pub hold_answer_of: Option<u64>,
}

/// A request budget, applied the way Cloudflare applies its global API limit: at most `requests`
/// in any sliding `window`; the request past the budget starts a block, and every request is then
/// answered 429 (code 971, `Retry-After`, `x-ratelimit-reset`) until `window` has passed again.
///
/// Cloudflare blocks for as long as its window (5 minutes each), so one length sets both; tests
/// shorten it, or advance [`Emulator::clock`] past it instead of sleeping.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// The length of the sliding window, and of the block that follows exceeding it.
    pub window: Duration,
}

impl RateLimit {
    /// Cloudflare's documented API limit: 1,200 requests per 5 minutes
    /// (`developers.cloudflare.com/fundamentals/api/reference/limits`; reference/cloudflare-api.md
    /// §1.4).
    pub fn cloudflare() -> RateLimit {
        RateLimit {
            requests: 1200,
            window: Duration::from_secs(300),
        }
    }
}

/// A running emulator; it stops when dropped or shut down.
pub struct Emulator {
    state: Arc<state::AppState>,
    addr: SocketAddr,
    server: Option<server::ServerHandle>,
    runtime: Option<workerd::LocalRuntime>,
    events: tokio::sync::broadcast::Sender<WorkerEvent>,
}

impl Emulator {
    /// Opens the data directory and starts serving on 127.0.0.1, on the caller's tokio runtime.
    pub async fn start(config: Config) -> Result<Emulator, Error> {
        let account_id = match config.account_id {
            Some(id) => ids::check_account_id(&id)?,
            None => DEFAULT_ACCOUNT_ID.to_owned(),
        };
        let token = match config.token {
            Some(token) => auth::check_token(token)?,
            None => auth::generate_token(),
        };
        let store = store::Store::open(&config.data_dir).await?;
        let sealer = sealing::Sealer::open(&config.data_dir)?;
        let state = Arc::new(state::AppState::new(
            store,
            store::d1::D1Files::new(&config.data_dir),
            sealer,
            token,
            account_id,
            config.faults,
            Clock::system(),
        ));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|source| Error::Bind {
                port: config.port,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            port: config.port,
            source,
        })?;
        let app = routes::router(state.clone());
        let server = server::spawn(listener, app);
        tracing::debug!(%addr, "athanor emulator listening");
        let (events, _) = tokio::sync::broadcast::channel(1024);
        let runtime = match config.workers {
            Some(workers) => {
                let started = workerd::LocalRuntime::start(
                    state.clone(),
                    workers,
                    &config.data_dir,
                    events.clone(),
                )
                .await;
                match started {
                    Ok(runtime) => Some(runtime),
                    Err(e) => {
                        server.stop().await;
                        return Err(e);
                    }
                }
            }
            None => None,
        };
        Ok(Emulator {
            state,
            addr,
            server: Some(server),
            runtime,
            events,
        })
    }

    /// The v4 API base URL, `http://127.0.0.1:PORT/client/v4`.
    pub fn base_url(&self) -> String {
        format!("http://{}/client/v4", self.addr)
    }

    /// The full URL of `rest` under this emulator's account: `{base_url}/accounts/{id}{rest}`,
    /// for tests and tools that call the API directly.
    pub fn account_url(&self, rest: &str) -> String {
        format!("{}/accounts/{}{rest}", self.base_url(), self.account_id())
    }

    /// The socket address the emulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API token the emulator accepts.
    pub fn token(&self) -> &str {
        &self.state.token
    }

    /// The id of the emulated account.
    pub fn account_id(&self) -> &str {
        &self.state.account_id
    }

    /// A snapshot of the request counters.
    pub fn stats(&self) -> Stats {
        self.state.stats.snapshot()
    }

    /// Sets every request counter back to zero.
    pub fn reset_stats(&self) {
        self.state.stats.reset();
    }

    /// Replaces the faults injected into the following requests.
    pub fn set_faults(&self, faults: Faults) {
        self.state.faults.set(faults);
    }

    /// Whether the request [`Faults::hold_answer_of`] names was carried out and its answer is
    /// being held.
    pub fn held(&self) -> bool {
        self.state.faults.held()
    }

    /// The emulator's clock; tests advance it to expire KV values, deliver a delayed queue message,
    /// or outwait a rate-limit block, without sleeping.
    pub fn clock(&self) -> &Clock {
        &self.state.clock
    }

    /// The port deployed Workers answer on, when the emulator serves them.
    pub fn workers_port(&self) -> Option<u16> {
        self.runtime.as_ref().map(|r| r.port())
    }

    /// The URL of account Worker `name` on this emulator's Workers port,
    /// `http://NAME.localhost:PORT`, when the emulator serves Workers.
    pub fn worker_url(&self, name: &str) -> Option<String> {
        self.workers_port()
            .map(|port| format!("http://{name}.localhost:{port}"))
    }

    /// What served Workers log and throw, and the runtime's (re)starts, from now on.
    pub fn worker_events(&self) -> tokio::sync::broadcast::Receiver<WorkerEvent> {
        self.events.subscribe()
    }

    /// Waits until every change made to scripts so far runs, and tells which Workers do; `None`
    /// when the emulator does not serve Workers.
    pub async fn workers_ready(&self) -> Option<WorkersStatus> {
        match &self.runtime {
            Some(runtime) => Some(runtime.ready().await),
            None => None,
        }
    }

    /// Stops workerd (when Workers are served), then stops accepting connections, closes the open
    /// ones and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown().await;
        }
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .field("account_id", &self.state.account_id)
            .field("token", &"<redacted>")
            .finish()
    }
}
