//! R2 buckets: create with location hint, storage class and jurisdiction (a header), adopt on
//! 409 only with `adopt`, change the default storage class in place, delete. The bucket's
//! settings (its CORS policy, its lifecycle rules, its public `r2.dev` address) are each applied
//! with their own route, and only when they change.

use athanor_core::output::R2BucketOutput;
use athanor_core::provider::{Applying, Desired};
use athanor_core::stack::{CorsRule, LifecycleRule, R2Bucket};
use athanor_core::{Kind, Output, ProviderError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Deployed, describe, may_adopt, read_if_exists};
use crate::client::{Client, Request};
use crate::error::Error;

/// The header carrying a bucket's jurisdiction.
const JURISDICTION_HEADER: &str = "cf-r2-jurisdiction";
/// The header carrying a new default storage class.
const STORAGE_CLASS_HEADER: &str = "cf-r2-storage-class";

#[derive(Debug, Deserialize)]
struct Bucket {
    name: String,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    jurisdiction: Option<String>,
    #[serde(default)]
    storage_class: Option<String>,
}

/// A jurisdiction worth sending: `default` is the same as none.
fn jurisdiction(j: Option<&str>) -> Option<&str> {
    j.filter(|j| !j.is_empty() && *j != "default")
}

fn with_jurisdiction(req: Request, j: Option<&str>) -> Request {
    match jurisdiction(j) {
        Some(j) => req.header(JURISDICTION_HEADER, j),
        None => req,
    }
}

fn bucket_path(client: &Client, name: &str) -> String {
    client.account_path(&format!("/r2/buckets/{name}"))
}

fn output(b: Bucket, declared: &R2Bucket) -> Output {
    Output::R2Bucket(R2BucketOutput {
        name: b.name,
        jurisdiction: jurisdiction(b.jurisdiction.as_deref())
            .or(jurisdiction(declared.jurisdiction.as_deref()))
            .map(str::to_owned),
        location: b.location,
        storage_class: b.storage_class.or_else(|| declared.storage_class.clone()),
        public_url: None,
    })
}

/// Creates the bucket, or adopts it on 409 with `adopt`.
pub(crate) async fn create<'a>(
    client: &'a Client,
    d: &'a Desired<'a>,
    p: &'a R2Bucket,
) -> Result<Applying<'a>, ProviderError> {
    let what = describe(Kind::R2Bucket, &d.resource.id, d.name);
    let mut body = serde_json::Map::new();
    body.insert("name".into(), json!(d.name));
    if let Some(hint) = &p.location_hint {
        body.insert("locationHint".into(), json!(hint));
    }
    if let Some(class) = &p.storage_class {
        body.insert("storageClass".into(), json!(class));
    }
    let req = with_jurisdiction(
        Request::post(client.account_path("/r2/buckets")).json(body.into()),
        p.jurisdiction.as_deref(),
    );
    let (out, adopted) = match client.call_as::<Bucket>(req).await {
        Ok(b) => (output(b, p), false),
        Err(e) if e.is_conflict() => {
            may_adopt(d, &e, &what)?;
            let req = with_jurisdiction(
                Request::get(bucket_path(client, d.name)),
                p.jurisdiction.as_deref(),
            );
            let b = client
                .call_as::<Bucket>(req)
                .await
                .map_err(|e| e.context(&what, "reading, to adopt,"))?;
            (output(b, p), true)
        }
        Err(e) => return Err(e.context(&what, "creating")),
    };
    let Output::R2Bucket(out) = out else {
        unreachable!("output() makes a bucket's output")
    };
    // A bucket this call made has Cloudflare's settings; one adopted may have any.
    let before = (!adopted).then(R2Bucket::default);
    Ok(settings_after(client, d, p, before, out, what))
}

/// The bucket as it is, with its settings applied in the rest: dependents need only its name.
fn settings_after<'a>(
    client: &'a Client,
    d: &'a Desired<'a>,
    p: &'a R2Bucket,
    before: Option<R2Bucket>,
    mut out: R2BucketOutput,
    what: String,
) -> Applying<'a> {
    Applying {
        output: Output::R2Bucket(out.clone()),
        rest: Some(Box::pin(async move {
            apply_settings(client, d.name, p, before.as_ref(), &mut out, &what).await?;
            Ok(Output::R2Bucket(out))
        })),
    }
}

/// The bucket of this name, if one exists (what an interrupted create may have made).
pub(crate) async fn find(
    client: &Client,
    d: &Desired<'_>,
    p: &R2Bucket,
) -> Result<Option<Output>, ProviderError> {
    let what = describe(Kind::R2Bucket, &d.resource.id, d.name);
    let req = with_jurisdiction(
        Request::get(bucket_path(client, d.name)),
        p.jurisdiction.as_deref(),
    );
    Ok(read_if_exists::<Bucket>(client, req, &what)
        .await?
        .map(|b| output(b, p)))
}

/// Applies a storage class change (the only in-place change R2 allows); the rest applies the
/// settings that changed.
pub(crate) async fn update<'a>(
    client: &'a Client,
    d: &'a Desired<'a>,
    p: &'a R2Bucket,
    e: Deployed<'a, R2Bucket, R2BucketOutput>,
) -> Result<Applying<'a>, ProviderError> {
    let what = describe(Kind::R2Bucket, &d.resource.id, d.name);
    let mut out = e.output.clone();
    if let Some(class) = &p.storage_class
        && e.props.storage_class.as_ref() != Some(class)
        && e.output.storage_class.as_ref() != Some(class)
    {
        let req = with_jurisdiction(
            Request::patch(bucket_path(client, d.name)).header(STORAGE_CLASS_HEADER, class.clone()),
            p.jurisdiction.as_deref(),
        );
        client
            .call(req)
            .await
            .map_err(|e| e.context(&what, "changing the storage class of"))?;
        out.storage_class = Some(class.clone());
    }
    Ok(settings_after(
        client,
        d,
        p,
        Some(e.props.clone()),
        out,
        what,
    ))
}

/// Brings the bucket's settings to `p`, each with one call when it differs from `before` (what
/// state recorded, or Cloudflare's defaults for a new bucket; `None`: unknown, so every setting
/// is applied).
async fn apply_settings(
    client: &Client,
    name: &str,
    p: &R2Bucket,
    before: Option<&R2Bucket>,
    out: &mut R2BucketOutput,
    what: &str,
) -> Result<(), ProviderError> {
    let path = bucket_path(client, name);
    let send = |req: Request| with_jurisdiction(req, p.jurisdiction.as_deref());
    let changed = |same: fn(&R2Bucket, &R2Bucket) -> bool| before.is_none_or(|b| !same(b, p));
    if changed(|a, b| a.cors == b.cors) {
        let req = if p.cors.is_empty() {
            Request::delete(format!("{path}/cors"))
        } else {
            Request::put(format!("{path}/cors")).json(cors_json(&p.cors))
        };
        client
            .call(send(req))
            .await
            .map_err(|e| e.context(what, "setting the CORS policy of"))?;
    }
    if changed(|a, b| a.lifecycle == b.lifecycle) {
        let req = Request::put(format!("{path}/lifecycle")).json(lifecycle_json(&p.lifecycle));
        client
            .call(send(req))
            .await
            .map_err(|e| e.context(what, "setting the lifecycle rules of"))?;
    }
    if changed(|a, b| a.public == b.public) {
        let req =
            Request::put(format!("{path}/domains/managed")).json(json!({"enabled": p.public}));
        let domain: ManagedDomain = client
            .call_as(send(req))
            .await
            .map_err(|e: Error| e.context(what, "setting the public r2.dev address of"))?;
        out.public_url = domain.enabled.then(|| format!("https://{}", domain.domain));
    }
    Ok(())
}

/// The answer of the managed-domain route.
#[derive(Debug, Deserialize)]
struct ManagedDomain {
    domain: String,
    enabled: bool,
}

/// A CORS policy as the API takes it.
fn cors_json(rules: &[CorsRule]) -> Value {
    let rules: Vec<Value> = rules
        .iter()
        .map(|r| {
            let mut allowed = json!({"origins": r.origins, "methods": r.methods});
            if !r.headers.is_empty() {
                allowed["headers"] = json!(r.headers);
            }
            let mut rule = json!({ "allowed": allowed });
            if !r.expose_headers.is_empty() {
                rule["exposeHeaders"] = json!(r.expose_headers);
            }
            if let Some(age) = r.max_age {
                rule["maxAgeSeconds"] = json!(age);
            }
            rule
        })
        .collect();
    json!({ "rules": rules })
}

/// The rule every new bucket has, which declared rules replace and no rules bring back: abort
/// incomplete multipart uploads after 7 days.
fn default_lifecycle_rule() -> Value {
    json!({
        "id": "Default Multipart Abort Rule",
        "enabled": true,
        "conditions": {"prefix": ""},
        "abortMultipartUploadsTransition": {"condition": {"type": "Age", "maxAge": 7 * DAY}},
    })
}

/// Seconds in a day: lifecycle ages are in seconds.
const DAY: u64 = 86_400;

/// Lifecycle rules as the API takes them (Cloudflare's default when none are declared).
fn lifecycle_json(rules: &[LifecycleRule]) -> Value {
    if rules.is_empty() {
        return json!({ "rules": [default_lifecycle_rule()] });
    }
    let age = |days: u64| json!({"type": "Age", "maxAge": days * DAY});
    let rules: Vec<Value> = rules
        .iter()
        .map(|r| {
            let mut rule = json!({
                "id": r.id,
                "enabled": true,
                "conditions": {"prefix": r.prefix.as_deref().unwrap_or("")},
            });
            if let Some(days) = r.expire_after_days {
                rule["deleteObjectsTransition"] = json!({ "condition": age(days) });
            }
            if let Some(days) = r.abort_uploads_after_days {
                rule["abortMultipartUploadsTransition"] = json!({ "condition": age(days) });
            }
            if let Some(days) = r.infrequent_access_after_days {
                rule["storageClassTransitions"] =
                    json!([{ "condition": age(days), "storageClass": "InfrequentAccess" }]);
            }
            rule
        })
        .collect();
    json!({ "rules": rules })
}

/// Deletes the bucket; one already gone is fine, a non-empty one is an error saying so.
pub(crate) async fn delete(
    client: &Client,
    e: Deployed<'_, R2Bucket, R2BucketOutput>,
) -> Result<(), ProviderError> {
    let o = e.output;
    let what = describe(Kind::R2Bucket, e.id, &o.name);
    let req = with_jurisdiction(
        Request::delete(bucket_path(client, &o.name)),
        o.jurisdiction.as_deref(),
    );
    match client.call(req).await {
        Ok(_) => Ok(()),
        Err(err) if err.is_not_found() => Ok(()),
        Err(err) if err.has_code(10008) || err.status() == Some(409) => Err(ProviderError::Local {
            message: format!(
                "{what} is not empty, and R2 only deletes empty buckets: empty it first, or set `delete: false` to keep it ({err})"
            ),
        }),
        Err(err) => Err(err.context(&what, "deleting")),
    }
}

/// Reads the bucket back.
pub(crate) async fn read(
    client: &Client,
    e: Deployed<'_, R2Bucket, R2BucketOutput>,
) -> Result<Option<Output>, ProviderError> {
    let o = e.output;
    let what = describe(Kind::R2Bucket, e.id, &o.name);
    let req = with_jurisdiction(
        Request::get(bucket_path(client, &o.name)),
        o.jurisdiction.as_deref(),
    );
    let Some(found) = read_if_exists::<Bucket>(client, req, &what).await? else {
        return Ok(None);
    };
    let Output::R2Bucket(mut out) = output(found, e.props) else {
        unreachable!("output() makes a bucket's output")
    };
    if e.props.public {
        // Only a public bucket has an address worth reading (and a drift worth seeing).
        let req = with_jurisdiction(
            Request::get(format!("{}/domains/managed", bucket_path(client, &o.name))),
            o.jurisdiction.as_deref(),
        );
        let domain: ManagedDomain = client
            .call_as(req)
            .await
            .map_err(|err: Error| err.context(&what, "reading the public r2.dev address of"))?;
        out.public_url = domain.enabled.then(|| format!("https://{}", domain.domain));
    }
    Ok(Some(Output::R2Bucket(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_jurisdiction_is_not_sent() {
        assert_eq!(jurisdiction(Some("default")), None);
        assert_eq!(jurisdiction(Some("")), None);
        assert_eq!(jurisdiction(Some("eu")), Some("eu"));
        assert_eq!(jurisdiction(None), None);
    }
}
