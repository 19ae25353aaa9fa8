//! The one error type of this crate, and its conversion into the engine's [`ProviderError`].
//!
//! Every variant says what failed and, where it can, what to do. None carries a secret: API
//! errors hold the method, the path without its query string, the HTTP status and Cloudflare's
//! codes and messages, never a request body or a credential.

use athanor_core::{ApiError, ProviderError};

/// A failure of the Cloudflare client or of a provider.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The credentials or settings read from the environment are unusable.
    #[error("Cloudflare configuration: {0}")]
    Config(String),

    /// The API answered with an error.
    #[error("{error}")]
    Api {
        /// The request and Cloudflare's answer.
        error: ApiError,
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

impl Error {
    /// The API's refusal, when this is one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        self.api().map(|e| e.status)
    }

    /// Whether Cloudflare answered with this error code.
    pub fn has_code(&self, code: u32) -> bool {
        self.api().is_some_and(|e| e.has_code(code))
    }

    /// Whether the API said the thing addressed does not exist (HTTP 404, or a not-found code).
    pub fn is_not_found(&self) -> bool {
        self.api().is_some_and(ApiError::is_not_found)
    }

    /// Whether the API refused a create because a resource of that name exists (see
    /// [`ApiError::is_conflict`]).
    pub fn is_conflict(&self) -> bool {
        self.api().is_some_and(ApiError::is_conflict)
    }

    /// A short piece of advice for this error: what the user can do.
    pub fn advice(&self) -> Option<&'static str> {
        match self {
            Error::Api { error, .. } => Some(error.advice()),
            Error::Transport { .. } => {
                Some("check the network and the API base URL, then deploy again")
            }
            _ => None,
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

    /// Converts into the engine's error, as the cause of the step `action` on `what` (the
    /// resource, as the provider names it), with this error's advice.
    pub fn context(self, what: &str, action: &str) -> ProviderError {
        ProviderError::Step {
            what: what.to_owned(),
            action: action.to_owned(),
            advice: self.advice(),
            source: Box::new(self.into()),
        }
    }
}

impl From<Error> for ProviderError {
    fn from(err: Error) -> ProviderError {
        match err {
            Error::Api { error, .. } => ProviderError::Api(error),
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
            error: ApiError {
                method: "POST".into(),
                path: "/accounts/a/storage/kv/namespaces".into(),
                status,
                codes,
                message: message.into(),
            },
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
        let text = athanor_core::provider::report(&err);
        assert!(text.contains("HTTP 400"), "{text}");
        assert!(text.contains("10019"), "{text}");
        assert!(text.contains("KvNamespace \"kv\""), "{text}");
        assert!(text.contains("check the declared properties"), "{text}");
    }
}
