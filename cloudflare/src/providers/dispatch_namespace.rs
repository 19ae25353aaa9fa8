//! Workers for Platforms dispatch namespaces: create, adopt with `adopt`, delete. The API
//! addresses a namespace by its name.

use athanor_core::output::DispatchNamespaceOutput;
use athanor_core::provider::Desired;
use athanor_core::stack::DispatchNamespace;
use athanor_core::{Kind, Output, ProviderError};
use serde::Deserialize;
use serde_json::json;

use super::{Deployed, delete_if_exists, describe, may_adopt, read_if_exists};
use crate::client::{Client, Request};

#[derive(Debug, Deserialize)]
struct Namespace {
    namespace_id: String,
    namespace_name: String,
}

fn output(ns: Namespace) -> Output {
    Output::DispatchNamespace(DispatchNamespaceOutput {
        id: ns.namespace_id,
        name: ns.namespace_name,
    })
}

fn namespace_path(client: &Client, name: &str) -> String {
    client.account_path(&format!("/workers/dispatch/namespaces/{name}"))
}

/// Creates the namespace, or adopts it with `adopt`. With `adopt` the namespace is looked up
/// first: a platform's tenants all adopt the namespace the platform made, so one read each
/// instead of a refused create and a read.
pub(crate) async fn create(client: &Client, d: &Desired<'_>) -> Result<Output, ProviderError> {
    let what = describe(Kind::DispatchNamespace, &d.resource.id, d.name);
    if d.adopt {
        let found = read_if_exists::<Namespace>(
            client,
            Request::get(namespace_path(client, d.name)),
            &what,
        )
        .await?;
        if let Some(ns) = found {
            return Ok(output(ns));
        }
    }
    let req = Request::post(client.account_path("/workers/dispatch/namespaces"))
        .json(json!({"name": d.name}));
    match client.call_as::<Namespace>(req).await {
        Ok(ns) => Ok(output(ns)),
        Err(e) if e.is_conflict() => {
            may_adopt(d, &e, &what)?;
            client
                .call_as::<Namespace>(Request::get(namespace_path(client, d.name)))
                .await
                .map(output)
                .map_err(|e| e.context(&what, "reading, to adopt,"))
        }
        Err(e) => Err(e.context(&what, "creating")),
    }
}

/// The namespace of this name, if one exists (what an interrupted create may have made).
pub(crate) async fn find(
    client: &Client,
    d: &Desired<'_>,
) -> Result<Option<Output>, ProviderError> {
    let what = describe(Kind::DispatchNamespace, &d.resource.id, d.name);
    let req = Request::get(namespace_path(client, d.name));
    Ok(read_if_exists::<Namespace>(client, req, &what)
        .await?
        .map(output))
}

/// Nothing changes in place (a new name replaces the namespace): the recorded output stands.
pub(crate) fn update(e: Deployed<'_, DispatchNamespace, DispatchNamespaceOutput>) -> Output {
    Output::DispatchNamespace(e.output.clone())
}

/// Deletes the namespace; one already gone is fine.
pub(crate) async fn delete(
    client: &Client,
    e: Deployed<'_, DispatchNamespace, DispatchNamespaceOutput>,
) -> Result<(), ProviderError> {
    let name = &e.output.name;
    let what = describe(Kind::DispatchNamespace, e.id, name);
    delete_if_exists(client, Request::delete(namespace_path(client, name)), &what).await
}

/// Reads the namespace back.
pub(crate) async fn read(
    client: &Client,
    e: Deployed<'_, DispatchNamespace, DispatchNamespaceOutput>,
) -> Result<Option<Output>, ProviderError> {
    let name = &e.output.name;
    let what = describe(Kind::DispatchNamespace, e.id, name);
    read_if_exists::<Namespace>(client, Request::get(namespace_path(client, name)), &what)
        .await
        .map(|ns| ns.map(output))
}
