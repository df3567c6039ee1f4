//! The signing keys' private halves, encrypted at rest.
//!
//! Each key's PKCS#8 document is stored sealed with AES-256-GCM under the key-encryption key the
//! service is given (`--key-encryption-key-file`, or `BRIGADE_USERS_KEY_ENCRYPTION_KEY`): a fresh
//! random 96-bit nonce per seal, and the key's id as associated data, so that a sealed key copied
//! onto another row does not open. Someone who reads the store (a backup, a copied SQLite file, a
//! database login) gets no key that can sign tokens.
//!
//! A stored key is either sealed (it starts with [`SEALED_PREFIX`]) or clear (PKCS#8 DER, which
//! starts with a DER SEQUENCE byte): a store written before keys were sealed, or by an instance
//! run for development without a key-encryption key, still opens, and an instance that has a
//! key-encryption key seals every clear key it finds at start ([`crate::store::Store`]'s
//! `seal_clear_keys`).

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use rand::RngCore;

/// What every sealed key starts with: the format's name and version.
pub const SEALED_PREFIX: &[u8] = b"brigade-sealed-v1:";
/// A key-encryption key: 256 bits.
pub const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;

/// Why a key could not be sealed or opened, or a key-encryption key read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the signing key `{0}` is encrypted at rest, and this instance has no key-encryption \
         key: start it with --key-encryption-key-file (or BRIGADE_USERS_KEY_ENCRYPTION_KEY)"
    )]
    NoKey(String),
    #[error(
        "the signing key `{0}` does not open with this key-encryption key (another key, or the \
         row was altered)"
    )]
    WrongKey(String),
    #[error("the signing key `{0}` cannot be sealed")]
    Seal(String),
    #[error("{0}")]
    BadKey(String),
}

/// A key-encryption key. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct KeyEncryptionKey([u8; KEY_BYTES]);

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey(<redacted>)")
    }
}

impl KeyEncryptionKey {
    /// 32 bytes in standard base64 (`openssl rand -base64 32`), surrounding space ignored.
    pub fn parse(text: &str) -> Result<KeyEncryptionKey, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| {
                "the key-encryption key must be base64 (openssl rand -base64 32)".to_owned()
            })?;
        let bytes: [u8; KEY_BYTES] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            format!(
                "the key-encryption key must be {KEY_BYTES} bytes, got {}",
                bytes.len()
            )
        })?;
        Ok(KeyEncryptionKey(bytes))
    }

    /// The key in the file at `path` (as [`KeyEncryptionKey::parse`] reads it).
    pub fn read_file(path: &Path) -> Result<KeyEncryptionKey, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read the key-encryption key file {}: {e}",
                path.display()
            )
        })?;
        KeyEncryptionKey::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A new random key, and its base64 text (what a key file holds).
    pub fn generate() -> (KeyEncryptionKey, String) {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        (KeyEncryptionKey(bytes), text)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

/// How this instance keeps private keys at rest.
#[derive(Debug, Clone, Default)]
pub enum Sealing {
    /// Encrypted under this key.
    Sealed(KeyEncryptionKey),
    /// In clear: development only (SQLite, no key given), said at start.
    #[default]
    Clear,
}

impl Sealing {
    /// Whether keys are encrypted.
    pub fn is_sealed(&self) -> bool {
        matches!(self, Sealing::Sealed(_))
    }

    /// `pkcs8` of the key `kid` as it is to be stored.
    pub fn seal(&self, kid: &str, pkcs8: &[u8]) -> Result<Vec<u8>, Error> {
        let Sealing::Sealed(key) = self else {
            return Ok(pkcs8.to_vec());
        };
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = key
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: pkcs8,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| Error::Seal(kid.to_owned()))?;
        let mut stored = Vec::with_capacity(SEALED_PREFIX.len() + NONCE_BYTES + sealed.len());
        stored.extend_from_slice(SEALED_PREFIX);
        stored.extend_from_slice(&nonce);
        stored.extend_from_slice(&sealed);
        Ok(stored)
    }

    /// The PKCS#8 document of the key `kid` from what the store holds: opened when sealed, as
    /// it is when clear.
    pub fn open(&self, kid: &str, stored: &[u8]) -> Result<Vec<u8>, Error> {
        let Some(sealed) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(stored.to_vec());
        };
        let Sealing::Sealed(key) = self else {
            return Err(Error::NoKey(kid.to_owned()));
        };
        if sealed.len() < NONCE_BYTES {
            return Err(Error::WrongKey(kid.to_owned()));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        key.cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| Error::WrongKey(kid.to_owned()))
    }
}

/// Whether a stored key is sealed.
pub fn is_sealed(stored: &[u8]) -> bool {
    stored.starts_with(SEALED_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_with_its_key_and_its_id() {
        let (key, text) = KeyEncryptionKey::generate();
        let sealing = Sealing::Sealed(key);
        let secret = b"0\x82\x01private key material".to_vec();
        let stored = sealing.seal("k1", &secret).unwrap();
        assert!(is_sealed(&stored));
        assert!(!stored
            .windows(secret.len())
            .any(|window| window == secret.as_slice()));
        assert_eq!(sealing.open("k1", &stored).unwrap(), secret);
        // Sealed twice, stored differently (fresh nonce).
        assert_ne!(sealing.seal("k1", &secret).unwrap(), stored);
        // Moved to another key id: refused.
        assert!(matches!(
            sealing.open("k2", &stored),
            Err(Error::WrongKey(_))
        ));
        // Another key-encryption key, or none: refused, saying why.
        let other = Sealing::Sealed(KeyEncryptionKey::generate().0);
        assert!(matches!(other.open("k1", &stored), Err(Error::WrongKey(_))));
        let error = Sealing::Clear.open("k1", &stored).unwrap_err().to_string();
        assert!(error.contains("--key-encryption-key-file"), "{error}");
        // A clear key (an older store) opens as it is, with or without a key.
        assert_eq!(sealing.open("k1", &secret).unwrap(), secret);
        assert_eq!(KeyEncryptionKey::parse(&text).unwrap().0.len(), KEY_BYTES);
    }

    #[test]
    fn key_encryption_keys_are_32_bytes_of_base64_and_never_shown() {
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 16]);
        assert!(KeyEncryptionKey::parse(&short)
            .unwrap_err()
            .contains("32 bytes"));
        assert!(KeyEncryptionKey::parse("not base64!")
            .unwrap_err()
            .contains("base64"));
        let (key, text) = KeyEncryptionKey::generate();
        assert!(!format!("{key:?}").contains(&text));
    }
}
