//! Queues in SQLite: each queue is a document (kind [`QUEUE`], id the queue id) holding its name,
//! settings and consumers; its messages are rows of `queue_messages`, kept with the bytes and the
//! content type they were sent with.
//!
//! A message row carries when it was sent, when it becomes visible (its delay, or a retry's), how
//! many times it was handed to a consumer (`attempts`), and, while a batch holding it is out with
//! the consumer, until when it is leased. Rows are delivered in the order they were written
//! (`seq`). The delivery (`workerd::delivery`) leases, then acknowledges, retries or moves the
//! rows; a lease left by an emulator that stopped mid-delivery is released when delivery starts
//! again.

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::docs;
use super::lookup::QUEUE;
use crate::envelope::ApiError;
use crate::queue_rules::{ConsumerSettings, ContentType, QueueSettings};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queue_messages (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id     TEXT NOT NULL,
    id           TEXT NOT NULL,
    content_type TEXT NOT NULL,
    body         BLOB NOT NULL,
    sent_ms      INTEGER NOT NULL,
    visible_ms   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    leased_until INTEGER
);
CREATE INDEX IF NOT EXISTS queue_messages_by_queue ON queue_messages (queue_id, visible_ms);
";

/// A queue document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Queue {
    pub queue_id: String,
    pub queue_name: String,
    pub created_on: String,
    pub modified_on: String,
    #[serde(default)]
    pub settings: QueueSettings,
    /// At most one Worker consumer, as on Cloudflare.
    #[serde(default)]
    pub consumers: Vec<Consumer>,
    /// When the queue was last purged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purged_at: Option<String>,
}

impl Queue {
    /// The Worker consumer, if the queue has one.
    pub fn worker_consumer(&self) -> Option<&Consumer> {
        self.consumers.iter().find(|c| c.kind == "worker")
    }
}

/// A consumer of a queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Consumer {
    pub consumer_id: String,
    /// `worker`.
    #[serde(rename = "type")]
    pub kind: String,
    pub script_name: String,
    /// The name of the dead-letter queue; empty when there is none.
    #[serde(default)]
    pub dead_letter_queue: String,
    pub settings: ConsumerSettings,
    pub created_on: String,
}

/// Reads a queue by id.
pub(crate) fn load(c: &Connection, id: &str) -> Result<Option<Queue>, ApiError> {
    docs::get(c, QUEUE, id)?.map(parse).transpose()
}

/// Reads a queue by name.
pub(crate) fn by_name(c: &Connection, name: &str) -> Result<Option<Queue>, ApiError> {
    match docs::find(c, QUEUE, "queue_name", name)? {
        Some(id) => load(c, &id),
        None => Ok(None),
    }
}

/// Every queue, oldest first.
pub(crate) fn list(c: &Connection) -> Result<Vec<Queue>, ApiError> {
    docs::list(c, QUEUE, "")?.into_iter().map(parse).collect()
}

/// Writes a queue document.
pub(crate) fn save(c: &Connection, q: &Queue) -> Result<(), ApiError> {
    let doc = serde_json::to_value(q).expect("a queue document serializes");
    docs::put(c, QUEUE, &q.queue_id, &doc)
}

/// Deletes a queue and its messages.
pub(crate) fn delete(c: &Connection, id: &str) -> Result<(), ApiError> {
    docs::delete(c, QUEUE, id)?;
    purge(c, id)?;
    Ok(())
}

fn parse(doc: serde_json::Value) -> Result<Queue, ApiError> {
    serde_json::from_value(doc).map_err(|e| {
        ApiError::internal(format!("a queue in the emulator database is corrupt: {e}"))
    })
}

/// A message to store.
#[derive(Debug, Clone)]
pub(crate) struct NewMessage {
    pub id: String,
    pub content_type: ContentType,
    pub body: Vec<u8>,
    pub sent_ms: i64,
    pub visible_ms: i64,
}

impl NewMessage {
    /// A message sent at `now_ms` with a fresh id, deliverable `delay_secs` later.
    pub(crate) fn sent(
        content_type: ContentType,
        body: Vec<u8>,
        now_ms: i64,
        delay_secs: i64,
    ) -> Self {
        NewMessage {
            id: crate::ids::hex32(),
            content_type,
            body,
            sent_ms: now_ms,
            visible_ms: now_ms + delay_secs * 1000,
        }
    }
}

/// A message leased for delivery.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Leased {
    pub id: String,
    pub content_type: String,
    pub body: Vec<u8>,
    pub sent_ms: i64,
    /// Deliveries so far, this one included.
    pub attempts: i64,
}

/// What a queue holds, for metrics: unacknowledged messages, their bytes, the oldest send time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Backlog {
    pub count: u64,
    pub bytes: u64,
    pub oldest_ms: Option<i64>,
}

/// What the delivery needs to know to decide about a queue at time `now`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Readiness {
    /// Messages visible and not leased.
    pub ready: u64,
    /// When the oldest of them became visible.
    pub oldest_ready_ms: Option<i64>,
    /// When the next delayed message becomes visible.
    pub next_visible_ms: Option<i64>,
    /// Messages out with the consumer.
    pub leased: u64,
}

/// Stores messages.
pub(crate) fn enqueue(
    c: &Connection,
    queue_id: &str,
    messages: &[NewMessage],
) -> Result<(), ApiError> {
    let mut stmt = c.prepare_cached(
        "INSERT INTO queue_messages (queue_id, id, content_type, body, sent_ms, visible_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for m in messages {
        stmt.execute(params![
            queue_id,
            m.id,
            m.content_type.as_str(),
            m.body,
            m.sent_ms,
            m.visible_ms
        ])?;
    }
    Ok(())
}

/// The queue's backlog.
pub(crate) fn backlog(c: &Connection, queue_id: &str) -> Result<Backlog, ApiError> {
    Ok(c.query_row(
        "SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0), MIN(sent_ms) FROM queue_messages
         WHERE queue_id = ?1",
        params![queue_id],
        |r| {
            Ok(Backlog {
                count: r.get::<_, i64>(0)? as u64,
                bytes: r.get::<_, i64>(1)? as u64,
                oldest_ms: r.get(2)?,
            })
        },
    )?)
}

/// How ready the queue's messages are at `now`.
pub(crate) fn readiness(c: &Connection, queue_id: &str, now: i64) -> Result<Readiness, ApiError> {
    Ok(c.query_row(
        "SELECT
            COALESCE(SUM(leased_until IS NULL AND visible_ms <= ?2), 0),
            MIN(CASE WHEN leased_until IS NULL AND visible_ms <= ?2 THEN visible_ms END),
            MIN(CASE WHEN leased_until IS NULL AND visible_ms > ?2 THEN visible_ms END),
            COALESCE(SUM(leased_until IS NOT NULL), 0)
         FROM queue_messages WHERE queue_id = ?1",
        params![queue_id, now],
        |r| {
            Ok(Readiness {
                ready: r.get::<_, i64>(0)? as u64,
                oldest_ready_ms: r.get(1)?,
                next_visible_ms: r.get(2)?,
                leased: r.get::<_, i64>(3)? as u64,
            })
        },
    )?)
}

/// Leases up to `limit` visible messages, oldest first, until `until`, counting one more attempt
/// for each.
pub(crate) fn lease(
    c: &Connection,
    queue_id: &str,
    limit: usize,
    now: i64,
    until: i64,
) -> Result<Vec<Leased>, ApiError> {
    let mut stmt = c.prepare_cached(
        "UPDATE queue_messages SET leased_until = ?4, attempts = attempts + 1
         WHERE seq IN (SELECT seq FROM queue_messages
                       WHERE queue_id = ?1 AND leased_until IS NULL AND visible_ms <= ?2
                       ORDER BY seq LIMIT ?3)
         RETURNING seq, id, content_type, body, sent_ms, attempts",
    )?;
    let rows = stmt.query_map(params![queue_id, now, limit as i64, until], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            Leased {
                id: r.get(1)?,
                content_type: r.get(2)?,
                body: r.get(3)?,
                sent_ms: r.get(4)?,
                attempts: r.get(5)?,
            },
        ))
    })?;
    let mut out = rows.collect::<Result<Vec<_>, _>>()?;
    out.sort_by_key(|(seq, _)| *seq);
    Ok(out.into_iter().map(|(_, m)| m).collect())
}

/// Deletes an acknowledged (or dropped) message.
pub(crate) fn remove(c: &Connection, queue_id: &str, id: &str) -> Result<(), ApiError> {
    c.execute(
        "DELETE FROM queue_messages WHERE queue_id = ?1 AND id = ?2",
        params![queue_id, id],
    )?;
    Ok(())
}

/// Makes a leased message visible again at `visible_ms`.
pub(crate) fn retry(
    c: &Connection,
    queue_id: &str,
    id: &str,
    visible_ms: i64,
) -> Result<(), ApiError> {
    c.execute(
        "UPDATE queue_messages SET leased_until = NULL, visible_ms = ?3
         WHERE queue_id = ?1 AND id = ?2",
        params![queue_id, id, visible_ms],
    )?;
    Ok(())
}

/// Hands a leased message back as if it had not been delivered (the consumer was not reached).
pub(crate) fn release(c: &Connection, queue_id: &str, id: &str) -> Result<(), ApiError> {
    c.execute(
        "UPDATE queue_messages SET leased_until = NULL, attempts = MAX(attempts - 1, 0)
         WHERE queue_id = ?1 AND id = ?2",
        params![queue_id, id],
    )?;
    Ok(())
}

/// Moves a message to another queue (a dead-letter queue): same id, body, content type and send
/// time, no attempts, visible at `now`.
pub(crate) fn move_to(
    c: &Connection,
    queue_id: &str,
    id: &str,
    target: &str,
    now: i64,
) -> Result<(), ApiError> {
    c.execute(
        "UPDATE queue_messages SET queue_id = ?3, attempts = 0, leased_until = NULL, visible_ms = ?4
         WHERE queue_id = ?1 AND id = ?2",
        params![queue_id, id, target, now],
    )?;
    Ok(())
}

/// Releases every lease (a previous run of the emulator stopped while delivering).
pub(crate) fn release_all_leases(c: &Connection) -> Result<(), ApiError> {
    c.execute(
        "UPDATE queue_messages SET leased_until = NULL, attempts = MAX(attempts - 1, 0)
         WHERE leased_until IS NOT NULL",
        [],
    )?;
    Ok(())
}

/// Deletes the messages of `queue_id` sent before `before_ms` and not out with a consumer (the
/// retention period has passed); how many.
pub(crate) fn expire(c: &Connection, queue_id: &str, before_ms: i64) -> Result<usize, ApiError> {
    Ok(c.execute(
        "DELETE FROM queue_messages WHERE queue_id = ?1 AND sent_ms < ?2 AND leased_until IS NULL",
        params![queue_id, before_ms],
    )?)
}

/// Deletes every message of a queue.
pub(crate) fn purge(c: &Connection, queue_id: &str) -> Result<(), ApiError> {
    c.execute(
        "DELETE FROM queue_messages WHERE queue_id = ?1",
        params![queue_id],
    )?;
    Ok(())
}

/// Whether a message with this id is in the queue.
#[cfg(test)]
pub(crate) fn contains(c: &Connection, queue_id: &str, id: &str) -> Result<bool, ApiError> {
    let n: i64 = c.query_row(
        "SELECT COUNT(*) FROM queue_messages WHERE queue_id = ?1 AND id = ?2",
        params![queue_id, id],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(SCHEMA).unwrap();
        c
    }

    fn message(id: &str, visible_ms: i64) -> NewMessage {
        NewMessage {
            id: id.into(),
            content_type: ContentType::Text,
            body: id.as_bytes().to_vec(),
            sent_ms: 100,
            visible_ms,
        }
    }

    #[test]
    fn leases_in_order_and_counts_attempts() {
        let c = db();
        enqueue(
            &c,
            "q",
            &[message("a", 0), message("b", 0), message("c", 5_000)],
        )
        .unwrap();
        let r = readiness(&c, "q", 1_000).unwrap();
        assert_eq!(
            (r.ready, r.oldest_ready_ms, r.next_visible_ms),
            (2, Some(0), Some(5_000))
        );
        let batch = lease(&c, "q", 10, 1_000, 9_000).unwrap();
        assert_eq!(
            batch.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(batch.iter().all(|m| m.attempts == 1));
        assert_eq!(readiness(&c, "q", 1_000).unwrap().leased, 2);
        assert!(lease(&c, "q", 10, 1_000, 9_000).unwrap().is_empty());
        remove(&c, "q", "a").unwrap();
        retry(&c, "q", "b", 2_000).unwrap();
        let again = lease(&c, "q", 10, 6_000, 9_000).unwrap();
        assert_eq!(
            again
                .iter()
                .map(|m| (m.id.as_str(), m.attempts))
                .collect::<Vec<_>>(),
            [("b", 2), ("c", 1)]
        );
        release(&c, "q", "c").unwrap();
        move_to(&c, "q", "b", "dlq", 7_000).unwrap();
        assert!(contains(&c, "dlq", "b").unwrap());
        assert!(!contains(&c, "q", "b").unwrap());
        let b = backlog(&c, "q").unwrap();
        assert_eq!((b.count, b.bytes, b.oldest_ms), (1, 1, Some(100)));
        assert_eq!(lease(&c, "q", 10, 7_000, 9_000).unwrap()[0].attempts, 1);
        release_all_leases(&c).unwrap();
        assert_eq!(expire(&c, "q", 101).unwrap(), 1);
    }
}
