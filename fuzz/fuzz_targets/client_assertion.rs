//! A `private_key_jwt` client assertion read (`Assertion::parse`) and judged
//! (`Assertion::check`) for a fixed client, issuer and clock, and its key
//! chosen from a fixed set (`Assertion::key`).
//!
//! Properties, stated from RFC 7523 and rfc7523bis rather than from the
//! code: an accepted assertion's `iss` and `sub` are the client, its `aud`
//! the issuer alone, it expires after now and within five minutes of now
//! and of its `iat`, neither `iat` nor `nbf` is more than the skew ahead,
//! and its `jti` is 1 to 256 characters without control characters; an
//! assertion meeting all of that is accepted, and a refusal names a rule
//! the claims do break. A chosen key has the `kid` named and takes the `alg`.

#![no_main]

use casebook_domain::Timestamp;
use casebook_domain::client_assertion::{Assertion, CLOCK_SKEW_SECS, MAX_JTI_CHARS, MAX_LIFETIME_SECS, Refused};
use casebook_domain::client_keys::ClientKeySet;
use casebook_fuzz::{CLIENT_ID, ISSUER, Input, Jwt, NOW, claims_of, fixed_keys, input};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use std::sync::LazyLock;

static KEYS: LazyLock<ClientKeySet> =
    LazyLock::new(|| ClientKeySet::parse(&fixed_keys()).expect("the fixed keys are valid"));

fuzz_target!(|data: &[u8]| {
    let token = match input::<Jwt>(data) {
        None => return,
        Some(Input::Raw(text)) => String::from_utf8_lossy(text).into_owned(),
        Some(Input::Built(jwt)) => jwt.encode(),
    };
    let Ok(assertion) = Assertion::parse(&token) else {
        return;
    };

    if let Ok(key) = assertion.key(&KEYS) {
        assert!(key.accepts(assertion.alg()), "a key chosen for an alg it refuses");
        match assertion.kid() {
            Some(kid) => assert_eq!(key.kid, kid),
            None => assert_eq!(KEYS.keys().len(), 1),
        }
    }

    let verdict = assertion.check(CLIENT_ID, ISSUER, Timestamp::from_unix_secs(NOW));
    // Claims that are not an object are the JWS reader's finding (see
    // jws_compact); the claim rules are judged on objects.
    let Some(claims) = claims_of(&token) else { return };
    assert_eq!(assertion.issuer(), claims["iss"].as_str().unwrap_or_default());
    let broken = broken_rules(&claims);
    match verdict {
        Ok(accepted) => {
            assert!(broken.is_empty(), "accepted, yet breaks {broken:?}: {claims:?}");
            assert_eq!(Some(accepted.jti.as_str()), claims["jti"].as_str());
            assert_eq!(Some(accepted.exp), claims["exp"].as_i64());
        }
        Err(why) => assert!(
            broken.contains(&why),
            "refused as {why:?}, yet breaks only {broken:?}: {claims:?}"
        ),
    }
});

/// Every rule of the claims that does not hold, by the reason it is refused for.
fn broken_rules(claims: &Map<String, Value>) -> Vec<Refused> {
    let mut broken = Vec::new();
    let time = |name: &str| claims.get(name).and_then(Value::as_i64);
    // The reader has already insisted on the types: strings and integers.
    let exp = time("exp").expect("an accepted assertion has an integer exp");
    let (iat, nbf) = (time("iat"), time("nbf"));
    if claims["iss"] != CLIENT_ID || claims["sub"] != CLIENT_ID {
        broken.push(Refused::Issuer);
    }
    let aud_ok = match &claims["aud"] {
        Value::String(aud) => aud == ISSUER,
        Value::Array(list) => list.len() == 1 && list[0] == ISSUER,
        _ => false,
    };
    if !aud_ok {
        broken.push(Refused::Audience);
    }
    if exp <= NOW {
        broken.push(Refused::Expired);
    }
    if i128::from(exp) > i128::from(NOW) + i128::from(MAX_LIFETIME_SECS)
        || iat.is_some_and(|iat| i128::from(exp) - i128::from(iat) > i128::from(MAX_LIFETIME_SECS))
    {
        broken.push(Refused::TooLong);
    }
    let ahead = |t: Option<i64>| t.is_some_and(|t| t > NOW + CLOCK_SKEW_SECS);
    if ahead(iat) || ahead(nbf) {
        broken.push(Refused::NotYetValid);
    }
    let jti = claims["jti"].as_str().unwrap_or_default();
    if jti.is_empty() || jti.chars().count() > MAX_JTI_CHARS || jti.chars().any(char::is_control) {
        broken.push(Refused::Jti);
    }
    broken
}
