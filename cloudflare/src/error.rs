//! The one error type of this crate, and its conversion into the engine's [`ProviderError`].
//!
//! Every variant says what failed and, where it can, what to do. None carries a secret: API
//! errors hold the method, the path without its query string, the HTTP status and Cloudflare's
//! codes and messages, never a request body or a credential.

use athanor_core::ProviderError;

/// A failure of the Cloudflare client or of a provider.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The credentials or settings read from the environment are unusable.
    #[error("Cloudflare configuration: {0}")]
    Config(String),

    /// The API answered with an error.
    #[error("{method} {path} failed with HTTP {status}{}: {message}", codes_suffix(.codes))]
    Api {
        /// The HTTP method.
        method: String,
        /// The request path, relative to the base URL, without the query string.
        path: String,
        /// The HTTP status.
        status: u16,
        /// Cloudflare's error codes, in the order given.
        codes: Vec<u32>,
        /// Cloudflare's error messages, joined with `; `.
        message: String,
        /// An earlier attempt of this request was sent but no answer came back, so it may have
        /// been applied (a create answered "already exists" then made the resource itself).
        maybe_applied_before: bool,
    },

    /// The request could not be sent or no answer came back, after every retry.
    #[error("cannot reach {target} ({method} {path}): {message}")]
    Transport {
        /// The base URL.
        target: String,
        /// The HTTP method.
        method: String,
        /// The request path.
        path: String,
        /// What went wrong.
        message: String,
    },

    /// The API answered with something that is not the documented shape.
    #[error("unexpected answer to {method} {path}: {message}")]
    Decode {
        /// The HTTP method.
        method: String,
        /// The request path.
        path: String,
        /// What did not parse.
        message: String,
    },

    /// No account id was configured and the credentials see no account, or several.
    #[error("{0}")]
    Account(String),

    /// A local input is wrong (a missing entrypoint, an unparsable module, no bundler).
    #[error("{0}")]
    Local(String),
}

/// A short piece of advice for an API error with this HTTP status.
fn advice_for_status(status: u16) -> &'static str {
    match status {
        400 | 422 => "the API rejected the input: check the declared properties",
        401 | 403 => {
            "the credentials were refused or lack a permission: check the API token's permissions and the account id"
        }
        404 => {
            "it does not exist at Cloudflare (deleted outside athanor?): check the name, or deploy again to recreate it"
        }
        409 => "it conflicts with the current state at Cloudflare: check the resource there",
        412 => "a precondition failed: deploy again",
        429 => {
            "Cloudflare's rate limit was hit after every retry: wait a few minutes and deploy again"
        }
        s if s >= 500 => "Cloudflare failed after every retry: deploy again later",
        _ => "check the request and deploy again",
    }
}

fn codes_suffix(codes: &[u32]) -> String {
    if codes.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = codes.iter().map(u32::to_string).collect();
        format!(" (code {})", list.join(", "))
    }
}

impl Error {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether Cloudflare answered with this error code.
    pub fn has_code(&self, code: u32) -> bool {
        matches!(self, Error::Api { codes, .. } if codes.contains(&code))
    }

    /// Whether the API said the thing addressed does not exist (HTTP 404, or a not-found code).
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Api { status, codes, .. } => {
                *status == 404
                    || codes
                        .iter()
                        .any(|c| matches!(c, 10006 | 10007 | 10009 | 10013 | 10090 | 10092))
            }
            _ => false,
        }
    }

    /// Whether the API refused a create because a resource of that name exists: HTTP 409, or a
    /// message saying so. (Codes are per product, so product-specific codes such as KV's 10014
    /// are checked by the provider that knows them.)
    pub fn is_conflict(&self) -> bool {
        match self {
            Error::Api {
                status, message, ..
            } => {
                let lower = message.to_ascii_lowercase();
                *status == 409 || lower.contains("already exist") || lower.contains("already_exist")
            }
            _ => false,
        }
    }

    /// A short piece of advice for this error.
    pub fn advice(&self) -> &'static str {
        match self {
            Error::Api { status, .. } => advice_for_status(*status),
            Error::Transport { .. } => "check the network and the API base URL, then deploy again",
            _ => "",
        }
    }

    /// Whether an earlier attempt of the failed request may have been applied at Cloudflare.
    pub fn maybe_applied_before(&self) -> bool {
        matches!(
            self,
            Error::Api {
                maybe_applied_before: true,
                ..
            }
        )
    }

    /// Converts into the engine's error, adding which resource and which step failed.
    pub fn context(self, what: &str, action: &str) -> ProviderError {
        let advice = self.advice();
        let mut err = ProviderError::from(self);
        match &mut err {
            ProviderError::Api { message, .. } | ProviderError::Transport { message, .. } => {
                *message = format!("{message} (while {action} {what}; {advice})");
            }
            ProviderError::Local { message } => {
                *message = format!("{what}: {action} failed: {message}");
            }
            ProviderError::AlreadyExists { .. } | ProviderError::NotFound { .. } => {}
        }
        err
    }
}

impl From<Error> for ProviderError {
    fn from(err: Error) -> ProviderError {
        match err {
            Error::Api {
                method,
                path,
                status,
                codes,
                message,
                ..
            } => ProviderError::Api {
                method,
                path,
                status,
                codes,
                message,
            },
            Error::Transport {
                target, message, ..
            } => ProviderError::Transport { target, message },
            other => ProviderError::Local {
                message: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, codes: Vec<u32>, message: &str) -> Error {
        Error::Api {
            method: "POST".into(),
            path: "/accounts/a/storage/kv/namespaces".into(),
            status,
            codes,
            message: message.into(),
            maybe_applied_before: false,
        }
    }

    #[test]
    fn conflicts_and_absences_are_recognised_by_status_code_or_message() {
        assert!(!api(400, vec![10004], "invalid Worker name").is_conflict());
        assert!(api(409, vec![], "x").is_conflict());
        assert!(api(400, vec![1001], "secret_name_already_exists").is_conflict());
        assert!(!api(400, vec![10001], "bad title").is_conflict());
        assert!(api(404, vec![], "gone").is_not_found());
        assert!(api(400, vec![10013], "namespace not found").is_not_found());
        assert!(!api(500, vec![], "boom").is_not_found());
    }

    #[test]
    fn context_names_the_resource_the_step_and_the_advice() {
        let err = api(400, vec![10019], "missing title")
            .context("KV namespace \"t\" (KvNamespace \"kv\")", "creating");
        let text = err.to_string();
        assert!(text.contains("HTTP 400"), "{text}");
        assert!(text.contains("10019"), "{text}");
        assert!(text.contains("KvNamespace \"kv\""), "{text}");
        assert!(text.contains("check the declared properties"), "{text}");
    }
}
