//! DispatchNamespace against the emulator.

use athanor_core::stack::DispatchNamespace;
use athanor_core::{Output, Provider, ProviderError};
use reqwest::Method;
use serde_json::json;

use crate::common::{Decl, start};

#[tokio::test]
async fn create_read_update_and_delete() {
    let fx = start().await;
    let decl = Decl::new("tenants", "customers", DispatchNamespace::default());
    let out = fx.provider.create(&decl.desired()).await.unwrap();
    let Output::DispatchNamespace(o) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(o.name, "customers");
    let (status, ns) = fx.api_get("/workers/dispatch/namespaces/customers").await;
    assert_eq!(status, 200);
    assert_eq!(ns["namespace_id"], o.id.as_str());
    assert_eq!(
        fx.provider.read(decl.existing(&out)).await.unwrap(),
        Some(out.clone())
    );

    fx.reset();
    let same = fx
        .provider
        .update(&decl.desired(), decl.existing(&out))
        .await
        .unwrap();
    assert_eq!(same, out);
    assert_eq!(fx.stats().total, 0);

    fx.provider.delete(decl.existing(&out)).await.unwrap();
    assert_eq!(
        fx.api_get("/workers/dispatch/namespaces/customers").await.0,
        404
    );
    assert_eq!(fx.provider.read(decl.existing(&out)).await.unwrap(), None);
    fx.provider.delete(decl.existing(&out)).await.unwrap();
}

#[tokio::test]
async fn an_existing_namespace_is_an_error_unless_adopted() {
    let fx = start().await;
    let (status, created) = fx
        .api_send(
            Method::POST,
            "/workers/dispatch/namespaces",
            json!({"name": "shared"}),
        )
        .await;
    assert_eq!(status, 200);
    let decl = Decl::new("tenants", "shared", DispatchNamespace::default());
    let err = fx.provider.create(&decl.desired()).await.unwrap_err();
    assert!(matches!(err, ProviderError::AlreadyExists { .. }), "{err}");
    let decl = decl.adopt();
    fx.reset();
    let out = fx.provider.create(&decl.desired()).await.unwrap();
    assert_eq!(out.id(), created["result"]["namespace_id"].as_str());
    // Adopted with one read, as each tenant of a platform adopts the platform's namespace.
    assert_eq!((fx.stats().total, fx.stats().mutating), (1, 0));
    // Adopting a namespace that does not exist yet creates it.
    let fresh = Decl::new("tenants", "fresh", DispatchNamespace::default()).adopt();
    let out = fx.provider.create(&fresh.desired()).await.unwrap();
    assert_eq!(
        fx.api_get("/workers/dispatch/namespaces/fresh").await.1["namespace_id"].as_str(),
        out.id()
    );
}

#[tokio::test]
async fn invalid_input_is_rejected_naming_the_resource() {
    let fx = start().await;
    let decl = Decl::new("bad", "", DispatchNamespace::default());
    let err = fx.provider.create(&decl.desired()).await.unwrap_err();
    assert!(err.api().is_some_and(|api| api.status == 400), "{err:?}");
    assert!(
        err.to_string().contains("DispatchNamespace \"bad\""),
        "{err}"
    );
}
