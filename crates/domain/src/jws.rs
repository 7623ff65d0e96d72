//! A compact JWS (RFC 7515 §7.1) read but not trusted: what a client
//! assertion, an outside workload's token and the server's own access
//! tokens have in common. The signature is verified by the server with the
//! key [`SignedJwt::key`] picks (or, for its own tokens, the signing key
//! the `kid` names); nothing here decides whether to believe the claims.
//! Writing one is [`crate::jose`]'s.
//!
//! Reading is strict: three base64url parts without padding, a JSON header
//! and JSON claims with no member given twice at any depth (two parsers that
//! keep different copies of a repeated member would judge different tokens),
//! no `crit` member at all (not even `null`: no extension is understood
//! here), and one of the four asymmetric algorithms.

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
}

/// A token whose claims read as `C`, not yet verified. Its `Debug` shows
/// the algorithm and key id only: the parts would rebuild a bearer token.
pub struct SignedJwt<'a, C> {
    signing_input: &'a str,
    signature: Vec<u8>,
    alg: AssertionAlg,
    kid: Option<String>,
    typ: Option<String>,
    /// The header's `jwk`, kept only by a DPoP proof's reading: the key
    /// the proof says it is signed with (RFC 9449 §4.2).
    jwk: Option<Value>,
    claims: C,
}

/// One part: a JSON object read with every member unique at every depth,
/// then into `T`. Reading into `T` straight away would let a struct's reader
/// skip a repeated member it does not know.
fn part<T: DeserializeOwned>(encoded: &str) -> Result<(T, Map<String, Value>), Unreadable> {
    let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| Unreadable::Malformed)?;
    let Strict(value) = serde_json::from_slice(&bytes).map_err(|_| Unreadable::Malformed)?;
    let Value::Object(members) = value else {
        return Err(Unreadable::Malformed);
    };
    let read = T::deserialize(Value::Object(members.clone())).map_err(|_| Unreadable::Malformed)?;
    Ok((read, members))
}

impl<'a, C: DeserializeOwned> SignedJwt<'a, C> {
    pub fn parse(compact: &'a str) -> Result<Self, Unreadable> {
        let mut parts = compact.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Unreadable::Malformed);
        };
        let (header, header_members): (Header, _) = part(header)?;
        let (claims, _): (C, _) = part(claims)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| Unreadable::Malformed)?;
        if header_members.contains_key("crit") {
            return Err(Unreadable::CriticalHeader);
        }
        let alg = AssertionAlg::parse(&header.alg).ok_or(Unreadable::Algorithm)?;
        let signing_input = &compact[..compact.rfind('.').unwrap_or(0)];
        let typ = header_members.get("typ").and_then(Value::as_str).map(str::to_owned);
        let jwk = header_members.get("jwk").cloned();
        Ok(Self {
            signing_input,
            signature,
            alg,
            kid: header.kid,
            typ,
            jwk,
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

    /// The header's `typ`, when it is a string.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// The header's `jwk` member, as sent.
    pub fn jwk(&self) -> Option<&Value> {
        self.jwk.as_ref()
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

/// The most characters a `jti` may have: it is a key of the shared ledger.
pub const MAX_JTI_CHARS: usize = 256;

/// Whether `jti` may be spent in the shared ledger: present, bounded, and
/// free of control characters (a NUL fails a whole PostgreSQL batch, and
/// with it every other client's grant written beside it). Client
/// assertions and DPoP proofs keep this one rule.
pub fn acceptable_jti(jti: &str) -> bool {
    !jti.is_empty() && jti.chars().count() <= MAX_JTI_CHARS && !jti.chars().any(char::is_control)
}

/// A JSON object in which no member is given twice, at any depth.
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
        match Strict::deserialize(deserializer)?.0 {
            Value::Object(members) => Ok(Self(members)),
            _ => Err(de::Error::custom("expected a JSON object")),
        }
    }
}

/// Any JSON value, read as serde_json reads one except that an object
/// giving a member twice is an error wherever it stands.
#[derive(Debug)]
pub struct Strict(pub Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json never hands over a non-finite number.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(de::Error::custom(format_args!("{name:?} is given twice")));
            }
            let Strict(value) = map.next_value()?;
            members.insert(name, value);
        }
        Ok(Value::Object(members))
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
    fn a_member_given_twice_anywhere_is_unreadable() {
        let read = |header: &str, claims: &str| SignedJwt::<UniqueMembers>::parse(&token(header, claims)).err();
        let cases = [
            ("an unknown header member", r#"{"alg":"ES256","x":1,"x":2}"#, r#"{"sub":"a"}"#),
            ("a nested header member", r#"{"alg":"ES256","jwk":{"kty":"EC","kty":"RSA"}}"#, r#"{"sub":"a"}"#),
            ("a nested claim", r#"{"alg":"ES256"}"#, r#"{"k":{"sub":"a","sub":"b"}}"#),
            ("inside a list", r#"{"alg":"ES256"}"#, r#"{"k":[{"a":1,"a":1}]}"#),
        ];
        for (why, header, claims) in cases {
            assert_eq!(read(header, claims), Some(Unreadable::Malformed), "{why}");
        }
        // A struct's reader (a client assertion's claims) sees the same rule
        // for the members it does not know.
        #[derive(Debug, Deserialize)]
        struct Known {
            #[allow(dead_code)]
            sub: String,
        }
        let repeated_unknown = token(r#"{"alg":"ES256"}"#, r#"{"sub":"a","extra":1,"extra":2}"#);
        assert_eq!(
            SignedJwt::<Known>::parse(&repeated_unknown).err(),
            Some(Unreadable::Malformed)
        );
    }

    #[test]
    fn crit_is_refused_whatever_its_value() {
        for crit in ["null", "[]", r#"["exp"]"#] {
            let t = token(&format!(r#"{{"alg":"ES256","crit":{crit}}}"#), r#"{"sub":"a"}"#);
            assert_eq!(
                SignedJwt::<UniqueMembers>::parse(&t).err(),
                Some(Unreadable::CriticalHeader),
                "crit = {crit}"
            );
        }
    }

    #[test]
    fn numbers_and_nesting_read_as_serde_json_reads_them() {
        let claims = r#"{"n":-5,"u":18446744073709551615,"f":1.5,"b":true,"z":null,"l":[1,"a",{"k":[]}]}"#;
        let t = token(r#"{"alg":"EdDSA"}"#, claims);
        let jwt = SignedJwt::<UniqueMembers>::parse(&t).unwrap();
        let expected: Value = serde_json::from_str(claims).unwrap();
        assert_eq!(Value::Object(jwt.claims().0.clone()), expected);
    }

    #[test]
    fn nested_objects_may_repeat_names_of_the_outer_one() {
        let t = token(r#"{"alg":"EdDSA"}"#, r#"{"sub":"a","k":{"sub":"b"}}"#);
        let jwt = SignedJwt::<UniqueMembers>::parse(&t).unwrap();
        assert_eq!(jwt.claims()["k"], json!({"sub": "b"}));
    }
}
