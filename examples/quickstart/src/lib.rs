//! The quickstart stack: the examples of the Bindings and KVNamespace guides, in Rust.
//!
//! `cargo run -p quickstart -- deploy` deploys it (the binary is `src/main.rs`); with no
//! Cloudflare credentials set it goes to the embedded local emulator, so it works on a fresh
//! machine with no environment variables. The stack is a library so that the deploy benchmark
//! measures the very same stack in process.

use athanor::infra;

infra! {
    app "quickstart";

    // KVNamespace guide: a basic namespace for user data.
    let users = KvNamespace("users") { title: "user-data" };

    // Initial values with a time to live (an hour from the write).
    let sessions = KvNamespace("sessions") {
        title: "user-sessions",
        values: [{
            key: "session_123",
            value: json!({ "userId": "user_456", "role": "admin" }),
            expiration_ttl: 3600,
        }],
    };

    // Metadata for caching.
    let assets = KvNamespace("assets") {
        title: "static-assets",
        values: [{
            key: "main.js",
            value: "content...",
            metadata: json!({ "contentType": "application/javascript", "etag": "abc123" }),
        }],
    };

    // Adopt the namespace if it already exists instead of failing.
    let existing = KvNamespace("existing-ns") {
        title: "existing-namespace",
        adopt: true,
        values: [{ key: "config", value: json!({ "setting": "updated-value" }) }],
    };

    // When it leaves the stack, keep the namespace at Cloudflare.
    let preserved = KvNamespace("preserve-ns") {
        title: "preserved-namespace",
        delete: false,
    };

    // Bindings guide: a KV namespace bound to a Worker, with a plain variable and a JSON flag. The
    // Worker reads the seeded greeting.
    let my_kv = KvNamespace("MY_KV") {
        title: "my-kv-namespace",
        values: [{ key: "greeting", value: "Hello from MY_KV" }],
    };

    let my_worker = Worker("my-worker") {
        name: "my-worker",
        entrypoint: "./src/worker.ts",
        url: true,
        bindings: {
            MY_KV: my_kv,
            API_KEY: "secret-key",
            DEBUG_MODE: true,
        },
    };

    // Bindings guide, "resource bindings vs values": resources and plain values side by side.
    let bucket = R2Bucket("bucket") {};
    let counter = DurableObjectNamespace("counter") { class_name: "Counter", sqlite: true };

    let worker = Worker("worker") {
        entrypoint: "./src/worker.ts",
        url: true,
        bindings: {
            KV_STORE: users,
            COUNTER: counter,
            BUCKET: bucket,
            SESSIONS: sessions,
            ASSETS: assets,
            CONFIG: existing,
            DEBUG: "true",
            VERSION: "1.0.0",
        },
    };
}
