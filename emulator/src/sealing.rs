//! Secret values at rest: Worker `secret_text` bindings and Secrets Store secrets.
//!
//! Cloudflare keeps these values so that a Worker can read them, and so must the emulator once it
//! runs Workers; but neither an API answer nor the database file may reveal them. Each value is
//! sealed with XChaCha20-Poly1305 under a random key kept in `secrets.key` beside the database
//! (mode 0600), bound to what it belongs to (the script and binding, or the store and secret), so
//! a sealed value copied to another place does not open. The key never leaves the data directory;
//! a copy of the database alone reveals nothing.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

use crate::Error;

/// The key file's name inside the data directory.
const KEY_FILE: &str = "secrets.key";
const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

/// Seals and opens secret values under the data directory's key; clones share the key.
#[derive(Clone)]
pub(crate) struct Sealer {
    cipher: Arc<XChaCha20Poly1305>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<key redacted>)")
    }
}

/// Why a sealed value did not open.
#[derive(Debug)]
pub(crate) struct Unsealable;

impl Sealer {
    /// Loads the key from `dir/secrets.key`, creating it (0600) on first use.
    pub fn open(dir: &Path) -> Result<Sealer, Error> {
        let path = dir.join(KEY_FILE);
        let key_err = |source: std::io::Error| Error::SecretsKey {
            path: path.clone(),
            source,
        };
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; KEY_BYTES] = rand::random();
                write_new_key(&path, &key).map_err(key_err)?;
                // Another process may have created it first: read back whichever key won.
                std::fs::read(&path).map_err(key_err)?
            }
            Err(e) => return Err(key_err(e)),
        };
        let key = Key::try_from(bytes.as_slice()).map_err(|_| {
            key_err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the key file holds {} bytes, not {KEY_BYTES}", bytes.len()),
            ))
        })?;
        Ok(Sealer {
            cipher: Arc::new(XChaCha20Poly1305::new(&key)),
        })
    }

    /// Seals `value`, bound to `context` (where the value belongs); base64 of nonce + ciphertext.
    pub fn seal(&self, value: &str, context: &str) -> String {
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let nonce_arr = XNonce::try_from(&nonce[..]).expect("24-byte nonce");
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce_arr,
                Payload {
                    msg: value.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 seals any input under 256 GiB");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        BASE64.encode(out)
    }

    /// Opens a value sealed by [`Sealer::seal`] with the same `context`.
    pub fn open_sealed(&self, sealed: &str, context: &str) -> Result<String, Unsealable> {
        let raw = BASE64.decode(sealed).map_err(|_| Unsealable)?;
        if raw.len() < NONCE_BYTES {
            return Err(Unsealable);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_BYTES);
        let nonce = XNonce::try_from(nonce).map_err(|_| Unsealable)?;
        let plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Unsealable)?;
        String::from_utf8(plain).map_err(|_| Unsealable)
    }
}

/// Writes a new key file readable by its owner only; fails if one appeared meanwhile.
fn write_new_key(path: &Path, key: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(key)?;
            file.sync_all()
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_context_and_with_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::open(dir.path()).unwrap();
        let sealed = sealer.seal("hunter2", "script/w/TOKEN");
        assert!(!sealed.contains("hunter2"));
        assert_eq!(
            sealer.open_sealed(&sealed, "script/w/TOKEN").unwrap(),
            "hunter2"
        );
        assert!(sealer.open_sealed(&sealed, "script/w/OTHER").is_err());
        // The same directory gives the same key; another directory does not.
        let again = Sealer::open(dir.path()).unwrap();
        assert_eq!(
            again.open_sealed(&sealed, "script/w/TOKEN").unwrap(),
            "hunter2"
        );
        let other = tempfile::tempdir().unwrap();
        let stranger = Sealer::open(other.path()).unwrap();
        assert!(stranger.open_sealed(&sealed, "script/w/TOKEN").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        Sealer::open(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
