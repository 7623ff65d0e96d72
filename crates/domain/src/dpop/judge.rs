//! A DPoP proof judged (RFC 9449 §4.3): a pure function of the proof, the
//! request it came with and the time. The server verifies the signature
//! with the key [`Proof::key`] gives (the one thing here that takes
//! cryptography) and spends the `jti` across replicas.
//!
//! The URL a proof must name is the public one the server computes (its
//! tenant's base URL and the request's path), never a Host header: behind a
//! proxy the two differ, and a Host header is the sender's to choose.

use super::{PROOF_TYPE, WINDOW_SECS, access_token_hash, thumbprint};
use crate::client_keys::{AssertionAlg, ClientKey, proof_key};
use crate::jws::{SignedJwt, Unreadable};
use crate::time::Timestamp;
use serde::Deserialize;
use serde_json::Value;

/// A proof longer than this is refused unread: an RSA-8192 key and every
/// claim fit in well under half of it.
pub const MAX_PROOF_BYTES: usize = 8 * 1024;
pub use crate::jws::MAX_JTI_CHARS;

/// Why a proof is refused. Every refusal is `invalid_dpop_proof` except
/// [`Refused::NonceNeeded`], which is `use_dpop_nonce` (§8, §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Not a compact JWS with the header and claims a proof has.
    Malformed,
    /// More than one `DPoP` header (§4.3 check 1).
    SeveralProofs,
    /// The `typ` is not `dpop+jwt`.
    Type,
    /// `none`, an HMAC or any algorithm outside [`super::ALGS`].
    Algorithm,
    /// The `jwk` is missing, private, weak, degenerate or not the `alg`'s kind.
    Key(String),
    /// `htm` is not the request's method.
    Method,
    /// `htu` is not the request's public URL.
    Url,
    /// `iat` is further than [`WINDOW_SECS`] from now.
    IssuedAt,
    /// At an API: `ath` is missing or not the access token's hash.
    TokenHash,
    /// At an API: the proof's key is not the one the token is bound to.
    WrongKey,
    /// No nonce, or not one of ours that is still fresh.
    NonceNeeded,
    /// The signature does not hold (judged by the server).
    Signature,
    /// The `jti` was used before, within its window (judged by the server).
    Replayed,
}

impl Refused {
    /// The OAuth error code: `use_dpop_nonce` or `invalid_dpop_proof`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NonceNeeded => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }

    /// The `error_description`: says what to fix, never echoes the proof.
    pub fn description(&self) -> String {
        match self {
            Self::Malformed => "the DPoP proof is not a JWT with a typ, alg and jwk header and jti, htm, htu and iat claims".into(),
            Self::SeveralProofs => "send exactly one DPoP header".into(),
            Self::Type => format!("the DPoP proof's typ must be {PROOF_TYPE}"),
            Self::Algorithm => format!("the DPoP proof's alg must be one of {}", super::algs()),
            Self::Key(why) => format!("the DPoP proof's jwk is refused: {why}"),
            Self::Method => "the DPoP proof's htm is not this request's method".into(),
            Self::Url => "the DPoP proof's htu is not this request's URL (the public URL, without query or fragment)".into(),
            Self::IssuedAt => format!("the DPoP proof's iat is more than {WINDOW_SECS} s from the server's clock"),
            Self::TokenHash => "the DPoP proof's ath is missing or is not the hash of the access token sent with it".into(),
            Self::WrongKey => "the DPoP proof is not signed with the key the access token is bound to".into(),
            Self::NonceNeeded => "the server requires a nonce in the DPoP proof: use the one in the DPoP-Nonce header".into(),
            Self::Signature => "the DPoP proof's signature does not hold for its jwk".into(),
            Self::Replayed => "the DPoP proof's jti was used before: make a new proof for every request".into(),
        }
    }
}

/// The request a proof must have been made for.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The request's method.
    pub method: &'a str,
    /// The request's public URL: the tenant's base URL and the path (or
    /// the forwarded one). Query and fragment, if any, are ignored.
    pub url: &'a str,
    /// At an API: the access token presented and the thumbprint it is bound to.
    pub bound: Option<(&'a str, &'a str)>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    jti: String,
    htm: String,
    htu: String,
    iat: Value,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// What a proof that passed says, for the server to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The key's thumbprint: a new token's `cnf.jkt`.
    pub jkt: String,
    pub jti: String,
    /// Until when (Unix seconds) the `jti` must be remembered: the first
    /// second this proof is refused anyway. The ledger takes a record over
    /// once its time has come, so remembering only until the last second
    /// of acceptance would let that second replay the proof at will.
    pub remember_until: i64,
}

/// A proof read, its key judged, not yet checked against a request.
#[derive(Debug)]
pub struct Proof<'a> {
    jwt: SignedJwt<'a, Claims>,
    key: ClientKey,
}

impl<'a> Proof<'a> {
    /// Reads the values of the request's `DPoP` headers: exactly one proof.
    pub fn from_headers(values: &[&'a [u8]]) -> Result<Self, Refused> {
        match values {
            [one] => Self::parse(std::str::from_utf8(one).map_err(|_| Refused::Malformed)?),
            _ => Err(Refused::SeveralProofs),
        }
    }

    pub fn parse(compact: &'a str) -> Result<Self, Refused> {
        if compact.len() > MAX_PROOF_BYTES {
            return Err(Refused::Malformed);
        }
        let jwt = SignedJwt::<Claims>::parse(compact).map_err(|e| match e {
            Unreadable::Algorithm => Refused::Algorithm,
            _ => Refused::Malformed,
        })?;
        // A media type compares without case (RFC 7515 §4.1.9).
        if !jwt.typ().is_some_and(|t| t.eq_ignore_ascii_case(PROOF_TYPE)) {
            return Err(Refused::Type);
        }
        let jwk = jwt.jwk().ok_or_else(|| Refused::Key("the header has no jwk".into()))?;
        let key = proof_key(jwk).map_err(Refused::Key)?;
        if !key.accepts(jwt.alg()) {
            return Err(Refused::Key(format!(
                "it is not a key {} signs with",
                jwt.alg().as_str()
            )));
        }
        Ok(Self { jwt, key })
    }

    /// Every rule of §4.3 but the signature and the `jti`'s single use,
    /// which take the server. `nonce_fresh` says whether a nonce is one the
    /// server minted and still accepts; `None` when no nonce is required.
    pub fn check(
        &self,
        expected: &Expected<'_>,
        now: Timestamp,
        nonce_fresh: Option<&dyn Fn(&str) -> bool>,
    ) -> Result<Accepted, Refused> {
        let claims = self.jwt.claims();
        if !crate::jws::acceptable_jti(&claims.jti) {
            return Err(Refused::Malformed);
        }
        // RFC 9110 §9.1: a method is case-sensitive.
        if claims.htm != expected.method {
            return Err(Refused::Method);
        }
        if !same_url(&claims.htu, expected.url) {
            return Err(Refused::Url);
        }
        let iat = issued_at(&claims.iat).ok_or(Refused::Malformed)?;
        let now = now.unix_secs();
        if iat < now.saturating_sub(WINDOW_SECS) || iat > now.saturating_add(WINDOW_SECS) {
            return Err(Refused::IssuedAt);
        }
        let jkt = thumbprint(&self.key.material);
        if let Some((access_token, bound_to)) = expected.bound {
            if claims.ath.as_deref() != Some(access_token_hash(access_token).as_str()) {
                return Err(Refused::TokenHash);
            }
            if jkt != bound_to {
                return Err(Refused::WrongKey);
            }
        }
        if let Some(fresh) = nonce_fresh
            && !claims.nonce.as_deref().is_some_and(fresh)
        {
            return Err(Refused::NonceNeeded);
        }
        Ok(Accepted {
            jkt,
            jti: claims.jti.clone(),
            remember_until: iat.saturating_add(WINDOW_SECS + 1),
        })
    }

    /// The key the signature must hold for.
    pub fn key(&self) -> &ClientKey {
        &self.key
    }

    pub fn alg(&self) -> AssertionAlg {
        self.jwt.alg()
    }

    pub fn signing_input(&self) -> &[u8] {
        self.jwt.signing_input()
    }

    pub fn signature(&self) -> &[u8] {
        self.jwt.signature()
    }
}

/// A NumericDate (RFC 7519 §2): whole seconds, or a fraction cut to them.
fn issued_at(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15).map(|f| f as i64)),
        _ => None,
    }
}

/// RFC 9449 §4.3 check 9: the URLs equal after RFC 3986 §6.2.2 and §6.2.3
/// normalisation (case of scheme and host, default port, dot segments,
/// percent-encoding), query and fragment left out.
fn same_url(claimed: &str, expected: &str) -> bool {
    match (normalised(claimed), normalised(expected)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn normalised(text: &str) -> Option<(String, String, u16, String)> {
    let url = url::Url::parse(text).ok()?;
    if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let host = url.host_str()?.to_owned();
    let port = url.port_or_known_default()?;
    Some((url.scheme().to_owned(), host, port, percent_normalised(url.path())?))
}

/// A path with every percent-encoded unreserved character decoded and
/// every other escape in upper case (RFC 3986 §6.2.2.1, §6.2.2.2), so two
/// spellings of one path compare equal and no two paths do.
fn percent_normalised(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = path.get(at + 1..at + 3)?;
            let byte = u8::from_str_radix(hex, 16).ok()?;
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(byte));
            } else {
                out.push('%');
                out.push_str(&hex.to_ascii_uppercase());
            }
            at += 3;
        } else {
            out.push(char::from(bytes[at]));
            at += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
