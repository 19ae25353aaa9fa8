//! KvNamespace against the emulator.

use athanor_core::stack::{KvNamespace, KvPayload, KvValue};
use athanor_core::{Output, Provider, ProviderError};
use reqwest::Method;
use serde_json::json;

use crate::common::{Decl, count, start};

const BULK: &str = "PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk";
const BULK_DELETE: &str =
    "POST /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk/delete";

fn seeded() -> KvNamespace {
    let mut session = KvValue::new(
        "session_123",
        KvPayload::Json(json!({"userId": "user_456", "role": "admin"})),
    );
    session.expiration_ttl = Some(3600);
    let mut asset = KvValue::new("main.js", "content...");
    asset.metadata = Some(json!({"contentType": "application/javascript", "etag": "abc123"}));
    let mut dated = KvValue::new("dated", "d");
    dated.expiration = Some(4_000_000_000);
    KvNamespace {
        title: Some("user-sessions".into()),
        values: vec![session, asset, dated],
    }
}

fn id_of(out: &Output) -> String {
    out.id().unwrap().to_owned()
}

#[tokio::test]
async fn create_writes_values_with_expiry_and_metadata_and_reads_back() {
    let fx = start().await;
    let decl = Decl::new("sessions", "user-sessions", seeded());
    let out = fx.provider.create(&decl.desired()).await.unwrap();
    let id = id_of(&out);
    assert_eq!(out.name(), "user-sessions");

    let (status, ns) = fx.api_get(&format!("/storage/kv/namespaces/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(ns["title"], "user-sessions");

    let (status, body, exp) = fx.kv_value(&id, "session_123").await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        json!({"userId": "user_456", "role": "admin"})
    );
    let exp: u64 = exp.expect("a TTL gives an expiration").parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(exp > now + 3500 && exp <= now + 3700, "{exp} vs {now}");
    let (_, _, exp) = fx.kv_value(&id, "dated").await;
    assert_eq!(exp.as_deref(), Some("4000000000"));
    let (_, meta) = fx
        .api_get(&format!("/storage/kv/namespaces/{id}/metadata/main.js"))
        .await;
    assert_eq!(
        meta,
        json!({"contentType": "application/javascript", "etag": "abc123"})
    );

    let read = fx.provider.read(decl.existing(&out)).await.unwrap();
    assert_eq!(read, Some(out.clone()));
}

#[tokio::test]
async fn update_renames_writes_changes_and_deletes_dropped_keys_and_a_no_op_sends_nothing() {
    let fx = start().await;
    let before = Decl::new("sessions", "user-sessions", seeded());
    let out = fx.provider.create(&before.desired()).await.unwrap();
    let id = id_of(&out);

    let mut props = seeded();
    props.title = Some("renamed-sessions".into());
    props.values.retain(|v| v.key != "dated");
    props.values[1].value = KvPayload::Text("new content".into());
    props.values.push(KvValue::new("added", "a"));
    let after = Decl::new("sessions", "renamed-sessions", props);
    fx.reset();
    let updated = fx
        .provider
        .update(&after.desired(), before.existing(&out))
        .await
        .unwrap();
    assert_eq!(id_of(&updated), id);
    assert_eq!(updated.name(), "renamed-sessions");
    let stats = fx.stats();
    assert_eq!(
        count(
            &stats,
            "PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}"
        ),
        1
    );
    assert_eq!(count(&stats, BULK), 1);
    assert_eq!(count(&stats, BULK_DELETE), 1);
    assert_eq!(stats.total, 3, "{stats:?}");

    let (_, ns) = fx.api_get(&format!("/storage/kv/namespaces/{id}")).await;
    assert_eq!(ns["title"], "renamed-sessions");
    assert_eq!(fx.kv_value(&id, "main.js").await.1, "new content");
    assert_eq!(fx.kv_value(&id, "added").await.1, "a");
    assert_eq!(fx.kv_value(&id, "dated").await.0, 404);
    let (_, keys) = fx
        .api_get(&format!("/storage/kv/namespaces/{id}/keys"))
        .await;
    let mut names: Vec<String> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["added", "main.js", "session_123"]);

    fx.reset();
    let again = fx
        .provider
        .update(&after.desired(), after.existing(&updated))
        .await
        .unwrap();
    assert_eq!(again, updated);
    assert_eq!(fx.stats().total, 0, "a no-op update sends nothing");
}

#[tokio::test]
async fn an_existing_title_is_an_error_unless_adopted() {
    let fx = start().await;
    let (status, created) = fx
        .api_send(
            Method::POST,
            "/storage/kv/namespaces",
            json!({"title": "existing-namespace"}),
        )
        .await;
    assert_eq!(status, 200);
    let existing_id = created["result"]["id"].as_str().unwrap().to_owned();

    let decl = Decl::new("existing-ns", "existing-namespace", KvNamespace::default());
    let err = fx.provider.create(&decl.desired()).await.unwrap_err();
    assert!(matches!(err, ProviderError::AlreadyExists { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("existing-namespace") && text.contains("adopt: true"),
        "{text}"
    );

    let mut props = KvNamespace::default();
    props.values.push(KvValue::new("k", "v"));
    let decl = Decl::new("existing-ns", "existing-namespace", props).adopt();
    let out = fx.provider.create(&decl.desired()).await.unwrap();
    assert_eq!(id_of(&out), existing_id);
    assert_eq!(fx.kv_value(&existing_id, "k").await.1, "v");
}

#[tokio::test]
async fn delete_removes_it_and_tolerates_absence() {
    let fx = start().await;
    let decl = Decl::new("kv", "to-delete", KvNamespace::default());
    let out = fx.provider.create(&decl.desired()).await.unwrap();
    fx.provider.delete(decl.existing(&out)).await.unwrap();
    let (status, _) = fx
        .api_get(&format!("/storage/kv/namespaces/{}", id_of(&out)))
        .await;
    assert_eq!(status, 404);
    assert_eq!(fx.provider.read(decl.existing(&out)).await.unwrap(), None);
    fx.provider.delete(decl.existing(&out)).await.unwrap();
}

#[tokio::test]
async fn invalid_input_is_rejected_naming_the_resource() {
    let fx = start().await;
    let long = "t".repeat(600);
    let decl = Decl::new("long-title", &long, KvNamespace::default());
    let err = fx.provider.create(&decl.desired()).await.unwrap_err();
    match err.api() {
        Some(api) => assert_eq!(api.status, 400),
        None => panic!("expected an API error, got {err:?}"),
    }
    assert!(
        err.to_string().contains("KvNamespace \"long-title\""),
        "{err}"
    );

    let mut props = KvNamespace::default();
    let mut short = KvValue::new("k", "v");
    short.expiration_ttl = Some(10);
    props.values.push(short);
    let decl = Decl::new("short-ttl", "short-ttl", props);
    let err = fx.provider.create(&decl.desired()).await.unwrap_err();
    assert!(
        err.to_string().contains("KvNamespace \"short-ttl\""),
        "{err}"
    );
}

#[tokio::test]
async fn ten_thousand_and_one_pairs_take_two_bulk_writes() {
    let fx = start().await;
    let props = KvNamespace {
        title: None,
        values: (0..10_001)
            .map(|i| KvValue::new(format!("key-{i}"), "v"))
            .collect(),
    };
    let decl = Decl::new("many", "many-values", props);
    fx.reset();
    let out = fx.provider.create(&decl.desired()).await.unwrap();
    let stats = fx.stats();
    assert_eq!(count(&stats, BULK), 2, "{stats:?}");
    assert_eq!(stats.total, 3);
    assert_eq!(fx.kv_value(&id_of(&out), "key-10000").await.1, "v");
}

#[tokio::test]
async fn keys_a_bulk_write_reports_unwritten_are_sent_again_and_a_second_refusal_is_an_error() {
    let fx = start().await;
    // The first bulk write leaves its last key unwritten and says so: it is sent again alone.
    fx.emulator.set_faults(athanor_emulator::Faults {
        kv_bulk_unwritten: 1,
        ..Default::default()
    });
    fx.reset();
    let decl = Decl::new("sessions", "user-sessions", seeded());
    let out = fx.provider.create(&decl.desired()).await.unwrap();
    assert_eq!(count(&fx.stats(), BULK), 2);
    let id = id_of(&out);
    for key in ["session_123", "main.js", "dated"] {
        assert_eq!(fx.kv_value(&id, key).await.0, 200, "{key} was written");
    }

    // Refused twice: the deploy fails, naming the key, rather than record values it lacks.
    fx.emulator.set_faults(athanor_emulator::Faults {
        kv_bulk_unwritten: 2,
        ..Default::default()
    });
    let decl = Decl::new("other", "other-sessions", {
        let mut p = seeded();
        p.title = Some("other-sessions".into());
        p
    });
    let err = fx.provider.create(&decl.desired()).await.unwrap_err();
    let text = athanor_core::provider::report(&err);
    assert!(
        text.contains("writing the values of")
            && text.contains("\"dated\"")
            && text.contains("twice"),
        "{text}"
    );
}
