//! R2 objects and multipart uploads, shared by the v4 API (`handlers::r2`) and the Workers' R2
//! binding (`bindings::r2`), so that what one writes the other reads.
//!
//! An object keeps what R2 reports of it: size, etag (the MD5 of a single-part upload, or the
//! multipart form `md5-of-md5s-N`), a version id, upload time in milliseconds, HTTP and custom
//! metadata, the checksums given or computed, and the storage class. Buckets are addressed by
//! their storage id, `{jurisdiction}/{name}`. A bucket's settings (CORS, lifecycle, r2.dev
//! domain) are in [`settings`].

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::envelope::ApiError;

pub(crate) mod settings;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS r2_objects (
    bucket         TEXT NOT NULL,
    key            TEXT NOT NULL,
    data           BLOB NOT NULL,
    size           INTEGER NOT NULL,
    etag           TEXT NOT NULL,
    version        TEXT NOT NULL,
    uploaded_ms    INTEGER NOT NULL,
    http_metadata  TEXT NOT NULL,
    custom_metadata TEXT NOT NULL,
    checksums      TEXT NOT NULL,
    storage_class  TEXT NOT NULL,
    UNIQUE (bucket, key)
);
CREATE TABLE IF NOT EXISTS r2_uploads (
    upload_id      TEXT PRIMARY KEY,
    bucket         TEXT NOT NULL,
    key            TEXT NOT NULL,
    http_metadata  TEXT NOT NULL,
    custom_metadata TEXT NOT NULL,
    storage_class  TEXT NOT NULL,
    state          TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS r2_parts (
    upload_id   TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    data        BLOB NOT NULL,
    etag        TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
";

/// What R2 reports of an object (everything but its bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ObjectMeta {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub version: String,
    pub uploaded_ms: i64,
    /// `contentType`, `contentLanguage`, `contentDisposition`, `contentEncoding`, `cacheControl`
    /// (strings) and `cacheExpiry` (milliseconds), as the binding names them.
    pub http_metadata: Map<String, Value>,
    /// Custom metadata, in the order it was given.
    pub custom_metadata: Vec<(String, String)>,
    /// Hex digests by algorithm name (`md5`, `sha1`, `sha256`, `sha384`, `sha512`).
    pub checksums: Map<String, Value>,
    pub storage_class: String,
}

/// An object to write.
pub(crate) struct NewObject {
    pub meta: ObjectMeta,
    pub data: Vec<u8>,
}

/// A multipart upload in progress.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub bucket: String,
    pub key: String,
    pub http_metadata: Map<String, Value>,
    pub custom_metadata: Vec<(String, String)>,
    pub storage_class: String,
    /// `open`, `completed` or `aborted`.
    pub state: String,
}

/// One uploaded part of a multipart upload (its bytes not loaded).
#[derive(Debug, Clone)]
pub(crate) struct PartMeta {
    pub part_number: u32,
    pub etag: String,
    pub size: u64,
}

const META_COLUMNS: &str = "key, size, etag, version, uploaded_ms, http_metadata, custom_metadata, checksums, storage_class";

fn meta_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(ObjectMeta, [String; 3])> {
    Ok((
        ObjectMeta {
            key: r.get(0)?,
            size: r.get::<_, i64>(1)? as u64,
            etag: r.get(2)?,
            version: r.get(3)?,
            uploaded_ms: r.get(4)?,
            http_metadata: Map::new(),
            custom_metadata: Vec::new(),
            checksums: Map::new(),
            storage_class: r.get(8)?,
        },
        [r.get(5)?, r.get(6)?, r.get(7)?],
    ))
}

fn corrupt(e: serde_json::Error) -> ApiError {
    ApiError::internal(format!("corrupt R2 object metadata: {e}"))
}

fn finish(
    (mut meta, [http, custom, sums]): (ObjectMeta, [String; 3]),
) -> Result<ObjectMeta, ApiError> {
    meta.http_metadata = serde_json::from_str(&http).map_err(corrupt)?;
    meta.custom_metadata = serde_json::from_str(&custom).map_err(corrupt)?;
    meta.checksums = serde_json::from_str(&sums).map_err(corrupt)?;
    Ok(meta)
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("metadata serializes")
}

/// The metadata of object `key`, if it exists.
pub(crate) fn head(
    c: &Connection,
    bucket: &str,
    key: &str,
) -> Result<Option<ObjectMeta>, ApiError> {
    c.query_row(
        &format!("SELECT {META_COLUMNS} FROM r2_objects WHERE bucket = ?1 AND key = ?2"),
        params![bucket, key],
        meta_row,
    )
    .optional()?
    .map(finish)
    .transpose()
}

/// `length` bytes of object `key` from `offset` (both within its size).
pub(crate) fn read_range(
    c: &Connection,
    bucket: &str,
    key: &str,
    offset: u64,
    length: u64,
) -> Result<Vec<u8>, ApiError> {
    if length == 0 {
        return Ok(Vec::new());
    }
    Ok(c.query_row(
        "SELECT substr(data, ?3, ?4) FROM r2_objects WHERE bucket = ?1 AND key = ?2",
        params![bucket, key, offset as i64 + 1, length as i64],
        |r| r.get(0),
    )?)
}

/// Writes (or replaces) an object.
pub(crate) fn put(c: &Connection, bucket: &str, object: &NewObject) -> Result<(), ApiError> {
    let m = &object.meta;
    c.execute(
        "INSERT INTO r2_objects (bucket, key, data, size, etag, version, uploaded_ms, http_metadata,
                                 custom_metadata, checksums, storage_class)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (bucket, key) DO UPDATE SET data = excluded.data, size = excluded.size,
           etag = excluded.etag, version = excluded.version, uploaded_ms = excluded.uploaded_ms,
           http_metadata = excluded.http_metadata, custom_metadata = excluded.custom_metadata,
           checksums = excluded.checksums, storage_class = excluded.storage_class",
        params![
            bucket,
            m.key,
            object.data,
            m.size as i64,
            m.etag,
            m.version,
            m.uploaded_ms,
            to_json(&m.http_metadata),
            to_json(&m.custom_metadata),
            to_json(&m.checksums),
            m.storage_class
        ],
    )?;
    Ok(())
}

/// Deletes object `key`; whether it existed.
pub(crate) fn delete(c: &Connection, bucket: &str, key: &str) -> Result<bool, ApiError> {
    Ok(c.execute(
        "DELETE FROM r2_objects WHERE bucket = ?1 AND key = ?2",
        params![bucket, key],
    )? > 0)
}

/// How many objects a bucket holds.
pub(crate) fn count(c: &Connection, bucket: &str) -> Result<u64, ApiError> {
    Ok(c.query_row(
        "SELECT COUNT(*) FROM r2_objects WHERE bucket = ?1",
        params![bucket],
        |r| r.get::<_, i64>(0),
    )? as u64)
}

/// A page of a listing.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub objects: Vec<ObjectMeta>,
    /// With a delimiter: the distinct key prefixes up to and including the delimiter.
    pub delimited_prefixes: Vec<String>,
    /// The key (or delimited prefix) to continue after, when there is more.
    pub continue_after: Option<String>,
}

/// Up to `limit` entries (objects and delimited prefixes together) of keys that start with
/// `prefix` and sort after `after`, in byte order.
pub(crate) fn list(
    c: &Connection,
    bucket: &str,
    prefix: &str,
    after: &str,
    delimiter: Option<&str>,
    limit: usize,
) -> Result<Listing, ApiError> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {META_COLUMNS} FROM r2_objects
         WHERE bucket = ?1 AND key > ?2 AND substr(key, 1, ?3) = ?4 ORDER BY key"
    ))?;
    let rows = stmt.query_map(
        params![bucket, after, prefix.chars().count() as i64, prefix],
        meta_row,
    )?;
    let mut out = Listing::default();
    let mut entries = 0usize;
    let mut last = String::new();
    for row in rows {
        let meta = finish(row?)?;
        let folded = delimiter.filter(|d| !d.is_empty()).and_then(|d| {
            meta.key[prefix.len()..]
                .find(d)
                .map(|i| meta.key[..prefix.len() + i + d.len()].to_owned())
        });
        if let Some(p) = &folded
            && out.delimited_prefixes.last() == Some(p)
        {
            continue;
        }
        if entries == limit {
            out.continue_after = Some(last);
            break;
        }
        entries += 1;
        match folded {
            Some(p) => {
                // Continuing after the prefix itself would list its keys again: continue after
                // the last key it covers instead.
                last = format!("{p}\u{10FFFF}");
                out.delimited_prefixes.push(p);
            }
            None => {
                last = meta.key.clone();
                out.objects.push(meta);
            }
        }
    }
    Ok(out)
}

/// Starts a multipart upload.
pub(crate) fn create_upload(c: &Connection, upload_id: &str, u: &Upload) -> Result<(), ApiError> {
    c.execute(
        "INSERT INTO r2_uploads (upload_id, bucket, key, http_metadata, custom_metadata, storage_class, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            upload_id,
            u.bucket,
            u.key,
            to_json(&u.http_metadata),
            to_json(&u.custom_metadata),
            u.storage_class,
            u.state
        ],
    )?;
    Ok(())
}

/// A multipart upload of `bucket`, if it exists.
pub(crate) fn upload(
    c: &Connection,
    bucket: &str,
    upload_id: &str,
) -> Result<Option<Upload>, ApiError> {
    let row = c
        .query_row(
            "SELECT bucket, key, http_metadata, custom_metadata, storage_class, state
             FROM r2_uploads WHERE upload_id = ?1 AND bucket = ?2",
            params![upload_id, bucket],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            },
        )
        .optional()?;
    let Some((bucket, key, http, custom, storage_class, state)) = row else {
        return Ok(None);
    };
    Ok(Some(Upload {
        bucket,
        key,
        http_metadata: serde_json::from_str(&http).map_err(corrupt)?,
        custom_metadata: serde_json::from_str(&custom).map_err(corrupt)?,
        storage_class,
        state,
    }))
}

/// Marks an upload `completed` or `aborted`, and drops its parts.
pub(crate) fn finish_upload(c: &Connection, upload_id: &str, state: &str) -> Result<(), ApiError> {
    c.execute(
        "UPDATE r2_uploads SET state = ?2 WHERE upload_id = ?1",
        params![upload_id, state],
    )?;
    c.execute(
        "DELETE FROM r2_parts WHERE upload_id = ?1",
        params![upload_id],
    )?;
    Ok(())
}

/// Stores (or replaces) part `part_number` of an upload.
pub(crate) fn put_part(
    c: &Connection,
    upload_id: &str,
    part_number: u32,
    data: &[u8],
    etag: &str,
) -> Result<(), ApiError> {
    c.execute(
        "INSERT OR REPLACE INTO r2_parts (upload_id, part_number, data, etag) VALUES (?1, ?2, ?3, ?4)",
        params![upload_id, part_number, data, etag],
    )?;
    Ok(())
}

/// The parts of an upload, by part number.
pub(crate) fn parts(c: &Connection, upload_id: &str) -> Result<Vec<PartMeta>, ApiError> {
    let mut stmt = c.prepare_cached(
        "SELECT part_number, etag, length(data) FROM r2_parts WHERE upload_id = ?1 ORDER BY part_number",
    )?;
    let rows = stmt.query_map(params![upload_id], |r| {
        Ok(PartMeta {
            part_number: r.get(0)?,
            etag: r.get(1)?,
            size: r.get::<_, i64>(2)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The bytes of one part.
pub(crate) fn part_data(
    c: &Connection,
    upload_id: &str,
    part_number: u32,
) -> Result<Vec<u8>, ApiError> {
    Ok(c.query_row(
        "SELECT data FROM r2_parts WHERE upload_id = ?1 AND part_number = ?2",
        params![upload_id, part_number],
        |r| r.get(0),
    )?)
}

/// Deletes every object, upload and setting of a bucket (when the bucket is deleted).
pub(crate) fn delete_bucket(c: &Connection, bucket: &str) -> Result<(), ApiError> {
    c.execute("DELETE FROM r2_objects WHERE bucket = ?1", params![bucket])?;
    c.execute(
        "DELETE FROM r2_parts WHERE upload_id IN (SELECT upload_id FROM r2_uploads WHERE bucket = ?1)",
        params![bucket],
    )?;
    c.execute("DELETE FROM r2_uploads WHERE bucket = ?1", params![bucket])?;
    settings::delete(c, bucket)
}

/// Moves objects that an earlier emulator kept in the KV value table (namespace `r2:{bucket}`)
/// into `r2_objects`; runs at every open and finds nothing once done.
pub(super) fn migrate_from_kv(c: &Connection) -> rusqlite::Result<()> {
    let mut stmt = c.prepare(
        "SELECT namespace_id, key, value, metadata FROM kv_values WHERE namespace_id LIKE 'r2:%'",
    )?;
    let rows: Vec<(String, String, Vec<u8>, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (ns, key, data, metadata) in rows {
        let bucket = &ns["r2:".len()..];
        let meta: Value = metadata
            .and_then(|m| serde_json::from_str(&m).ok())
            .unwrap_or(Value::Null);
        let mut http = Map::new();
        if let Some(ct) = meta["http_metadata"]["contentType"].as_str() {
            http.insert("contentType".into(), Value::from(ct));
        }
        let object = NewObject {
            meta: ObjectMeta {
                key: key.clone(),
                size: data.len() as u64,
                etag: crate::ids::md5_hex(&data),
                version: crate::ids::hex32(),
                uploaded_ms: 0,
                http_metadata: http,
                custom_metadata: Vec::new(),
                checksums: Map::new(),
                storage_class: "Standard".into(),
            },
            data,
        };
        put(c, bucket, &object)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.message.into()))?;
        c.execute(
            "DELETE FROM kv_values WHERE namespace_id = ?1 AND key = ?2",
            params![ns, key],
        )?;
    }
    Ok(())
}
