//! Workers scripts: uploads (both metadata forms, ES modules, wasm), bindings validation, Durable
//! Object migrations, settings, secrets, subdomains, services, deployments and deletion.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Harness, MAIN_JS, worker_form};

async fn upload(h: &Harness, name: &str, metadata: Value) -> (u16, Value) {
    let (s, body) = h
        .send(
            h.req(
                Method::PUT,
                &h.acct(&format!(
                    "/workers/scripts/{name}?excludeScript=true&bindings_inherit=strict"
                )),
            )
            .multipart(worker_form(metadata, &[("index.js", MAIN_JS)])),
        )
        .await;
    (s.as_u16(), body)
}

async fn upload_ok(h: &Harness, name: &str, metadata: Value) -> Value {
    let (s, body) = upload(h, name, metadata).await;
    assert_eq!(s, 200, "{body}");
    body["result"].clone()
}

async fn upload_fails(h: &Harness, name: &str, metadata: Value, code: u64) -> String {
    let (s, body) = upload(h, name, metadata).await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["errors"][0]["code"], code, "{body}");
    body["errors"][0]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn upload_list_download_settings_delete() {
    let h = Harness::start().await;
    let kv = h.kv_namespace("sessions").await;
    let meta = json!({
        "main_module": "index.js",
        "compatibility_date": "2025-01-01",
        "compatibility_flags": ["nodejs_compat"],
        "tags": ["team:a"],
        "bindings": [
            {"type": "kv_namespace", "name": "MY_KV", "namespace_id": kv},
            {"type": "plain_text", "name": "VERSION", "text": "1.0.0"},
            {"type": "json", "name": "DEBUG_MODE", "json": true},
            {"type": "secret_text", "name": "TOKEN", "text": "s3cr3t-value"},
        ],
    });
    let r = upload_ok(&h, "my-worker", meta).await;
    assert_eq!(r["id"], "my-worker");
    assert_eq!(r["handlers"], json!(["fetch"]));
    assert_eq!(r["startup_time_ms"], 0);
    assert!(r["etag"].is_string() && r["deployment_id"].is_string());
    assert!(r.get("migration_tag").is_none());
    assert!(!r.to_string().contains("s3cr3t"));

    let list = h.ok(h.req(Method::GET, &h.acct("/workers/scripts"))).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["compatibility_date"], "2025-01-01");

    let code = h
        .req(Method::GET, &h.acct("/workers/scripts/my-worker"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(code, MAIN_JS);
    let code = h
        .req(
            Method::GET,
            &h.acct("/workers/scripts/my-worker/content/v2"),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(code, MAIN_JS);

    let s = h
        .ok(h.req(Method::GET, &h.acct("/workers/scripts/my-worker/settings")))
        .await;
    assert_eq!(s["compatibility_flags"], json!(["nodejs_compat"]));
    assert_eq!(s["tags"], json!(["team:a"]));
    let bindings = s["bindings"].as_array().unwrap();
    assert_eq!(bindings.len(), 4);
    assert_eq!(bindings[3], json!({"name": "TOKEN", "type": "secret_text"}));
    assert!(!s.to_string().contains("s3cr3t"));

    // The value is not in the database file either.
    for entry in std::fs::read_dir(h.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(12).any(|w| w == b"s3cr3t-value"));
    }

    // Settings patch (JSON and multipart forms), script-settings.
    let form = reqwest::multipart::Form::new().text(
        "settings",
        json!({"logpush": true, "tags": ["x", "y"]}).to_string(),
    );
    let s = h
        .ok(h
            .req(
                Method::PATCH,
                &h.acct("/workers/scripts/my-worker/settings"),
            )
            .multipart(form))
        .await;
    assert_eq!(s["logpush"], true);
    assert_eq!(s["tags"], json!(["x", "y"]));
    assert_eq!(s["bindings"].as_array().unwrap().len(), 4);
    let ss = h
        .ok(h
            .req(
                Method::PATCH,
                &h.acct("/workers/scripts/my-worker/script-settings"),
            )
            .json(&json!({"logpush": false})))
        .await;
    assert_eq!(ss["logpush"], false);
    assert_eq!(
        h.ok(h.req(
            Method::GET,
            &h.acct("/workers/scripts/my-worker/script-settings")
        ))
        .await["tags"],
        json!(["x", "y"])
    );
    let nine: Vec<String> = (0..9).map(|i| format!("t{i}")).collect();
    h.fails(
        h.req(
            Method::PATCH,
            &h.acct("/workers/scripts/my-worker/settings"),
        )
        .json(&json!({"tags": nine})),
        400,
        10021,
    )
    .await;

    // Secrets: listed by name, never by value.
    h.ok(h
        .req(Method::PUT, &h.acct("/workers/scripts/my-worker/secrets"))
        .json(&json!({"name": "API", "text": "v", "type": "secret_text"})))
        .await;
    let secrets = h
        .ok(h.req(Method::GET, &h.acct("/workers/scripts/my-worker/secrets")))
        .await;
    assert_eq!(
        secrets,
        json!([{"name": "TOKEN", "type": "secret_text"}, {"name": "API", "type": "secret_text"}])
    );
    assert_eq!(
        h.ok(h.req(
            Method::GET,
            &h.acct("/workers/scripts/my-worker/secrets/API")
        ))
        .await["name"],
        "API"
    );
    h.ok(h.req(
        Method::DELETE,
        &h.acct("/workers/scripts/my-worker/secrets/API"),
    ))
    .await;
    h.fails(
        h.req(
            Method::DELETE,
            &h.acct("/workers/scripts/my-worker/secrets/API"),
        ),
        404,
        10056,
    )
    .await;

    // Versions: one per upload and one per secret put or delete (as Cloudflare makes and
    // deploys), newest first; the deployment names the latest.
    let v = h
        .ok(h.req(Method::GET, &h.acct("/workers/scripts/my-worker/versions")))
        .await;
    let items = v["items"].as_array().unwrap();
    let numbers: Vec<u64> = items
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 2, 1]);
    let version = |id: &str| {
        h.ok(h.req(
            Method::GET,
            &h.acct(&format!("/workers/scripts/my-worker/versions/{id}")),
        ))
    };
    let binding_names = |full: &Value| -> Vec<String> {
        full["resources"]["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let with_api = version(items[1]["id"].as_str().unwrap()).await;
    assert!(binding_names(&with_api).contains(&"API".to_owned()));
    let vid = items[0]["id"].as_str().unwrap().to_owned();
    let full = version(&vid).await;
    assert!(!binding_names(&full).contains(&"API".to_owned()));
    assert_eq!(full["annotations"]["workers/triggered_by"], "secret");
    assert_eq!(full["resources"]["script"]["handlers"], json!(["fetch"]));
    assert!(!full.to_string().contains("s3cr3t"));
    h.fails(
        h.req(
            Method::GET,
            &h.acct("/workers/scripts/my-worker/versions/nope"),
        ),
        404,
        100146,
    )
    .await;
    h.fails(
        h.req(
            Method::GET,
            &h.acct(&format!("/workers/scripts/nope/versions/{vid}")),
        ),
        404,
        10007,
    )
    .await;

    // Deployments and services.
    let d = h
        .ok(h.req(
            Method::GET,
            &h.acct("/workers/scripts/my-worker/deployments"),
        ))
        .await;
    assert_eq!(d["deployments"][0]["versions"][0]["percentage"], 100.0);
    assert_eq!(
        d["deployments"][0]["versions"][0]["version_id"],
        vid.as_str()
    );
    let svc = h
        .ok(h.req(Method::GET, &h.acct("/workers/services/my-worker")))
        .await;
    assert_eq!(svc["default_environment"]["script"]["id"], "my-worker");
    h.fails(
        h.req(Method::GET, &h.acct("/workers/services/nope")),
        404,
        10090,
    )
    .await;

    assert!(
        h.ok(h.req(
            Method::DELETE,
            &h.acct("/workers/scripts/my-worker?force=true")
        ))
        .await
        .is_null()
    );
    for p in [
        "/workers/scripts/my-worker/settings",
        "/workers/scripts/my-worker/deployments",
        "/workers/scripts/my-worker",
    ] {
        h.fails(h.req(Method::GET, &h.acct(p)), 404, 10007).await;
    }
    h.fails(
        h.req(Method::DELETE, &h.acct("/workers/scripts/my-worker")),
        404,
        10007,
    )
    .await;
}

#[tokio::test]
async fn upload_forms_metadata_file_wasm_and_service_worker() {
    let h = Harness::start().await;
    // Metadata as a file with application/json, several modules including wasm.
    let wasm = b"\0asm\x01\0\0\0".to_vec();
    let form = reqwest::multipart::Form::new()
        .part(
            "metadata",
            reqwest::multipart::Part::bytes(json!({"main_module": "main.mjs"}).to_string().into_bytes())
                .file_name("metadata.json")
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "main.mjs",
            reqwest::multipart::Part::text("import m from './add.wasm'; export default { fetch() { return new Response('x') } }")
                .file_name("main.mjs")
                .mime_str("application/javascript+module")
                .unwrap(),
        )
        .part(
            "add.wasm",
            reqwest::multipart::Part::bytes(wasm.clone()).file_name("add.wasm").mime_str("application/wasm").unwrap(),
        );
    let r = h
        .ok(h
            .req(Method::PUT, &h.acct("/workers/scripts/modules"))
            .multipart(form))
        .await;
    assert_eq!(r["has_modules"], true);
    let resp = h
        .req(Method::GET, &h.acct("/workers/scripts/modules"))
        .send()
        .await
        .unwrap();
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
    let body = resp.bytes().await.unwrap();
    assert!(body.windows(wasm.len()).any(|w| w == wasm.as_slice()));

    // A raw service-worker body.
    let r = h
        .ok(h
            .req(Method::PUT, &h.acct("/workers/scripts/legacy"))
            .header("content-type", "application/javascript")
            .body("addEventListener('fetch', e => {})"))
        .await;
    assert_eq!(r["has_modules"], false);

    // A missing main module, a missing metadata part, a bad name, a bad content type.
    upload_fails(&h, "w", json!({"main_module": "other.js"}), 10021).await;
    upload_fails(&h, "w", json!({}), 10021).await;
    let form = reqwest::multipart::Form::new().text("index.js", MAIN_JS);
    h.fails(
        h.req(Method::PUT, &h.acct("/workers/scripts/w"))
            .multipart(form),
        400,
        10006,
    )
    .await;
    let form = worker_form(json!({"main_module": "index.js"}), &[("index.js", MAIN_JS)]);
    let msg = h
        .fails(
            h.req(Method::PUT, &h.acct("/workers/scripts/Bad_Name"))
                .multipart(form),
            400,
            10016,
        )
        .await;
    assert!(
        msg.starts_with("workers.api.error.invalid_script_name"),
        "{msg}"
    );
    h.fails(
        h.req(Method::PUT, &h.acct("/workers/scripts/w"))
            .header("content-type", "image/png")
            .body("x"),
        400,
        10001,
    )
    .await;
    let nine: Vec<String> = (0..9).map(|i| format!("t{i}")).collect();
    upload_fails(
        &h,
        "w",
        json!({"main_module": "index.js", "tags": nine}),
        10021,
    )
    .await;
}

#[tokio::test]
async fn bindings_to_missing_resources_are_refused() {
    let h = Harness::start().await;
    let m = |b: Value| json!({"main_module": "index.js", "bindings": [b]});
    let msg = upload_fails(
        &h,
        "w",
        m(json!({"type": "kv_namespace", "name": "K", "namespace_id": "0".repeat(32)})),
        10041,
    )
    .await;
    assert!(
        msg.contains("KV namespace") && msg.contains("not found"),
        "{msg}"
    );
    // An id that is not 32 hex characters is refused as not valid (workers-sdk issue #14249).
    let msg = upload_fails(
        &h,
        "w",
        m(json!({"type": "kv_namespace", "name": "K", "namespace_id": "placeholder-kv-id"})),
        10042,
    )
    .await;
    assert!(
        msg.starts_with("KV namespace 'placeholder-kv-id' is not valid."),
        "{msg}"
    );
    let msg = upload_fails(
        &h,
        "w",
        m(json!({"type": "r2_bucket", "name": "B", "bucket_name": "nope"})),
        10085,
    )
    .await;
    assert!(msg.contains("R2 bucket 'nope'"), "{msg}");
    upload_fails(&h, "w", m(json!({"type": "secrets_store_secret", "name": "S", "store_id": "x", "secret_name": "y"})), 10182).await;
    upload_fails(
        &h,
        "w",
        m(json!({"type": "dispatch_namespace", "name": "D", "namespace": "tenants"})),
        100119,
    )
    .await;
    upload_fails(
        &h,
        "w",
        m(json!({"type": "service", "name": "S", "service": "other"})),
        10143,
    )
    .await;
    let msg = upload_fails(
        &h,
        "w",
        m(json!({"type": "durable_object_namespace", "name": "C", "class_name": "Counter"})),
        10061,
    )
    .await;
    assert!(
        msg.contains("Did you forget to apply a Durable Object migration"),
        "{msg}"
    );
    upload_fails(
        &h,
        "w",
        m(json!({"type": "wasm_module", "name": "W", "part": "missing.wasm"})),
        10021,
    )
    .await;
    upload_fails(
        &h,
        "w",
        m(json!({"type": "plain_text", "name": "P"})),
        10021,
    )
    .await;
    upload_fails(&h, "w", m(json!({"type": "inherit", "name": "X"})), 10021).await;
    upload_fails(&h, "w", json!({"main_module": "index.js", "bindings": [
        {"type": "plain_text", "name": "A", "text": "1"}, {"type": "plain_text", "name": "A", "text": "2"}]}), 10021).await;
    // Nothing was created by the refused uploads.
    assert_eq!(
        h.ok(h.req(Method::GET, &h.acct("/workers/scripts"))).await,
        json!([])
    );

    // With the resources in place, the same bindings pass.
    let kv = h.kv_namespace("k").await;
    h.ok(h
        .req(Method::POST, &h.acct("/r2/buckets"))
        .json(&json!({"name": "bucket-one"})))
        .await;
    let store = h
        .ok(h
            .req(Method::POST, &h.acct("/secrets_store/stores"))
            .json(&json!({"name": "s"})))
        .await;
    let store = store["id"].as_str().unwrap().to_owned();
    h.ok(h
        .req(
            Method::POST,
            &h.acct(&format!("/secrets_store/stores/{store}/secrets")),
        )
        .json(&json!([{"name": "API_KEY", "value": "v", "scopes": ["workers"]}])))
        .await;
    h.ok(h
        .req(Method::POST, &h.acct("/workers/dispatch/namespaces"))
        .json(&json!({"name": "tenants"})))
        .await;
    upload_ok(&h, "other", json!({"main_module": "index.js"})).await;
    let r = upload_ok(&h, "w", json!({
        "main_module": "index.js",
        "migrations": {"new_tag": "v1", "steps": [{"new_sqlite_classes": ["Counter"]}]},
        "bindings": [
            {"type": "kv_namespace", "name": "K", "namespace_id": kv},
            {"type": "r2_bucket", "name": "B", "bucket_name": "bucket-one"},
            {"type": "secrets_store_secret", "name": "S", "store_id": store, "secret_name": "API_KEY"},
            {"type": "dispatch_namespace", "name": "D", "namespace": "tenants"},
            {"type": "service", "name": "SVC", "service": "other"},
            {"type": "durable_object_namespace", "name": "C", "class_name": "Counter"},
            {"type": "version_metadata", "name": "VM"},
        ],
    })).await;
    assert_eq!(r["migration_tag"], "v1");
    // Now "other" is bound by "w": deleting it needs force.
    h.fails(
        h.req(Method::DELETE, &h.acct("/workers/scripts/other")),
        400,
        10021,
    )
    .await;
    h.ok(h.req(Method::DELETE, &h.acct("/workers/scripts/other?force=true")))
        .await;
}

#[tokio::test]
async fn durable_object_migrations_and_tags() {
    let h = Harness::start().await;
    // Single-step form.
    let r = upload_ok(&h, "do", json!({"main_module": "index.js",
        "migrations": {"new_tag": "v1", "new_classes": ["Counter"], "new_sqlite_classes": ["Room"]}})).await;
    assert_eq!(r["migration_tag"], "v1");
    let ns = h
        .ok(h.req(Method::GET, &h.acct("/workers/durable_objects/namespaces")))
        .await;
    let names: Vec<&str> = ns
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["do_Counter", "do_Room"]);
    assert_eq!(ns[0]["use_sqlite"], false);
    assert_eq!(ns[1]["use_sqlite"], true);
    assert_eq!(ns[0]["script"], "do");
    let counter_id = ns[0]["id"].as_str().unwrap().to_owned();
    let (_, objects) = h
        .get(&h.acct(&format!(
            "/workers/durable_objects/namespaces/{counter_id}/objects"
        )))
        .await;
    assert_eq!(objects["result"], json!([]));
    h.fails(
        h.req(
            Method::GET,
            &h.acct(&format!(
                "/workers/durable_objects/namespaces/{}/objects",
                "0".repeat(32)
            )),
        ),
        404,
        10066,
    )
    .await;

    // The expected-tag check.
    let msg = upload_fails(
        &h,
        "do",
        json!({"main_module": "index.js",
        "migrations": {"new_tag": "v2", "steps": [{"new_classes": ["X"]}]}}),
        10079,
    )
    .await;
    assert_eq!(
        msg,
        "Actor migration tag precondition failed, got tag '' when expected tag is 'v1'"
    );
    upload_fails(
        &h,
        "do",
        json!({"main_module": "index.js",
        "migrations": {"old_tag": "v0", "new_tag": "v2", "steps": []}}),
        10079,
    )
    .await;
    upload_fails(
        &h,
        "fresh",
        json!({"main_module": "index.js",
        "migrations": {"old_tag": "v1", "new_tag": "v2", "steps": []}}),
        10079,
    )
    .await;

    // Stepped form: rename, then delete; a class that already exists cannot be added again.
    upload_fails(
        &h,
        "do",
        json!({"main_module": "index.js",
        "migrations": {"old_tag": "v1", "new_tag": "v2", "steps": [{"new_classes": ["Counter"]}]}}),
        10021,
    )
    .await;
    upload_fails(&h, "do", json!({"main_module": "index.js",
        "migrations": {"old_tag": "v1", "new_tag": "v2", "steps": [{"deleted_classes": ["Ghost"]}]}}), 10021).await;
    upload_fails(&h, "do", json!({"main_module": "index.js",
        "migrations": {"old_tag": "v1", "new_tag": "v2", "steps": [{"renamed_classes": [{"from": "Ghost", "to": "X"}]}]}}), 10021).await;
    let r = upload_ok(
        &h,
        "do",
        json!({"main_module": "index.js",
        "migrations": {"old_tag": "v1", "new_tag": "v3", "steps": [
            {"renamed_classes": [{"from": "Counter", "to": "Tally"}]},
            {"deleted_classes": ["Room"]},
        ]}}),
    )
    .await;
    assert_eq!(r["migration_tag"], "v3");
    let ns = h
        .ok(h.req(Method::GET, &h.acct("/workers/durable_objects/namespaces")))
        .await;
    assert_eq!(ns.as_array().unwrap().len(), 1);
    assert_eq!(ns[0]["name"], "do_Tally");
    assert_eq!(
        ns[0]["id"],
        counter_id.as_str(),
        "a rename keeps the namespace"
    );
    let svc = h
        .ok(h.req(Method::GET, &h.acct("/workers/services/do")))
        .await;
    assert_eq!(svc["default_environment"]["script"]["migration_tag"], "v3");

    // An upload without migrations keeps the tag and classes; another script can bind the class.
    let r = upload_ok(&h, "do", json!({"main_module": "index.js"})).await;
    assert_eq!(r["migration_tag"], "v3");
    let v = h
        .ok(h.req(
            Method::GET,
            &h.acct("/workers/scripts/do/versions?per_page=2"),
        ))
        .await;
    assert_eq!(
        v["items"][0]["number"], 3,
        "two accepted uploads before this one"
    );
    upload_ok(&h, "user", json!({"main_module": "index.js", "bindings": [
        {"type": "durable_object_namespace", "name": "T", "class_name": "Tally", "script_name": "do"}]})).await;
    upload_fails(&h, "user2", json!({"main_module": "index.js", "bindings": [
        {"type": "durable_object_namespace", "name": "T", "class_name": "Room", "script_name": "do"}]}), 10061).await;

    // Transfer a class to another script.
    let r = upload_ok(
        &h,
        "heir",
        json!({"main_module": "index.js", "migrations": {"new_tag": "t1", "steps": [
        {"transferred_classes": [{"from": "Tally", "from_script": "do", "to": "Tally2"}]}]}}),
    )
    .await;
    assert_eq!(r["migration_tag"], "t1");
    let ns = h
        .ok(h.req(Method::GET, &h.acct("/workers/durable_objects/namespaces")))
        .await;
    assert_eq!(ns[0]["name"], "heir_Tally2");
    assert_eq!(ns[0]["id"], counter_id.as_str());

    // Page style on the DO list.
    let (_, body) = h
        .get(&h.acct("/workers/durable_objects/namespaces?per_page=1&page=2"))
        .await;
    assert_eq!(body["result"], json!([]));
    assert_eq!(body["result_info"]["total_count"], 1);
}

#[tokio::test]
async fn keep_bindings_and_inherit_on_account_scripts() {
    let h = Harness::start().await;
    upload_ok(
        &h,
        "k",
        json!({"main_module": "index.js", "bindings": [
        {"type": "plain_text", "name": "A", "text": "1"},
        {"type": "secret_text", "name": "S", "text": "x"}]}),
    )
    .await;
    upload_ok(
        &h,
        "k",
        json!({"main_module": "index.js", "keep_bindings": ["secret_text"], "bindings": [
        {"type": "inherit", "name": "B", "old_name": "A"}]}),
    )
    .await;
    let s = h
        .ok(h.req(Method::GET, &h.acct("/workers/scripts/k/settings")))
        .await;
    assert_eq!(
        s["bindings"],
        json!([
        {"type": "plain_text", "name": "B", "text": "1"},
        {"name": "S", "type": "secret_text"}])
    );
    upload_ok(&h, "k", json!({"main_module": "index.js"})).await;
    let s = h
        .ok(h.req(Method::GET, &h.acct("/workers/scripts/k/settings")))
        .await;
    assert_eq!(s["bindings"], json!([]));
}

#[tokio::test]
async fn workers_dev_subdomains() {
    let h = Harness::start().await;
    let sub = h
        .ok(h.req(Method::GET, &h.acct("/workers/subdomain")))
        .await;
    assert!(sub["subdomain"].as_str().unwrap().starts_with("athanor-"));
    h.ok(h
        .req(Method::PUT, &h.acct("/workers/subdomain"))
        .json(&json!({"subdomain": "my-team"})))
        .await;
    assert_eq!(
        h.ok(h.req(Method::GET, &h.acct("/workers/subdomain")))
            .await["subdomain"],
        "my-team"
    );
    h.fails(
        h.req(Method::PUT, &h.acct("/workers/subdomain"))
            .json(&json!({"subdomain": "-bad"})),
        400,
        10032,
    )
    .await;

    upload_ok(&h, "site", json!({"main_module": "index.js"})).await;
    let path = h.acct("/workers/scripts/site/subdomain");
    assert_eq!(
        h.ok(h.req(Method::GET, &path)).await,
        json!({"enabled": false, "previews_enabled": false})
    );
    let r = h
        .ok(h
            .req(Method::POST, &path)
            .header("Cloudflare-Workers-Script-Api-Date", "2025-08-01")
            .json(&json!({"enabled": true})))
        .await;
    assert_eq!(r, json!({"enabled": true, "previews_enabled": true}));
    // A re-upload keeps the subdomain setting.
    upload_ok(&h, "site", json!({"main_module": "index.js"})).await;
    assert_eq!(h.ok(h.req(Method::GET, &path)).await["enabled"], true);
    h.ok(h.req(Method::DELETE, &path)).await;
    assert_eq!(h.ok(h.req(Method::GET, &path)).await["enabled"], false);
    h.fails(h.req(Method::POST, &path).json(&json!({})), 400, 10001)
        .await;
    h.fails(
        h.req(Method::GET, &h.acct("/workers/scripts/none/subdomain")),
        404,
        10007,
    )
    .await;
}

#[tokio::test]
async fn usage_model_and_schedules() {
    let h = Harness::start().await;
    upload_ok(&h, "cron", json!({"main_module": "index.js"})).await;
    let um = h.acct("/workers/scripts/cron/usage-model");
    assert_eq!(
        h.ok(h.req(Method::GET, &um)).await["usage_model"],
        "standard"
    );
    assert_eq!(
        h.ok(h
            .req(Method::PUT, &um)
            .json(&json!({"usage_model": "unbound"})))
            .await["usage_model"],
        "unbound"
    );
    h.fails(
        h.req(Method::PUT, &um)
            .json(&json!({"usage_model": "free"})),
        400,
        10021,
    )
    .await;
    let sc = h.acct("/workers/scripts/cron/schedules");
    assert_eq!(h.ok(h.req(Method::GET, &sc)).await["schedules"], json!([]));
    let r = h
        .ok(h
            .req(Method::PUT, &sc)
            .json(&json!([{"cron": "*/5 * * * *"}])))
        .await;
    assert_eq!(r["schedules"][0]["cron"], "*/5 * * * *");
    assert_eq!(
        h.ok(h.req(Method::GET, &sc)).await["schedules"][0]["cron"],
        "*/5 * * * *"
    );
    h.fails(
        h.req(Method::PUT, &sc).json(&json!([{"cron": "nope"}])),
        400,
        10021,
    )
    .await;
    h.fails(
        h.req(Method::GET, &h.acct("/workers/scripts/none/schedules")),
        404,
        10007,
    )
    .await;
}

/// Uploads `code` with a `VERSION` variable as a version of `w`, without deploying it.
async fn upload_version(h: &Harness, code: &str, version: &str) -> Value {
    let meta = json!({"main_module": "index.js",
        "bindings": [{"type": "plain_text", "name": "VERSION", "text": version}]});
    h.ok(h
        .req(Method::POST, &h.acct("/workers/scripts/w/versions"))
        .multipart(worker_form(meta, &[("index.js", code)])))
        .await
}

async fn deploy(h: &Harness, versions: Value) -> (u16, Value) {
    let (s, b) = h
        .send(
            h.req(Method::POST, &h.acct("/workers/scripts/w/deployments"))
                .json(&json!({"strategy": "percentage", "versions": versions})),
        )
        .await;
    (s.as_u16(), b)
}

/// What runs now: the `VERSION` variable and the code.
async fn running(h: &Harness) -> (String, String) {
    let settings = h
        .ok(h.req(Method::GET, &h.acct("/workers/scripts/w/settings")))
        .await;
    let version = settings["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "VERSION")
        .map(|b| b["text"].as_str().unwrap().to_owned())
        .unwrap_or_default();
    let code = h
        .req(Method::GET, &h.acct("/workers/scripts/w"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (version, code)
}

#[tokio::test]
async fn versions_upload_without_deploying_and_deployments_switch_and_roll_back() {
    let h = Harness::start().await;
    let code =
        |n: u32| format!("export default {{ async fetch() {{ return new Response('v{n}'); }} }};");
    // A version of a Worker that does not exist yet: 404.
    let (s, body) = h
        .send(
            h.req(Method::POST, &h.acct("/workers/scripts/w/versions"))
                .multipart(worker_form(
                    json!({"main_module": "index.js"}),
                    &[("index.js", MAIN_JS)],
                )),
        )
        .await;
    assert_eq!(
        (s.as_u16(), body["errors"][0]["code"].as_u64()),
        (404, Some(10007)),
        "{body}"
    );

    let meta = json!({"main_module": "index.js",
        "bindings": [{"type": "plain_text", "name": "VERSION", "text": "1"}]});
    let first = h
        .ok(h
            .req(Method::PUT, &h.acct("/workers/scripts/w"))
            .multipart(worker_form(meta, &[("index.js", &code(1))])))
        .await;
    let v1 = first["deployment_id"].as_str().unwrap().to_owned();

    let uploaded = upload_version(&h, &code(2), "2").await;
    let v2 = uploaded["id"].as_str().unwrap().to_owned();
    assert_eq!(uploaded["number"], 2);
    assert_eq!(uploaded["resources"]["bindings"][0]["name"], "VERSION");
    assert_eq!(
        running(&h).await,
        ("1".to_owned(), code(1)),
        "not deployed yet"
    );
    let (_, list) = h.get(&h.acct("/workers/scripts/w/versions")).await;
    assert_eq!(list["result"]["items"][0]["id"], v2.as_str());

    let (s, d) = deploy(&h, json!([{"version_id": v2, "percentage": 100}])).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["result"]["versions"][0]["version_id"], v2.as_str());
    assert_eq!(running(&h).await, ("2".to_owned(), code(2)));
    let (_, deployments) = h.get(&h.acct("/workers/scripts/w/deployments")).await;
    let listed = deployments["result"]["deployments"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "the upload's and this one: {deployments}");
    assert_eq!(listed[0]["id"], d["result"]["id"]);
    assert_eq!(listed[1]["versions"][0]["version_id"], v1.as_str());

    // Rolling back to the first upload brings back its code and bindings.
    let (s, _) = deploy(&h, json!([{"version_id": v1, "percentage": 100}])).await;
    assert_eq!(s, 200);
    assert_eq!(running(&h).await, ("1".to_owned(), code(1)));
    // A split: the larger share is what the emulator serves; the split is recorded.
    let (s, d) = deploy(
        &h,
        json!([{"version_id": v1, "percentage": 10}, {"version_id": v2, "percentage": 90}]),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(d["result"]["versions"][1]["percentage"], 90.0);
    assert_eq!(running(&h).await, ("2".to_owned(), code(2)));

    // Refused deployments change nothing.
    let missing = "00000000-0000-4000-8000-000000000000";
    for (versions, status, code_expected) in [
        (json!([{"version_id": v1, "percentage": 50}]), 400, 10021),
        (
            json!([{"version_id": v1, "percentage": 0}, {"version_id": v2, "percentage": 100}]),
            400,
            10021,
        ),
        (
            json!([{"version_id": v1, "percentage": 50}, {"version_id": v1, "percentage": 50}]),
            400,
            10021,
        ),
        (json!([]), 400, 10021),
        (
            json!([{"version_id": missing, "percentage": 100}]),
            404,
            10007,
        ),
    ] {
        let (s, b) = deploy(&h, versions).await;
        assert_eq!(
            (s, b["errors"][0]["code"].as_u64()),
            (status, Some(code_expected)),
            "{b}"
        );
    }
    let (s, b) = h
        .send(
            h.req(Method::POST, &h.acct("/workers/scripts/w/deployments"))
                .json(&json!({"strategy": "immediate", "versions": [{"version_id": v1, "percentage": 100}]})),
        )
        .await;
    assert_eq!(s.as_u16(), 400, "{b}");
    assert_eq!(running(&h).await, ("2".to_owned(), code(2)));

    // Migrations only apply with a deploying upload.
    let meta =
        json!({"main_module": "index.js", "migrations": {"new_tag": "v1", "new_classes": ["C"]}});
    let (s, b) = h
        .send(
            h.req(Method::POST, &h.acct("/workers/scripts/w/versions"))
                .multipart(worker_form(meta, &[("index.js", MAIN_JS)])),
        )
        .await;
    assert_eq!(
        (s.as_u16(), b["errors"][0]["code"].as_u64()),
        (400, Some(10021)),
        "{b}"
    );

    // A deleted and re-created Worker starts without the old versions.
    h.ok(h.req(Method::DELETE, &h.acct("/workers/scripts/w")))
        .await;
    h.ok(h
        .req(Method::PUT, &h.acct("/workers/scripts/w"))
        .multipart(worker_form(
            json!({"main_module": "index.js"}),
            &[("index.js", MAIN_JS)],
        )))
    .await;
    let (s, _) = deploy(&h, json!([{"version_id": v2, "percentage": 100}])).await;
    assert_eq!(s, 404);
}
