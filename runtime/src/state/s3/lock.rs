//! The stage lock: an object created with `If-None-Match: *`, renewed and released with
//! `If-Match` (see the parent module).

use super::*;

impl S3 {
    pub(super) fn hold(&self, holder: Holder, version: UpdateVersion) -> Acquired {
        *self.held_lock() = Some(Held { holder, version });
        Acquired::Held
    }

    pub(super) fn held_now(&self) -> Option<(Holder, UpdateVersion)> {
        self.held_lock()
            .as_ref()
            .map(|held| (held.holder.clone(), held.version.clone()))
    }

    pub(super) async fn renew_held(
        &self,
        conn: &Conn,
        holder: Holder,
        version: UpdateVersion,
        lease: Duration,
    ) -> Result<()> {
        let key = conn.dir.clone().join(LOCK);
        let renewed = Holder {
            expires_ms: Some(expiry(lease)),
            ..holder
        };
        let version = match self
            .put(conn, &key, to_json(&renewed), PutMode::Update(version))
            .await
        {
            Ok(version) => version,
            Err(object_store::Error::Precondition { .. }) => {
                let why = match self.read_lock(conn, &key).await? {
                    Some((Ok(current), version)) if same_holding(&current, &renewed) => {
                        // Still ours: an earlier renewal landed, its answer lost.
                        self.update_held(current, version);
                        return Ok(());
                    }
                    Some((Ok(current), _)) => format!(
                        "the lock was taken over by pid {} on host {}{} (its lease had run out, or it was forced)",
                        current.pid,
                        current.host,
                        current
                            .user
                            .map(|u| format!(" (user {u})"))
                            .unwrap_or_default()
                    ),
                    Some((Err(_), _)) => "the lock object was replaced by something else".into(),
                    None => "the lock object was deleted".into(),
                };
                *self.held_lock() = None;
                return Err(Error::LockLost {
                    stage: self.stage.clone(),
                    location: self.lock_location(),
                    why,
                });
            }
            Err(e) => return Err(self.failed("renew the lease on", &key, e)),
        };
        self.update_held(renewed, version);
        Ok(())
    }

    /// Records the lock as last written, unless it was released meanwhile.
    pub(super) fn update_held(&self, holder: Holder, version: UpdateVersion) {
        if let Some(held) = self.held_lock().as_mut() {
            *held = Held { holder, version };
        }
    }

    /// The lock object's holder (or why it names none) and its ETag; `None` when there is none.
    pub(super) async fn read_lock(
        &self,
        conn: &Conn,
        key: &Path,
    ) -> Result<Option<(std::result::Result<Holder, String>, UpdateVersion)>> {
        let Some((bytes, version)) = self.get(conn, key, "lock").await? else {
            return Ok(None);
        };
        let holder = serde_json::from_slice::<Holder>(&bytes).map_err(|e| e.to_string());
        Ok(Some((holder, version)))
    }

    pub(super) fn lock_churn(&self, key: &Path) -> Error {
        Error::StateStore {
            action: "lock",
            location: self.key_location(key),
            message: "the lock object changed under every attempt to take it: run again".into(),
        }
    }
}
