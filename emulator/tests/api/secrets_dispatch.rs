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
    h.fails(
        h.req(Method::POST, &stores).json(&json!({"name": ""})),
        400,
        1001,
    )
    .await;
    let (_, body) = h.get(&format!("{stores}?order=name&direction=asc")).await;
    assert_eq!(body["result"][0]["name"], "production-secrets");
    assert_eq!(body["result_info"]["total_count"], 1);
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
    let msg = h
        .fails(
            h.req(Method::POST, &secrets)
                .json(&json!([{"name": "API_KEY", "value": "v", "scopes": ["workers"]}])),
            409,
            1003,
        )
        .await;
    assert!(
        msg.starts_with("secret_name_already_exists: API_KEY"),
        "{msg}"
    );

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
        1001,
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
    let msg = h
        .fails(h.req(Method::GET, &format!("{secrets}/{sid}")), 404, 1001)
        .await;
    assert!(msg.starts_with("secret_not_found"), "{msg}");
    let dup_id = dup["id"].as_str().unwrap().to_owned();
    h.ok(h.req(Method::DELETE, &secrets).json(&json!([dup_id])))
        .await;
    h.ok(h.req(Method::DELETE, &format!("{stores}/{id}?force=true")))
        .await;
    let msg = h
        .fails(h.req(Method::GET, &format!("{stores}/{id}")), 404, 1001)
        .await;
    assert!(msg.starts_with("store_not_found"), "{msg}");
    // The account may hold a store again; an empty store is deleted without force.
    let arr = h
        .ok(h
            .req(Method::POST, &stores)
            .json(&json!([{"name": "second"}])))
        .await;
    assert_eq!(arr[0]["name"], "second");
    let second = arr[0]["id"].as_str().unwrap();
    h.ok(h.req(Method::DELETE, &format!("{stores}/{second}")))
        .await;
    let q = h
        .ok(h.req(Method::GET, &h.acct("/secrets_store/quota")))
        .await;
    assert_eq!(q["secrets"]["usage"], 0);
}

#[tokio::test]
async fn one_store_per_account() {
    let h = Harness::start().await;
    let stores = h.acct("/secrets_store/stores");
    h.ok(h
        .req(Method::POST, &stores)
        .json(&json!({"name": "default_secrets_store"})))
        .await;
    for body in [
        json!({"name": "second"}),
        json!([{"name": "second"}]),
        json!({"name": "default_secrets_store"}),
    ] {
        let msg = h
            .fails(h.req(Method::POST, &stores).json(&body), 400, 1003)
            .await;
        assert!(msg.starts_with("maximum_stores_exceeded"), "{msg}");
        assert!(
            msg.contains("'default_secrets_store'"),
            "names the store to use: {msg}"
        );
    }
    let (_, body) = h.get(&stores).await;
    assert_eq!(body["result"].as_array().unwrap().len(), 1);
    // Two stores in one request are refused whole, even on an empty account.
    let h = Harness::start().await;
    h.fails(
        h.req(Method::POST, &stores)
            .json(&json!([{"name": "a"}, {"name": "b"}])),
        400,
        1003,
    )
    .await;
    let (_, body) = h.get(&stores).await;
    assert!(body["result"].as_array().unwrap().is_empty());
}

/// Creates the account's store and returns its secrets path.
async fn store_secrets(h: &Harness) -> String {
    let store = h
        .ok(h
            .req(Method::POST, &h.acct("/secrets_store/stores"))
            .json(&json!({"name": "s"})))
        .await;
    h.acct(&format!(
        "/secrets_store/stores/{}/secrets",
        store["id"].as_str().unwrap()
    ))
}

#[tokio::test]
async fn secret_names_values_and_scopes_are_checked() {
    let h = Harness::start().await;
    let secrets = store_secrets(&h).await;
    let refused = [
        (
            json!([{"name": "", "value": "v", "scopes": ["workers"]}]),
            "secret_name_empty",
        ),
        (
            json!([{"name": "has space", "value": "v", "scopes": ["workers"]}]),
            "secret_name_invalid",
        ),
        (
            json!([{"name": "N", "value": "v", "scopes": ["nope"]}]),
            "secret_scope_invalid",
        ),
        (
            json!([{"name": "N", "value": "v", "scopes": []}]),
            "secret_scopes_empty",
        ),
        (
            json!([{"name": "N", "value": "v", "scopes": [7]}]),
            "secret_scope_invalid",
        ),
        (
            json!([{"name": "N", "scopes": ["workers"]}]),
            "secret_value_invalid",
        ),
        (
            json!([{"name": "N", "value": "x".repeat(65_537), "scopes": ["workers"]}]),
            "secret_value_too_large",
        ),
        (
            json!([{"name": "D", "value": "v"}, {"name": "D", "value": "w"}]),
            "secret_name_already_exists",
        ),
    ];
    for (body, what) in refused {
        let (status, answer) = h.send(h.req(Method::POST, &secrets).json(&body)).await;
        let msg = answer["errors"][0]["message"].as_str().unwrap();
        assert!(msg.starts_with(what), "{what}: {msg}");
        assert!(!msg.contains("xxxx"), "a value never shows: {msg}");
        let code = answer["errors"][0]["code"].as_u64().unwrap();
        if what == "secret_name_already_exists" {
            assert_eq!((status.as_u16(), code), (409, 1003), "{answer}");
        } else {
            assert_eq!((status.as_u16(), code), (400, 1001), "{answer}");
        }
    }
    let (status, answer) = h
        .send(h.req(Method::POST, &secrets).body("[{not json"))
        .await;
    assert_eq!(status.as_u16(), 400);
    assert_eq!(answer["errors"][0]["code"], 1001);
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid_json_body")
    );
    // Nothing above was created; the largest value and every scope are accepted.
    let (_, list) = h.get(&secrets).await;
    assert!(list["result"].as_array().unwrap().is_empty(), "{list}");
    let all = [
        "workers",
        "ai_gateway",
        "dex",
        "access",
        "containers",
        "websearch",
    ];
    let made = h
        .ok(h.req(Method::POST, &secrets).json(&json!([
            {"name": "BIG", "value": "x".repeat(65_536), "scopes": all},
        ])))
        .await;
    assert_eq!(made[0]["scopes"], json!(all));
    let id = made[0]["id"].as_str().unwrap();
    // A patch is held to the same rules.
    h.fails(
        h.req(Method::PATCH, &format!("{secrets}/{id}"))
            .json(&json!({"value": "y".repeat(65_537)})),
        400,
        1001,
    )
    .await;
    h.fails(
        h.req(Method::PATCH, &format!("{secrets}/{id}"))
            .json(&json!({"scopes": []})),
        400,
        1001,
    )
    .await;
}

#[tokio::test]
async fn an_account_holds_at_most_100_secrets() {
    let h = Harness::start().await;
    let secrets = store_secrets(&h).await;
    let batch = |from: usize, to: usize| {
        json!(
            (from..to)
                .map(|i| json!({"name": format!("S{i}"), "value": "v", "scopes": ["workers"]}))
                .collect::<Vec<_>>()
        )
    };
    // 101 at once: refused whole.
    let msg = h
        .fails(
            h.req(Method::POST, &secrets).json(&batch(0, 101)),
            400,
            1003,
        )
        .await;
    assert!(msg.starts_with("maximum_secrets_exceeded"), "{msg}");
    let q = h
        .ok(h.req(Method::GET, &h.acct("/secrets_store/quota")))
        .await;
    assert_eq!(q["secrets"], json!({"quota": 100, "usage": 0}));
    let made = h
        .ok(h.req(Method::POST, &secrets).json(&batch(0, 100)))
        .await;
    assert_eq!(made.as_array().unwrap().len(), 100);
    let q = h
        .ok(h.req(Method::GET, &h.acct("/secrets_store/quota")))
        .await;
    assert_eq!(q["secrets"]["usage"], 100);
    h.fails(
        h.req(Method::POST, &secrets).json(&batch(100, 101)),
        400,
        1003,
    )
    .await;
    let first = made[0]["id"].as_str().unwrap();
    h.fails(
        h.req(Method::POST, &format!("{secrets}/{first}/duplicate"))
            .json(&json!({"name": "COPY", "scopes": ["workers"]})),
        400,
        1003,
    )
    .await;
    // Room again after a delete.
    h.ok(h.req(Method::DELETE, &format!("{secrets}/{first}")))
        .await;
    h.ok(h.req(Method::POST, &secrets).json(&batch(100, 101)))
        .await;
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
        100120,
    )
    .await;
    h.fails(h.req(Method::GET, &format!("{nss}/nope")), 404, 100119)
        .await;
    h.fails(
        h.req(Method::POST, &nss)
            .json(&json!({"name": "Not Valid"})),
        400,
        10021,
    )
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
    // The account's Durable Object namespace list covers account scripts only.
    let classes = h
        .ok(h.req(Method::GET, &h.acct("/workers/durable_objects/namespaces")))
        .await;
    assert_eq!(classes, json!([]), "{classes}");
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
    h.fails(h.req(Method::GET, &format!("{nss}/customers")), 404, 100119)
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
    h.fails(h.req(Method::GET, &format!("{nss}/old")), 404, 100119)
        .await;
}
