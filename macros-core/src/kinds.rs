//! The one table of resource kinds and their properties.
//!
//! Parsing, "unknown property, expected one of ...", "did you mean ...", missing-property checks
//! and the generated code all read this table, so adding a property is one row here plus its
//! field in `athanor_core`.

use athanor_core::Kind;

/// What a property's value must be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Ty {
    /// A string literal (checked) or any Rust expression that converts `Into<String>`.
    Str,
    /// A string that must be a date, `YYYY-MM-DD` (checked when it is a literal).
    Date,
    /// A directory relative to the declaring crate (checked to exist when a literal).
    Dir,
    /// A file relative to the declaring crate (checked to exist when a literal).
    File,
    /// A bool literal or a Rust expression of type `bool`.
    Bool,
    /// A non-negative integer literal or a Rust expression that converts `Into<u64>`.
    U64,
    /// `[ "a", "b" ]`: a list of strings.
    StrList,
    /// `secret_env("VAR")` or `secret_file("path")`.
    Secret,
    /// A reference to another resource of the given kind, by its `let` name.
    Ref(Kind),
    /// `[ { key, value, ... }, ... ]`: seeded KV pairs.
    KvValues,
    /// `{ NAME: value, ... }`: a Worker's bindings.
    Bindings,
    /// `[ kv_namespace, secret_text ]`: Cloudflare binding types.
    BindingTypes,
    /// A string literal, `json!(...)` or a Rust expression converting into a KV payload.
    KvPayload,
    /// `json!(...)` or a Rust expression of type `serde_json::Value`.
    Json,
    /// A Rust expression of type `InlineCode`: a Worker's modules given at run time.
    Inline,
    /// `[ { ... }, ... ]`: a list of records, each with the properties of its table.
    Records(&'static Records),
}

impl Ty {
    /// How the type reads in a message ("expected {what}").
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Ty::Str => "a string",
            Ty::Date => "a date string, `\"YYYY-MM-DD\"`",
            Ty::Dir => "a directory path, relative to the crate",
            Ty::Inline => "a Rust expression of type `InlineCode` (the modules, given at run time)",
            Ty::File => "a file path, relative to the crate",
            Ty::Bool => "`true` or `false`",
            Ty::U64 => "a non-negative integer",
            Ty::StrList => "a list of strings, `[\"a\", \"b\"]`",
            Ty::Secret => "`secret_env(\"VAR\")` or `secret_file(\"path\")`",
            Ty::Ref(Kind::SecretsStore) => "a SecretsStore declared in this block",
            Ty::Ref(Kind::DispatchNamespace) => "a DispatchNamespace declared in this block",
            Ty::Ref(Kind::Queue) => "a Queue declared in this block",
            Ty::Ref(Kind::Worker) => "a Worker declared in this block",
            Ty::Ref(_) => "a resource declared in this block",
            Ty::KvValues => "a list of `{ key: ..., value: ... }` entries",
            Ty::Bindings => "a block of bindings, `{ NAME: value, ... }`",
            Ty::BindingTypes => "a list of binding types, `[kv_namespace, secret_text]`",
            Ty::KvPayload => "a string or `json!(...)`",
            Ty::Json => "`json!(...)`",
            Ty::Records(r) => r.list,
        }
    }
}

/// What a property is in the generated code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A field of the kind's `athanor_core::stack` struct, of the same name.
    Field,
    /// `adopt` / `delete`: a builder method of `Resource`, not a field.
    Lifecycle,
    /// One of a Worker's code sources, which together make its `code` field (exactly one given).
    Code,
}

/// One property of a kind.
#[derive(Debug, PartialEq)]
pub(crate) struct Prop {
    /// Its name in the DSL (snake_case, as the `athanor_core` field).
    pub name: &'static str,
    /// What its value must be.
    pub ty: Ty,
    /// Whether a declaration must set it.
    pub required: bool,
    /// What it means, for messages and documentation.
    pub doc: &'static str,
    /// Where it goes in the generated code.
    pub role: Role,
    /// The values Cloudflare accepts, when they are an enumeration (for a list: each item).
    pub allowed: Option<&'static [&'static str]>,
    /// The numbers Cloudflare accepts, inclusive.
    pub range: Option<(u64, u64)>,
}

/// The table of a record type: the properties of each entry of a [`Ty::Records`] list.
#[derive(Debug, PartialEq)]
pub(crate) struct Records {
    /// The `athanor_core::stack` struct of one entry.
    pub name: &'static str,
    /// How messages call one entry ("a CORS rule").
    pub what: &'static str,
    /// How messages describe the list ("a list of CORS rules, `[{ origins: [...], ... }]`").
    pub list: &'static str,
    /// The properties of one entry.
    pub props: &'static [Prop],
}

const fn prop(name: &'static str, ty: Ty, doc: &'static str) -> Prop {
    Prop {
        name,
        ty,
        required: false,
        doc,
        role: Role::Field,
        allowed: None,
        range: None,
    }
}

const fn required(name: &'static str, ty: Ty, doc: &'static str) -> Prop {
    Prop {
        required: true,
        ..prop(name, ty, doc)
    }
}

const fn one_of(name: &'static str, allowed: &'static [&'static str], doc: &'static str) -> Prop {
    Prop {
        allowed: Some(allowed),
        ..prop(name, Ty::Str, doc)
    }
}

const fn within(name: &'static str, low: u64, high: u64, doc: &'static str) -> Prop {
    Prop {
        range: Some((low, high)),
        ..prop(name, Ty::U64, doc)
    }
}

const fn code(name: &'static str, doc: &'static str) -> Prop {
    Prop {
        role: Role::Code,
        ..prop(name, Ty::Str, doc)
    }
}

const ADOPT: Prop = Prop {
    role: Role::Lifecycle,
    ..prop(
        "adopt",
        Ty::Bool,
        "take over an existing resource of the same name",
    )
};
const DELETE: Prop = Prop {
    role: Role::Lifecycle,
    ..prop(
        "delete",
        Ty::Bool,
        "`false` keeps the resource at Cloudflare when it leaves the stack",
    )
};

/// What a binding to a resource of a kind is, in a Worker's `Env`.
#[derive(Debug)]
pub(crate) struct BindingDef {
    /// The accessor kind of the facade's `worker_env!` (`kv`, `bucket`, ...): what the typed
    /// workers-rs `Env` returns.
    pub rust: &'static str,
    /// What the accessor returns, for its doc ("the KV namespace").
    pub noun: &'static str,
    /// The type `wrangler types` writes (refined with the module for a Durable Object class and
    /// with the script name for a Worker).
    pub typescript: &'static str,
}

/// A name Cloudflare keeps once per account (or per scope inside it).
#[derive(Debug)]
pub(crate) struct UniqueName {
    /// The property holding it.
    pub prop: &'static str,
    /// How messages call it.
    pub what: &'static str,
    /// The property whose value scopes it (a bucket's jurisdiction, a Worker's namespace).
    pub scope: Option<&'static str>,
}

/// A property Cloudflare checks the form of, with `athanor_core::naming`'s rule for it.
#[derive(Debug)]
pub(crate) struct NameRule {
    /// The property; the rule is core's, [`athanor_core::naming::check_name`], shared with the runtime.
    pub prop: &'static str,
}

/// One kind of resource: its name in the DSL, its properties, and every fact the macro uses
/// about it.
#[derive(Debug)]
pub(crate) struct KindDef {
    /// The kind in the model.
    pub kind: Kind,
    /// The properties, in documentation order.
    pub props: &'static [Prop],
    /// The `athanor_core::output` struct a deployed resource of this kind reports.
    pub output: &'static str,
    /// Whether its `athanor_core::stack` struct implements `Default` (the generated code then
    /// lists only the properties given).
    pub has_default: bool,
    /// What it is when bound to a Worker; `None`: it cannot be bound.
    pub binding: Option<BindingDef>,
    /// The name Cloudflare keeps once, if any.
    pub unique_name: Option<UniqueName>,
    /// The property whose form Cloudflare checks, if any.
    pub name_rule: Option<NameRule>,
}

impl KindDef {
    /// The names of every property.
    #[cfg(test)]
    fn prop_names(&self) -> Vec<&'static str> {
        self.props.iter().map(|p| p.name).collect()
    }

    /// The properties that are fields of the core struct.
    pub(crate) fn fields(&self) -> impl Iterator<Item = &'static Prop> {
        self.props.iter().filter(|p| p.role == Role::Field)
    }
}

/// Every kind the DSL accepts.
pub(crate) static KINDS: &[KindDef] = &[
    KindDef {
        kind: Kind::KvNamespace,
        props: &[
            prop("title", Ty::Str, "the namespace title"),
            prop("values", Ty::KvValues, "key-value pairs written on deploy"),
            ADOPT,
            DELETE,
        ],
        output: "KvNamespaceOutput",
        has_default: true,
        binding: Some(BindingDef {
            rust: "kv",
            noun: "the KV namespace",
            typescript: "KVNamespace",
        }),
        unique_name: Some(UniqueName {
            prop: "title",
            what: "KV namespace title",
            scope: None,
        }),
        name_rule: None,
    },
    KindDef {
        kind: Kind::R2Bucket,
        props: &[
            prop("name", Ty::Str, "the bucket name"),
            one_of(
                "location_hint",
                &["apac", "eeur", "enam", "weur", "wnam", "oc"],
                "where the bucket should live",
            ),
            one_of(
                "storage_class",
                &["Standard", "InfrequentAccess"],
                "the default storage class",
            ),
            one_of(
                "jurisdiction",
                &["default", "eu", "fedramp"],
                "the data jurisdiction",
            ),
            prop(
                "public",
                Ty::Bool,
                "readable by anyone at its `r2.dev` address",
            ),
            prop(
                "cors",
                Ty::Records(&CORS_RULE),
                "the CORS policy: the origins whose browsers may use the bucket",
            ),
            prop(
                "lifecycle",
                Ty::Records(&LIFECYCLE_RULE),
                "what happens to objects under a prefix, and when",
            ),
            ADOPT,
            DELETE,
        ],
        output: "R2BucketOutput",
        has_default: true,
        binding: Some(BindingDef {
            rust: "bucket",
            noun: "the R2 bucket",
            typescript: "R2Bucket",
        }),
        unique_name: Some(UniqueName {
            prop: "name",
            what: "bucket name",
            scope: Some("jurisdiction"),
        }),
        name_rule: Some(NameRule { prop: "name" }),
    },
    KindDef {
        kind: Kind::D1Database,
        props: &[
            prop("name", Ty::Str, "the database name"),
            one_of(
                "location_hint",
                &["wnam", "enam", "weur", "eeur", "apac", "oc"],
                "where the primary copy should live",
            ),
            one_of(
                "jurisdiction",
                &["eu", "fedramp"],
                "where the data must stay",
            ),
            prop(
                "migrations",
                Ty::Dir,
                "a directory of `.sql` files applied once each, in name order",
            ),
            prop(
                "seed",
                Ty::File,
                "a `.sql` file run after the migrations, again whenever it changes: rows to start with, written so that running it twice is harmless",
            ),
            ADOPT,
            DELETE,
        ],
        output: "D1DatabaseOutput",
        has_default: true,
        binding: Some(BindingDef {
            rust: "d1",
            noun: "the D1 database",
            typescript: "D1Database",
        }),
        unique_name: Some(UniqueName {
            prop: "name",
            what: "D1 database name",
            scope: None,
        }),
        name_rule: None,
    },
    KindDef {
        kind: Kind::AnalyticsEngineDataset,
        props: &[prop(
            "dataset",
            Ty::Str,
            "the dataset name SQL queries use; default: from app, id and stage",
        )],
        output: "AnalyticsEngineDatasetOutput",
        has_default: true,
        binding: Some(BindingDef {
            rust: "analytics_engine",
            noun: "the Analytics Engine dataset",
            typescript: "AnalyticsEngineDataset",
        }),
        unique_name: None,
        name_rule: Some(NameRule { prop: "dataset" }),
    },
    KindDef {
        kind: Kind::Queue,
        props: &[
            prop("name", Ty::Str, "the queue name"),
            within(
                "delivery_delay",
                0,
                43_200,
                "how long each message waits before it can be delivered, in seconds",
            ),
            within(
                "message_retention_period",
                60,
                1_209_600,
                "how long an undelivered message is kept, in seconds",
            ),
            ADOPT,
            DELETE,
        ],
        output: "QueueOutput",
        has_default: true,
        binding: Some(BindingDef {
            rust: "queue",
            noun: "the queue",
            typescript: "Queue",
        }),
        unique_name: Some(UniqueName {
            prop: "name",
            what: "queue name",
            scope: None,
        }),
        name_rule: Some(NameRule { prop: "name" }),
    },
    KindDef {
        kind: Kind::QueueConsumer,
        props: &[
            required("queue", Ty::Ref(Kind::Queue), "the queue consumed"),
            required(
                "worker",
                Ty::Ref(Kind::Worker),
                "the Worker whose `queue()` handler receives the messages",
            ),
            within("batch_size", 1, 100, "the most messages in one batch"),
            within(
                "max_retries",
                0,
                100,
                "how many times a message is retried before the dead-letter queue",
            ),
            within(
                "max_wait_time_ms",
                0,
                60_000,
                "the longest a batch waits to fill, in milliseconds",
            ),
            within(
                "max_concurrency",
                1,
                250,
                "the most batches delivered at once",
            ),
            within(
                "retry_delay",
                0,
                43_200,
                "how long a retried message waits, in seconds",
            ),
            prop(
                "dead_letter_queue",
                Ty::Ref(Kind::Queue),
                "where messages go once their retries are spent",
            ),
        ],
        output: "QueueConsumerOutput",
        has_default: false,
        binding: None,
        unique_name: None,
        name_rule: None,
    },
    KindDef {
        kind: Kind::DurableObjectNamespace,
        props: &[
            required("class_name", Ty::Str, "the exported Durable Object class"),
            prop(
                "script_name",
                Ty::Str,
                "the Worker exporting the class, when not the one binding it",
            ),
            prop("environment", Ty::Str, "the script's legacy environment"),
            prop("sqlite", Ty::Bool, "whether the class uses SQLite storage"),
        ],
        output: "DurableObjectNamespaceOutput",
        has_default: true,
        binding: Some(BindingDef {
            rust: "durable_object",
            noun: "the Durable Object namespace",
            typescript: "DurableObjectNamespace",
        }),
        unique_name: None,
        name_rule: Some(NameRule { prop: "class_name" }),
    },
    KindDef {
        kind: Kind::SecretsStore,
        props: &[prop("name", Ty::Str, "the store name"), ADOPT, DELETE],
        output: "SecretsStoreOutput",
        has_default: true,
        binding: None,
        unique_name: None,
        name_rule: None,
    },
    KindDef {
        kind: Kind::Secret,
        props: &[
            required(
                "value",
                Ty::Secret,
                "where the value is read when deploying",
            ),
            prop("name", Ty::Str, "the secret's name in its store"),
            prop(
                "store",
                Ty::Ref(Kind::SecretsStore),
                "the store; default: the account's default store",
            ),
            prop("scopes", Ty::StrList, "where the secret may be used"),
        ],
        output: "SecretOutput",
        has_default: false,
        binding: Some(BindingDef {
            rust: "secret_store",
            noun: "the Secrets Store secret",
            typescript: "SecretsStoreSecret",
        }),
        unique_name: None,
        name_rule: None,
    },
    KindDef {
        kind: Kind::SecretRef,
        props: &[
            required("name", Ty::Str, "the existing secret's name"),
            prop(
                "store",
                Ty::Ref(Kind::SecretsStore),
                "the store; default: the account's default store",
            ),
        ],
        output: "SecretOutput",
        has_default: false,
        binding: Some(BindingDef {
            rust: "secret_store",
            noun: "the Secrets Store secret",
            typescript: "SecretsStoreSecret",
        }),
        unique_name: None,
        name_rule: None,
    },
    KindDef {
        kind: Kind::DispatchNamespace,
        props: &[prop("name", Ty::Str, "the namespace name"), ADOPT, DELETE],
        output: "DispatchNamespaceOutput",
        has_default: true,
        binding: Some(BindingDef {
            rust: "dispatcher",
            noun: "the dispatch namespace",
            typescript: "DispatchNamespace",
        }),
        unique_name: Some(UniqueName {
            prop: "name",
            what: "dispatch namespace name",
            scope: None,
        }),
        name_rule: None,
    },
    KindDef {
        kind: Kind::Worker,
        props: &[
            code(
                "entrypoint",
                "the main module of a JavaScript or TypeScript Worker, relative to the crate",
            ),
            code(
                "crate",
                "the crate of a Rust (workers-rs) Worker, relative to the crate; `\".\"` is the crate itself",
            ),
            Prop {
                role: Role::Code,
                ..prop(
                    "code",
                    Ty::Inline,
                    "the modules of a Worker given at run time, as bytes (`InlineCode`): a tenant's upload",
                )
            },
            prop("name", Ty::Str, "the script name"),
            prop("compatibility_date", Ty::Date, "`YYYY-MM-DD`"),
            prop("compatibility_flags", Ty::StrList, "compatibility flags"),
            prop(
                "url",
                Ty::Bool,
                "serve on the account's workers.dev subdomain",
            ),
            prop("bindings", Ty::Bindings, "what the Worker's `env` holds"),
            prop(
                "namespace",
                Ty::Ref(Kind::DispatchNamespace),
                "the dispatch namespace of a Workers for Platforms user Worker",
            ),
            prop(
                "keep_bindings",
                Ty::BindingTypes,
                "binding types kept from the previous upload",
            ),
            prop(
                "crons",
                Ty::StrList,
                "Cron Triggers: when the Worker's `scheduled()` handler runs, in UTC",
            ),
            prop(
                "observability",
                Ty::Bool,
                "keep the Worker's logs in Workers Logs",
            ),
            one_of(
                "placement",
                &["smart"],
                "`\"smart\"` runs the Worker close to the back ends it calls",
            ),
            within(
                "cpu_ms",
                10,
                300_000,
                "the CPU time a request may use, in milliseconds",
            ),
            ADOPT,
            DELETE,
        ],
        output: "WorkerOutput",
        has_default: true,
        binding: Some(BindingDef {
            rust: "service",
            noun: "the Worker",
            typescript: "Fetcher",
        }),
        unique_name: Some(UniqueName {
            prop: "name",
            what: "Worker name",
            scope: Some("namespace"),
        }),
        name_rule: Some(NameRule { prop: "name" }),
    },
];

/// One rule of an R2 bucket's `cors`.
pub(crate) static CORS_RULE: Records = Records {
    name: "CorsRule",
    what: "a CORS rule",
    list: "a list of CORS rules, `[{ origins: [\"https://...\"], methods: [\"GET\"] }]`",
    props: &[
        required(
            "origins",
            Ty::StrList,
            "the origins allowed, such as `https://app.example.com`, or `*`",
        ),
        Prop {
            required: true,
            allowed: Some(&["GET", "PUT", "POST", "DELETE", "HEAD"]),
            ..prop("methods", Ty::StrList, "the methods allowed")
        },
        prop("headers", Ty::StrList, "the request headers allowed"),
        prop(
            "expose_headers",
            Ty::StrList,
            "the response headers a browser may read",
        ),
        within(
            "max_age",
            0,
            86_400,
            "how long a browser may cache the preflight answer, in seconds",
        ),
    ],
};

/// One rule of an R2 bucket's `lifecycle`.
pub(crate) static LIFECYCLE_RULE: Records = Records {
    name: "LifecycleRule",
    what: "a lifecycle rule",
    list: "a list of lifecycle rules, `[{ id: \"...\", prefix: \"logs/\", expire_after_days: 30 }]`",
    props: &[
        required("id", Ty::Str, "the rule's name, unique in the bucket"),
        prop(
            "prefix",
            Ty::Str,
            "the key prefix the rule applies to; default: every object",
        ),
        within(
            "expire_after_days",
            1,
            36_500,
            "delete objects this many days after they were written",
        ),
        within(
            "abort_uploads_after_days",
            1,
            36_500,
            "abort incomplete multipart uploads this many days after they began",
        ),
        within(
            "infrequent_access_after_days",
            1,
            36_500,
            "move objects to Infrequent Access this many days after they were written",
        ),
    ],
};

/// The properties of one entry of a KV namespace's `values`.
pub(crate) static KV_VALUE: KindDef = KindDef {
    kind: Kind::KvNamespace,
    props: &[
        required("key", Ty::Str, "the key, at most 512 bytes"),
        required("value", Ty::KvPayload, "a string, or `json!(...)`"),
        prop(
            "expiration",
            Ty::U64,
            "absolute expiry, seconds since the epoch",
        ),
        prop(
            "expiration_ttl",
            Ty::U64,
            "expiry in seconds from the write, at least 60",
        ),
        prop("metadata", Ty::Json, "JSON metadata, at most 1,024 bytes"),
    ],
    output: "KvNamespaceOutput",
    has_default: true,
    binding: None,
    unique_name: None,
    name_rule: None,
};

/// The kind named `name` in the DSL.
pub(crate) fn kind_def(name: &str) -> Option<&'static KindDef> {
    KINDS.iter().find(|k| k.kind.as_str() == name)
}

/// The binding types Cloudflare knows, for `keep_bindings`; the emulator refuses an upload with
/// any other (`emulator/src/scripts/upload.rs`; a test checks that it knows each of these).
pub(crate) const BINDING_TYPES: &[&str] = &[
    "plain_text",
    "secret_text",
    "json",
    "kv_namespace",
    "r2_bucket",
    "durable_object_namespace",
    "service",
    "d1",
    "queue",
    "analytics_engine",
    "dispatch_namespace",
    "secrets_store_secret",
    "wasm_module",
    "text_blob",
    "data_blob",
    "version_metadata",
    "assets",
    "inherit",
    "secret_key",
    "ai",
    "browser",
    "hyperdrive",
    "vectorize",
    "mtls_certificate",
    "workflow",
    "ratelimit",
    "send_email",
    "images",
    "media",
    "pipelines",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The row of `kind` in a Markdown table of `doc` (a line starting `| \`Kind\``), if any.
    fn row<'a>(doc: &'a str, kind: &str) -> Option<&'a str> {
        let start = format!("| `{kind}`");
        doc.lines()
            .map(|l| l.trim_start_matches("//! "))
            .find(|l| l.starts_with(&start))
    }

    #[test]
    fn the_emulator_accepts_every_binding_type_keep_bindings_allows() {
        // The emulator depends on no athanor crate, so its sources are read: each type is one it
        // models (`scripts/model.rs`) or keeps as it came (`scripts/upload.rs`).
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../emulator/src/scripts");
        let emulator = ["model.rs", "upload.rs"]
            .map(|f| std::fs::read_to_string(format!("{root}/{f}")).unwrap())
            .concat();
        for ty in BINDING_TYPES {
            assert!(
                emulator.contains(&format!("\"{ty}\"")),
                "the emulator does not know the binding type `{ty}`: add it to OTHER_BINDING_TYPES in emulator/src/scripts/upload.rs, or model it"
            );
        }
    }

    #[test]
    fn the_docs_list_every_kind_with_its_properties_and_types() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let facade = std::fs::read_to_string(format!("{root}/src/lib.rs")).unwrap();
        let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
        for def in KINDS {
            let kind = def.kind.as_str();
            let props = row(&facade, kind)
                .unwrap_or_else(|| panic!("the crate docs' table of kinds has no row for {kind}"));
            for p in def.props {
                assert!(
                    props.contains(&format!("`{}", p.name)) || props.contains(p.name),
                    "the crate docs' row of {kind} does not name `{}`",
                    p.name
                );
            }
            for record in def.props.iter().filter_map(|p| match p.ty {
                Ty::Records(r) => Some(r),
                _ => None,
            }) {
                for p in record.props {
                    assert!(
                        props.contains(p.name),
                        "the crate docs' row of {kind} does not name `{}`",
                        p.name
                    );
                }
            }
            let bound = readme
                .lines()
                .find(|l| {
                    l.starts_with(&format!("| `{kind}`")) || l.contains(&format!(", `{kind}` |"))
                })
                .unwrap_or_else(|| {
                    panic!("the README's table of kinds and bindings has no row for {kind}")
                });
            if let Some(b) = &def.binding {
                assert!(
                    bound.contains(&format!("`{}", b.typescript)),
                    "the README's row of {kind} does not give its TypeScript type {}",
                    b.typescript
                );
            }
        }
    }

    #[test]
    fn every_core_kind_has_one_row() {
        for kind in Kind::ALL {
            assert_eq!(KINDS.iter().filter(|d| d.kind == kind).count(), 1, "{kind}");
        }
    }

    #[test]
    fn record_property_names_are_unique() {
        for records in [&CORS_RULE, &LIFECYCLE_RULE] {
            let mut names: Vec<&str> = records.props.iter().map(|p| p.name).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "{}", records.name);
        }
    }

    #[test]
    fn property_names_are_unique_per_kind() {
        for def in KINDS.iter().chain([&KV_VALUE]) {
            let mut names = def.prop_names();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "{}", def.kind);
        }
    }
}
