//! A `private_key_jwt` client assertion (RFC 7523 §3, as tightened by
//! draft-ietf-oauth-rfc7523bis), read and judged without cryptography: the
//! server verifies the signature with the key [`Assertion::key`] picks, and
//! records the `jti` only once the signature holds.
//!
//! Only the compact serialization is read, and strictly: three base64url
//! parts without padding, JSON objects with no repeated claims, integer
//! times. Each refusal has its own reason for tests and counters; the client
//! is told `invalid_client` whatever the reason.

use crate::client_keys::{AssertionAlg, ClientKey, ClientKeySet};
use crate::jws::{SignedJwt, Unreadable};
use crate::time::Timestamp;
use crate::token_request::{Form, ProtocolError};
use serde::Deserialize;
use serde_json::Value;

/// `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// An assertion lives at most this long, counted from now and from its `iat`.
pub const MAX_LIFETIME_SECS: i64 = 300;
pub use crate::jws::MAX_JTI_CHARS;
/// How far ahead of our clock a client's `iat` or `nbf` may be.
pub const CLOCK_SKEW_SECS: i64 = 60;

/// Why an assertion was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
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
    BadSignature,
    /// `iss` and `sub` are not both the client ID.
    Issuer,
    /// `aud` is not exactly the issuer identifier, as its only value.
    Audience,
    Expired,
    /// `exp` more than five minutes after now or after `iat`.
    TooLong,
    /// `iat` or `nbf` ahead of the clock.
    NotYetValid,
    /// `jti` missing, empty, too long or holding control characters.
    Jti,
    /// The `jti` was used before.
    Replayed,
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Value,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    jti: String,
}

/// An assertion read but not yet trusted.
#[derive(Debug)]
pub struct Assertion<'a>(SignedJwt<'a, Claims>);

impl From<Unreadable> for Refused {
    fn from(why: Unreadable) -> Self {
        match why {
            Unreadable::Malformed => Self::Malformed,
            Unreadable::CriticalHeader => Self::CriticalHeader,
            Unreadable::Algorithm => Self::Algorithm,
            Unreadable::UnknownKey => Self::UnknownKey,
            Unreadable::KeyMismatch => Self::KeyMismatch,
        }
    }
}

/// What an accepted assertion commits the server to remember: its `jti`,
/// single-use until `exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub jti: String,
    pub exp: i64,
}

impl<'a> Assertion<'a> {
    pub fn parse(compact: &'a str) -> Result<Self, Refused> {
        Ok(Self(SignedJwt::parse(compact)?))
    }

    /// The client the assertion speaks for, not yet believed: where to look
    /// up keys when the form names no `client_id`.
    pub fn issuer(&self) -> &str {
        &self.0.claims().iss
    }

    pub fn alg(&self) -> AssertionAlg {
        self.0.alg()
    }

    /// What the signature covers: the first two parts, as sent.
    pub fn signing_input(&self) -> &[u8] {
        self.0.signing_input()
    }

    pub fn signature(&self) -> &[u8] {
        self.0.signature()
    }

    /// The `kid` the header names, if any: what a fetched key set must hold.
    pub fn kid(&self) -> Option<&str> {
        self.0.kid()
    }

    pub fn key<'k>(&self, keys: &'k ClientKeySet) -> Result<&'k ClientKey, Refused> {
        Ok(self.0.key(keys)?)
    }

    /// The claims' rules, for `client_id` at `now`. Pure: the server runs it
    /// before fetching keys, and trusts the result only once the signature holds.
    pub fn check(&self, client_id: &str, issuer: &str, now: Timestamp) -> Result<Accepted, Refused> {
        check_claims(self.0.claims(), client_id, issuer, now.unix_secs())
    }
}

fn check_claims(claims: &Claims, client_id: &str, issuer: &str, now: i64) -> Result<Accepted, Refused> {
    if claims.iss != client_id || claims.sub != client_id {
        return Err(Refused::Issuer);
    }
    // rfc7523bis §4: the issuer identifier, alone; a token endpoint URL or a
    // list naming others lets an assertion made for one server open another.
    let audience_ok = match &claims.aud {
        Value::String(aud) => aud == issuer,
        Value::Array(auds) => matches!(auds.as_slice(), [Value::String(aud)] if aud == issuer),
        _ => false,
    };
    if !audience_ok {
        return Err(Refused::Audience);
    }
    if claims.exp <= now {
        return Err(Refused::Expired);
    }
    let limit = now.saturating_add(MAX_LIFETIME_SECS);
    let from_iat = claims.iat.map_or(limit, |iat| iat.saturating_add(MAX_LIFETIME_SECS));
    if claims.exp > limit || claims.exp > from_iat {
        return Err(Refused::TooLong);
    }
    let ahead = now.saturating_add(CLOCK_SKEW_SECS);
    if claims.iat.is_some_and(|iat| iat > ahead) || claims.nbf.is_some_and(|nbf| nbf > ahead) {
        return Err(Refused::NotYetValid);
    }
    let jti = &claims.jti;
    if !crate::jws::acceptable_jti(jti) {
        return Err(Refused::Jti);
    }
    Ok(Accepted {
        jti: jti.clone(),
        exp: claims.exp,
    })
}

#[cfg(test)]
mod tests;

/// An assertion as a request presents it: the form's `client_id`, if any,
/// must then be the assertion's `iss`. Its `Debug` never shows the JWT.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Presented<'f> {
    pub client_id: Option<&'f str>,
    pub assertion: &'f str,
}

impl std::fmt::Debug for Presented<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presented")
            .field("client_id", &self.client_id)
            .field("assertion", &"[redacted]")
            .finish()
    }
}

/// RFC 7521 §4.2: `client_assertion_type` and `client_assertion`, with no
/// other credential beside them. `Ok(None)` when the request carries neither.
pub fn presented<'f>(authorization: &[&[u8]], form: &'f Form) -> Result<Option<Presented<'f>>, ProtocolError> {
    let kind = form.get("client_assertion_type");
    let assertion = form.get("client_assertion");
    if kind.is_none() && assertion.is_none() {
        return Ok(None);
    }
    if !authorization.is_empty() || form.get("client_secret").is_some() {
        return Err(ProtocolError::invalid_request(
            "the client authenticated twice (a client assertion and a secret); use exactly one",
        ));
    }
    match (kind, assertion) {
        (Some(ASSERTION_TYPE), Some(assertion)) => Ok(Some(Presented {
            client_id: form.get("client_id"),
            assertion,
        })),
        _ => Err(ProtocolError::invalid_client()),
    }
}
