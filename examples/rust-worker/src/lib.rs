//! A Worker written in Rust with workers-rs, declared, built and deployed by athanor, reading its
//! bindings through the `Env` that `infra!` generates: `env.my_kv()` is a `KvStore`,
//! `env.debug_mode()` a `bool`, and a binding that does not exist is a compile error instead of a
//! run-time `undefined`. `crate: "."` makes the Worker this crate: athanor builds it for wasm32,
//! binds it with wasm-bindgen and writes its JavaScript entry, with no `worker-build` and nothing
//! downloaded.
//!
//! `GET /` answers what the bindings hold, `GET /count` counts in the `Counter` Durable Object
//! (written in Rust below), `GET /backend` calls the `backend` Worker, `POST /notes` adds a note
//! to its D1 database (migrated and seeded on deploy) and records the event in Analytics Engine.

use athanor::infra;
// `#[durable_object]` names `wasm_bindgen` in the code it writes.
use worker::wasm_bindgen;
use worker::{
    AnalyticsEngineDataPointBuilder, Context, DurableObject, Env, Request, Response, Result, State,
    durable_object, event,
};

infra! {
    app "rust-worker";

    let sessions = KvNamespace("sessions") {
        title: "rust-worker-sessions",
        values: [{ key: "greeting", value: "Hello from KV, read by Rust" }],
    };
    let storage = R2Bucket("storage") {};
    let counter = DurableObjectNamespace("counter") { class_name: "Counter", sqlite: true };
    let signing = Secret("signing-key") { value: secret_env("SIGNING_KEY") };
    let tenants = DispatchNamespace("tenants") {};
    let backend = Worker("backend") { entrypoint: "./backend.js" };
    let notes = D1Database("notes") { migrations: "./migrations", seed: "./seed.sql" };
    let events = AnalyticsEngineDataset("events") { dataset: "rust_worker_events" };

    let api = Worker("api") {
        name: "rust-worker-api",
        crate: ".",
        compatibility_date: "2025-09-01",
        url: true,
        bindings: {
            MY_KV: sessions,
            STORAGE: storage,
            COUNTER: counter,
            SIGNING_KEY: signing,
            TENANTS: tenants,
            BACKEND: backend,
            NOTES: notes,
            EVENTS: events,
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
    match req.path().as_str() {
        "/count" => {
            let counter: worker::ObjectNamespace = env.counter()?;
            let stub = counter.id_from_name("visits")?.get_stub()?;
            stub.fetch_with_str("https://counter/").await
        }
        "/notes" => add_note(&env, req).await,
        "/backend" => {
            let backend: worker::Fetcher = env.backend()?;
            let mut answer = backend.fetch("https://backend/", None).await?;
            Response::ok(format!("backend says: {}", answer.text().await?))
        }
        _ => describe(&env).await,
    }
}

/// Adds the request's body as a note in D1, records the event in Analytics Engine, and answers
/// how many notes there are.
async fn add_note(env: &api::Env, mut req: Request) -> Result<Response> {
    let text = req.text().await?;
    let db: worker::D1Database = env.notes()?;
    db.prepare("INSERT INTO notes (text) VALUES (?1)")
        .bind(&[text.as_str().into()])?
        .run()
        .await?;
    let count: Option<u32> = db
        .prepare("SELECT count(*) AS n FROM notes")
        .first(Some("n"))
        .await?;
    let events: worker::AnalyticsEngineDataset = env.events()?;
    events.write_data_point(
        &AnalyticsEngineDataPointBuilder::new()
            .indexes(["notes"])
            .add_blob("note added")
            .add_double(text.len() as f64)
            .build(),
    )?;
    Response::from_json(&serde_json::json!({ "notes": count.unwrap_or(0) }))
}

/// What every binding holds, read through the typed accessors, as JSON.
async fn describe(env: &api::Env) -> Result<Response> {
    let kv: worker::kv::KvStore = env.my_kv()?;
    let greeting = kv.get("greeting").text().await?;
    let storage: worker::Bucket = env.storage()?;
    let objects: Vec<String> = storage
        .list()
        .execute()
        .await?
        .objects()
        .iter()
        .map(|o| o.key())
        .collect();
    let signing: worker::SecretStore = env.signing_key()?;
    let signing_key = signing.get().await?;
    // The accessor checks that the binding is a dispatch namespace.
    let _tenants: worker::DynamicDispatcher = env.tenants()?;
    let token: String = env.token()?;
    let debug: bool = env.debug_mode()?;
    let max_items: i64 = env.max_items()?;
    let version: String = env.version()?;
    let limits = env.limits()?;
    Response::from_json(&serde_json::json!({
        "greeting": greeting,
        "objects": objects,
        "signing_key": signing_key,
        "token": token,
        "debug": debug,
        "max_items": max_items,
        "version": version,
        "limits": limits,
    }))
}

/// A Durable Object written in Rust: it counts the requests it receives, in its storage.
#[durable_object]
pub struct Counter {
    state: State,
}

impl DurableObject for Counter {
    fn new(state: State, _env: Env) -> Self {
        Counter { state }
    }

    async fn fetch(&self, _req: Request) -> Result<Response> {
        let storage = self.state.storage();
        let count = storage.get::<u64>("count").await?.unwrap_or(0) + 1;
        storage.put("count", count).await?;
        Response::ok(count.to_string())
    }
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
            crate: ".",
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
