//! Workers Analytics Engine data points: one table holding every dataset of the account, written
//! by the binding (`bindings::analytics_engine`) and read by the SQL API
//! (`handlers::analytics_engine`, through a plan of `analytics_engine_sql`).
//!
//! A row is a data point as Cloudflare's table has it: the dataset, the time it was written, an
//! index, twenty blobs and twenty doubles, and `_sample_interval`, always 1 since the emulator
//! never samples. A blob or an index that was not written is the empty string and a double that
//! was not written is 0, as on Cloudflare; a NaN double is stored as NULL (SQLite has no NaN) and
//! read back as `null`, which is how ClickHouse's JSON writes NaN. Blobs and indexes are bytes on
//! Cloudflare; the emulator keeps them as text, with bytes that are not UTF-8 replaced by U+FFFD.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use crate::envelope::ApiError;

/// The table of data points.
pub(crate) const TABLE: &str = "analytics_engine_points";
/// Blobs and doubles per data point (`blob1`…`blob20`, `double1`…`double20`): "up to twenty
/// blobs, twenty doubles, and one index" (`analytics/analytics-engine/limits`).
pub(crate) const MAX_FIELDS: usize = 20;
/// The largest index, in bytes (96, the same limits page).
pub(crate) const MAX_INDEX_BYTES: usize = 96;
/// The largest total size of a data point's blobs, in bytes: workerd's 800 × 20 (Cloudflare's
/// documented "16 KB", the limits page and the changelog of 2025-06-20).
pub(crate) const MAX_BLOB_BYTES: usize = 16_000;

/// The table's definition.
pub(crate) fn schema() -> String {
    let blobs: String = (1..=MAX_FIELDS)
        .map(|i| format!("    blob{i} TEXT NOT NULL DEFAULT '',\n"))
        .collect();
    let doubles: Vec<String> = (1..=MAX_FIELDS)
        .map(|i| format!("    double{i} REAL DEFAULT 0"))
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (
    account_id      TEXT NOT NULL,
    dataset         TEXT NOT NULL,
    ts_ms           INTEGER NOT NULL,
    sample_interval INTEGER NOT NULL DEFAULT 1,
    index1          TEXT NOT NULL DEFAULT '',
{blobs}{}
);
CREATE INDEX IF NOT EXISTS {TABLE}_by_dataset ON {TABLE} (account_id, dataset, ts_ms);
",
        doubles.join(",\n")
    )
}

/// One data point as a Worker wrote it; `None` for a double is NaN.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct DataPoint {
    pub index1: Vec<u8>,
    /// `blob1`… in order; a missing blob is empty.
    pub blobs: Vec<Vec<u8>>,
    /// `double1`… in order.
    pub doubles: Vec<Option<f64>>,
}

impl DataPoint {
    /// Why Cloudflare would not record this point, if it would not (workerd's checks, which drop
    /// the point).
    pub fn problem(&self) -> Option<String> {
        if self.blobs.len() > MAX_FIELDS {
            return Some(format!("Maximum of {MAX_FIELDS} blobs supported."));
        }
        if self.doubles.len() > MAX_FIELDS {
            return Some(format!("Maximum of {MAX_FIELDS} doubles supported."));
        }
        if self.index1.len() > MAX_INDEX_BYTES {
            return Some(format!(
                "Size of indexes[0] exceeds {MAX_INDEX_BYTES} bytes."
            ));
        }
        let blob_bytes: usize = self.blobs.iter().map(Vec::len).sum();
        if blob_bytes > MAX_BLOB_BYTES {
            return Some(format!(
                "Cumulative size of blobs exceeds {MAX_BLOB_BYTES} bytes."
            ));
        }
        None
    }
}

/// Records `point` in `dataset` at `ts_ms` (milliseconds since the epoch).
pub(crate) fn insert(
    c: &Connection,
    account: &str,
    dataset: &str,
    ts_ms: i64,
    point: &DataPoint,
) -> Result<(), ApiError> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut values: Vec<SqlValue> = vec![
        account.to_owned().into(),
        dataset.to_owned().into(),
        ts_ms.into(),
        text(&point.index1).into(),
    ];
    for i in 0..MAX_FIELDS {
        values.push(text(point.blobs.get(i).map_or(&[][..], Vec::as_slice)).into());
    }
    for i in 0..MAX_FIELDS {
        values.push(match point.doubles.get(i) {
            Some(Some(d)) => SqlValue::Real(*d),
            Some(None) => SqlValue::Null,
            None => SqlValue::Real(0.0),
        });
    }
    let blobs: Vec<String> = (1..=MAX_FIELDS).map(|i| format!("blob{i}")).collect();
    let doubles: Vec<String> = (1..=MAX_FIELDS).map(|i| format!("double{i}")).collect();
    let placeholders: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO {TABLE} (account_id, dataset, ts_ms, index1, {}, {}) VALUES ({})",
        blobs.join(", "),
        doubles.join(", "),
        placeholders.join(", ")
    );
    c.prepare_cached(&sql)?.execute(params_from_iter(values))?;
    Ok(())
}

/// The account's datasets (those written to at least once), by name.
pub(crate) fn datasets(c: &Connection, account: &str) -> Result<Vec<String>, ApiError> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT DISTINCT dataset FROM {TABLE} WHERE account_id = ?1 ORDER BY dataset"
    ))?;
    let rows = stmt.query_map([account], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether any point was written to `dataset`: Cloudflare creates a dataset's table on the
/// first write.
pub(crate) fn dataset_exists(
    c: &Connection,
    account: &str,
    dataset: &str,
) -> Result<bool, ApiError> {
    Ok(c.query_row(
        &format!("SELECT 1 FROM {TABLE} WHERE account_id = ?1 AND dataset = ?2 LIMIT 1"),
        [account, dataset],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

/// What a query returned: the rows of the requested page, and how many there were before LIMIT
/// and OFFSET.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rows {
    pub rows: Vec<Vec<SqlValue>>,
    pub before_limit: u64,
}

/// Runs a SELECT built by `analytics_engine_sql` (its text and parameters), then the page
/// `offset`, `limit` of its rows.
pub(crate) fn select(
    c: &Connection,
    sql: &str,
    params: &[SqlValue],
    limit: Option<u64>,
    offset: u64,
) -> Result<Rows, ApiError> {
    let before_limit: i64 = c.query_row(
        &format!("SELECT COUNT(*) FROM ({sql})"),
        params_from_iter(params.iter()),
        |r| r.get(0),
    )?;
    let mut page_params = params.to_vec();
    let limit_at = page_params.len() + 1;
    page_params.push(
        limit
            .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX))
            .into(),
    );
    page_params.push(i64::try_from(offset).unwrap_or(i64::MAX).into());
    let mut stmt = c.prepare(&format!(
        "SELECT * FROM ({sql}) LIMIT ?{limit_at} OFFSET ?{}",
        limit_at + 1
    ))?;
    let width = stmt.column_count();
    let rows = stmt.query_map(params_from_iter(page_params), |r| {
        (0..width).map(|i| r.get::<_, SqlValue>(i)).collect()
    })?;
    Ok(Rows {
        rows: rows.collect::<Result<_, _>>()?,
        before_limit: u64::try_from(before_limit).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(&schema()).unwrap();
        c
    }

    #[test]
    fn a_point_is_stored_with_defaults_for_what_was_not_written() {
        let c = db();
        let point = DataPoint {
            index1: b"idx".to_vec(),
            blobs: vec![b"a".to_vec(), vec![], vec![0xff, b'b']],
            doubles: vec![Some(1.5), None],
        };
        insert(&c, "acct", "ds", 1_000, &point).unwrap();
        let row: (String, String, String, Option<f64>, Option<f64>, f64, i64) = c
            .query_row(
                &format!("SELECT index1, blob3, blob4, double1, double2, double3, sample_interval FROM {TABLE}"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
            )
            .unwrap();
        assert_eq!(
            row,
            (
                "idx".into(),
                "\u{fffd}b".into(),
                String::new(),
                Some(1.5),
                None,
                0.0,
                1
            )
        );
        assert_eq!(datasets(&c, "acct").unwrap(), ["ds"]);
        assert!(datasets(&c, "other").unwrap().is_empty());
        assert!(dataset_exists(&c, "acct", "ds").unwrap());
        assert!(!dataset_exists(&c, "acct", "nope").unwrap());
    }

    #[test]
    fn limits_are_workerds() {
        let ok = DataPoint {
            index1: vec![b'x'; MAX_INDEX_BYTES],
            blobs: vec![vec![b'x'; MAX_BLOB_BYTES]],
            doubles: vec![Some(0.0); MAX_FIELDS],
        };
        assert_eq!(ok.problem(), None);
        let too_long_index = DataPoint {
            index1: vec![b'x'; MAX_INDEX_BYTES + 1],
            ..DataPoint::default()
        };
        assert!(too_long_index.problem().unwrap().contains("indexes[0]"));
        let too_many_blob_bytes = DataPoint {
            blobs: vec![vec![b'x'; 8_000], vec![b'y'; 8_001]],
            ..DataPoint::default()
        };
        assert!(
            too_many_blob_bytes
                .problem()
                .unwrap()
                .contains("Cumulative size")
        );
    }

    #[test]
    fn a_page_counts_the_rows_before_its_limit() {
        let c = db();
        for i in 0..5 {
            insert(&c, "a", "ds", i, &DataPoint::default()).unwrap();
        }
        let sql = format!("SELECT ts_ms FROM {TABLE} WHERE account_id = ?1 ORDER BY ts_ms");
        let page = select(&c, &sql, &["a".to_owned().into()], Some(2), 1).unwrap();
        assert_eq!(page.before_limit, 5);
        assert_eq!(page.rows, [[SqlValue::Integer(1)], [SqlValue::Integer(2)]]);
        let all = select(&c, &sql, &["a".to_owned().into()], None, 0).unwrap();
        assert_eq!(all.rows.len(), 5);
    }
}
