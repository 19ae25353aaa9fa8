//! The workerd configuration of a set of deployed scripts: one workerd service per script with its
//! modules, compatibility date and flags, bindings and Durable Object classes; the external
//! services that lead KV, R2, D1, Analytics Engine, Secrets Store and tail traffic to the binding
//! service (a D1 binding is workerd's `cloudflare-internal:d1-api` module wrapped around one of
//! them; an Analytics Engine binding is workerd's experimental `analyticsEngine`, one service per
//! dataset; a queue producer is workerd's `queue`, one service per queue and delay); a router on
//! the socket, with the dispatcher that runs queue consumers behind it (`delivery`); and Durable
//! Object storage on disk.
//!
//! Generation is pure: it reads the scripts and writes text. A script that cannot run here (a
//! binding type the local runtime does not back, a secret whose value is unknown, a binding to a
//! script that does not run) is left out with the reason, which the router answers and the
//! dispatch namespace reports; everything else runs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::bindings::{BINDING_HEADER, TOKEN_HEADER, percent_encode};
use crate::ids;
use crate::scripts::model::{Binding, BindingKind, Script, SealedText};
use crate::scripts::secret_context;
use crate::sealing::Sealer;
use crate::store::Part;

const ROUTER: &str = include_str!("js/router.js");
const TAIL: &str = include_str!("js/tail.js");
const DISPATCH: &str = include_str!("js/dispatch.js");
const SECRETS_STORE: &str = include_str!("js/secrets_store.js");

/// The compatibility date of athanor's own services.
const OWN_COMPATIBILITY_DATE: &str = "2025-09-01";
const ROUTER_SERVICE: &str = "athanor:router";
const TAIL_SERVICE: &str = "athanor:tail";
const TAIL_SINK: &str = "athanor:binding:tail";
const SECRETS_SINK: &str = "athanor:binding:secrets-store";
const SECRETS_SERVICE: &str = "athanor:secrets-store";
const DO_STORAGE: &str = "athanor:durable-objects";
const DISPATCH_MODULE: &str = "athanor:dispatch";
/// workerd's own module that makes a D1 binding out of a `fetcher` (see `bindings::d1`).
const D1_MODULE: &str = "cloudflare-internal:d1-api";
/// The compatibility flag that turns workerd's D1 binding to JS RPC, which the binding service
/// does not speak.
const D1_JSRPC_FLAG: &str = "d1_binding_jsrpc";

/// A deployed script and its code.
pub(crate) struct Deployed {
    pub script: Script,
    pub code: Vec<Part>,
}

impl Deployed {
    /// How events and answers name the script: `name`, or `namespace/name` for a user Worker.
    pub fn label(&self) -> String {
        label(&self.script)
    }
}

/// `name`, or `namespace/name` for a user Worker in a dispatch namespace.
pub(crate) fn label(script: &Script) -> String {
    match &script.dispatch_namespace {
        Some(ns) => format!("{ns}/{}", script.id),
        None => script.id.clone(),
    }
}

/// The workerd service name of a script.
pub(crate) fn service_name(label: &str) -> String {
    format!("worker:{label}")
}

/// What generation needs besides the scripts.
pub(crate) struct Inputs<'a> {
    /// The binding service workerd's external services reach.
    pub bindings_addr: SocketAddr,
    /// The token they send.
    pub bindings_token: &'a str,
    /// Opens `secret_text` values.
    pub sealer: &'a Sealer,
    /// The newest compatibility date workerd supports (its release date; never after today).
    pub newest_date: &'a str,
    /// Where Durable Object data lives (absolute).
    pub durable_objects_dir: &'a str,
    /// The base of the URLs printed in answers, `localhost:PORT`.
    pub url_authority: &'a str,
    /// Scripts left out, by label, with why (those workerd refused to start).
    pub refused: &'a BTreeMap<String, String>,
}

/// A generated configuration.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Generated {
    /// The capnp text; module files are embedded from `modules/{sha256}` beside it.
    pub text: String,
    /// Module files to write beside the configuration: name (`modules/{sha256}`) and content.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Environment variables workerd needs (secret values, never written to the file).
    pub env: Vec<(String, String)>,
    /// The labels of the scripts that run.
    pub running: Vec<String>,
    /// The scripts left out, by label, with why.
    pub left_out: BTreeMap<String, String>,
    /// Notes about scripts that run with a change (a compatibility date brought back).
    pub notes: Vec<String>,
}

impl std::fmt::Debug for Inputs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inputs").finish_non_exhaustive()
    }
}

/// A capnp text string literal.
pub(super) fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Generates the configuration of `scripts`.
pub(crate) fn generate(scripts: &[Deployed], inputs: &Inputs<'_>) -> Generated {
    let mut out = Generated::default();
    let by_label: BTreeMap<String, &Deployed> = scripts.iter().map(|d| (d.label(), d)).collect();
    // Which scripts cannot run, to a fixed point: a script that binds one that does not run
    // cannot run either.
    let mut left_out: BTreeMap<String, String> = inputs.refused.clone();
    for d in scripts {
        let label = d.label();
        if left_out.contains_key(&label) {
            continue;
        }
        if let Err(why) = own_problem(d, inputs) {
            left_out.insert(label, why);
        }
    }
    loop {
        let mut changed = false;
        for d in scripts {
            let label = d.label();
            if left_out.contains_key(&label) {
                continue;
            }
            for target in dependencies(d, &by_label) {
                let Some(why) = left_out.get(&target) else {
                    continue;
                };
                let why = format!("it binds Worker {target}, which does not run: {why}");
                left_out.insert(label.clone(), why);
                changed = true;
                break;
            }
        }
        if !changed {
            break;
        }
    }

    let mut services = String::new();
    let mut externals: BTreeSet<(String, String)> = BTreeSet::new();
    let mut tails = Vec::new();
    let mut uses_do_storage = false;
    for d in scripts {
        let label = d.label();
        if left_out.contains_key(&label) {
            continue;
        }
        let tail_entry = format!("t{}", tails.len());
        tails.push(label.clone());
        let worker = worker(
            d,
            &tail_entry,
            &by_label,
            &left_out,
            inputs,
            &mut out,
            &mut externals,
        );
        uses_do_storage |= !d.script.classes.is_empty();
        let _ = writeln!(
            services,
            "    (name = {}, worker = {worker}),",
            q(&service_name(&label))
        );
        out.running.push(label);
    }

    // The router, by Host label, over the account scripts on workers.dev.
    let mut routes = serde_json::Map::new();
    let mut urls = serde_json::Map::new();
    let mut router_bindings = Vec::new();
    for d in scripts
        .iter()
        .filter(|d| d.script.dispatch_namespace.is_none())
    {
        let name = &d.script.id;
        urls.insert(
            name.clone(),
            json!(format!("http://{name}.{}", inputs.url_authority)),
        );
        // A Worker off workers.dev is still bound: its Cron Triggers run on request, as the
        // platform runs them whatever the Worker's routes.
        let route = if let Some(why) = left_out.get(name) {
            json!({"error": format!("Worker {name} could not start: {why}")})
        } else {
            let binding = format!("W{}", router_bindings.len());
            router_bindings.push(format!(
                "(name = {}, service = {})",
                q(&binding),
                q(&service_name(name))
            ));
            if d.script.subdomain.enabled {
                json!({"binding": binding})
            } else {
                json!({"binding": binding, "unrouted": format!("Worker {name} is not served on workers.dev: enable its workers.dev route (`url: true`)")})
            }
        };
        routes.insert(name.clone(), route);
    }
    router_bindings.insert(
        0,
        format!(
            "(name = \"ROUTES\", json = {})",
            q(&json!({"workers": routes, "urls": urls}).to_string())
        ),
    );
    // The queue dispatcher binds every account Worker that runs (see `delivery`).
    let consumers: Vec<String> = out
        .running
        .iter()
        .filter(|l| {
            by_label
                .get(*l)
                .is_some_and(|d| d.script.dispatch_namespace.is_none())
        })
        .cloned()
        .collect();
    let (queue_service, queue_binding) =
        super::delivery::dispatcher(&consumers, inputs.bindings_token, OWN_COMPATIBILITY_DATE);
    router_bindings.push(queue_binding);

    let mut tail_module = TAIL.to_owned();
    for (i, label) in tails.iter().enumerate() {
        let _ = writeln!(tail_module, "export const t{i} = tail({});", json!(label));
    }

    let mut text = String::new();
    text.push_str("# Generated by the athanor emulator from its deployed scripts; rewritten on every change.\n");
    text.push_str("using Workerd = import \"/workerd/workerd.capnp\";\n");
    text.push_str("const config :Workerd.Config = (\n  services = [\n");
    let _ = writeln!(
        text,
        "    (name = {}, worker = (modules = [(name = \"router.js\", esModule = {})], compatibilityDate = {}, bindings = [{}])),",
        q(ROUTER_SERVICE),
        q(ROUTER),
        q(OWN_COMPATIBILITY_DATE),
        router_bindings.join(", ")
    );
    let _ = writeln!(
        text,
        "    (name = {}, worker = (modules = [(name = \"tail.js\", esModule = {})], compatibilityDate = {}, bindings = [(name = \"SINK\", service = {})])),",
        q(TAIL_SERVICE),
        q(&tail_module),
        q(OWN_COMPATIBILITY_DATE),
        q(TAIL_SINK)
    );
    let _ = writeln!(
        text,
        "    (name = {}, worker = (modules = [(name = \"secrets_store.js\", esModule = {})], compatibilityDate = {}, bindings = [(name = \"BACKEND\", service = {})])),",
        q(SECRETS_SERVICE),
        q(SECRETS_STORE),
        q(OWN_COMPATIBILITY_DATE),
        q(SECRETS_SINK)
    );
    text.push_str(&queue_service);
    text.push('\n');
    externals.insert((TAIL_SINK.to_owned(), "tail".to_owned()));
    externals.insert((SECRETS_SINK.to_owned(), "secrets-store".to_owned()));
    for (service, binding) in &externals {
        let _ = writeln!(
            text,
            "    (name = {}, external = (address = {}, http = (injectRequestHeaders = [(name = {}, value = {}), (name = {}, value = {})]))),",
            q(service),
            q(&inputs.bindings_addr.to_string()),
            q(TOKEN_HEADER),
            q(inputs.bindings_token),
            q(BINDING_HEADER),
            q(binding)
        );
    }
    if uses_do_storage {
        let _ = writeln!(
            text,
            "    (name = {}, disk = (path = {}, writable = true)),",
            q(DO_STORAGE),
            q(inputs.durable_objects_dir)
        );
    }
    text.push_str(&services);
    text.push_str("  ],\n");
    let _ = writeln!(
        text,
        "  sockets = [(name = \"http\", address = \"127.0.0.1:0\", http = (), service = {})],",
        q(ROUTER_SERVICE)
    );
    let _ = writeln!(
        text,
        "  extensions = [(modules = [(name = {}, esModule = {}, internal = true)])],",
        q(DISPATCH_MODULE),
        q(DISPATCH)
    );
    text.push_str(");\n");
    out.text = text;
    out.left_out = left_out;
    out
}

/// The labels of the scripts `d` needs running: service targets, other scripts' Durable Object
/// classes, and (for a dispatch namespace binding) none, since a missing user Worker is an error
/// at `get()`, not at start.
fn dependencies(d: &Deployed, by_label: &BTreeMap<String, &Deployed>) -> Vec<String> {
    let mut out = Vec::new();
    for b in &d.script.bindings {
        match &b.kind {
            BindingKind::Service { service, .. } if *service != d.script.id => {
                out.push(service.clone());
            }
            BindingKind::DurableObjectNamespace {
                script_name: Some(other),
                ..
            } if *other != d.script.id => {
                if let Some(target) = durable_object_script(d, other, by_label) {
                    out.push(target);
                }
            }
            _ => {}
        }
    }
    out
}

/// The label of the script `other` that a Durable Object binding of `d` names: in `d`'s dispatch
/// namespace first, then the account (as the API resolves it).
fn durable_object_script(
    d: &Deployed,
    other: &str,
    by_label: &BTreeMap<String, &Deployed>,
) -> Option<String> {
    let same_scope = match &d.script.dispatch_namespace {
        Some(ns) => format!("{ns}/{other}"),
        None => other.to_owned(),
    };
    [same_scope, other.to_owned()]
        .into_iter()
        .find(|l| by_label.contains_key(l))
}

/// Why `d` cannot run here, judging it alone.
fn own_problem(d: &Deployed, inputs: &Inputs<'_>) -> Result<(), String> {
    let s = &d.script;
    for part in &d.code {
        if module_kind(&part.content_type).is_none() && !skipped_part(&part.content_type) {
            return Err(format!(
                "module {} has type {}, which the local runtime cannot load",
                part.name, part.content_type
            ));
        }
    }
    for b in &s.bindings {
        match &b.kind {
            BindingKind::Other(t) => {
                return Err(format!(
                    "binding {} has type {t}, which the local runtime does not back yet; remove the binding to run this Worker locally",
                    b.name
                ));
            }
            BindingKind::SecretText { stored, .. } => {
                open_secret(inputs.sealer, s, b, stored.as_ref())?;
            }
            BindingKind::WasmModule { .. } if s.main_module.is_some() => {
                return Err(format!(
                    "binding {} is a wasm_module binding, which only service-worker Workers have; import the .wasm module instead",
                    b.name
                ));
            }
            BindingKind::Inherit { .. } => {
                return Err(format!("binding {} was never resolved", b.name));
            }
            BindingKind::D1 { .. } if s.compatibility_flags.iter().any(|f| f == D1_JSRPC_FLAG) => {
                return Err(format!(
                    "binding {} is a D1 binding and the Worker sets the experimental {D1_JSRPC_FLAG} compatibility flag, which the local runtime does not back; remove the flag to run this Worker locally",
                    b.name
                ));
            }
            _ => {}
        }
    }
    if !crate::workerd::locate::is_date(&s.compatibility_date) {
        return Err(format!(
            "compatibility date {:?} is not a YYYY-MM-DD date",
            s.compatibility_date
        ));
    }
    Ok(())
}

fn open_secret(
    sealer: &Sealer,
    s: &Script,
    b: &Binding,
    stored: Option<&SealedText>,
) -> Result<String, String> {
    stored
        .and_then(|st| st.sealed.as_deref())
        .and_then(|sealed| sealer.open_sealed(sealed, &secret_context(&s.id, &b.name)).ok())
        .ok_or_else(|| {
            format!(
                "the value of secret {} is unknown to this emulator (it was stored before values were kept, or under another key); upload it again",
                b.name
            )
        })
}

/// The workerd module kind of a part's content type.
fn module_kind(content_type: &str) -> Option<&'static str> {
    let base = content_type.split(';').next().unwrap_or("").trim();
    Some(match base {
        "application/javascript+module" | "text/javascript+module" => "esModule",
        "application/javascript" | "text/javascript" => "commonJsModule",
        "application/wasm" => "wasm",
        "text/plain" => "text",
        "application/octet-stream" => "data",
        "application/json" => "json",
        _ => return None,
    })
}

/// Parts that are uploaded but never loaded (source maps).
fn skipped_part(content_type: &str) -> bool {
    content_type.starts_with("application/source-map")
}

/// The `Worker` struct of one script.
fn worker(
    d: &Deployed,
    tail_entry: &str,
    by_label: &BTreeMap<String, &Deployed>,
    left_out: &BTreeMap<String, String>,
    inputs: &Inputs<'_>,
    out: &mut Generated,
    externals: &mut BTreeSet<(String, String)>,
) -> String {
    let s = &d.script;
    let label = d.label();
    let mut embed = |part: &Part| -> String {
        let file = format!("modules/{}", ids::sha256_hex(&part.data));
        out.files
            .entry(file.clone())
            .or_insert_with(|| part.data.clone());
        format!("embed {}", q(&file))
    };
    let entry = s.entry().unwrap_or("");
    let mut fields = Vec::new();
    if s.main_module.is_some() {
        // The entry point first: workerd runs the first module.
        let mut modules = Vec::new();
        let ordered = d
            .code
            .iter()
            .filter(|p| p.name == entry)
            .chain(d.code.iter().filter(|p| p.name != entry));
        for part in ordered {
            if let Some(kind) = module_kind(&part.content_type) {
                let kind = if part.name == entry { "esModule" } else { kind };
                modules.push(format!(
                    "(name = {}, {kind} = {})",
                    q(&part.name),
                    embed(part)
                ));
            }
        }
        fields.push(format!("modules = [{}]", modules.join(", ")));
    } else if let Some(part) = d.code.iter().find(|p| p.name == entry) {
        fields.push(format!("serviceWorkerScript = {}", embed(part)));
    }
    let mut date = s.compatibility_date.clone();
    if date.as_str() > inputs.newest_date {
        out.notes.push(format!(
            "{label}: compatibility date {date} is newer than this workerd supports; it runs with {}",
            inputs.newest_date
        ));
        date = inputs.newest_date.to_owned();
    }
    fields.push(format!("compatibilityDate = {}", q(&date)));
    if !s.compatibility_flags.is_empty() {
        let flags: Vec<String> = s.compatibility_flags.iter().map(|f| q(f)).collect();
        fields.push(format!("compatibilityFlags = [{}]", flags.join(", ")));
    }

    let mut bindings = Vec::new();
    for b in &s.bindings {
        let name = q(&b.name);
        let part_named = |part: &str| d.code.iter().find(|p| p.name == part);
        let value = match &b.kind {
            BindingKind::PlainText { text } => format!("text = {}", q(text)),
            BindingKind::Json { json } => format!("json = {}", q(&json.to_string())),
            BindingKind::SecretText { stored, .. } => {
                let Ok(value) = open_secret(inputs.sealer, s, b, stored.as_ref()) else {
                    continue;
                };
                let var = format!("ATHANOR_SECRET_{}", out.env.len());
                out.env.push((var.clone(), value));
                format!("fromEnvironment = {}", q(&var))
            }
            BindingKind::KvNamespace { namespace_id } => {
                let service = format!("kv:{namespace_id}");
                externals.insert((service.clone(), format!("kv/{namespace_id}")));
                format!("kvNamespace = {}", q(&service))
            }
            BindingKind::R2Bucket {
                bucket_name,
                jurisdiction,
            } => {
                let id = crate::store::lookup::r2_bucket_id(bucket_name, jurisdiction.as_deref());
                let service = format!("r2:{id}");
                externals.insert((service.clone(), format!("r2/{id}")));
                format!("r2Bucket = {}", q(&service))
            }
            BindingKind::DurableObjectNamespace {
                class_name,
                script_name,
                ..
            } => match script_name.as_deref().filter(|o| *o != s.id) {
                None => format!("durableObjectNamespace = {}", q(class_name)),
                Some(other) => {
                    let target = durable_object_script(d, other, by_label)
                        .unwrap_or_else(|| other.to_owned());
                    format!(
                        "durableObjectNamespace = (className = {}, serviceName = {})",
                        q(class_name),
                        q(&service_name(&target))
                    )
                }
            },
            BindingKind::Service {
                service,
                entrypoint,
                ..
            } => match entrypoint {
                Some(e) => format!(
                    "service = (name = {}, entrypoint = {})",
                    q(&service_name(service)),
                    q(e)
                ),
                None => format!("service = {}", q(&service_name(service))),
            },
            BindingKind::DispatchNamespace { namespace } => {
                let prefix = format!("{namespace}/");
                let mut inner = Vec::new();
                let mut failed = serde_json::Map::new();
                for (l, _) in by_label.range(prefix.clone()..) {
                    let Some(user) = l.strip_prefix(&prefix) else {
                        break;
                    };
                    match left_out.get(l) {
                        Some(why) => {
                            failed.insert(user.to_owned(), Value::from(why.clone()));
                        }
                        None => inner.push(format!(
                            "(name = {}, service = {})",
                            q(&format!("w:{user}")),
                            q(&service_name(l))
                        )),
                    }
                }
                inner.push(format!(
                    "(name = \"failed\", json = {})",
                    q(&Value::Object(failed).to_string())
                ));
                format!(
                    "wrapped = (moduleName = {}, innerBindings = [{}])",
                    q(DISPATCH_MODULE),
                    inner.join(", ")
                )
            }
            BindingKind::D1 { .. } => {
                let Some(id) = b.kind.d1_database() else {
                    continue;
                };
                let service = format!("d1:{id}");
                externals.insert((service.clone(), format!("d1/{id}")));
                format!(
                    "wrapped = (moduleName = {}, innerBindings = [(name = \"fetcher\", service = {})])",
                    q(D1_MODULE),
                    q(&service)
                )
            }
            BindingKind::AnalyticsEngine { .. } => {
                let Some(dataset) = b.analytics_engine_dataset() else {
                    continue;
                };
                // workerd names the event's dataset after this service; the header names it for
                // the binding service, whatever its characters.
                let dataset = percent_encode(dataset);
                let service = format!("analytics-engine:{dataset}");
                externals.insert((service.clone(), format!("analytics-engine/{dataset}")));
                format!("analyticsEngine = {}", q(&service))
            }
            BindingKind::Queue {
                queue_name,
                delivery_delay,
            } => {
                let (service, binding) = super::delivery::producer(queue_name, *delivery_delay);
                externals.insert((service.clone(), binding));
                format!("queue = {}", q(&service))
            }
            BindingKind::SecretsStoreSecret {
                store_id,
                secret_name,
            } => format!(
                "service = (name = {}, entrypoint = \"SecretsStoreSecret\", props = (json = {}))",
                q(SECRETS_SERVICE),
                q(&json!({"store": store_id, "name": secret_name}).to_string())
            ),
            BindingKind::WasmModule { part } => match part_named(part) {
                Some(p) => format!("wasmModule = {}", embed(p)),
                None => continue,
            },
            BindingKind::TextBlob { part } => match part_named(part) {
                Some(p) => format!("text = {}", embed(p)),
                None => continue,
            },
            BindingKind::DataBlob { part } => match part_named(part) {
                Some(p) => format!("data = {}", embed(p)),
                None => continue,
            },
            BindingKind::Inherit { .. } | BindingKind::Other(_) => continue,
        };
        bindings.push(format!("(name = {name}, {value})"));
    }
    fields.push(format!("bindings = [{}]", bindings.join(", ")));
    if !s.classes.is_empty() {
        let namespaces: Vec<String> = s
            .classes
            .iter()
            .map(|k| {
                format!(
                    "(className = {}, uniqueKey = {}, enableSql = {})",
                    q(&k.class),
                    q(&k.id),
                    k.sqlite
                )
            })
            .collect();
        fields.push(format!(
            "durableObjectNamespaces = [{}]",
            namespaces.join(", ")
        ));
        fields.push(format!(
            "durableObjectStorage = (localDisk = {})",
            q(DO_STORAGE)
        ));
    }
    fields.push(format!(
        "tails = [(name = {}, entrypoint = {})]",
        q(TAIL_SERVICE),
        q(tail_entry)
    ));
    format!("({})", fields.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scripts::model::{DurableObjectClass, PartInfo, Subdomain};

    fn script(name: &str, namespace: Option<&str>, bindings: Value) -> Deployed {
        let script: Script = serde_json::from_value(json!({
            "id": name, "tag": "t", "etag": "e", "created_on": "c", "modified_on": "m",
            "deployment_id": "d", "main_module": "index.js", "compatibility_date": "2025-01-01",
            "dispatch_namespace": namespace, "bindings": bindings,
        }))
        .unwrap();
        Deployed {
            script: Script {
                subdomain: Subdomain {
                    enabled: true,
                    previews_enabled: true,
                },
                parts: vec![PartInfo {
                    name: "index.js".into(),
                    content_type: "application/javascript+module".into(),
                }],
                ..script
            },
            code: vec![Part {
                name: "index.js".into(),
                content_type: "application/javascript+module".into(),
                data: b"export default {}".to_vec(),
            }],
        }
    }

    fn generate_for(scripts: &[Deployed], sealer: &Sealer) -> Generated {
        let refused = BTreeMap::new();
        let inputs = Inputs {
            bindings_addr: "127.0.0.1:9".parse().unwrap(),
            bindings_token: "tok",
            sealer,
            newest_date: "2026-11-17",
            durable_objects_dir: "/data/do",
            url_authority: "localhost:8787",
            refused: &refused,
        };
        generate(scripts, &inputs)
    }

    fn sealer() -> (tempfile::TempDir, Sealer) {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::open(dir.path()).unwrap();
        (dir, sealer)
    }

    #[test]
    fn strings_are_escaped_for_capnp() {
        assert_eq!(q("a\"b\\c\nd\u{1}é"), "\"a\\\"b\\\\c\\nd\\x01é\"");
    }

    #[test]
    fn bindings_map_to_workerd_bindings() {
        let (_dir, sealer) = sealer();
        let mut w = script(
            "w",
            None,
            json!([
                {"name": "KV", "type": "kv_namespace", "namespace_id": "abc"},
                {"name": "B", "type": "r2_bucket", "bucket_name": "files"},
                {"name": "V", "type": "plain_text", "text": "1.0"},
                {"name": "J", "type": "json", "json": {"a": true}},
                {"name": "C", "type": "durable_object_namespace", "class_name": "Counter"},
                {"name": "S", "type": "secrets_store_secret", "store_id": "st", "secret_name": "API"},
                {"name": "DB", "type": "d1", "id": "0b7e-d1"},
                {"name": "JOBS", "type": "queue", "queue_name": "jobs", "delivery_delay": 5},
                {"name": "EVENTS", "type": "analytics_engine", "dataset": "app events"},
                {"name": "HITS", "type": "analytics_engine"},
            ]),
        );
        w.script.classes.push(DurableObjectClass {
            class: "Counter".into(),
            sqlite: true,
            id: "ns1".into(),
        });
        let sealed = sealer.seal("hunter2", &secret_context("w", "T"));
        w.script.bindings.push(
            Binding::from_json(
                json!({"name": "T", "type": "secret_text", "sealed": sealed, "text_sha256": "x"}),
            )
            .unwrap(),
        );
        let g = generate_for(&[w], &sealer);
        assert_eq!(g.running, ["w"]);
        let t = &g.text;
        for expected in [
            "(name = \"KV\", kvNamespace = \"kv:abc\")",
            "(name = \"B\", r2Bucket = \"r2:default/files\")",
            "(name = \"V\", text = \"1.0\")",
            "(name = \"J\", json = \"{\\\"a\\\":true}\")",
            "(name = \"C\", durableObjectNamespace = \"Counter\")",
            "(className = \"Counter\", uniqueKey = \"ns1\", enableSql = true)",
            "(name = \"T\", fromEnvironment = \"ATHANOR_SECRET_0\")",
            "service = (name = \"athanor:secrets-store\", entrypoint = \"SecretsStoreSecret\"",
            "(name = \"DB\", wrapped = (moduleName = \"cloudflare-internal:d1-api\", innerBindings = [(name = \"fetcher\", service = \"d1:0b7e-d1\")]))",
            "value = \"d1/0b7e-d1\"",
            "(name = \"JOBS\", queue = \"queue:jobs:5\")",
            "value = \"queue/jobs/5\"",
            "compatibilityFlags = [\"service_binding_extra_handlers\"]",
            "(name = \"QUEUES\", service = \"athanor:queues\")",
            "(name = \"C0\", service = \"worker:w\")",
            "(name = \"EVENTS\", analyticsEngine = \"analytics-engine:app%20events\")",
            "value = \"analytics-engine/app%20events\"",
            "(name = \"HITS\", analyticsEngine = \"analytics-engine:HITS\")",
            "value = \"kv/abc\"",
            "value = \"r2/default/files\"",
        ] {
            assert!(t.contains(expected), "missing {expected} in\n{t}");
        }
        assert!(!t.contains("hunter2"), "a secret value reached the file");
        assert_eq!(
            g.env,
            [("ATHANOR_SECRET_0".to_owned(), "hunter2".to_owned())]
        );
    }

    #[test]
    fn a_worker_with_an_unsupported_binding_is_left_out_and_so_are_its_dependents() {
        let (_dir, sealer) = sealer();
        let q = script(
            "q",
            None,
            json!([{"name": "VEC", "type": "vectorize", "index_name": "docs"}]),
        );
        let user = script(
            "api",
            None,
            json!([{"name": "Q", "type": "service", "service": "q"}]),
        );
        let fine = script("fine", None, json!([]));
        let g = generate_for(&[q, user, fine], &sealer);
        assert_eq!(g.running, ["fine"]);
        assert!(
            g.left_out["q"].contains("binding VEC has type vectorize"),
            "{:?}",
            g.left_out
        );
        assert!(
            g.left_out["api"].contains("binds Worker q"),
            "{:?}",
            g.left_out
        );
        // The router answers for both with the reason.
        assert!(
            g.text
                .contains("Worker q could not start: binding VEC has type vectorize")
        );
    }

    #[test]
    fn a_dispatch_namespace_binds_its_user_workers_only() {
        let (_dir, sealer) = sealer();
        let dispatcher = script(
            "dispatcher",
            None,
            json!([{"name": "D", "type": "dispatch_namespace", "namespace": "customers"}]),
        );
        let a = script("customer-a", Some("customers"), json!([]));
        let other = script("customer-b", Some("others"), json!([]));
        let g = generate_for(&[dispatcher, a, other], &sealer);
        assert!(
            g.text
                .contains("(name = \"w:customer-a\", service = \"worker:customers/customer-a\")"),
            "{}",
            g.text
        );
        assert!(!g.text.contains("\"w:customer-b\""));
        // User Workers are not routed on workers.dev.
        assert!(!g.text.contains("customers/customer-a\\\":"));
    }

    #[test]
    fn a_future_compatibility_date_is_brought_back_with_a_note() {
        let (_dir, sealer) = sealer();
        let mut w = script("w", None, json!([]));
        w.script.compatibility_date = "2099-01-01".into();
        let g = generate_for(&[w], &sealer);
        assert!(g.text.contains("compatibilityDate = \"2026-11-17\""));
        assert_eq!(g.notes.len(), 1);
    }
}
