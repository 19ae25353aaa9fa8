//! A Worker written in Rust with workers-rs, reading its bindings through the `Env` that
//! `infra!` generates: `env.my_kv()` is a `KvStore`, `env.debug_mode()` a `bool`, and a binding
//! that does not exist is a compile error instead of a run-time `undefined`.
//!
//! Build it for Cloudflare with `cargo build -p rust-worker --target wasm32-unknown-unknown`
//! (`worker-build` wraps that and writes `build/worker/shim.mjs`, the entrypoint below); on the
//! host it type-checks.

use athanor::infra;
use worker::{Context, Env, Request, Response, Result, event};

infra! {
    app "rust-worker";

    let sessions = KvNamespace("sessions") { title: "rust-worker-sessions" };
    let storage = R2Bucket("storage") {};
    let counter = DurableObjectNamespace("counter") { class_name: "Counter", script_name: "counter-host" };
    let signing = Secret("signing-key") { value: secret_env("SIGNING_KEY") };
    let tenants = DispatchNamespace("tenants") {};
    let backend = Worker("backend") { entrypoint: "./backend.js" };

    let api = Worker("api") {
        name: "rust-worker-api",
        entrypoint: "./build/worker/shim.mjs",
        compatibility_date: "2025-09-01",
        url: true,
        bindings: {
            MY_KV: sessions,
            STORAGE: storage,
            COUNTER: counter,
            SIGNING_KEY: signing,
            TENANTS: tenants,
            BACKEND: backend,
            TOKEN: secret_env("TOKEN"),
            DEBUG_MODE: true,
            MAX_ITEMS: 25,
            VERSION: "1.0.0",
            LIMITS: json!({ "max": 3 }),
        },
    };
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let env = api::Env::from(env);
    let kv: worker::kv::KvStore = env.my_kv()?;
    let _bucket: worker::Bucket = env.storage()?;
    let _counter: worker::ObjectNamespace = env.counter()?;
    let _signing: worker::SecretStore = env.signing_key()?;
    let _tenants: worker::DynamicDispatcher = env.tenants()?;
    let _backend: worker::Fetcher = env.backend()?;
    let _token: String = env.token()?;
    let debug: bool = env.debug_mode()?;
    let max: i64 = env.max_items()?;
    let version: String = env.version()?;
    let limits = env.limits()?;
    let path = req.path();
    let hits = kv.get(&path).text().await?.unwrap_or_default();
    Response::ok(format!(
        "{path}: {hits} (version {version}, debug {debug}, max {max}, limits {limits})"
    ))
}

/// Binding names whose accessors are Rust keywords, and a binding set from a Rust constant: the
/// generated `Env` still compiles (`r#type()`, `self_()`, `r#match()`, `level()`).
pub mod edge_cases {
    use athanor::infra;

    /// A Rust constant bound as a JSON variable.
    pub const LEVEL: u8 = 3;

    infra! {
        app "edge-cases";

        let edge = Worker("edge") {
            entrypoint: "./build/worker/shim.mjs",
            bindings: { TYPE: "a", SELF: "b", r#MATCH: true, LEVEL: LEVEL },
        };
    }

    /// Reads every binding of `edge`.
    pub fn read_all(env: &edge::Env) -> worker::Result<String> {
        Ok(format!(
            "{} {} {} {}",
            env.r#type()?,
            env.self_()?,
            env.r#match()?,
            env.level()?
        ))
    }
}
