//! Workers: one multipart upload per deploy (metadata + module parts), into a dispatch namespace
//! when `namespace` is set, with the bindings built from the outputs of the resources bound, the
//! Durable Object migrations, and tags marking the script as this stack's; then workers.dev on
//! or off as `url` says.
//!
//! An existing script of the same name without this stack's tags is not taken over without
//! `adopt`. Requests are kept to the minimum: one settings read when the script may exist or
//! carries Durable Objects, one upload, one read of the account's Durable Object namespace list
//! when the script has classes (their ids go into the output), and for a script that existed
//! before the call a read of its workers.dev state (which may have been switched outside
//! athanor), then a workers.dev call only when that state must change; the account subdomain is
//! read once per client.
//!
//! Round trips are kept to the dependency graph's: the reads that depend on nothing the deploy
//! creates go out as it starts ([`read_ahead`]), the workers.dev state beside the upload, and
//! the upload is the only step dependents wait for; workers.dev, the Cron Triggers and the
//! namespace list follow it together.
//!
//! [`read`] builds the output from live data (etag, migration tag, bindings, workers.dev,
//! Durable Object namespace ids), so that `--refresh` sees a Worker changed outside athanor.

use std::collections::BTreeMap;

use athanor_core::output::WorkerOutput;
use athanor_core::provider::{Applying, Desired, Prepared};
use athanor_core::stack::Worker;
use athanor_core::{BindingValue, Kind, Output, ProviderError};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::durable_object::{self, BoundClass, Migration};
use super::{Deployed, delete_if_exists, describe};
use crate::client::{Client, Part, Request};
use crate::error::Error;
use crate::modules::{self, WorkerModules};

/// The compatibility date used when a Worker declares none.
pub(crate) const DEFAULT_COMPATIBILITY_DATE: &str = "2025-09-01";

/// The most tags Cloudflare keeps on one script.
const MAX_TAGS: usize = 8;

/// Tag prefixes marking a script as this stack's.
const APP_TAG: &str = "athanor:app:";
const STAGE_TAG: &str = "athanor:stage:";
const ID_TAG: &str = "athanor:id:";

/// What athanor reads of `GET …/settings`.
#[derive(Debug, Default, Deserialize)]
struct Settings {
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    bindings: Option<Vec<ListedBinding>>,
}

/// A binding as the settings list it: only its name and type are read (a secret's value is
/// never returned, and never kept).
#[derive(Debug, Deserialize)]
struct ListedBinding {
    #[serde(default)]
    name: String,
    #[serde(default, rename = "type")]
    kind: String,
}

/// The script fields athanor records, from the upload's answer or a read of the script.
#[derive(Debug, Default, Deserialize)]
struct ScriptInfo {
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    migration_tag: Option<String>,
}

/// `GET …/scripts/{name}/subdomain`.
#[derive(Debug, Deserialize)]
struct WorkersDev {
    #[serde(default)]
    enabled: bool,
}

/// `/workers/scripts/NAME`, or the dispatch namespace's script path.
fn script_path(client: &Client, name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => {
            client.account_path(&format!("/workers/dispatch/namespaces/{ns}/scripts/{name}"))
        }
        None => client.account_path(&format!("/workers/scripts/{name}")),
    }
}

/// The tags marking the script as this stack's resource.
pub(crate) fn ownership_tags(app: &str, stage: &str, id: &str) -> Vec<String> {
    vec![
        format!("{APP_TAG}{app}"),
        format!("{STAGE_TAG}{stage}"),
        format!("{ID_TAG}{id}"),
    ]
}

/// Whether a deployed script's tags say it is this resource.
pub(crate) fn is_ours(tags: &[String], app: &str, stage: &str, id: &str) -> bool {
    ownership_tags(app, stage, id)
        .iter()
        .all(|t| tags.contains(t))
}

/// The Worker's modules: those its fingerprint collected earlier in the run (kept in
/// [`Desired::memo`]), else collected now.
async fn modules_of(d: &Desired<'_>, p: &Worker) -> Result<WorkerModules, ProviderError> {
    match d.memo.take::<WorkerModules>(&d.resource.id) {
        Some(modules) => Ok(modules),
        None => collect_modules(d, p).await,
    }
}

/// Collects (or, for a Rust Worker, builds) the Worker's modules off the async threads, handing
/// the lines a build prints to the step log as they come.
pub(crate) async fn collect_modules(
    d: &Desired<'_>,
    p: &Worker,
) -> Result<WorkerModules, ProviderError> {
    let what = describe(Kind::Worker, &d.resource.id, d.name);
    let root = d.root.to_path_buf();
    let code = p.code.clone();
    let (lines, mut printed) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut collecting = tokio::task::spawn_blocking(move || {
        modules::collect(&root, &code, &|line| {
            let _ = lines.send(line.to_owned());
        })
    });
    let collected = loop {
        tokio::select! {
            Some(line) = printed.recv() => d.log.line(&d.resource.id, &line),
            done = &mut collecting => break done,
        }
    };
    while let Ok(line) = printed.try_recv() {
        d.log.line(&d.resource.id, &line);
    }
    let modules = collected
        .map_err(|e| ProviderError::Local {
            message: format!("{what}: collecting the modules stopped: {e}"),
        })?
        .map_err(|e| ProviderError::Local {
            message: format!("{what}: {e}"),
        })?;
    check_size(&modules, &what, &|line| d.log.line(&d.resource.id, line))?;
    Ok(modules)
}

/// Cloudflare's limit on a Worker's compressed size on the Workers Paid plan (10 MiB); the Free
/// plan's is 3 MiB.
pub(crate) const MAX_COMPRESSED_BYTES: usize = 10 * 1024 * 1024;
/// Cloudflare's limit on a Worker's compressed size on the Free plan.
pub(crate) const MAX_COMPRESSED_BYTES_FREE: usize = 3 * 1024 * 1024;

/// The size of the modules once gzipped, as Cloudflare measures a Worker against its limits.
pub(crate) fn compressed_size(modules: &WorkerModules) -> usize {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for m in &modules.modules {
        let _ = gz.write_all(&m.bytes);
    }
    gz.finish().map(|b| b.len()).unwrap_or(usize::MAX)
}

/// Refuses a Worker over Cloudflare's size limit before anything is uploaded, and notes one that
/// only the Paid plan accepts.
fn check_size(
    modules: &WorkerModules,
    what: &str,
    log: &dyn Fn(&str),
) -> Result<(), ProviderError> {
    let size = compressed_size(modules);
    if size > MAX_COMPRESSED_BYTES_FREE && size <= MAX_COMPRESSED_BYTES {
        log(&format!(
            "note: {what} is {:.1} MiB compressed: the Workers Free plan refuses Workers over {} MiB",
            size as f64 / (1024.0 * 1024.0),
            MAX_COMPRESSED_BYTES_FREE / (1024 * 1024)
        ));
    }
    if size > MAX_COMPRESSED_BYTES {
        return Err(ProviderError::Local {
            message: format!(
                "{what} is {:.1} MiB compressed, over Cloudflare's limit of {} MiB on the Workers Paid plan ({} MiB on Free): make it smaller (for a Rust Worker, `opt-level = \"s\"` or \"z\"`, `lto = true` and wasm-opt help)",
                size as f64 / (1024.0 * 1024.0),
                MAX_COMPRESSED_BYTES / (1024 * 1024),
                MAX_COMPRESSED_BYTES_FREE / (1024 * 1024),
            ),
        });
    }
    Ok(())
}

/// The Durable Object classes this Worker exports: those it binds without a `script_name` (or
/// with its own), and any other class in its dependencies whose `script_name` is this Worker.
pub(crate) fn bound_classes(
    worker_name: &str,
    p: &Worker,
    deps: &BTreeMap<String, Output>,
) -> Vec<BoundClass> {
    let mut out: Vec<BoundClass> = Vec::new();
    let mut add = |id: &str, o: &athanor_core::output::DurableObjectNamespaceOutput| {
        if !out.iter().any(|c| c.id == id) {
            out.push(BoundClass {
                id: id.to_owned(),
                class_name: o.class_name.clone(),
                sqlite: o.sqlite,
            });
        }
    };
    for b in &p.bindings {
        let BindingValue::Resource(r) = &b.value else {
            continue;
        };
        if let Some(Output::DurableObjectNamespace(o)) = deps.get(&r.0)
            && o.script_name.as_deref().is_none_or(|s| s == worker_name)
        {
            add(&r.0, o);
        }
    }
    for (id, dep) in deps {
        if let Output::DurableObjectNamespace(o) = dep
            && o.script_name.as_deref() == Some(worker_name)
        {
            add(id, o);
        }
    }
    out
}

/// Whether the Worker binds any Durable Object class (its own or another script's).
fn binds_durable_objects(p: &Worker, deps: &BTreeMap<String, Output>) -> bool {
    p.bindings.iter().any(|b| match &b.value {
        BindingValue::Resource(r) => {
            matches!(deps.get(&r.0), Some(Output::DurableObjectNamespace(_)))
        }
        _ => false,
    })
}

/// The `bindings` metadata array, in declaration order.
pub(crate) fn bindings_json(
    worker_name: &str,
    p: &Worker,
    deps: &BTreeMap<String, Output>,
    secrets: &BTreeMap<String, SecretString>,
    what: &str,
) -> Result<Vec<Value>, ProviderError> {
    let mut out = Vec::new();
    for b in &p.bindings {
        let name = &b.name;
        // Core names the type of a value binding; `Some` serializes as the name itself.
        let ty = b.value.fixed_type();
        let binding = match &b.value {
            BindingValue::PlainText(text) => json!({"type": ty, "name": name, "text": text}),
            BindingValue::Json(value) => json!({"type": ty, "name": name, "json": value}),
            BindingValue::SecretText(source) => {
                let value = secrets.get(name).ok_or_else(|| ProviderError::Local {
                    message: format!(
                        "{what}: no value was provided for the secret binding `{name}` ({})",
                        source.describe()
                    ),
                })?;
                json!({"type": ty, "name": name, "text": value.expose_secret()})
            }
            BindingValue::Entrypoint { worker, entrypoint } => match deps.get(&worker.0) {
                Some(Output::Worker(o)) => json!({
                    "type": ty, "name": name, "service": o.name, "entrypoint": entrypoint,
                }),
                Some(dep) => {
                    return Err(ProviderError::Local {
                        message: format!(
                            "{what}: the binding `{name}` names the entrypoint `{entrypoint}` of `{}`, a {}; only a Worker has entrypoints",
                            worker.0,
                            dep.kind()
                        ),
                    });
                }
                None => return Err(missing_output(what, name, &worker.0)),
            },
            BindingValue::Resource(r) => {
                let Some(dep) = deps.get(&r.0) else {
                    return Err(missing_output(what, name, &r.0));
                };
                resource_binding(worker_name, name, dep).ok_or_else(|| ProviderError::Local {
                    message: format!(
                        "{what}: the binding `{name}` refers to `{}`, a {}, which cannot be bound to a Worker; bind a Secret or SecretRef in it instead",
                        r.0,
                        dep.kind()
                    ),
                })?
            }
        };
        out.push(binding);
    }
    Ok(out)
}

/// A binding whose resource has no output: the graph deploys dependencies first, so this is a
/// plan built by hand that skipped one.
fn missing_output(what: &str, name: &str, id: &str) -> ProviderError {
    ProviderError::Local {
        message: format!(
            "{what}: the binding `{name}` refers to `{id}`, which has no output yet (it must be deployed first)"
        ),
    }
}

/// The binding of `name` to the resource whose output is `dep`, of the type core names for its
/// kind ([`Kind::binding_type`]); `None` for a kind that cannot be bound.
fn resource_binding(worker_name: &str, name: &str, dep: &Output) -> Option<Value> {
    let ty = dep.kind().binding_type()?;
    Some(match dep {
        Output::KvNamespace(o) => json!({"type": ty, "name": name, "namespace_id": o.id}),
        // `id`, as wrangler sends it (`database_id` is the newer spelling of the same field).
        Output::D1Database(o) => json!({"type": ty, "name": name, "id": o.id}),
        Output::AnalyticsEngineDataset(o) => {
            json!({"type": ty, "name": name, "dataset": o.dataset})
        }
        Output::Queue(o) => json!({"type": ty, "name": name, "queue_name": o.name}),
        // Core gives a consumer no binding type, so it never gets here.
        Output::QueueConsumer(_) => return None,
        Output::R2Bucket(o) => {
            let mut v = json!({"type": ty, "name": name, "bucket_name": o.name});
            if let Some(j) = o.jurisdiction.as_deref().filter(|j| *j != "default") {
                v["jurisdiction"] = json!(j);
            }
            v
        }
        Output::DurableObjectNamespace(o) => {
            let mut v = json!({"type": ty, "name": name, "class_name": o.class_name});
            if let Some(script) = o.script_name.as_deref().filter(|s| *s != worker_name) {
                v["script_name"] = json!(script);
            }
            if let Some(env) = &o.environment {
                v["environment"] = json!(env);
            }
            v
        }
        Output::Secret(o) | Output::SecretRef(o) => json!({
            "type": ty, "name": name,
            "store_id": o.store_id, "secret_name": o.name,
        }),
        Output::DispatchNamespace(o) => json!({"type": ty, "name": name, "namespace": o.name}),
        Output::Worker(o) => json!({"type": ty, "name": name, "service": o.name}),
        // Core gives a store no binding type, so it never gets here.
        Output::SecretsStore(_) => return None,
    })
}

/// The upload's `metadata` part.
pub(crate) fn metadata_json(
    main_module: &str,
    p: &Worker,
    bindings: Vec<Value>,
    migration: Option<&Migration>,
    tags: &[String],
) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("main_module".into(), json!(main_module));
    m.insert(
        "compatibility_date".into(),
        json!(
            p.compatibility_date
                .as_deref()
                .unwrap_or(DEFAULT_COMPATIBILITY_DATE)
        ),
    );
    if !p.compatibility_flags.is_empty() {
        m.insert("compatibility_flags".into(), json!(p.compatibility_flags));
    }
    if p.observability {
        m.insert("observability".into(), json!({ "enabled": true }));
    }
    if let Some(mode) = &p.placement {
        m.insert("placement".into(), json!({ "mode": mode }));
    }
    if let Some(cpu_ms) = p.cpu_ms {
        m.insert("limits".into(), json!({ "cpu_ms": cpu_ms }));
    }
    m.insert("bindings".into(), Value::Array(bindings));
    if !p.keep_bindings.is_empty() {
        m.insert("keep_bindings".into(), json!(p.keep_bindings));
    }
    if let Some(mig) = migration {
        m.insert("migrations".into(), mig.to_json());
    }
    m.insert("tags".into(), json!(tags));
    Value::Object(m)
}

fn parts(modules: &WorkerModules, metadata: &Value) -> Vec<Part> {
    let mut parts = vec![Part {
        name: "metadata".into(),
        filename: None,
        content_type: "application/json".into(),
        bytes: metadata.to_string().into_bytes(),
    }];
    for m in &modules.modules {
        parts.push(Part {
            name: m.name.clone(),
            filename: Some(m.name.clone()),
            content_type: m.content_type.into(),
            bytes: m.bytes.clone(),
        });
    }
    parts
}

async fn read_settings(client: &Client, path: &str) -> Result<Option<Settings>, Error> {
    client
        .get_if_exists::<Settings>(Request::get(format!("{path}/settings")))
        .await
}

/// The script's etag and migration tag, `None` when it does not exist: from
/// `GET …/workers/services/{name}` (`default_environment.script`) for an account script, from
/// `GET …/dispatch/namespaces/{ns}/scripts/{name}` (`script`) for a user Worker. One request
/// either way, where the account's script list would grow with the account.
async fn read_script_info(
    client: &Client,
    name: &str,
    namespace: Option<&str>,
) -> Result<Option<ScriptInfo>, Error> {
    #[derive(Debug, Default, Deserialize)]
    struct Environment {
        #[serde(default)]
        script: ScriptInfo,
    }
    #[derive(Debug, Deserialize)]
    struct Service {
        #[serde(default)]
        default_environment: Environment,
    }
    match namespace {
        Some(_) => Ok(client
            .get_if_exists::<Environment>(Request::get(script_path(client, name, namespace)))
            .await?
            .map(|e| e.script)),
        None => Ok(client
            .get_if_exists::<Service>(Request::get(
                client.account_path(&format!("/workers/services/{name}")),
            ))
            .await?
            .map(|s| s.default_environment.script)),
    }
}

/// Whether the account script at `path` is served on workers.dev; `None` when it does not exist.
async fn read_workers_dev(client: &Client, path: &str) -> Result<Option<bool>, Error> {
    Ok(client
        .get_if_exists::<WorkersDev>(Request::get(format!("{path}/subdomain")))
        .await?
        .map(|s| s.enabled))
}

/// The type of each binding of the upload, by name (the values are left out).
fn declared_binding_types(bindings: &[Value]) -> BTreeMap<String, String> {
    bindings
        .iter()
        .filter_map(|b| {
            Some((
                b["name"].as_str()?.to_owned(),
                b["type"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// The live bindings as [`declared_binding_types`] records them: the type of each by name,
/// leaving out the bindings `keep_bindings` kept from earlier uploads that the stack does not
/// declare (they are meant to be managed elsewhere, so they are no drift).
fn live_binding_types(
    live: Vec<ListedBinding>,
    recorded: &BTreeMap<String, String>,
    keep_bindings: &[String],
) -> BTreeMap<String, String> {
    live.into_iter()
        .filter(|b| recorded.contains_key(&b.name) || !keep_bindings.contains(&b.kind))
        .map(|b| (b.name, b.kind))
        .collect()
}

/// Whether the Durable Object namespace list is read for a script: an account script (the
/// list is not documented to cover user Workers in a dispatch namespace) that has had a
/// migration or exports classes.
fn lists_namespaces(namespace: Option<&str>, migration_tag: Option<&str>, classes: bool) -> bool {
    namespace.is_none() && (classes || migration_tag.is_some())
}

/// The Durable Object namespace ids of the script `name`, by class: one read of the list when
/// [`lists_namespaces`] says so, else none and no request. `what` names the Worker in errors.
async fn durable_object_ids(
    client: &Client,
    name: &str,
    namespace: Option<&str>,
    migration_tag: Option<&str>,
    classes: bool,
    what: &str,
) -> Result<BTreeMap<String, String>, ProviderError> {
    if !lists_namespaces(namespace, migration_tag, classes) {
        return Ok(BTreeMap::new());
    }
    durable_object::namespace_ids(client, name)
        .await
        .map_err(|e| e.context(what, "listing the Durable Object namespaces of"))
}

fn is_tag_mismatch(e: &Error) -> bool {
    e.has_code(10079) || e.status() == Some(412)
}

/// What [`read_ahead`] learned before the Worker's dependencies existed.
#[derive(Debug)]
struct ReadAhead {
    /// The modules to upload.
    modules: WorkerModules,
    /// The script's settings (`None`: no such script), when they were read.
    settings: Option<Option<Settings>>,
}

/// What a deploy of the Worker needs that depends on nothing the deploy creates, gathered
/// together as the deploy starts: its modules (collected, or built for a Rust Worker), and,
/// for an account Worker, the reads: the script's settings (whether it exists and whose it is)
/// when it may exist unrecorded or carries Durable Objects, and the account's workers.dev
/// subdomain when it is to be on workers.dev (read once per client). A user Worker's path needs
/// its dispatch namespace's output, so it reads nothing ahead.
pub(crate) async fn read_ahead(
    client: &Client,
    d: &Desired<'_>,
    p: &Worker,
    previous: Option<&WorkerOutput>,
) -> Result<Prepared, ProviderError> {
    let what = describe(Kind::Worker, &d.resource.id, d.name);
    let path = script_path(client, d.name, None);
    let account = p.namespace.is_none();
    let had_classes = previous.is_some_and(|o| o.migration_tag.is_some());
    let settings = async {
        if account && (previous.is_none() || had_classes) {
            read_settings(client, &path)
                .await
                .map(Some)
                .map_err(|e| e.context(&what, "reading the current settings of"))
        } else {
            Ok(None)
        }
    };
    let subdomain = async {
        if account && p.url {
            client
                .workers_url(d.name)
                .await
                .map_err(|e| e.context(&what, "reading the account's workers.dev subdomain for"))?;
        }
        Ok(())
    };
    let (modules, settings, ()) = tokio::try_join!(modules_of(d, p), settings, subdomain)?;
    Ok(Prepared::new(ReadAhead { modules, settings }))
}

/// Creates the Worker: the upload, then, in the rest, workers.dev, Cron Triggers and the
/// Durable Object ids. An existing script not marked as this stack's is taken over only with
/// `adopt`.
pub(crate) async fn create<'a>(
    client: &'a Client,
    d: &'a Desired<'a>,
    p: &'a Worker,
    prepared: Prepared,
) -> Result<Applying<'a>, ProviderError> {
    deploy(client, d, p, None, None, prepared.take()).await
}

/// Uploads the Worker again; the rest brings workers.dev and Cron Triggers to the declared
/// state.
pub(crate) async fn update<'a>(
    client: &'a Client,
    d: &'a Desired<'a>,
    p: &'a Worker,
    e: Deployed<'a, Worker, WorkerOutput>,
    prepared: Prepared,
) -> Result<Applying<'a>, ProviderError> {
    deploy(
        client,
        d,
        p,
        Some(e.output),
        Some(&e.props.crons),
        prepared.take(),
    )
    .await
}

/// Everything the upload needs, resolved before it: the script's place, its modules, tags and
/// bindings, and what the settings read said about the script already there.
struct Resolved {
    /// The dispatch namespace's name, for a user Worker of Workers for Platforms.
    namespace: Option<String>,
    /// The script's API path.
    path: String,
    /// The modules to upload.
    modules: WorkerModules,
    /// The Durable Object classes the script exports.
    bound: Vec<BoundClass>,
    /// The ownership tags and one tag per exported class.
    tags: Vec<String>,
    /// The `bindings` metadata array.
    bindings: Vec<Value>,
    /// Whether the script existed before this call (recorded, adopted or recovered).
    existed: bool,
    /// Whether it was on workers.dev before this call (read beside the upload when it existed).
    was_on: bool,
    /// The migration tag the last deploy recorded.
    old_tag: Option<String>,
    /// The Durable Object migration the upload carries, if any class changes.
    migration: Option<Migration>,
}

/// Uploads the Worker (`previous` is its recorded output on an update) in two steps,
/// [`resolve`] and [`upload`]; the output is then final in what dependents use (the script's
/// name), so workers.dev, the Cron Triggers and the Durable Object ids ([`finish`]) are the
/// rest.
async fn deploy<'a>(
    client: &'a Client,
    d: &'a Desired<'a>,
    p: &'a Worker,
    previous: Option<&WorkerOutput>,
    recorded_crons: Option<&'a [String]>,
    ahead: Option<ReadAhead>,
) -> Result<Applying<'a>, ProviderError> {
    let what = describe(Kind::Worker, &d.resource.id, d.name);
    let mut resolved = resolve(client, d, p, previous, ahead, &what).await?;
    // Whether a script that existed is on workers.dev, read beside the upload, which does not
    // change it.
    let was_on = async {
        if resolved.existed && resolved.namespace.is_none() {
            read_workers_dev(client, &resolved.path)
                .await
                .map(|on| Some(on.unwrap_or(false)))
                .map_err(|e| e.context(&what, "reading the workers.dev state of"))
        } else {
            Ok(None)
        }
    };
    let ((uploaded, migration), was_on) =
        tokio::try_join!(upload(client, d, p, &resolved, &what), was_on)?;
    resolved.was_on = was_on.unwrap_or(false);
    let migration_tag = uploaded
        .migration_tag
        .or_else(|| migration.map(|m| m.new_tag))
        .or_else(|| resolved.old_tag.clone());
    let output = WorkerOutput {
        name: d.name.to_owned(),
        namespace: resolved.namespace.clone(),
        url: None,
        etag: uploaded.etag,
        migration_tag,
        content_hash: resolved.modules.content_hash(),
        durable_objects: BTreeMap::new(),
        bindings: declared_binding_types(&resolved.bindings),
    };
    Ok(Applying {
        output: Output::Worker(output.clone()),
        rest: Some(Box::pin(finish(
            client,
            d,
            p,
            resolved,
            output,
            recorded_crons,
            what,
        ))),
    })
}

/// After the upload, together: workers.dev to the declared state (the URL), the Cron Triggers,
/// and the Durable Object namespace ids (one read of the namespace list when
/// [`lists_namespaces`] says so); returns the complete output.
async fn finish(
    client: &Client,
    d: &Desired<'_>,
    p: &Worker,
    resolved: Resolved,
    mut output: WorkerOutput,
    recorded_crons: Option<&[String]>,
    what: String,
) -> Result<Output, ProviderError> {
    let (url, (), durable_objects) = tokio::try_join!(
        workers_dev(client, d, p, &resolved, &what),
        schedules(client, p, &resolved, recorded_crons, &what),
        durable_object_ids(
            client,
            d.name,
            resolved.namespace.as_deref(),
            output.migration_tag.as_deref(),
            !resolved.bound.is_empty(),
            &what,
        ),
    )?;
    output.url = url;
    output.durable_objects = durable_objects;
    Ok(Output::Worker(output))
}

/// Brings the Worker's Cron Triggers to `p.crons`, with one call only when they change: from
/// what state recorded (an update), from none (a script this call created), or whatever they
/// were (a script that existed unrecorded: adopted or recovered).
async fn schedules(
    client: &Client,
    p: &Worker,
    resolved: &Resolved,
    recorded: Option<&[String]>,
    what: &str,
) -> Result<(), ProviderError> {
    let changed = match recorded {
        Some(recorded) => recorded != p.crons.as_slice(),
        None => resolved.existed || !p.crons.is_empty(),
    };
    if !changed {
        return Ok(());
    }
    if resolved.namespace.is_some() {
        return Err(ProviderError::Local {
            message: format!(
                "{what} is a user Worker in a dispatch namespace, which Cron Triggers do not run: put the schedule on the dispatch Worker"
            ),
        });
    }
    let body: Vec<Value> = p.crons.iter().map(|cron| json!({ "cron": cron })).collect();
    client
        .call(Request::put(format!("{}/schedules", resolved.path)).json(json!(body)))
        .await
        .map_err(|e| e.context(what, "setting the Cron Triggers of"))?;
    Ok(())
}

/// Resolves what the upload needs: the dispatch namespace, the modules, the tags, the bindings;
/// then, with the settings (read ahead, or read now when the script may exist or carries Durable
/// Objects), refuses a script that is not this stack's (without `adopt`) and plans the Durable
/// Object migration.
async fn resolve(
    client: &Client,
    d: &Desired<'_>,
    p: &Worker,
    previous: Option<&WorkerOutput>,
    ahead: Option<ReadAhead>,
    what: &str,
) -> Result<Resolved, ProviderError> {
    let id = d.resource.id.as_str();
    let namespace = match &p.namespace {
        None => None,
        Some(r) => match d.deps.get(&r.0) {
            Some(Output::DispatchNamespace(ns)) => Some(ns.name.clone()),
            _ => {
                return Err(ProviderError::Local {
                    message: format!(
                        "{what}: its dispatch namespace `{}` has no DispatchNamespace output yet: declare it in the same stack",
                        r.0
                    ),
                });
            }
        },
    };
    let path = script_path(client, d.name, namespace.as_deref());
    let (modules, read) = match ahead {
        Some(ahead) => (ahead.modules, ahead.settings),
        None => (modules_of(d, p).await?, None),
    };
    let bound = bound_classes(d.name, p, d.deps);
    let mut tags = ownership_tags(d.app, d.stage, id);
    tags.extend(bound.iter().map(durable_object::class_tag));
    if tags.len() > MAX_TAGS {
        return Err(ProviderError::Local {
            message: format!(
                "{what} exports {} Durable Object classes; athanor records each in a script tag next to 3 ownership tags, and Cloudflare allows {MAX_TAGS} tags per script: export at most {} classes from one Worker",
                bound.len(),
                MAX_TAGS - 3
            ),
        });
    }
    let bindings = bindings_json(d.name, p, d.deps, d.secrets, what)?;

    // One read: whether the script exists and whose it is, and which classes it carries.
    let had_classes = previous.is_some_and(|o| o.migration_tag.is_some());
    let settings = match read {
        Some(settings) => settings,
        None if previous.is_none() || !bound.is_empty() || had_classes => {
            read_settings(client, &path)
                .await
                .map_err(|e| e.context(what, "reading the current settings of"))?
        }
        None => None,
    };
    let deployed_tags = settings
        .as_ref()
        .and_then(|s| s.tags.clone())
        .unwrap_or_default();
    if previous.is_none()
        && settings.is_some()
        && !d.adopt
        && !is_ours(&deployed_tags, d.app, d.stage, id)
    {
        return Err(ProviderError::AlreadyExists {
            what: what.to_owned(),
        });
    }
    let old_tag = previous.and_then(|o| o.migration_tag.clone());
    let migration = durable_object::plan(
        &bound,
        &durable_object::deployed_classes(&deployed_tags),
        old_tag.as_deref(),
    );
    Ok(Resolved {
        namespace,
        path,
        modules,
        bound,
        tags,
        bindings,
        existed: previous.is_some() || settings.is_some(),
        was_on: false,
        old_tag,
        migration,
    })
}

/// The upload, returning Cloudflare's answer and the migration it carried: one request, or,
/// when the deployed migration tag differs from the recorded one, a read of the current tag
/// (taken from the error message if that read fails) and a second upload rebased onto it.
async fn upload(
    client: &Client,
    d: &Desired<'_>,
    p: &Worker,
    resolved: &Resolved,
    what: &str,
) -> Result<(ScriptInfo, Option<Migration>), ProviderError> {
    let migration = resolved.migration.clone();
    match upload_once(client, p, resolved, migration.clone()).await {
        Ok(done) => Ok(done),
        Err(err) if is_tag_mismatch(&err) && migration.is_some() => {
            let current =
                match read_script_info(client, d.name, resolved.namespace.as_deref()).await {
                    Ok(info) => info.and_then(|i| i.migration_tag),
                    Err(read_err) => durable_object::expected_tag_in(&err.to_string())
                        .ok_or_else(|| read_err.context(what, "reading the migration tag of"))?,
                };
            let rebased = migration.as_ref().map(|m| m.rebased(current.as_deref()));
            upload_once(client, p, resolved, rebased)
                .await
                .map_err(|e| e.context(what, "uploading (after a migration tag mismatch)"))
        }
        Err(err) => Err(err.context(what, "uploading")),
    }
}

/// One multipart upload of the script with `migration`.
async fn upload_once(
    client: &Client,
    p: &Worker,
    resolved: &Resolved,
    migration: Option<Migration>,
) -> Result<(ScriptInfo, Option<Migration>), Error> {
    let metadata = metadata_json(
        &resolved.modules.main_module,
        p,
        resolved.bindings.clone(),
        migration.as_ref(),
        &resolved.tags,
    );
    let req = Request::put(resolved.path.clone()).multipart(parts(&resolved.modules, &metadata));
    client
        .call_as::<ScriptInfo>(req)
        .await
        .map(|u| (u, migration))
}

/// Brings workers.dev to the declared state and returns the URL when it is on. A user Worker in
/// a dispatch namespace has no workers.dev URL: no request, and `url: true` is only warned about.
async fn workers_dev(
    client: &Client,
    d: &Desired<'_>,
    p: &Worker,
    resolved: &Resolved,
    what: &str,
) -> Result<Option<String>, ProviderError> {
    if resolved.namespace.is_some() {
        if p.url {
            tracing::warn!("{what}: `url: true` is ignored for a Worker in a dispatch namespace");
        }
        return Ok(None);
    }
    switch_workers_dev(client, d, p, &resolved.path, resolved.was_on)
        .await
        .map_err(|(action, e)| e.context(what, action))
}

/// Brings workers.dev to the declared state with a call only when it changes from `was_on`, and
/// returns the URL when it is on. A script this call created starts with workers.dev off; for
/// one that existed before (recorded, adopted or recovered) the state was read beside the upload,
/// since it may have been switched outside athanor, and an update after `--refresh` must repair
/// that.
async fn switch_workers_dev(
    client: &Client,
    d: &Desired<'_>,
    p: &Worker,
    path: &str,
    was_on: bool,
) -> Result<Option<String>, (&'static str, Error)> {
    let enabled = was_on;
    let subdomain_path = format!("{path}/subdomain");
    if p.url && !enabled {
        // Cloudflare refuses preview URLs for Workers with Durable Objects.
        let previews = !binds_durable_objects(p, d.deps);
        let body = json!({"enabled": true, "previews_enabled": previews});
        client
            .call(Request::post(&subdomain_path).json(body))
            .await
            .map_err(|e| ("enabling workers.dev for", e))?;
    } else if !p.url && enabled {
        client
            .call(Request::post(&subdomain_path).json(json!({"enabled": false})))
            .await
            .map_err(|e| ("disabling workers.dev for", e))?;
    }
    if !p.url {
        return Ok(None);
    }
    client
        .workers_url(d.name)
        .await
        .map(Some)
        .map_err(|e| ("reading the account's workers.dev subdomain for", e))
}

/// The script of this name if it exists and carries this stack's ownership tags (what an
/// interrupted create may have uploaded); one without them is someone else's, and not found.
pub(crate) async fn find(
    client: &Client,
    d: &Desired<'_>,
    p: &Worker,
) -> Result<Option<Output>, ProviderError> {
    let what = describe(Kind::Worker, &d.resource.id, d.name);
    let namespace = match &p.namespace {
        None => None,
        Some(r) => match d.deps.get(&r.0) {
            Some(Output::DispatchNamespace(ns)) => Some(ns.name.clone()),
            // Its namespace was never made, so neither was the script.
            _ => return Ok(None),
        },
    };
    let path = script_path(client, d.name, namespace.as_deref());
    let settings = read_settings(client, &path)
        .await
        .map_err(|e| e.context(&what, "looking up"))?;
    let Some(settings) = settings else {
        return Ok(None);
    };
    let tags = settings.tags.unwrap_or_default();
    if !is_ours(&tags, d.app, d.stage, &d.resource.id) {
        return Ok(None);
    }
    Ok(Some(Output::Worker(WorkerOutput {
        name: d.name.to_owned(),
        namespace,
        url: None,
        etag: None,
        migration_tag: None,
        content_hash: String::new(),
        durable_objects: BTreeMap::new(),
        bindings: BTreeMap::new(),
    })))
}

/// Deletes the script (with `force`, so bindings to it do not block); one already gone is fine.
pub(crate) async fn delete(
    client: &Client,
    e: Deployed<'_, Worker, WorkerOutput>,
) -> Result<(), ProviderError> {
    let o = e.output;
    let what = describe(Kind::Worker, e.id, &o.name);
    let path = script_path(client, &o.name, o.namespace.as_deref());
    delete_if_exists(client, Request::delete(path).query("force", "true"), &what).await
}

/// Reads the Worker from live data, `None` when the script is gone: the etag and migration tag
/// from the script, the bindings (names and types, never values) from its settings, workers.dev
/// on or off (the URL), and the Durable Object namespace ids; only the content hash, which
/// Cloudflare does not report (and the etag, if an answer lacks it), is the recorded one. When
/// nothing changed outside athanor, the result equals what the deploy recorded.
///
/// Requests: three reads sent together (settings, script, workers.dev state; two for a user
/// Worker in a dispatch namespace), one more of the namespace list when the script has Durable
/// Objects, and the account's workers.dev subdomain once per client.
pub(crate) async fn read(
    client: &Client,
    e: Deployed<'_, Worker, WorkerOutput>,
) -> Result<Option<Output>, ProviderError> {
    let (o, p) = (e.output, e.props);
    let what = describe(Kind::Worker, e.id, &o.name);
    let ns = o.namespace.as_deref();
    let path = script_path(client, &o.name, ns);
    let workers_dev = async {
        match ns {
            Some(_) => Ok(Some(false)),
            None => read_workers_dev(client, &path).await,
        }
    };
    let (settings, info, enabled) = tokio::try_join!(
        read_settings(client, &path),
        read_script_info(client, &o.name, ns),
        workers_dev,
    )
    .map_err(|err| err.context(&what, "reading"))?;
    let (Some(settings), Some(info), Some(enabled)) = (settings, info, enabled) else {
        return Ok(None);
    };
    let classes = !o.durable_objects.is_empty();
    let durable_objects = durable_object_ids(
        client,
        &o.name,
        ns,
        info.migration_tag.as_deref(),
        classes,
        &what,
    )
    .await?;
    let url = if enabled {
        Some(
            client
                .workers_url(&o.name)
                .await
                .map_err(|err| err.context(&what, "reading the workers.dev subdomain for"))?,
        )
    } else {
        None
    };
    Ok(Some(Output::Worker(WorkerOutput {
        name: o.name.clone(),
        namespace: o.namespace.clone(),
        url,
        // An answer without an etag cannot tell a change: the recorded one stands.
        etag: info.etag.or_else(|| o.etag.clone()),
        migration_tag: info.migration_tag,
        content_hash: o.content_hash.clone(),
        durable_objects,
        bindings: live_binding_types(
            settings.bindings.unwrap_or_default(),
            &o.bindings,
            &p.keep_bindings,
        ),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use athanor_core::output::*;
    use athanor_core::stack::ResourceRef;
    use athanor_core::{Binding, SecretSource};

    fn deps() -> BTreeMap<String, Output> {
        let mut deps = BTreeMap::new();
        deps.insert(
            "sessions".into(),
            Output::KvNamespace(KvNamespaceOutput {
                id: "0123abcd".into(),
                title: "t".into(),
            }),
        );
        deps.insert(
            "bucket".into(),
            Output::R2Bucket(R2BucketOutput {
                name: "my-bucket".into(),
                jurisdiction: Some("eu".into()),
                location: None,
                storage_class: None,
                public_url: None,
            }),
        );
        deps.insert(
            "counter".into(),
            Output::DurableObjectNamespace(DurableObjectNamespaceOutput {
                class_name: "Counter".into(),
                script_name: None,
                environment: None,
                sqlite: true,
            }),
        );
        deps.insert(
            "remote".into(),
            Output::DurableObjectNamespace(DurableObjectNamespaceOutput {
                class_name: "Room".into(),
                script_name: Some("chat".into()),
                environment: None,
                sqlite: false,
            }),
        );
        deps.insert(
            "signing".into(),
            Output::Secret(SecretOutput {
                id: "s1".into(),
                name: "SIGNING_KEY".into(),
                store_id: "st".into(),
            }),
        );
        deps.insert(
            "tenants".into(),
            Output::DispatchNamespace(DispatchNamespaceOutput {
                id: "u".into(),
                name: "customers".into(),
            }),
        );
        deps.insert(
            "auth".into(),
            Output::Worker(WorkerOutput {
                name: "auth-worker".into(),
                namespace: None,
                url: None,
                etag: None,
                migration_tag: None,
                content_hash: String::new(),
                durable_objects: BTreeMap::new(),
                bindings: BTreeMap::new(),
            }),
        );
        deps
    }

    fn worker() -> Worker {
        let r = |id: &str| BindingValue::Resource(ResourceRef::new(id));
        Worker {
            code: athanor_core::stack::WorkerCode::Entrypoint("src/worker.js".into()),
            bindings: vec![
                Binding::new("MY_KV", r("sessions")),
                Binding::new("STORAGE", r("bucket")),
                Binding::new("COUNTER", r("counter")),
                Binding::new("ROOMS", r("remote")),
                Binding::new("SIGNING_KEY", r("signing")),
                Binding::new("TENANTS", r("tenants")),
                Binding::new("AUTH", r("auth")),
                Binding::new("ADMIN", ResourceRef::new("auth").entrypoint("AdminApi")),
                Binding::new("VERSION", "1.0.0"),
                Binding::new("DEBUG_MODE", true),
                Binding::new("TOKEN", SecretSource::env("TOKEN")),
            ],
            keep_bindings: vec!["secret_text".into()],
            ..Worker::default()
        }
    }

    #[test]
    fn every_binding_kind_has_the_api_shape() {
        let mut secrets = BTreeMap::new();
        secrets.insert("TOKEN".to_owned(), SecretString::from("tok"));
        let b = bindings_json("my-worker", &worker(), &deps(), &secrets, "W").unwrap();
        assert_eq!(
            Value::Array(b),
            json!([
                {"type": "kv_namespace", "name": "MY_KV", "namespace_id": "0123abcd"},
                {"type": "r2_bucket", "name": "STORAGE", "bucket_name": "my-bucket", "jurisdiction": "eu"},
                {"type": "durable_object_namespace", "name": "COUNTER", "class_name": "Counter"},
                {"type": "durable_object_namespace", "name": "ROOMS", "class_name": "Room", "script_name": "chat"},
                {"type": "secrets_store_secret", "name": "SIGNING_KEY", "store_id": "st", "secret_name": "SIGNING_KEY"},
                {"type": "dispatch_namespace", "name": "TENANTS", "namespace": "customers"},
                {"type": "service", "name": "AUTH", "service": "auth-worker"},
                {"type": "service", "name": "ADMIN", "service": "auth-worker", "entrypoint": "AdminApi"},
                {"type": "plain_text", "name": "VERSION", "text": "1.0.0"},
                {"type": "json", "name": "DEBUG_MODE", "json": true},
                {"type": "secret_text", "name": "TOKEN", "text": "tok"},
            ])
        );
    }

    #[test]
    fn an_entrypoint_of_something_else_than_a_worker_is_refused() {
        let mut w = worker();
        w.bindings = vec![Binding::new(
            "ADMIN",
            ResourceRef::new("sessions").entrypoint("AdminApi"),
        )];
        let err = bindings_json("w", &w, &deps(), &BTreeMap::new(), "Worker \"w\"").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`AdminApi` of `sessions`"), "{text}");
        assert!(text.contains("only a Worker has entrypoints"), "{text}");
    }

    #[test]
    fn a_missing_secret_or_dependency_is_named() {
        let err =
            bindings_json("w", &worker(), &deps(), &BTreeMap::new(), "Worker \"w\"").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("TOKEN") && text.contains("env TOKEN"),
            "{text}"
        );
        let err =
            bindings_json("w", &worker(), &BTreeMap::new(), &BTreeMap::new(), "W").unwrap_err();
        assert!(err.to_string().contains("`sessions`"), "{err}");
    }

    #[test]
    fn only_local_classes_are_migrated() {
        let classes = bound_classes("my-worker", &worker(), &deps());
        assert_eq!(
            classes,
            [BoundClass {
                id: "counter".into(),
                class_name: "Counter".into(),
                sqlite: true
            }]
        );
        // The script named by `remote` exports `Room`, bound or not.
        let chat = bound_classes("chat", &Worker::default(), &deps());
        assert_eq!(
            chat,
            [BoundClass {
                id: "remote".into(),
                class_name: "Room".into(),
                sqlite: false
            }]
        );
    }

    #[test]
    fn metadata_carries_defaults_flags_keep_bindings_migrations_and_tags() {
        let mut p = worker();
        p.compatibility_flags = vec!["nodejs_compat".into()];
        let mig = durable_object::plan(&bound_classes("w", &p, &deps()), &[], None);
        let tags = ownership_tags("app", "dev", "api");
        let m = metadata_json("worker.js", &p, vec![], mig.as_ref(), &tags);
        assert_eq!(m["main_module"], "worker.js");
        assert_eq!(m["compatibility_date"], DEFAULT_COMPATIBILITY_DATE);
        assert_eq!(m["compatibility_flags"], json!(["nodejs_compat"]));
        assert_eq!(m["keep_bindings"], json!(["secret_text"]));
        assert_eq!(
            m["migrations"],
            json!({"new_tag": "v1", "new_sqlite_classes": ["Counter"]})
        );
        assert_eq!(
            m["tags"],
            json!(["athanor:app:app", "athanor:stage:dev", "athanor:id:api"])
        );
        p.compatibility_date = Some("2024-01-01".into());
        p.keep_bindings.clear();
        let m = metadata_json("worker.js", &p, vec![], None, &tags);
        assert_eq!(m["compatibility_date"], "2024-01-01");
        assert!(m.get("keep_bindings").is_none() && m.get("migrations").is_none());
        assert!(m.get("observability").is_none() && m.get("placement").is_none());
        assert!(m.get("limits").is_none());
        p.observability = true;
        p.placement = Some("smart".into());
        p.cpu_ms = Some(50);
        let m = metadata_json("worker.js", &p, vec![], None, &tags);
        assert_eq!(m["observability"], json!({"enabled": true}));
        assert_eq!(m["placement"], json!({"mode": "smart"}));
        assert_eq!(m["limits"], json!({"cpu_ms": 50}));
    }

    #[test]
    fn recorded_bindings_hold_names_and_types_but_no_value() {
        let mut secrets = BTreeMap::new();
        secrets.insert("TOKEN".to_owned(), SecretString::from("tok-secret-value"));
        let b = bindings_json("my-worker", &worker(), &deps(), &secrets, "W").unwrap();
        let types = declared_binding_types(&b);
        assert_eq!(types.len(), worker().bindings.len());
        assert_eq!(types["TOKEN"], "secret_text");
        assert_eq!(types["COUNTER"], "durable_object_namespace");
        assert_eq!(types["DEBUG_MODE"], "json");
        let text = serde_json::to_string(&types).unwrap();
        assert!(
            !text.contains("tok-secret-value") && !text.contains("1.0.0"),
            "{text}"
        );
    }

    #[test]
    fn kept_bindings_the_stack_does_not_declare_are_no_drift() {
        let listed = |name: &str, kind: &str| ListedBinding {
            name: name.into(),
            kind: kind.into(),
        };
        let recorded = BTreeMap::from([("KV".to_owned(), "kv_namespace".to_owned())]);
        let live = vec![
            listed("KV", "kv_namespace"),
            listed("TOKEN", "secret_text"),
            listed("EXTRA", "plain_text"),
        ];
        let seen = live_binding_types(live, &recorded, &["secret_text".to_owned()]);
        assert_eq!(
            seen.keys().map(String::as_str).collect::<Vec<_>>(),
            ["EXTRA", "KV"]
        );
        // A declared binding of a kept type is still compared.
        let recorded = BTreeMap::from([("TOKEN".to_owned(), "secret_text".to_owned())]);
        let seen = live_binding_types(vec![], &recorded, &["secret_text".to_owned()]);
        assert!(seen.is_empty());
    }

    #[test]
    fn the_namespace_list_is_read_only_for_account_scripts_with_classes() {
        assert!(lists_namespaces(None, None, true));
        assert!(lists_namespaces(None, Some("v2"), false));
        assert!(!lists_namespaces(None, None, false));
        assert!(!lists_namespaces(Some("customers"), Some("v1"), true));
    }

    #[test]
    fn ownership_needs_every_tag() {
        let tags = ownership_tags("app", "dev", "api");
        assert!(is_ours(&tags, "app", "dev", "api"));
        assert!(!is_ours(&tags, "app", "prod", "api"));
        assert!(!is_ours(&[], "app", "dev", "api"));
    }
}
