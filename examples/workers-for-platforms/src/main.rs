//! Workers for Platforms, from the "Bindings" guide of Cloudflare's docs, in Rust.
//!
//! Each user Worker lives in a dispatch namespace and sees only the bindings attached to it: here
//! each customer has a KV namespace, a D1 database (its schema from `migrations/`) and an
//! Analytics Engine dataset of its own, and customer A also an R2 bucket, added while `keep_bindings` keeps the
//! bindings of the previous upload. A dispatch Worker routes requests to user Workers by name.

use std::process::ExitCode;

use athanor::infra;

infra! {
    app "platform";

    let customers = DispatchNamespace("customers") { name: "customers" };

    // A KV namespace for each customer, attached to their user Worker as USER_KV.
    let customer_kv = KvNamespace("customer-a-kv") {
        title: "customer-a-data",
        values: [{ key: "index", value: "Welcome, customer A" }],
    };
    let customer_files = R2Bucket("customer-a-files") { name: "customer-a-files" };
    let customer_db = D1Database("customer-a-db") {
        name: "customer-a-db",
        migrations: "./migrations",
    };
    let customer_events = AnalyticsEngineDataset("customer-a-events") {
        dataset: "customer_a_events",
    };

    let customer_a = Worker("customer-a") {
        name: "customer-a",
        namespace: customers,
        entrypoint: "./src/user-worker.js",
        bindings: {
            USER_KV: customer_kv,
            STORAGE: customer_files,
            DB: customer_db,
            EVENTS: customer_events,
        },
        keep_bindings: [kv_namespace],
    };

    let customer_b_kv = KvNamespace("customer-b-kv") {
        title: "customer-b-data",
        values: [{ key: "index", value: "Welcome, customer B" }],
    };

    let customer_b_db = D1Database("customer-b-db") {
        name: "customer-b-db",
        migrations: "./migrations",
    };
    let customer_b_events = AnalyticsEngineDataset("customer-b-events") {
        dataset: "customer_b_events",
    };

    let customer_b = Worker("customer-b") {
        name: "customer-b",
        namespace: customers,
        entrypoint: "./src/user-worker.js",
        bindings: { USER_KV: customer_b_kv, DB: customer_b_db, EVENTS: customer_b_events },
    };

    // The dispatch Worker: `env.DISPATCHER.get("customer-a")` reaches the user Worker.
    let dispatcher = Worker("dispatcher") {
        name: "platform-dispatcher",
        entrypoint: "./src/dispatcher.js",
        url: true,
        bindings: { DISPATCHER: customers },
    };
}

fn main() -> ExitCode {
    athanor::cli::run(stack())
}
