//! Secrets Store secrets whose value athanor sets: create in the store (the declared one, or the
//! account's default store, created if missing), take over an existing one of the same name only
//! with `adopt` (then its value is updated), update the value in place, delete.
//!
//! The value travels only in request bodies: never in an error, a log line or an output.

use athanor_core::output::SecretOutput;
use athanor_core::provider::Desired;
use athanor_core::stack::{DEFAULT_SECRETS_STORE, ResourceRef, Secret};
use athanor_core::{Kind, Output, ProviderError};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};

use super::secrets_store::DefaultStoreCache;
use super::{Deployed, delete_if_exists, describe, may_adopt, read_if_exists};
use crate::client::{Client, Request, decode};
use crate::error::Error;

/// A secret as the API lists it (never with its value).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SecretItem {
    pub id: String,
    pub name: String,
}

/// The store a Secret or SecretRef lives in: `(id, name)`.
pub(crate) async fn resolve_store(
    client: &Client,
    d: &Desired<'_>,
    store: Option<&ResourceRef>,
    default: &DefaultStoreCache,
    create_default: bool,
    what: &str,
) -> Result<(String, String), ProviderError> {
    match store {
        Some(r) => match d.deps.get(&r.0) {
            Some(Output::SecretsStore(s)) => Ok((s.id.clone(), s.name.clone())),
            _ => Err(ProviderError::Local {
                message: format!(
                    "{what}: its store `{}` has no SecretsStore output yet: declare `{}` as a SecretsStore in the same stack",
                    r.0, r.0
                ),
            }),
        },
        None => match default.get(client, create_default).await {
            Ok(Some(s)) => Ok((s.id, s.name)),
            Ok(None) => Err(ProviderError::NotFound {
                what: format!(
                    "the default Secrets Store \"{DEFAULT_SECRETS_STORE}\" (needed by {what})"
                ),
                hint: Some(
                    "create it in the dashboard, or declare a SecretsStore and set `store:`".into(),
                ),
            }),
            Err(e) => Err(e.context(what, "finding the default Secrets Store for")),
        },
    }
}

fn secrets_path(client: &Client, store_id: &str) -> String {
    client.account_path(&format!("/secrets_store/stores/{store_id}/secrets"))
}

/// The secret of that exact name in the store (listed with `?search=`).
pub(crate) async fn find(
    client: &Client,
    store_id: &str,
    name: &str,
) -> Result<Option<SecretItem>, Error> {
    let all: Vec<SecretItem> = client
        .list_pages(&secrets_path(client, store_id), &[("search", name)], 100)
        .await?;
    Ok(all.into_iter().find(|s| s.name == name))
}

fn scopes(declared: &[String]) -> Vec<String> {
    if declared.is_empty() {
        vec!["workers".to_owned()]
    } else {
        declared.to_vec()
    }
}

fn output(id: String, name: String, store_id: String) -> Output {
    Output::Secret(SecretOutput { id, name, store_id })
}

/// Creates the secret, or takes over one of the same name with `adopt` and sets its value.
pub(crate) async fn create(
    client: &Client,
    d: &Desired<'_>,
    p: &Secret,
    default: &DefaultStoreCache,
) -> Result<Output, ProviderError> {
    let what = describe(Kind::Secret, &d.resource.id, d.name);
    let value = secret_value(d, &what)?;
    let (store_id, _) = resolve_store(client, d, p.store.as_ref(), default, true, &what).await?;
    let path = secrets_path(client, &store_id);
    let body = json!([{
        "name": d.name,
        "value": value.expose_secret(),
        "scopes": scopes(&p.scopes),
    }]);
    match client.call(Request::post(&path).json(body)).await {
        Ok(env) => {
            let item: SecretItem = match env.result {
                Value::Array(mut items) if !items.is_empty() => {
                    decode("POST", &path, items.remove(0))
                }
                other => decode("POST", &path, other),
            }
            .map_err(|e| e.context(&what, "creating"))?;
            Ok(output(item.id, item.name, store_id))
        }
        Err(e) if e.is_conflict() => {
            may_adopt(d, &e, &what)?;
            let found = find(client, &store_id, d.name)
                .await
                .map_err(|e| e.context(&what, "looking up, to adopt,"))?
                .ok_or_else(|| ProviderError::NotFound {
                    what: what.clone(),
                    hint: Some("the API said the name is taken, yet no such secret is listed: deploy again".into()),
                })?;
            patch_value(client, &store_id, &found.id, d, &p.scopes, &what).await?;
            Ok(output(found.id, found.name, store_id))
        }
        Err(e) => Err(e.context(&what, "creating")),
    }
}

/// The secret of this name in its store, if both exist (what an interrupted create may have
/// made). The default store is looked up, never created.
pub(crate) async fn find_made(
    client: &Client,
    d: &Desired<'_>,
    p: &Secret,
    default: &DefaultStoreCache,
) -> Result<Option<Output>, ProviderError> {
    let what = describe(Kind::Secret, &d.resource.id, d.name);
    let store_id = match resolve_store(client, d, p.store.as_ref(), default, false, &what).await {
        Ok((id, _)) => id,
        // No store, so no secret in it.
        Err(e) if e.is_not_found() || matches!(e, ProviderError::Local { .. }) => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let found = find(client, &store_id, d.name)
        .await
        .map_err(|e| e.context(&what, "looking up"))?;
    Ok(found.map(|s| output(s.id, s.name, store_id)))
}

/// Sets the value (and scopes) again.
pub(crate) async fn update(
    client: &Client,
    d: &Desired<'_>,
    p: &Secret,
    e: Deployed<'_, Secret, SecretOutput>,
) -> Result<Output, ProviderError> {
    let o = e.output;
    let what = describe(Kind::Secret, &d.resource.id, d.name);
    patch_value(client, &o.store_id, &o.id, d, &p.scopes, &what).await?;
    Ok(Output::Secret(o.clone()))
}

async fn patch_value(
    client: &Client,
    store_id: &str,
    secret_id: &str,
    d: &Desired<'_>,
    declared_scopes: &[String],
    what: &str,
) -> Result<(), ProviderError> {
    let value = secret_value(d, what)?;
    let path = format!("{}/{secret_id}", secrets_path(client, store_id));
    client
        .call(Request::patch(path).json(json!({
            "value": value.expose_secret(),
            "scopes": scopes(declared_scopes),
        })))
        .await
        .map(|_| ())
        .map_err(|e| e.context(what, "setting the value of"))
}

fn secret_value<'d>(
    d: &'d Desired<'_>,
    what: &str,
) -> Result<&'d secrecy::SecretString, ProviderError> {
    d.secrets.get("value").ok_or_else(|| ProviderError::Local {
        message: format!("{what}: no value was provided for the secret (the engine reads it from its `value:` source before deploying)"),
    })
}

/// Deletes the secret; one already gone is fine.
pub(crate) async fn delete(
    client: &Client,
    e: Deployed<'_, Secret, SecretOutput>,
) -> Result<(), ProviderError> {
    let o = e.output;
    let what = describe(Kind::Secret, e.id, &o.name);
    let path = format!("{}/{}", secrets_path(client, &o.store_id), o.id);
    delete_if_exists(client, Request::delete(path), &what).await
}

/// Reads a secret back by id, for a Secret and a SecretRef alike (`kind` names it in errors);
/// the caller wraps the answer in the output variant of that kind.
pub(crate) async fn read<P>(
    client: &Client,
    kind: Kind,
    e: Deployed<'_, P, SecretOutput>,
) -> Result<Option<SecretOutput>, ProviderError> {
    let o = e.output;
    let what = describe(kind, e.id, &o.name);
    let path = format!("{}/{}", secrets_path(client, &o.store_id), o.id);
    let found = read_if_exists::<SecretItem>(client, Request::get(path), &what).await?;
    Ok(found.map(|item| SecretOutput {
        id: item.id,
        name: item.name,
        store_id: o.store_id.clone(),
    }))
}
