//! R2 buckets: create with location hint, storage class and jurisdiction (a header), adopt on
//! 409 only with `adopt`, change the default storage class in place, delete.

use athanor_core::output::R2BucketOutput;
use athanor_core::provider::Desired;
use athanor_core::stack::R2Bucket;
use athanor_core::{Kind, Output, ProviderError};
use serde::Deserialize;
use serde_json::json;

use super::{Deployed, describe, may_adopt, read_if_exists};
use crate::client::{Client, Request};

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
    })
}

/// Creates the bucket, or adopts it on 409 with `adopt`.
pub(crate) async fn create(
    client: &Client,
    d: &Desired<'_>,
    p: &R2Bucket,
) -> Result<Output, ProviderError> {
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
    match client.call_as::<Bucket>(req).await {
        Ok(b) => Ok(output(b, p)),
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
            Ok(output(b, p))
        }
        Err(e) => Err(e.context(&what, "creating")),
    }
}

/// Applies a storage class change (the only in-place change R2 allows).
pub(crate) async fn update(
    client: &Client,
    d: &Desired<'_>,
    p: &R2Bucket,
    e: Deployed<'_, R2Bucket, R2BucketOutput>,
) -> Result<Output, ProviderError> {
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
    Ok(Output::R2Bucket(out))
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
    let found = read_if_exists::<Bucket>(client, req, &what).await?;
    Ok(found.map(|b| output(b, e.props)))
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
