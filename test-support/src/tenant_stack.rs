//! The tenant the runtime's tests and benchmark onboard, built by hand as an `infra!` tenant
//! template builds it (`examples/platform` declares the same shape with the macro).

use std::path::Path;

use athanor_core::binding::{Binding, BindingValue};
use athanor_core::inline_code::InlineCode;
use athanor_core::stack::{DispatchNamespace, KvNamespace, KvValue, R2Bucket, Worker, WorkerCode};
use athanor_core::{Resource, ResourceRef, Stack, TenantId};

/// The platform's dispatch namespace, `customers`, as the platform's own stack declares it.
pub fn platform_namespace() -> Resource {
    Resource::new(
        "customers",
        DispatchNamespace {
            name: Some("customers".into()),
        },
    )
}

/// One tenant's stack of the platform `app`: the platform's namespace (adopted, kept), a KV
/// namespace seeded with a welcome naming the tenant, the bucket `bucket`, and the tenant's
/// Worker, uploaded as bytes into the namespace, whose `PLAN` is `plan`.
pub fn tenant_stack(app: &str, root: &Path, id: &TenantId, plan: &str, bucket: &str) -> Stack {
    let code = InlineCode::javascript(format!(
        "export default {{ async fetch(r, env) {{ return new Response(await env.KV.get('welcome') + ' on ' + env.PLAN); }} }};\n// {id}\n"
    ));
    let r = |id: &str| BindingValue::Resource(ResourceRef::new(id));
    Stack::new(app, root)
        .with(platform_namespace().adopt(true).delete(false))
        .with(Resource::new(
            "kv",
            KvNamespace {
                title: Some(format!("{id}-kv")),
                values: vec![KvValue::new("welcome", format!("Welcome, {id}"))],
            },
        ))
        .with(Resource::new(
            "files",
            R2Bucket {
                name: Some(bucket.to_owned()),
                ..R2Bucket::default()
            },
        ))
        .with(Resource::new(
            "worker",
            Worker {
                code: WorkerCode::Inline(code),
                name: Some(id.to_string()),
                namespace: Some(ResourceRef::new("customers")),
                compatibility_date: Some("2025-09-01".into()),
                bindings: vec![
                    Binding::new("KV", r("kv")),
                    Binding::new("FILES", r("files")),
                    Binding::new("PLAN", plan),
                ],
                ..Worker::default()
            },
        ))
}
