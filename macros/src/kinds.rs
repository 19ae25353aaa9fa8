//! The one table of resource kinds and their properties.
//!
//! Parsing, "unknown property, expected one of ...", "did you mean ...", missing-property checks
//! and the generated code all read this table, so adding a property is one row here plus its
//! field in `athanor_core`.

use athanor_core::Kind;

/// What a property's value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    /// A string literal (checked) or any Rust expression that converts `Into<String>`.
    Str,
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
}

impl Ty {
    /// How the type reads in a message ("expected {what}").
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Ty::Str => "a string",
            Ty::Bool => "`true` or `false`",
            Ty::U64 => "a non-negative integer",
            Ty::StrList => "a list of strings, `[\"a\", \"b\"]`",
            Ty::Secret => "`secret_env(\"VAR\")` or `secret_file(\"path\")`",
            Ty::Ref(Kind::SecretsStore) => "a SecretsStore declared in this block",
            Ty::Ref(Kind::DispatchNamespace) => "a DispatchNamespace declared in this block",
            Ty::Ref(_) => "a resource declared in this block",
            Ty::KvValues => "a list of `{ key: ..., value: ... }` entries",
            Ty::Bindings => "a block of bindings, `{ NAME: value, ... }`",
            Ty::BindingTypes => "a list of binding types, `[kv_namespace, secret_text]`",
            Ty::KvPayload => "a string or `json!(...)`",
            Ty::Json => "`json!(...)`",
        }
    }
}

/// One property of a kind.
#[derive(Debug)]
pub(crate) struct Prop {
    /// Its name in the DSL (snake_case, as the `athanor_core` field).
    pub name: &'static str,
    /// What its value must be.
    pub ty: Ty,
    /// Whether a declaration must set it.
    pub required: bool,
    /// What it means, for messages and documentation.
    pub doc: &'static str,
}

const fn prop(name: &'static str, ty: Ty, doc: &'static str) -> Prop {
    Prop {
        name,
        ty,
        required: false,
        doc,
    }
}

const fn required(name: &'static str, ty: Ty, doc: &'static str) -> Prop {
    Prop {
        name,
        ty,
        required: true,
        doc,
    }
}

const ADOPT: Prop = prop(
    "adopt",
    Ty::Bool,
    "take over an existing resource of the same name",
);
const DELETE: Prop = prop(
    "delete",
    Ty::Bool,
    "`false` keeps the resource at Cloudflare when it leaves the stack",
);

/// One kind of resource: its name in the DSL and its properties.
#[derive(Debug)]
pub(crate) struct KindDef {
    /// The kind in the model.
    pub kind: Kind,
    /// The properties, in documentation order.
    pub props: &'static [Prop],
}

impl KindDef {
    /// The property called `name`.
    pub(crate) fn prop(&self, name: &str) -> Option<&'static Prop> {
        self.props.iter().find(|p| p.name == name)
    }

    /// The names of every property, for "expected one of" and "did you mean".
    pub(crate) fn prop_names(&self) -> Vec<&'static str> {
        self.props.iter().map(|p| p.name).collect()
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
    },
    KindDef {
        kind: Kind::R2Bucket,
        props: &[
            prop("name", Ty::Str, "the bucket name"),
            prop("location_hint", Ty::Str, "where the bucket should live"),
            prop("storage_class", Ty::Str, "the default storage class"),
            prop("jurisdiction", Ty::Str, "the data jurisdiction"),
            ADOPT,
            DELETE,
        ],
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
    },
    KindDef {
        kind: Kind::SecretsStore,
        props: &[prop("name", Ty::Str, "the store name"), ADOPT, DELETE],
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
    },
    KindDef {
        kind: Kind::DispatchNamespace,
        props: &[prop("name", Ty::Str, "the namespace name"), ADOPT, DELETE],
    },
    KindDef {
        kind: Kind::Worker,
        props: &[
            prop(
                "entrypoint",
                Ty::Str,
                "the main module of a JavaScript or TypeScript Worker, relative to the crate",
            ),
            prop(
                "crate",
                Ty::Str,
                "the crate of a Rust (workers-rs) Worker, relative to the crate; `\".\"` is the crate itself",
            ),
            prop("name", Ty::Str, "the script name"),
            prop("compatibility_date", Ty::Str, "`YYYY-MM-DD`"),
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
            ADOPT,
            DELETE,
        ],
    },
];

/// A Worker's code sources: exactly one is given (`athanor_core::stack::WorkerCode`).
pub(crate) const WORKER_CODE: [&str; 2] = ["entrypoint", "crate"];

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
};

/// The kind named `name` in the DSL.
pub(crate) fn kind_def(name: &str) -> Option<&'static KindDef> {
    KINDS.iter().find(|k| k.kind.as_str() == name)
}

/// The binding types Cloudflare knows, for `keep_bindings`.
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

/// Values Cloudflare accepts for the R2 properties that are enumerations.
pub(crate) fn allowed_values(kind: Kind, prop: &str) -> Option<&'static [&'static str]> {
    match (kind, prop) {
        (Kind::R2Bucket, "location_hint") => Some(&["apac", "eeur", "enam", "weur", "wnam", "oc"]),
        (Kind::R2Bucket, "storage_class") => Some(&["Standard", "InfrequentAccess"]),
        (Kind::R2Bucket, "jurisdiction") => Some(&["default", "eu", "fedramp"]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_kind_has_one_row() {
        for kind in Kind::ALL {
            assert_eq!(KINDS.iter().filter(|d| d.kind == kind).count(), 1, "{kind}");
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
