//! Secrets Store reads: `GET /{store id}/{secret name}` answers the secret's value, opened from its
//! sealed form, so that `await env.SECRET.get()` in a Worker reads what the API stored (and the
//! value it holds now, since a Secrets Store secret changes without a redeploy).

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;

use super::{percent_decode, with_reason};
use crate::handlers::secrets_store::seal_context;
use crate::state::AppState;
use crate::store::lookup;

/// Answers one Secrets Store read.
pub(super) async fn handle(state: &AppState, req: Request) -> Response {
    let path = req.uri().path().trim_start_matches('/');
    let Some((store, name)) = path
        .split_once('/')
        .and_then(|(s, n)| Some((percent_decode(s, false)?, percent_decode(n, false)?)))
    else {
        return with_reason(
            StatusCode::BAD_REQUEST,
            "expected /{store id}/{secret name}",
        );
    };
    let (lookup_store, lookup_name) = (store.clone(), name.clone());
    let secret = state
        .store
        .tx(move |c| lookup::secrets_store_secret(c, &lookup_store, &lookup_name))
        .await;
    let secret = match secret {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            return with_reason(
                StatusCode::NOT_FOUND,
                &format!("Secret \"{name}\" not found in store {store}"),
            );
        }
        Err(e) => return with_reason(e.status, &e.message),
    };
    let opened = secret["value_sealed"]
        .as_str()
        .and_then(|sealed| state.sealer.open_sealed(sealed, &seal_context(&store)).ok());
    match opened {
        Some(value) => Response::new(Body::from(value)),
        None => with_reason(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!(
                "the value of secret \"{name}\" was stored before the emulator kept secret values; set it again"
            ),
        ),
    }
}
