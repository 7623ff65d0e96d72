//! `allowed_sources` and `token_quota_per_hour` on the registration and
//! change forms: the rules of `sources` and `quota`, reached through the
//! forms' own validation and shape.

use super::*;
use crate::account::AccountKind;
use crate::shape::{Body, Refusal};
use serde_json::{Value, json};

fn form() -> ApplicationForm {
    ApplicationForm {
        name: "Partner Sync".into(),
        email: "sync@partner.org".into(),
        roles: vec!["r1".into()],
        ..Default::default()
    }
}

fn facts() -> ApplicationFacts {
    ApplicationFacts {
        existing_roles: ["r1"].into_iter().map(String::from).collect(),
        ..Default::default()
    }
}

fn codes(errors: ValidationErrors) -> Vec<(String, ErrorCode)> {
    errors.into_errors().into_iter().map(|e| (e.field, e.code)).collect()
}

fn on(field: &str, code: ErrorCode) -> Vec<(String, ErrorCode)> {
    vec![(field.to_owned(), code)]
}

#[test]
fn a_registration_keeps_its_sources_and_quota() {
    let mut f = form();
    f.allowed_sources = Some(vec!["127.0.0.1".into(), "10.0.0.0/8".into()]);
    f.token_quota_per_hour = Some(100);
    let app = f.validate(&facts()).unwrap();
    assert_eq!(
        app.allowed_sources().map(AllowedSources::to_strings),
        Some(vec!["127.0.0.1/32".to_owned(), "10.0.0.0/8".to_owned()])
    );
    assert_eq!(app.token_quota_per_hour().map(TokenQuota::per_hour), Some(100));
    let plain = form().validate(&facts()).unwrap();
    assert!(plain.allowed_sources().is_none() && plain.token_quota_per_hour().is_none());
}

#[test]
fn bad_sources_and_quotas_are_field_errors_beside_the_others() {
    let mut f = form();
    f.name = String::new();
    f.allowed_sources = Some(vec!["10.0.0.1/8".into(), "nope".into()]);
    f.token_quota_per_hour = Some(0);
    let got = codes(f.validate(&facts()).unwrap_err());
    assert_eq!(
        got,
        [
            ("name".to_owned(), ErrorCode::Required),
            ("allowed_sources".to_owned(), ErrorCode::InvalidValue),
            ("allowed_sources".to_owned(), ErrorCode::InvalidValue),
            ("token_quota_per_hour".to_owned(), ErrorCode::InvalidValue),
        ]
    );
    // The SDK sees the same before sending.
    assert_eq!(codes(f.validate_offline().unwrap_err()), got);
    let mut many = form();
    many.allowed_sources = Some((0..51).map(|i| format!("10.0.{i}.0/24")).collect());
    assert_eq!(
        codes(many.validate(&facts()).unwrap_err()),
        on("allowed_sources", ErrorCode::TooLong)
    );
    let mut empty = form();
    empty.allowed_sources = Some(vec![]);
    assert_eq!(
        codes(empty.validate(&facts()).unwrap_err()),
        on("allowed_sources", ErrorCode::Required)
    );
}

#[test]
fn a_change_sets_replaces_or_clears_them() {
    let me = AccountRef::new(AccountKind::Application, "a1");
    let c: ApplicationChange =
        serde_json::from_str(r#"{"allowed_sources": ["192.0.2.0/24"], "token_quota_per_hour": 5}"#).unwrap();
    let valid = c.validate(&facts(), &me).unwrap();
    assert!(valid.changes_limits());
    assert_eq!(
        valid.allowed_sources().map(|s| s.map(AllowedSources::to_strings)),
        Some(Some(vec!["192.0.2.0/24".to_owned()]))
    );
    assert_eq!(
        valid.token_quota_per_hour().map(|q| q.map(TokenQuota::per_hour)),
        Some(Some(5))
    );

    let cleared: ApplicationChange =
        serde_json::from_str(r#"{"allowed_sources": null, "token_quota_per_hour": null}"#).unwrap();
    let valid = cleared.validate(&facts(), &me).unwrap();
    assert_eq!(valid.allowed_sources(), Some(None));
    assert_eq!(valid.token_quota_per_hour(), Some(None));
    // What the SDK sends for a clear is a clear.
    assert_eq!(
        serde_json::to_value(&cleared).unwrap(),
        json!({"allowed_sources": null, "token_quota_per_hour": null})
    );

    let untouched = ApplicationChange {
        name: Some("Renamed".into()),
        ..Default::default()
    };
    let valid = untouched.validate(&facts(), &me).unwrap();
    assert!(!valid.changes_limits());

    let bad = ApplicationChange {
        allowed_sources: Some(Some(vec!["10.0.0.0/8".into(), "10.0.0.0/8".into()])),
        token_quota_per_hour: Some(Some(1_000_001)),
        ..Default::default()
    };
    let got = codes(bad.validate(&facts(), &me).unwrap_err());
    assert_eq!(
        got,
        [
            ("allowed_sources".to_owned(), ErrorCode::InvalidValue),
            ("token_quota_per_hour".to_owned(), ErrorCode::InvalidValue),
        ]
    );
    assert_eq!(codes(bad.validate_offline().unwrap_err()), got);
}

fn shape_errors<T: crate::shape::Shaped>(body: Value) -> Vec<(String, ErrorCode)> {
    match Body::parse(body.to_string().as_bytes()).unwrap().read::<T>() {
        Err(Refusal::Invalid(errors)) => codes(errors),
        Ok(_) => vec![],
        Err(other) => panic!("{other:?}"),
    }
}

#[test]
fn the_wrong_json_types_are_shape_errors() {
    let base = json!({"name": "Partner Sync", "email": "sync@partner.org", "roles": ["r1"]});
    for (field, value) in [
        ("allowed_sources", json!("10.0.0.0/8")),
        ("allowed_sources", json!([1, 2])),
        ("token_quota_per_hour", json!(1.5)),
        ("token_quota_per_hour", json!("100")),
    ] {
        let mut body = base.clone();
        body[field] = value.clone();
        assert_eq!(
            shape_errors::<ApplicationForm>(body),
            on(field, ErrorCode::InvalidType),
            "{field}: {value}"
        );
        assert_eq!(
            shape_errors::<ApplicationChange>(json!({ field: value })),
            on(field, ErrorCode::InvalidType),
            "{field}: {value}"
        );
    }
    // null is "no limit" on registration, "remove it" on a change: never an error.
    let mut body = base.clone();
    body["allowed_sources"] = Value::Null;
    body["token_quota_per_hour"] = Value::Null;
    assert!(shape_errors::<ApplicationForm>(body).is_empty());
    assert!(
        shape_errors::<ApplicationChange>(json!({"allowed_sources": null, "token_quota_per_hour": null})).is_empty()
    );
}
