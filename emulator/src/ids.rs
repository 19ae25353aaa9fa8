//! Identifiers in Cloudflare's formats: 32 lowercase hex characters, or UUIDs.
//!
//! Sources: account ids and KV namespace ids are 32 lowercase hex characters, dispatch namespace
//! ids UUIDs (reference/cloudflare-api.md §11; the spec's identifiers have `maxLength` 32).

use crate::Error;

/// A new random id of 32 lowercase hex characters (KV namespaces, secrets, DO namespaces).
pub(crate) fn hex32() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// A new random UUID (dispatch namespaces, deployments).
pub(crate) fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Whether `s` is 32 lowercase hex characters.
pub(crate) fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Accepts a configured account id when it has Cloudflare's format.
pub(crate) fn check_account_id(id: &str) -> Result<String, Error> {
    if is_hex32(id) {
        Ok(id.to_owned())
    } else {
        Err(Error::AccountId(id.to_owned()))
    }
}

/// The SHA-256 of `data`, hex-encoded: how secret values are kept (never the value itself).
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// The MD5 of `data`, hex-encoded: the etag R2 gives a single-part object.
pub(crate) fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}
