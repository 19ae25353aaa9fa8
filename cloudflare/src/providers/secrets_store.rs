//! Secrets Stores: find by name or create, and the account's default store
//! (`default_secrets_store`) used by a Secret without `store`, found or created once per run.
//! A store athanor did not create ([`SecretsStoreOutput::created`] false) is never deleted.

use athanor_core::output::SecretsStoreOutput;
use athanor_core::provider::Desired;
use athanor_core::stack::{DEFAULT_SECRETS_STORE, SecretsStore};
use athanor_core::{Kind, Output, ProviderError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Deployed, describe, may_adopt, read_if_exists};
use crate::client::{Client, Request, decode};
use crate::error::Error;

/// A store as the API lists it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Store {
    pub id: String,
    pub name: String,
}

fn stores_path(client: &Client) -> String {
    client.account_path("/secrets_store/stores")
}

/// The store of that name, if any.
pub(crate) async fn find(client: &Client, name: &str) -> Result<Option<Store>, Error> {
    let all: Vec<Store> = client.list_pages(&stores_path(client), &[], 100).await?;
    Ok(all.into_iter().find(|s| s.name == name))
}

/// Creates a store (the API answers with the store, or a one-element list of it).
async fn create_store(client: &Client, name: &str) -> Result<Store, Error> {
    let path = stores_path(client);
    let env = client
        .call(Request::post(&path).json(json!({"name": name})))
        .await?;
    let value = match env.result {
        Value::Array(mut items) if !items.is_empty() => items.remove(0),
        other => other,
    };
    decode("POST", &path, value)
}

/// Cloudflare's Secrets Store code for a limit reached (`maximum_stores_exceeded`) and for a name
/// taken.
const STORE_LIMIT_CODE: u32 = 1003;

/// The default store's id: found by name, or created when `create` is set.
pub(crate) async fn default_store(client: &Client, create: bool) -> Result<Option<Store>, Error> {
    if let Some(store) = find(client, DEFAULT_SECRETS_STORE).await? {
        return Ok(Some(store));
    }
    if !create {
        return Ok(None);
    }
    match create_store(client, DEFAULT_SECRETS_STORE).await {
        Ok(store) => Ok(Some(store)),
        // Someone (a concurrent run) created it in between: a name conflict, or, while an
        // account may hold one store only, the store limit.
        Err(e) if e.is_conflict() || e.has_code(STORE_LIMIT_CODE) => {
            match find(client, DEFAULT_SECRETS_STORE).await? {
                Some(store) => Ok(Some(store)),
                None => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Creates the store, or takes over one of the same name: with `adopt` as the user's (destroy
/// leaves it), when resuming an interrupted create as this stack's own (destroy deletes it).
pub(crate) async fn create(client: &Client, d: &Desired<'_>) -> Result<Output, ProviderError> {
    let what = describe(Kind::SecretsStore, &d.resource.id, d.name);
    let existing = find(client, d.name)
        .await
        .map_err(|e| e.context(&what, "looking up"))?;
    if let Some(store) = existing {
        if !d.adopt && !d.resumed {
            return Err(ProviderError::AlreadyExists { what });
        }
        return Ok(Output::SecretsStore(SecretsStoreOutput {
            id: store.id,
            name: store.name,
            created: !d.adopt,
        }));
    }
    match create_store(client, d.name).await {
        Ok(store) => Ok(Output::SecretsStore(SecretsStoreOutput {
            id: store.id,
            name: store.name,
            created: true,
        })),
        Err(e) if e.is_conflict() => {
            // Made in between: by an earlier attempt of ours whose answer was lost, or by
            // someone else.
            let ours = !d.adopt && (d.resumed || e.maybe_applied_before());
            may_adopt(d, &e, &what)?;
            let store = find(client, d.name)
                .await
                .map_err(|e| e.context(&what, "looking up"))?
                .ok_or_else(|| ProviderError::NotFound {
                    what: what.clone(),
                    hint: Some(
                        "the API said the name is taken, yet no such store is listed: deploy again"
                            .into(),
                    ),
                })?;
            Ok(Output::SecretsStore(SecretsStoreOutput {
                id: store.id,
                name: store.name,
                created: ours,
            }))
        }
        Err(e) => {
            let refused = e.api().is_some();
            let mut err = e.context(&what, "creating");
            if let (ProviderError::Step { advice, .. }, true) = (&mut err, refused) {
                *advice = Some(
                    "an account may hold a single store during the beta: adopt the existing one with `adopt: true` and its name",
                );
            }
            Err(err)
        }
    }
}

/// The store of this name, if one exists, as this stack's own (what an interrupted create may
/// have made).
pub(crate) async fn find_made(
    client: &Client,
    d: &Desired<'_>,
) -> Result<Option<Output>, ProviderError> {
    let what = describe(Kind::SecretsStore, &d.resource.id, d.name);
    let found = find(client, d.name)
        .await
        .map_err(|e| e.context(&what, "looking up"))?;
    Ok(found.map(|store| {
        Output::SecretsStore(SecretsStoreOutput {
            id: store.id,
            name: store.name,
            created: true,
        })
    }))
}

/// Nothing changes in place (a new name replaces the store).
pub(crate) fn update(e: Deployed<'_, SecretsStore, SecretsStoreOutput>) -> Output {
    Output::SecretsStore(e.output.clone())
}

/// Deletes the store only if athanor created it.
pub(crate) async fn delete(
    client: &Client,
    e: Deployed<'_, SecretsStore, SecretsStoreOutput>,
) -> Result<(), ProviderError> {
    let o = e.output;
    if !o.created {
        return Ok(());
    }
    let what = describe(Kind::SecretsStore, e.id, &o.name);
    let path = client.account_path(&format!("/secrets_store/stores/{}", o.id));
    match client.call(Request::delete(path)).await {
        Ok(_) => Ok(()),
        Err(err) if err.is_not_found() => Ok(()),
        Err(err) if err.status() == Some(409) => Err(ProviderError::Local {
            message: format!(
                "{what} still holds secrets athanor does not manage, so it is kept: delete them first, or set `delete: false` ({err})"
            ),
        }),
        Err(err) => Err(err.context(&what, "deleting")),
    }
}

/// Reads the store back.
pub(crate) async fn read(
    client: &Client,
    e: Deployed<'_, SecretsStore, SecretsStoreOutput>,
) -> Result<Option<Output>, ProviderError> {
    let o = e.output;
    let what = describe(Kind::SecretsStore, e.id, &o.name);
    let path = client.account_path(&format!("/secrets_store/stores/{}", o.id));
    let found = read_if_exists::<Store>(client, Request::get(path), &what).await?;
    Ok(found.map(|s| {
        Output::SecretsStore(SecretsStoreOutput {
            id: s.id,
            name: s.name,
            created: o.created,
        })
    }))
}

/// The default store, looked up (or created) once per provider and shared by every Secret and
/// SecretRef without `store`, so concurrent creates never race to make two.
#[derive(Debug, Default)]
pub(crate) struct DefaultStoreCache(tokio::sync::Mutex<Option<Store>>);

impl DefaultStoreCache {
    /// The default store; created when missing if `create` is set.
    pub(crate) async fn get(&self, client: &Client, create: bool) -> Result<Option<Store>, Error> {
        let mut cached = self.0.lock().await;
        if let Some(store) = &*cached {
            return Ok(Some(store.clone()));
        }
        let store = default_store(client, create).await?;
        cached.clone_from(&store);
        Ok(store)
    }
}
