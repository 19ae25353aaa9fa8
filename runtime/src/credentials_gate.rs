//! Stopping a run whose credentials Cloudflare refuses, with one message naming what to fix.
//!
//! A wrong token or account id fails every request the same way. At the first refusal (HTTP 401
//! or 403) of a deploy, a destroy or a plan's refresh reads, the gate asks the provider, once, what is wrong with the
//! credentials ([`Provider::check_credentials`]); once the answer names a problem, the run's
//! resources that have not started fail at once, unsent, and the run ends with one
//! [`Error::CredentialsRefused`] that carries the answer. A run with good credentials sends
//! nothing for the check: it is asked only after a refusal, never ahead of the run, which would
//! add a round trip to every deploy.

use athanor_core::Provider;
use tokio::sync::OnceCell;

use crate::error::Error;
use crate::schedule::Outcome;

/// One run's gate.
pub(crate) struct CredentialsGate<'p> {
    provider: &'p dyn Provider,
    /// The provider's answer, once asked: `Some` names what is wrong.
    verdict: OnceCell<Option<String>>,
}

/// Whether `err` is Cloudflare refusing the credentials of a request (HTTP 401 or 403).
fn is_refusal(err: &Error) -> bool {
    match err {
        Error::Provider { source, .. } => source
            .api()
            .is_some_and(|api| matches!(api.status, 401 | 403)),
        _ => false,
    }
}

impl<'p> CredentialsGate<'p> {
    /// A gate that has asked nothing yet.
    pub(crate) fn new(provider: &'p dyn Provider) -> Self {
        CredentialsGate {
            provider,
            verdict: OnceCell::new(),
        }
    }

    /// Runs one resource's work through the gate: it does not start once the credentials are
    /// known to be wrong, and its failure is seen.
    pub(crate) async fn run<T>(
        &self,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        self.admit()?;
        let result = work.await;
        if let Err(e) = &result {
            self.saw(e).await;
        }
        result
    }

    /// Sees a resource's failure: at the run's first refusal, asks the provider what is wrong
    /// with the credentials (later failures wait for that one answer).
    async fn saw(&self, err: &Error) {
        if is_refusal(err) {
            self.verdict
                .get_or_init(|| self.provider.check_credentials())
                .await;
        }
    }

    /// Fails a resource that is about to start when the credentials are known to be wrong, so
    /// that nothing more is sent.
    fn admit(&self) -> Result<(), Error> {
        match self.problem() {
            Some(_) => Err(Error::NotSent),
            None => Ok(()),
        }
    }

    /// `err`, the failure that ended a run of `what`, or, once the check found the credentials
    /// wrong, the one error that says so.
    pub(crate) fn explain(&self, what: &'static str, err: Error) -> Error {
        match self.problem() {
            Some(problem) if is_refusal(&err) => Error::CredentialsRefused {
                what,
                count: 1,
                example: err.report(),
                problem: Some(problem.to_owned()),
            },
            _ => err,
        }
    }

    /// What the check found wrong, if it was asked and found something.
    fn problem(&self) -> Option<&str> {
        self.verdict.get().and_then(|v| v.as_deref())
    }

    /// The run's one error when its failures come from its credentials: the check found them
    /// wrong, or every failure is a refusal. `None` when no resource failed, or some failed for
    /// another reason while the credentials were not found wrong.
    pub(crate) fn fold<T>(
        &self,
        what: &'static str,
        outcomes: &[Outcome<T, Error>],
    ) -> Option<Error> {
        let failed: Vec<&Error> = outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Failed(e) => Some(e),
                _ => None,
            })
            .collect();
        let refusals: Vec<&&Error> = failed.iter().filter(|e| is_refusal(e)).collect();
        let first = refusals.first()?;
        let all_refused = failed
            .iter()
            .all(|e| is_refusal(e) || matches!(e, Error::NotSent));
        if self.problem().is_none() && !all_refused {
            return None;
        }
        Some(Error::CredentialsRefused {
            what,
            count: refusals.len(),
            example: first.report(),
            problem: self.problem().map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_provider::MemoryProvider;
    use athanor_core::{ApiError, Kind, ProviderError};

    fn refused(id: &str) -> Error {
        Error::Provider {
            id: id.into(),
            kind: Kind::KvNamespace,
            source: Box::new(ProviderError::Api(ApiError {
                method: "POST".into(),
                path: "/accounts/a/storage/kv/namespaces".into(),
                status: 403,
                codes: vec![10000],
                message: "Authentication error".into(),
            })),
        }
    }

    fn local() -> Error {
        Error::Provider {
            id: "w".into(),
            kind: Kind::Worker,
            source: Box::new(ProviderError::Local {
                message: "missing module".into(),
            }),
        }
    }

    #[tokio::test]
    async fn refusals_alone_are_one_error_and_a_mix_is_not() {
        let provider = MemoryProvider::default();
        let gate = CredentialsGate::new(&provider);
        let all: Vec<Outcome<(), Error>> = vec![
            Outcome::Failed(refused("a")),
            Outcome::Skipped {
                blocked_by: Some(0),
            },
            Outcome::Done(()),
            Outcome::Failed(refused("b")),
        ];
        gate.saw(&refused("a")).await;
        let err = gate.fold("deploy", &all).unwrap();
        assert!(
            matches!(
                err,
                Error::CredentialsRefused {
                    count: 2,
                    problem: None,
                    ..
                }
            ),
            "{err}"
        );
        // The test provider cannot tell what is wrong: nothing is stopped.
        assert!(gate.admit().is_ok());
        let mixed: Vec<Outcome<(), Error>> =
            vec![Outcome::Failed(refused("a")), Outcome::Failed(local())];
        assert!(gate.fold("deploy", &mixed).is_none());
        let none: Vec<Outcome<(), Error>> = vec![Outcome::Done(())];
        assert!(gate.fold("deploy", &none).is_none());
    }

    #[tokio::test]
    async fn a_problem_found_stops_the_run_and_names_the_fix() {
        let provider = MemoryProvider::default();
        *provider.credentials_problem.lock().unwrap() =
            Some("the token in CLOUDFLARE_API_TOKEN is expired".into());
        let gate = CredentialsGate::new(&provider);
        // A failure that is not a refusal asks nothing.
        gate.saw(&local()).await;
        assert!(gate.admit().is_ok());
        gate.saw(&refused("a")).await;
        gate.saw(&refused("b")).await;
        assert!(matches!(gate.admit(), Err(Error::NotSent)));
        // Asked once, at the first refusal.
        assert_eq!(provider.calls(), ["check_credentials"]);
        let outcomes: Vec<Outcome<(), Error>> = vec![
            Outcome::Failed(refused("a")),
            Outcome::Failed(local()),
            Outcome::Failed(Error::NotSent),
        ];
        let err = gate.fold("destroy", &outcomes).unwrap();
        let message = err.to_string();
        assert!(message.contains("is expired"), "{message}");
        assert!(message.starts_with("destroy: "), "{message}");
        assert!(
            matches!(err, Error::CredentialsRefused { count: 1, .. }),
            "{err}"
        );
    }
}
