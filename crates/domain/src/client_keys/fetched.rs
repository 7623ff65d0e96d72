//! A JWK Set fetched from a `jwks_uri`: read more leniently than one an
//! admin registers, since a published set (an identity provider's, a
//! partner's) may well carry keys for encryption, curves we do not verify
//! with, or keys without a `kid`. Those are skipped, not fatal: refusing the
//! whole set for one of them would lock out every key we *can* use. A key
//! with private members is different: it means the publisher leaked a
//! secret, and nothing from such a set is trusted.

use super::{ClientKey, ClientKeySet, Origin, PRIVATE_MEMBERS, key};
use crate::validation::{ErrorCode, ValidationErrors};
use serde_json::Value;
use std::collections::HashMap;

/// Why a fetched set gave no keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FetchedSetError {
    #[error("the document is not a JWK Set (an object whose \"keys\" is a list)")]
    NotASet,
    #[error("the set publishes private key material; none of its keys is trusted")]
    PrivateKeyMaterial,
    #[error("the set holds no RSA, EC P-256 or Ed25519 signing key with a kid")]
    NoUsableKey,
}

/// What a fetched set gave: the keys to verify with, and the ones dropped
/// because they must never verify anything (a small-order Ed25519 point, an
/// RSA exponent other than 65537, …), which the publisher should hear of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedSet {
    pub keys: ClientKeySet,
    /// One sentence per dropped key ("key 2 (kid \"a\") is an Ed25519 point of small order, …").
    pub dropped_weak: Vec<String>,
}

impl ClientKeySet {
    /// The signing keys of a fetched set, in their order. Keys that are not
    /// for signatures, of a type or size not supported, or without a `kid`
    /// are skipped; so are all keys sharing a `kid`, since which one is meant
    /// cannot be told. Degenerate keys are dropped and named in
    /// [`FetchedSet::dropped_weak`].
    pub fn parse_fetched(value: &Value) -> Result<FetchedSet, FetchedSetError> {
        let list = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(FetchedSetError::NotASet)?;
        let leaks = |jwk: &Value| {
            jwk.as_object()
                .is_some_and(|jwk| PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)))
        };
        if list.iter().any(leaks) {
            return Err(FetchedSetError::PrivateKeyMaterial);
        }
        let mut dropped_weak = Vec::new();
        let mut usable: Vec<ClientKey> = Vec::new();
        for (at, jwk) in list.iter().enumerate() {
            let mut errors = ValidationErrors::new();
            match key(at + 1, jwk, &mut errors, Origin::Published) {
                Some(key) => usable.push(key),
                None => dropped_weak.extend(
                    errors
                        .into_errors()
                        .into_iter()
                        .filter(|e| e.code == ErrorCode::WeakKey)
                        .map(|e| match jwk.get("kid").and_then(Value::as_str) {
                            Some(kid) => format!("{} (kid {kid:?})", e.message),
                            None => e.message,
                        }),
                ),
            }
        }
        let mut uses: HashMap<&str, usize> = HashMap::new();
        for key in &usable {
            *uses.entry(key.kid.as_str()).or_default() += 1;
        }
        let keys: Vec<ClientKey> = usable
            .iter()
            .filter(|k| uses.get(k.kid.as_str()) == Some(&1))
            .cloned()
            .collect();
        if keys.is_empty() {
            return Err(FetchedSetError::NoUsableKey);
        }
        Ok(FetchedSet {
            keys: Self { keys },
            dropped_weak,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ed(kid: &str) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM"})
    }

    fn kids(value: Value) -> Result<Vec<String>, FetchedSetError> {
        ClientKeySet::parse_fetched(&value).map(|set| set.keys.keys().iter().map(|k| k.kid.clone()).collect())
    }

    #[test]
    fn degenerate_keys_are_dropped_and_named_while_certificates_are_tolerated() {
        let zero = json!({"kty": "OKP", "crv": "Ed25519", "kid": "zero", "x": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"});
        let mut with_chain = ed("chained");
        with_chain["x5c"] = json!(["MIIB"]);
        with_chain["x5t"] = json!("abc");
        let fetched = ClientKeySet::parse_fetched(&json!({"keys": [zero, ed("a"), with_chain]})).unwrap();
        let kids: Vec<&str> = fetched.keys.keys().iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids, ["a", "chained"]);
        assert_eq!(fetched.dropped_weak.len(), 1, "{:?}", fetched.dropped_weak);
        assert!(fetched.dropped_weak[0].contains("small order") && fetched.dropped_weak[0].contains("zero"));
        let only_weak = json!({"kty": "OKP", "crv": "Ed25519", "kid": "one", "x": "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"});
        assert_eq!(
            ClientKeySet::parse_fetched(&json!({"keys": [only_weak]})).unwrap_err(),
            FetchedSetError::NoUsableKey
        );
    }

    #[test]
    fn keys_we_cannot_use_are_skipped_and_the_rest_kept() {
        let p384 = json!({"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"});
        let mut enc = ed("enc");
        enc["use"] = json!("enc");
        let no_kid = json!({"kty": "OKP", "crv": "Ed25519", "x": "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM"});
        let set = json!({"keys": [p384, ed("a"), enc, no_kid, "not a key", ed("b")]});
        assert_eq!(kids(set), Ok(vec!["a".to_owned(), "b".to_owned()]));
        let many: Vec<Value> = (0..12).map(|n| ed(&format!("k{n}"))).collect();
        assert_eq!(kids(json!({ "keys": many })).map(|k| k.len()), Ok(12));
    }

    #[test]
    fn a_shared_kid_names_no_key() {
        assert_eq!(
            kids(json!({"keys": [ed("a"), ed("b"), ed("a")]})),
            Ok(vec!["b".to_owned()])
        );
    }

    #[test]
    fn what_refuses_the_whole_set() {
        let mut leaked = ed("b");
        leaked["d"] = json!("c2VjcmV0");
        assert_eq!(
            kids(json!({"keys": [ed("a"), leaked]})),
            Err(FetchedSetError::PrivateKeyMaterial)
        );
        let oct = json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0"});
        assert_eq!(
            kids(json!({"keys": [ed("a"), oct]})),
            Err(FetchedSetError::PrivateKeyMaterial)
        );
        assert_eq!(kids(json!({"keys": []})), Err(FetchedSetError::NoUsableKey));
        assert_eq!(
            kids(json!({"keys": [{"kty": "EC", "crv": "P-521"}]})),
            Err(FetchedSetError::NoUsableKey)
        );
        assert_eq!(kids(json!([ed("a")])), Err(FetchedSetError::NotASet));
        assert_eq!(kids(json!({"keys": {"a": 1}})), Err(FetchedSetError::NotASet));
    }
}
