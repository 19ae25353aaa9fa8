//! SecretsStore, Secret and SecretRef against the emulator.

use athanor_core::stack::{DEFAULT_SECRETS_STORE, ResourceRef, Secret, SecretRef, SecretsStore};
use athanor_core::{Output, Provider, ProviderError, SecretSource};
use reqwest::Method;
use serde_json::json;

use crate::common::{Decl, count, start};

const PATCH_SECRET: &str =
    "PATCH /accounts/{account_id}/secrets_store/stores/{store_id}/secrets/{secret_id}";

fn secret(name: &str, store: Option<&str>) -> Secret {
    Secret {
        value: SecretSource::env("SIGNING_KEY"),
        name: Some(name.into()),
        store: store.map(ResourceRef::new),
        scopes: Vec::new(),
    }
}

async fn stores(fx: &crate::common::Fixture) -> Vec<String> {
    let (_, list) = fx.api_get("/secrets_store/stores").await;
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_store_is_created_and_deleted_but_an_adopted_one_is_kept() {
    let fx = start().await;
    let decl = Decl::new("store", "production-secrets", SecretsStore::default());
    let out = fx.provider.create(&decl.desired()).await.unwrap();
    let Output::SecretsStore(o) = &out else {
        panic!("{out:?}")
    };
    assert!(o.created);
    assert_eq!(stores(&fx).await, ["production-secrets"]);
    assert_eq!(
        fx.provider.read(decl.existing(&out)).await.unwrap(),
        Some(out.clone())
    );
    fx.provider.delete(decl.existing(&out)).await.unwrap();
    assert!(stores(&fx).await.is_empty());
    assert_eq!(fx.provider.read(decl.existing(&out)).await.unwrap(), None);

    fx.api_send(
        Method::POST,
        "/secrets_store/stores",
        json!({"name": "theirs"}),
    )
    .await;
    let decl = Decl::new("store", "theirs", SecretsStore::default());
    let err = fx.provider.create(&decl.desired()).await.unwrap_err();
    assert!(matches!(err, ProviderError::AlreadyExists { .. }), "{err}");
    assert!(err.to_string().contains("adopt: true"), "{err}");
    let decl = decl.adopt();
    let out = fx.provider.create(&decl.desired()).await.unwrap();
    let Output::SecretsStore(o) = &out else {
        panic!("{out:?}")
    };
    assert!(!o.created);
    fx.reset();
    fx.provider.delete(decl.existing(&out)).await.unwrap();
    assert_eq!(
        fx.stats().total,
        0,
        "a store we did not create is never deleted"
    );
    assert_eq!(stores(&fx).await, ["theirs"]);
}

#[tokio::test]
async fn a_store_made_by_an_interrupted_create_is_taken_over_as_ours() {
    let fx = start().await;
    // The interrupted run's create reached Cloudflare; its answer never made it to state.
    let decl = Decl::new("store", "production-secrets", SecretsStore::default());
    fx.provider.create(&decl.desired()).await.unwrap();
    let resumed = decl.resumed();
    let out = fx.provider.create(&resumed.desired()).await.unwrap();
    let Output::SecretsStore(o) = &out else {
        panic!("{out:?}")
    };
    assert!(
        o.created,
        "a resumed create's store is this stack's: destroy deletes it"
    );
    fx.provider.delete(resumed.existing(&out)).await.unwrap();
    assert!(stores(&fx).await.is_empty());
}

#[tokio::test]
async fn a_secret_without_store_goes_to_the_default_store_created_once() {
    let fx = start().await;
    let a = Decl::new("signing-key", "SIGNING_KEY", secret("SIGNING_KEY", None))
        .secret("value", "s3cr3t-a");
    let b =
        Decl::new("other-key", "OTHER_KEY", secret("OTHER_KEY", None)).secret("value", "s3cr3t-b");
    let (da, db) = (a.desired(), b.desired());
    let (oa, ob) = tokio::join!(fx.provider.create(&da), fx.provider.create(&db));
    let (oa, ob) = (oa.unwrap(), ob.unwrap());
    assert_eq!(stores(&fx).await, [DEFAULT_SECRETS_STORE]);
    let (Output::Secret(sa), Output::Secret(sb)) = (&oa, &ob) else {
        panic!()
    };
    assert_eq!(sa.store_id, sb.store_id);
    let (_, listed) = fx
        .api_get(&format!(
            "/secrets_store/stores/{}/secrets/{}",
            sa.store_id, sa.id
        ))
        .await;
    assert_eq!(listed["name"], "SIGNING_KEY");
    assert_eq!(listed["scopes"], json!(["workers"]));
    assert_eq!(
        fx.provider.read(a.existing(&oa)).await.unwrap(),
        Some(oa.clone())
    );

    // A value change is one PATCH.
    let changed = Decl::new("signing-key", "SIGNING_KEY", secret("SIGNING_KEY", None))
        .secret("value", "rotated");
    fx.reset();
    let updated = fx
        .provider
        .update(&changed.desired(), a.existing(&oa))
        .await
        .unwrap();
    assert_eq!(updated, oa);
    assert_eq!(count(&fx.stats(), PATCH_SECRET), 1);
    assert_eq!(fx.stats().total, 1);

    fx.provider.delete(a.existing(&oa)).await.unwrap();
    assert_eq!(fx.provider.read(a.existing(&oa)).await.unwrap(), None);
    fx.provider.delete(a.existing(&oa)).await.unwrap();
}

#[tokio::test]
async fn an_existing_secret_is_an_error_unless_adopted_and_then_its_value_is_set() {
    let fx = start().await;
    let store_decl = Decl::new("store", "production-secrets", SecretsStore::default());
    let store = fx.provider.create(&store_decl.desired()).await.unwrap();
    let store_id = store.id().unwrap().to_owned();
    let (status, _) = fx
        .api_send(
            Method::POST,
            &format!("/secrets_store/stores/{store_id}/secrets"),
            json!([{"name": "API_TOKEN", "value": "old", "scopes": ["workers"]}]),
        )
        .await;
    assert_eq!(status, 200);

    let decl = Decl::new("api-token", "API_TOKEN", secret("API_TOKEN", Some("store")))
        .dep("store", store.clone())
        .secret("value", "brand-new-value");
    let err = fx.provider.create(&decl.desired()).await.unwrap_err();
    assert!(matches!(err, ProviderError::AlreadyExists { .. }), "{err}");
    assert!(!err.to_string().contains("brand-new-value"));

    let decl = decl.adopt();
    fx.reset();
    let out = fx.provider.create(&decl.desired()).await.unwrap();
    let Output::Secret(s) = &out else { panic!() };
    assert_eq!(s.store_id, store_id);
    assert_eq!(count(&fx.stats(), PATCH_SECRET), 1);
}

#[tokio::test]
async fn invalid_input_is_rejected_without_showing_the_value() {
    let fx = start().await;
    let mut props = secret("BAD_SCOPE", None);
    props.scopes = vec!["nowhere".into()];
    let decl = Decl::new("bad", "BAD_SCOPE", props).secret("value", "never-print-me");
    let err = fx.provider.create(&decl.desired()).await.unwrap_err();
    assert!(err.api().is_some_and(|api| api.status == 400), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(text.contains("Secret \"bad\""), "{text}");
    assert!(!text.contains("never-print-me"), "{text}");
    assert!(!format!("{:?}", decl.desired()).contains("never-print-me"));
}

#[tokio::test]
async fn a_secret_ref_resolves_an_existing_secret_and_names_a_missing_one() {
    let fx = start().await;
    let missing_store = Decl::new(
        "api-key",
        "API_KEY",
        SecretRef {
            name: "API_KEY".into(),
            store: None,
        },
    );
    let err = fx
        .provider
        .create(&missing_store.desired())
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains(DEFAULT_SECRETS_STORE), "{err}");

    let store_decl = Decl::new("store", "production-secrets", SecretsStore::default());
    let store = fx.provider.create(&store_decl.desired()).await.unwrap();
    let store_id = store.id().unwrap().to_owned();
    let r = Decl::new(
        "api-key",
        "API_KEY",
        SecretRef {
            name: "API_KEY".into(),
            store: Some(ResourceRef::new("store")),
        },
    )
    .dep("store", store.clone());
    let err = fx.provider.create(&r.desired()).await.unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("API_KEY") && text.contains("production-secrets"),
        "{text}"
    );

    // A name that only contains the one asked for does not match.
    fx.api_send(
        Method::POST,
        &format!("/secrets_store/stores/{store_id}/secrets"),
        json!([{"name": "API_KEY_OLD", "value": "x"}, {"name": "API_KEY", "value": "y"}]),
    )
    .await;
    let out = fx.provider.create(&r.desired()).await.unwrap();
    let Output::SecretRef(s) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(s.name, "API_KEY");
    assert_eq!(s.store_id, store_id);
    assert_eq!(
        fx.provider.read(r.existing(&out)).await.unwrap(),
        Some(out.clone())
    );
    fx.reset();
    fx.provider.delete(r.existing(&out)).await.unwrap();
    assert_eq!(fx.stats().total, 0, "a SecretRef never deletes the secret");
}
