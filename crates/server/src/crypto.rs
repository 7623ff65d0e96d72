//! Keys derived from the master key, secret sealing, keyed hashes, randomness.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

const NONCE_LEN: usize = 12;

/// The 32-byte master key, and the subkeys derived from it. Each use has its
/// own subkey, so a ciphertext or MAC made for one purpose means nothing in another.
#[derive(Clone)]
pub struct MasterKey {
    seal: Aes256Gcm,
    secret_mac_key: [u8; 32],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error(
        "CASEBOOK_MASTER_KEY must be 32 bytes in standard base64 (44 characters); generate one with `openssl rand -base64 32`"
    )]
    Malformed,
}

#[derive(Debug, thiserror::Error)]
#[error("a sealed value could not be opened: wrong master key, or the data was altered")]
pub struct OpenError;

fn derive(master: &[u8; 32], label: &str) -> [u8; 32] {
    // HKDF-Expand with a single block: HMAC(master, label || 0x01).
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(master).expect("HMAC takes keys of any length");
    mac.update(label.as_bytes());
    mac.update(&[1]);
    mac.finalize().into_bytes().into()
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let seal_key = derive(&bytes, "casebook/seal/v1");
        Self {
            seal: Aes256Gcm::new((&seal_key).into()),
            secret_mac_key: derive(&bytes, "casebook/client-secret-mac/v1"),
        }
    }

    pub fn from_base64(text: &str) -> Result<Self, MasterKeyError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| MasterKeyError::Malformed)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| MasterKeyError::Malformed)?;
        Ok(Self::from_bytes(bytes))
    }

    pub fn generate_base64() -> String {
        STANDARD.encode(random_bytes::<32>())
    }

    /// AES-256-GCM with a fresh nonce; `context` (the record's id) is bound as
    /// associated data, so a ciphertext copied onto another record won't open.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let nonce = random_bytes::<NONCE_LEN>();
        let ciphertext = self
            .seal
            .encrypt(
                &Nonce::try_from(&nonce[..]).expect("nonce length"),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a short value cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| OpenError)?;
        self.seal
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| OpenError)
    }

    /// The keyed hash a client secret is checked by. Secrets carry 256 random
    /// bits, so a password hash would add cost and no strength; HMAC-SHA256
    /// under a key only this install holds keeps a stolen table useless.
    pub fn secret_mac(&self, secret: &str) -> [u8; 32] {
        let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(&self.secret_mac_key).expect("any key length");
        mac.update(secret.as_bytes());
        mac.finalize().into_bytes().into()
    }

    pub fn secret_matches(&self, presented: &str, stored_mac: &[u8]) -> bool {
        self.secret_mac(presented).ct_eq(stored_mac).into()
    }
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// An opaque random token (sessions, `jti`): 256 bits, unpadded base64url.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// Session tokens are high-entropy too; a plain digest is enough to keep a
/// stolen sessions table from being replayed.
pub fn token_digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_binds_the_context() {
        let key = MasterKey::from_bytes([1; 32]);
        let sealed = key.seal(b"cbs_secret", "app-1");
        assert_eq!(key.open(&sealed, "app-1").unwrap(), b"cbs_secret");
        assert!(key.open(&sealed, "app-2").is_err());
        let other = MasterKey::from_bytes([2; 32]);
        assert!(other.open(&sealed, "app-1").is_err());
        assert!(key.open(&sealed[..5], "app-1").is_err());
    }

    #[test]
    fn secret_macs_are_keyed() {
        let a = MasterKey::from_bytes([1; 32]);
        let b = MasterKey::from_bytes([2; 32]);
        let mac = a.secret_mac("s");
        assert!(a.secret_matches("s", &mac));
        assert!(!a.secret_matches("t", &mac));
        assert!(!b.secret_matches("s", &mac));
        assert!(!a.secret_matches("s", &mac[..31]));
    }

    #[test]
    fn master_key_parsing() {
        assert!(MasterKey::from_base64(&MasterKey::generate_base64()).is_ok());
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
    }
}
