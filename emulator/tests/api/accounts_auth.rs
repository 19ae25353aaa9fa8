//! Accounts, token verification and authentication failures.

use reqwest::Method;

use crate::common::Harness;

#[tokio::test]
async fn accounts_and_token_verify() {
    let h = Harness::start().await;
    let (_, body) = h.get("/accounts").await;
    assert_eq!(body["result"][0]["id"], h.emu.account_id());
    assert_eq!(body["result_info"]["total_count"], 1);
    let (_, body) = h.get("/accounts?page=2").await;
    assert_eq!(body["result"].as_array().unwrap().len(), 0);
    let acct = h.ok(h.req(Method::GET, &h.acct(""))).await;
    assert_eq!(acct["type"], "standard");

    for path in ["/user/tokens/verify".to_owned(), h.acct("/tokens/verify")] {
        let (status, body) = h.get(&path).await;
        assert_eq!(status, 200);
        assert_eq!(body["result"]["status"], "active");
        assert_eq!(
            body["messages"][0]["message"],
            "This API Token is valid and active"
        );
    }
    let m = h.ok(h.req(Method::GET, "/memberships")).await;
    assert_eq!(m[0]["account"]["id"], h.emu.account_id());
    assert!(h.ok(h.req(Method::GET, "/user")).await["email"].is_string());
}

#[tokio::test]
async fn authentication_failures_use_cloudflare_codes() {
    let h = Harness::start().await;
    let url = h.url(&h.acct("/storage/kv/namespaces"));
    let no_auth = h.http.get(&url);
    h.fails(no_auth, 401, 9106).await;
    h.fails(h.http.get(&url).bearer_auth("wrong"), 403, 10000)
        .await;
    h.fails(
        h.http
            .get(h.url("/user/tokens/verify"))
            .bearer_auth("wrong"),
        401,
        1000,
    )
    .await;
    // The global-key form with the token as key works.
    let (status, _) = h
        .send(
            h.http
                .get(&url)
                .header("X-Auth-Key", h.emu.token())
                .header("X-Auth-Email", "me@example.com"),
        )
        .await;
    assert_eq!(status, 200);
    h.fails(
        h.http.get(&url).header("X-Auth-Key", h.emu.token()),
        401,
        9106,
    )
    .await;
    // Another account: 403.
    let other = h.url(&format!(
        "/accounts/{}/storage/kv/namespaces",
        "b".repeat(32)
    ));
    h.fails(h.http.get(&other).bearer_auth(h.emu.token()), 403, 10000)
        .await;
    // Unknown routes: the envelope with 7003.
    h.fails(h.req(Method::GET, "/no/such/route"), 404, 7003)
        .await;
    // The emulator controls need the token too.
    let r = h
        .http
        .get(format!("http://{}/__emulator/stats", h.emu.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn configured_token_and_account_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = athanor_emulator::Config::new(dir.path());
    config.token = Some("fixed-token".into());
    config.account_id = Some("0123456789abcdef0123456789abcdef".into());
    assert!(!format!("{config:?}").contains("fixed-token"));
    let emu = athanor_emulator::Emulator::start(config).await.unwrap();
    assert_eq!(emu.token(), "fixed-token");
    assert_eq!(emu.account_id(), "0123456789abcdef0123456789abcdef");
    assert!(emu.base_url().starts_with("http://127.0.0.1:"));
    assert!(emu.base_url().ends_with("/client/v4"));
    assert!(!format!("{emu:?}").contains("fixed-token"));
    emu.shutdown().await;

    let mut bad = athanor_emulator::Config::new(dir.path());
    bad.account_id = Some("XYZ".into());
    let err = athanor_emulator::Emulator::start(bad).await.unwrap_err();
    assert!(err.to_string().contains("32 lowercase hex"), "{err}");
    let mut bad = athanor_emulator::Config::new(dir.path());
    bad.token = Some("has space".into());
    let err = athanor_emulator::Emulator::start(bad).await.unwrap_err();
    assert!(!err.to_string().contains("has space"), "{err}");
}

#[tokio::test]
async fn the_account_can_be_renamed_and_its_settings_changed() {
    use serde_json::json;
    let h = Harness::start().await;
    let a = h.acct("");
    let id = h.emu.account_id().to_owned();
    let updated = h
        .ok(h.req(Method::PUT, &a).json(&json!({
            "id": id, "name": "Renamed", "settings": {"enforce_twofactor": true},
        })))
        .await;
    assert_eq!(updated["name"], "Renamed");
    assert_eq!(updated["settings"]["enforce_twofactor"], true);
    assert_eq!(
        updated["settings"]["default_nameservers"],
        "cloudflare.standard"
    );
    // A later update keeps the settings it does not name.
    h.ok(h.req(Method::PUT, &a).json(&json!({"name": "Again"})))
        .await;
    let got = h.ok(h.req(Method::GET, &a)).await;
    assert_eq!(got["name"], "Again");
    assert_eq!(got["settings"]["enforce_twofactor"], true);
    let (_, listed) = h.get("/accounts?name=Again").await;
    assert_eq!(listed["result"][0]["id"], id.as_str());
    let (_, members) = h.get("/memberships").await;
    assert_eq!(members["result"][0]["account"]["name"], "Again");

    for bad in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "x".repeat(101)}),
        json!({"name": "n", "id": "0".repeat(32)}),
        json!({"name": "n", "settings": {"nope": true}}),
        json!({"name": "n", "settings": {"enforce_twofactor": "yes"}}),
        json!({"name": "n", "settings": {"default_nameservers": "mine"}}),
        json!({"name": "n", "settings": []}),
    ] {
        h.fails(h.req(Method::PUT, &a).json(&bad), 400, 1001).await;
    }
    assert_eq!(h.ok(h.req(Method::GET, &a)).await["name"], "Again");

    // Kept across a restart, like every other resource.
    let Harness { emu, dir, .. } = h;
    emu.shutdown().await;
    let h = Harness::start_in(dir).await;
    assert_eq!(h.ok(h.req(Method::GET, &h.acct(""))).await["name"], "Again");
}

#[tokio::test]
async fn what_the_router_refuses_itself_is_answered_in_the_envelope() {
    let h = Harness::start().await;
    // A method the route does not have.
    let message = h
        .fails(
            h.req(Method::PATCH, &h.acct("/storage/kv/namespaces")),
            405,
            7003,
        )
        .await;
    assert!(message.contains("Method Not Allowed"), "{message}");
}
