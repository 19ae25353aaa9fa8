//! Background work on Cloudflare, declared in Rust: an `api` Worker takes jobs over HTTP and
//! sends them to a queue; a `runner` Worker consumes the queue in batches (its retries spent, a
//! job lands in a dead-letter queue), writes each result to KV and a report to an R2 bucket, and
//! runs on a schedule too; the api Worker reads the reports through the runner's `Reports`
//! entrypoint (a service binding to a named entrypoint, called over RPC). The bucket serves its reports at a public `r2.dev` address, with a
//! CORS policy for the app's origin and a lifecycle rule that expires scratch files.
//!
//! `cargo run -p background-jobs -- deploy`, then, with `dev`: `curl -X POST
//! http://api.localhost:8787/jobs -d 21` answers a job id, and `GET /jobs/<id>` its result once
//! the runner has it, `GET /jobs/<id>/report` its report.

use std::process::ExitCode;

use athanor::infra;

infra! {
    app "jobs";

    let reports = R2Bucket("reports") {
        name: "jobs-reports",
        public: true,
        cors: [{ origins: ["https://app.example.com"], methods: ["GET", "HEAD"], max_age: 3600 }],
        lifecycle: [{ id: "expire-scratch", prefix: "scratch/", expire_after_days: 1 }],
    };
    let results = KvNamespace("results") { title: "jobs-results" };
    let jobs = Queue("jobs") { name: "jobs" };
    let failed = Queue("failed-jobs") { name: "failed-jobs" };

    let api = Worker("api") {
        name: "api",
        entrypoint: "./src/api.js",
        url: true,
        compatibility_flags: ["nodejs_compat"],
        observability: true,
        placement: "smart",
        cpu_ms: 50,
        bindings: { JOBS: jobs, RESULTS: results, REPORTS: runner.entrypoint("Reports") },
    };
    let runner = Worker("runner") {
        name: "runner",
        entrypoint: "./src/runner.js",
        crons: ["*/30 * * * *"],
        bindings: { RESULTS: results, REPORTS: reports },
    };
    let consumer = QueueConsumer("runner-takes-jobs") {
        queue: jobs,
        worker: runner,
        batch_size: 10,
        max_wait_time_ms: 100,
        max_retries: 2,
        dead_letter_queue: failed,
    };
}

fn main() -> ExitCode {
    athanor::cli::run(stack())
}
