//! An R2 bucket's settings beside its objects: the CORS policy, the object lifecycle rules and
//! public access at its r2.dev domain, one row per bucket storage id (`{jurisdiction}/{name}`).
//!
//! The table came after buckets did, so a bucket may have no row: [`load`] then creates one, with
//! a fresh bucket id, no CORS policy, R2's default lifecycle and the r2.dev domain off. Rules are
//! kept as the JSON the API answers with, already checked by the handlers.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::envelope::ApiError;

/// Created at every open (`IF NOT EXISTS`), so an older database gains it without losing data.
pub(in crate::store) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS r2_bucket_settings (
    bucket          TEXT PRIMARY KEY,
    bucket_id       TEXT NOT NULL,
    managed_enabled INTEGER NOT NULL DEFAULT 0,
    cors            TEXT,
    lifecycle       TEXT
) WITHOUT ROWID;
";

/// What a bucket's settings hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    /// 32 lowercase hex characters: the `bucketId` of the domain answers, and the r2.dev host.
    pub bucket_id: String,
    /// Whether the bucket is public at its r2.dev domain.
    pub managed_enabled: bool,
    /// The CORS rules; `None` when no policy is set (which differs from an empty one).
    pub cors: Option<Vec<Value>>,
    /// The lifecycle rules; `None` until a client sets them, meaning R2's default rule.
    pub lifecycle: Option<Vec<Value>>,
}

/// The settings of `bucket`, creating its row when it has none.
pub(crate) fn load(c: &Connection, bucket: &str) -> Result<Settings, ApiError> {
    let row = c
        .query_row(
            "SELECT bucket_id, managed_enabled, cors, lifecycle FROM r2_bucket_settings
             WHERE bucket = ?1",
            params![bucket],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            },
        )
        .optional()?;
    match row {
        Some((bucket_id, managed_enabled, cors, lifecycle)) => Ok(Settings {
            bucket_id,
            managed_enabled,
            cors: cors.as_deref().map(rules).transpose()?,
            lifecycle: lifecycle.as_deref().map(rules).transpose()?,
        }),
        None => {
            let fresh = Settings {
                bucket_id: crate::ids::hex32(),
                managed_enabled: false,
                cors: None,
                lifecycle: None,
            };
            save(c, bucket, &fresh)?;
            Ok(fresh)
        }
    }
}

/// Writes the settings of `bucket`.
pub(crate) fn save(c: &Connection, bucket: &str, s: &Settings) -> Result<(), ApiError> {
    let json = |r: &Option<Vec<Value>>| r.as_ref().map(|r| Value::from(r.clone()).to_string());
    c.execute(
        "INSERT OR REPLACE INTO r2_bucket_settings
             (bucket, bucket_id, managed_enabled, cors, lifecycle)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            bucket,
            s.bucket_id,
            s.managed_enabled,
            json(&s.cors),
            json(&s.lifecycle)
        ],
    )?;
    Ok(())
}

/// Forgets the settings of `bucket` (when the bucket is deleted).
pub(crate) fn delete(c: &Connection, bucket: &str) -> Result<(), ApiError> {
    c.execute(
        "DELETE FROM r2_bucket_settings WHERE bucket = ?1",
        params![bucket],
    )?;
    Ok(())
}

fn rules(text: &str) -> Result<Vec<Value>, ApiError> {
    serde_json::from_str(text)
        .map_err(|e| ApiError::internal(format!("corrupt R2 bucket settings: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(SCHEMA).unwrap();
        c
    }

    #[test]
    fn a_bucket_without_a_row_gets_defaults_and_keeps_its_id() {
        let c = db();
        let first = load(&c, "default/b").unwrap();
        assert!(crate::ids::is_hex32(&first.bucket_id));
        assert!(!first.managed_enabled);
        assert_eq!((first.cors.clone(), first.lifecycle.clone()), (None, None));
        assert_eq!(load(&c, "default/b").unwrap(), first);
        assert_ne!(load(&c, "eu/b").unwrap().bucket_id, first.bucket_id);
    }

    #[test]
    fn saved_settings_read_back_and_deleting_resets_them() {
        let c = db();
        let mut s = load(&c, "default/b").unwrap();
        s.managed_enabled = true;
        s.cors = Some(vec![]);
        s.lifecycle = Some(vec![json!({"id": "r"})]);
        save(&c, "default/b", &s).unwrap();
        assert_eq!(load(&c, "default/b").unwrap(), s);
        delete(&c, "default/b").unwrap();
        let fresh = load(&c, "default/b").unwrap();
        assert_ne!(fresh.bucket_id, s.bucket_id);
        assert_eq!(fresh.cors, None);
    }
}
