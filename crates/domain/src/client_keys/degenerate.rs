//! Public keys that decode but must never verify anything: an Ed25519 point
//! of small order (every signature by "anyone" has a good chance to hold
//! against it, since `[k]A` collapses to a handful of values), a non-canonical
//! Ed25519 encoding, and RSA keys whose numbers say they were never made by a
//! key generator (an exponent other than 65537, an even modulus).
//!
//! One function judges every key wherever keys come in (an application's
//! `jwks`, a federated credential's, a fetched set, a DPoP proof's `jwk`), so
//! the rule cannot drift between them. It is plain byte comparison: the
//! crypto library at the server still checks that a point lies on its curve.

use super::KeyMaterial;

/// The y coordinates of the eight points of order 1, 2, 4 and 8 on
/// edwards25519 (canonical, little-endian, sign bit cleared), as libsodium's
/// `ge25519_has_small_order` lists them: 0 (order 4), 1 (the identity),
/// the two order-8 values, and p - 1 (order 2). Their other encodings
/// (y + p) are refused as non-canonical.
const SMALL_ORDER_Y: [[u8; 32]; 5] = [
    [0; 32],
    [
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf,
        0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20,
        0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
    ],
    P_MINUS_ONE,
];

/// 2^255 - 20, little-endian: the field's largest element.
const P_MINUS_ONE: [u8; 32] = {
    let mut bytes = [0xff; 32];
    bytes[0] = 0xec;
    bytes[31] = 0x7f;
    bytes
};

/// The only RSA public exponent accepted: what every key generator in use
/// picks. A small one (3) invites the attacks of the Bleichenbacher family on
/// lenient PKCS #1 v1.5 verifiers; any other is a hand-made key.
pub const RSA_EXPONENT: [u8; 3] = [0x01, 0x00, 0x01];

/// Why `material` must not be trusted, or `None` when it may be. The
/// sentence completes "key N …" in a field error or a log line.
pub fn degenerate(material: &KeyMaterial) -> Option<&'static str> {
    match material {
        KeyMaterial::Ed25519 { x } => {
            let Ok(encoded) = <[u8; 32]>::try_from(x.as_slice()) else {
                return Some("is not a 32-byte Ed25519 public key");
            };
            let mut y = encoded;
            y[31] &= 0x7f;
            if !canonical(&y) {
                Some("is not a canonical Ed25519 encoding (its y is not reduced modulo p)")
            } else if SMALL_ORDER_Y.contains(&y) {
                Some("is an Ed25519 point of small order, which any signature may match")
            } else {
                None
            }
        }
        KeyMaterial::Rsa { n, e } => {
            if e.as_slice() != RSA_EXPONENT {
                Some("has an RSA exponent other than 65537")
            } else if n.last().is_none_or(|low| low % 2 == 0) {
                Some("has an even RSA modulus, which no key generator makes")
            } else {
                None
            }
        }
        // The crypto library refuses a point off the curve; the identity has
        // no affine encoding, so P-256 has nothing for this table.
        KeyMaterial::P256 { .. } => None,
    }
}

/// Whether a little-endian y (sign bit cleared) is below p = 2^255 - 19.
fn canonical(y: &[u8; 32]) -> bool {
    // Only the values from p to 2^255 - 1 are not: top byte 0x7f, the
    // thirty in between 0xff, and the lowest at least 0xed.
    !(y[31] == 0x7f && y[1..31].iter().all(|b| *b == 0xff) && y[0] >= 0xed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ed(bytes: [u8; 32]) -> Option<&'static str> {
        degenerate(&KeyMaterial::Ed25519 { x: bytes.to_vec() })
    }

    fn with_low(low: u8) -> [u8; 32] {
        let mut bytes = [0; 32];
        bytes[0] = low;
        bytes
    }

    fn p_plus(k: u8) -> [u8; 32] {
        let mut bytes = P_MINUS_ONE;
        bytes[0] += 1 + k;
        bytes
    }

    #[test]
    fn ed25519_table() {
        let signed = |mut bytes: [u8; 32]| {
            bytes[31] |= 0x80;
            bytes
        };
        let cases: &[(&str, [u8; 32], bool)] = &[
            ("all zero (y = 0, order 4)", [0; 32], true),
            ("all zero with the sign bit", signed([0; 32]), true),
            ("identity (y = 1)", with_low(1), true),
            ("identity with the sign bit", signed(with_low(1)), true),
            ("order 8, first", SMALL_ORDER_Y[2], true),
            ("order 8, second, signed", signed(SMALL_ORDER_Y[3]), true),
            ("p - 1 (order 2)", P_MINUS_ONE, true),
            ("p, another spelling of 0", p_plus(0), true),
            ("p + 1, another spelling of 1", p_plus(1), true),
            ("2^255 - 1, not reduced", p_plus(18), true),
            ("y = 2", with_low(2), false),
            ("y = 3 repeated", [3; 32], false),
            ("p - 2", {
                let mut b = P_MINUS_ONE;
                b[0] -= 1;
                b
            }, false),
        ];
        for (name, bytes, refused) in cases {
            assert_eq!(ed(*bytes).is_some(), *refused, "{name}");
        }
    }

    #[test]
    fn rsa_table() {
        let n_odd = vec![0xc5; 256];
        let mut n_even = n_odd.clone();
        n_even[255] = 0xc4;
        let rsa = |n: &Vec<u8>, e: &[u8]| {
            degenerate(&KeyMaterial::Rsa {
                n: n.clone(),
                e: e.to_vec(),
            })
        };
        assert_eq!(rsa(&n_odd, &RSA_EXPONENT), None);
        assert!(rsa(&n_odd, &[3]).is_some(), "e = 3");
        assert!(rsa(&n_odd, &[0x01, 0x00, 0x03]).is_some(), "e = 65539");
        assert!(rsa(&n_odd, &[0x01, 0x00, 0x00, 0x01]).is_some(), "e = 2^24 + 1");
        assert!(rsa(&n_even, &RSA_EXPONENT).is_some(), "even modulus");
    }
}
