//! Worker against the emulator: uploads, bindings, Durable Object migrations, ownership,
//! workers.dev, dispatch namespaces.

use std::path::Path;

use athanor_core::stack::{
    DispatchNamespace, DurableObjectNamespace, KvNamespace, R2Bucket, ResourceRef, Secret,
    SecretsStore, Worker,
};
use athanor_core::{Binding, BindingValue, Output, Provider, ProviderError, SecretSource};
use serde_json::json;

use crate::common::{Decl, Fixture, count, do_output, start, worker_output};

const UPLOAD: &str = "PUT /accounts/{account_id}/workers/scripts/{script_name}";
const WFP_UPLOAD: &str = "PUT /accounts/{account_id}/workers/dispatch/namespaces/{dispatch_namespace}/scripts/{script_name}";

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn res(id: &str) -> BindingValue {
    BindingValue::Resource(ResourceRef::new(id))
}

async fn classes(fx: &Fixture, script: &str) -> Vec<String> {
    let (_, list) = fx
        .api_get("/workers/durable_objects/namespaces?per_page=1000")
        .await;
    let mut out: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["script"] == script)
        .map(|n| n["class"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

fn ts_worker(root: &Path) {
    write(
        root,
        "src/worker.ts",
        "import { DurableObject } from 'cloudflare:workers';\nimport { greet } from './greet.ts';\ninterface Env { VERSION: string }\nexport class Counter extends DurableObject {}\nexport default { async fetch(_req: Request, env: Env): Promise<Response> { return new Response(greet(env.VERSION)); } };\n",
    );
    write(
        root,
        "src/greet.ts",
        "export const greet = (v: string): string => `v${v}`;\n",
    );
}

#[tokio::test]
async fn the_quickstart_worker_gets_exactly_its_bindings_and_a_workers_dev_url() {
    let fx = start().await;
    let root = fx.dir.path().join("app");
    ts_worker(&root);
    let p = &fx.provider;

    let kv_decl = Decl::new("sessions", "user-sessions", KvNamespace::default());
    let kv = p.create(&kv_decl.desired()).await.unwrap();
    let bucket_decl = Decl::new("storage", "my-bucket", R2Bucket::default());
    let bucket = p.create(&bucket_decl.desired()).await.unwrap();
    let counter_decl = Decl::new(
        "counter",
        "Counter",
        DurableObjectNamespace {
            class_name: "Counter".into(),
            sqlite: true,
            ..Default::default()
        },
    );
    let counter = p.create(&counter_decl.desired()).await.unwrap();
    let store_decl = Decl::new("store", "production-secrets", SecretsStore::default());
    let store = p.create(&store_decl.desired()).await.unwrap();
    let signing_decl = Decl::new(
        "signing-key",
        "SIGNING_KEY",
        Secret {
            value: SecretSource::env("SIGNING_KEY"),
            name: None,
            store: Some(ResourceRef::new("store")),
            scopes: vec![],
        },
    )
    .dep("store", store.clone())
    .secret("value", "signing-secret");
    let signing = p.create(&signing_decl.desired()).await.unwrap();
    let tenants_decl = Decl::new("tenants", "customers", DispatchNamespace::default());
    let tenants = p.create(&tenants_decl.desired()).await.unwrap();

    let props = Worker {
        code: athanor_core::stack::WorkerCode::Entrypoint("src/worker.ts".into()),
        url: true,
        bindings: vec![
            Binding::new("MY_KV", res("sessions")),
            Binding::new("COUNTER", res("counter")),
            Binding::new("STORAGE", res("storage")),
            Binding::new("SIGNING_KEY", res("signing-key")),
            Binding::new("TOKEN", SecretSource::env("TOKEN")),
            Binding::new("DEBUG_MODE", true),
            Binding::new("VERSION", "1.0.0"),
            Binding::new("TENANTS", res("tenants")),
        ],
        ..Worker::default()
    };
    let decl = Decl::new("api", "my-worker", props)
        .root(&root)
        .dep("sessions", kv.clone())
        .dep("storage", bucket)
        .dep("counter", counter)
        .dep("signing-key", signing.clone())
        .dep("tenants", tenants)
        .secret("TOKEN", "token-value");
    fx.reset();
    let out = p.create(&decl.desired()).await.unwrap();
    let stats = fx.stats();
    assert_eq!(count(&stats, UPLOAD), 1, "{stats:?}");
    let w = worker_output(&out);
    assert_eq!(w.migration_tag.as_deref(), Some("v1"));
    let (_, sub) = fx.api_get("/workers/subdomain").await;
    assert_eq!(
        w.url.as_deref(),
        Some(
            format!(
                "https://my-worker.{}.workers.dev",
                sub["subdomain"].as_str().unwrap()
            )
            .as_str()
        )
    );
    assert_eq!(
        Some(w.content_hash.clone()),
        p.fingerprint(&decl.desired()).await.unwrap()
    );

    let (status, settings) = fx.api_get("/workers/scripts/my-worker/settings").await;
    assert_eq!(status, 200);
    let Output::Secret(s) = &signing else {
        panic!()
    };
    assert_eq!(
        settings["bindings"],
        json!([
            {"type": "kv_namespace", "name": "MY_KV", "namespace_id": kv.id().unwrap()},
            {"type": "durable_object_namespace", "name": "COUNTER", "class_name": "Counter"},
            {"type": "r2_bucket", "name": "STORAGE", "bucket_name": "my-bucket"},
            {"type": "secrets_store_secret", "name": "SIGNING_KEY", "store_id": s.store_id, "secret_name": "SIGNING_KEY"},
            {"type": "secret_text", "name": "TOKEN"},
            {"type": "json", "name": "DEBUG_MODE", "json": true},
            {"type": "plain_text", "name": "VERSION", "text": "1.0.0"},
            {"type": "dispatch_namespace", "name": "TENANTS", "namespace": "customers"},
        ])
    );
    let tags: Vec<&str> = settings["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tags.contains(&"athanor:id:api") && tags.contains(&"athanor:do:counter:Counter"),
        "{tags:?}"
    );
    let (_, subdomain) = fx.api_get("/workers/scripts/my-worker/subdomain").await;
    assert_eq!(subdomain["enabled"], true);
    assert_eq!(classes(&fx, "my-worker").await, ["Counter"]);
    let (_, listed) = fx
        .api_get("/workers/durable_objects/namespaces?per_page=1000")
        .await;
    let counter_id = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["script"] == "my-worker" && n["class"] == "Counter")
        .expect("the upload created the Counter namespace")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        w.durable_objects,
        std::collections::BTreeMap::from([("Counter".to_owned(), counter_id)])
    );
    assert_eq!(
        w.bindings.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "COUNTER",
            "DEBUG_MODE",
            "MY_KV",
            "SIGNING_KEY",
            "STORAGE",
            "TENANTS",
            "TOKEN",
            "VERSION"
        ]
    );
    assert_eq!(w.bindings["TOKEN"], "secret_text");
    assert!(!serde_json::to_string(&out).unwrap().contains("token-value"));
    assert_eq!(
        p.read(decl.existing(&out)).await.unwrap(),
        Some(out.clone())
    );
    assert_eq!(p.fingerprint(&kv_decl.desired()).await.unwrap(), None);
}

fn do_worker(root: &Path, bindings: Vec<(&str, &str)>) -> Worker {
    write(
        root,
        "w.js",
        "export class Counter {}\nexport class Tally {}\nexport class Room {}\nexport default { fetch() { return new Response('ok'); } };\n",
    );
    Worker {
        code: athanor_core::stack::WorkerCode::Entrypoint("w.js".into()),
        bindings: bindings
            .into_iter()
            .map(|(name, id)| Binding::new(name, res(id)))
            .collect(),
        ..Worker::default()
    }
}

#[tokio::test]
async fn renamed_and_deleted_classes_come_from_the_deployed_tags_and_a_stale_tag_is_retried() {
    let fx = start().await;
    let root = fx.dir.path().to_path_buf();
    let first = Decl::new(
        "w",
        "do-worker",
        do_worker(&root, vec![("COUNTER", "counter"), ("ROOM", "room")]),
    )
    .root(&root)
    .dep("counter", do_output("Counter", true))
    .dep("room", do_output("Room", false));
    let out = fx.provider.create(&first.desired()).await.unwrap();
    assert_eq!(classes(&fx, "do-worker").await, ["Counter", "Room"]);
    assert_eq!(worker_output(&out).migration_tag.as_deref(), Some("v1"));

    // The same logical id with another class is a rename; the dropped one is deleted. The state
    // handed in has lost the migration tag: the mismatch is read and retried once.
    let second = Decl::new(
        "w",
        "do-worker",
        do_worker(&root, vec![("COUNTER", "counter")]),
    )
    .root(&root)
    .dep("counter", do_output("Tally", true));
    let mut stale = out.clone();
    if let Output::Worker(w) = &mut stale {
        w.migration_tag = None;
        w.url = None;
    }
    let mut stale_existing = first.existing(&stale);
    stale_existing.props = &first.resource.props;
    // With no migration tag recorded, settings are read only because classes are bound.
    fx.reset();
    let updated = fx
        .provider
        .update(&second.desired(), stale_existing)
        .await
        .unwrap();
    assert_eq!(
        count(&fx.stats(), UPLOAD),
        2,
        "one upload, one retry after the tag mismatch"
    );
    assert_eq!(classes(&fx, "do-worker").await, ["Tally"]);
    assert_eq!(worker_output(&updated).migration_tag.as_deref(), Some("v2"));

    // Nothing changed: one upload, no migration, no retry.
    fx.reset();
    let again = fx
        .provider
        .update(&second.desired(), second.existing(&updated))
        .await
        .unwrap();
    assert_eq!(count(&fx.stats(), UPLOAD), 1);
    assert_eq!(worker_output(&again).migration_tag.as_deref(), Some("v2"));

    // Dropping every class deletes it, read from the script's tags.
    let third = Decl::new("w", "do-worker", do_worker(&root, vec![])).root(&root);
    let last = fx
        .provider
        .update(&third.desired(), second.existing(&again))
        .await
        .unwrap();
    assert!(classes(&fx, "do-worker").await.is_empty());
    assert_eq!(worker_output(&last).migration_tag.as_deref(), Some("v3"));
}

async fn upload_foreign(fx: &Fixture, name: &str) {
    let form = reqwest::multipart::Form::new()
        .part(
            "metadata",
            reqwest::multipart::Part::text(json!({"main_module": "index.js"}).to_string())
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "index.js",
            reqwest::multipart::Part::text("export default { fetch() {} };")
                .file_name("index.js")
                .mime_str("application/javascript+module")
                .unwrap(),
        );
    let url = fx.emulator.account_url(&format!("/workers/scripts/{name}"));
    let resp = reqwest::Client::new()
        .put(url)
        .bearer_auth(fx.emulator.token())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

#[tokio::test]
async fn a_script_that_is_not_ours_is_an_error_unless_adopted_and_ours_is_recovered() {
    let fx = start().await;
    let root = fx.dir.path().to_path_buf();
    upload_foreign(&fx, "legacy").await;
    let decl = Decl::new("legacy", "legacy", do_worker(&root, vec![])).root(&root);
    let err = fx.provider.create(&decl.desired()).await.unwrap_err();
    assert!(matches!(err, ProviderError::AlreadyExists { .. }), "{err}");
    assert!(
        err.to_string().contains("Worker \"legacy\"") && err.to_string().contains("adopt: true")
    );

    let adopted = Decl::new("legacy", "legacy", do_worker(&root, vec![]))
        .root(&root)
        .adopt();
    fx.provider.create(&adopted.desired()).await.unwrap();
    let (_, settings) = fx.api_get("/workers/scripts/legacy/settings").await;
    assert!(
        settings["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("athanor:id:legacy"))
    );

    // A create interrupted after the upload is recovered without `adopt`: the script is ours.
    fx.provider.create(&decl.desired()).await.unwrap();
}

#[tokio::test]
async fn a_resumed_create_takes_over_only_a_script_with_this_stacks_tags() {
    let fx = start().await;
    let root = fx.dir.path().to_path_buf();
    // Another stack's script, or a script made outside athanor, of the same name.
    upload_foreign(&fx, "legacy").await;
    let resumed = Decl::new("legacy", "legacy", do_worker(&root, vec![]))
        .root(&root)
        .resumed();
    fx.reset();
    let err = fx.provider.create(&resumed.desired()).await.unwrap_err();
    assert!(matches!(err, ProviderError::AlreadyExists { .. }), "{err}");
    assert_eq!(fx.stats().mutating, 0, "the foreign script is left alone");
    let (_, settings) = fx.api_get("/workers/scripts/legacy/settings").await;
    assert!(
        !settings["tags"]
            .as_array()
            .is_some_and(|tags| tags.contains(&json!("athanor:id:legacy")))
    );

    // Looked up to be removed, it is not found: it is not this stack's.
    assert_eq!(fx.provider.find(&resumed.desired()).await.unwrap(), None);

    // The script an interrupted run of this stack uploaded carries its tags: taken over, and
    // found.
    let ours = Decl::new("mine", "mine", do_worker(&root, vec![]))
        .root(&root)
        .resumed();
    fx.provider.create(&ours.desired()).await.unwrap();
    fx.provider.create(&ours.desired()).await.unwrap();
    let found = fx.provider.find(&ours.desired()).await.unwrap();
    assert_eq!(found.as_ref().map(Output::name), Some("mine"));
}

#[tokio::test]
async fn url_false_disables_workers_dev_and_delete_removes_the_script() {
    let fx = start().await;
    let root = fx.dir.path().to_path_buf();
    let mut props = do_worker(&root, vec![]);
    props.url = true;
    let on = Decl::new("site", "site", props.clone()).root(&root);
    let out = fx.provider.create(&on.desired()).await.unwrap();
    assert!(worker_output(&out).url.is_some());

    props.url = false;
    let off = Decl::new("site", "site", props).root(&root);
    fx.reset();
    let updated = fx
        .provider
        .update(&off.desired(), on.existing(&out))
        .await
        .unwrap();
    assert_eq!(worker_output(&updated).url, None);
    let stats = fx.stats();
    assert_eq!(
        count(
            &stats,
            "POST /accounts/{account_id}/workers/scripts/{script_name}/subdomain"
        ),
        1
    );
    assert_eq!(count(&stats, UPLOAD), 1);
    assert_eq!(
        count(
            &stats,
            "GET /accounts/{account_id}/workers/scripts/{script_name}/subdomain"
        ),
        1
    );
    assert_eq!(
        stats.total, 3,
        "no settings or namespace read for a Worker without Durable Objects: {stats:?}"
    );
    let (_, sub) = fx.api_get("/workers/scripts/site/subdomain").await;
    assert_eq!(sub["enabled"], false);

    fx.provider.delete(off.existing(&updated)).await.unwrap();
    assert_eq!(fx.api_get("/workers/scripts/site/settings").await.0, 404);
    assert_eq!(
        fx.provider.read(off.existing(&updated)).await.unwrap(),
        None
    );
    fx.provider.delete(off.existing(&updated)).await.unwrap();
}

#[tokio::test]
async fn cron_triggers_and_settings_are_applied_with_a_call_only_when_they_change() {
    const SCHEDULES: &str = "PUT /accounts/{account_id}/workers/scripts/{script_name}/schedules";
    let fx = start().await;
    let root = fx.dir.path().to_path_buf();
    let mut props = do_worker(&root, vec![]);
    props.crons = vec!["*/5 * * * *".into(), "0 9 * * MON-FRI".into()];
    props.observability = true;
    props.placement = Some("smart".into());
    props.cpu_ms = Some(50);
    let first = Decl::new("jobs", "jobs", props.clone()).root(&root);
    fx.reset();
    let out = fx.provider.create(&first.desired()).await.unwrap();
    assert_eq!(count(&fx.stats(), SCHEDULES), 1);
    let (_, got) = fx.api_get("/workers/scripts/jobs/schedules").await;
    let crons: Vec<&str> = got["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["cron"].as_str().unwrap())
        .collect();
    assert_eq!(crons, ["*/5 * * * *", "0 9 * * MON-FRI"]);
    let (_, settings) = fx.api_get("/workers/scripts/jobs/settings").await;
    assert_eq!(settings["observability"]["enabled"], true, "{settings}");
    assert_eq!(settings["placement"]["mode"], "smart", "{settings}");
    assert_eq!(settings["limits"]["cpu_ms"], 50, "{settings}");

    // Another change, the schedule untouched: no schedules call.
    props.cpu_ms = Some(100);
    let second = Decl::new("jobs", "jobs", props.clone()).root(&root);
    fx.reset();
    let out = fx
        .provider
        .update(&second.desired(), first.existing(&out))
        .await
        .unwrap();
    assert_eq!(count(&fx.stats(), SCHEDULES), 0, "{:?}", fx.stats());

    // The schedule cleared: one call, and none left.
    props.crons.clear();
    let third = Decl::new("jobs", "jobs", props).root(&root);
    fx.reset();
    fx.provider
        .update(&third.desired(), second.existing(&out))
        .await
        .unwrap();
    assert_eq!(count(&fx.stats(), SCHEDULES), 1);
    let (_, got) = fx.api_get("/workers/scripts/jobs/schedules").await;
    assert_eq!(got["schedules"], json!([]));
}

#[tokio::test]
async fn a_user_worker_in_a_dispatch_namespace_keeps_the_binding_types_named() {
    let fx = start().await;
    let root = fx.dir.path().to_path_buf();
    let ns_decl = Decl::new("tenants", "customers", DispatchNamespace::default());
    let ns = fx.provider.create(&ns_decl.desired()).await.unwrap();
    let kv_decl = Decl::new("sessions", "sessions", KvNamespace::default());
    let kv = fx.provider.create(&kv_decl.desired()).await.unwrap();

    let mut props = do_worker(&root, vec![("USER_KV", "sessions")]);
    props.namespace = Some(ResourceRef::new("tenants"));
    props
        .bindings
        .push(Binding::new("TOKEN", SecretSource::env("TOKEN")));
    let first = Decl::new("customer-a", "customer-a", props.clone())
        .root(&root)
        .dep("tenants", ns.clone())
        .dep("sessions", kv.clone())
        .secret("TOKEN", "t");
    fx.reset();
    let out = fx.provider.create(&first.desired()).await.unwrap();
    assert_eq!(count(&fx.stats(), WFP_UPLOAD), 1);
    let w = worker_output(&out);
    assert_eq!(w.namespace.as_deref(), Some("customers"));
    assert_eq!(w.url, None);

    props.bindings.retain(|b| b.name != "TOKEN");
    props.bindings.push(Binding::new("PLAN", "pro"));
    props.keep_bindings = vec!["secret_text".into()];
    let second = Decl::new("customer-a", "customer-a", props)
        .root(&root)
        .dep("tenants", ns)
        .dep("sessions", kv);
    let updated = fx
        .provider
        .update(&second.desired(), first.existing(&out))
        .await
        .unwrap();
    let (status, settings) = fx
        .api_get("/workers/dispatch/namespaces/customers/scripts/customer-a/settings")
        .await;
    assert_eq!(status, 200);
    let mut names: Vec<(String, String)> = settings["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap().to_owned(),
                b["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ("PLAN".to_owned(), "plain_text".to_owned()),
            ("TOKEN".to_owned(), "secret_text".to_owned()),
            ("USER_KV".to_owned(), "kv_namespace".to_owned()),
        ]
    );
    // The kept secret is not declared any more: it is no drift. Two reads, no namespace list.
    fx.reset();
    assert_eq!(
        fx.provider
            .read(second.existing(&updated))
            .await
            .unwrap()
            .as_ref(),
        Some(&updated)
    );
    assert_eq!(fx.stats().total, 2, "{:?}", fx.stats());
    fx.provider.delete(second.existing(&updated)).await.unwrap();
    let (status, _) = fx
        .api_get("/workers/dispatch/namespaces/customers/scripts/customer-a/settings")
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn invalid_input_and_missing_code_are_errors_naming_the_worker() {
    let fx = start().await;
    let root = fx.dir.path().to_path_buf();
    let decl = Decl::new("bad", "Not A Name", do_worker(&root, vec![])).root(&root);
    let err = fx.provider.create(&decl.desired()).await.unwrap_err();
    assert!(err.api().is_some_and(|api| api.status == 400), "{err:?}");
    assert!(err.to_string().contains("Worker \"bad\""), "{err}");

    let mut props = do_worker(&root, vec![]);
    props.code = athanor_core::stack::WorkerCode::Entrypoint("missing/worker.js".into());
    let decl = Decl::new("nocode", "nocode", props).root(&root);
    let err = fx.provider.create(&decl.desired()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Local { .. }), "{err:?}");
    assert!(
        err.to_string().contains("missing/worker.js")
            && err.to_string().contains("Worker \"nocode\""),
        "{err}"
    );

    // A binding to a resource whose output is missing is named before any request.
    let decl = Decl::new("w", "w", do_worker(&root, vec![("KV", "nowhere")])).root(&root);
    fx.reset();
    let err = fx.provider.create(&decl.desired()).await.unwrap_err();
    assert!(err.to_string().contains("`nowhere`"), "{err}");
    assert_eq!(fx.stats().mutating, 0);
}

#[tokio::test]
async fn too_many_classes_for_the_tag_budget_fail_before_any_change() {
    let fx = start().await;
    let root = fx.dir.path().to_path_buf();
    let ids = ["a", "b", "c", "d", "e", "f"];
    let mut decl = Decl::new(
        "many",
        "many",
        do_worker(&root, ids.iter().map(|id| (*id, *id)).collect()),
    )
    .root(&root);
    for id in ids {
        decl = decl.dep(id, do_output(&format!("Class{}", id.to_uppercase()), true));
    }
    fx.reset();
    let err = fx.provider.create(&decl.desired()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Local { .. }), "{err:?}");
    assert!(err.to_string().contains("at most 5 classes"), "{err}");
    // Only the reads ahead (the script's settings) went out.
    assert_eq!(fx.stats().mutating, 0);
}

#[tokio::test]
async fn a_deploy_uploads_the_modules_its_plan_fingerprinted_collected_once() {
    let fx = start().await;
    let root = fx.dir.path().join("app");
    write(
        &root,
        "worker.js",
        "export default { fetch() { return new Response('one'); } };\n",
    );
    let p = &fx.provider;
    let worker = || Worker {
        code: athanor_core::stack::WorkerCode::Entrypoint("worker.js".into()),
        compatibility_date: Some("2025-01-01".into()),
        ..Worker::default()
    };
    let decl = Decl::new("api", "memo-api", worker()).root(&root);
    let planned = p.fingerprint(&decl.desired()).await.unwrap().unwrap();

    // The file changes between the plan and the upload: what goes up is what the plan hashed
    // (state records that hash, so the next plan sees the change and uploads it).
    write(
        &root,
        "worker.js",
        "export default { fetch() { return new Response('two'); } };\n",
    );
    let Output::Worker(uploaded) = p.create(&decl.desired()).await.unwrap() else {
        panic!("a Worker's output")
    };
    assert_eq!(uploaded.content_hash, planned);

    // The file as it is now hashes differently; a declaration with nothing kept from a plan
    // collects the modules as they are now.
    let planned_again = Decl::new("api", "memo-api", worker()).root(&root);
    let now = p
        .fingerprint(&planned_again.desired())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(now, planned);
    let unplanned = Decl::new("api", "memo-api", worker()).root(&root);
    let recorded = Output::Worker(uploaded);
    let Output::Worker(updated) = p
        .update(&unplanned.desired(), unplanned.existing(&recorded))
        .await
        .unwrap()
    else {
        panic!("a Worker's output")
    };
    assert_eq!(updated.content_hash, now);
}
