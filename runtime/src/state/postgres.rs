//! State in Postgres: being built (see the issue note); every call fails until then.

use std::time::Duration;

use super::lease::{Acquired, Holder};
use super::{Meta, Record, Snapshot};
use crate::error::{Error, Result};

#[derive(Debug)]
pub(crate) struct Postgres {
    location: String,
}

impl Postgres {
    fn unbuilt<T>(&self) -> Result<T> {
        Err(Error::StateStore {
            action: "use",
            location: self.location.clone(),
            message: "this store is not built yet".into(),
        })
    }

    pub(crate) fn describe(&self) -> String {
        self.location.clone()
    }

    pub(crate) fn lock_location(&self) -> String {
        self.location.clone()
    }

    pub(crate) async fn load(&self) -> Result<Snapshot> {
        self.unbuilt()
    }

    pub(crate) async fn write_record(&self, _record: &Record) -> Result<()> {
        self.unbuilt()
    }

    pub(crate) async fn remove_record(&self, _id: &str) -> Result<()> {
        self.unbuilt()
    }

    pub(crate) async fn write_meta(&self, _meta: &Meta) -> Result<()> {
        self.unbuilt()
    }

    pub(crate) async fn remove_meta(&self) -> Result<()> {
        self.unbuilt()
    }

    pub(crate) async fn settle(&self) -> Result<()> {
        self.unbuilt()
    }

    pub(crate) async fn try_lock(
        &self,
        _me: &Holder,
        _lease: Duration,
        _force: bool,
    ) -> Result<Acquired> {
        self.unbuilt()
    }

    pub(crate) async fn renew(&self, _lease: Duration) -> Result<()> {
        self.unbuilt()
    }

    pub(crate) async fn unlock(&self) -> Result<()> {
        self.unbuilt()
    }
}

impl Postgres {
    pub(crate) fn new(url: secrecy::SecretString, app: &str, stage: &str) -> Postgres {
        use secrecy::ExposeSecret;
        Postgres {
            location: format!(
                "{} ({app}/{stage})",
                super::location::redact(url.expose_secret())
            ),
        }
    }
}
