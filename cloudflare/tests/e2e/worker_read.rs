//! A Worker's output read from live data: the Durable Object namespace ids recorded after the
//! upload, and `read` seeing changes made outside athanor (a re-upload, a binding removed,
//! workers.dev switched off) while a plain redeploy is no drift.

use std::collections::BTreeMap;
use std::path::Path;

use athanor_core::stack::{KvNamespace, ResourceRef, Worker};
use athanor_core::{Binding, BindingValue, Output, Provider};
use serde_json::{Value, json};

use crate::common::{Decl, Fixture, count, do_output, start, worker_output};

const NAMESPACES: &str = "GET /accounts/{account_id}/workers/durable_objects/namespaces";

fn write_worker(root: &Path, marker: &str) {
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(
        root.join("w.js"),
        format!(
            "export class Counter {{}}\nexport class Room {{}}\nexport default {{ fetch() {{ return new Response('{marker}'); }} }};\n"
        ),
    )
    .unwrap();
}

fn props(bindings: &[(&str, BindingValue)], url: bool) -> Worker {
    Worker {
        code: athanor_core::stack::WorkerCode::Entrypoint("w.js".into()),
        url,
        bindings: bindings
            .iter()
            .map(|(name, value)| Binding::new(*name, value.clone()))
            .collect(),
        ..Worker::default()
    }
}

fn res(id: &str) -> BindingValue {
    BindingValue::Resource(ResourceRef::new(id))
}

/// The namespace list through the API, as `class -> id` for one script.
async fn listed_ids(fx: &Fixture, script: &str) -> BTreeMap<String, String> {
    let (status, list) = fx
        .api_get("/workers/durable_objects/namespaces?per_page=1000")
        .await;
    assert_eq!(status, 200);
    list.as_array()
        .unwrap()
        .iter()
        .filter(|n| n["script"] == script)
        .map(|n| {
            (
                n["class"].as_str().unwrap().to_owned(),
                n["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A multipart request straight to the API, as a user working outside athanor would send it.
async fn send_multipart(
    fx: &Fixture,
    method: reqwest::Method,
    rest: &str,
    form: reqwest::multipart::Form,
) {
    let resp = reqwest::Client::new()
        .request(method, fx.emulator.account_url(rest))
        .bearer_auth(fx.emulator.token())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

fn json_part(value: &Value) -> reqwest::multipart::Part {
    reqwest::multipart::Part::text(value.to_string())
        .mime_str("application/json")
        .unwrap()
}

#[tokio::test]
async fn the_namespace_ids_of_the_exported_classes_are_in_the_worker_output() {
    let fx = start().await;
    let root = fx.dir.path().join("do");
    write_worker(&root, "v1");
    let decl = Decl::new(
        "rooms",
        "rooms-worker",
        props(&[("COUNTER", res("counter")), ("ROOM", res("room"))], false),
    )
    .root(&root)
    .dep("counter", do_output("Counter", true))
    .dep("room", do_output("Room", false));

    fx.reset();
    let out = fx.provider.create(&decl.desired()).await.unwrap();
    assert_eq!(count(&fx.stats(), NAMESPACES), 1, "{:?}", fx.stats());
    let ids = listed_ids(&fx, "rooms-worker").await;
    assert_eq!(ids.len(), 2, "{ids:?}");
    let w = worker_output(&out);
    assert_eq!(w.durable_objects, ids);
    assert_ne!(w.durable_objects["Counter"], w.durable_objects["Room"]);

    // Redeploying the same Worker reads the list once more and finds the same namespaces; the
    // live read agrees with both.
    fx.reset();
    let again = fx
        .provider
        .update(&decl.desired(), decl.existing(&out))
        .await
        .unwrap();
    assert_eq!(count(&fx.stats(), NAMESPACES), 1);
    assert_eq!(again, out, "nothing changed, so neither did the output");
    assert_eq!(
        fx.provider.read(decl.existing(&again)).await.unwrap(),
        Some(again.clone())
    );

    // A Worker without classes never reads the list.
    let plain_root = fx.dir.path().join("plain");
    write_worker(&plain_root, "plain");
    let plain = Decl::new(
        "plain",
        "plain-worker",
        props(&[("V", BindingValue::PlainText("1".into()))], false),
    )
    .root(&plain_root);
    fx.reset();
    let plain_out = fx.provider.create(&plain.desired()).await.unwrap();
    fx.provider
        .update(&plain.desired(), plain.existing(&plain_out))
        .await
        .unwrap();
    fx.provider.read(plain.existing(&plain_out)).await.unwrap();
    assert_eq!(count(&fx.stats(), NAMESPACES), 0, "{:?}", fx.stats());
    assert!(worker_output(&plain_out).durable_objects.is_empty());
}

/// A Worker with a KV binding, a variable and workers.dev on, deployed; its declaration and
/// output.
async fn deployed(fx: &Fixture) -> (Decl, Output) {
    let kv_decl = Decl::new("kv", "drift-kv", KvNamespace::default());
    let kv = fx.provider.create(&kv_decl.desired()).await.unwrap();
    let root = fx.dir.path().join("drift");
    write_worker(&root, "ours");
    let decl = Decl::new(
        "site",
        "drift-site",
        props(
            &[
                ("MY_KV", res("kv")),
                ("VERSION", BindingValue::PlainText("1.0.0".into())),
            ],
            true,
        ),
    )
    .root(&root)
    .dep("kv", kv);
    let out = fx.provider.create(&decl.desired()).await.unwrap();
    (decl, out)
}

#[tokio::test]
async fn a_redeploy_without_changes_reads_back_as_recorded_in_few_requests() {
    let fx = start().await;
    let (decl, out) = deployed(&fx).await;
    let w = worker_output(&out);
    assert!(w.url.is_some() && w.etag.is_some());
    assert_eq!(
        w.bindings,
        BTreeMap::from([
            ("MY_KV".to_owned(), "kv_namespace".to_owned()),
            ("VERSION".to_owned(), "plain_text".to_owned()),
        ])
    );

    fx.reset();
    let live = fx.provider.read(decl.existing(&out)).await.unwrap();
    assert_eq!(live.as_ref(), Some(&out));
    let stats = fx.stats();
    assert_eq!(
        stats.total, 3,
        "settings, script and workers.dev state: {stats:?}"
    );
    assert_eq!(stats.mutating, 0);

    let again = fx
        .provider
        .update(&decl.desired(), decl.existing(&out))
        .await
        .unwrap();
    assert_eq!(again, out);
    assert_eq!(
        fx.provider.read(decl.existing(&again)).await.unwrap(),
        Some(again)
    );
}

/// What `read` sees of the deployed Worker now: it must still exist and differ from `out`, the
/// recorded output.
async fn read_drifted(fx: &Fixture, decl: &Decl, out: &Output) -> Output {
    let live = fx
        .provider
        .read(decl.existing(out))
        .await
        .unwrap()
        .expect("the Worker still exists");
    assert_ne!(&live, out, "the change made outside must be seen");
    live
}

/// The update the engine plans for drift; what it returns must be what `read` sees afterwards.
async fn repair(fx: &Fixture, decl: &Decl, out: &Output) -> Output {
    let repaired = fx
        .provider
        .update(&decl.desired(), decl.existing(out))
        .await
        .unwrap();
    assert_eq!(
        fx.provider
            .read(decl.existing(&repaired))
            .await
            .unwrap()
            .as_ref(),
        Some(&repaired)
    );
    repaired
}

#[tokio::test]
async fn a_script_uploaded_again_outside_athanor_is_drift_and_an_update_repairs_it() {
    let fx = start().await;
    let (decl, out) = deployed(&fx).await;
    let recorded = worker_output(&out);

    // Other code, the same bindings, sent with a raw multipart PUT.
    let (_, settings) = fx.api_get("/workers/scripts/drift-site/settings").await;
    let metadata = json!({
        "main_module": "w.js",
        "compatibility_date": "2025-09-01",
        "bindings": settings["bindings"],
    });
    let form = reqwest::multipart::Form::new()
        .part("metadata", json_part(&metadata))
        .part(
            "w.js",
            reqwest::multipart::Part::text(
                "export default { fetch() { return new Response('not ours'); } };",
            )
            .file_name("w.js")
            .mime_str("application/javascript+module")
            .unwrap(),
        );
    send_multipart(
        &fx,
        reqwest::Method::PUT,
        "/workers/scripts/drift-site",
        form,
    )
    .await;

    let live = read_drifted(&fx, &decl, &out).await;
    let seen = worker_output(&live);
    assert_ne!(seen.etag, recorded.etag);
    assert_eq!(seen.bindings, recorded.bindings);
    assert_eq!(seen.url, recorded.url);
    assert_eq!(
        seen.content_hash, recorded.content_hash,
        "kept from the record"
    );

    // The update the engine plans for drift uploads our code again.
    let repaired = repair(&fx, &decl, &out).await;
    assert_eq!(worker_output(&repaired).etag, recorded.etag);
}

#[tokio::test]
async fn a_binding_removed_through_the_settings_is_drift() {
    let fx = start().await;
    let (decl, out) = deployed(&fx).await;

    let patch = json!({"bindings": [{"type": "plain_text", "name": "VERSION", "text": "1.0.0"}]});
    let form = reqwest::multipart::Form::new().part("settings", json_part(&patch));
    send_multipart(
        &fx,
        reqwest::Method::PATCH,
        "/workers/scripts/drift-site/settings",
        form,
    )
    .await;

    let live = read_drifted(&fx, &decl, &out).await;
    assert_eq!(
        worker_output(&live).bindings,
        BTreeMap::from([("VERSION".to_owned(), "plain_text".to_owned())])
    );

    let repaired = repair(&fx, &decl, &out).await;
    assert!(worker_output(&repaired).bindings.contains_key("MY_KV"));
}

#[tokio::test]
async fn workers_dev_switched_off_outside_is_drift_and_an_update_turns_it_on_again() {
    let fx = start().await;
    let (decl, out) = deployed(&fx).await;

    let (status, _) = fx
        .api_send(
            reqwest::Method::POST,
            "/workers/scripts/drift-site/subdomain",
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(status, 200);

    let live = read_drifted(&fx, &decl, &out).await;
    assert_eq!(worker_output(&live).url, None);

    fx.reset();
    let repaired = repair(&fx, &decl, &out).await;
    assert_eq!(
        count(
            &fx.stats(),
            "POST /accounts/{account_id}/workers/scripts/{script_name}/subdomain"
        ),
        1
    );
    assert_eq!(repaired, out);
    let (_, sub) = fx.api_get("/workers/scripts/drift-site/subdomain").await;
    assert_eq!(sub["enabled"], true);
}
