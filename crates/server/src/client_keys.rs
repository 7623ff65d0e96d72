//! What the domain cannot judge of a registered public key, because it takes
//! the crypto library: that an EC point lies on P-256 and an Ed25519 key
//! decodes. A key that fails would never verify an assertion; refusing it at
//! registration tells the admin now, beside the field, instead of leaving a
//! partner with `invalid_client` and no reason.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey};
use casebook_domain::client_keys::{ClientKeySet, KeyMaterial};
use casebook_domain::{ErrorCode, FieldError, ValidationErrors};

/// Every key of `set` that the crypto library refuses, as `field` errors.
pub fn usable(set: &ClientKeySet, field: &'static str) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    for (at, key) in set.keys().iter().enumerate() {
        let refused = match &key.material {
            KeyMaterial::P256 { x, y } => {
                // SEC 1 §2.3.3: the uncompressed point.
                let point: Vec<u8> = [&[4u8][..], x, y].concat();
                ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                    .is_err()
                    .then_some("its x and y are not a point on P-256")
            }
            KeyMaterial::Ed25519 { x } => ParsedPublicKey::new(&ED25519, x)
                .is_err()
                .then_some("its x is not an Ed25519 public key"),
            // The modulus and exponent were checked for size and shape; any
            // such pair is an RSA public key.
            KeyMaterial::Rsa { .. } => None,
        };
        if let Some(why) = refused {
            errors.push(FieldError::new(
                field,
                ErrorCode::InvalidValue,
                format!("key {} (kid {:?}): {why}", at + 1, key.kid),
            ));
        }
    }
    errors.finish(|| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    fn p256(x: &[u8], y: &[u8]) -> ClientKeySet {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        ClientKeySet::parse(&json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "e", "x": b64(x), "y": b64(y)}]}))
            .expect("the domain reads it")
    }

    #[test]
    fn a_point_on_the_curve_is_usable_and_one_off_it_is_refused() {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key");
        let point = pair.public_key().as_ref();
        assert!(usable(&p256(&point[1..33], &point[33..]), "jwks").is_ok());
        let mut y = point[33..].to_vec();
        y[31] ^= 1;
        let refused = usable(&p256(&point[1..33], &y), "jwks").unwrap_err();
        assert!(refused.has("jwks", ErrorCode::InvalidValue), "{refused:?}");
    }
}
