//! The public keys client JWTs are verified with: the registered set or the
//! one fetched from a `jwks_uri`, the one signature check, and what the
//! domain cannot judge of a registered key because it takes the crypto
//! library: that an EC point lies on P-256 and an Ed25519 key
//! decodes. A key that fails would never verify an assertion; refusing it at
//! registration tells the admin now, beside the field, instead of leaving a
//! partner with `invalid_client` and no reason.

use crate::state::AppState;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RsaPublicKeyComponents, UnparsedPublicKey,
};
use casebook_domain::client_keys::{AssertionAlg, ClientKey, ClientKeySet, KeyMaterial, KeySource, degenerate};
use casebook_domain::{ErrorCode, FieldError, ValidationErrors};
use std::sync::Arc;

/// SEC 1 §2.3.3: a P-256 point's uncompressed encoding, as the crypto
/// library takes it.
fn p256_point(x: &[u8], y: &[u8]) -> Vec<u8> {
    [&[4u8][..], x, y].concat()
}

/// Every key of `set` that the crypto library refuses, as `field` errors.
pub fn usable(set: &ClientKeySet, field: &'static str) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    for (at, key) in set.keys().iter().enumerate() {
        let refused = match &key.material {
            KeyMaterial::P256 { x, y } => ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, p256_point(x, y))
                .is_err()
                .then_some("its x and y are not a point on P-256"),
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

/// Whether `signature` is `key`'s, under `alg`, over `message`. The pairing
/// of algorithm and key type is checked again here: nothing else verifies.
pub fn signature_holds(key: &ClientKey, alg: AssertionAlg, message: &[u8], signature: &[u8]) -> bool {
    // Registration refuses these now; a key stored before that rule existed
    // must not verify either.
    if degenerate(&key.material).is_some() {
        return false;
    }
    match (&key.material, alg) {
        (KeyMaterial::Rsa { n, e }, AssertionAlg::Rs256 | AssertionAlg::Ps256) => {
            let params = if alg == AssertionAlg::Rs256 {
                &signature::RSA_PKCS1_2048_8192_SHA256
            } else {
                &signature::RSA_PSS_2048_8192_SHA256
            };
            RsaPublicKeyComponents { n, e }
                .verify(params, message, signature)
                .is_ok()
        }
        (KeyMaterial::P256 { x, y }, AssertionAlg::Es256) => {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, p256_point(x, y))
                .verify(message, signature)
                .is_ok()
        }
        (KeyMaterial::Ed25519 { x }, AssertionAlg::EdDsa) => UnparsedPublicKey::new(&signature::ED25519, x)
            .verify(message, signature)
            .is_ok(),
        _ => false,
    }
}

/// The keys to verify with: the registered set, or the one at the URL. A
/// failed fetch is the same `invalid_client` as any other failure (the contract, "OAuth endpoints": any
/// failure is), rather than a 503: a caller who cannot authenticate learns
/// nothing of the client's key host, and the fetcher has logged the cause.
pub(super) async fn keys_of<'a>(state: &AppState, source: &'a KeySource, kid: Option<&str>) -> Option<Keys<'a>> {
    match source {
        KeySource::Inline(set) => Some(Keys::Registered(set)),
        KeySource::Uri(uri) => state.jwks().keys(uri, kid).await.ok().map(Keys::Fetched),
    }
}

/// A key set borrowed from the client record, or shared with the fetcher's cache.
pub(super) enum Keys<'a> {
    Registered(&'a ClientKeySet),
    Fetched(Arc<ClientKeySet>),
}

impl std::ops::Deref for Keys<'_> {
    type Target = ClientKeySet;
    fn deref(&self) -> &ClientKeySet {
        match self {
            Self::Registered(set) => set,
            Self::Fetched(set) => set,
        }
    }
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
