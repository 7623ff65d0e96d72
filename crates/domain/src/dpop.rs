//! DPoP (RFC 9449): what a proof of possession says and how it is made,
//! written once for the server that judges proofs and the SDK that signs
//! them. The judging itself (`judge`, with the `server` feature) is the server's rule.
//!
//! A proof is a JWT a client signs for one request with a key it keeps:
//! its header carries the public key (`jwk`), its claims the request's
//! method (`htm`) and URL without query or fragment (`htu`), the time
//! (`iat`), a unique `jti`, at the APIs the access token's hash (`ath`),
//! and the server's `nonce` when the server asks for one. An access token
//! issued with a proof carries the key's RFC 7638 thumbprint (`cnf.jkt`)
//! and is honoured only beside a fresh proof signed with that key.

use crate::client_keys::{AssertionAlg, KeyMaterial};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The header a proof travels in, and the response header a server nonce does.
pub const HEADER: &str = "DPoP";
pub const NONCE_HEADER: &str = "DPoP-Nonce";
/// The `typ` of a proof (RFC 9449 §4.2).
pub const PROOF_TYPE: &str = "dpop+jwt";
/// The algorithms a proof may be signed with, in the order metadata and
/// challenges list them: those of client keys.
pub const ALGS: [AssertionAlg; 4] = [
    AssertionAlg::Es256,
    AssertionAlg::EdDsa,
    AssertionAlg::Ps256,
    AssertionAlg::Rs256,
];
/// How far a proof's `iat` may stand from the server's clock, either way.
/// A proof's `jti` is remembered for as long as it could be accepted.
pub const WINDOW_SECS: i64 = 60;
/// Server nonces change every this many seconds; one of the current or the
/// previous period is accepted, so a nonce lives 5 to 10 minutes.
pub const NONCE_PERIOD_SECS: i64 = 300;

/// `ALGS` as the space-separated list of a challenge's `algs` (§7.1).
pub fn algs() -> String {
    ALGS.map(AssertionAlg::as_str).join(" ")
}

/// The members of a public key that RFC 7638 §3.2 hashes, in its
/// lexicographic order: also all a proof's `jwk` needs to say.
pub fn public_jwk(material: &KeyMaterial) -> Value {
    let b64 = |bytes: &[u8]| Value::String(URL_SAFE_NO_PAD.encode(bytes));
    let mut members = Map::new();
    match material {
        KeyMaterial::Rsa { n, e } => {
            members.insert("e".into(), b64(e));
            members.insert("kty".into(), "RSA".into());
            members.insert("n".into(), b64(n));
        }
        KeyMaterial::P256 { x, y } => {
            members.insert("crv".into(), "P-256".into());
            members.insert("kty".into(), "EC".into());
            members.insert("x".into(), b64(x));
            members.insert("y".into(), b64(y));
        }
        KeyMaterial::Ed25519 { x } => {
            members.insert("crv".into(), "Ed25519".into());
            members.insert("kty".into(), "OKP".into());
            members.insert("x".into(), b64(x));
        }
    }
    Value::Object(members)
}

/// The key's JWK SHA-256 thumbprint (RFC 7638), base64url: a token's
/// `cnf.jkt`. Key material is held decoded and checked canonical, so its
/// members re-encode to exactly the client's text.
pub fn thumbprint(material: &KeyMaterial) -> String {
    // serde_json keeps members in insertion order here only with
    // `preserve_order`; without it a `Map` is sorted, which is the order
    // RFC 7638 asks for either way, as `public_jwk` inserts them sorted.
    URL_SAFE_NO_PAD.encode(Sha256::digest(public_jwk(material).to_string()))
}

/// `ath`: the base64url SHA-256 of the access token's ASCII (RFC 9449 §4.2).
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// The `htu` a proof names for `url`: the URL without query and fragment
/// (§4.2), or `None` when `url` is not an absolute http(s) URL.
pub fn htu(url: &str) -> Option<String> {
    let mut parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || !parsed.username().is_empty() || parsed.password().is_some() {
        return None;
    }
    parsed.set_query(None);
    parsed.set_fragment(None);
    Some(parsed.into())
}

/// A proof's protected header: `typ`, `alg` and the public key.
pub fn proof_header(alg: AssertionAlg, material: &KeyMaterial) -> Value {
    json!({"typ": PROOF_TYPE, "alg": alg.as_str(), "jwk": public_jwk(material)})
}

/// What a client puts in a proof for one request.
#[derive(Debug, Clone, Copy)]
pub struct ProofFor<'a> {
    /// The request's method, as sent (`POST`, `GET`, …).
    pub method: &'a str,
    /// The request's URL; its query and fragment are left out.
    pub url: &'a str,
    /// The access token sent with the request, at an API: hashed into `ath`.
    pub access_token: Option<&'a str>,
    /// The latest nonce the server gave, if any.
    pub nonce: Option<&'a str>,
}

/// A proof's claims for `request`, issued at `iat` with the caller's random
/// `jti`; `None` when the URL is not an absolute http(s) URL.
pub fn proof_claims(request: &ProofFor<'_>, iat: i64, jti: &str) -> Option<Value> {
    let mut claims = json!({
        "jti": jti,
        "htm": request.method,
        "htu": htu(request.url)?,
        "iat": iat,
    });
    if let Some(token) = request.access_token {
        claims["ath"] = access_token_hash(token).into();
    }
    if let Some(nonce) = request.nonce {
        claims["nonce"] = nonce.into();
    }
    Some(claims)
}

/// The nonce period `now_secs` falls in.
pub fn nonce_period(now_secs: i64) -> i64 {
    now_secs.div_euclid(NONCE_PERIOD_SECS)
}

/// Whether a nonce minted in `period` is still accepted at `now_secs`:
/// minted in this period or the one before, or in the next one by a
/// replica whose clock runs ahead by no more than a proof's `iat` may
/// ([`WINDOW_SECS`]). The MAC keeps anyone else from minting one.
pub fn nonce_period_accepted(period: i64, now_secs: i64) -> bool {
    let current = nonce_period(now_secs);
    period == current || period == current - 1 || period == nonce_period(now_secs.saturating_add(WINDOW_SECS))
}

server_pub! {
    pub mod judge;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1's example key and thumbprint.
    #[test]
    fn the_thumbprint_of_the_rfc_7638_example() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let material = KeyMaterial::Rsa {
            n: URL_SAFE_NO_PAD.decode(n).unwrap(),
            e: vec![1, 0, 1],
        };
        assert_eq!(thumbprint(&material), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    /// RFC 9449 §7.1's example: this token hashes to the `ath` of its proof.
    #[test]
    fn the_access_token_hash_of_the_rfc_9449_example() {
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn htu_leaves_out_query_and_fragment_and_refuses_what_is_no_web_url() {
        assert_eq!(
            htu("https://cb.example/t/a/api/v1/me?x=1#f").as_deref(),
            Some("https://cb.example/t/a/api/v1/me")
        );
        assert_eq!(htu("HTTPS://CB.example:443").as_deref(), Some("https://cb.example/"));
        assert_eq!(htu("ftp://cb.example/"), None);
        assert_eq!(htu("https://u:p@cb.example/"), None);
        assert_eq!(htu("/api/v1/me"), None);
    }

    #[test]
    fn a_proof_names_the_token_hash_and_nonce_only_when_there_are_some() {
        let bare = ProofFor {
            method: "POST",
            url: "https://cb.example/oauth2/token",
            access_token: None,
            nonce: None,
        };
        let claims = proof_claims(&bare, 1_700_000_000, "j1").unwrap();
        assert_eq!(
            claims,
            json!({"jti": "j1", "htm": "POST", "htu": "https://cb.example/oauth2/token", "iat": 1_700_000_000})
        );
        let full = ProofFor {
            access_token: Some("t"),
            nonce: Some("n"),
            ..bare
        };
        let claims = proof_claims(&full, 1, "j2").unwrap();
        assert_eq!(claims["ath"], access_token_hash("t"));
        assert_eq!(claims["nonce"], "n");
    }

    #[test]
    fn a_nonce_lives_for_its_period_and_the_next() {
        let minted = nonce_period(1_000_000);
        assert!(nonce_period_accepted(minted, 1_000_000));
        assert!(nonce_period_accepted(minted, 1_000_000 + NONCE_PERIOD_SECS));
        assert!(!nonce_period_accepted(minted, 1_000_000 + 2 * NONCE_PERIOD_SECS));
        // 1,000,000 s is 100 s into its period: the next one starts 200 s on.
        assert!(!nonce_period_accepted(minted + 1, 1_000_000));
        assert!(nonce_period_accepted(minted + 1, 1_000_000 + 200 - WINDOW_SECS));
        assert!(!nonce_period_accepted(minted + 1, 1_000_000 + 200 - WINDOW_SECS - 1));
        assert_eq!(algs(), "ES256 EdDSA PS256 RS256");
    }
}
