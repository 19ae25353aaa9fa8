//! Reading the state (the snapshot and the newer log entries), writing log entries, and
//! compacting them into a new snapshot.

use super::*;

impl S3 {
    /// Reads the state, starting again if a compaction removed what the list showed.
    pub(super) async fn read(&self) -> Result<Base> {
        let conn = self.conn("read")?;
        for _ in 0..READ_ATTEMPTS {
            if let Some(base) = self.read_once(conn).await? {
                return Ok(base);
            }
        }
        Err(Error::StateStore {
            action: "read",
            location: self.describe(),
            message: "it changed under every attempt to read it (another run is compacting it): run again".into(),
        })
    }

    /// One read; `None` when an object listed was gone by the time it was fetched.
    pub(super) async fn read_once(&self, conn: &Conn) -> Result<Option<Base>> {
        let mut has_snapshot = false;
        let mut entries = BTreeSet::new();
        for key in self.list(conn, &conn.dir, "read").await? {
            match classify(&conn.dir, &key) {
                Key::Snapshot => has_snapshot = true,
                Key::Entry(seq) => {
                    entries.insert(seq);
                }
                Key::Other => {}
            }
        }
        let (mut state, seq, version) = if has_snapshot {
            let key = conn.dir.clone().join(SNAPSHOT);
            let Some((bytes, version)) = self.get(conn, &key, "read").await? else {
                return Ok(None);
            };
            let (state, seq) = parse_snapshot(&self.key_location(&key), &bytes)?;
            (state, seq, Some(version))
        } else {
            (Snapshot::default(), 0, None)
        };
        let newer: Vec<u64> = entries
            .range((Bound::Excluded(seq), Bound::Unbounded))
            .copied()
            .collect();
        let fetched: Vec<_> = futures_util::stream::iter(newer)
            .map(|seq| {
                let key = entry_key(conn, seq);
                async move {
                    let got = self.get(conn, &key, "read").await?;
                    Ok::<_, Error>((key, seq, got))
                }
            })
            .buffered(CONCURRENT_READS)
            .try_collect()
            .await?;
        for (key, seq, got) in fetched {
            let Some((bytes, _)) = got else {
                return Ok(None); // compacted since the list
            };
            parse_entry(&self.key_location(&key), seq, &bytes)?.apply(&mut state);
        }
        Ok(Some(Base {
            version,
            seq,
            state,
            entries,
        }))
    }

    /// Writes one change as the next log entry, refusing to overwrite another writer's.
    pub(super) async fn append(&self, change: Change) -> Result<()> {
        let conn = self.conn("write")?;
        if self.tracked().base.is_none() {
            self.load().await?; // learn the sequence number
        }
        let (seq, bytes) = {
            let mut tracked = self.tracked();
            let seq = tracked.next.max(1);
            tracked.next = seq + 1;
            let bytes = to_json(&EntryDoc {
                schema_version: SCHEMA_VERSION,
                seq,
                writer: self.writer.clone(),
                change: change.clone(),
            });
            let written = Written {
                change,
                bytes: bytes.clone(),
                landed: false,
            };
            tracked.written.insert(seq, written);
            (seq, bytes)
        };
        let key = entry_key(conn, seq);
        match self.put(conn, &key, bytes.clone(), PutMode::Create).await {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. }) => {
                // Ours, if an earlier try of this request landed and its answer was lost.
                let found = self.get(conn, &key, "write").await.ok().flatten();
                let ours = found.is_some_and(|(found, _)| found == bytes);
                if !ours {
                    let mut tracked = self.tracked();
                    tracked.written.remove(&seq);
                    tracked.conflicted = true;
                    return Err(self.conflict(format!(
                        "{} was written by another run since this one read the state",
                        self.key_location(&key)
                    )));
                }
            }
            // Left as unknown: compaction looks whether it landed.
            Err(e) => return Err(self.failed("write", &key, e)),
        }
        if let Some(written) = self.tracked().written.get_mut(&seq) {
            written.landed = true;
        }
        Ok(())
    }

    /// Writes the state as this store knows it as the snapshot and deletes the log entries it
    /// holds; a stage left empty is removed. Returns the new base.
    pub(super) async fn compact(
        &self,
        base: Base,
        written: &BTreeMap<u64, Written>,
    ) -> Result<Base> {
        let conn = self.conn("compact")?;
        let log_dir = conn.dir.clone().join(LOG);
        let present: BTreeSet<u64> = self
            .list(conn, &log_dir, "compact")
            .await?
            .iter()
            .filter_map(|key| match classify(&conn.dir, key) {
                Key::Entry(seq) => Some(seq),
                _ => None,
            })
            .collect();
        let mut ours = BTreeMap::new();
        for (&seq, entry) in written {
            if entry.landed {
                ours.insert(seq, &entry.change);
            } else if present.contains(&seq) {
                // A write that failed may have landed: it did if the entry is this one.
                let key = entry_key(conn, seq);
                match self.get(conn, &key, "compact").await? {
                    Some((bytes, _)) if bytes == entry.bytes => {
                        ours.insert(seq, &entry.change);
                    }
                    Some(_) => return Err(self.foreign_entry(&key)),
                    None => {}
                }
            }
        }
        for &seq in &present {
            let known = base.entries.contains(&seq) || written.contains_key(&seq);
            if !known && seq > base.seq {
                return Err(self.foreign_entry(&entry_key(conn, seq)));
            }
            if !known {
                // At or below the snapshot: every read ignores it.
                tracing::warn!(
                    entry = %self.key_location(&entry_key(conn, seq)),
                    "removing a state log entry older than the snapshot"
                );
            }
        }
        let seq = ours.keys().last().map_or(0, |&s| s).max(base.top());
        let mut state = base.state;
        for (seq, change) in &ours {
            if !base.entries.contains(seq) {
                change.apply(&mut state);
            }
        }
        let snapshot = conn.dir.clone().join(SNAPSHOT);
        let doc = to_json(&SnapshotDoc {
            schema_version: SCHEMA_VERSION,
            seq,
            meta: state.meta.clone(),
            records: state.records.values().cloned().collect(),
        });
        let mode = match base.version {
            Some(version) => PutMode::Update(version),
            None => PutMode::Create,
        };
        let version = match self.put(conn, &snapshot, doc, mode).await {
            Ok(version) => version,
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => return Err(self.snapshot_conflict(conn, &snapshot, &ours).await),
            Err(e) => return Err(self.failed("compact", &snapshot, e)),
        };
        let entries: Vec<Path> = present.iter().map(|&s| entry_key(conn, s)).collect();
        let cleared = self.delete(conn, entries).await;
        if let Err(e) = &cleared {
            // Harmless: they are at or below the snapshot, and the next compaction removes them.
            tracing::warn!(error = %e.report(), "compacted state log entries were not all removed");
        }
        let empty = state.meta.is_none() && state.records.is_empty();
        if empty && cleared.is_ok() {
            // No entry is left to be read as a change to an absent snapshot: remove it.
            match self.delete(conn, vec![snapshot]).await {
                Ok(()) => {
                    return Ok(Base {
                        version: None,
                        seq: 0,
                        state,
                        entries: BTreeSet::new(),
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e.report(), "the empty state snapshot was not removed");
                }
            }
        }
        Ok(Base {
            version: Some(version),
            seq,
            state,
            entries: BTreeSet::new(),
        })
    }

    /// The conflict of a snapshot rewritten by another run, naming this run's changes that its
    /// compaction numbered over (loads ignore them); the others stay in the log, newer than it.
    pub(super) async fn snapshot_conflict(
        &self,
        conn: &Conn,
        snapshot: &Path,
        ours: &BTreeMap<u64, &Change>,
    ) -> Error {
        let mut detail = format!(
            "{} was rewritten by another run since this one read it",
            self.key_location(snapshot)
        );
        let theirs = match self.get(conn, snapshot, "compact").await {
            Ok(Some((bytes, _))) => parse_snapshot(&self.key_location(snapshot), &bytes)
                .map_or(u64::MAX, |(_, seq)| seq),
            Ok(None) => 0,
            Err(_) => u64::MAX,
        };
        let lost: Vec<String> = ours
            .range(..=theirs)
            .map(|(_, change)| change.to_string())
            .collect();
        if !lost.is_empty() {
            let all = if theirs == u64::MAX {
                " may be"
            } else {
                " are"
            };
            detail.push_str(&format!(
                "; these changes of this run{all} missing from the state: {}",
                lost.join(", ")
            ));
        }
        self.conflict(detail)
    }
}
