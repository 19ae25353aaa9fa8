//! The quickstart's first deploy, counted at the emulator: the minimum the API allows.

use athanor_core::stack::{KvNamespace, KvValue, R2Bucket, ResourceRef, Worker};
use athanor_core::{Binding, BindingValue, Provider};
use serde_json::json;

use crate::common::{Decl, count, start};

#[tokio::test]
async fn a_first_deploy_sends_the_minimum_and_a_repeat_changes_nothing() {
    let fx = start().await;
    let root = fx.dir.path().join("app");
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(
        root.join("src/worker.js"),
        "import { handle } from './handler.js';\nexport default { fetch: handle };\n",
    )
    .unwrap();
    std::fs::write(
        root.join("src/handler.js"),
        "export const handle = () => new Response('hi');\n",
    )
    .unwrap();

    let mut values: Vec<KvValue> = (0..12_000)
        .map(|i| KvValue::new(format!("k{i}"), "v"))
        .collect();
    values[0].metadata = Some(json!({"contentType": "text/plain"}));
    values[1].expiration_ttl = Some(3600);
    let kv_decl = Decl::new(
        "sessions",
        "user-sessions",
        KvNamespace {
            title: None,
            values,
        },
    );
    let bucket_decl = Decl::new("storage", "my-bucket", R2Bucket::default());

    fx.reset();
    let kv = fx.provider.create(&kv_decl.desired()).await.unwrap();
    let bucket = fx.provider.create(&bucket_decl.desired()).await.unwrap();
    let worker = Worker {
        code: athanor_core::stack::WorkerCode::Entrypoint("src/worker.js".into()),
        url: true,
        bindings: vec![
            Binding::new(
                "MY_KV",
                BindingValue::Resource(ResourceRef::new("sessions")),
            ),
            Binding::new(
                "STORAGE",
                BindingValue::Resource(ResourceRef::new("storage")),
            ),
            Binding::new("VERSION", "1.0.0"),
        ],
        ..Worker::default()
    };
    let worker_decl = Decl::new("api", "my-worker", worker)
        .root(&root)
        .dep("sessions", kv.clone())
        .dep("storage", bucket.clone());
    let out = fx.provider.create(&worker_decl.desired()).await.unwrap();

    let stats = fx.stats();
    let expected = [
        ("POST /accounts/{account_id}/storage/kv/namespaces", 1),
        (
            "PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk",
            2,
        ),
        ("POST /accounts/{account_id}/r2/buckets", 1),
        (
            "GET /accounts/{account_id}/workers/scripts/{script_name}/settings",
            1,
        ),
        (
            "PUT /accounts/{account_id}/workers/scripts/{script_name}",
            1,
        ),
        (
            "POST /accounts/{account_id}/workers/scripts/{script_name}/subdomain",
            1,
        ),
        ("GET /accounts/{account_id}/workers/subdomain", 1),
    ];
    for (route, n) in expected {
        assert_eq!(count(&stats, route), n, "{route}: {stats:?}");
    }
    assert_eq!(stats.total, 8, "{stats:?}");

    // The same declarations again: nothing to write for KV and R2; the account subdomain is
    // memoised, so a Worker update sends its upload and reads its workers.dev state (which may
    // have been switched outside athanor), nothing more.
    fx.reset();
    fx.provider
        .update(&kv_decl.desired(), kv_decl.existing(&kv))
        .await
        .unwrap();
    fx.provider
        .update(&bucket_decl.desired(), bucket_decl.existing(&bucket))
        .await
        .unwrap();
    assert_eq!(fx.stats().total, 0);
    fx.provider
        .update(&worker_decl.desired(), worker_decl.existing(&out))
        .await
        .unwrap();
    let stats = fx.stats();
    assert_eq!(stats.mutating, 1, "only the upload: {stats:?}");
    assert_eq!(
        stats.total, 2,
        "the upload and the workers.dev state: {stats:?}"
    );
}
