use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::json;

const OURS: &str = "https://casebook.example";
const CLUSTER: &str = "https://kubernetes.default.svc.cluster.local";
const SA: &str = "system:serviceaccount:payments:exporter";
const NOW: i64 = 1_800_000_000;

fn identity() -> TrustedIdentity {
    TrustedIdentity {
        issuer: CLUSTER.into(),
        subject: SA.into(),
        audience: None,
        claims: Map::new(),
        max_token_lifetime_secs: None,
        single_use: false,
    }
}

fn token_claims() -> Value {
    json!({"iss": CLUSTER, "sub": SA, "aud": [OURS], "exp": NOW + 3600, "iat": NOW - 10, "nbf": NOW - 10,
        "kubernetes.io": {"namespace": "payments"}})
}

fn compact(claims: &Value) -> String {
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        enc(&json!({"alg": "RS256", "kid": "k"})),
        enc(claims),
        URL_SAFE_NO_PAD.encode([1u8; 256])
    )
}

fn judge(claims: &Value, identity: &TrustedIdentity) -> Result<(), Refused> {
    let raw = compact(claims);
    let token = OutsideToken::parse(&raw)?;
    token.check(identity, OURS, Timestamp::from_unix_secs(NOW))
}

fn edited(edit: impl FnOnce(&mut Map<String, Value>)) -> Value {
    let mut claims = token_claims();
    edit(claims.as_object_mut().unwrap());
    claims
}

#[test]
fn a_token_of_the_trusted_identity_is_accepted() {
    assert_eq!(judge(&token_claims(), &identity()), Ok(()));
    // A single audience as a string, and a list naming others beside ours.
    assert_eq!(
        judge(&edited(|c| _ = c.insert("aud".into(), json!(OURS))), &identity()),
        Ok(())
    );
    let several = edited(|c| _ = c.insert("aud".into(), json!(["https://vault.example", OURS])));
    assert_eq!(judge(&several, &identity()), Ok(()));
}

#[test]
fn each_mismatch_is_refused_for_its_own_reason() {
    let cases: [(&str, Value, Refused); 8] = [
        (
            "another subject",
            edited(|c| _ = c.insert("sub".into(), json!("system:serviceaccount:payments:other"))),
            Refused::NoCredential,
        ),
        (
            "another issuer",
            edited(|c| _ = c.insert("iss".into(), json!("https://other.cluster"))),
            Refused::NoCredential,
        ),
        (
            "another audience",
            edited(|c| _ = c.insert("aud".into(), json!(["https://vault.example"]))),
            Refused::Audience,
        ),
        ("no audience", edited(|c| _ = c.remove("aud")), Refused::Audience),
        (
            "expired",
            edited(|c| _ = c.insert("exp".into(), json!(NOW))),
            Refused::Expired,
        ),
        ("no expiry", edited(|c| _ = c.remove("exp")), Refused::MissingClaim),
        (
            "issued in the future",
            edited(|c| _ = c.insert("iat".into(), json!(NOW + 120))),
            Refused::NotYetValid,
        ),
        (
            "not before later",
            edited(|c| _ = c.insert("nbf".into(), json!(NOW + 120))),
            Refused::NotYetValid,
        ),
    ];
    for (why, claims, reason) in cases {
        assert_eq!(judge(&claims, &identity()), Err(reason), "{why}");
    }
}

#[test]
fn a_named_audience_replaces_ours() {
    let kube = TrustedIdentity {
        audience: Some("casebook".into()),
        ..identity()
    };
    assert_eq!(judge(&token_claims(), &kube), Err(Refused::Audience));
    let for_kube = edited(|c| _ = c.insert("aud".into(), json!(["casebook"])));
    assert_eq!(judge(&for_kube, &kube), Ok(()));
}

#[test]
fn required_claims_must_be_present_and_equal_as_json() {
    let mut narrowed = identity();
    narrowed
        .claims
        .insert("kubernetes.io".into(), json!({"namespace": "payments"}));
    assert_eq!(judge(&token_claims(), &narrowed), Ok(()));
    let other_ns = edited(|c| _ = c.insert("kubernetes.io".into(), json!({"namespace": "billing"})));
    assert_eq!(judge(&other_ns, &narrowed), Err(Refused::Claim));
    let absent = edited(|c| _ = c.remove("kubernetes.io"));
    assert_eq!(judge(&absent, &narrowed), Err(Refused::Claim));
    // The string "1" is not the number 1.
    narrowed.claims = Map::from_iter([("run".into(), json!(1))]);
    assert_eq!(
        judge(&edited(|c| _ = c.insert("run".into(), json!("1"))), &narrowed),
        Err(Refused::Claim)
    );
    assert_eq!(
        judge(&edited(|c| _ = c.insert("run".into(), json!(1))), &narrowed),
        Ok(())
    );
}

#[test]
fn hmac_and_none_tokens_are_unreadable() {
    for alg in ["none", "HS256"] {
        let enc = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let raw = format!("{}.{}.", enc(json!({"alg": alg})), enc(token_claims()));
        assert_eq!(
            OutsideToken::parse(&raw).err(),
            Some(Refused::Unreadable(Unreadable::Algorithm)),
            "{alg}"
        );
    }
}

proptest! {
    /// Whatever a required claim holds, a token whose value differs in any
    /// way is refused, and the token with the very value is accepted.
    #[test]
    fn a_required_claim_opens_only_to_its_own_value(
        wanted in "[a-z0-9/_-]{1,12}",
        presented in "[a-z0-9/_-]{1,12}",
    ) {
        let mut narrowed = identity();
        narrowed.claims.insert("repository".into(), json!(wanted.clone()));
        let claims = edited(|c| _ = c.insert("repository".into(), json!(presented.clone())));
        let verdict = judge(&claims, &narrowed);
        prop_assert_eq!(verdict.is_ok(), wanted == presented);
    }

    /// Any subject but the trusted one finds no credential.
    #[test]
    fn only_the_trusted_subject_matches(sub in "system:serviceaccount:[a-z]{1,6}:[a-z]{1,6}") {
        let claims = edited(|c| _ = c.insert("sub".into(), json!(sub.clone())));
        let verdict = judge(&claims, &identity());
        prop_assert_eq!(verdict.is_ok(), sub == SA);
    }
}

fn form() -> FederatedCredentialForm {
    FederatedCredentialForm {
        name: "exporter".into(),
        issuer: CLUSTER.into(),
        jwks: Some(
            json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM"}]}),
        ),
        jwks_uri: None,
        subject: SA.into(),
        audience: None,
        claims: None,
        max_token_lifetime_seconds: None,
        single_use: None,
    }
}

fn codes(form: &FederatedCredentialForm) -> Vec<(String, ErrorCode)> {
    form.validate(false)
        .err()
        .map(|e| e.into_errors().into_iter().map(|e| (e.field, e.code)).collect())
        .unwrap_or_default()
}

#[test]
fn the_form_needs_a_name_an_issuer_a_subject_and_keys() {
    let good = form().validate(false).unwrap();
    assert_eq!(good.identity.issuer, CLUSTER);
    assert!(matches!(good.keys, KeySource::Inline(_)));
    let blank = FederatedCredentialForm {
        name: " ".into(),
        issuer: String::new(),
        subject: String::new(),
        jwks: None,
        ..form()
    };
    assert_eq!(
        codes(&blank),
        [
            ("name".to_owned(), ErrorCode::Required),
            ("issuer".to_owned(), ErrorCode::Required),
            ("subject".to_owned(), ErrorCode::Required),
            ("jwks".to_owned(), ErrorCode::Required),
        ]
    );
    let both = FederatedCredentialForm {
        jwks_uri: Some("https://issuer.example/jwks".into()),
        ..form()
    };
    assert_eq!(codes(&both), [("jwks_uri".to_owned(), ErrorCode::InvalidValue)]);
    let by_uri = FederatedCredentialForm {
        jwks: None,
        jwks_uri: Some("https://token.actions.githubusercontent.com/.well-known/jwks".into()),
        ..form()
    };
    assert!(matches!(by_uri.validate(false).unwrap().keys, KeySource::Uri(_)));
    let private = FederatedCredentialForm {
        jwks: None,
        jwks_uri: Some("https://10.0.0.1/openid/v1/jwks".into()),
        ..form()
    };
    assert_eq!(codes(&private), [("jwks_uri".to_owned(), ErrorCode::PrivateAddress)]);
    assert!(
        private.validate(true).is_ok(),
        "allowed where the install allows private addresses"
    );
}

#[test]
fn a_private_issuer_key_is_refused_like_an_applications() {
    let mut private = form();
    private.jwks.as_mut().unwrap()["keys"][0]["d"] = json!("AwMD");
    assert_eq!(codes(&private), [("jwks".to_owned(), ErrorCode::PrivateKeyMaterial)]);
}

#[test]
fn required_claims_are_bounded_and_never_the_registered_ones() {
    let with = |claims: Value| FederatedCredentialForm {
        claims: Some(claims.as_object().unwrap().clone()),
        ..form()
    };
    assert!(
        codes(&with(
            json!({"repository": "partner/exporter", "ref": "refs/heads/main"})
        ))
        .is_empty()
    );
    let claim = |code| vec![("claims".to_owned(), code)];
    assert_eq!(codes(&with(json!({"sub": "x"}))), claim(ErrorCode::InvalidValue));
    assert_eq!(codes(&with(json!({"aud": "x"}))), claim(ErrorCode::InvalidValue));
    assert_eq!(codes(&with(json!({" ": "x"}))), claim(ErrorCode::InvalidValue));
    let many: Map<String, Value> = (0..=MAX_CLAIMS).map(|i| (format!("c{i}"), json!(i))).collect();
    assert_eq!(codes(&with(Value::Object(many))), claim(ErrorCode::TooLong));
    assert_eq!(
        codes(&with(json!({"big": "x".repeat(MAX_CLAIMS_BYTES)}))),
        claim(ErrorCode::TooLong)
    );
}

#[test]
fn an_object_claim_is_matched_by_a_token_holding_at_least_its_members() {
    // What a real projected service-account token carries.
    let kubernetes = edited(|c| {
        _ = c.insert(
            "kubernetes.io".into(),
            json!({"namespace": "payments", "pod": {"name": "exporter-7f9c", "uid": "1c2d"},
                "serviceaccount": {"name": "exporter", "uid": "9a8b"}}),
        )
    });
    let mut narrowed = identity();
    narrowed
        .claims
        .insert("kubernetes.io".into(), json!({"namespace": "payments"}));
    assert_eq!(judge(&kubernetes, &narrowed), Ok(()));
    narrowed.claims.insert(
        "kubernetes.io".into(),
        json!({"namespace": "payments", "serviceaccount": {"name": "exporter"}}),
    );
    assert_eq!(judge(&kubernetes, &narrowed), Ok(()), "nested objects too");
    narrowed.claims.insert(
        "kubernetes.io".into(),
        json!({"namespace": "payments", "serviceaccount": {"name": "other"}}),
    );
    assert_eq!(judge(&kubernetes, &narrowed), Err(Refused::Claim));
    // A list is not a set of members: it must be equal.
    narrowed.claims = Map::from_iter([("groups".into(), json!(["a"]))]);
    assert_eq!(
        judge(&edited(|c| _ = c.insert("groups".into(), json!(["a", "b"]))), &narrowed),
        Err(Refused::Claim)
    );
    // A string is not an object holding nothing.
    narrowed.claims = Map::from_iter([("k".into(), json!({}))]);
    assert_eq!(
        judge(&edited(|c| _ = c.insert("k".into(), json!("x"))), &narrowed),
        Err(Refused::Claim)
    );
}

#[test]
fn a_number_json_cannot_carry_exactly_is_refused_at_registration() {
    let with = |claims: &str| FederatedCredentialForm {
        claims: Some(serde_json::from_str(claims).unwrap()),
        ..form()
    };
    let refused = vec![("claims".to_owned(), ErrorCode::InvalidValue)];
    for claims in [
        r#"{"acct": 100000000000000000000000}"#,
        r#"{"acct": 1.5}"#,
        r#"{"nested": {"acct": 1e3}}"#,
        r#"{"list": [1, 2.0]}"#,
    ] {
        assert_eq!(codes(&with(claims)), refused, "{claims}");
    }
    for claims in [
        r#"{"acct": 9223372036854775807}"#,
        r#"{"acct": 18446744073709551615}"#,
        r#"{"acct": -5, "s": "100000000000000000000000"}"#,
    ] {
        assert!(codes(&with(claims)).is_empty(), "{claims}");
    }
    // The rounding that made the rule: two different numbers, one float.
    let stored: Value = serde_json::from_str("100000000000000000000000").unwrap();
    let neighbour: Value = serde_json::from_str("99999999999999991611392").unwrap();
    assert_eq!(stored, neighbour);
}

#[test]
fn a_lifetime_bound_refuses_long_lived_tokens_and_tokens_without_iat() {
    let mut bounded = identity();
    bounded.max_token_lifetime_secs = Some(3600);
    assert_eq!(judge(&token_claims(), &bounded), Err(Refused::TooLongLived), "3610 s");
    let hour = edited(|c| _ = c.insert("iat".into(), json!(NOW + 3600 - 3600)));
    assert_eq!(judge(&hour, &bounded), Ok(()));
    let decade = edited(|c| _ = c.insert("exp".into(), json!(NOW + 10 * 365 * 86_400)));
    assert_eq!(judge(&decade, &bounded), Err(Refused::TooLongLived));
    let no_iat = edited(|c| _ = c.remove("iat"));
    assert_eq!(judge(&no_iat, &bounded), Err(Refused::TooLongLived));
    assert_eq!(judge(&decade, &identity()), Ok(()), "unbounded by default");
}

#[test]
fn a_single_use_credential_needs_a_jti() {
    let mut once = identity();
    once.single_use = true;
    assert_eq!(judge(&token_claims(), &once), Err(Refused::NoJti));
    let with_jti = edited(|c| _ = c.insert("jti".into(), json!("a1")));
    assert_eq!(judge(&with_jti, &once), Ok(()));
    let raw = compact(&with_jti);
    assert_eq!(OutsideToken::parse(&raw).unwrap().single_use_key(), Ok(("a1", NOW + 3600)));
}

#[test]
fn the_lifetime_bound_is_one_second_to_a_day() {
    let with = |seconds| FederatedCredentialForm {
        max_token_lifetime_seconds: Some(seconds),
        ..form()
    };
    let refused = vec![("max_token_lifetime_seconds".to_owned(), ErrorCode::InvalidValue)];
    assert_eq!(codes(&with(0)), refused);
    assert_eq!(codes(&with(86_401)), refused);
    assert!(codes(&with(1)).is_empty());
    assert!(codes(&with(86_400)).is_empty());
    let valid = FederatedCredentialForm {
        single_use: Some(true),
        ..with(600)
    }
    .validate(false)
    .unwrap();
    assert_eq!(valid.identity.max_token_lifetime_secs, Some(600));
    assert!(valid.identity.single_use);
}
