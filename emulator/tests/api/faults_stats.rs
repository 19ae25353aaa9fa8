//! Request counters and injected faults, through the library API and over HTTP.

use std::time::{Duration, Instant};

use athanor_emulator::{Faults, RateLimit, Stats};
use reqwest::Method;
use serde_json::json;

use crate::common::Harness;

#[tokio::test]
async fn stats_count_per_route_template() {
    let h = Harness::start().await;
    let id = h.kv_namespace("counted").await;
    let bulk = h.acct(&format!("/storage/kv/namespaces/{id}/bulk"));
    h.ok(h
        .req(Method::PUT, &bulk)
        .json(&json!([{"key": "a", "value": "1"}])))
        .await;
    h.ok(h
        .req(Method::PUT, &bulk)
        .json(&json!([{"key": "b", "value": "1"}])))
        .await;
    h.get(&h.acct(&format!("/storage/kv/namespaces/{id}/keys")))
        .await;
    let s = h.emu.stats();
    assert_eq!(s.total, 4);
    assert_eq!(s.mutating, 3);
    assert_eq!(
        s.by_route["PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk"],
        2
    );
    assert_eq!(
        s.by_route["POST /accounts/{account_id}/storage/kv/namespaces"],
        1
    );
    assert_eq!(
        s.by_route["GET /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/keys"],
        1
    );
    // Wildcard key routes use the OpenAPI template.
    h.req(
        Method::GET,
        &h.acct(&format!("/storage/kv/namespaces/{id}/values/a")),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(
        h.emu.stats().by_route["GET /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key_name}"],
        1
    );

    // Over HTTP, the same counters; the controls themselves are not counted.
    let admin = format!("http://{}/__emulator/stats", h.emu.addr());
    let over_http: Stats = h
        .http
        .get(&admin)
        .bearer_auth(h.emu.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http, h.emu.stats());
    h.http
        .delete(&admin)
        .bearer_auth(h.emu.token())
        .send()
        .await
        .unwrap();
    assert_eq!(h.emu.stats(), Stats::default());
    h.emu.reset_stats();
    h.get("/accounts").await;
    assert_eq!(h.emu.stats().total, 1);
    h.emu.reset_stats();
    assert_eq!(h.emu.stats().total, 0);
}

#[tokio::test]
async fn injected_429_5xx_latency_and_drops() {
    let h = Harness::start().await;
    h.emu.set_faults(Faults {
        share_429: 1.0,
        ..Faults::default()
    });
    let r = h.req(Method::GET, "/accounts").send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], 971);
    assert!(body["result"].is_null());
    assert_eq!(h.emu.stats().too_many_requests, 1);

    // A benchmark scales the wait down: fractional seconds below one.
    for (wait, header) in [
        (Duration::from_millis(20), "0.020"),
        (Duration::from_secs(3), "3"),
    ] {
        h.emu.set_faults(Faults {
            share_429: 1.0,
            retry_after_429: Some(wait),
            ..Faults::default()
        });
        let r = h.req(Method::GET, "/accounts").send().await.unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], header);
    }

    h.emu.set_faults(Faults {
        share_5xx: 1.0,
        ..Faults::default()
    });
    for _ in 0..5 {
        let s = h
            .req(Method::GET, "/accounts")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert!([500, 502, 503].contains(&s), "{s}");
    }

    h.emu.set_faults(Faults {
        share_dropped: 1.0,
        ..Faults::default()
    });
    let err = h.req(Method::GET, "/accounts").send().await.unwrap_err();
    assert!(
        err.is_request() || err.is_connect() || err.to_string().contains("connection"),
        "{err}"
    );

    h.emu.set_faults(Faults {
        latency: Duration::from_millis(150),
        ..Faults::default()
    });
    let start = Instant::now();
    h.get("/accounts").await;
    assert!(start.elapsed() >= Duration::from_millis(150));

    h.emu.set_faults(Faults::default());
    let (status, _) = h.get("/accounts").await;
    assert_eq!(status, 200);
    // Every request above was counted, answered or not.
    assert_eq!(h.emu.stats().total, 11);
}

#[tokio::test]
async fn exceeding_the_rate_limit_blocks_for_a_window_with_retry_after() {
    let h = Harness::start().await;
    h.emu.set_faults(Faults {
        rate_limit: Some(RateLimit {
            requests: 3,
            window: Duration::from_secs(300),
        }),
        ..Faults::default()
    });
    for left in [2, 1, 0] {
        let r = h.req(Method::GET, "/accounts").send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["x-ratelimit-remaining"],
            left.to_string().as_str()
        );
    }
    let r = h.req(Method::GET, "/accounts").send().await.unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(wait, 300, "a full window's block");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    let reset = r.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(reset.ends_with(" GMT") && reset.len() == 29, "{reset}");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], 971, "{body}");

    // The block holds for the whole window, however long ago the counted requests were.
    h.emu.clock().advance(Duration::from_secs(299));
    let r = h.req(Method::GET, "/accounts").send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    // Once it is over, the budget is whole again.
    h.emu.clock().advance(Duration::from_secs(1));
    let r = h.req(Method::GET, "/accounts").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "2");
    assert_eq!(r.headers()["ratelimit-policy"], "\"default\";q=3;w=300");
    assert_eq!(RateLimit::cloudflare().requests, 1200);
}

#[tokio::test]
async fn faults_over_http() {
    let h = Harness::start().await;
    let url = format!("http://{}/__emulator/faults", h.emu.addr());
    let put_faults = |faults: serde_json::Value| {
        h.http
            .put(&url)
            .bearer_auth(h.emu.token())
            .json(&faults)
            .send()
    };
    let accounts_status = || async {
        h.req(Method::GET, "/accounts")
            .send()
            .await
            .unwrap()
            .status()
    };
    let r = put_faults(
        json!({"latency_ms": 0, "share_429": 1.0, "share_5xx": 0.0, "share_dropped": 0.0,
                  "rate_limit": {"requests": 1200, "window_secs": 300}}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(accounts_status().await, 429);
    let r = put_faults(json!({"share_5xx": 2.0})).await.unwrap();
    assert_eq!(r.status(), 400);
    let r = put_faults(json!({})).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(accounts_status().await, 200);
    let r = h.http.put(&url).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 401);
}
