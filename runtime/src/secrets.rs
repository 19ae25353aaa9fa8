//! Secret values: read from their sources, never at rest, compared without plaintext.
//!
//! Values live in memory as [`SecretString`]s and are read from their [`athanor_core::SecretSource`] when
//! planning or deploying, never at compile time. State holds no secret value, sealed or not: a
//! change of value is detected by a keyed digest (HMAC-SHA256 under a key derived from
//! `ATHANOR_PASSWORD` with Argon2id and a random salt kept in state), so neither plaintext nor
//! an unkeyed hash of a secret is ever written. A check value sealed with XChaCha20-Poly1305
//! under a second key derived from the same password tells a wrong password apart from a right
//! one before anything is written.

use std::collections::BTreeMap;

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::Rng;
use secrecy::{ExposeSecret, ExposeSecretMut, SecretBox, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use athanor_core::Stack;

use crate::error::{Error, Result};

/// The secret values of a stack, by logical id, then by key ([`athanor_core::Resource::secret_sources`]).
pub(crate) type SecretValues = BTreeMap<String, BTreeMap<String, SecretString>>;

/// Reads every secret the stack declares from its source (environment variable or file).
pub(crate) fn read_values(stack: &Stack) -> Result<SecretValues> {
    let mut values = SecretValues::new();
    for r in &stack.resources {
        for (key, source) in r.secret_sources() {
            let value = source
                .read(&stack.root)
                .map_err(|source| Error::SecretRead {
                    id: r.id.clone(),
                    key: key.to_owned(),
                    source,
                })?;
            values
                .entry(r.id.clone())
                .or_default()
                .insert(key.to_owned(), value);
        }
    }
    Ok(values)
}

/// A value sealed with XChaCha20-Poly1305, as stored in state (base64 fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The random 24-byte nonce.
    pub nonce: String,
    /// The ciphertext followed by the tag.
    pub ciphertext: String,
}

/// What state records about the password: the KDF and its salt, and a sealed check value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretsHeader {
    /// `argon2id`.
    pub kdf: String,
    /// Argon2 memory cost in KiB.
    pub memory_kib: u32,
    /// Argon2 iterations.
    pub iterations: u32,
    /// Argon2 lanes.
    pub parallelism: u32,
    /// The random salt (base64).
    pub salt: String,
    /// A known value sealed under the key: opening it proves the password is right.
    pub check: Sealed,
}

const CHECK_PLAINTEXT: &[u8] = b"athanor state password check v1";
const CHECK_AAD: &[u8] = b"athanor:check";

/// The keys derived from the password: one for sealing, one for digests.
pub(crate) struct Keyring {
    keys: SecretBox<[u8; 64]>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(..)")
    }
}

impl Keyring {
    /// Derives fresh keys under a new random salt, and the header to store in state.
    pub(crate) fn create(password: &SecretString) -> Result<(Keyring, SecretsHeader)> {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let params = Params::default();
        let (m, t, p) = (params.m_cost(), params.t_cost(), params.p_cost());
        let keyring = Keyring::derive(password, &salt, m, t, p)?;
        let check = keyring.seal(CHECK_PLAINTEXT, CHECK_AAD)?;
        let header = SecretsHeader {
            kdf: "argon2id".into(),
            memory_kib: m,
            iterations: t,
            parallelism: p,
            salt: BASE64.encode(salt),
            check,
        };
        Ok((keyring, header))
    }

    /// Derives the keys recorded by `header` and checks that the password is the one used.
    /// `stage` only names the stage in the error.
    pub(crate) fn open(
        password: &SecretString,
        header: &SecretsHeader,
        stage: &str,
    ) -> Result<Keyring> {
        if header.kdf != "argon2id" {
            return Err(Error::Crypto {
                action: "derive a key for",
                message: format!("unknown key derivation `{}` in state", header.kdf),
            });
        }
        // A header cannot ask for weaker keys than athanor makes: state edited to cheapen a guess
        // at the password is refused rather than followed.
        let floor = Params::default();
        if header.memory_kib < floor.m_cost()
            || header.iterations < floor.t_cost()
            || header.parallelism < floor.p_cost()
        {
            return Err(Error::Crypto {
                action: "derive a key for",
                message: format!(
                    "the key derivation in state (Argon2id, {} KiB, {} iterations, parallelism {}) is weaker than athanor ever writes ({} KiB, {} iterations): the state was edited; restore it from a copy",
                    header.memory_kib,
                    header.iterations,
                    header.parallelism,
                    floor.m_cost(),
                    floor.t_cost()
                ),
            });
        }
        let salt = BASE64.decode(&header.salt).map_err(|e| Error::Crypto {
            action: "derive a key for",
            message: format!("the salt in state is not base64: {e}"),
        })?;
        let keyring = Keyring::derive(
            password,
            &salt,
            header.memory_kib,
            header.iterations,
            header.parallelism,
        )?;
        match keyring.unseal_bytes(&header.check, CHECK_AAD) {
            Ok(check) if check == CHECK_PLAINTEXT => Ok(keyring),
            _ => Err(Error::WrongPassword {
                stage: stage.to_owned(),
            }),
        }
    }

    fn derive(password: &SecretString, salt: &[u8], m: u32, t: u32, p: u32) -> Result<Keyring> {
        let crypto = |e: argon2::Error| Error::Crypto {
            action: "derive a key for",
            message: e.to_string(),
        };
        let params = Params::new(m, t, p, Some(64)).map_err(crypto)?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut keys = SecretBox::new(Box::new([0u8; 64]));
        argon
            .hash_password_into(
                password.expose_secret().as_bytes(),
                salt,
                keys.expose_secret_mut(),
            )
            .map_err(crypto)?;
        Ok(Keyring { keys })
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        let key = Key::try_from(&self.keys.expose_secret()[..32]).expect("32-byte key");
        XChaCha20Poly1305::new(&key)
    }

    /// Seals `plaintext`, bound to `aad` (the resource and key it belongs to, so a sealed value
    /// cannot be moved to another resource unnoticed).
    pub(crate) fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed> {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let nonce_arr = XNonce::try_from(&nonce[..]).expect("24-byte nonce");
        let ciphertext = self
            .cipher()
            .encrypt(
                &nonce_arr,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| Error::Crypto {
                action: "encrypt",
                message: "the cipher refused the input".into(),
            })?;
        Ok(Sealed {
            nonce: BASE64.encode(nonce),
            ciphertext: BASE64.encode(ciphertext),
        })
    }

    fn unseal_bytes(&self, sealed: &Sealed, aad: &[u8]) -> Result<Vec<u8>> {
        let bad = |message: &str| Error::Crypto {
            action: "decrypt",
            message: message.to_owned(),
        };
        let nonce = BASE64
            .decode(&sealed.nonce)
            .map_err(|_| bad("a nonce in state is not base64"))?;
        let nonce =
            XNonce::try_from(&nonce[..]).map_err(|_| bad("a nonce in state is not 24 bytes"))?;
        let ciphertext = BASE64
            .decode(&sealed.ciphertext)
            .map_err(|_| bad("a ciphertext in state is not base64"))?;
        self.cipher()
            .decrypt(
                &nonce,
                Payload {
                    msg: &ciphertext,
                    aad,
                },
            )
            .map_err(|_| bad("a sealed value does not open under this password (was it edited?)"))
    }

    /// The keyed digest of a secret value of resource `id`, key `key` (hex HMAC-SHA256): equal
    /// values give equal digests under one password; without the password it reveals nothing.
    pub(crate) fn digest(&self, id: &str, key: &str, value: &SecretString) -> String {
        let mut message = secret_aad(id, key);
        message.push(0);
        message.extend_from_slice(value.expose_secret().as_bytes());
        hex::encode(hmac_sha256(&self.keys.expose_secret()[32..], &message))
    }
}

fn secret_aad(id: &str, key: &str) -> Vec<u8> {
    let mut aad = b"athanor:secret:".to_vec();
    aad.extend_from_slice(id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(key.as_bytes());
    aad
}

/// HMAC-SHA256 (RFC 2104) over SHA-256's 64-byte block.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_header_weaker_than_athanor_writes_is_refused() {
        let (_, mut header) = Keyring::create(&pw("right")).unwrap();
        header.memory_kib = 8;
        let err = Keyring::open(&pw("right"), &header, "dev")
            .unwrap_err()
            .to_string();
        assert!(err.contains("weaker than athanor ever writes"), "{err}");
    }

    #[test]
    fn a_wrong_password_is_refused() {
        let (_, header) = Keyring::create(&pw("right")).unwrap();
        let err = Keyring::open(&pw("wrong"), &header, "dev").unwrap_err();
        assert!(matches!(err, Error::WrongPassword { .. }), "{err}");
        assert!(!err.to_string().contains("right"));
    }

    #[test]
    fn digests_change_with_the_value_and_the_password() {
        let (a, _) = Keyring::create(&pw("one")).unwrap();
        let (b, _) = Keyring::create(&pw("one")).unwrap();
        let v1 = pw("value-1");
        let v2 = pw("value-2");
        assert_eq!(a.digest("s", "value", &v1), a.digest("s", "value", &v1));
        assert_ne!(a.digest("s", "value", &v1), a.digest("s", "value", &v2));
        // A fresh salt gives different keys, so digests do not leak across states.
        assert_ne!(a.digest("s", "value", &v1), b.digest("s", "value", &v1));
        assert!(!format!("{a:?}").contains("value"));
    }
}
