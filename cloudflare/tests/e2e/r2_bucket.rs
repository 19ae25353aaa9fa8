//! R2Bucket against the emulator.

use athanor_core::stack::R2Bucket;
use athanor_core::{Output, Provider, ProviderError};
use reqwest::Method;
use serde_json::json;

use crate::common::{Decl, count, start};

fn bucket(name: &str) -> R2Bucket {
    R2Bucket {
        name: Some(name.into()),
        location_hint: Some("weur".into()),
        storage_class: Some("InfrequentAccess".into()),
        jurisdiction: Some("eu".into()),
    }
}

#[tokio::test]
async fn create_with_location_class_and_jurisdiction_then_read_back() {
    let fx = start().await;
    let decl = Decl::new("storage", "my-bucket", bucket("my-bucket"));
    let out = fx.provider.create(&decl.desired()).await.unwrap();
    let Output::R2Bucket(o) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(o.name, "my-bucket");
    assert_eq!(o.jurisdiction.as_deref(), Some("eu"));
    assert_eq!(o.storage_class.as_deref(), Some("InfrequentAccess"));
    assert_eq!(
        o.location
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("weur")
    );

    // Only visible in its jurisdiction.
    let (status, _) = fx.api_get("/r2/buckets/my-bucket").await;
    assert_eq!(status, 404);
    assert_eq!(
        fx.provider.read(decl.existing(&out)).await.unwrap(),
        Some(out.clone())
    );
}

#[tokio::test]
async fn a_storage_class_change_is_one_patch_and_a_no_op_sends_nothing() {
    let fx = start().await;
    let mut props = bucket("class-bucket");
    props.jurisdiction = None;
    props.storage_class = None;
    let before = Decl::new("b", "class-bucket", props.clone());
    let out = fx.provider.create(&before.desired()).await.unwrap();

    props.storage_class = Some("InfrequentAccess".into());
    let after = Decl::new("b", "class-bucket", props);
    fx.reset();
    let updated = fx
        .provider
        .update(&after.desired(), before.existing(&out))
        .await
        .unwrap();
    assert_eq!(
        count(
            &fx.stats(),
            "PATCH /accounts/{account_id}/r2/buckets/{bucket_name}"
        ),
        1
    );
    assert_eq!(fx.stats().total, 1);
    let (_, b) = fx.api_get("/r2/buckets/class-bucket").await;
    assert_eq!(b["storage_class"], "InfrequentAccess");

    fx.reset();
    fx.provider
        .update(&after.desired(), after.existing(&updated))
        .await
        .unwrap();
    assert_eq!(fx.stats().total, 0);
}

#[tokio::test]
async fn an_existing_bucket_is_an_error_unless_adopted() {
    let fx = start().await;
    let (status, _) = fx
        .api_send(Method::POST, "/r2/buckets", json!({"name": "taken-bucket"}))
        .await;
    assert_eq!(status, 200);
    let decl = Decl::new("b", "taken-bucket", R2Bucket::default());
    let err = fx.provider.create(&decl.desired()).await.unwrap_err();
    assert!(matches!(err, ProviderError::AlreadyExists { .. }), "{err}");
    assert!(
        err.to_string().contains("R2 bucket \"taken-bucket\""),
        "{err}"
    );
    let decl = decl.adopt();
    let out = fx.provider.create(&decl.desired()).await.unwrap();
    assert_eq!(out.name(), "taken-bucket");
}

#[tokio::test]
async fn delete_removes_it_and_tolerates_absence() {
    let fx = start().await;
    let decl = Decl::new("b", "gone-bucket", bucket("gone-bucket"));
    let out = fx.provider.create(&decl.desired()).await.unwrap();
    fx.provider.delete(decl.existing(&out)).await.unwrap();
    assert_eq!(fx.provider.read(decl.existing(&out)).await.unwrap(), None);
    fx.provider.delete(decl.existing(&out)).await.unwrap();
}

#[tokio::test]
async fn invalid_input_is_rejected_naming_the_resource() {
    let fx = start().await;
    let mut props = bucket("bad-class");
    props.storage_class = Some("Glacier".into());
    let decl = Decl::new("bad", "bad-class", props);
    let err = fx.provider.create(&decl.desired()).await.unwrap_err();
    assert!(err.api().is_some_and(|api| api.status == 400), "{err:?}");
    assert!(err.to_string().contains("R2Bucket \"bad\""), "{err}");
}
