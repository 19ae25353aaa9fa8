//! How deployed Workers are served: plain, JSON and secret values; Secrets Store secrets read live;
//! service bindings; dispatch namespaces that reach only their own user Workers; and Workers that
//! cannot run, which answer why instead of taking the others down.

use reqwest::Method;
use serde_json::json;

use crate::common::Local;

#[tokio::test]
async fn values_secrets_and_secrets_store_secrets_reach_the_worker() {
    let Some(local) = Local::start().await else {
        return;
    };
    let store = local
        .ok(local
            .api(Method::POST, "/secrets_store/stores")
            .json(&json!({"name": "main"})))
        .await;
    let store = store["id"].as_str().unwrap().to_owned();
    let secrets = local
        .ok(local
            .api(
                Method::POST,
                &format!("/secrets_store/stores/{store}/secrets"),
            )
            .json(&json!([{"name": "API_KEY", "value": "from the store", "scopes": ["workers"]}])))
        .await;
    let secret_id = secrets[0]["id"].as_str().unwrap().to_owned();
    let code = r#"
export default {
  async fetch(request, env) {
    return Response.json({ version: env.VERSION, debug: env.DEBUG, token: env.TOKEN,
                           key: await env.API_KEY.get(), keys: Object.keys(env).sort(),
                           store_class: env.API_KEY.constructor.name });
  },
};
"#;
    let status = local
        .deploy(
            "values",
            code,
            json!({"bindings": [
                {"type": "plain_text", "name": "VERSION", "text": "1.0.0"},
                {"type": "json", "name": "DEBUG", "json": {"on": true}},
                {"type": "secret_text", "name": "TOKEN", "text": "hunter2"},
                {"type": "secrets_store_secret", "name": "API_KEY", "store_id": store, "secret_name": "API_KEY"},
            ]}),
        )
        .await;
    assert_eq!(status.running, ["values"], "{status:?}");
    let got = local.call("values", "/", json!({})).await;
    assert_eq!(
        got,
        json!({"version": "1.0.0", "debug": {"on": true}, "token": "hunter2",
               "key": "from the store", "keys": ["API_KEY", "DEBUG", "TOKEN", "VERSION"],
               // workers-rs checks a Secrets Store binding's class name, as on Cloudflare.
               "store_class": "Fetcher"})
    );
    // A Secrets Store secret changes without a redeploy.
    local
        .ok(local
            .api(
                Method::PATCH,
                &format!("/secrets_store/stores/{store}/secrets/{secret_id}"),
            )
            .json(&json!({"value": "rotated"})))
        .await;
    assert_eq!(local.call("values", "/", json!({})).await["key"], "rotated");
    // Neither value is in the workerd configuration written to disk.
    let config = std::fs::read_to_string(local.dir.join("workerd/config.capnp")).unwrap();
    assert!(!config.contains("hunter2") && !config.contains("rotated"));
}

#[tokio::test]
async fn a_dispatch_namespace_reaches_its_user_workers_with_their_own_bindings() {
    let Some(local) = Local::start().await else {
        return;
    };
    local
        .ok(local
            .api(Method::POST, "/workers/dispatch/namespaces")
            .json(&json!({"name": "customers"})))
        .await;
    let (a, b) = (local.kv_namespace("a").await, local.kv_namespace("b").await);
    for (ns, value) in [(&a, "data of a"), (&b, "data of b")] {
        local
            .ok(local
                .api(
                    Method::PUT,
                    &format!("/storage/kv/namespaces/{ns}/values/k"),
                )
                .body(value))
            .await;
    }
    let user = r#"
export default {
  async fetch(request, env) {
    return Response.json({ value: await env.USER_KV.get("k"), keys: Object.keys(env).sort() });
  },
};
"#;
    local
        .upload(
            "/workers/dispatch/namespaces/customers/scripts/customer-a",
            user,
            json!({"bindings": [{"type": "kv_namespace", "name": "USER_KV", "namespace_id": a}]}),
        )
        .await;
    local
        .upload(
            "/workers/dispatch/namespaces/customers/scripts/customer-b",
            user,
            json!({"bindings": [
                {"type": "kv_namespace", "name": "USER_KV", "namespace_id": b},
                {"type": "plain_text", "name": "B_ONLY", "text": "b"},
            ]}),
        )
        .await;
    let dispatcher = r#"
export default {
  async fetch(request, env) {
    const name = new URL(request.url).pathname.slice(1);
    if (name === "_class") {
      return new Response(env.DISPATCHER.constructor.name);
    }
    try {
      return await env.DISPATCHER.get(name).fetch(request);
    } catch (e) {
      return new Response(String(e), { status: 404 });
    }
  },
};
"#;
    let status = local
        .deploy(
            "dispatcher",
            dispatcher,
            json!({"bindings": [{"type": "dispatch_namespace", "name": "DISPATCHER", "namespace": "customers"}]}),
        )
        .await;
    assert_eq!(
        status.running,
        ["customers/customer-a", "customers/customer-b", "dispatcher"],
        "{status:?}"
    );
    let got = local.call("dispatcher", "/customer-a", json!({})).await;
    assert_eq!(got, json!({"value": "data of a", "keys": ["USER_KV"]}));
    let got = local.call("dispatcher", "/customer-b", json!({})).await;
    assert_eq!(
        got,
        json!({"value": "data of b", "keys": ["B_ONLY", "USER_KV"]})
    );
    // workers-rs checks a dispatch namespace binding's class name, as on Cloudflare.
    assert_eq!(
        local.get("dispatcher", "/_class").await,
        (200, "DynamicDispatcher".into())
    );
    let (status, body) = local.get("dispatcher", "/customer-z").await;
    assert_eq!((status, body.as_str()), (404, "Error: Worker not found."));
    // A user Worker has no workers.dev route of its own.
    assert_eq!(local.get("customer-a", "/").await.0, 404);
}

#[tokio::test]
async fn service_bindings_call_other_workers() {
    let Some(local) = Local::start().await else {
        return;
    };
    local
        .deploy(
            "backend",
            "export default { fetch(r) { return new Response('backend saw ' + new URL(r.url).pathname); } };",
            json!({}),
        )
        .await;
    let status = local
        .deploy(
            "frontend",
            "export default { fetch(r, env) { return env.BACKEND.fetch('http://backend/inner'); } };",
            json!({"bindings": [{"type": "service", "name": "BACKEND", "service": "backend"}]}),
        )
        .await;
    assert!(status.failed.is_empty(), "{status:?}");
    assert_eq!(
        local.get("frontend", "/").await,
        (200, "backend saw /inner".into())
    );
}

#[tokio::test]
async fn a_worker_that_cannot_run_answers_why_and_the_others_run() {
    let Some(local) = Local::start().await else {
        return;
    };
    local
        .deploy(
            "good",
            "export default { fetch() { return new Response('fine'); } };",
            json!({}),
        )
        .await;
    let status = local
        .deploy(
            "queued",
            "export default { fetch() { return new Response('never'); } };",
            json!({"bindings": [{"type": "vectorize", "name": "VEC", "index_name": "docs"}]}),
        )
        .await;
    assert!(
        status.failed["queued"].contains("binding VEC has type vectorize"),
        "{status:?}"
    );
    let status = local
        .deploy(
            "broken",
            "export default { fetch() { return new Response('x') }",
            json!({}),
        )
        .await;
    assert!(
        status.failed["broken"].contains("SyntaxError"),
        "{status:?}"
    );
    assert_eq!(local.get("good", "/").await, (200, "fine".into()));
    let (code, body) = local.get("queued", "/").await;
    assert_eq!(code, 503);
    assert!(body.contains("binding VEC has type vectorize"), "{body}");
    let (code, body) = local.get("broken", "/").await;
    assert_eq!(code, 503);
    assert!(body.contains("SyntaxError"), "{body}");
    // Fixed, it runs.
    let status = local
        .deploy(
            "broken",
            "export default { fetch() { return new Response('mended'); } };",
            json!({}),
        )
        .await;
    assert!(!status.failed.contains_key("broken"), "{status:?}");
    assert_eq!(local.get("broken", "/").await, (200, "mended".into()));
    // An unknown name lists what is served.
    let (code, body) = local.get("nobody", "/").await;
    assert_eq!(code, 404);
    assert!(body.contains("http://good.localhost:"), "{body}");
}

#[tokio::test]
async fn logs_and_exceptions_come_out_as_events_with_the_worker_name() {
    let Some(local) = Local::start().await else {
        return;
    };
    let mut events = local.emu.worker_events();
    local
        .deploy(
            "chatty",
            r#"export default { fetch(r) {
                 console.log("hello", 42);
                 if (new URL(r.url).pathname === "/boom") throw new TypeError("kaboom");
                 return new Response("ok");
               } };"#,
            json!({}),
        )
        .await;
    local.get("chatty", "/").await;
    assert_eq!(local.get("chatty", "/boom").await.0, 500);
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen.len() < 2 {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("the events arrive")
            .unwrap();
        match event {
            athanor_emulator::WorkerEvent::Log { .. }
            | athanor_emulator::WorkerEvent::Exception { .. } => seen.push(event.to_string()),
            _ => {}
        }
    }
    assert_eq!(seen[0], "[chatty] hello 42");
    // The exception comes after the second request's log line.
    let rest = loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap()
            .unwrap();
        if let athanor_emulator::WorkerEvent::Exception { .. } = event {
            break event.to_string();
        }
    };
    assert!(
        rest.starts_with("[chatty] uncaught TypeError: kaboom"),
        "{rest}"
    );
}
