//! R2Bucket against the emulator.

use athanor_core::stack::{CorsRule, LifecycleRule, R2Bucket};
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
        ..R2Bucket::default()
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

#[tokio::test]
async fn cors_lifecycle_and_the_public_address_are_each_one_call_when_they_change() {
    const CORS: &str = "PUT /accounts/{account_id}/r2/buckets/{bucket_name}/cors";
    const LIFECYCLE: &str = "PUT /accounts/{account_id}/r2/buckets/{bucket_name}/lifecycle";
    const DOMAIN: &str = "PUT /accounts/{account_id}/r2/buckets/{bucket_name}/domains/managed";
    let fx = start().await;
    let mut props = R2Bucket {
        name: Some("site-assets".into()),
        public: true,
        cors: vec![CorsRule {
            origins: vec!["https://app.example.com".into()],
            methods: vec!["GET".into(), "HEAD".into()],
            max_age: Some(3600),
            ..CorsRule::default()
        }],
        lifecycle: vec![LifecycleRule {
            id: "expire-tmp".into(),
            prefix: Some("tmp/".into()),
            expire_after_days: Some(1),
            ..LifecycleRule::default()
        }],
        ..R2Bucket::default()
    };
    let first = Decl::new("assets", "site-assets", props.clone());
    fx.reset();
    let out = fx.provider.create(&first.desired()).await.unwrap();
    let stats = fx.stats();
    assert_eq!(
        (
            count(&stats, CORS),
            count(&stats, LIFECYCLE),
            count(&stats, DOMAIN)
        ),
        (1, 1, 1)
    );
    let Output::R2Bucket(o) = &out else {
        panic!("{out:?}")
    };
    let url = o.public_url.clone().unwrap();
    assert!(
        url.starts_with("https://pub-") && url.ends_with(".r2.dev"),
        "{url}"
    );
    let (_, cors) = fx.api_get("/r2/buckets/site-assets/cors").await;
    assert_eq!(
        cors["rules"][0]["allowed"],
        json!({"origins": ["https://app.example.com"], "methods": ["GET", "HEAD"]})
    );
    assert_eq!(cors["rules"][0]["maxAgeSeconds"], 3600);
    let (_, lifecycle) = fx.api_get("/r2/buckets/site-assets/lifecycle").await;
    let rule = &lifecycle["rules"][0];
    assert_eq!(rule["id"], "expire-tmp");
    assert_eq!(rule["conditions"]["prefix"], "tmp/");
    assert_eq!(
        rule["deleteObjectsTransition"]["condition"]["maxAge"],
        86_400
    );
    // What was set reads back as it was recorded.
    assert_eq!(
        fx.provider.read(first.existing(&out)).await.unwrap(),
        Some(out.clone())
    );

    // Only the CORS policy changes: one call.
    props.cors[0]
        .origins
        .push("https://admin.example.com".into());
    let second = Decl::new("assets", "site-assets", props.clone());
    fx.reset();
    let out = fx
        .provider
        .update(&second.desired(), first.existing(&out))
        .await
        .unwrap();
    let stats = fx.stats();
    assert_eq!(stats.total, 1, "{stats:?}");
    assert_eq!(count(&stats, CORS), 1);

    // Everything dropped: no CORS policy, Cloudflare's default lifecycle rule, private.
    let plain = R2Bucket {
        name: Some("site-assets".into()),
        ..R2Bucket::default()
    };
    let third = Decl::new("assets", "site-assets", plain);
    fx.reset();
    let out = fx
        .provider
        .update(&third.desired(), second.existing(&out))
        .await
        .unwrap();
    assert_eq!(fx.stats().total, 3, "{:?}", fx.stats());
    let Output::R2Bucket(o) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(o.public_url, None);
    assert_eq!(fx.api_get("/r2/buckets/site-assets/cors").await.0, 404);
    let (_, lifecycle) = fx.api_get("/r2/buckets/site-assets/lifecycle").await;
    assert_eq!(lifecycle["rules"][0]["id"], "Default Multipart Abort Rule");
    let (_, domain) = fx.api_get("/r2/buckets/site-assets/domains/managed").await;
    assert_eq!(domain["enabled"], false);
}
