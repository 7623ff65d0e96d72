//! RFC 9449 §4.3's checks, and the ways others have got them wrong, as a
//! table. Signatures are not judged here (the server's crypto does), so the
//! proofs carry a placeholder one.

use super::*;
use crate::client_keys::KeyMaterial;
use crate::dpop::{ProofFor, proof_claims, proof_header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

const NOW: i64 = 1_800_000_000;
const TOKEN_URL: &str = "https://cb.example/t/agency/oauth2/token";
const ME_URL: &str = "https://cb.example/t/agency/api/v1/me";

fn ec_key() -> KeyMaterial {
    KeyMaterial::P256 {
        x: vec![7; 32],
        y: vec![9; 32],
    }
}

fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn compact(header: &Value, claims: &Value) -> String {
    format!("{}.{}.c2ln", encode(header), encode(claims))
}

fn proof_for(request: &ProofFor<'_>, iat: i64) -> String {
    compact(
        &proof_header(AssertionAlg::Es256, &ec_key()),
        &proof_claims(request, iat, "jti-1").unwrap(),
    )
}

fn token_request() -> ProofFor<'static> {
    ProofFor {
        method: "POST",
        url: TOKEN_URL,
        access_token: None,
        nonce: None,
    }
}

fn at_token_endpoint<'a>() -> Expected<'a> {
    Expected {
        method: "POST",
        url: TOKEN_URL,
        bound: None,
    }
}

fn judged(proof: &str, expected: &Expected<'_>) -> Result<Accepted, Refused> {
    Proof::parse(proof)?.check(expected, Timestamp::from_unix_secs(NOW), None)
}

#[test]
fn a_proof_for_the_token_endpoint_passes_and_names_its_key_and_window() {
    let accepted = judged(&proof_for(&token_request(), NOW), &at_token_endpoint()).unwrap();
    assert_eq!(accepted.jkt, thumbprint(&ec_key()));
    assert_eq!(accepted.jti, "jti-1");
    // Remembered until the first second the proof is refused anyway.
    assert_eq!(accepted.remember_until, NOW + WINDOW_SECS + 1);
}

#[test]
fn the_header_rules() {
    let claims = proof_claims(&token_request(), NOW, "j").unwrap();
    let jwk = crate::dpop::public_jwk(&ec_key());
    let private = {
        let mut jwk = jwk.clone();
        jwk["d"] = "AAAA".into();
        jwk
    };
    let small_rsa = json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xc3; 128]), "e": "AQAB"});
    let small_order_ed25519 = json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode([0u8; 32])});
    let key_refused = |r: Result<Accepted, Refused>| matches!(r, Err(Refused::Key(_)));
    for (why, header, refused) in [
        (
            "typ missing",
            json!({"alg": "ES256", "jwk": jwk}),
            Refused::Type,
        ),
        (
            "typ of an access token",
            json!({"typ": "at+jwt", "alg": "ES256", "jwk": jwk}),
            Refused::Type,
        ),
        (
            "alg none",
            json!({"typ": "dpop+jwt", "alg": "none", "jwk": jwk}),
            Refused::Algorithm,
        ),
        (
            "alg HMAC",
            json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk}),
            Refused::Algorithm,
        ),
        (
            "crit header",
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk, "crit": ["exp"]}),
            Refused::Malformed,
        ),
    ] {
        assert_eq!(judged(&compact(&header, &claims), &at_token_endpoint()), Err(refused), "{why}");
    }
    for (why, header) in [
        ("no jwk", json!({"typ": "dpop+jwt", "alg": "ES256"})),
        ("a private key", json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private})),
        ("an RSA key under 2048 bits", json!({"typ": "dpop+jwt", "alg": "RS256", "jwk": small_rsa})),
        (
            "an Ed25519 point of small order",
            json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": small_order_ed25519}),
        ),
        ("an EC key under an RSA alg", json!({"typ": "dpop+jwt", "alg": "RS256", "jwk": jwk})),
        ("a symmetric key", json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "oct", "k": "AAAA"}})),
    ] {
        assert!(
            key_refused(judged(&compact(&header, &claims), &at_token_endpoint())),
            "{why}"
        );
    }
    // The media type's case does not matter.
    let upper = json!({"typ": "DPoP+JWT", "alg": "ES256", "jwk": jwk});
    assert!(judged(&compact(&upper, &claims), &at_token_endpoint()).is_ok());
}

#[test]
fn the_claim_rules() {
    let header = proof_header(AssertionAlg::Es256, &ec_key());
    let base = proof_claims(&token_request(), NOW, "j").unwrap();
    let with = |member: &str, value: Value| {
        let mut claims = base.clone();
        claims[member] = value;
        compact(&header, &claims)
    };
    let without = |member: &str| {
        let mut claims = base.clone();
        claims.as_object_mut().unwrap().remove(member);
        compact(&header, &claims)
    };
    for (why, proof, expected) in [
        ("no jti", without("jti"), Err(Refused::Malformed)),
        ("an empty jti", with("jti", "".into()), Err(Refused::Malformed)),
        ("a jti too long", with("jti", "j".repeat(257).into()), Err(Refused::Malformed)),
        ("a jti with a NUL", with("jti", "a\u{0}b".into()), Err(Refused::Malformed)),
        ("a jti with a line break", with("jti", "a\nb".into()), Err(Refused::Malformed)),
        ("no htm", without("htm"), Err(Refused::Malformed)),
        ("no htu", without("htu"), Err(Refused::Malformed)),
        ("no iat", without("iat"), Err(Refused::Malformed)),
        ("iat as text", with("iat", NOW.to_string().into()), Err(Refused::Malformed)),
        ("htm in lower case", with("htm", "post".into()), Err(Refused::Method)),
        ("htm of another method", with("htm", "GET".into()), Err(Refused::Method)),
        ("iat 61 s ago", with("iat", (NOW - 61).into()), Err(Refused::IssuedAt)),
        ("iat 61 s ahead", with("iat", (NOW + 61).into()), Err(Refused::IssuedAt)),
        ("iat 60 s ago", with("iat", (NOW - 60).into()), Ok(())),
        ("iat 60 s ahead", with("iat", (NOW + 60).into()), Ok(())),
        ("iat with a fraction", with("iat", json!(NOW as f64 + 0.5)), Ok(())),
        ("a proof too large", with("pad", "x".repeat(MAX_PROOF_BYTES).into()), Err(Refused::Malformed)),
    ] {
        assert_eq!(
            judged(&proof, &at_token_endpoint()).map(|_| ()),
            expected,
            "{why}"
        );
    }
}

#[test]
fn htu_is_judged_against_the_public_url_after_normalisation() {
    let header = proof_header(AssertionAlg::Es256, &ec_key());
    let claimed = |htu: &str| {
        let mut claims = proof_claims(&token_request(), NOW, "j").unwrap();
        claims["htu"] = htu.into();
        compact(&header, &claims)
    };
    for (htu, passes) in [
        (TOKEN_URL, true),
        // RFC 3986 §6.2.2 and §6.2.3: the same URL spelled otherwise.
        ("HTTPS://CB.Example/t/agency/oauth2/token", true),
        ("https://cb.example:443/t/agency/oauth2/token", true),
        ("https://cb.example/t/agency/./oauth2/token", true),
        ("https://cb.example/t/agency/x/../oauth2/token", true),
        ("https://cb.example/t/%61gency/oauth2/token", true),
        // Query and fragment are ignored (§4.3 check 9).
        ("https://cb.example/t/agency/oauth2/token?a=b#c", true),
        // Another URL.
        ("http://cb.example/t/agency/oauth2/token", false),
        ("https://cb.example:8443/t/agency/oauth2/token", false),
        ("https://other.example/t/agency/oauth2/token", false),
        ("https://cb.example/t/other/oauth2/token", false),
        ("https://cb.example/oauth2/token", false),
        ("https://cb.example/t/agency/oauth2/token/", false),
        ("https://cb.example/t/agency/oauth2/Token", false),
        ("https://cb.example/t/agency/oauth2%2Ftoken", false),
        ("/t/agency/oauth2/token", false),
        ("https://user@cb.example/t/agency/oauth2/token", false),
        ("", false),
    ] {
        let outcome = judged(&claimed(htu), &at_token_endpoint());
        assert_eq!(outcome.is_ok(), passes, "{htu}: {outcome:?}");
        if !passes {
            assert_eq!(outcome, Err(Refused::Url), "{htu}");
        }
    }
}

#[test]
fn at_an_api_the_proof_must_hash_the_token_and_carry_its_key() {
    let token = "eyJ.token.sig";
    let request = ProofFor {
        method: "GET",
        url: ME_URL,
        access_token: Some(token),
        nonce: None,
    };
    let jkt = thumbprint(&ec_key());
    let expected = Expected {
        method: "GET",
        url: ME_URL,
        bound: Some((token, &jkt)),
    };
    assert!(judged(&proof_for(&request, NOW), &expected).is_ok());
    // A proof made without the token, or for another token.
    let bare = ProofFor {
        access_token: None,
        ..request
    };
    assert_eq!(judged(&proof_for(&bare, NOW), &expected), Err(Refused::TokenHash));
    let other = ProofFor {
        access_token: Some("another"),
        ..request
    };
    assert_eq!(judged(&proof_for(&other, NOW), &expected), Err(Refused::TokenHash));
    // A token bound to another key.
    let elsewhere = Expected {
        bound: Some((token, "AAAA")),
        ..expected
    };
    assert_eq!(judged(&proof_for(&request, NOW), &elsewhere), Err(Refused::WrongKey));
    // A proof for the token endpoint is not one for the API, and back.
    assert_eq!(
        judged(&proof_for(&token_request(), NOW), &expected),
        Err(Refused::Method)
    );
}

#[test]
fn a_required_nonce_must_be_present_and_fresh() {
    let fresh = |nonce: &str| nonce == "good";
    let check = |nonce: Option<&str>| {
        let request = ProofFor {
            nonce,
            ..token_request()
        };
        let proof = proof_for(&request, NOW);
        Proof::parse(&proof)
            .unwrap()
            .check(&at_token_endpoint(), Timestamp::from_unix_secs(NOW), Some(&fresh))
            .map(|_| ())
    };
    assert_eq!(check(None), Err(Refused::NonceNeeded));
    assert_eq!(check(Some("stale")), Err(Refused::NonceNeeded));
    assert_eq!(check(Some("good")), Ok(()));
    assert_eq!(Refused::NonceNeeded.code(), "use_dpop_nonce");
    assert_eq!(Refused::Url.code(), "invalid_dpop_proof");
}

#[test]
fn exactly_one_dpop_header() {
    let proof = proof_for(&token_request(), NOW);
    assert!(Proof::from_headers(&[proof.as_bytes()]).is_ok());
    assert_eq!(
        Proof::from_headers(&[proof.as_bytes(), proof.as_bytes()]).unwrap_err(),
        Refused::SeveralProofs
    );
    assert_eq!(Proof::from_headers(&[]).unwrap_err(), Refused::SeveralProofs);
    assert_eq!(Proof::from_headers(&[b"\xff"]).unwrap_err(), Refused::Malformed);
}

#[test]
fn no_description_echoes_the_proof() {
    for refused in [
        Refused::Malformed,
        Refused::Url,
        Refused::Key("why".into()),
        Refused::Replayed,
        Refused::NonceNeeded,
    ] {
        let text = refused.description();
        assert!(!text.contains("eyJ"), "{text}");
        assert!(text.starts_with("the ") || text.starts_with("send"), "{text}");
    }
}
