//! The requests to the store, and what their failures say.

use super::*;

impl S3 {
    pub(super) fn conn(&self, action: &'static str) -> Result<&Conn> {
        self.conn.as_ref().map_err(|message| Error::StateStore {
            action,
            location: self.describe(),
            message: self.mask(message),
        })
    }

    pub(super) fn tracked(&self) -> MutexGuard<'_, Tracked> {
        self.tracked.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn held_lock(&self) -> MutexGuard<'_, Option<Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Gets an object and its version; `None` when there is none.
    pub(super) async fn get(
        &self,
        conn: &Conn,
        key: &Path,
        action: &'static str,
    ) -> Result<Option<(Vec<u8>, UpdateVersion)>> {
        self.sent(1);
        let got = match conn.store.get(key).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.failed(action, key, e)),
        };
        let version = UpdateVersion {
            e_tag: got.meta.e_tag.clone(),
            version: got.meta.version.clone(),
        };
        match got.bytes().await {
            Ok(bytes) => Ok(Some((bytes.to_vec(), version))),
            Err(e) => Err(self.failed(action, key, e)),
        }
    }

    /// Puts an object; the caller reads the precondition failures.
    pub(super) async fn put(
        &self,
        conn: &Conn,
        key: &Path,
        bytes: Vec<u8>,
        mode: PutMode,
    ) -> std::result::Result<UpdateVersion, object_store::Error> {
        self.sent(1);
        let put = conn
            .store
            .put_opts(key, PutPayload::from(bytes), mode.into())
            .await?;
        Ok(put.into())
    }

    /// Every key under `prefix`.
    pub(super) async fn list(
        &self,
        conn: &Conn,
        prefix: &Path,
        action: &'static str,
    ) -> Result<Vec<Path>> {
        self.sent(1);
        conn.store
            .list(Some(prefix))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(|e| self.failed(action, prefix, e))
    }

    /// Deletes `keys` (a missing one is fine), a thousand per request.
    pub(super) async fn delete(&self, conn: &Conn, keys: Vec<Path>) -> Result<()> {
        let Some(first) = keys.first().cloned() else {
            return Ok(());
        };
        self.sent(keys.len().div_ceil(1000));
        let keys = futures_util::stream::iter(keys.into_iter().map(Ok)).boxed();
        conn.store
            .delete_stream(keys)
            .try_for_each(|_| std::future::ready(Ok(())))
            .await
            .map_err(|e| self.failed("delete", &first, e))
    }

    /// Counts requests, for the tests.
    pub(super) fn sent(&self, _requests: usize) {
        #[cfg(test)]
        self.requests
            .fetch_add(_requests, std::sync::atomic::Ordering::Relaxed);
    }

    pub(super) fn key_location(&self, key: &Path) -> String {
        format!("{}://{}/{key}", self.scheme, self.bucket)
    }

    pub(super) fn conflict(&self, detail: String) -> Error {
        Error::StateConflict {
            stage: self.stage.clone(),
            location: self.describe(),
            detail,
        }
    }

    pub(super) fn foreign_entry(&self, key: &Path) -> Error {
        self.conflict(format!(
            "{} was written by another run while this one held the stage; the log was left uncompacted",
            self.key_location(key)
        ))
    }

    /// A failed request as an error saying what to check.
    pub(super) fn failed(&self, action: &'static str, key: &Path, e: object_store::Error) -> Error {
        Error::StateStore {
            action,
            location: self.key_location(key),
            message: self.mask(&format!("{e}; {}", self.advice(&e))),
        }
    }

    pub(super) fn advice(&self, e: &object_store::Error) -> String {
        let (keys, endpoint) = if self.scheme == "r2" {
            (
                "R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
                "CLOUDFLARE_ACCOUNT_ID (the endpoint is https://<account id>.r2.cloudflarestorage.com)",
            )
        } else {
            (
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or another AWS credential source)",
                "AWS_ENDPOINT (unset for AWS S3; AWS_ALLOW_HTTP=true for an http:// endpoint) and AWS_REGION",
            )
        };
        let bucket = &self.bucket;
        match e {
            object_store::Error::Unauthenticated { .. } => {
                format!("the keys were refused: check {keys}")
            }
            object_store::Error::PermissionDenied { .. } => format!(
                "access was denied: check that the keys in {keys} may list, read, write and delete objects in bucket `{bucket}`"
            ),
            object_store::Error::NotImplemented { .. } => "athanor needs conditional writes (If-None-Match, If-Match) to keep runs apart: use a store that has them (AWS S3, R2, MinIO)".into(),
            _ if e.to_string().contains("NoSuchBucket") => {
                format!("bucket `{bucket}` does not exist: create it, or check {endpoint}")
            }
            _ => format!("check {endpoint}, that bucket `{bucket}` exists, and {keys}"),
        }
    }

    /// `message` with every key value masked.
    pub(super) fn mask(&self, message: &str) -> String {
        self.masks
            .iter()
            .fold(message.to_owned(), |message, secret| {
                message.replace(secret.expose_secret(), "***")
            })
    }
}
