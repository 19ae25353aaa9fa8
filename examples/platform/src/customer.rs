//! One customer of the platform, as a tenant template: `tenant(&id, plan, code)` is the stack of
//! customer `id`, applied at run time by the backend through `athanor::runtime::Tenants`.
//!
//! Each customer gets a KV namespace seeded with a welcome that names them, an R2 bucket, and
//! their Worker, uploaded from the code they sent into the platform's dispatch namespace, where
//! it sees only its own bindings. The namespace is the platform's (`platform.rs` creates it): the
//! template adopts it and never deletes it, so offboarding one customer leaves it to the others.
//! The macro checks every name built from `{tenant}` against Cloudflare's rules for any valid
//! [`athanor::model::TenantId`], so no customer id can make a name Cloudflare would refuse.

use athanor::infra;
use athanor::model::inline_code::InlineCode;

infra! {
    app "platform";
    tenant(plan: &str, code: InlineCode);

    let customers = DispatchNamespace("customers") { name: "customers", adopt: true, delete: false };

    let kv = KvNamespace("kv") {
        title: "{tenant}-kv",
        values: [{ key: "welcome", value: format!("Welcome, {tenant}!") }],
    };
    let files = R2Bucket("files") { name: "{tenant}-files" };

    let worker = Worker("worker") {
        name: "{tenant}",
        namespace: customers,
        code: code,
        // Pinned: a customer's Worker keeps the runtime behaviour it was written for.
        compatibility_date: "2025-09-01",
        bindings: { KV: kv, FILES: files, PLAN: plan },
    };
}
