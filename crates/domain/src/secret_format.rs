//! The scannable client secret format (the contract's "Client secrets"): `cbs_`, 44
//! random characters of `0-9A-Za-z`, then 6 more that write the CRC32 (IEEE)
//! of everything before them. A secret scanner finds it with
//! `cbs_[0-9A-Za-z]{50}` and confirms it offline with the checksum, so a
//! leaked secret is reported with few false alarms; a partner's typo is
//! caught before it reaches the token endpoint, and there without a lookup.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub const PREFIX: &str = "cbs_";
/// Random characters: 44 base-62 digits carry 261 bits.
pub const RANDOM_CHARS: usize = 44;
pub const CHECKSUM_CHARS: usize = 6;
pub const LEN: usize = PREFIX.len() + RANDOM_CHARS + CHECKSUM_CHARS;
/// Random bytes behind the 44 characters: 264 bits, reduced modulo 62^44,
/// which leaves every value of the result at least 4 and at most 5
/// preimages, so the secret holds more than 261 bits of entropy.
pub const RANDOM_BYTES: usize = 33;

/// The secrets issued before the scannable format: `cbs_` and 32 random
/// bytes in unpadded base64url. They keep working.
const LEGACY_LEN: usize = PREFIX.len() + 43;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// What a presented secret looks like, read offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The scannable format with a checksum that holds.
    Scannable,
    /// The format issued before: only storage can tell whether it is right.
    Legacy,
    /// Neither: mistyped, truncated, or a checksum that fails. No secret
    /// this service issued has this shape, so no lookup can accept it.
    Mistyped,
}

/// The secret made of `random`: what the server issues.
pub fn encode(random: [u8; RANDOM_BYTES]) -> String {
    let mut number = random;
    let mut digits = [0u8; RANDOM_CHARS];
    // Long division by 62, least significant digit first.
    for digit in digits.iter_mut().rev() {
        let mut remainder: u32 = 0;
        for byte in number.iter_mut() {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = (value / 62) as u8;
            remainder = value % 62;
        }
        *digit = ALPHABET[remainder as usize];
    }
    let mut secret = String::with_capacity(LEN);
    secret.push_str(PREFIX);
    secret.extend(digits.iter().map(|&d| char::from(d)));
    let checksum = checksum(&secret);
    secret.push_str(&checksum);
    secret
}

/// The six characters that write the CRC32 of `body`, most significant first.
fn checksum(body: &str) -> String {
    let mut value = crc32fast::hash(body.as_bytes());
    let mut digits = [b'0'; CHECKSUM_CHARS];
    for digit in digits.iter_mut().rev() {
        *digit = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    digits.iter().map(|&d| char::from(d)).collect()
}

/// Reads `raw` offline: whether it can be a secret this service issued.
pub fn shape(raw: &str) -> Shape {
    let Some(rest) = raw.strip_prefix(PREFIX) else {
        return Shape::Mistyped;
    };
    if raw.len() == LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        let (body, sum) = raw.split_at(LEN - CHECKSUM_CHARS);
        return if checksum(body) == sum {
            Shape::Scannable
        } else {
            Shape::Mistyped
        };
    }
    // base64 refuses a last character with its unused bits set, so only
    // the encodings of exactly 32 bytes pass.
    let legacy = raw.len() == LEGACY_LEN && URL_SAFE_NO_PAD.decode(rest).is_ok_and(|bytes| bytes.len() == 32);
    if legacy { Shape::Legacy } else { Shape::Mistyped }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a secret scanner matches: `cbs_[0-9A-Za-z]{50}`.
    fn scanner_matches(candidate: &str) -> bool {
        candidate
            .strip_prefix("cbs_")
            .is_some_and(|rest| rest.len() == 50 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
    }

    #[test]
    fn the_checksum_is_the_crc32_of_the_rest_in_base62() {
        let secret = encode([0; RANDOM_BYTES]);
        assert_eq!(&secret[..48], format!("cbs_{}", "0".repeat(44)));
        let crc = crc32fast::hash(&secret.as_bytes()[..48]);
        let decoded = secret[48..].bytes().fold(0u64, |n, b| {
            n * 62 + ALPHABET.iter().position(|&c| c == b).unwrap() as u64
        });
        assert_eq!(decoded, u64::from(crc));
        // The largest input writes 44 digits, none beyond the alphabet.
        assert_eq!(shape(&encode([0xff; RANDOM_BYTES])), Shape::Scannable);
    }

    /// Vectors shared with the TypeScript SDK's tests. Read by tests only:
    /// the file is outside the crate, so never by the packaged library.
    const VECTORS: &str = include_str!("../../../sdks/fixtures/secret-format.json");

    #[test]
    fn the_shared_vectors_read_as_their_shape() {
        let fixture: serde_json::Value = serde_json::from_str(VECTORS).expect("the fixture is JSON");
        let vectors = fixture["secrets"].as_array().expect("secrets");
        assert!(vectors.len() > 20, "the fixture was read whole");
        for vector in vectors {
            let secret = vector["secret"].as_str().expect("secret");
            let expected = match vector["shape"].as_str().expect("shape") {
                "scannable" => Shape::Scannable,
                "legacy" => Shape::Legacy,
                "mistyped" => Shape::Mistyped,
                other => panic!("a shape the fixture does not define: {other}"),
            };
            assert_eq!(shape(secret), expected, "{secret:?}");
        }
        // Every scannable vector is one the server could issue.
        assert!(vectors.iter().any(|v| v["secret"] == encode([0; RANDOM_BYTES])));
    }

    #[test]
    fn secrets_of_the_older_format_are_told_apart_from_typos() {
        let legacy = format!("cbs_{}", URL_SAFE_NO_PAD.encode([7u8; 32]));
        assert_eq!(shape(&legacy), Shape::Legacy);
        for bad in ["", "cbs_", "cbs_short", "cb_x", &legacy[..legacy.len() - 1]] {
            assert_eq!(shape(bad), Shape::Mistyped, "{bad:?}");
        }
        // Non-zero padding bits in the last character: never an encoding of 32 bytes.
        let mut padded = legacy.clone();
        padded.pop();
        padded.push('B');
        assert!(URL_SAFE_NO_PAD.decode(&padded[4..]).is_err());
        assert_eq!(shape(&padded), Shape::Mistyped);
    }

    proptest! {
        #[test]
        fn every_secret_is_scannable_and_found_by_the_scanners_pattern(random in proptest::array::uniform::<_, RANDOM_BYTES>(any::<u8>())) {
            let secret = encode(random);
            prop_assert_eq!(secret.len(), LEN);
            prop_assert!(scanner_matches(&secret));
            prop_assert_eq!(shape(&secret), Shape::Scannable);
        }

        /// Any one character changed, to any other of the alphabet, is caught offline.
        #[test]
        fn a_one_character_change_is_caught(
            random in proptest::array::uniform::<_, RANDOM_BYTES>(any::<u8>()),
            at in 4usize..LEN,
            replacement in 0usize..62,
        ) {
            let secret = encode(random);
            let mut bytes = secret.clone().into_bytes();
            prop_assume!(bytes[at] != ALPHABET[replacement]);
            bytes[at] = ALPHABET[replacement];
            let typo = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(shape(&typo), Shape::Mistyped);
        }

        /// Different randomness, different secrets: the encoding loses nothing
        /// that the reduction modulo 62^44 does not.
        #[test]
        fn distinct_randomness_gives_distinct_secrets(a in proptest::array::uniform::<_, RANDOM_BYTES>(any::<u8>()), b in proptest::array::uniform::<_, RANDOM_BYTES>(any::<u8>())) {
            prop_assume!(a[1..] != b[1..]);
            prop_assert_ne!(&encode(a)[..48], &encode(b)[..48]);
        }
    }
}
