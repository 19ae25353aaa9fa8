//! Credentials and client settings, read from the environment the way wrangler reads them.
//!
//! [`Auth`] holds the secret in a [`SecretString`] and its `Debug` output never shows it.

use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;
use crate::rate_limit::RateLimit;
use crate::retry::RetryPolicy;

/// Cloudflare's public API base URL.
pub(crate) const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";
/// The API base URL of the FedRAMP High region (`CLOUDFLARE_COMPLIANCE_REGION=fedramp_high`).
pub(crate) const FEDRAMP_BASE_URL: &str = "https://api.fed.cloudflare.com/client/v4";

/// How requests authenticate.
pub enum Auth {
    /// An API token, sent as `Authorization: Bearer`.
    Token(SecretString),
    /// A global API key with its account email, sent as `X-Auth-Key` and `X-Auth-Email`.
    Key {
        /// The global API key.
        key: SecretString,
        /// The email of the account owning the key.
        email: String,
    },
}

impl Clone for Auth {
    fn clone(&self) -> Self {
        match self {
            Auth::Token(t) => Auth::Token(SecretString::from(t.expose_secret())),
            Auth::Key { key, email } => Auth::Key {
                key: SecretString::from(key.expose_secret()),
                email: email.clone(),
            },
        }
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Token(_) => f.write_str("Auth::Token([redacted])"),
            Auth::Key { email, .. } => f
                .debug_struct("Auth::Key")
                .field("key", &"[redacted]")
                .field("email", email)
                .finish(),
        }
    }
}

/// Everything [`crate::Client::connect`] needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The API base URL, e.g. `https://api.cloudflare.com/client/v4` (no trailing slash).
    pub base_url: String,
    /// The credentials.
    pub auth: Auth,
    /// The account to work in; `None` looks it up with `GET /accounts`.
    pub account_id: Option<String>,
    /// The client-side request budget shared by every clone of the client.
    pub rate_limit: RateLimit,
    /// How failed requests are retried.
    pub retry: RetryPolicy,
    /// How the URLs of Workers on workers.dev are formed.
    pub workers_urls: WorkersUrls,
}

/// How an account Worker's workers.dev URL is formed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WorkersUrls {
    /// `https://NAME.SUBDOMAIN.workers.dev`, with the account's subdomain (read once per client).
    #[default]
    WorkersDev,
    /// `http://NAME.AUTHORITY`, for Workers served by a local runtime (`localhost:8787`).
    Local {
        /// The host suffix and port, e.g. `localhost:8787`.
        authority: String,
    },
}

impl ClientConfig {
    /// A configuration with the default rate limit and retry policy.
    pub fn new(base_url: impl Into<String>, auth: Auth) -> ClientConfig {
        let base_url: String = base_url.into();
        ClientConfig {
            base_url: base_url.trim_end_matches('/').to_owned(),
            auth,
            account_id: None,
            rate_limit: RateLimit::default(),
            retry: RetryPolicy::default(),
            workers_urls: WorkersUrls::default(),
        }
    }

    /// Reads `CLOUDFLARE_API_TOKEN`, or `CLOUDFLARE_API_KEY` + `CLOUDFLARE_EMAIL`;
    /// `CLOUDFLARE_ACCOUNT_ID`; `CLOUDFLARE_API_BASE_URL` (and the `CF_*` aliases, and
    /// `CLOUDFLARE_BASE_URL`; `CLOUDFLARE_COMPLIANCE_REGION=fedramp_high` picks the FedRAMP API
    /// when no base URL is set). `Ok(None)` when no credentials are set.
    pub fn from_env() -> Result<Option<ClientConfig>, Error> {
        ClientConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`ClientConfig::from_env`] over any variable lookup, so the rules can be tested without
    /// touching the process environment.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<ClientConfig>, Error> {
        let get = |names: &[&str]| {
            names
                .iter()
                .filter_map(|n| lookup(n))
                .map(|v| v.trim().to_owned())
                .find(|v| !v.is_empty())
        };
        let token = get(&["CLOUDFLARE_API_TOKEN", "CF_API_TOKEN"]);
        let key = get(&["CLOUDFLARE_API_KEY", "CF_API_KEY"]);
        let email = get(&["CLOUDFLARE_EMAIL", "CF_EMAIL"]);
        let auth = match (token, key, email) {
            (Some(token), _, _) => {
                if token.chars().any(|c| c as u32 > 255) {
                    return Err(Error::Config(
                        "CLOUDFLARE_API_TOKEN holds characters that cannot be sent in an HTTP header: copy the token again from the dashboard".into(),
                    ));
                }
                Auth::Token(SecretString::from(token))
            }
            (None, Some(key), Some(email)) => Auth::Key {
                key: SecretString::from(key),
                email,
            },
            (None, Some(_), None) => {
                return Err(Error::Config(
                    "CLOUDFLARE_API_KEY is set but CLOUDFLARE_EMAIL is not: set the email of the account owning the key, or use CLOUDFLARE_API_TOKEN instead".into(),
                ));
            }
            (None, None, _) => return Ok(None),
        };
        let base_url = get(&[
            "CLOUDFLARE_API_BASE_URL",
            "CF_API_BASE_URL",
            "CLOUDFLARE_BASE_URL",
        ])
        .unwrap_or_else(|| match get(&["CLOUDFLARE_COMPLIANCE_REGION"]).as_deref() {
            Some("fedramp_high") => FEDRAMP_BASE_URL.to_owned(),
            _ => DEFAULT_BASE_URL.to_owned(),
        });
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(Error::Config(format!(
                "the API base URL `{base_url}` is not an http(s) URL: fix CLOUDFLARE_API_BASE_URL"
            )));
        }
        let mut config = ClientConfig::new(base_url, auth);
        config.account_id = get(&["CLOUDFLARE_ACCOUNT_ID", "CF_ACCOUNT_ID"]);
        Ok(Some(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<Option<ClientConfig>, Error> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ClientConfig::from_lookup(|n| map.get(n).cloned())
    }

    #[test]
    fn no_credentials_means_no_config() {
        assert!(read(&[("CLOUDFLARE_ACCOUNT_ID", "abc")]).unwrap().is_none());
    }

    #[test]
    fn a_token_wins_and_the_base_url_and_account_are_honoured() {
        let config = read(&[
            ("CLOUDFLARE_API_TOKEN", "tok-123"),
            ("CLOUDFLARE_API_KEY", "key"),
            ("CF_ACCOUNT_ID", "acc"),
            ("CLOUDFLARE_API_BASE_URL", "http://127.0.0.1:9/client/v4/"),
        ])
        .unwrap()
        .unwrap();
        assert!(matches!(config.auth, Auth::Token(ref t) if t.expose_secret() == "tok-123"));
        assert_eq!(config.base_url, "http://127.0.0.1:9/client/v4");
        assert_eq!(config.account_id.as_deref(), Some("acc"));
    }

    #[test]
    fn the_sdk_base_url_name_and_key_auth_work() {
        let config = read(&[
            ("CF_API_KEY", "global-key"),
            ("CLOUDFLARE_EMAIL", "me@example.com"),
            (
                "CLOUDFLARE_BASE_URL",
                "https://api.staging.cloudflare.com/client/v4",
            ),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            config.base_url,
            "https://api.staging.cloudflare.com/client/v4"
        );
        assert!(matches!(config.auth, Auth::Key { ref email, .. } if email == "me@example.com"));
        assert_eq!(config.account_id, None);
    }

    #[test]
    fn the_fedramp_region_changes_the_default_base_url_only() {
        let fed = read(&[
            ("CLOUDFLARE_API_TOKEN", "t"),
            ("CLOUDFLARE_COMPLIANCE_REGION", "fedramp_high"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(fed.base_url, FEDRAMP_BASE_URL);
        let explicit = read(&[
            ("CLOUDFLARE_API_TOKEN", "t"),
            ("CLOUDFLARE_COMPLIANCE_REGION", "fedramp_high"),
            ("CLOUDFLARE_API_BASE_URL", "http://127.0.0.1:1/client/v4"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(explicit.base_url, "http://127.0.0.1:1/client/v4");
        let public = read(&[("CLOUDFLARE_API_TOKEN", "t")]).unwrap().unwrap();
        assert_eq!(public.base_url, DEFAULT_BASE_URL);
    }

    #[test]
    fn a_key_without_email_is_an_error_naming_the_missing_variable() {
        let err = read(&[("CLOUDFLARE_API_KEY", "k")]).unwrap_err();
        assert!(err.to_string().contains("CLOUDFLARE_EMAIL"));
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let config = read(&[("CLOUDFLARE_API_TOKEN", "very-secret-token")])
            .unwrap()
            .unwrap();
        let text = format!("{config:?}");
        assert!(!text.contains("very-secret-token"), "{text}");
        let key = Auth::Key {
            key: SecretString::from("hidden-key"),
            email: "a@b.c".into(),
        };
        assert!(!format!("{key:?}").contains("hidden-key"));
    }
}
