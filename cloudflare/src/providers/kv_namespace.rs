//! KV namespaces: create (or adopt by title), rename in place, seed `values` through the bulk
//! endpoint, delete keys dropped from `values`, delete.
//!
//! Values are written in batches within the API's 10,000 pairs and 100 MB per request; an update
//! writes only the pairs whose declared value, expiry or metadata changed, and bulk-deletes the
//! keys no longer declared. A namespace that was just created and answers "not found" is retried
//! briefly (KV is eventually consistent).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use athanor_core::output::KvNamespaceOutput;
use athanor_core::provider::{Applying, Desired};
use athanor_core::stack::{KvNamespace, KvValue};
use athanor_core::{ApiError, Kind, Output, ProviderError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Deployed, delete_if_exists, describe, may_adopt, read_if_exists};
use crate::client::{Client, Request};
use crate::error::Error;

/// The most pairs in one bulk request.
pub(crate) const MAX_BULK_PAIRS: usize = 10_000;
/// The largest bulk request body, in bytes.
pub(crate) const MAX_BULK_BYTES: usize = 100_000_000;

#[derive(Debug, Deserialize)]
struct Namespace {
    id: String,
    title: String,
}

#[derive(Debug, Deserialize, Default)]
struct BulkResult {
    #[serde(default)]
    unsuccessful_keys: Vec<String>,
}

fn namespaces_path(client: &Client) -> String {
    client.account_path("/storage/kv/namespaces")
}

fn namespace_path(client: &Client, id: &str) -> String {
    client.account_path(&format!("/storage/kv/namespaces/{id}"))
}

fn output(ns: Namespace) -> Output {
    Output::KvNamespace(KvNamespaceOutput {
        id: ns.id,
        title: ns.title,
    })
}

/// Creates the namespace (adopting an existing one of the same title only with `adopt`); its
/// values are written in the rest, since dependents need only its id.
pub(crate) async fn create<'a>(
    client: &'a Client,
    d: &'a Desired<'a>,
    p: &'a KvNamespace,
) -> Result<Applying<'a>, ProviderError> {
    let what = describe(Kind::KvNamespace, &d.resource.id, d.name);
    let created = client
        .call_as::<Namespace>(Request::post(namespaces_path(client)).json(json!({"title": d.name})))
        .await;
    let (ns, fresh) = match created {
        Ok(ns) => (ns, true),
        // 10014: a namespace with this title already exists.
        Err(e) if e.has_code(10014) || e.is_conflict() => {
            may_adopt(d, &e, &what)?;
            let found = find_by_title(client, d.name)
                .await
                .map_err(|e| e.context(&what, "looking up, to adopt,"))?;
            let Some(ns) = found else {
                return Err(ProviderError::NotFound {
                    what: what.clone(),
                    hint: Some("the API said the title is taken, yet no namespace of that title is listed: deploy again".into()),
                });
            };
            (ns, false)
        }
        Err(e) => return Err(e.context(&what, "creating")),
    };
    let output = output(ns);
    if p.values.is_empty() {
        return Ok(Applying::done(output));
    }
    let id = output.id().unwrap_or_default().to_owned();
    let done = output.clone();
    Ok(Applying {
        output,
        rest: Some(Box::pin(async move {
            let pairs: Vec<&KvValue> = dedup_last(&p.values);
            write_values(client, &id, &pairs, fresh)
                .await
                .map_err(|e| e.context(&what, "writing the values of"))?;
            Ok(done)
        })),
    })
}

/// Renames on a title change; the rest writes changed pairs and deletes dropped keys.
pub(crate) async fn update<'a>(
    client: &'a Client,
    d: &'a Desired<'a>,
    p: &'a KvNamespace,
    e: Deployed<'a, KvNamespace, KvNamespaceOutput>,
) -> Result<Applying<'a>, ProviderError> {
    let what = describe(Kind::KvNamespace, &d.resource.id, d.name);
    let id = e.output.id.as_str();
    if e.output.title != d.name {
        client
            .call(Request::put(namespace_path(client, id)).json(json!({"title": d.name})))
            .await
            .map_err(|err| err.context(&what, "renaming"))?;
    }
    let output = Output::KvNamespace(KvNamespaceOutput {
        id: id.to_owned(),
        title: d.name.to_owned(),
    });
    let (write, remove) = plan_values(&e.props.values, &p.values);
    if write.is_empty() && remove.is_empty() {
        return Ok(Applying::done(output));
    }
    let done = output.clone();
    Ok(Applying {
        output,
        rest: Some(Box::pin(async move {
            write_values(client, id, &write, false)
                .await
                .map_err(|err| err.context(&what, "writing the values of"))?;
            delete_keys(client, id, &remove)
                .await
                .map_err(|err| err.context(&what, "deleting keys dropped from `values` in"))?;
            Ok(done)
        })),
    })
}

/// The namespace of this title, if one exists (what an interrupted create may have made).
pub(crate) async fn find(
    client: &Client,
    d: &Desired<'_>,
) -> Result<Option<Output>, ProviderError> {
    let what = describe(Kind::KvNamespace, &d.resource.id, d.name);
    find_by_title(client, d.name)
        .await
        .map(|ns| ns.map(output))
        .map_err(|e| e.context(&what, "looking up"))
}

/// Deletes the namespace; one already gone is fine.
pub(crate) async fn delete(
    client: &Client,
    e: Deployed<'_, KvNamespace, KvNamespaceOutput>,
) -> Result<(), ProviderError> {
    let what = describe(Kind::KvNamespace, e.id, &e.output.title);
    let req = Request::delete(namespace_path(client, &e.output.id));
    delete_if_exists(client, req, &what).await
}

/// Reads the namespace back.
pub(crate) async fn read(
    client: &Client,
    e: Deployed<'_, KvNamespace, KvNamespaceOutput>,
) -> Result<Option<Output>, ProviderError> {
    let what = describe(Kind::KvNamespace, e.id, &e.output.title);
    let req = Request::get(namespace_path(client, &e.output.id));
    read_if_exists::<Namespace>(client, req, &what)
        .await
        .map(|ns| ns.map(output))
}

async fn find_by_title(client: &Client, title: &str) -> Result<Option<Namespace>, Error> {
    let all: Vec<Namespace> = client
        .list_pages(
            &namespaces_path(client),
            &[("order", "title"), ("direction", "asc")],
            100,
        )
        .await?;
    Ok(all.into_iter().find(|n| n.title == title))
}

/// The declared pairs with a duplicated key kept once (the last declaration wins).
fn dedup_last(values: &[KvValue]) -> Vec<&KvValue> {
    let mut seen = BTreeSet::new();
    let mut out: Vec<&KvValue> = values
        .iter()
        .rev()
        .filter(|v| seen.insert(v.key.as_str()))
        .collect();
    out.reverse();
    out
}

/// The pairs to write (new or changed) and the keys to delete (no longer declared).
pub(crate) fn plan_values<'n>(
    old: &[KvValue],
    new: &'n [KvValue],
) -> (Vec<&'n KvValue>, Vec<String>) {
    let old_by_key: BTreeMap<&str, &KvValue> = old.iter().map(|v| (v.key.as_str(), v)).collect();
    let new = dedup_last(new);
    let write = new
        .iter()
        .copied()
        .filter(|v| old_by_key.get(v.key.as_str()) != Some(v))
        .collect();
    let new_keys: BTreeSet<&str> = new.iter().map(|v| v.key.as_str()).collect();
    let remove = old_by_key
        .keys()
        .filter(|k| !new_keys.contains(*k))
        .map(|k| (*k).to_owned())
        .collect();
    (write, remove)
}

/// The JSON item of one pair in a bulk write.
pub(crate) fn bulk_item(v: &KvValue) -> Value {
    let mut item = serde_json::Map::new();
    item.insert("key".into(), json!(v.key));
    item.insert("value".into(), json!(v.value.to_stored_string()));
    if let Some(exp) = v.expiration {
        item.insert("expiration".into(), json!(exp));
    }
    if let Some(ttl) = v.expiration_ttl {
        item.insert("expiration_ttl".into(), json!(ttl));
    }
    if let Some(meta) = &v.metadata {
        item.insert("metadata".into(), meta.clone());
    }
    Value::Object(item)
}

/// Splits items into requests of at most `max_pairs` items and `max_bytes` of JSON body.
pub(crate) fn batches(items: Vec<Value>, max_pairs: usize, max_bytes: usize) -> Vec<Vec<Value>> {
    let mut out: Vec<Vec<Value>> = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    // `[` and `]`.
    let mut size = 2usize;
    for item in items {
        // The item and its separating comma.
        let item_size = item.to_string().len() + 1;
        if !current.is_empty() && (current.len() >= max_pairs || size + item_size > max_bytes) {
            out.push(std::mem::take(&mut current));
            size = 2;
        }
        size += item_size;
        current.push(item);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

async fn write_values(
    client: &Client,
    id: &str,
    pairs: &[&KvValue],
    fresh: bool,
) -> Result<(), Error> {
    let items: Vec<Value> = pairs.iter().map(|v| bulk_item(v)).collect();
    let path = format!("{}/bulk", namespace_path(client, id));
    for batch in batches(items, MAX_BULK_PAIRS, MAX_BULK_BYTES) {
        let result = put_bulk(client, &path, &batch, fresh).await?;
        if !result.unsuccessful_keys.is_empty() {
            let failed: BTreeSet<&str> = result
                .unsuccessful_keys
                .iter()
                .map(String::as_str)
                .collect();
            let again: Vec<Value> = batch
                .iter()
                .filter(|v| v["key"].as_str().is_some_and(|k| failed.contains(k)))
                .cloned()
                .collect();
            let second = put_bulk(client, &path, &again, false).await?;
            if !second.unsuccessful_keys.is_empty() {
                return Err(Error::Api {
                    error: ApiError {
                        method: "PUT".into(),
                        path,
                        status: 200,
                        codes: Vec::new(),
                        message: format!(
                            "Cloudflare reported the keys {} as not written, twice (the answer was a success otherwise)",
                            second
                                .unsuccessful_keys
                                .iter()
                                .map(|k| format!("{k:?}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    },
                    maybe_applied_before: false,
                });
            }
        }
    }
    Ok(())
}

/// One bulk write; on a fresh namespace a not-found answer is retried for a few seconds.
async fn put_bulk(
    client: &Client,
    path: &str,
    batch: &[Value],
    fresh: bool,
) -> Result<BulkResult, Error> {
    let mut wait = Duration::from_millis(200);
    let mut tries = 0;
    loop {
        tries += 1;
        let body = Value::Array(batch.to_vec());
        match client.call(Request::put(path).json(body)).await {
            Ok(env) => return bulk_answer(path, env.result),
            Err(e) if fresh && e.is_not_found() && tries < 6 => {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(e) => return Err(e),
        }
    }
}

/// What a bulk write's answer says: no `result` at all reports nothing unwritten, and one that
/// does not read as `{successful_key_count, unsuccessful_keys}` is an error, never a success.
fn bulk_answer(path: &str, result: Value) -> Result<BulkResult, Error> {
    match result {
        Value::Null => Ok(BulkResult::default()),
        result => crate::client::decode("PUT", path, result),
    }
}

async fn delete_keys(client: &Client, id: &str, keys: &[String]) -> Result<(), Error> {
    let path = format!("{}/bulk/delete", namespace_path(client, id));
    for chunk in keys.chunks(MAX_BULK_PAIRS) {
        client.call(Request::post(&path).json(json!(chunk))).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bulk_answer_that_does_not_read_is_an_error() {
        let path = "/accounts/a/storage/kv/namespaces/n/bulk";
        let ok = bulk_answer(
            path,
            json!({"successful_key_count": 1, "unsuccessful_keys": ["b"]}),
        )
        .unwrap();
        assert_eq!(ok.unsuccessful_keys, ["b"]);
        assert!(
            bulk_answer(path, Value::Null)
                .unwrap()
                .unsuccessful_keys
                .is_empty()
        );
        for garbled in [json!({"unsuccessful_keys": "b"}), json!(7), json!("done")] {
            let err = bulk_answer(path, garbled).unwrap_err();
            assert!(err.to_string().contains("PUT"), "{err}");
        }
    }

    use athanor_core::stack::KvPayload;

    fn kv(key: &str, value: &str) -> KvValue {
        KvValue::new(key, value)
    }

    #[test]
    fn bulk_items_carry_expiry_and_metadata_and_stringify_json() {
        let mut v = KvValue::new("s", KvPayload::Json(json!({"userId": "u", "n": 1})));
        v.expiration_ttl = Some(3600);
        v.metadata = Some(json!({"contentType": "application/json"}));
        assert_eq!(
            bulk_item(&v),
            json!({"key": "s", "value": "{\"userId\":\"u\",\"n\":1}", "expiration_ttl": 3600,
                   "metadata": {"contentType": "application/json"}})
        );
        let mut at = kv("a", "x");
        at.expiration = Some(2_000_000_000);
        assert_eq!(
            bulk_item(&at),
            json!({"key": "a", "value": "x", "expiration": 2_000_000_000u64})
        );
    }

    #[test]
    fn batches_respect_pair_count_and_byte_size() {
        let items: Vec<Value> = (0..25_000)
            .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
            .collect();
        let b = batches(items, MAX_BULK_PAIRS, MAX_BULK_BYTES);
        assert_eq!(
            b.iter().map(Vec::len).collect::<Vec<_>>(),
            [10_000, 10_000, 5_000]
        );

        let big = "x".repeat(400);
        let items: Vec<Value> = (0..10)
            .map(|i| json!({"key": format!("k{i}"), "value": big}))
            .collect();
        let one = items[0].to_string().len() + 1;
        let b = batches(items, MAX_BULK_PAIRS, 2 + one * 3);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3, 1]);
        for batch in &b {
            assert!(Value::Array(batch.clone()).to_string().len() <= 2 + one * 3);
        }
        assert!(batches(Vec::new(), 10, 100).is_empty());
    }

    #[test]
    fn updates_write_only_what_changed_and_delete_what_was_dropped() {
        let old = vec![kv("same", "1"), kv("changed", "1"), kv("dropped", "1"), {
            let mut m = kv("meta", "1");
            m.metadata = Some(json!({"a": 1}));
            m
        }];
        let new = vec![kv("same", "1"), kv("changed", "2"), kv("added", "1"), {
            let mut m = kv("meta", "1");
            m.metadata = Some(json!({"a": 2}));
            m
        }];
        let (write, remove) = plan_values(&old, &new);
        let keys: Vec<&str> = write.iter().map(|v| v.key.as_str()).collect();
        assert_eq!(keys, ["changed", "added", "meta"]);
        assert_eq!(remove, ["dropped"]);
        let (write, remove) = plan_values(&new, &new);
        assert!(write.is_empty() && remove.is_empty());
    }

    #[test]
    fn a_duplicated_key_is_written_once_with_its_last_value() {
        let values = vec![kv("k", "first"), kv("other", "o"), kv("k", "last")];
        let pairs = dedup_last(&values);
        assert_eq!(pairs.len(), 2);
        let k = pairs.iter().find(|v| v.key == "k").unwrap();
        assert_eq!(k.value, KvPayload::Text("last".into()));
    }
}
