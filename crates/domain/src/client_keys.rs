//! How an application authenticates at the token endpoint, and the public
//! keys a `private_key_jwt` application registers (RFC 7517, RFC 7523).
//!
//! Keys are checked for shape and size only: no cryptography runs here. The
//! server builds the verifier from the parsed material at the token endpoint,
//! so whatever this module accepts is all it will ever be handed.

use crate::jose::Jwk;
use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::HashSet;

pub const MAX_KEYS: usize = 5;
pub const MIN_RSA_BITS: usize = 2048;
/// aws-lc-rs verifies RSA signatures of keys up to this size.
pub const MAX_RSA_BITS: usize = 8192;
pub const MAX_KID_CHARS: usize = 128;

/// Members that only a private (or symmetric) key has: a set holding one
/// would put a secret in a column and in every view of the application.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Members that tie a key to an X.509 certificate. Nothing here checks a
/// chain, so an admin who registers one is told so instead of believing it
/// counts; a published set (an identity provider's) keeps them for others,
/// and its keys are used for their numbers alone.
const CERTIFICATE_MEMBERS: [&str; 4] = ["x5c", "x5u", "x5t", "x5t#S256"];

/// Where a key came from, which decides how much of a JWK is tolerated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Typed or pasted by an admin: every member must mean what it says here.
    Registered,
    /// Published at a `jwks_uri`, for many verifiers at once.
    Published,
    /// Read back from storage, where it passed the rules of its day. A key
    /// a later rule calls degenerate still loads (so the rest of the set and
    /// the record stay readable) and the server never verifies with it.
    Stored,
    /// Carried in a DPoP proof's header (RFC 9449 §4.2): judged as a
    /// registered key, except that it needs no `kid`, being the only one.
    Proof,
}

const FIELD: &str = "jwks";

/// What a `token_endpoint_auth_method` that names neither method is told.
pub(crate) fn unknown_method() -> FieldError {
    FieldError::new(
        "token_endpoint_auth_method",
        ErrorCode::InvalidValue,
        "token_endpoint_auth_method must be client_secret_basic or private_key_jwt",
    )
}

/// `token_endpoint_auth_method` (RFC 7591 §2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthMethod {
    /// A client secret, with HTTP Basic or in the form body.
    #[default]
    ClientSecretBasic,
    /// A JWT signed with one of the application's registered keys (RFC 7523).
    PrivateKeyJwt,
    /// A method this version does not know yet, read from a newer server's
    /// answer, so that one application using it does not fail a whole
    /// listing. Never written, never parsed from a form, never registered.
    #[serde(other, skip_serializing)]
    Unrecognized,
}

impl AuthMethod {
    pub const ALL: [Self; 2] = [Self::ClientSecretBasic, Self::PrivateKeyJwt];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::Unrecognized => "unrecognized",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == value)
    }

    /// The field rule: one of the two names.
    pub fn field(raw: &str) -> Result<Self, FieldError> {
        Self::parse(raw).ok_or_else(unknown_method)
    }
}

/// The signature algorithms a client assertion may use, each bound to one
/// kind of key: never `none`, never an HMAC keyed with a public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssertionAlg {
    Rs256,
    Ps256,
    Es256,
    EdDsa,
}

impl AssertionAlg {
    pub const ALL: [Self; 4] = [Self::Rs256, Self::Ps256, Self::Es256, Self::EdDsa];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == value)
    }

    server_pub! {
        /// Whether this algorithm verifies with this kind of key.
        pub fn fits(self, material: &KeyMaterial) -> bool {
            matches!(
                (self, material),
                (Self::Rs256 | Self::Ps256, KeyMaterial::Rsa { .. })
                    | (Self::Es256, KeyMaterial::P256 { .. })
                    | (Self::EdDsa, KeyMaterial::Ed25519 { .. })
            )
        }
    }
}

pub use crate::jose::KeyMaterial;

/// One registered public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKey {
    pub kid: String,
    /// The JWK's own `alg`, when it names one: then only that one is accepted.
    pub alg: Option<AssertionAlg>,
    pub material: KeyMaterial,
}

impl ClientKey {
    pub fn accepts(&self, alg: AssertionAlg) -> bool {
        alg.fits(&self.material) && self.alg.is_none_or(|own| own == alg)
    }

    fn to_json(&self) -> Value {
        Jwk::public(&self.material, &self.kid, self.alg.map(AssertionAlg::as_str)).to_value()
    }
}

/// A JWK Set of 1 to [`MAX_KEYS`] public keys, each with its own `kid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeySet {
    keys: Vec<ClientKey>,
}

impl ClientKeySet {
    /// The `jwks` field rule: every violation of every key at once.
    pub fn parse(value: &Value) -> Result<Self, ValidationErrors> {
        Self::parse_as(value, Origin::Registered)
    }

    /// A set as it was stored ([`Self::to_json`]), registered under the
    /// rules of its day: a key those rules took but today's call degenerate
    /// is kept, for the server to refuse at verification
    /// ([`degenerate`]), instead of making the whole record unreadable.
    pub fn parse_stored(value: &Value) -> Result<Self, ValidationErrors> {
        Self::parse_as(value, Origin::Stored)
    }

    fn parse_as(value: &Value, origin: Origin) -> Result<Self, ValidationErrors> {
        let Some(list) = value.get("keys").and_then(Value::as_array) else {
            return Err(refusal(
                ErrorCode::InvalidValue,
                "jwks must be a JWK Set: an object whose \"keys\" is a list of public keys",
            )
            .into());
        };
        let mut errors = ValidationErrors::new();
        if list.is_empty() {
            errors.push(refusal(ErrorCode::Required, "jwks must hold at least one key"));
        }
        if list.len() > MAX_KEYS {
            errors.push(refusal(
                ErrorCode::TooLong,
                format!("jwks holds {} keys; at most {MAX_KEYS} are allowed", list.len()),
            ));
        }
        let mut kids = HashSet::new();
        let mut keys = Vec::new();
        for (at, jwk) in list.iter().enumerate() {
            let Some(key) = key(at + 1, jwk, &mut errors, origin) else {
                continue;
            };
            if !kids.insert(key.kid.clone()) {
                errors.push(refusal(
                    ErrorCode::DuplicateKid,
                    format!(
                        "key {}: kid {:?} is used by another key; each key needs its own",
                        at + 1,
                        key.kid
                    ),
                ));
            }
            keys.push(key);
        }
        errors.finish(|| Self { keys })
    }

    pub fn keys(&self) -> &[ClientKey] {
        &self.keys
    }

    /// The set as stored and shown: public members only, in one spelling.
    pub fn to_json(&self) -> Value {
        json!({"keys": self.keys.iter().map(ClientKey::to_json).collect::<Vec<_>>()})
    }

    /// The key an assertion names: by `kid`, or the only one when it names none.
    pub fn select(&self, kid: Option<&str>) -> Option<&ClientKey> {
        match (kid, self.keys.as_slice()) {
            (Some(kid), keys) => keys.iter().find(|k| k.kid == kid),
            (None, [only]) => Some(only),
            (None, _) => None,
        }
    }
}

/// The public key a DPoP proof carries, under the rules of a registered
/// key (public members only, sizes, no weak or degenerate key), or the
/// first reason it is refused.
pub fn proof_key(jwk: &Value) -> Result<ClientKey, String> {
    let mut errors = ValidationErrors::new();
    match key(1, jwk, &mut errors, Origin::Proof) {
        Some(key) => Ok(key),
        None => Err(errors
            .errors()
            .first()
            .map_or_else(|| "the jwk is not a usable public key".to_owned(), |e| e.message.clone())),
    }
}

fn refusal(code: ErrorCode, message: impl Into<String>) -> FieldError {
    FieldError::new(FIELD, code, message)
}

/// One key of the set, or its refusals recorded; `at` counts from 1.
fn key(at: usize, jwk: &Value, errors: &mut ValidationErrors, origin: Origin) -> Option<ClientKey> {
    let Some(jwk) = jwk.as_object() else {
        errors.push(refusal(
            ErrorCode::InvalidValue,
            format!("key {at} is not a JSON object"),
        ));
        return None;
    };
    let private: Vec<&str> = PRIVATE_MEMBERS.into_iter().filter(|m| jwk.contains_key(*m)).collect();
    if !private.is_empty() {
        // The member names only: their values are the secret.
        errors.push(refusal(
            ErrorCode::PrivateKeyMaterial,
            format!(
                "key {at} holds private key material ({}); register the public key only",
                private.join(", ")
            ),
        ));
        return None;
    }
    let before = errors.errors().len();
    let kid = match origin {
        Origin::Proof => Some(text(jwk, "kid").unwrap_or_default().to_owned()),
        _ => kid(at, jwk, errors),
    };
    let material = material(at, jwk, errors);
    let alg = match text(jwk, "alg") {
        None => None,
        Some(name) => match AssertionAlg::parse(name) {
            Some(alg) if material.as_ref().is_none_or(|m| alg.fits(m)) => Some(alg),
            _ => {
                errors.push(refusal(
                    ErrorCode::UnsupportedKey,
                    format!("key {at}: alg {name:?} is not RS256 or PS256 (RSA), ES256 (P-256) or EdDSA (Ed25519) for this key"),
                ));
                None
            }
        },
    };
    if jwk.get("use").is_some_and(|u| u != "sig") {
        errors.push(refusal(
            ErrorCode::InvalidValue,
            format!("key {at}: use must be \"sig\" when given"),
        ));
    }
    // RFC 7517 §4.3: a key for verifying signatures lists "verify" alone.
    if jwk.get("key_ops").is_some_and(|ops| *ops != json!(["verify"])) {
        errors.push(refusal(
            ErrorCode::InvalidValue,
            format!("key {at}: key_ops must be [\"verify\"] when given"),
        ));
    }
    let certificate: Vec<&str> = CERTIFICATE_MEMBERS
        .into_iter()
        .filter(|m| jwk.contains_key(*m))
        .collect();
    if matches!(origin, Origin::Registered | Origin::Proof) && !certificate.is_empty() {
        errors.push(refusal(
            ErrorCode::UnsupportedKey,
            format!(
                "key {at} carries {}: certificates are not checked here, so register the bare public key",
                certificate.join(", ")
            ),
        ));
    }
    if let Some(why) = material.as_ref().and_then(degenerate)
        && origin != Origin::Stored
    {
        errors.push(refusal(ErrorCode::WeakKey, format!("key {at} {why}")));
    }
    if errors.errors().len() > before {
        return None;
    }
    Some(ClientKey {
        kid: kid?,
        alg,
        material: material?,
    })
}

fn text<'a>(jwk: &'a Map<String, Value>, member: &str) -> Option<&'a str> {
    jwk.get(member).and_then(Value::as_str)
}

fn kid(at: usize, jwk: &Map<String, Value>, errors: &mut ValidationErrors) -> Option<String> {
    // Not trimmed: an assertion names its key by exactly these characters.
    let kid = text(jwk, "kid").filter(|k| !k.is_empty());
    let Some(kid) = kid else {
        errors.push(refusal(ErrorCode::Required, format!("key {at} needs a kid")));
        return None;
    };
    if kid.chars().count() > MAX_KID_CHARS {
        errors.push(refusal(
            ErrorCode::TooLong,
            format!("key {at}: kid must be at most {MAX_KID_CHARS} characters"),
        ));
        return None;
    }
    if kid.chars().any(char::is_control) {
        errors.push(refusal(
            ErrorCode::InvalidCharacters,
            format!("key {at}: kid must not hold control characters"),
        ));
        return None;
    }
    Some(kid.to_owned())
}

fn material(at: usize, jwk: &Map<String, Value>, errors: &mut ValidationErrors) -> Option<KeyMaterial> {
    let mut bytes = |member: &str| -> Option<Vec<u8>> {
        let decoded = text(jwk, member).and_then(|v| URL_SAFE_NO_PAD.decode(v).ok());
        if decoded.is_none() {
            errors.push(refusal(
                ErrorCode::InvalidValue,
                format!("key {at}: {member} must be base64url without padding"),
            ));
        }
        decoded
    };
    match (text(jwk, "kty"), text(jwk, "crv")) {
        (Some("RSA"), _) => {
            let (n, e) = (bytes("n")?, bytes("e")?);
            rsa(at, n, e, errors)
        }
        (Some("EC"), Some("P-256")) => {
            let (x, y) = (bytes("x")?, bytes("y")?);
            sized(at, [("x", &x), ("y", &y)], errors).then_some(KeyMaterial::P256 { x, y })
        }
        (Some("OKP"), Some("Ed25519")) => {
            let x = bytes("x")?;
            sized(at, [("x", &x)], errors).then_some(KeyMaterial::Ed25519 { x })
        }
        (kty, crv) => {
            let shown = match (kty, crv) {
                (Some(kty), Some(crv)) => format!("{kty} {crv}"),
                (Some(kty), None) => kty.to_owned(),
                (None, _) => "a key without kty".to_owned(),
            };
            errors.push(refusal(
                ErrorCode::UnsupportedKey,
                format!("key {at} is {shown:?}; keys are RSA, EC P-256 or OKP Ed25519"),
            ));
            None
        }
    }
}

fn rsa(at: usize, n: Vec<u8>, e: Vec<u8>, errors: &mut ValidationErrors) -> Option<KeyMaterial> {
    // RFC 7518 §6.3.1: the minimum number of octets, so no leading zero.
    if n.first().is_none_or(|b| *b == 0) || e.first().is_none_or(|b| *b == 0) {
        errors.push(refusal(
            ErrorCode::InvalidValue,
            format!("key {at}: n and e must be unsigned big-endian integers without leading zeros"),
        ));
        return None;
    }
    let bits = n.len() * 8 - n[0].leading_zeros() as usize;
    if bits < MIN_RSA_BITS {
        errors.push(refusal(
            ErrorCode::WeakKey,
            format!("key {at} is an RSA key of {bits} bits; at least {MIN_RSA_BITS} are required"),
        ));
        return None;
    }
    if bits > MAX_RSA_BITS {
        errors.push(refusal(
            ErrorCode::UnsupportedKey,
            format!("key {at} is an RSA key of {bits} bits; at most {MAX_RSA_BITS} are supported"),
        ));
        return None;
    }
    Some(KeyMaterial::Rsa { n, e })
}

fn sized<const N: usize>(at: usize, members: [(&str, &Vec<u8>); N], errors: &mut ValidationErrors) -> bool {
    let mut fine = true;
    for (name, value) in members {
        if value.len() != 32 {
            fine = false;
            errors.push(refusal(
                ErrorCode::InvalidValue,
                format!("key {at}: {name} must be 32 bytes, not {}", value.len()),
            ));
        }
    }
    fine
}

mod address;
mod degenerate;
mod fetched;
mod uri;

pub use address::is_public;
pub use degenerate::{RSA_EXPONENT, degenerate};
pub use fetched::{FetchedSet, FetchedSetError};
pub use uri::{JwksUri, KeySource, MAX_JWKS_URI_CHARS, outgoing_https_url};

#[cfg(test)]
mod tests;
