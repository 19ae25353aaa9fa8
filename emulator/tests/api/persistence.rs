//! What was written is still there after a restart on the same data directory.

use reqwest::Method;
use serde_json::json;

use crate::common::{Harness, MAIN_JS, worker_form};

#[tokio::test]
async fn data_survives_a_restart() {
    let h = Harness::start().await;
    let id = h.kv_namespace("kept").await;
    h.ok(h
        .req(
            Method::PUT,
            &h.acct(&format!("/storage/kv/namespaces/{id}/values/k")),
        )
        .body("v"))
        .await;
    h.ok(h
        .req(Method::POST, &h.acct("/r2/buckets"))
        .json(&json!({"name": "kept-bucket"})))
        .await;
    let form = worker_form(
        json!({"main_module": "index.js", "migrations": {"new_tag": "v1", "new_classes": ["C"]}}),
        &[("index.js", MAIN_JS)],
    );
    h.ok(h
        .req(Method::PUT, &h.acct("/workers/scripts/kept"))
        .multipart(form))
        .await;
    let account = h.emu.account_id().to_owned();

    let Harness { emu, dir, .. } = h;
    emu.shutdown().await;
    let h = Harness::start_in(dir).await;
    assert_eq!(h.emu.account_id(), account);
    assert_eq!(
        h.ok(h.req(
            Method::GET,
            &h.acct(&format!("/storage/kv/namespaces/{id}"))
        ))
        .await["title"],
        "kept"
    );
    let v = h
        .req(
            Method::GET,
            &h.acct(&format!("/storage/kv/namespaces/{id}/values/k")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(v.text().await.unwrap(), "v");
    h.ok(h.req(Method::GET, &h.acct("/r2/buckets/kept-bucket")))
        .await;
    let svc = h
        .ok(h.req(Method::GET, &h.acct("/workers/services/kept")))
        .await;
    assert_eq!(svc["default_environment"]["script"]["migration_tag"], "v1");
    // Creation order is kept across the restart.
    let second = h.kv_namespace("second").await;
    let (_, body) = h.get(&h.acct("/storage/kv/namespaces")).await;
    assert_eq!(body["result"][1]["id"], second.as_str());
}

#[tokio::test]
async fn dropping_the_emulator_stops_it() {
    let h = Harness::start().await;
    let url = h.url("/accounts");
    let token = h.emu.token().to_owned();
    let Harness {
        emu,
        dir: _dir,
        http,
    } = h;
    drop(emu);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let r = http.get(&url).bearer_auth(token).send().await;
    assert!(r.is_err(), "the emulator still answers after being dropped");
}
