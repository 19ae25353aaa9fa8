//! Telling apart why Cloudflare refuses a run's requests: a token that is not valid, an account
//! id the credentials cannot use, or (neither) a permission the token lacks. Asked once, after the
//! first refusal of a run, so that a run with good credentials sends nothing for it.
//!
//! The requests (reference/cloudflare-api.md §2): `GET /user/tokens/verify` for a user's token;
//! an account-owned token gets code 1000 there and is verified with
//! `GET /accounts/{account_id}/tokens/verify`, which also proves the account; `GET /user` for a
//! global API key; then `GET /accounts/{account_id}` for the account.

use serde::Deserialize;

use crate::client::{Client, Request};
use crate::config::Auth;
use crate::error::Error;

/// Cloudflare's code for a token it does not know (on the verify routes).
const INVALID_TOKEN: u32 = 1000;

/// What a token verification returns.
#[derive(Deserialize)]
struct Verified {
    status: String,
}

/// The variables that hold the credentials, as a message names them.
fn credential_variables(auth: &Auth) -> &'static str {
    match auth {
        Auth::Token(_) => "CLOUDFLARE_API_TOKEN",
        Auth::Key { .. } => "CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL",
    }
}

/// Whether `err` is Cloudflare refusing the credentials (401 or 403).
fn refused(err: &Error) -> bool {
    matches!(err.status(), Some(401 | 403))
}

impl Client {
    /// What is wrong with the credentials, naming the variable to fix; `None` when Cloudflare
    /// accepts them for the account (or the check could not tell: the network failed).
    pub async fn credentials_problem(&self) -> Option<String> {
        let auth = self.auth();
        let vars = credential_variables(auth);
        let account = self.account_id();
        match auth {
            Auth::Token(_) => {
                let user = self
                    .call_as::<Verified>(Request::get("/user/tokens/verify"))
                    .await;
                let verified = match user {
                    Err(e) if e.has_code(INVALID_TOKEN) => {
                        // Perhaps a token the account owns: verified under the account.
                        let path = format!("/accounts/{account}/tokens/verify");
                        match self.call_as::<Verified>(Request::get(path)).await {
                            Ok(v) => return inactive(&v, vars),
                            Err(e) if refused(&e) => {
                                return Some(format!(
                                    "Cloudflare does not know the token in {vars} (\"Invalid API Token\"): set it to an active API token (an account-owned token must belong to account {account}, CLOUDFLARE_ACCOUNT_ID)"
                                ));
                            }
                            Err(_) => return None,
                        }
                    }
                    Err(e) if refused(&e) => {
                        return Some(format!(
                            "Cloudflare refuses the token in {vars} ({}): set it to an active API token",
                            e.api().map_or_else(String::new, |a| a.message.clone())
                        ));
                    }
                    Err(_) => return None,
                    Ok(v) => v,
                };
                if let Some(problem) = inactive(&verified, vars) {
                    return Some(problem);
                }
            }
            Auth::Key { .. } => match self.call(Request::get("/user")).await {
                Err(e) if refused(&e) => {
                    return Some(format!(
                        "Cloudflare refuses the global API key in {vars}: check both, or use an API token (CLOUDFLARE_API_TOKEN)"
                    ));
                }
                Err(_) => return None,
                Ok(_) => {}
            },
        }
        match self
            .call(Request::get(format!("/accounts/{account}")))
            .await
        {
            Err(e) if refused(&e) || e.is_not_found() => Some(format!(
                "the credentials in {vars} are valid, but Cloudflare refuses them for account {account}: check CLOUDFLARE_ACCOUNT_ID, or give the token access to that account"
            )),
            _ => None,
        }
    }
}

/// The problem with a verified token whose status is not `active` (`disabled`, `expired`).
fn inactive(verified: &Verified, vars: &str) -> Option<String> {
    (verified.status != "active").then(|| {
        format!(
            "the token in {vars} is {}: set it to an active API token",
            verified.status
        )
    })
}
