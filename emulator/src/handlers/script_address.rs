//! Which script a request path names: an account script (`/workers/scripts/{script_name}`) or a
//! user Worker in a dispatch namespace (`…/dispatch/namespaces/{dispatch_namespace}/scripts/…`),
//! so that one handler serves both route families.

use std::collections::HashMap;

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use crate::scripts::Scope;

/// The script a request addresses: its scope (from `{dispatch_namespace}`, if the route has one)
/// and its name (from `{script_name}`).
pub(crate) struct ScriptAddress {
    /// The account, or the dispatch namespace the script lives in.
    pub(crate) scope: Scope,
    /// The script name.
    pub(crate) name: String,
}

impl<S: Send + Sync> FromRequestParts<S> for ScriptAddress {
    type Rejection = PathRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(mut params) =
            Path::<HashMap<String, String>>::from_request_parts(parts, state).await?;
        let scope = params
            .remove("dispatch_namespace")
            .map_or(Scope::Account, Scope::Namespace);
        let name = params.remove("script_name").unwrap_or_default();
        Ok(Self { scope, name })
    }
}
