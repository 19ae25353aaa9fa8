use athanor::model::stack::{Props, WorkerCode};
use athanor::infra;

infra! {
    app "workers";

    let backend = Worker("backend") { entrypoint: "./backend.mjs" };
    let api = Worker("api") {
        name: "my-worker",
        entrypoint: "./src/worker.ts",
        compatibility_date: "2025-09-01",
        compatibility_flags: ["nodejs_compat"],
        url: true,
        bindings: { BACKEND: backend },
        crons: ["*/5 * * * *", "0 9 * * MON-FRI", "0 18 * * friL"],
        observability: true,
        placement: "smart",
        cpu_ms: 50,
        adopt: true,
        delete: false,
    };
}

fn main() {
    let stack = stack();
    let api = stack.get("api").unwrap();
    assert!(api.adopt && !api.delete);
    let Props::Worker(w) = &api.props else { panic!() };
    assert_eq!(w.name.as_deref(), Some("my-worker"));
    assert_eq!(w.code, WorkerCode::Entrypoint("./src/worker.ts".into()));
    assert_eq!(w.compatibility_date.as_deref(), Some("2025-09-01"));
    assert_eq!(w.compatibility_flags, ["nodejs_compat"]);
    assert!(w.url);
    assert_eq!(w.crons, ["*/5 * * * *", "0 9 * * MON-FRI", "0 18 * * friL"]);
    assert!(w.observability);
    assert_eq!(w.placement.as_deref(), Some("smart"));
    assert_eq!(w.cpu_ms, Some(50));
    assert_eq!(w.bindings[0].value.fixed_type(), None);
    let Props::Worker(b) = &stack.get("backend").unwrap().props else { panic!() };
    assert_eq!(b.name, None);
    assert!(!b.url);
    assert!(b.crons.is_empty() && !b.observability && b.placement.is_none() && b.cpu_ms.is_none());
    assert_eq!(stack.typescript_env.len(), 2);
    assert_eq!(stack.typescript_env["api"], api::TYPESCRIPT_ENV);
    assert!(api::TYPESCRIPT_ENV.contains("BACKEND: Fetcher;"));
    assert!(api::TYPESCRIPT_ENV.contains("mainModule: typeof import(\"./worker\");"));
}
