/// The stack this `infra!` block declares: every resource with its desired properties and references, for the runtime (`athanor::cli::run(stack())`).
pub fn stack() -> ::athanor::__private::athanor_core::Stack {
    #[allow(unused_imports)]
    use ::athanor::__private as __athanor;
    #[allow(unused_imports)]
    use ::athanor::__private::athanor_core as __athanor_core;
    #[allow(unused_imports)]
    use ::athanor::__private::serde_json as __athanor_json;
    __athanor_core::Stack::new("quickstart", ::core::env!("CARGO_MANIFEST_DIR"))
        .with(
            __athanor_core::Resource::new(
                "users",
                __athanor_core::stack::KvNamespace {
                    title: __athanor::some_string("user-data"),
                    ..::core::default::Default::default()
                },
            ),
        )
        .with(
            __athanor_core::Resource::new(
                "sessions",
                __athanor_core::stack::KvNamespace {
                    title: __athanor::some_string("user-sessions"),
                    values: ::std::vec![
                        __athanor_core::stack::KvValue { key :
                        __athanor::string("session_123"), value :
                        __athanor_core::stack::KvPayload::Json(__athanor_json::json!({
                        "userId" : "user_456", "role" : "admin" })), expiration :
                        ::core::option::Option::None, expiration_ttl :
                        ::core::option::Option::Some(3600u64), metadata :
                        ::core::option::Option::None, }
                    ],
                },
            ),
        )
        .with(
            __athanor_core::Resource::new(
                "assets",
                __athanor_core::stack::KvNamespace {
                    title: __athanor::some_string("static-assets"),
                    values: ::std::vec![
                        __athanor_core::stack::KvValue { key :
                        __athanor::string("main.js"), value :
                        __athanor_core::stack::KvPayload::Text(__athanor::string("content...")),
                        expiration : ::core::option::Option::None, expiration_ttl :
                        ::core::option::Option::None, metadata :
                        ::core::option::Option::Some(__athanor_json::json!({
                        "contentType" : "application/javascript", "etag" : "abc123" })),
                        }
                    ],
                },
            ),
        )
        .with(
            __athanor_core::Resource::new(
                    "existing-ns",
                    __athanor_core::stack::KvNamespace {
                        title: __athanor::some_string("existing-namespace"),
                        values: ::std::vec![
                            __athanor_core::stack::KvValue { key :
                            __athanor::string("config"), value :
                            __athanor_core::stack::KvPayload::Json(__athanor_json::json!({
                            "setting" : "updated-value" })), expiration :
                            ::core::option::Option::None, expiration_ttl :
                            ::core::option::Option::None, metadata :
                            ::core::option::Option::None, }
                        ],
                    },
                )
                .adopt(true),
        )
        .with(
            __athanor_core::Resource::new(
                    "preserve-ns",
                    __athanor_core::stack::KvNamespace {
                        title: __athanor::some_string("preserved-namespace"),
                        ..::core::default::Default::default()
                    },
                )
                .delete(false),
        )
        .with(
            __athanor_core::Resource::new(
                "MY_KV",
                __athanor_core::stack::KvNamespace {
                    title: __athanor::some_string("my-kv-namespace"),
                    values: ::std::vec![
                        __athanor_core::stack::KvValue { key :
                        __athanor::string("greeting"), value :
                        __athanor_core::stack::KvPayload::Text(__athanor::string("Hello from MY_KV")),
                        expiration : ::core::option::Option::None, expiration_ttl :
                        ::core::option::Option::None, metadata :
                        ::core::option::Option::None, }
                    ],
                },
            ),
        )
        .with(
            __athanor_core::Resource::new(
                "my-worker",
                __athanor_core::stack::Worker {
                    code: __athanor_core::stack::WorkerCode::Entrypoint(
                        ::std::path::PathBuf::from("./src/worker.ts"),
                    ),
                    name: __athanor::some_string("my-worker"),
                    url: true,
                    bindings: ::std::vec![
                        __athanor_core::Binding::new("MY_KV",
                        __athanor_core::BindingValue::Resource(__athanor_core::ResourceRef::new("MY_KV"))),
                        __athanor_core::Binding::new("API_KEY",
                        __athanor_core::BindingValue::PlainText(__athanor::string("secret-key"))),
                        __athanor_core::Binding::new("DEBUG_MODE",
                        __athanor_core::BindingValue::Json(__athanor_json::json!(true)))
                    ],
                    ..::core::default::Default::default()
                },
            ),
        )
        .with(
            __athanor_core::Resource::new(
                "bucket",
                __athanor_core::stack::R2Bucket {
                    ..::core::default::Default::default()
                },
            ),
        )
        .with(
            __athanor_core::Resource::new(
                "counter",
                __athanor_core::stack::DurableObjectNamespace {
                    class_name: __athanor::string("Counter"),
                    sqlite: true,
                    ..::core::default::Default::default()
                },
            ),
        )
        .with(
            __athanor_core::Resource::new(
                "worker",
                __athanor_core::stack::Worker {
                    code: __athanor_core::stack::WorkerCode::Entrypoint(
                        ::std::path::PathBuf::from("./src/worker.ts"),
                    ),
                    url: true,
                    bindings: ::std::vec![
                        __athanor_core::Binding::new("KV_STORE",
                        __athanor_core::BindingValue::Resource(__athanor_core::ResourceRef::new("users"))),
                        __athanor_core::Binding::new("COUNTER",
                        __athanor_core::BindingValue::Resource(__athanor_core::ResourceRef::new("counter"))),
                        __athanor_core::Binding::new("BUCKET",
                        __athanor_core::BindingValue::Resource(__athanor_core::ResourceRef::new("bucket"))),
                        __athanor_core::Binding::new("SESSIONS",
                        __athanor_core::BindingValue::Resource(__athanor_core::ResourceRef::new("sessions"))),
                        __athanor_core::Binding::new("ASSETS",
                        __athanor_core::BindingValue::Resource(__athanor_core::ResourceRef::new("assets"))),
                        __athanor_core::Binding::new("CONFIG",
                        __athanor_core::BindingValue::Resource(__athanor_core::ResourceRef::new("existing-ns"))),
                        __athanor_core::Binding::new("DEBUG",
                        __athanor_core::BindingValue::PlainText(__athanor::string("true"))),
                        __athanor_core::Binding::new("VERSION",
                        __athanor_core::BindingValue::PlainText(__athanor::string("1.0.0")))
                    ],
                    ..::core::default::Default::default()
                },
            ),
        )
        .with_typescript_env("my-worker", my_worker::TYPESCRIPT_ENV)
        .with_typescript_env("worker", worker::TYPESCRIPT_ENV)
}
/// What `deploy` reports for each resource of this stack (ids, names, URLs), typed.
#[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq)]
pub struct Outputs {
    /// The output of KvNamespace("users").
    pub users: ::athanor::__private::athanor_core::output::KvNamespaceOutput,
    /// The output of KvNamespace("sessions").
    pub sessions: ::athanor::__private::athanor_core::output::KvNamespaceOutput,
    /// The output of KvNamespace("assets").
    pub assets: ::athanor::__private::athanor_core::output::KvNamespaceOutput,
    /// The output of KvNamespace("existing-ns").
    pub existing: ::athanor::__private::athanor_core::output::KvNamespaceOutput,
    /// The output of KvNamespace("preserve-ns").
    pub preserved: ::athanor::__private::athanor_core::output::KvNamespaceOutput,
    /// The output of KvNamespace("MY_KV").
    pub my_kv: ::athanor::__private::athanor_core::output::KvNamespaceOutput,
    /// The output of Worker("my-worker").
    pub my_worker: ::athanor::__private::athanor_core::output::WorkerOutput,
    /// The output of R2Bucket("bucket").
    pub bucket: ::athanor::__private::athanor_core::output::R2BucketOutput,
    /// The output of DurableObjectNamespace("counter").
    pub counter: ::athanor::__private::athanor_core::output::DurableObjectNamespaceOutput,
    /// The output of Worker("worker").
    pub worker: ::athanor::__private::athanor_core::output::WorkerOutput,
}
impl Outputs {
    /// Reads the outputs `deploy` returns (keyed by logical id); `None` when a resource
    /// is missing or of another kind.
    #[allow(unused_variables)]
    pub fn from_outputs(
        outputs: &::std::collections::BTreeMap<
            ::std::string::String,
            ::athanor::__private::athanor_core::Output,
        >,
    ) -> ::core::option::Option<Outputs> {
        ::core::option::Option::Some(Outputs {
            users: ::athanor::__private::outputs::get(outputs, "users")?,
            sessions: ::athanor::__private::outputs::get(outputs, "sessions")?,
            assets: ::athanor::__private::outputs::get(outputs, "assets")?,
            existing: ::athanor::__private::outputs::get(outputs, "existing-ns")?,
            preserved: ::athanor::__private::outputs::get(outputs, "preserve-ns")?,
            my_kv: ::athanor::__private::outputs::get(outputs, "MY_KV")?,
            my_worker: ::athanor::__private::outputs::get(outputs, "my-worker")?,
            bucket: ::athanor::__private::outputs::get(outputs, "bucket")?,
            counter: ::athanor::__private::outputs::get(outputs, "counter")?,
            worker: ::athanor::__private::outputs::get(outputs, "worker")?,
        })
    }
}
/// Worker "my-worker": its TypeScript `Env` declaration and, with athanor's `worker` feature, a typed workers-rs `Env`.
pub mod my_worker {
    /// The TypeScript declaration of this Worker's `Env`, as `wrangler types` writes it.
    pub const TYPESCRIPT_ENV: &str = "/* eslint-disable */\n// Generated by athanor from the `infra!` declaration of Worker \"my-worker\". Do not edit: it is rewritten by `types` and `deploy`.\ndeclare namespace Cloudflare {\n\tinterface GlobalProps {\n\t\tmainModule: typeof import(\"./worker\");\n\t}\n\tinterface Env {\n\t\tMY_KV: KVNamespace;\n\t\tAPI_KEY: \"secret-key\";\n\t\tDEBUG_MODE: true;\n\t}\n}\ninterface Env extends Cloudflare.Env {}\n";
    ::athanor::__private::worker_env! {
        " The bindings of Worker \"my-worker\", typed. Build it from the `worker::Env` a handler receives: `Env::from(env)`.";
        my_kv "MY_KV" " `MY_KV`: the KV namespace `my_kv` (\"MY_KV\")." => kv; api_key
        "API_KEY" " `API_KEY`: a plain-text variable." => var; debug_mode "DEBUG_MODE"
        " `DEBUG_MODE`: a JSON variable." => json(bool);
    }
}
/// Worker "worker": its TypeScript `Env` declaration and, with athanor's `worker` feature, a typed workers-rs `Env`.
pub mod worker {
    /// The TypeScript declaration of this Worker's `Env`, as `wrangler types` writes it.
    pub const TYPESCRIPT_ENV: &str = "/* eslint-disable */\n// Generated by athanor from the `infra!` declaration of Worker \"worker\". Do not edit: it is rewritten by `types` and `deploy`.\ndeclare namespace Cloudflare {\n\tinterface GlobalProps {\n\t\tmainModule: typeof import(\"./worker\");\n\t}\n\tinterface Env {\n\t\tKV_STORE: KVNamespace;\n\t\tCOUNTER: DurableObjectNamespace<import(\"./worker\").Counter>;\n\t\tBUCKET: R2Bucket;\n\t\tSESSIONS: KVNamespace;\n\t\tASSETS: KVNamespace;\n\t\tCONFIG: KVNamespace;\n\t\tDEBUG: \"true\";\n\t\tVERSION: \"1.0.0\";\n\t}\n}\ninterface Env extends Cloudflare.Env {}\n";
    ::athanor::__private::worker_env! {
        " The bindings of Worker \"worker\", typed. Build it from the `worker::Env` a handler receives: `Env::from(env)`.";
        kv_store "KV_STORE" " `KV_STORE`: the KV namespace `users` (\"users\")." => kv;
        counter "COUNTER"
        " `COUNTER`: the Durable Object namespace `counter` (\"counter\")." =>
        durable_object; bucket "BUCKET" " `BUCKET`: the R2 bucket `bucket` (\"bucket\")."
        => bucket; sessions "SESSIONS"
        " `SESSIONS`: the KV namespace `sessions` (\"sessions\")." => kv; assets "ASSETS"
        " `ASSETS`: the KV namespace `assets` (\"assets\")." => kv; config "CONFIG"
        " `CONFIG`: the KV namespace `existing` (\"existing-ns\")." => kv; debug "DEBUG"
        " `DEBUG`: a plain-text variable." => var; version "VERSION"
        " `VERSION`: a plain-text variable." => var;
    }
}
