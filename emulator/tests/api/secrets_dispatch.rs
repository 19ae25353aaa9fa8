//! Secrets Store (stores and secrets) and Workers for Platforms (dispatch namespaces and the
//! scripts uploaded into them).

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Harness, MAIN_JS, worker_form};

#[tokio::test]
async fn stores_and_secrets() {
    let h = Harness::start().await;
    let stores = h.acct("/secrets_store/stores");
    let one = h
        .ok(h
            .req(Method::POST, &stores)
            .json(&json!({"name": "production-secrets"})))
        .await;
    let id = one["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    let arr = h
        .ok(h
            .req(Method::POST, &stores)
            .json(&json!([{"name": "second"}])))
        .await;
    assert_eq!(arr[0]["name"], "second");
    h.fails(
        h.req(Method::POST, &stores)
            .json(&json!({"name": "second"})),
        409,
        1003,
    )
    .await;
    h.fails(
        h.req(Method::POST, &stores).json(&json!({"name": ""})),
        400,
        1000,
    )
    .await;
    let (_, body) = h.get(&format!("{stores}?order=name&direction=asc")).await;
    assert_eq!(body["result"][0]["name"], "production-secrets");
    assert_eq!(body["result_info"]["total_count"], 2);
    assert_eq!(
        h.ok(h.req(Method::GET, &format!("{stores}/{id}"))).await["name"],
        "production-secrets"
    );
    h.fails(
        h.req(Method::GET, &format!("{stores}/{}", "0".repeat(32))),
        404,
        1001,
    )
    .await;

    let secrets = format!("{stores}/{id}/secrets");
    let created = h
        .ok(h.req(Method::POST, &secrets).json(&json!([
            {"name": "SIGNING_KEY", "value": "very-secret-1", "scopes": ["workers"], "comment": "signing"},
            {"name": "API_KEY", "value": "very-secret-2", "scopes": ["workers", "ai_gateway"]},
        ])))
        .await;
    assert_eq!(created.as_array().unwrap().len(), 2);
    assert!(!created.to_string().contains("very-secret"));
    assert_eq!(created[0]["status"], "active");
    assert_eq!(created[0]["store_id"], id.as_str());
    let sid = created[0]["id"].as_str().unwrap().to_owned();
    h.fails(
        h.req(Method::POST, &secrets)
            .json(&json!([{"name": "API_KEY", "value": "v", "scopes": ["workers"]}])),
        409,
        1005,
    )
    .await;
    h.fails(
        h.req(Method::POST, &secrets)
            .json(&json!([{"name": "has space", "value": "v"}])),
        400,
        1000,
    )
    .await;
    h.fails(
        h.req(Method::POST, &secrets)
            .json(&json!([{"name": "N", "value": "v", "scopes": ["nope"]}])),
        400,
        1000,
    )
    .await;
    h.fails(
        h.req(Method::POST, &secrets).json(&json!([{"name": "N"}])),
        400,
        1000,
    )
    .await;
    h.fails(
        h.req(Method::POST, &secrets)
            .json(&json!([{"name": "N", "value": "x".repeat(1025)}])),
        400,
        1000,
    )
    .await;

    let (_, body) = h.get(&format!("{secrets}?search=API")).await;
    assert_eq!(body["result"].as_array().unwrap().len(), 1);
    assert!(!body.to_string().contains("very-secret"));
    let (_, body) = h
        .get(&format!("{secrets}?per_page=1&page=2&order=name"))
        .await;
    assert_eq!(body["result"][0]["name"], "SIGNING_KEY");
    let got = h.ok(h.req(Method::GET, &format!("{secrets}/{sid}"))).await;
    assert_eq!(got["comment"], "signing");
    assert!(got.get("value").is_none() && got.get("value_sha256").is_none());

    let patched = h
        .ok(h
            .req(Method::PATCH, &format!("{secrets}/{sid}"))
            .json(&json!({"value": "rotated", "comment": "c2"})))
        .await;
    assert_eq!(patched["comment"], "c2");
    h.fails(
        h.req(Method::PATCH, &format!("{secrets}/{sid}"))
            .json(&json!({"name": "OTHER"})),
        400,
        1000,
    )
    .await;
    let dup = h
        .ok(h
            .req(Method::POST, &format!("{secrets}/{sid}/duplicate"))
            .json(&json!({"name": "SIGNING_KEY_2"})))
        .await;
    assert_ne!(dup["id"], sid.as_str());

    // Non-empty store: 409 without force.
    let msg = h
        .fails(h.req(Method::DELETE, &format!("{stores}/{id}")), 409, 1004)
        .await;
    assert!(msg.contains("store_not_empty"), "{msg}");
    h.ok(h.req(Method::DELETE, &format!("{secrets}/{sid}")))
        .await;
    h.fails(h.req(Method::GET, &format!("{secrets}/{sid}")), 404, 1002)
        .await;
    let dup_id = dup["id"].as_str().unwrap().to_owned();
    h.ok(h.req(Method::DELETE, &secrets).json(&json!([dup_id])))
        .await;
    h.ok(h.req(Method::DELETE, &format!("{stores}/{id}?force=true")))
        .await;
    h.fails(h.req(Method::GET, &format!("{stores}/{id}")), 404, 1001)
        .await;
    // An empty store is deleted without force.
    let second = arr[0]["id"].as_str().unwrap();
    h.ok(h.req(Method::DELETE, &format!("{stores}/{second}")))
        .await;
    let q = h
        .ok(h.req(Method::GET, &h.acct("/secrets_store/quota")))
        .await;
    assert_eq!(q["secrets"]["usage"], 0);
}

async fn ns_upload(h: &Harness, ns: &str, name: &str, metadata: Value) -> (u16, Value) {
    let (s, b) = h
        .send(
            h.req(
                Method::PUT,
                &h.acct(&format!("/workers/dispatch/namespaces/{ns}/scripts/{name}")),
            )
            .multipart(worker_form(metadata, &[("index.js", MAIN_JS)])),
        )
        .await;
    (s.as_u16(), b)
}

#[tokio::test]
async fn dispatch_namespaces_and_user_workers() {
    let h = Harness::start().await;
    let nss = h.acct("/workers/dispatch/namespaces");
    let ns = h
        .ok(h
            .req(Method::POST, &nss)
            .json(&json!({"name": "customers"})))
        .await;
    assert_eq!(ns["namespace_name"], "customers");
    assert_eq!(ns["namespace_id"].as_str().unwrap().len(), 36);
    assert_eq!(ns["script_count"], 0);
    h.fails(
        h.req(Method::POST, &nss)
            .json(&json!({"name": "customers"})),
        409,
        10026,
    )
    .await;
    h.fails(h.req(Method::GET, &format!("{nss}/nope")), 404, 10007)
        .await;

    let kv = h.kv_namespace("sessions").await;
    let (s, b) = ns_upload(
        &h,
        "customers",
        "customer-a",
        json!({"main_module": "index.js", "bindings": [
        {"type": "kv_namespace", "name": "USER_KV", "namespace_id": kv},
        {"type": "secret_text", "name": "TOKEN", "text": "tenant-secret"}]}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, _) = ns_upload(&h, "missing", "x", json!({"main_module": "index.js"})).await;
    assert_eq!(s, 404);

    // keep_bindings: the secret_text binding survives an upload that lists only an r2 bucket.
    h.ok(h
        .req(Method::POST, &h.acct("/r2/buckets"))
        .json(&json!({"name": "tenant-files"})))
        .await;
    let (s, b) = ns_upload(
        &h,
        "customers",
        "customer-a",
        json!({"main_module": "index.js", "keep_bindings": ["secret_text"],
        "migrations": {"new_tag": "v1", "new_classes": ["Room"]},
        "bindings": [{"type": "r2_bucket", "name": "FILES", "bucket_name": "tenant-files"}]}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let path = format!("{nss}/customers/scripts/customer-a");
    let bindings = h.ok(h.req(Method::GET, &format!("{path}/bindings"))).await;
    assert_eq!(
        bindings,
        json!([
        {"type": "r2_bucket", "name": "FILES", "bucket_name": "tenant-files"},
        {"name": "TOKEN", "type": "secret_text"}])
    );
    let settings = h.ok(h.req(Method::GET, &format!("{path}/settings"))).await;
    assert_eq!(settings["bindings"], bindings);
    assert!(!settings.to_string().contains("tenant-secret"));

    let got = h.ok(h.req(Method::GET, &path)).await;
    assert_eq!(got["dispatch_namespace"], "customers");
    assert_eq!(got["script"]["migration_tag"], "v1");
    assert_eq!(got["script"]["id"], "customer-a");
    assert_eq!(
        h.ok(h.req(Method::GET, &format!("{nss}/customers"))).await["script_count"],
        1
    );
    let code = h
        .req(Method::GET, &format!("{path}/content"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(code, MAIN_JS);
    // The namespaced script is not an account script.
    h.fails(
        h.req(Method::GET, &h.acct("/workers/scripts/customer-a/settings")),
        404,
        10007,
    )
    .await;

    // Tags and secrets on namespaced scripts.
    h.ok(h
        .req(Method::PUT, &format!("{path}/tags"))
        .json(&json!(["plan:free"])))
        .await;
    h.ok(h.req(Method::PUT, &format!("{path}/tags/region:eu")))
        .await;
    assert_eq!(
        h.ok(h.req(Method::GET, &format!("{path}/tags"))).await,
        json!(["plan:free", "region:eu"])
    );
    h.ok(h.req(Method::DELETE, &format!("{path}/tags/plan:free")))
        .await;
    assert_eq!(
        h.ok(h.req(Method::GET, &format!("{path}/tags"))).await,
        json!(["region:eu"])
    );
    let nine: Vec<String> = (0..9).map(|i| format!("t{i}")).collect();
    h.fails(
        h.req(Method::PUT, &format!("{path}/tags")).json(&nine),
        400,
        10021,
    )
    .await;
    h.ok(h
        .req(Method::PUT, &format!("{path}/secrets"))
        .json(&json!({"name": "X", "text": "y", "type": "secret_text"})))
        .await;
    assert_eq!(
        h.ok(h.req(Method::GET, &format!("{path}/secrets")))
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The list, and a dispatcher binding from an account Worker.
    let list = h.ok(h.req(Method::GET, &nss)).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let form = worker_form(
        json!({"main_module": "index.js", "bindings": [
        {"type": "dispatch_namespace", "name": "DISPATCHER", "namespace": "customers"}]}),
        &[("index.js", MAIN_JS)],
    );
    h.ok(h
        .req(Method::PUT, &h.acct("/workers/scripts/dispatcher"))
        .multipart(form))
        .await;

    h.ok(h.req(Method::DELETE, &format!("{path}?force=true")))
        .await;
    h.fails(h.req(Method::GET, &path), 404, 10007).await;
    assert!(
        h.ok(h.req(Method::DELETE, &format!("{nss}/customers")))
            .await
            .is_null()
    );
    h.fails(h.req(Method::GET, &format!("{nss}/customers")), 404, 10007)
        .await;
}

#[tokio::test]
async fn dispatch_namespace_rename_moves_scripts() {
    let h = Harness::start().await;
    let nss = h.acct("/workers/dispatch/namespaces");
    h.ok(h.req(Method::POST, &nss).json(&json!({"name": "old"})))
        .await;
    let (s, _) = ns_upload(&h, "old", "w", json!({"main_module": "index.js"})).await;
    assert_eq!(s, 200);
    let r = h
        .ok(h
            .req(Method::PUT, &format!("{nss}/old"))
            .json(&json!({"name": "new"})))
        .await;
    assert_eq!(r["namespace_name"], "new");
    assert_eq!(r["script_count"], 1);
    h.ok(h.req(Method::GET, &format!("{nss}/new/scripts/w")))
        .await;
    h.fails(h.req(Method::GET, &format!("{nss}/old")), 404, 10007)
        .await;
}
