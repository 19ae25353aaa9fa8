//! athanor: infrastructure-as-Rust for Cloudflare.
//!
//! Declare KV namespaces, R2 buckets, D1 databases, Analytics Engine datasets, queues, Durable
//! Objects, Secrets Store secrets, dispatch namespaces and Workers with [`infra!`]; run the generated `stack()` with [`cli::run`] to plan, deploy and
//! destroy them, against Cloudflare or, with no credentials, an embedded local emulator.
//!
//! ```no_run
//! use athanor::infra;
//!
//! infra! {
//!     app "hello";
//!
//!     let sessions = KvNamespace("sessions") { title: "user-sessions" };
//!     let api = Worker("api") {
//!         entrypoint: "./src/worker.ts",
//!         url: true,
//!         bindings: { MY_KV: sessions, VERSION: "1.0.0", DEBUG_MODE: true },
//!     };
//! }
//!
//! # #[cfg(not(target_arch = "wasm32"))]
//! fn main() -> std::process::ExitCode {
//!     athanor::cli::run(stack())
//! }
//! # #[cfg(target_arch = "wasm32")]
//! # fn main() {}
//! ```
//!
//! # The language
//!
//! An `infra!` block holds `app "name";` (optional; default: the crate name) and declarations
//! `let NAME = Kind("logical-id") { property: value, ... };`. The `let` name is how other
//! declarations refer to the resource; the logical id is its stable identity in state.
//!
//! | kind | properties (**required** in bold) |
//! |---|---|
//! | `KvNamespace` | `title`, `values: [{ `**`key`**`, `**`value`**` (string or `json!`), expiration, expiration_ttl, metadata }]`, `adopt`, `delete` |
//! | `R2Bucket` | `name`, `location_hint`, `storage_class`, `jurisdiction`, `public` (its `r2.dev` address), `cors: [{ `**`origins`**`, `**`methods`**`, headers, expose_headers, max_age }]`, `lifecycle: [{ `**`id`**`, prefix, expire_after_days, abort_uploads_after_days, infrequent_access_after_days }]`, `adopt`, `delete` |
//! | `D1Database` | `name`, `location_hint`, `jurisdiction`, `migrations` (a directory of `.sql` files), `seed` (a `.sql` file), `adopt`, `delete` |
//! | `AnalyticsEngineDataset` | `dataset` |
//! | `Queue` | `name`, `delivery_delay`, `message_retention_period`, `adopt`, `delete` |
//! | `QueueConsumer` | **`queue`**, **`worker`**, `batch_size`, `max_retries`, `max_wait_time_ms`, `max_concurrency`, `retry_delay`, `dead_letter_queue` |
//! | `DurableObjectNamespace` | **`class_name`**, `script_name`, `environment`, `sqlite` |
//! | `SecretsStore` | `name` (default `default_secrets_store`), `adopt`, `delete` |
//! | `Secret` | **`value`** (`secret_env("VAR")` or `secret_file("path")`), `name`, `store`, `scopes` |
//! | `SecretRef` | **`name`**, `store` |
//! | `DispatchNamespace` | `name`, `adopt`, `delete` |
//! | `Worker` | **`entrypoint`** (JavaScript or TypeScript), **`crate`** (Rust) or **`code`** (an `InlineCode`: modules given at run time), `name`, `compatibility_date`, `compatibility_flags`, `url`, `bindings: { NAME: value }`, `namespace`, `keep_bindings: [types]`, `crons: ["*/5 * * * *"]` (checked as Cloudflare reads them), `observability`, `placement: "smart"`, `cpu_ms`, `adopt`, `delete` |
//!
//! A property value is a literal (checked at compile time), `json!(...)`, `secret_env`/
//! `secret_file` (read when deploying: a secret is never compiled into the binary), a reference to
//! another resource by its `let` name, or any Rust expression of the right type (rustc checks it
//! at its own span). Relative paths resolve against the declaring crate's directory.
//!
//! A Worker's code is one of two sources. `entrypoint: "./src/worker.ts"` names the main module of
//! a JavaScript or TypeScript Worker; the modules it imports come with it. `crate: "."` names the
//! directory of a Rust crate written with workers-rs (`"."` is the declaring crate itself; its
//! `[lib]` must be a `cdylib`, which the macro checks): `deploy` builds it for
//! `wasm32-unknown-unknown`, binds it with wasm-bindgen and writes its JavaScript entry, with no
//! `worker-build` and nothing downloaded; its handlers read their bindings through the typed `Env`
//! below.
//!
//! A binding value is a resource (KV, R2, D1, Analytics Engine dataset, queue, Durable Object,
//! Secret/SecretRef, dispatch namespace, or a Worker as a service), a named entrypoint of another
//! Worker (`AUTH: auth.entrypoint("AdminApi")`, a service binding to that exported class), a
//! string literal (`plain_text`), a bool, a number or `json!` (`json`), `secret_env`/`secret_file`
//! (`secret_text`), or a Rust expression whose type implements [`model::IntoBinding`].
//!
//! # Tenant templates
//!
//! A platform provisions each customer at run time from one checked declaration. A block with
//! `tenant(params);` is a tenant template: instead of `stack()` it generates
//! `pub fn tenant(tenant: &TenantId, params...) -> Stack`, its expressions read the parameters,
//! and `{tenant}` in a string property (a name, an entrypoint path) is the tenant's id. The
//! macro checks every name with `{tenant}` against Cloudflare's rules for any
//! [`model::TenantId`] (up to 32 of `a-z`, `0-9`, `-`), and refuses a unique name without it
//! unless the resource is adopted (the platform's dispatch namespace, shared by all tenants).
//! Apply the stacks with [`runtime::Tenants`]: one stage per tenant on the configured state
//! backend, one client (and rate limit) for all of them.
//!
//! ```ignore
//! infra! {
//!     app "platform";
//!     tenant(plan: &str, code: InlineCode);
//!
//!     let customers = DispatchNamespace("customers") { name: "customers", adopt: true, delete: false };
//!     let kv = KvNamespace("kv") { title: "{tenant}-kv", values: [{ key: "plan", value: plan }] };
//!     let worker = Worker("worker") {
//!         name: "{tenant}",
//!         namespace: customers,
//!         code: code,
//!         bindings: { KV: kv, PLAN: plan },
//!     };
//! }
//! ```
//!
//! # What `infra!` generates
//!
//! - `pub fn stack() -> athanor::Stack`: the declared resources, for [`cli::run`].
//! - `pub struct Outputs` with one typed field per resource, and
//!   `Outputs::from_outputs(&outputs)` to read what `deploy` returns.
//! - Per Worker, `pub mod <let name>` with `TYPESCRIPT_ENV` (the `Env` declaration in the shape
//!   `wrangler types` writes) and, with this crate's `worker` feature, a typed workers-rs
//!   `Env`: `Env::from(env).my_kv()` returns a `worker::kv::KvStore`, and so on.
//!
//! Every mistake the macro can see (an unknown reference, a duplicate name, a name Cloudflare
//! would refuse, a secret written in source, ...) is a compile error at the exact token, all of
//! them reported in one pass.

/// The stack model `infra!` builds: [`Stack`], its resources and their properties, bindings,
/// secret sources and the outputs a deploy reports. Read it to inspect a stack, or build one by
/// hand.
pub use athanor_core as model;
pub use athanor_core::{Output, Stack};
pub use athanor_macros::infra;

/// Plan, deploy and destroy from Rust: [`runtime::Session`], its plan, outputs, errors and
/// progress events.
#[cfg(not(target_arch = "wasm32"))]
pub use athanor_runtime as runtime;

/// The command line every stack binary gets: `plan`, `deploy`, `dev`, `destroy`, `types`,
/// `outputs`, `state`.
#[cfg(not(target_arch = "wasm32"))]
pub mod cli {
    pub use athanor_runtime::cli::run;
}

/// The typed workers-rs `Env` of one Worker, from the list of its bindings. Generated code calls
/// it as `::athanor::__private::worker_env!`; it expands only when athanor's `worker` feature is
/// on (a `cfg` in generated code would test the user's crate features instead).
///
/// Input: the `Env` doc, then one `accessor "BINDING" "doc" => kind;` per binding, where kind is
/// `kv`, `bucket`, `d1`, `analytics_engine`, `queue`, `durable_object`, `secret_store`,
/// `dispatcher`, `service`, `var`, `secret`, `json(Type)` or `json_value`.
#[cfg(feature = "worker")]
#[doc(hidden)]
#[macro_export]
macro_rules! __athanor_worker_env {
    ($env_doc:literal; $($accessor:ident $binding:literal $doc:literal => $kind:ident $(($ty:ty))?;)*) => {
        #[doc = $env_doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone)]
        pub struct Env {
            inner: $crate::__private::worker::Env,
        }

        impl Env {
            /// Wraps the `worker::Env` a handler receives.
            pub fn new(env: $crate::__private::worker::Env) -> Self {
                Env { inner: env }
            }

            /// The untyped `worker::Env`, for what the declaration does not cover.
            pub fn raw(&self) -> &$crate::__private::worker::Env {
                &self.inner
            }

            $($crate::__athanor_worker_env!(@accessor $accessor $binding $doc $kind $(($ty))?);)*
        }

        impl ::core::convert::From<$crate::__private::worker::Env> for Env {
            fn from(env: $crate::__private::worker::Env) -> Self {
                Env::new(env)
            }
        }
    };
    (@accessor $f:ident $b:literal $doc:literal kv) => {
        $crate::__athanor_worker_env!(@get $f $b $doc kv $crate::__private::worker::kv::KvStore);
    };
    (@accessor $f:ident $b:literal $doc:literal bucket) => {
        $crate::__athanor_worker_env!(@get $f $b $doc bucket $crate::__private::worker::Bucket);
    };
    (@accessor $f:ident $b:literal $doc:literal analytics_engine) => {
        $crate::__athanor_worker_env!(@get $f $b $doc analytics_engine $crate::__private::worker::AnalyticsEngineDataset);
    };
    (@accessor $f:ident $b:literal $doc:literal queue) => {
        $crate::__athanor_worker_env!(@get $f $b $doc queue $crate::__private::worker::Queue);
    };
    (@accessor $f:ident $b:literal $doc:literal d1) => {
        $crate::__athanor_worker_env!(@get $f $b $doc d1 $crate::__private::worker::D1Database);
    };
    (@accessor $f:ident $b:literal $doc:literal durable_object) => {
        $crate::__athanor_worker_env!(@get $f $b $doc durable_object $crate::__private::worker::ObjectNamespace);
    };
    (@accessor $f:ident $b:literal $doc:literal secret_store) => {
        $crate::__athanor_worker_env!(@get $f $b $doc secret_store $crate::__private::worker::SecretStore);
    };
    (@accessor $f:ident $b:literal $doc:literal dispatcher) => {
        $crate::__athanor_worker_env!(@get $f $b $doc dynamic_dispatcher $crate::__private::worker::DynamicDispatcher);
    };
    (@accessor $f:ident $b:literal $doc:literal service) => {
        $crate::__athanor_worker_env!(@get $f $b $doc service $crate::__private::worker::Fetcher);
    };
    (@accessor $f:ident $b:literal $doc:literal var) => {
        #[doc = $doc]
        pub fn $f(&self) -> $crate::__private::worker::Result<::std::string::String> {
            ::core::result::Result::Ok(self.inner.var($b)?.to_string())
        }
    };
    (@accessor $f:ident $b:literal $doc:literal secret) => {
        #[doc = $doc]
        pub fn $f(&self) -> $crate::__private::worker::Result<::std::string::String> {
            ::core::result::Result::Ok(self.inner.secret($b)?.to_string())
        }
    };
    (@accessor $f:ident $b:literal $doc:literal json ($ty:ty)) => {
        #[doc = $doc]
        pub fn $f(&self) -> $crate::__private::worker::Result<$ty> {
            $crate::__private::serde_json::from_value::<$ty>(
                $crate::__private::worker_vars::json_var(&self.inner, $b)?,
            )
            .map_err($crate::__private::worker::Error::from)
        }
    };
    (@accessor $f:ident $b:literal $doc:literal json_value) => {
        #[doc = $doc]
        pub fn $f(&self) -> $crate::__private::worker::Result<$crate::__private::serde_json::Value> {
            $crate::__private::worker_vars::json_var(&self.inner, $b)
        }
    };
    (@get $f:ident $b:literal $doc:literal $method:ident $ty:ty) => {
        #[doc = $doc]
        pub fn $f(&self) -> $crate::__private::worker::Result<$ty> {
            self.inner.$method($b)
        }
    };
}

/// The typed workers-rs `Env` of one Worker: nothing, as athanor's `worker` feature is off.
#[cfg(not(feature = "worker"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __athanor_worker_env {
    ($($input:tt)*) => {};
}

/// Paths the code generated by `infra!` uses, so that a user depends on `athanor` alone. Not a
/// public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::__athanor_worker_env as worker_env;
    pub use athanor_core;
    pub use serde_json;
    #[cfg(feature = "worker")]
    pub use worker;

    /// Reads one resource's typed output, for the generated `Outputs::from_outputs`.
    pub mod outputs {
        use std::collections::BTreeMap;

        use athanor_core::Output;
        use athanor_core::output::{
            AnalyticsEngineDatasetOutput, D1DatabaseOutput, DispatchNamespaceOutput,
            DurableObjectNamespaceOutput, KvNamespaceOutput, QueueConsumerOutput, QueueOutput,
            R2BucketOutput, SecretOutput, SecretsStoreOutput, WorkerOutput,
        };

        /// An output struct that can be read from the [`Output`] of its kind.
        pub trait FromOutput: Sized {
            /// The typed output, when `output` is of this kind.
            fn from_output(output: &Output) -> Option<Self>;
        }

        macro_rules! from_output {
            ($($ty:ty => $($variant:ident)|+;)*) => {$(
                impl FromOutput for $ty {
                    fn from_output(output: &Output) -> Option<Self> {
                        match output {
                            $(Output::$variant(o))|+ => Some(o.clone()),
                            _ => None,
                        }
                    }
                }
            )*};
        }

        from_output! {
            KvNamespaceOutput => KvNamespace;
            R2BucketOutput => R2Bucket;
            D1DatabaseOutput => D1Database;
            AnalyticsEngineDatasetOutput => AnalyticsEngineDataset;
            QueueOutput => Queue;
            QueueConsumerOutput => QueueConsumer;
            DurableObjectNamespaceOutput => DurableObjectNamespace;
            SecretsStoreOutput => SecretsStore;
            SecretOutput => Secret | SecretRef;
            DispatchNamespaceOutput => DispatchNamespace;
            WorkerOutput => Worker;
        }

        /// The output of the resource `id`, typed; `None` when missing or of another kind.
        pub fn get<T: FromOutput>(outputs: &BTreeMap<String, Output>, id: &str) -> Option<T> {
            outputs.get(id).and_then(T::from_output)
        }
    }

    /// A string property of a tenant template, `{tenant}` replaced by the tenant's id.
    pub fn tenant_string(template: &str, tenant: &athanor_core::TenantId) -> String {
        template.replace(TENANT_PLACEHOLDER, tenant.as_str())
    }

    /// What a tenant template's strings write for the tenant's id.
    pub const TENANT_PLACEHOLDER: &str = "{tenant}";

    /// A literal string property, as the core model holds it.
    pub fn string(value: &str) -> String {
        value.to_owned()
    }

    /// A literal optional string property, as the core model holds it.
    pub fn some_string(value: &str) -> Option<String> {
        Some(value.to_owned())
    }

    /// Helpers for the generated workers-rs `Env` accessors.
    #[cfg(feature = "worker")]
    pub mod worker_vars {
        use worker::js_sys;
        use worker::wasm_bindgen::JsValue;

        /// Reads the variable `name` of `env` as JSON: a `plain_text` variable becomes a JSON
        /// string, a `json` variable its value.
        pub fn json_var(env: &worker::Env, name: &str) -> worker::Result<serde_json::Value> {
            let missing =
                || worker::Error::BindingError(format!("the Env has no binding `{name}`"));
            let value: JsValue = js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(name))
                .map_err(|_| missing())?;
            if value.is_undefined() {
                return Err(missing());
            }
            if let Some(text) = value.as_string() {
                return Ok(serde_json::Value::String(text));
            }
            let text: String = js_sys::JSON::stringify(&value)
                .map_err(|_| {
                    worker::Error::BindingError(format!("the binding `{name}` is not JSON"))
                })?
                .into();
            Ok(serde_json::from_str(&text)?)
        }
    }
}
