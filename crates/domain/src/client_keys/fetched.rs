//! A JWK Set fetched from a `jwks_uri`: read more leniently than one an
//! admin registers, since a published set (an identity provider's, a
//! partner's) may well carry keys for encryption, curves we do not verify
//! with, or keys without a `kid`. Those are skipped, not fatal: refusing the
//! whole set for one of them would lock out every key we *can* use. A key
//! with private members is different: it means the publisher leaked a
//! secret, and nothing from such a set is trusted.

use super::{ClientKey, ClientKeySet, PRIVATE_MEMBERS, key};
use crate::validation::ValidationErrors;
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

impl ClientKeySet {
    /// The signing keys of a fetched set, in their order. Keys that are not
    /// for signatures, of a type or size not supported, or without a `kid`
    /// are skipped; so are all keys sharing a `kid`, since which one is meant
    /// cannot be told.
    pub fn parse_fetched(value: &Value) -> Result<Self, FetchedSetError> {
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
        let usable: Vec<ClientKey> = list
            .iter()
            .enumerate()
            .filter_map(|(at, jwk)| key(at + 1, jwk, &mut ValidationErrors::new()))
            .collect();
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
        Ok(Self { keys })
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
        ClientKeySet::parse_fetched(&value).map(|set| set.keys().iter().map(|k| k.kid.clone()).collect())
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
