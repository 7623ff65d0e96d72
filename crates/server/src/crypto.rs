//! Keys derived from the master key, secret sealing, keyed hashes, randomness.
//!
//! A sealed value names the master key that sealed it:
//!
//! ```text
//! 0xCB | 0x01 | key id (8 bytes) | nonce (12 bytes) | AES-256-GCM ciphertext and tag
//! ```
//!
//! The key id is the first 8 bytes of an HMAC of a fixed label under the
//! master key: it tells which configured key to try without revealing
//! anything about the key. The header is part of the associated data (with
//! the record's id), so an altered header fails to open. Values sealed before
//! the header existed (`nonce | ciphertext`) are still read: they are tried
//! under the current key, then under each previous one. A legacy nonce may
//! happen to start like a header, so a value whose header names no known key,
//! or does not open under it, is tried as a legacy value too.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

const NONCE_LEN: usize = 12;
/// The first byte of a sealed value that names its key.
const MAGIC: u8 = 0xCB;
/// The layout after the magic byte; a new one gets a new number.
const FORMAT_V1: u8 = 1;
const KEY_ID_LEN: usize = 8;
const HEADER_LEN: usize = 2 + KEY_ID_LEN;

/// One master key's sealing cipher, the id sealed values name it by, and the
/// MAC key derived from it as releases before 0.2.0 derived it.
struct SealingKey {
    id: [u8; KEY_ID_LEN],
    cipher: Aes256Gcm,
    derived_mac_key: [u8; 32],
}

impl SealingKey {
    fn new(bytes: &[u8; 32]) -> Self {
        let seal_key = derive(bytes, "casebook/seal/v1");
        let id_bytes = derive(bytes, "casebook/master-key-id/v1");
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&id_bytes[..KEY_ID_LEN]);
        Self {
            id,
            cipher: Aes256Gcm::new((&seal_key).into()),
            derived_mac_key: derive(bytes, "casebook/client-secret-mac/v1"),
        }
    }

    /// `prefix | nonce | ciphertext`, under a fresh nonce.
    fn encrypt(&self, prefix: &[u8], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce = random_bytes::<NONCE_LEN>();
        let ciphertext = self
            .cipher
            .encrypt(
                &Nonce::try_from(&nonce[..]).expect("nonce length"),
                Payload { msg: plaintext, aad },
            )
            .expect("AES-GCM encryption of a short value cannot fail");
        [prefix, &nonce[..], &ciphertext].concat()
    }

    fn decrypt(&self, nonce: &[u8], ciphertext: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        let nonce = Nonce::try_from(nonce).ok()?;
        self.cipher.decrypt(&nonce, Payload { msg: ciphertext, aad }).ok()
    }
}

/// The current master key (which seals), the previous ones (which may still
/// open), and the key of the client secrets' MAC. Each use has its own
/// subkey, so a ciphertext or MAC made for one purpose means nothing in
/// another.
#[derive(Clone)]
pub struct MasterKey {
    current: Arc<SealingKey>,
    previous: Arc<[SealingKey]>,
    /// Derived from the current key until [`MasterKey::with_secret_mac_key`]
    /// installs the one stored in the database, which outlives rotations.
    secret_mac_key: [u8; 32],
    /// Whether new values carry the header naming their key. A release
    /// writes a format only once the release before it reads it, so that
    /// replicas of both can serve one database during a rolling upgrade:
    /// 0.1.x reads no header, so 0.2.0 writes one only while a rotation is
    /// under way (previous keys configured, which only 0.2.0 and later
    /// take), in `casebook master-key rotate`, and once a rotation has run
    /// (`master_keys::mark_values_name_keys`). The next release writes it
    /// always.
    names_keys: bool,
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

/// Which key opened a sealed value, and whether it named that key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedUnder {
    /// The current key, with the header: nothing to do.
    Current,
    /// The current key, in the format before the header: a rotation adds it.
    CurrentLegacy,
    /// A previous key (with or without the header): a rotation re-seals it.
    Previous,
}

/// A value opened, with what [`SealedUnder`] says about how it was sealed.
pub struct Opened {
    pub plaintext: Vec<u8>,
    pub under: SealedUnder,
    /// The configured key that opened it: 0 the current, then the previous
    /// ones in the order given.
    pub key_index: usize,
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("under", &self.under)
            .field("key_index", &self.key_index)
            .finish_non_exhaustive()
    }
}

impl Opened {
    /// Whether `casebook master-key rotate` has work on this value.
    pub fn needs_reseal(&self) -> bool {
        self.under != SealedUnder::Current
    }
}

fn derive(master: &[u8; 32], label: &str) -> [u8; 32] {
    // HKDF-Expand with a single block: HMAC(master, label || 0x01).
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(master).expect("HMAC takes keys of any length");
    mac.update(label.as_bytes());
    mac.update(&[1]);
    mac.finalize().into_bytes().into()
}

/// 32 bytes in standard base64, surrounding whitespace ignored.
pub fn parse_key(text: &str) -> Result<[u8; 32], MasterKeyError> {
    let bytes = STANDARD.decode(text.trim()).map_err(|_| MasterKeyError::Malformed)?;
    bytes.try_into().map_err(|_| MasterKeyError::Malformed)
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let current = SealingKey::new(&bytes);
        let secret_mac_key = current.derived_mac_key;
        Self {
            current: Arc::new(current),
            previous: Arc::from(Vec::new()),
            secret_mac_key,
            names_keys: false,
        }
    }

    pub fn from_base64(text: &str) -> Result<Self, MasterKeyError> {
        Ok(Self::from_bytes(parse_key(text)?))
    }

    /// Keys that may still open values (`CASEBOOK_PREVIOUS_MASTER_KEYS`),
    /// tried in this order after the current one. The current key, or one
    /// already listed, is left out.
    pub fn with_previous(self, previous: impl IntoIterator<Item = [u8; 32]>) -> Self {
        let mut keys: Vec<SealingKey> = Vec::new();
        for bytes in previous {
            let key = SealingKey::new(&bytes);
            if key.id != self.current.id && !keys.iter().any(|k| k.id == key.id) {
                keys.push(key);
            }
        }
        Self {
            names_keys: self.names_keys || !keys.is_empty(),
            previous: Arc::from(keys),
            ..self
        }
    }

    /// New values carry the header naming their key, whatever else is
    /// configured: what `casebook master-key rotate` writes.
    pub fn naming_keys(self) -> Self {
        Self {
            names_keys: true,
            ..self
        }
    }

    /// The client-secret MAC key as stored in the database, which every
    /// replica shares and no rotation changes.
    pub fn with_secret_mac_key(self, key: [u8; 32]) -> Self {
        Self {
            secret_mac_key: key,
            ..self
        }
    }

    /// The MAC keys releases before 0.2.0 derived from each configured key,
    /// current first: one of them made every MAC stored before the MAC key
    /// was stored.
    pub fn derived_secret_mac_keys(&self) -> Vec<[u8; 32]> {
        std::iter::once(&*self.current)
            .chain(self.previous.iter())
            .map(|k| k.derived_mac_key)
            .collect()
    }

    /// The client-secret MAC key in use, to be sealed into the database.
    pub fn secret_mac_key(&self) -> &[u8; 32] {
        &self.secret_mac_key
    }

    /// How many previous keys are configured.
    pub fn previous_count(&self) -> usize {
        self.previous.len()
    }

    /// The current key's id in hex: what sealed values name it by. Not
    /// secret (a keyed hash of a fixed label), so an operator can tell keys
    /// apart by it.
    pub fn key_id(&self) -> String {
        self.current.id.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn generate_base64() -> String {
        STANDARD.encode(random_bytes::<32>())
    }

    /// AES-256-GCM under the current key with a fresh nonce, behind a header
    /// naming the key; the header and `context` (the record's id) are bound
    /// as associated data, so a ciphertext copied onto another record won't
    /// open.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        if !self.names_keys {
            // The format releases before 0.2.0 read: nonce and ciphertext,
            // with `context` alone as associated data.
            return self.current.encrypt(&[], plaintext, context.as_bytes());
        }
        let mut header = [0u8; HEADER_LEN];
        header[0] = MAGIC;
        header[1] = FORMAT_V1;
        header[2..].copy_from_slice(&self.current.id);
        self.current.encrypt(&header, plaintext, &header_aad(&header, context))
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, OpenError> {
        self.open_detailed(sealed, context).map(|opened| opened.plaintext)
    }

    /// Opens `sealed` with whichever configured key sealed it, and says which.
    pub fn open_detailed(&self, sealed: &[u8], context: &str) -> Result<Opened, OpenError> {
        if let Some(opened) = self.open_with_header(sealed, context) {
            return Ok(opened);
        }
        // No header, or one that names no key we hold or does not open:
        // a value from before the header (whose random nonce may start like one).
        if sealed.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        for (index, key) in self.keys().enumerate() {
            if let Some(plaintext) = key.decrypt(nonce, ciphertext, context.as_bytes()) {
                let under = if index == 0 {
                    SealedUnder::CurrentLegacy
                } else {
                    SealedUnder::Previous
                };
                return Ok(Opened {
                    plaintext,
                    under,
                    key_index: index,
                });
            }
        }
        Err(OpenError)
    }

    fn open_with_header(&self, sealed: &[u8], context: &str) -> Option<Opened> {
        if sealed.len() < HEADER_LEN + NONCE_LEN || sealed[0] != MAGIC || sealed[1] != FORMAT_V1 {
            return None;
        }
        let (header, rest) = sealed.split_at(HEADER_LEN);
        let (index, key) = self.keys().enumerate().find(|(_, k)| k.id[..] == header[2..])?;
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let plaintext = key.decrypt(nonce, ciphertext, &header_aad(header, context))?;
        let under = if index == 0 {
            SealedUnder::Current
        } else {
            SealedUnder::Previous
        };
        Some(Opened {
            plaintext,
            under,
            key_index: index,
        })
    }

    fn keys(&self) -> impl Iterator<Item = &SealingKey> {
        std::iter::once(&*self.current).chain(self.previous.iter())
    }

    /// The keyed hash a client secret is checked by. Secrets carry 256 random
    /// bits, so a password hash would add cost and no strength; HMAC-SHA256
    /// under a key only this install holds keeps a stolen table useless.
    pub fn secret_mac(&self, secret: &str) -> [u8; 32] {
        mac_under(&self.secret_mac_key, secret)
    }

    pub fn secret_matches(&self, presented: &str, stored_mac: &[u8]) -> bool {
        self.secret_mac(presented).ct_eq(stored_mac).into()
    }
}

/// HMAC-SHA256 of `parts`, in order, under `key`: a fingerprint of a
/// request whose body may hold a password, which a bare hash would let
/// anyone holding the table guess offline.
pub fn mac_of_parts(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(key).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 of a client secret under `key`.
pub fn mac_under(key: &[u8; 32], secret: &str) -> [u8; 32] {
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(secret.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The associated data of a value with a header: the header (fixed length,
/// so the boundary is unambiguous), then the record's id.
fn header_aad(header: &[u8], context: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + context.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(context.as_bytes());
    aad
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

    /// A value as releases before 0.2.0 sealed it: `nonce | ciphertext`,
    /// the record's id alone as associated data; `nonce` chosen by the test.
    fn seal_legacy(key: [u8; 32], nonce: [u8; NONCE_LEN], plaintext: &[u8], context: &str) -> Vec<u8> {
        let cipher = Aes256Gcm::new((&derive(&key, "casebook/seal/v1")).into());
        let ciphertext = cipher
            .encrypt(
                &Nonce::try_from(&nonce[..]).unwrap(),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .unwrap();
        [&nonce[..], &ciphertext].concat()
    }

    #[test]
    fn a_value_is_headerless_until_keys_are_named_so_the_release_before_reads_it() {
        let plain = MasterKey::from_bytes([1; 32]);
        let sealed = plain.seal(b"cbs_secret", "app-1");
        assert_eq!(sealed.len(), NONCE_LEN + b"cbs_secret".len() + 16, "no header");
        // What 0.1.x does to open it: the nonce, then AES-GCM with the context.
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let legacy = SealingKey::new(&[1; 32]).decrypt(nonce, ciphertext, b"app-1");
        assert_eq!(legacy.as_deref(), Some(&b"cbs_secret"[..]));
        assert_eq!(
            plain.open_detailed(&sealed, "app-1").unwrap().under,
            SealedUnder::CurrentLegacy
        );
        // A rotation under way names keys.
        let rotating = MasterKey::from_bytes([1; 32]).with_previous([[2; 32]]);
        assert_eq!(rotating.seal(b"x", "c")[0], MAGIC);
    }

    #[test]
    fn a_sealed_value_names_its_key_and_opens() {
        let key = MasterKey::from_bytes([1; 32]).naming_keys();
        let sealed = key.seal(b"cbs_secret", "app-1");
        assert_eq!(sealed[0], MAGIC);
        assert_eq!(sealed[1], FORMAT_V1);
        assert_eq!(sealed[2..HEADER_LEN], SealingKey::new(&[1; 32]).id);
        assert_eq!(sealed.len(), HEADER_LEN + NONCE_LEN + b"cbs_secret".len() + 16);
        let opened = key.open_detailed(&sealed, "app-1").unwrap();
        assert_eq!(opened.plaintext, b"cbs_secret");
        assert_eq!(opened.under, SealedUnder::Current);
        assert!(!opened.needs_reseal());
        assert_eq!(key.key_id().len(), 16);
        assert_ne!(key.key_id(), MasterKey::from_bytes([2; 32]).key_id());
    }

    #[test]
    fn legacy_values_open_under_the_current_or_a_previous_key() {
        let legacy = seal_legacy([1; 32], random_bytes(), b"old", "app-1");
        let current = MasterKey::from_bytes([1; 32]);
        let opened = current.open_detailed(&legacy, "app-1").unwrap();
        assert_eq!(
            (opened.plaintext.as_slice(), opened.under),
            (&b"old"[..], SealedUnder::CurrentLegacy)
        );
        assert!(opened.needs_reseal());
        assert!(current.open(&legacy, "app-2").is_err());
        let rotated = MasterKey::from_bytes([2; 32]).with_previous([[3; 32], [1; 32]]);
        let opened = rotated.open_detailed(&legacy, "app-1").unwrap();
        assert_eq!(opened.plaintext, b"old");
        assert_eq!((opened.under, opened.key_index), (SealedUnder::Previous, 2));
    }

    #[test]
    fn a_legacy_nonce_that_looks_like_a_header_still_opens() {
        // The worst case: the nonce spells the header of a key we hold, so
        // the header path finds the key, fails, and the legacy path must run.
        let id = SealingKey::new(&[1; 32]).id;
        let mut nonce = [0u8; NONCE_LEN];
        nonce[0] = MAGIC;
        nonce[1] = FORMAT_V1;
        nonce[2..HEADER_LEN].copy_from_slice(&id);
        let legacy = seal_legacy([1; 32], nonce, b"lookalike", "app-1");
        let key = MasterKey::from_bytes([1; 32]);
        assert_eq!(key.open(&legacy, "app-1").unwrap(), b"lookalike");
        // And under a header naming no key we hold.
        nonce[2..HEADER_LEN].copy_from_slice(&[9; KEY_ID_LEN]);
        let legacy = seal_legacy([1; 32], nonce, b"lookalike", "app-1");
        assert_eq!(key.open(&legacy, "app-1").unwrap(), b"lookalike");
    }

    #[test]
    fn a_value_sealed_under_a_previous_key_opens() {
        let old = MasterKey::from_bytes([1; 32]);
        let sealed = old.seal(b"x", "c");
        let new = MasterKey::from_bytes([2; 32]).with_previous([[1; 32]]);
        let opened = new.open_detailed(&sealed, "c").unwrap();
        assert_eq!(opened.plaintext, b"x");
        assert_eq!((opened.under, opened.key_index), (SealedUnder::Previous, 1));
        // Sealing always uses the current key.
        let resealed = new.seal(&opened.plaintext, "c");
        assert_eq!(new.open_detailed(&resealed, "c").unwrap().under, SealedUnder::Current);
        assert!(old.open(&resealed, "c").is_err());
    }

    #[test]
    fn a_value_under_an_unknown_key_does_not_open() {
        let sealed = MasterKey::from_bytes([1; 32]).seal(b"x", "c");
        assert!(MasterKey::from_bytes([2; 32]).open(&sealed, "c").is_err());
        let with_others = MasterKey::from_bytes([2; 32]).with_previous([[3; 32], [4; 32]]);
        assert!(with_others.open(&sealed, "c").is_err());
    }

    #[test]
    fn a_tampered_header_does_not_open() {
        let key = MasterKey::from_bytes([2; 32]).with_previous([[1; 32]]);
        let sealed = key.seal(b"x", "c");
        for at in 0..HEADER_LEN {
            let mut tampered = sealed.clone();
            tampered[at] ^= 0x01;
            assert!(key.open(&tampered, "c").is_err(), "byte {at}");
        }
        // Naming the other configured key does not help either.
        let mut renamed = sealed.clone();
        renamed[2..HEADER_LEN].copy_from_slice(&SealingKey::new(&[1; 32]).id);
        assert!(key.open(&renamed, "c").is_err());
        assert!(key.open(&sealed[..HEADER_LEN + NONCE_LEN], "c").is_err());
    }

    #[test]
    fn the_mac_key_is_the_one_installed_not_the_current_keys() {
        let old = MasterKey::from_bytes([1; 32]);
        let mac = old.secret_mac("s");
        let rotated = MasterKey::from_bytes([2; 32])
            .with_previous([[1; 32]])
            .with_secret_mac_key(*old.secret_mac_key());
        assert!(rotated.secret_matches("s", &mac));
        assert_eq!(rotated.derived_secret_mac_keys()[1], *old.secret_mac_key());
        assert!(!MasterKey::from_bytes([2; 32]).secret_matches("s", &mac));
    }

    #[test]
    fn master_key_parsing() {
        assert!(MasterKey::from_base64(&MasterKey::generate_base64()).is_ok());
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
    }
}
