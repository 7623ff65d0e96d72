//! What fuzzing found (`fuzz/`, see its README), each input kept as a
//! literal and held to the correct behaviour through the public functions,
//! so a finding stays fixed whatever becomes of the fuzz targets.

// The parsers fuzzed are the server's rules, public with this feature only.
#![cfg(feature = "server")]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use casebook_domain::client_assertion::{self, Assertion};
use casebook_domain::federated::{self, OutsideToken};
use casebook_domain::jws::Unreadable;

/// A compact JWS of these two JSON texts, exactly as written (repeats
/// kept), with an empty signature: the readers judge the parts before any
/// key is looked at.
fn token(header: &str, claims: &str) -> String {
    format!("{}.{}.", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims))
}

/// Claims a client's assertion reads: the fields it requires, right types.
const ASSERTION_CLAIMS: &str =
    r#"{"iss":"cb_a","sub":"cb_a","aud":"https://casebook.example","exp":1800000060,"jti":"j"}"#;

fn assertion(header: &str, claims: &str) -> Option<client_assertion::Refused> {
    Assertion::parse(&token(header, claims)).err()
}

fn outside(header: &str, claims: &str) -> Option<federated::Refused> {
    OutsideToken::parse(&token(header, claims)).err()
}

const MALFORMED: Option<federated::Refused> = Some(federated::Refused::Unreadable(Unreadable::Malformed));

// jws_compact: a header member the reader does not know, given twice, was
// accepted by both readers (the derived header struct skips unknown members
// without looking at repeats). Minimal input:
// `eyJhbGciOiJFUzI1NiIsIngiOjEsIngiOjJ9.e30.`
#[test]
fn a_header_member_given_twice_is_refused() {
    let header = r#"{"alg":"ES256","x":1,"x":2}"#;
    assert_eq!(token(header, "{}"), "eyJhbGciOiJFUzI1NiIsIngiOjEsIngiOjJ9.e30.");
    assert_eq!(outside(header, "{}"), MALFORMED);
    assert_eq!(
        assertion(header, ASSERTION_CLAIMS),
        Some(client_assertion::Refused::Malformed)
    );
}

// jws_compact: a header that is a JSON array was read positionally into the
// header struct and accepted (RFC 7515 §4: the header is a JSON object).
// Minimal input: `WyJFUzI1NiJd.e30.`
#[test]
fn a_header_that_is_not_an_object_is_refused() {
    assert_eq!(token(r#"["ES256"]"#, "{}"), "WyJFUzI1NiJd.e30.");
    assert_eq!(outside(r#"["ES256"]"#, "{}"), MALFORMED);
    assert_eq!(
        assertion(r#"["ES256"]"#, ASSERTION_CLAIMS),
        Some(client_assertion::Refused::Malformed)
    );
}

// jws_compact: an assertion's claims given as a JSON array were read
// positionally (iss, sub, aud, exp, iat, nbf, jti) and accepted; they even
// passed the claim checks (RFC 7519 §7.2: the claims set is a JSON object).
#[test]
fn assertion_claims_that_are_not_an_object_are_refused() {
    let claims = r#"["cb_a","cb_a","https://casebook.example",1800000060,null,null,"j"]"#;
    assert_eq!(
        assertion(r#"{"alg":"ES256"}"#, claims),
        Some(client_assertion::Refused::Malformed)
    );
}

// jws_compact: an assertion claim the reader does not know, given twice,
// was accepted (only the claims the struct names were checked for repeats).
#[test]
fn an_unknown_assertion_claim_given_twice_is_refused() {
    let claims =
        r#"{"iss":"cb_a","sub":"cb_a","aud":"https://casebook.example","exp":1800000060,"jti":"j","x":1,"x":2}"#;
    assert_eq!(
        assertion(r#"{"alg":"ES256"}"#, claims),
        Some(client_assertion::Refused::Malformed)
    );
}

// jws_compact: a member given twice inside a nested object was accepted by
// both readers (the last copy stood, as in serde_json, while another reader
// may keep the first). Minimal input: `eyJhbGciOiJFUzI1NiJ9.eyJhIjp7ImIiOjEsImIiOjJ9fQ.`
#[test]
fn a_member_given_twice_at_any_depth_is_refused() {
    let claims = r#"{"a":{"b":1,"b":2}}"#;
    assert_eq!(
        token(r#"{"alg":"ES256"}"#, claims),
        "eyJhbGciOiJFUzI1NiJ9.eyJhIjp7ImIiOjEsImIiOjJ9fQ."
    );
    assert_eq!(outside(r#"{"alg":"ES256"}"#, claims), MALFORMED);
    let nested = r#"{"iss":"cb_a","sub":"cb_a","aud":["https://casebook.example"],"cnf":{"k":1,"k":2},"exp":1800000060,"jti":"j"}"#;
    assert_eq!(
        assertion(r#"{"alg":"ES256"}"#, nested),
        Some(client_assertion::Refused::Malformed)
    );
    let in_header = r#"{"alg":"ES256","jwk":{"kty":"OKP","kty":"EC"}}"#;
    assert_eq!(outside(in_header, "{}"), MALFORMED);
}

// jws_compact: `"crit": null` was read as no `crit` at all and accepted; no
// extension is understood here, so any `crit` member refuses the token.
// Minimal input: `eyJhbGciOiJFUzI1NiIsImNyaXQiOm51bGx9.e30.`
#[test]
fn a_crit_member_is_refused_even_when_null() {
    let header = r#"{"alg":"ES256","crit":null}"#;
    assert_eq!(token(header, "{}"), "eyJhbGciOiJFUzI1NiIsImNyaXQiOm51bGx9.e30.");
    assert_eq!(
        outside(header, "{}"),
        Some(federated::Refused::Unreadable(Unreadable::CriticalHeader))
    );
    assert_eq!(
        assertion(header, ASSERTION_CLAIMS),
        Some(client_assertion::Refused::CriticalHeader)
    );
}
