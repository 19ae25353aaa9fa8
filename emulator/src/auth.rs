//! Authentication: a request must carry the configured token, as `Authorization: Bearer T` (API
//! token) or `X-Auth-Key: T` with any `X-Auth-Email` (global key), and name the emulated account.
//!
//! Sources (reference/cloudflare-api.md §1.3 for the headers, §1.5 and §2 for the codes):
//! - 9106 "Missing X-Auth-Key, X-Auth-Email or Authorization headers", 401: third-party logs, and
//!   wrangler's account discovery reads 9106 (`packages/workers-auth/src/core/factory.ts`).
//! - 1000 "Invalid API Token" on the token-verify routes, 401: what `/user/tokens/verify` answers
//!   an account token; wrangler's `getTokenType` reads 1000
//!   (`packages/wrangler/src/user/whoami.ts`).
//! - 10000 "Authentication error", 403: a bad token or missing permission (wrangler's tests,
//!   third-party logs). The emulator answers it (403) for another account's id too: no public
//!   source gives Cloudflare's answer there.
//! - A configured token of 1 to 256 visible ASCII characters ([`check_token`]): the emulator's own
//!   bound, no public source (wrangler only refuses tokens with code points above 255, §1.3).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Error;
use crate::envelope::ApiError;
use crate::state::AppState;

/// A fresh random token: 40 URL-safe characters.
pub(crate) fn generate_token() -> String {
    format!("emu_{}", hex::encode(rand::random::<[u8; 18]>()))
}

/// Accepts a configured token when an HTTP header can carry it.
pub(crate) fn check_token(token: String) -> Result<String, Error> {
    let ok = !token.is_empty() && token.len() <= 256 && token.bytes().all(|b| b.is_ascii_graphic());
    if ok { Ok(token) } else { Err(Error::Token) }
}

/// What the credentials of a request amount to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Credentials {
    Valid,
    Missing,
    Invalid,
}

/// Checks the credentials of a request against `token`.
pub(crate) fn credentials(headers: &HeaderMap, token: &str) -> Credentials {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(auth) = header("authorization") {
        let presented = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
            .map(str::trim);
        return match presented {
            Some(t) if constant_time_eq(t.as_bytes(), token.as_bytes()) => Credentials::Valid,
            _ => Credentials::Invalid,
        };
    }
    match (header("x-auth-key"), header("x-auth-email")) {
        (Some(key), Some(email)) if !email.is_empty() => {
            if constant_time_eq(key.as_bytes(), token.as_bytes()) {
                Credentials::Valid
            } else {
                Credentials::Invalid
            }
        }
        (Some(_), None) | (None, Some(_)) => Credentials::Missing,
        _ => Credentials::Missing,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Middleware for `/client/v4`: 401 (code 9106) without credentials, 403 (code 10000) with wrong
/// ones (401, code 1000, on the token-verify routes), 403 (code 10000) for another account.
pub(crate) async fn require(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let verify = path.ends_with("/tokens/verify");
    match credentials(req.headers(), &state.token) {
        Credentials::Valid => {}
        Credentials::Missing => {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                9106,
                "Missing X-Auth-Key, X-Auth-Email or Authorization headers",
            )
            .into_response();
        }
        Credentials::Invalid if verify => {
            return ApiError::new(StatusCode::UNAUTHORIZED, 1000, "Invalid API Token")
                .into_response();
        }
        Credentials::Invalid => {
            return ApiError::new(StatusCode::FORBIDDEN, 10000, "Authentication error")
                .into_response();
        }
    }
    let rest = path.strip_prefix(crate::routes::API_PREFIX).unwrap_or(path);
    if let Some(after) = rest.strip_prefix("/accounts/") {
        let account = after.split('/').next().unwrap_or("");
        if !account.is_empty() && account != state.account_id {
            return ApiError::new(StatusCode::FORBIDDEN, 10000, "Authentication error")
                .into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn recognises_each_form() {
        let t = "tok";
        assert_eq!(credentials(&headers(&[]), t), Credentials::Missing);
        assert_eq!(
            credentials(&headers(&[("authorization", "Bearer tok")]), t),
            Credentials::Valid
        );
        assert_eq!(
            credentials(&headers(&[("authorization", "Bearer nope")]), t),
            Credentials::Invalid
        );
        assert_eq!(
            credentials(&headers(&[("authorization", "Basic tok")]), t),
            Credentials::Invalid
        );
        assert_eq!(
            credentials(
                &headers(&[("x-auth-key", "tok"), ("x-auth-email", "a@b.c")]),
                t
            ),
            Credentials::Valid
        );
        assert_eq!(
            credentials(&headers(&[("x-auth-key", "tok")]), t),
            Credentials::Missing
        );
    }

    #[test]
    fn refuses_unusable_tokens() {
        assert!(check_token(String::new()).is_err());
        assert!(check_token("has space".into()).is_err());
        assert!(check_token("ok-token_1".into()).is_ok());
        assert!(generate_token().len() >= 40);
    }
}
