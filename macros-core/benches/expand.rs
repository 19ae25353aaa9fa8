//! Benchmark: parse, validate and expand a declaration of 500 resources and 100 Workers.
//!
//! It calls the pipeline (`athanor_macros_core::expand`) on a `proc_macro2::TokenStream`, outside
//! a compiler. Run it with `cargo bench -p athanor-macros-core --bench expand`; it prints the time
//! per expansion.

use std::fmt::Write;
use std::time::{Duration, Instant};

/// Workers in the declaration; each binds five resources of its own.
const WORKERS: usize = 100;
const ITERATIONS: usize = 30;

/// A declaration of `5 * workers` resources and `workers` Workers, every binding type used.
fn declaration(workers: usize) -> String {
    let mut src = String::from("app \"bench\";\n");
    for i in 0..workers {
        let _ = write!(
            src,
            r#"
            let kv_{i} = KvNamespace("kv-{i}") {{
                title: "bench-kv-{i}",
                values: [
                    {{ key: "k{i}", value: json!({{ "n": {i}, "tags": ["a", "b"] }}), expiration_ttl: 3600 }},
                    {{ key: "plain-{i}", value: "text", metadata: json!({{ "etag": "e{i}" }}) }},
                ],
            }};
            let bucket_{i} = R2Bucket("bucket-{i}") {{ name: "bench-bucket-{i}", location_hint: "weur" }};
            let counter_{i} = DurableObjectNamespace("counter-{i}") {{ class_name: "Counter{i}", sqlite: true }};
            let secret_{i} = Secret("secret-{i}") {{ value: secret_env("SECRET_{i}") }};
            let tenants_{i} = DispatchNamespace("tenants-{i}") {{ name: "bench-tenants-{i}" }};
            let worker_{i} = Worker("worker-{i}") {{
                name: "bench-worker-{i}",
                entrypoint: "./src/worker_{i}.ts",
                compatibility_date: "2025-09-01",
                url: true,
                bindings: {{
                    MY_KV: kv_{i},
                    STORAGE: bucket_{i},
                    COUNTER: counter_{i},
                    SIGNING_KEY: secret_{i},
                    TENANTS: tenants_{i},
                    TOKEN: secret_env("TOKEN_{i}"),
                    DEBUG_MODE: true,
                    VERSION: "1.0.{i}",
                    LIMITS: json!({{ "max": {i} }}),
                }},
            }};
            "#
        );
    }
    src
}

fn main() {
    let source = declaration(WORKERS);
    let tokens: proc_macro2::TokenStream = source.parse().expect("the declaration tokenizes");
    let output = athanor_macros_core::expand(tokens.clone()).to_string();
    assert!(
        !output.contains("compile_error"),
        "the benchmark declaration must be valid"
    );
    let mut times: Vec<Duration> = (0..ITERATIONS)
        .map(|_| {
            let start = Instant::now();
            let out = athanor_macros_core::expand(std::hint::black_box(tokens.clone()));
            std::hint::black_box(out);
            start.elapsed()
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "infra! expansion of {} resources and {WORKERS} Workers: median {:.2} ms, min {:.2} ms, max {:.2} ms over {ITERATIONS} runs ({} KB of generated code)",
        WORKERS * 5,
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        output.len() / 1024
    );
    if median >= Duration::from_millis(50) {
        eprintln!("infra! expansion: missed its target (a median under 50 ms)");
        std::process::exit(1);
    }
}
