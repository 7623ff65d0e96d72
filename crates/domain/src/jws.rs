//! A compact JWS (RFC 7515 §7.1) read but not trusted: what a client
//! assertion and an outside workload's token have in common. The signature
//! is verified by the server with the key [`SignedJwt::key`] picks; nothing
//! here decides whether to believe the claims.
//!
//! Reading is strict: three base64url parts without padding, a JSON header
//! and JSON claims with no top-level member given twice (two parsers that
//! keep different copies of a repeated claim would judge different tokens;
//! inside a nested object the last copy stands, as in serde_json), no
//! `crit` extension, and one of the four asymmetric algorithms.

use crate::client_keys::{AssertionAlg, ClientKey, ClientKeySet};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Why a token could not be read, or its key not chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    /// Not a compact JWS with a JSON header and JSON claims of the right types.
    Malformed,
    /// A `crit` header: no extension is understood here.
    CriticalHeader,
    /// An `alg` outside RS256, PS256, ES256, EdDSA (`none` and HMAC included).
    Algorithm,
    /// No registered key has the `kid`, or several keys and no `kid`.
    UnknownKey,
    /// The key is not of the kind the `alg` verifies with.
    KeyMismatch,
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// A token whose claims read as `C`, not yet verified. Its `Debug` shows
/// the algorithm and key id only: the parts would rebuild a bearer token.
pub struct SignedJwt<'a, C> {
    signing_input: &'a str,
    signature: Vec<u8>,
    alg: AssertionAlg,
    kid: Option<String>,
    claims: C,
}

/// One part, read straight into `T`. A struct's derived reader refuses a
/// repeated member of its own; claims read as a whole map go through
/// [`UniqueMembers`], which refuses any.
fn part<T: DeserializeOwned>(encoded: &str) -> Result<T, Unreadable> {
    let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| Unreadable::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| Unreadable::Malformed)
}

impl<'a, C: DeserializeOwned> SignedJwt<'a, C> {
    pub fn parse(compact: &'a str) -> Result<Self, Unreadable> {
        let mut parts = compact.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Unreadable::Malformed);
        };
        let header: Header = part(header)?;
        let claims: C = part(claims)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| Unreadable::Malformed)?;
        if header.crit.is_some() {
            return Err(Unreadable::CriticalHeader);
        }
        let alg = AssertionAlg::parse(&header.alg).ok_or(Unreadable::Algorithm)?;
        let signing_input = &compact[..compact.rfind('.').unwrap_or(0)];
        Ok(Self {
            signing_input,
            signature,
            alg,
            kid: header.kid,
            claims,
        })
    }
}

impl<C> fmt::Debug for SignedJwt<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedJwt")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl<C> SignedJwt<'_, C> {
    pub fn alg(&self) -> AssertionAlg {
        self.alg
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// What the signature covers: the first two parts, as sent.
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The claims, not yet believed.
    pub fn claims(&self) -> &C {
        &self.claims
    }

    /// The registered key to verify with: the `alg` must be one that key
    /// verifies with, so a public key is never used as an HMAC secret nor an
    /// RSA key under an EC algorithm.
    pub fn key<'k>(&self, keys: &'k ClientKeySet) -> Result<&'k ClientKey, Unreadable> {
        let key = keys.select(self.kid.as_deref()).ok_or(Unreadable::UnknownKey)?;
        if key.accepts(self.alg) {
            Ok(key)
        } else {
            Err(Unreadable::KeyMismatch)
        }
    }
}

/// A JSON object in which no top-level member is given twice.
#[derive(Debug, Clone, PartialEq)]
pub struct UniqueMembers(Map<String, Value>);

impl std::ops::Deref for UniqueMembers {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Map<String, Value> {
        &self.0
    }
}

impl<'de> Deserialize<'de> for UniqueMembers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = UniqueMembers;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueMembers, A::Error> {
                let mut members = Map::new();
                while let Some((name, value)) = map.next_entry::<String, Value>()? {
                    if members.contains_key(&name) {
                        return Err(de::Error::custom(format_args!("{name:?} is given twice")));
                    }
                    members.insert(name, value);
                }
                Ok(UniqueMembers(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encode(raw: &str) -> String {
        URL_SAFE_NO_PAD.encode(raw)
    }

    fn token(header: &str, claims: &str) -> String {
        format!("{}.{}.{}", encode(header), encode(claims), encode("sig"))
    }

    #[test]
    fn a_member_given_twice_is_unreadable_in_the_header_and_in_the_claims() {
        let read = |t: &str| SignedJwt::<UniqueMembers>::parse(t).map(|j| j.claims().0.clone());
        assert!(read(&token(r#"{"alg":"ES256"}"#, r#"{"sub":"a"}"#)).is_ok());
        assert_eq!(
            read(&token(r#"{"alg":"ES256"}"#, r#"{"sub":"a","sub":"b"}"#)).err(),
            Some(Unreadable::Malformed)
        );
        assert_eq!(
            read(&token(r#"{"alg":"ES256","alg":"none"}"#, r#"{"sub":"a"}"#)).err(),
            Some(Unreadable::Malformed)
        );
    }

    #[test]
    fn nested_objects_may_repeat_names_of_the_outer_one() {
        let t = token(r#"{"alg":"EdDSA"}"#, r#"{"sub":"a","k":{"sub":"b"}}"#);
        let jwt = SignedJwt::<UniqueMembers>::parse(&t).unwrap();
        assert_eq!(jwt.claims()["k"], json!({"sub": "b"}));
    }
}
