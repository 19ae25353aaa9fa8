//! Queues and their consumers.
//!
//! A queue: create with its settings, adopt with `adopt` (found by name), change its settings in
//! place, delete. A consumer: attach a Worker to a queue with its batching and retry settings
//! and an optional dead-letter queue, change them in place, detach. Cloudflare addresses both by
//! id; a consumer is its own resource so that the graph attaches it after the queue and the
//! Worker exist, and detaches it before either goes.

use athanor_core::output::{QueueConsumerOutput, QueueOutput, WorkerOutput};
use athanor_core::provider::Desired;
use athanor_core::stack::{Queue, QueueConsumer, ResourceRef};
use athanor_core::{Kind, Output, ProviderError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Deployed, delete_if_exists, describe, may_adopt, read_if_exists};
use crate::client::{Client, Request};

#[derive(Debug, Deserialize)]
struct QueueInfo {
    queue_id: String,
    queue_name: String,
}

#[derive(Debug, Deserialize)]
struct ConsumerInfo {
    consumer_id: String,
}

fn queue_output(q: QueueInfo) -> Output {
    Output::Queue(QueueOutput {
        id: q.queue_id,
        name: q.queue_name,
    })
}

/// The queue of this name, if one exists (what an interrupted create may have made).
pub(crate) async fn find(
    client: &Client,
    d: &Desired<'_>,
) -> Result<Option<Output>, ProviderError> {
    let what = describe(Kind::Queue, &d.resource.id, d.name);
    find_queue(client, d.name)
        .await
        .map(|q| q.map(queue_output))
        .map_err(|e| e.context(&what, "looking up"))
}

fn queue_path(client: &Client, id: &str) -> String {
    client.account_path(&format!("/queues/{id}"))
}

/// The settings as the API takes them; only those declared.
fn settings(p: &Queue) -> Value {
    let mut s = serde_json::Map::new();
    if let Some(delay) = p.delivery_delay {
        s.insert("delivery_delay".into(), json!(delay));
    }
    if let Some(period) = p.message_retention_period {
        s.insert("message_retention_period".into(), json!(period));
    }
    Value::Object(s)
}

/// Creates the queue, or adopts it (found by name) with `adopt`.
pub(crate) async fn create(
    client: &Client,
    d: &Desired<'_>,
    p: &Queue,
) -> Result<Output, ProviderError> {
    let what = describe(Kind::Queue, &d.resource.id, d.name);
    let body = json!({ "queue_name": d.name, "settings": settings(p) });
    let req = Request::post(client.account_path("/queues")).json(body);
    match client.call_as::<QueueInfo>(req).await {
        Ok(q) => Ok(queue_output(q)),
        Err(e) if e.is_conflict() => {
            may_adopt(d, &e, &what)?;
            let found = find_queue(client, d.name)
                .await
                .map_err(|e| e.context(&what, "looking up, to adopt,"))?
                .ok_or_else(|| ProviderError::NotFound {
                    what: what.clone(),
                    hint: Some(
                        "the API said the name is taken, yet no such queue is listed: deploy again"
                            .into(),
                    ),
                })?;
            // An adopted queue takes the declared settings.
            let id = found.queue_id.clone();
            update_settings(client, &id, p, &what).await?;
            Ok(queue_output(found))
        }
        Err(e) => Err(e.context(&what, "creating")),
    }
}

/// Applies a change of settings (a new name replaces the queue).
pub(crate) async fn update(
    client: &Client,
    d: &Desired<'_>,
    p: &Queue,
    e: Deployed<'_, Queue, QueueOutput>,
) -> Result<Output, ProviderError> {
    let what = describe(Kind::Queue, &d.resource.id, d.name);
    if e.props.delivery_delay != p.delivery_delay
        || e.props.message_retention_period != p.message_retention_period
    {
        update_settings(client, &e.output.id, p, &what).await?;
    }
    Ok(Output::Queue(e.output.clone()))
}

async fn update_settings(
    client: &Client,
    id: &str,
    p: &Queue,
    what: &str,
) -> Result<(), ProviderError> {
    let req = Request::patch(queue_path(client, id)).json(json!({ "settings": settings(p) }));
    client
        .call(req)
        .await
        .map_err(|e| e.context(what, "changing the settings of"))?;
    Ok(())
}

/// The queue named `name`, if the account has one.
async fn find_queue(client: &Client, name: &str) -> Result<Option<QueueInfo>, crate::Error> {
    let queues: Vec<QueueInfo> = client
        .call_as(Request::get(client.account_path("/queues")).query("per_page", 1000))
        .await?;
    Ok(queues.into_iter().find(|q| q.queue_name == name))
}

/// Deletes the queue; one already gone is fine.
pub(crate) async fn delete(
    client: &Client,
    e: Deployed<'_, Queue, QueueOutput>,
) -> Result<(), ProviderError> {
    let what = describe(Kind::Queue, e.id, &e.output.name);
    delete_if_exists(
        client,
        Request::delete(queue_path(client, &e.output.id)),
        &what,
    )
    .await
}

/// Reads the queue back.
pub(crate) async fn read(
    client: &Client,
    e: Deployed<'_, Queue, QueueOutput>,
) -> Result<Option<Output>, ProviderError> {
    let what = describe(Kind::Queue, e.id, &e.output.name);
    read_if_exists::<QueueInfo>(
        client,
        Request::get(queue_path(client, &e.output.id)),
        &what,
    )
    .await
    .map(|q| q.map(queue_output))
}

/// The output of the resource `r` references, of the kind expected.
fn dep<'a, T>(
    d: &'a Desired<'_>,
    r: &ResourceRef,
    pick: impl Fn(&'a Output) -> Option<&'a T>,
    what: &str,
) -> Result<&'a T, ProviderError> {
    d.deps
        .get(&r.0)
        .and_then(pick)
        .ok_or_else(|| ProviderError::Local {
            message: format!(
                "{what}: `{}` has no output yet (a bug in the engine's order)",
                r.0
            ),
        })
}

fn queue_of(o: &Output) -> Option<&QueueOutput> {
    match o {
        Output::Queue(q) => Some(q),
        _ => None,
    }
}

fn worker_of(o: &Output) -> Option<&WorkerOutput> {
    match o {
        Output::Worker(w) => Some(w),
        _ => None,
    }
}

/// The consumer as the API takes it.
fn consumer_body(
    d: &Desired<'_>,
    p: &QueueConsumer,
    script: &str,
    what: &str,
) -> Result<Value, ProviderError> {
    let mut s = serde_json::Map::new();
    for (key, value) in [
        ("batch_size", p.batch_size),
        ("max_retries", p.max_retries),
        ("max_wait_time_ms", p.max_wait_time_ms),
        ("max_concurrency", p.max_concurrency),
        ("retry_delay", p.retry_delay),
    ] {
        if let Some(v) = value {
            s.insert(key.into(), json!(v));
        }
    }
    let mut body = json!({ "script_name": script, "type": "worker", "settings": s });
    if let Some(dlq) = &p.dead_letter_queue {
        body["dead_letter_queue"] = json!(dep(d, dlq, queue_of, what)?.name);
    }
    Ok(body)
}

/// Attaches the Worker to the queue.
pub(crate) async fn create_consumer(
    client: &Client,
    d: &Desired<'_>,
    p: &QueueConsumer,
) -> Result<Output, ProviderError> {
    let what = describe(Kind::QueueConsumer, &d.resource.id, &p.worker.0);
    let queue = dep(d, &p.queue, queue_of, &what)?;
    let script = dep(d, &p.worker, worker_of, &what)?.name.clone();
    let body = consumer_body(d, p, &script, &what)?;
    let path = format!("{}/consumers", queue_path(client, &queue.id));
    let consumer: ConsumerInfo = client
        .call_as(Request::post(path).json(body))
        .await
        .map_err(|e| e.context(&what, "attaching"))?;
    Ok(Output::QueueConsumer(QueueConsumerOutput {
        id: consumer.consumer_id,
        queue_id: queue.id.clone(),
        script,
    }))
}

/// Changes the consumer's settings in place.
pub(crate) async fn update_consumer(
    client: &Client,
    d: &Desired<'_>,
    p: &QueueConsumer,
    e: Deployed<'_, QueueConsumer, QueueConsumerOutput>,
) -> Result<Output, ProviderError> {
    let what = describe(Kind::QueueConsumer, &d.resource.id, &e.output.script);
    let script = dep(d, &p.worker, worker_of, &what)?.name.clone();
    let body = consumer_body(d, p, &script, &what)?;
    let path = format!(
        "{}/consumers/{}",
        queue_path(client, &e.output.queue_id),
        e.output.id
    );
    client
        .call(Request::put(path).json(body))
        .await
        .map_err(|err| err.context(&what, "changing the settings of"))?;
    Ok(Output::QueueConsumer(QueueConsumerOutput {
        script,
        ..e.output.clone()
    }))
}

/// Detaches the Worker; a consumer (or queue) already gone is fine.
pub(crate) async fn delete_consumer(
    client: &Client,
    e: Deployed<'_, QueueConsumer, QueueConsumerOutput>,
) -> Result<(), ProviderError> {
    let what = describe(Kind::QueueConsumer, e.id, &e.output.script);
    let path = format!(
        "{}/consumers/{}",
        queue_path(client, &e.output.queue_id),
        e.output.id
    );
    delete_if_exists(client, Request::delete(path), &what).await
}

/// Reads the consumer back: `None` when the queue no longer lists it.
pub(crate) async fn read_consumer(
    client: &Client,
    e: Deployed<'_, QueueConsumer, QueueConsumerOutput>,
) -> Result<Option<Output>, ProviderError> {
    let what = describe(Kind::QueueConsumer, e.id, &e.output.script);
    let path = format!("{}/consumers", queue_path(client, &e.output.queue_id));
    let listed = read_if_exists::<Vec<ConsumerInfo>>(client, Request::get(path), &what).await?;
    Ok(listed
        .filter(|consumers| consumers.iter().any(|c| c.consumer_id == e.output.id))
        .map(|_| Output::QueueConsumer(e.output.clone())))
}
