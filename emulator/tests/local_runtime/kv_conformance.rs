//! One test per operation of the KV binding: a Worker calls the binding, and its answer is checked
//! against what the v4 API answers (or stores) for the same data.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::Local;

/// A Worker that runs one KV binding call per request: `{op, args}` in, `{result}` or `{error}`
/// out (an ArrayBuffer as its bytes).
const KV_WORKER: &str = r#"
export default {
  async fetch(request, env) {
    const { op, args } = await request.json();
    try {
      let result;
      switch (op) {
        case "get":
          result = await env.KV.get(args.key, args.options);
          if (result instanceof ArrayBuffer) result = { bytes: [...new Uint8Array(result)] };
          break;
        case "getWithMetadata": result = await env.KV.getWithMetadata(args.key, args.options); break;
        case "put": result = await env.KV.put(args.key, args.value, args.options); break;
        case "delete": result = await env.KV.delete(args.key); break;
        case "list": result = await env.KV.list(args.options); break;
        case "bulk": result = Object.fromEntries(await env.KV.get(args.keys, args.options)); break;
        case "bulkWithMetadata":
          result = Object.fromEntries(await env.KV.getWithMetadata(args.keys, args.options));
          break;
        default: throw new Error(`unknown op ${op}`);
      }
      return Response.json({ result: result === undefined ? null : result });
    } catch (e) {
      return Response.json({ error: String(e) });
    }
  },
};
"#;

/// An emulator serving the KV Worker over a new namespace; `None` when skipped.
async fn kv_worker() -> Option<(Local, String)> {
    let local = Local::start().await?;
    let ns = local.kv_namespace("conformance").await;
    let status = local
        .deploy(
            "kv",
            KV_WORKER,
            json!({"bindings": [{"type": "kv_namespace", "name": "KV", "namespace_id": ns}]}),
        )
        .await;
    assert_eq!(status.running, ["kv"], "{status:?}");
    Some((local, ns))
}

async fn op(local: &Local, op: &str, args: Value) -> Value {
    let answer = local.call("kv", "/", json!({"op": op, "args": args})).await;
    assert!(answer.get("error").is_none(), "{op} {args}: {answer}");
    answer["result"].clone()
}

async fn op_error(local: &Local, op: &str, args: Value) -> String {
    let answer = local.call("kv", "/", json!({"op": op, "args": args})).await;
    answer["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{op} {args} succeeded: {answer}"))
        .to_owned()
}

fn values(ns: &str, rest: &str) -> String {
    format!("/storage/kv/namespaces/{ns}{rest}")
}

async fn api_put(local: &Local, ns: &str, key: &str, value: &[u8]) {
    local
        .ok(local
            .api(Method::PUT, &values(ns, &format!("/values/{key}")))
            .body(value.to_vec()))
        .await;
}

#[tokio::test]
async fn get_reads_what_the_api_wrote() {
    let Some((local, ns)) = kv_worker().await else {
        return;
    };
    api_put(&local, &ns, "greeting", b"hello").await;
    api_put(&local, &ns, "config", br#"{"debug":true}"#).await;
    api_put(&local, &ns, "raw", &[0, 159, 255, 1]).await;
    assert_eq!(op(&local, "get", json!({"key": "greeting"})).await, "hello");
    assert_eq!(
        op(
            &local,
            "get",
            json!({"key": "config", "options": {"type": "json"}})
        )
        .await,
        json!({"debug": true})
    );
    assert_eq!(
        op(
            &local,
            "get",
            json!({"key": "raw", "options": {"type": "arrayBuffer"}})
        )
        .await,
        json!({"bytes": [0, 159, 255, 1]})
    );
    // A key with characters a path encodes, read back by the binding.
    let key = "a/b c+d?é";
    local
        .ok(local
            .api(Method::PUT, &values(&ns, "/bulk"))
            .json(&json!([{"key": key, "value": "odd key"}])))
        .await;
    assert_eq!(op(&local, "get", json!({"key": key})).await, "odd key");
    // Missing for both.
    assert_eq!(op(&local, "get", json!({"key": "nope"})).await, Value::Null);
    let r = local
        .api(Method::GET, &values(&ns, "/values/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A cache TTL under Cloudflare's minimum is refused with its message.
    let err = op_error(
        &local,
        "get",
        json!({"key": "greeting", "options": {"cacheTtl": 10}}),
    )
    .await;
    assert!(err.contains("Cache TTL must be at least 30"), "{err}");
}

#[tokio::test]
async fn get_with_metadata_matches_the_api_metadata() {
    let Some((local, ns)) = kv_worker().await else {
        return;
    };
    let form = reqwest::multipart::Form::new()
        .text("value", "v1")
        .text("metadata", json!({"tag": "ü", "n": 5}).to_string());
    local
        .ok(local
            .api(Method::PUT, &values(&ns, "/values/m"))
            .multipart(form))
        .await;
    let got = op(&local, "getWithMetadata", json!({"key": "m"})).await;
    let api_metadata = local
        .ok(local.api(Method::GET, &values(&ns, "/metadata/m")))
        .await;
    assert_eq!(got["value"], "v1");
    assert_eq!(got["metadata"], api_metadata);
    assert_eq!(api_metadata, json!({"tag": "ü", "n": 5}));
    let missing = op(&local, "getWithMetadata", json!({"key": "nope"})).await;
    assert_eq!(missing["value"], Value::Null);
    assert_eq!(missing["metadata"], Value::Null);
}

#[tokio::test]
async fn put_writes_what_the_api_reads() {
    let Some((local, ns)) = kv_worker().await else {
        return;
    };
    op(
        &local,
        "put",
        json!({"key": "written", "value": "by the worker",
               "options": {"metadata": {"by": "worker"}, "expirationTtl": 3600}}),
    )
    .await;
    let r = local
        .api(Method::GET, &values(&ns, "/values/written"))
        .send()
        .await
        .unwrap();
    let expiration: i64 = r.headers()["expiration"].to_str().unwrap().parse().unwrap();
    assert_eq!(r.text().await.unwrap(), "by the worker");
    let now = local.emu.clock().now();
    assert!(
        (now + 3590..=now + 3600).contains(&expiration),
        "{expiration} vs {now}"
    );
    let metadata = local
        .ok(local.api(Method::GET, &values(&ns, "/metadata/written")))
        .await;
    assert_eq!(metadata, json!({"by": "worker"}));
    // The API's limits, in the Worker's error.
    let err = op_error(
        &local,
        "put",
        json!({"key": "k", "value": "v", "options": {"expirationTtl": 30}}),
    )
    .await;
    assert!(err.contains("KV PUT failed: 400"), "{err}");
    assert!(err.contains("Expiration TTL must be at least 60"), "{err}");
    let big_metadata = json!({"x": "y".repeat(1100)});
    let err = op_error(
        &local,
        "put",
        json!({"key": "k", "value": "v", "options": {"metadata": big_metadata}}),
    )
    .await;
    assert!(
        err.contains("413") && err.contains("exceeds limit of 1024"),
        "{err}"
    );
}

#[tokio::test]
async fn delete_removes_what_the_api_then_misses() {
    let Some((local, ns)) = kv_worker().await else {
        return;
    };
    api_put(&local, &ns, "doomed", b"x").await;
    op(&local, "delete", json!({"key": "doomed"})).await;
    let r = local
        .api(Method::GET, &values(&ns, "/values/doomed"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Deleting a missing key succeeds, as through the API.
    op(&local, "delete", json!({"key": "doomed"})).await;
}

#[tokio::test]
async fn list_pages_through_the_keys_the_api_lists() {
    let Some((local, ns)) = kv_worker().await else {
        return;
    };
    let pairs: Vec<Value> = (0..5)
        .map(|i| json!({"key": format!("user:{i}"), "value": "v", "metadata": {"i": i}}))
        .chain([json!({"key": "other", "value": "v"})])
        .collect();
    local
        .ok(local.api(Method::PUT, &values(&ns, "/bulk")).json(&pairs))
        .await;
    let api_keys = local
        .ok(local.api(Method::GET, &values(&ns, "/keys?prefix=user:")))
        .await;
    let mut listed = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let page = op(
            &local,
            "list",
            json!({"options": {"prefix": "user:", "limit": 2, "cursor": cursor}}),
        )
        .await;
        assert!(page["keys"].as_array().unwrap().len() <= 2, "{page}");
        listed.extend(page["keys"].as_array().unwrap().iter().cloned());
        if page["list_complete"] == true {
            assert!(page.get("cursor").is_none_or(Value::is_null), "{page}");
            break;
        }
        cursor = page["cursor"].clone();
    }
    assert_eq!(Value::Array(listed), api_keys);
}

#[tokio::test]
async fn bulk_get_matches_the_api_bulk_get() {
    let Some((local, ns)) = kv_worker().await else {
        return;
    };
    let form = reqwest::multipart::Form::new()
        .text("value", r#"{"a":1}"#)
        .text("metadata", json!({"m": true}).to_string());
    local
        .ok(local
            .api(Method::PUT, &values(&ns, "/values/j"))
            .multipart(form))
        .await;
    api_put(&local, &ns, "t", b"text").await;
    let keys = json!(["j", "t", "missing"]);
    let api = local
        .ok(local
            .api(Method::POST, &values(&ns, "/bulk/get"))
            .json(&json!({"keys": keys})))
        .await;
    assert_eq!(
        op(&local, "bulk", json!({"keys": keys})).await,
        api["values"]
    );
    let api = local
        .ok(local
            .api(Method::POST, &values(&ns, "/bulk/get"))
            .json(&json!({"keys": ["j"], "type": "json", "withMetadata": true})))
        .await;
    let got = op(
        &local,
        "bulkWithMetadata",
        json!({"keys": ["j"], "options": {"type": "json"}}),
    )
    .await;
    assert_eq!(got["j"]["value"], api["values"]["j"]["value"]);
    assert_eq!(got["j"]["metadata"], api["values"]["j"]["metadata"]);
    // A JSON read of a value that is not JSON is refused, as by the API.
    let err = local
        .call(
            "kv",
            "/",
            json!({"op": "bulk", "args": {"keys": ["t"], "options": {"type": "json"}}}),
        )
        .await;
    assert!(
        err["error"].as_str().unwrap().contains("non-json value"),
        "{err}"
    );
}
