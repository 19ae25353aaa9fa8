//! Listing the stages of an app that hold state, from one list of the app's keys.
//!
//! A stage holds state while it has a snapshot or a log entry. A destroy that removed every
//! record ends with `remove_if_empty`, whose compaction deletes the log entries and then the
//! snapshot, but keeps the stage's `lock` object (released, naming the last holder): every
//! stage ever locked keeps a key. So a delimited list of `<prefix>/<app>/` (one common prefix
//! per stage) would name destroyed stages too; instead one list of every key under the app's
//! prefix (paged by `object_store`, a request per thousand keys: at rest a stage has two, its
//! snapshot and its lock) tells the stages with state apart, and no object is fetched.
//!
//! A list cannot tell whether a snapshot holds records: a stage whose state is only its
//! stage-wide part (a stack with no resource deployed, a destroy that stopped before
//! `remove_if_empty`) is listed, as is one whose uncompacted log removes everything (until a
//! later run of it compacts it). Telling those apart would take a get per stage.

use super::*;

impl S3 {
    /// The stages under this store's prefix (the app's, see [`S3::of_app`]) that hold state,
    /// sorted.
    pub(super) async fn stages(&self) -> Result<Vec<String>> {
        const ACTION: &str = "list the stages in";
        let conn = self.conn(ACTION)?;
        let stages: BTreeSet<String> = self
            .list(conn, &conn.dir, ACTION)
            .await?
            .iter()
            .filter_map(|key| stage_with_state(&conn.dir, key))
            .collect();
        Ok(stages.into_iter().collect())
    }
}

/// The stage whose state `key` is part of (its snapshot or a log entry), under the app's prefix
/// `app_dir`; `None` for another key (a lock, or a name the store does not make).
fn stage_with_state(app_dir: &Path, key: &Path) -> Option<String> {
    let stage = key.prefix_match(app_dir)?.next()?;
    match classify(&app_dir.clone().join(stage.clone()), key) {
        Key::Snapshot | Key::Entry(_) => name_of_file(stage.as_ref()),
        Key::Other => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_snapshot_or_a_log_entry_is_state() {
        let dir = Path::parse("p/app").unwrap();
        let stage = |key: &str| stage_with_state(&dir, &Path::parse(key).unwrap());
        assert_eq!(stage("p/app/dev/snapshot.json").as_deref(), Some("dev"));
        assert_eq!(
            stage("p/app/a%2Fb/log/00000000000000000001.json").as_deref(),
            Some("a/b")
        );
        for other in [
            "p/app/dev/lock",
            "p/app/dev/log/1.json",
            "p/app/dev/x/snapshot.json",
            "p/app/snapshot.json",
            "p/app/a.b/snapshot.json",
            "p/app2/dev/snapshot.json",
            "q/app/dev/snapshot.json",
        ] {
            assert_eq!(stage(other), None, "{other}");
        }
    }
}
