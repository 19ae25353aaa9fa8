//! SecretRef: an existing Secrets Store secret, bound by name and never changed. Resolving it
//! checks that the store (declared, or the account's default) and the secret exist.

use athanor_core::output::SecretOutput;
use athanor_core::provider::Desired;
use athanor_core::stack::SecretRef;
use athanor_core::{Kind, Output, ProviderError};

use super::describe;
use super::secret::{find, resolve_store};
use super::secrets_store::DefaultStoreCache;
use crate::client::Client;

/// Finds the secret; a missing one is [`ProviderError::NotFound`] naming it and its store.
pub(crate) async fn resolve(
    client: &Client,
    d: &Desired<'_>,
    p: &SecretRef,
    default: &DefaultStoreCache,
) -> Result<Output, ProviderError> {
    let what = describe(Kind::SecretRef, &d.resource.id, &p.name);
    let (store_id, store_name) =
        resolve_store(client, d, p.store.as_ref(), default, false, &what).await?;
    let found = find(client, &store_id, &p.name)
        .await
        .map_err(|e| e.context(&what, "looking up"))?;
    match found {
        Some(item) => Ok(Output::SecretRef(SecretOutput {
            id: item.id,
            name: item.name,
            store_id,
        })),
        None => Err(ProviderError::NotFound {
            what: format!(
                "the secret \"{}\" in the Secrets Store \"{store_name}\" (SecretRef \"{}\")",
                p.name, d.resource.id
            ),
            hint: Some(format!(
                "create it in that store (dashboard, or `wrangler secrets-store secret create {store_id} --name {}`), or declare it as a Secret",
                p.name
            )),
        }),
    }
}
