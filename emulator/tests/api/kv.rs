//! Workers KV: namespaces, values, metadata, keys, bulk operations, limits and expiry.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::Harness;

#[tokio::test]
async fn namespace_lifecycle_and_errors() {
    let h = Harness::start().await;
    let ns = h.acct("/storage/kv/namespaces");
    let id = h.kv_namespace("sessions").await;
    assert_eq!(id.len(), 32);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );

    // Duplicate title: 400, 10014. Missing title: 10019.
    h.fails(
        h.req(Method::POST, &ns).json(&json!({"title": "sessions"})),
        400,
        10014,
    )
    .await;
    h.fails(h.req(Method::POST, &ns).json(&json!({})), 400, 10019)
        .await;
    h.fails(
        h.req(Method::POST, &ns)
            .json(&json!({"title": "t".repeat(513)})),
        400,
        10001,
    )
    .await;
    // JSON is accepted whatever the content type says.
    let r = h
        .ok(h
            .req(Method::POST, &ns)
            .header("content-type", "text/plain")
            .body(r#"{"title":"plain"}"#))
        .await;
    assert_eq!(r["title"], "plain");

    let one = format!("{ns}/{id}");
    assert_eq!(h.ok(h.req(Method::GET, &one)).await["title"], "sessions");
    let renamed = h
        .ok(h.req(Method::PUT, &one).json(&json!({"title": "renamed"})))
        .await;
    assert_eq!(renamed["title"], "renamed");
    h.fails(
        h.req(Method::PUT, &one).json(&json!({"title": "plain"})),
        400,
        10014,
    )
    .await;

    h.fails(h.req(Method::GET, &format!("{ns}/not-an-id")), 400, 10011)
        .await;
    let missing = format!("{ns}/{}", "0".repeat(32));
    h.fails(h.req(Method::GET, &missing), 404, 10013).await;
    h.fails(h.req(Method::DELETE, &missing), 404, 10013).await;

    assert!(h.ok(h.req(Method::DELETE, &one)).await.is_null());
    h.fails(h.req(Method::GET, &one), 404, 10013).await;
}

#[tokio::test]
async fn namespace_list_pages_to_the_end() {
    let h = Harness::start().await;
    for i in 0..12 {
        h.kv_namespace(&format!("ns-{i:02}")).await;
    }
    let base = h.acct("/storage/kv/namespaces");
    let mut seen = Vec::new();
    let mut page = 1;
    loop {
        let (_, body) = h
            .get(&format!(
                "{base}?per_page=5&page={page}&order=title&direction=desc"
            ))
            .await;
        let items = body["result"].as_array().unwrap().clone();
        assert_eq!(body["result_info"]["total_count"], 12);
        assert_eq!(body["result_info"]["total_pages"], 3);
        if items.is_empty() {
            break;
        }
        assert_eq!(body["result_info"]["count"], items.len());
        seen.extend(
            items
                .into_iter()
                .map(|n| n["title"].as_str().unwrap().to_owned()),
        );
        page += 1;
    }
    assert_eq!(page, 4, "page 4 is past the end and empty");
    let mut expected: Vec<String> = (0..12).map(|i| format!("ns-{i:02}")).collect();
    expected.reverse();
    assert_eq!(seen, expected);
    h.fails(h.req(Method::GET, &format!("{base}?page=0")), 400, 10003)
        .await;
    h.fails(
        h.req(Method::GET, &format!("{base}?order=size")),
        400,
        10001,
    )
    .await;
}

#[tokio::test]
async fn values_raw_multipart_metadata_and_delete() {
    let h = Harness::start().await;
    let id = h.kv_namespace("values").await;
    let v = |k: &str| h.acct(&format!("/storage/kv/namespaces/{id}/values/{k}"));

    // Raw bytes, with a text/plain content type as wrangler sends.
    h.ok(h
        .req(Method::PUT, &v("greeting"))
        .header("content-type", "text/plain;charset=UTF-8")
        .body("hello"))
        .await;
    let r = h.req(Method::GET, &v("greeting")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("expiration").is_none());
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"hello");

    // Binary values survive untouched.
    let binary: Vec<u8> = (0..=255u8).collect();
    h.ok(h.req(Method::PUT, &v("bin")).body(binary.clone()))
        .await;
    let got = h
        .req(Method::GET, &v("bin"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), binary.as_slice());

    // Multipart with metadata; keys with a slash are URL-encoded.
    let form = reqwest::multipart::Form::new()
        .text("value", "content...")
        .text(
            "metadata",
            r#"{"contentType":"application/javascript","etag":"abc123"}"#,
        );
    h.ok(h.req(Method::PUT, &v("dir%2Fmain.js")).multipart(form))
        .await;
    let meta = h
        .ok(h.req(
            Method::GET,
            &h.acct(&format!(
                "/storage/kv/namespaces/{id}/metadata/dir%2Fmain.js"
            )),
        ))
        .await;
    assert_eq!(
        meta,
        json!({"contentType": "application/javascript", "etag": "abc123"})
    );
    let keys = h
        .ok(h.req(
            Method::GET,
            &h.acct(&format!("/storage/kv/namespaces/{id}/keys")),
        ))
        .await;
    let names: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bin", "dir/main.js", "greeting"]);
    assert_eq!(keys[1]["metadata"]["etag"], "abc123");
    assert!(keys[0].get("metadata").is_none());

    // A value without metadata answers metadata null; missing keys 404 / 10009.
    assert!(
        h.ok(h.req(
            Method::GET,
            &h.acct(&format!("/storage/kv/namespaces/{id}/metadata/greeting"))
        ))
        .await
        .is_null()
    );
    h.fails(h.req(Method::GET, &v("nope")), 404, 10009).await;
    h.fails(
        h.req(
            Method::GET,
            &h.acct(&format!("/storage/kv/namespaces/{id}/metadata/nope")),
        ),
        404,
        10009,
    )
    .await;

    h.ok(h.req(Method::DELETE, &v("greeting"))).await;
    h.fails(h.req(Method::GET, &v("greeting")), 404, 10009)
        .await;
    // Missing namespace: 10013 on every value route.
    let other = "f".repeat(32);
    h.fails(
        h.req(
            Method::GET,
            &h.acct(&format!("/storage/kv/namespaces/{other}/values/k")),
        ),
        404,
        10013,
    )
    .await;
    h.fails(
        h.req(
            Method::PUT,
            &h.acct(&format!("/storage/kv/namespaces/{other}/values/k")),
        )
        .body("x"),
        404,
        10013,
    )
    .await;

    // Deleting the namespace deletes its values.
    h.ok(h.req(
        Method::DELETE,
        &h.acct(&format!("/storage/kv/namespaces/{id}")),
    ))
    .await;
    h.fails(h.req(Method::GET, &v("bin")), 404, 10013).await;
}

#[tokio::test]
async fn write_limits_and_error_codes() {
    let h = Harness::start().await;
    let id = h.kv_namespace("limits").await;
    let v = |k: &str| h.acct(&format!("/storage/kv/namespaces/{id}/values/{k}"));

    let key512 = "k".repeat(512);
    h.ok(h.req(Method::PUT, &v(&key512)).body("ok")).await;
    let msg = h
        .fails(
            h.req(Method::PUT, &v(&"k".repeat(513))).body("x"),
            414,
            10033,
        )
        .await;
    assert!(msg.contains("513"), "{msg}");

    let big = vec![b'x'; 25 * 1024 * 1024];
    h.ok(h.req(Method::PUT, &v("max")).body(big)).await;
    h.fails(
        h.req(Method::PUT, &v("too-big"))
            .body(vec![b'x'; 25 * 1024 * 1024 + 1]),
        413,
        10024,
    )
    .await;

    let meta_ok = json!({"m": "x".repeat(1016)}).to_string();
    assert_eq!(meta_ok.len(), 1024);
    let form = reqwest::multipart::Form::new()
        .text("value", "v")
        .text("metadata", meta_ok);
    h.ok(h.req(Method::PUT, &v("meta-max")).multipart(form))
        .await;
    let form = reqwest::multipart::Form::new()
        .text("value", "v")
        .text("metadata", json!({"m": "x".repeat(1017)}).to_string());
    h.fails(
        h.req(Method::PUT, &v("meta-big")).multipart(form),
        413,
        10024,
    )
    .await;
    let form = reqwest::multipart::Form::new().text("metadata", "{}");
    h.fails(
        h.req(Method::PUT, &v("no-value")).multipart(form),
        400,
        10001,
    )
    .await;

    h.fails(
        h.req(Method::PUT, &format!("{}?expiration_ttl=59", v("ttl")))
            .body("x"),
        400,
        10001,
    )
    .await;
    h.ok(h
        .req(Method::PUT, &format!("{}?expiration_ttl=60", v("ttl")))
        .body("x"))
        .await;
    let now = h.emu.clock().now();
    h.fails(
        h.req(
            Method::PUT,
            &format!("{}?expiration={}", v("abs"), now + 30),
        )
        .body("x"),
        400,
        10001,
    )
    .await;
    h.fails(
        h.req(Method::PUT, &format!("{}?expiration=soon", v("abs")))
            .body("x"),
        400,
        10001,
    )
    .await;
    // expiration_ttl wins over expiration when both are given.
    h.ok(h
        .req(
            Method::PUT,
            &format!(
                "{}?expiration={}&expiration_ttl=600",
                v("both"),
                now + 100_000
            ),
        )
        .body("x"))
        .await;
    let r = h.req(Method::GET, &v("both")).send().await.unwrap();
    let at: i64 = r.headers()["expiration"].to_str().unwrap().parse().unwrap();
    assert!((now + 600..now + 610).contains(&at), "{at} vs {now}");
}

#[tokio::test]
async fn values_expire_when_the_clock_passes_them() {
    let h = Harness::start().await;
    let id = h.kv_namespace("expiry").await;
    let base = h.acct(&format!("/storage/kv/namespaces/{id}"));
    let now = h.emu.clock().now();
    h.ok(h
        .req(
            Method::PUT,
            &format!("{base}/values/short?expiration_ttl=60"),
        )
        .body("a"))
        .await;
    h.ok(h
        .req(
            Method::PUT,
            &format!("{base}/values/abs?expiration={}", now + 3600),
        )
        .body("b"))
        .await;
    h.ok(h
        .req(Method::PUT, &format!("{base}/values/forever"))
        .body("c"))
        .await;

    let r = h
        .req(Method::GET, &format!("{base}/values/abs"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["expiration"].to_str().unwrap(),
        (now + 3600).to_string()
    );
    let keys = h.ok(h.req(Method::GET, &format!("{base}/keys"))).await;
    assert_eq!(keys.as_array().unwrap().len(), 3);
    assert_eq!(keys[0]["expiration"], now + 3600);

    h.emu.clock().advance(Duration::from_secs(61));
    h.fails(
        h.req(Method::GET, &format!("{base}/values/short")),
        404,
        10009,
    )
    .await;
    let keys = h.ok(h.req(Method::GET, &format!("{base}/keys"))).await;
    let names: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["abs", "forever"]);

    h.emu.clock().advance(Duration::from_secs(3600));
    h.fails(
        h.req(Method::GET, &format!("{base}/values/abs")),
        404,
        10009,
    )
    .await;
    let r = h
        .req(Method::GET, &format!("{base}/values/forever"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn keys_list_pages_with_a_cursor_and_a_prefix() {
    let h = Harness::start().await;
    let id = h.kv_namespace("keys").await;
    let base = h.acct(&format!("/storage/kv/namespaces/{id}"));
    let pairs: Vec<Value> = (0..25)
        .map(|i| json!({"key": format!("user:{i:03}"), "value": "v"}))
        .chain((0..3).map(|i| json!({"key": format!("other:{i}"), "value": "v"})))
        .collect();
    h.ok(h.req(Method::PUT, &format!("{base}/bulk")).json(&pairs))
        .await;

    let mut all = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let (_, body) = h
            .get(&format!(
                "{base}/keys?prefix=user:&limit=10&cursor={cursor}"
            ))
            .await;
        pages += 1;
        let items = body["result"].as_array().unwrap();
        assert_eq!(body["result_info"]["count"], items.len());
        all.extend(items.iter().map(|k| k["name"].as_str().unwrap().to_owned()));
        cursor = body["result_info"]["cursor"].as_str().unwrap().to_owned();
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        all,
        (0..25).map(|i| format!("user:{i:03}")).collect::<Vec<_>>()
    );

    // Without a limit: everything, cursor "" on the single page.
    let (_, body) = h.get(&format!("{base}/keys")).await;
    assert_eq!(body["result"].as_array().unwrap().len(), 28);
    assert_eq!(body["result_info"]["cursor"], "");

    h.fails(
        h.req(Method::GET, &format!("{base}/keys?limit=9")),
        400,
        10028,
    )
    .await;
    h.fails(
        h.req(Method::GET, &format!("{base}/keys?limit=1001")),
        400,
        10028,
    )
    .await;
    h.fails(
        h.req(Method::GET, &format!("{base}/keys?cursor=***")),
        400,
        10001,
    )
    .await;
}

#[tokio::test]
async fn bulk_write_delete_and_get() {
    let h = Harness::start().await;
    let id = h.kv_namespace("bulk").await;
    let base = h.acct(&format!("/storage/kv/namespaces/{id}"));
    let pairs = json!([
        {"key": "a", "value": "1"},
        {"key": "b", "value": "aGVsbG8=", "base64": true, "metadata": {"x": 1}},
        {"key": "c", "value": "{\"n\":3}", "expiration_ttl": 120},
    ]);
    let r = h
        .ok(h.req(Method::PUT, &format!("{base}/bulk")).json(&pairs))
        .await;
    assert_eq!(
        r,
        json!({"successful_key_count": 3, "unsuccessful_keys": []})
    );
    let got = h
        .req(Method::GET, &format!("{base}/values/b"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(got, "hello");

    let r = h
        .ok(h
            .req(Method::POST, &format!("{base}/bulk/get"))
            .json(&json!({"keys": ["a", "c", "zz"], "type": "json", "withMetadata": true})))
        .await;
    assert_eq!(r["values"]["a"]["value"], 1);
    assert_eq!(r["values"]["c"]["value"]["n"], 3);
    assert!(r["values"]["c"]["expiration"].is_i64());
    assert!(r["values"]["zz"].is_null());
    let r = h
        .ok(h
            .req(Method::POST, &format!("{base}/bulk/get"))
            .json(&json!({"keys": ["b"]})))
        .await;
    assert_eq!(r["values"]["b"], "hello");

    // Invalid pairs refuse the whole request: nothing is written.
    let bad = json!([{"key": "ok", "value": "1"}, {"key": "k".repeat(513), "value": "2"}]);
    h.fails(
        h.req(Method::PUT, &format!("{base}/bulk")).json(&bad),
        414,
        10033,
    )
    .await;
    h.fails(h.req(Method::GET, &format!("{base}/values/ok")), 404, 10009)
        .await;
    h.fails(
        h.req(Method::PUT, &format!("{base}/bulk"))
            .json(&json!([{"key": "t", "value": "1", "expiration_ttl": 30}])),
        400,
        10001,
    )
    .await;
    h.fails(
        h.req(Method::PUT, &format!("{base}/bulk"))
            .json(&json!([{"key": "t"}])),
        400,
        10001,
    )
    .await;
    h.fails(
        h.req(Method::PUT, &format!("{base}/bulk"))
            .json(&json!([{"key": "t", "value": "%%", "base64": true}])),
        400,
        10001,
    )
    .await;
    let too_many: Vec<Value> = (0..10_001)
        .map(|i| json!({"key": format!("k{i}"), "value": ""}))
        .collect();
    h.fails(
        h.req(Method::PUT, &format!("{base}/bulk")).json(&too_many),
        400,
        10001,
    )
    .await;
    let max: Vec<Value> = (0..10_000)
        .map(|i| json!({"key": format!("k{i:05}"), "value": ""}))
        .collect();
    let r = h
        .ok(h.req(Method::PUT, &format!("{base}/bulk")).json(&max))
        .await;
    assert_eq!(r["successful_key_count"], 10_000);
    let too_many_keys: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
    h.fails(
        h.req(Method::POST, &format!("{base}/bulk/get"))
            .json(&json!({"keys": too_many_keys})),
        400,
        10001,
    )
    .await;

    // Both bulk-delete forms.
    let r = h
        .ok(h
            .req(Method::POST, &format!("{base}/bulk/delete"))
            .json(&json!(["a"])))
        .await;
    assert_eq!(r["successful_key_count"], 1);
    h.ok(h
        .req(Method::DELETE, &format!("{base}/bulk"))
        .json(&json!(["b", "c"])))
        .await;
    for k in ["a", "b", "c"] {
        h.fails(
            h.req(Method::GET, &format!("{base}/values/{k}")),
            404,
            10009,
        )
        .await;
    }
    let keys: Vec<String> = (0..10_001).map(|i| format!("k{i}")).collect();
    h.fails(
        h.req(Method::POST, &format!("{base}/bulk/delete"))
            .json(&keys),
        400,
        10001,
    )
    .await;
}

#[tokio::test]
async fn concurrent_writers_all_land() {
    let h = Harness::start().await;
    let id = h.kv_namespace("concurrent").await;
    let base = h.acct(&format!("/storage/kv/namespaces/{id}"));
    let mut tasks = Vec::new();
    for w in 0..8 {
        let rb: Vec<_> = (0..25)
            .map(|i| {
                h.req(Method::PUT, &format!("{base}/values/w{w}-{i:02}"))
                    .body(format!("{w}:{i}"))
            })
            .collect();
        tasks.push(tokio::spawn(async move {
            for r in rb {
                assert_eq!(r.send().await.unwrap().status(), 200);
            }
        }));
    }
    // Namespaces created concurrently with the same title: exactly one wins.
    let mut creators = Vec::new();
    for _ in 0..6 {
        let rb = h
            .req(Method::POST, &h.acct("/storage/kv/namespaces"))
            .json(&json!({"title": "race"}));
        creators.push(tokio::spawn(async move {
            rb.send().await.unwrap().status().as_u16()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut statuses = Vec::new();
    for c in creators {
        statuses.push(c.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        5,
        "{statuses:?}"
    );
    let (_, body) = h.get(&format!("{base}/keys")).await;
    assert_eq!(body["result"].as_array().unwrap().len(), 200);
}

#[tokio::test]
async fn at_most_1000_namespaces() {
    let h = Harness::start().await;
    let ns = h.acct("/storage/kv/namespaces");
    let mut tasks = Vec::new();
    for chunk in 0..4 {
        let rbs: Vec<_> = (0..250)
            .map(|i| {
                h.req(Method::POST, &ns)
                    .json(&json!({"title": format!("ns-{chunk}-{i}")}))
            })
            .collect();
        tasks.push(tokio::spawn(async move {
            for rb in rbs {
                assert_eq!(rb.send().await.unwrap().status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    h.fails(
        h.req(Method::POST, &ns)
            .json(&json!({"title": "one-too-many"})),
        400,
        10018,
    )
    .await;
    let (_, body) = h.get(&format!("{ns}?per_page=1000")).await;
    assert_eq!(body["result"].as_array().unwrap().len(), 1000);
    assert_eq!(body["result_info"]["total_count"], 1000);
}
