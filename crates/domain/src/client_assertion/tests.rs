use super::*;
use crate::client_keys::ClientKeySet;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::json;

const ISSUER: &str = "https://casebook.example";
const CLIENT: &str = "cb_0123456789abcdef0123456789abcdef";
const NOW: i64 = 1_800_000_000;

fn compact(header: &Value, claims: &Value) -> String {
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.{}", enc(header), enc(claims), URL_SAFE_NO_PAD.encode([9u8; 64]))
}

fn claims() -> Value {
    json!({"iss": CLIENT, "sub": CLIENT, "aud": ISSUER, "exp": NOW + 60, "iat": NOW, "jti": "j1"})
}

fn judge(header: Value, claims: Value) -> Result<Accepted, Refused> {
    let token = compact(&header, &claims);
    let assertion = Assertion::parse(&token)?;
    assertion.check(CLIENT, ISSUER, Timestamp::from_unix_secs(NOW))
}

fn with(edit: impl FnOnce(&mut Value)) -> Result<Accepted, Refused> {
    let mut c = claims();
    edit(&mut c);
    judge(json!({"alg": "ES256", "kid": "e"}), c)
}

#[test]
fn a_well_formed_assertion_is_accepted_with_its_jti() {
    assert_eq!(
        with(|_| {}),
        Ok(Accepted {
            jti: "j1".into(),
            exp: NOW + 60
        })
    );
    assert!(with(|c| c["aud"] = json!([ISSUER])).is_ok());
    assert!(
        with(|c| {
            c.as_object_mut().unwrap().remove("iat");
        })
        .is_ok()
    );
}

#[test]
fn the_signing_input_is_the_first_two_parts_as_sent() {
    let token = compact(&json!({"alg": "EdDSA"}), &claims());
    let assertion = Assertion::parse(&token).unwrap();
    let cut = token.rfind('.').unwrap();
    assert_eq!(assertion.signing_input(), &token.as_bytes()[..cut]);
    assert_eq!(assertion.signature(), [9u8; 64]);
    assert_eq!(assertion.issuer(), CLIENT);
}

#[test]
fn only_the_four_asymmetric_algorithms_are_read() {
    for alg in ["none", "HS256", "HS512", "RS512", "ES384", "Ed25519", "rs256", ""] {
        assert_eq!(
            judge(json!({"alg": alg}), claims()).unwrap_err(),
            Refused::Algorithm,
            "{alg}"
        );
    }
    assert_eq!(
        judge(json!({"alg": "ES256", "crit": ["exp"]}), claims()).unwrap_err(),
        Refused::CriticalHeader
    );
}

#[test]
fn the_audience_is_the_issuer_alone() {
    let refused = |aud: Value| with(|c| c["aud"] = aud).unwrap_err();
    assert_eq!(refused(json!(format!("{ISSUER}/oauth2/token"))), Refused::Audience);
    assert_eq!(refused(json!([ISSUER, "https://other.example"])), Refused::Audience);
    assert_eq!(refused(json!([format!("{ISSUER}/oauth2/token")])), Refused::Audience);
    assert_eq!(refused(json!([])), Refused::Audience);
    assert_eq!(refused(json!(format!("{ISSUER}/"))), Refused::Audience);
    assert_eq!(refused(json!(null)), Refused::Audience);
}

#[test]
fn issuer_and_subject_are_both_the_client() {
    assert_eq!(with(|c| c["iss"] = json!("cb_other")).unwrap_err(), Refused::Issuer);
    assert_eq!(with(|c| c["sub"] = json!("cb_other")).unwrap_err(), Refused::Issuer);
}

#[test]
fn times_bound_the_assertion() {
    assert_eq!(with(|c| c["exp"] = json!(NOW)).unwrap_err(), Refused::Expired);
    assert_eq!(with(|c| c["exp"] = json!(NOW + 360)).unwrap_err(), Refused::TooLong);
    assert!(with(|c| c["exp"] = json!(NOW + 300)).is_ok());
    // Five minutes from now, but six from its own iat.
    assert_eq!(
        with(|c| {
            c["exp"] = json!(NOW + 240);
            c["iat"] = json!(NOW - 120);
        })
        .unwrap_err(),
        Refused::TooLong
    );
    assert_eq!(
        with(|c| {
            c["iat"] = json!(NOW + 61);
            c["exp"] = json!(NOW + 100);
        })
        .unwrap_err(),
        Refused::NotYetValid
    );
    assert_eq!(with(|c| c["nbf"] = json!(NOW + 61)).unwrap_err(), Refused::NotYetValid);
    assert_eq!(with(|c| c["exp"] = json!(i64::MAX)).unwrap_err(), Refused::TooLong);
}

#[test]
fn the_jti_is_required_and_bounded() {
    assert_eq!(with(|c| c["jti"] = json!("")).unwrap_err(), Refused::Jti);
    assert_eq!(with(|c| c["jti"] = json!("j".repeat(257))).unwrap_err(), Refused::Jti);
    assert_eq!(with(|c| c["jti"] = json!("a\nb")).unwrap_err(), Refused::Jti);
    assert_eq!(
        with(|c| {
            c.as_object_mut().unwrap().remove("jti");
        })
        .unwrap_err(),
        Refused::Malformed
    );
}

#[test]
fn malformed_serializations_are_refused() {
    let good = compact(&json!({"alg": "ES256"}), &claims());
    let padded = format!("{good}==");
    let mut parts: Vec<&str> = good.split('.').collect();
    for token in [
        "".to_owned(),
        "a.b".to_owned(),
        format!("{good}.x"),
        padded,
        good.replace('-', "+"),
    ] {
        if token != good {
            assert!(Assertion::parse(&token).is_err(), "{token}");
        }
    }
    parts[1] = "eyJleHAiOjEuNX0";
    assert_eq!(Assertion::parse(&parts.join(".")).unwrap_err(), Refused::Malformed);
    assert_eq!(with(|c| c["exp"] = json!(1.5e9)).unwrap_err(), Refused::Malformed);
    assert_eq!(
        with(|c| c["exp"] = json!("1800000060")).unwrap_err(),
        Refused::Malformed
    );
    // A repeated claim: which copy counts would depend on the parser.
    let twice = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256"}"#),
        URL_SAFE_NO_PAD.encode(format!(
            r#"{{"iss":"{CLIENT}","iss":"x","sub":"{CLIENT}","aud":"{ISSUER}","exp":{},"jti":"j"}}"#,
            NOW + 60
        )),
        URL_SAFE_NO_PAD.encode([1u8; 8])
    );
    assert_eq!(Assertion::parse(&twice).unwrap_err(), Refused::Malformed);
}

#[test]
fn the_key_must_fit_the_algorithm() {
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let keys = ClientKeySet::parse(&json!({"keys": [
        {"kty": "EC", "crv": "P-256", "kid": "e", "x": b64(&[1; 32]), "y": b64(&[2; 32])},
        {"kty": "OKP", "crv": "Ed25519", "kid": "o", "x": b64(&[3; 32])},
    ]}))
    .unwrap();
    let pick = |header: Value| {
        let token = compact(&header, &claims());
        Assertion::parse(&token).unwrap().key(&keys).map(|k| k.kid.clone())
    };
    assert_eq!(pick(json!({"alg": "ES256", "kid": "e"})), Ok("e".into()));
    assert_eq!(pick(json!({"alg": "EdDSA", "kid": "e"})), Err(Refused::KeyMismatch));
    assert_eq!(pick(json!({"alg": "RS256", "kid": "o"})), Err(Refused::KeyMismatch));
    assert_eq!(pick(json!({"alg": "EdDSA", "kid": "z"})), Err(Refused::UnknownKey));
    assert_eq!(pick(json!({"alg": "EdDSA"})), Err(Refused::UnknownKey));
}

proptest! {
    /// The window: accepted exactly when 0 < exp - now <= 300.
    #[test]
    fn exp_is_accepted_only_within_five_minutes(ahead in -1_000i64..1_000) {
        let got = with(|c| {
            c["exp"] = json!(NOW + ahead);
            c.as_object_mut().unwrap().remove("iat");
        });
        let want = if ahead <= 0 {
            Err(Refused::Expired)
        } else if ahead > MAX_LIFETIME_SECS {
            Err(Refused::TooLong)
        } else {
            Ok(Accepted { jti: "j1".into(), exp: NOW + ahead })
        };
        prop_assert_eq!(got, want);
    }

    #[test]
    fn exp_is_within_five_minutes_of_iat(age in 0i64..600, ahead in 1i64..300) {
        let got = with(|c| {
            c["iat"] = json!(NOW - age);
            c["exp"] = json!(NOW + ahead);
        });
        prop_assert_eq!(got.is_ok(), age + ahead <= MAX_LIFETIME_SECS);
    }

    #[test]
    fn no_text_panics_the_reader(token in "[A-Za-z0-9_.-]{0,200}") {
        if let Ok(a) = Assertion::parse(&token) {
            let _ = a.check(CLIENT, ISSUER, Timestamp::from_unix_secs(NOW));
        }
    }
}

#[test]
fn an_assertion_is_presented_alone_and_with_its_type() {
    let form = |body: &str| Form::parse(None, Some("application/x-www-form-urlencoded"), body.as_bytes()).unwrap();
    let typed = format!(
        "client_assertion_type={}&client_assertion=a.b.c",
        ASSERTION_TYPE.replace(':', "%3A")
    );
    let f = form(&typed);
    assert_eq!(
        presented(&[], &f),
        Ok(Some(Presented {
            client_id: None,
            assertion: "a.b.c"
        }))
    );
    let f = form(&format!("{typed}&client_id=cb_x"));
    assert_eq!(presented(&[], &f).unwrap().unwrap().client_id, Some("cb_x"));
    assert_eq!(presented(&[], &form("grant_type=client_credentials")), Ok(None));
    let f = form(&typed);
    assert_eq!(
        presented(&[b"Basic eDp5"], &f).unwrap_err().code,
        crate::OAuthErrorCode::InvalidRequest
    );
    let f = form(&format!("{typed}&client_secret=s"));
    assert!(presented(&[], &f).is_err());
    for body in [
        "client_assertion=a.b.c",
        "client_assertion_type=urn%3Ax&client_assertion=a.b.c",
    ] {
        let f = form(body);
        assert_eq!(
            presented(&[], &f).unwrap_err().code,
            crate::OAuthErrorCode::InvalidClient
        );
    }
}
