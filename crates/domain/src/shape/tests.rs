use super::*;
use crate::application::{ApplicationChange, ApplicationForm};
use crate::records::{CaseChange, CaseForm, ReportChange, ReportForm};
use crate::role::{RoleChange, RoleForm};
use crate::user::{UserChange, UserForm};
use crate::wire::{RevealRequest, RotateRequest, SignIn};
use proptest::prelude::*;
use serde::Serialize;
use serde_json::json;

fn read<T: Shaped>(body: Value) -> Result<T, Refusal> {
    Body::parse(body.to_string().as_bytes()).expect("JSON").read::<T>()
}

/// The `(field, code)` pairs of a refusal, in order.
fn refused<T: Shaped>(body: Value) -> Vec<(String, &'static str)> {
    match read::<T>(body) {
        Err(Refusal::Invalid(errors)) => errors
            .into_errors()
            .into_iter()
            .map(|e| (e.field, e.code.as_str()))
            .collect(),
        Ok(_) => vec![],
        Err(other) => panic!("not a field refusal: {other:?}"),
    }
}

fn pairs(expected: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
    expected.iter().map(|&(f, c)| (f.to_owned(), c)).collect()
}

fn valid_application() -> Value {
    json!({"name": "Partner Sync", "email": "sync@partner.org", "roles": ["r1"]})
}

#[test]
fn an_empty_registration_lists_exactly_its_required_fields() {
    assert_eq!(
        refused::<ApplicationForm>(json!({})),
        pairs(&[("name", "required"), ("email", "required"), ("roles", "required")])
    );
}

#[test]
fn shape_errors_and_rule_errors_come_together_in_form_order() {
    assert_eq!(
        refused::<ApplicationForm>(json!({"name": "", "email": 5})),
        pairs(&[("name", "required"), ("email", "invalid_type"), ("roles", "required")])
    );
    assert_eq!(
        refused::<ApplicationForm>(json!({
            "zz": 1, "description": 7, "roles": ["r1", "r1"], "application_url": "ftp://x",
            "email": "nope", "name": "n".repeat(101), "aa": null,
        })),
        pairs(&[
            ("name", "too_long"),
            ("email", "invalid_email"),
            ("application_url", "invalid_url"),
            ("roles", "duplicate_role"),
            ("description", "invalid_type"),
            ("aa", "unknown_field"),
            ("zz", "unknown_field"),
        ])
    );
}

#[test]
fn a_refused_field_is_not_also_judged_by_its_rules() {
    // The stand-in `[]` would be "select at least one role"; the shape error says it all.
    for roles in [
        json!("x"),
        json!([1]),
        json!(["r1", 2]),
        json!({"r1": true}),
        Value::Null,
    ] {
        let mut body = valid_application();
        body["roles"] = roles.clone();
        let code = if roles.is_null() { "required" } else { "invalid_type" };
        assert_eq!(refused::<ApplicationForm>(body), pairs(&[("roles", code)]), "{roles}");
    }
}

#[test]
fn messages_name_the_expected_type_and_never_the_value() {
    let Err(Refusal::Invalid(errors)) = read::<UserForm>(json!({
        "email": ["hunter2hunter2"], "name": "Jo", "password": 1234567890123_i64,
        "roles": "admin", "hunter3": "hunter4",
    })) else {
        panic!("refused")
    };
    let messages: Vec<(&str, &str)> = errors
        .errors()
        .iter()
        .map(|e| (e.field.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        messages,
        [
            ("email", "email must be a string"),
            ("password", "password must be a string or null"),
            ("roles", "roles must be a list of strings or null"),
            (
                "hunter3",
                "this form has no such field; its fields are email, name, password, roles"
            ),
        ]
    );
    let shown = errors.to_string();
    assert!(!shown.contains("hunter2") && !shown.contains("1234567890123") && !shown.contains("hunter4"));
    assert_eq!(
        refused::<ApplicationChange>(json!({"enabled": "yes", "name": 5})),
        pairs(&[("name", "invalid_type"), ("enabled", "invalid_type")])
    );
    let Err(Refusal::Invalid(errors)) = read::<RotateRequest>(json!({"password": "p", "grace_period_seconds": 1.5}))
    else {
        panic!("refused")
    };
    assert_eq!(
        errors.errors()[0].message,
        "grace_period_seconds must be an integer or null"
    );
}

#[test]
fn null_is_missing_where_required_absent_where_optional_and_clears_where_clearable() {
    let mut body = valid_application();
    body["name"] = Value::Null;
    assert_eq!(refused::<ApplicationForm>(body), pairs(&[("name", "required")]));
    let mut body = valid_application();
    body["description"] = Value::Null;
    assert_eq!(read::<ApplicationForm>(body).unwrap().description, None);
    let change: ApplicationChange = read(json!({"description": null, "name": null})).unwrap();
    assert_eq!((change.description, change.name), (Some(None), None));
    let user: UserForm = read(json!({"email": "jo@a.org", "name": "Jo", "password": "p", "roles": null})).unwrap();
    assert!(user.roles.is_empty());
}

#[test]
fn a_field_given_twice_is_refused() {
    let body = br#"{"name": "A", "name": "B", "email": "a@b.org", "roles": ["r1"], "x": 1, "x": 2}"#;
    let Err(Refusal::Invalid(errors)) = Body::parse(body).unwrap().read::<ApplicationForm>() else {
        panic!("refused")
    };
    let got: Vec<(&str, ErrorCode)> = errors.errors().iter().map(|e| (e.field.as_str(), e.code)).collect();
    assert_eq!(got, [("name", ErrorCode::InvalidValue), ("x", ErrorCode::UnknownField)]);
}

#[test]
fn only_an_object_is_a_form() {
    for (body, kind) in [
        ("[]", "an array"),
        ("[{\"name\": 1}]", "an array"),
        ("5", "a number"),
        ("-1.5", "a number"),
        ("\"name\"", "a string"),
        ("true", "a boolean"),
        ("null", "null"),
    ] {
        let body = Body::parse(body.as_bytes()).unwrap();
        assert_eq!(body.entries().count(), 0);
        assert_eq!(body.read::<SignIn>().unwrap_err(), Refusal::NotAnObject(kind));
    }
    for not_json in [&b""[..], b"{", b"{\"a\": 1} x", b"{\"a\": \"\xff\"}", b"{'a': 1}"] {
        assert!(Body::parse(not_json).is_err(), "{not_json:?}");
    }
}

#[test]
fn the_plain_bodies_report_their_shape_and_rules() {
    assert_eq!(
        refused::<SignIn>(json!({})),
        pairs(&[("email", "required"), ("password", "required")])
    );
    assert_eq!(
        refused::<RevealRequest>(json!({"password": 5, "remember": true})),
        pairs(&[("password", "invalid_type"), ("remember", "unknown_field")])
    );
    assert_eq!(
        refused::<RotateRequest>(json!({"password": [], "grace_period_seconds": -1})),
        pairs(&[("password", "invalid_type"), ("grace_period_seconds", "invalid_value")])
    );
    assert_eq!(
        refused::<UserForm>(json!({"name": "Jo", "password": "short"})),
        pairs(&[("email", "required"), ("password", "too_short")])
    );
    assert_eq!(
        refused::<RoleChange>(json!({"permissions": [], "colour": "red"})),
        pairs(&[("permissions", "required"), ("colour", "unknown_field")])
    );
}

#[test]
fn a_well_shaped_body_reads_as_serde_would() {
    let body = json!({"name": " A ", "email": "a@b.org", "roles": ["r1"], "application_url": null});
    let direct: ApplicationForm = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(read::<ApplicationForm>(body).unwrap(), direct);
    // Rules are the caller's to run on a well-shaped body: with storage, and all of them.
    assert!(read::<ApplicationForm>(json!({"name": "", "email": "", "roles": []})).is_ok());
}

#[test]
fn unknown_fields_are_listed_within_bounds() {
    let mut body = valid_application();
    for i in 0..1000 {
        body[format!("k{i:04}")] = json!(i);
    }
    let got = refused::<ApplicationForm>(body);
    assert_eq!(got.len(), MAX_UNKNOWN_LISTED);
    assert_eq!(got[0], ("k0000".to_owned(), "unknown_field"));
}

/// A body with every field of `T`'s table set, and `T`'s own serialization of it.
fn round_trip<T: Shaped + Serialize>() -> (BTreeSet<&'static str>, BTreeSet<String>) {
    let sample = |kind: Kind| match kind {
        Kind::Text => json!("x"),
        Kind::TextList => json!(["x"]),
        Kind::Boolean => json!(true),
        Kind::Integer => json!(1),
        Kind::Object => json!({"keys": []}),
        Kind::Choice(values) => json!(values[0]),
    };
    let full: Map<String, Value> = T::FIELDS.iter().map(|f| (f.name.to_owned(), sample(f.kind))).collect();
    let form: T = match read::<T>(Value::Object(full)) {
        Ok(form) => form,
        Err(Refusal::Invalid(_)) => panic!("a full body is refused for its rules only when well shaped"),
        Err(other) => panic!("{other:?}"),
    };
    // Stand-ins for every required field must deserialize too.
    assert!(!matches!(read::<T>(json!({})), Err(Refusal::Unreadable(_))));
    let written = serde_json::to_value(&form).unwrap();
    let table = T::FIELDS.iter().map(|f| f.name).collect();
    (table, written.as_object().unwrap().keys().cloned().collect())
}

macro_rules! tables_agree_with_serde {
    ($($form:ty),* $(,)?) => {$(
        let (table, written) = round_trip::<$form>();
        let written: BTreeSet<&str> = written.iter().map(String::as_str).collect();
        assert_eq!(table, written, "{}", stringify!($form));
    )*};
}

#[test]
fn every_table_names_exactly_the_fields_serde_reads() {
    tables_agree_with_serde!(
        ApplicationForm,
        ApplicationChange,
        UserForm,
        UserChange,
        RoleForm,
        RoleChange,
        CaseForm,
        CaseChange,
        ReportForm,
        ReportChange,
        SignIn,
        RevealRequest,
        RotateRequest,
    );
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(".{0,6}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    let names: Vec<String> = ApplicationForm::FIELDS.iter().map(|f| f.name.to_owned()).collect();
    prop_oneof![proptest::sample::select(names), "[a-z_]{0,12}", ".{0,8}"]
}

proptest! {
    /// Whatever object arrives, reading it never panics; every key the form
    /// lacks is reported as unknown; every error names a field that was in
    /// the form or in the body; errors come in the form's order.
    #[test]
    fn any_object_is_read_or_refused_field_by_field(
        body in proptest::collection::btree_map(key(), json_value(), 0..8)
    ) {
        let keys: BTreeSet<String> = body.keys().cloned().collect();
        let result = read::<ApplicationForm>(Value::Object(body.into_iter().collect()));
        let fields = ApplicationForm::FIELDS;
        let strays: BTreeSet<&String> = keys.iter().filter(|k| fields.iter().all(|f| f.name != k.as_str())).collect();
        match result {
            Ok(_) => prop_assert!(strays.is_empty()),
            Err(Refusal::Invalid(errors)) => {
                let unknown: BTreeSet<&String> = errors
                    .errors()
                    .iter()
                    .filter(|e| e.code == ErrorCode::UnknownField)
                    .map(|e| &e.field)
                    .collect();
                prop_assert_eq!(&unknown, &strays);
                for e in errors.errors() {
                    prop_assert!(fields.iter().any(|f| f.name == e.field) || keys.contains(&e.field), "{:?}", e);
                }
                let order: Vec<usize> = errors.errors().iter().map(|e| position(fields, &e.field)).collect();
                prop_assert!(order.windows(2).all(|w| w[0] <= w[1]), "{:?}", errors);
            }
            Err(other) => prop_assert!(false, "{:?}", other),
        }
    }

    /// Any JSON at all parses, and only objects can be forms.
    #[test]
    fn any_json_parses(value in json_value()) {
        let body = Body::parse(value.to_string().as_bytes()).unwrap();
        let refusal = body.read::<SignIn>().err();
        prop_assert_eq!(matches!(refusal, Some(Refusal::NotAnObject(_))), !value.is_object());
    }
}

/// The table the TypeScript SDK checks forms with offline
/// (`sdks/fixtures/form-rules.json`) is these forms' tables, field by
/// field, in order: a second copy that drifts fails here.
#[test]
fn the_sdks_form_table_is_the_domains() {
    use crate::federated::FederatedCredentialForm;
    let text = include_str!("../../../../sdks/fixtures/form-rules.json");
    let table: Value = serde_json::from_str(text).expect("the table is JSON");
    let ours = |fields: &[Field]| -> Vec<Value> {
        fields
            .iter()
            .map(|field| {
                let kind = match field.kind {
                    Kind::Text => json!("text"),
                    Kind::TextList => json!("text_list"),
                    Kind::Boolean => json!("boolean"),
                    Kind::Integer => json!("integer"),
                    Kind::Object => json!("object"),
                    Kind::Choice(values) => json!({"choice": values}),
                };
                let presence = match field.presence {
                    Presence::Required => "required",
                    Presence::Optional => "optional",
                    Presence::Clearable => "clearable",
                };
                json!({"name": field.name, "kind": kind, "presence": presence})
            })
            .collect()
    };
    let forms: [(&str, &[Field]); 11] = [
        ("CaseForm", CaseForm::FIELDS),
        ("CaseChange", CaseChange::FIELDS),
        ("ReportForm", ReportForm::FIELDS),
        ("ReportChange", ReportChange::FIELDS),
        ("RoleForm", RoleForm::FIELDS),
        ("RoleChange", RoleChange::FIELDS),
        ("UserForm", UserForm::FIELDS),
        ("UserChange", UserChange::FIELDS),
        ("ApplicationForm", ApplicationForm::FIELDS),
        ("ApplicationChange", ApplicationChange::FIELDS),
        ("FederatedCredentialForm", FederatedCredentialForm::FIELDS),
    ];
    let listed = table["forms"].as_object().expect("forms");
    assert_eq!(listed.len(), forms.len(), "the table's forms are these");
    for (name, fields) in forms {
        let theirs: Vec<Value> = listed[name]["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} is in the table"))
            .iter()
            .map(|field| json!({"name": field["name"], "kind": field["kind"], "presence": field["presence"]}))
            .collect();
        assert_eq!(theirs, ours(fields), "{name}");
    }
    assert_eq!(table["max_unknown_listed"], json!(MAX_UNKNOWN_LISTED));

    // The rules of values: which fields carry them, and their constants and words.
    for (name, _) in forms {
        for field in listed[name]["fields"].as_array().expect("fields") {
            let value = match field["name"].as_str() {
                Some("email") => json!("email"),
                Some("permissions") => json!("permissions"),
                _ => Value::Null,
            };
            assert_eq!(field["value"], value, "{name}.{}: its rule of values", field["name"]);
        }
    }
    let values = &table["values"];
    let names: Vec<String> = crate::Permission::all().map(|p| p.to_string()).collect();
    assert_eq!(values["permissions"]["names"], json!(names));
    assert_eq!(
        values["permissions"]["syntax"],
        json!(crate::permission::PermissionParseError.to_string())
    );
    assert_eq!(values["email"]["max_chars"], json!(crate::email::MAX_EMAIL_CHARS));
}

/// The shared fixture's addresses and permissions, judged by the rules the
/// table describes: the same errors in the same words as the SDKs expect.
#[test]
fn the_fixtures_addresses_and_permissions_are_judged_as_the_domain_judges_them() {
    let text = include_str!("../../../../sdks/fixtures/form-cases.json");
    let fixture: Value = serde_json::from_str(text).expect("the fixture is JSON");
    let mut judged = 0;
    for case in fixture["cases"].as_array().expect("cases") {
        let errors = case["errors"].as_array().expect("errors");
        let expected = |field: &str| errors.iter().find(|e| e["field"] == field).cloned();
        let as_json = |e: crate::validation::FieldError| json!({"field": e.field, "code": e.code.as_str(), "message": e.message});
        if let Some(email) = case["body"]["email"].as_str() {
            assert_eq!(crate::Email::parse(email).err().map(as_json), expected("email"), "{}", case["note"]);
            judged += 1;
        }
        let role_form = case["form"] == "RoleForm" && case["body"]["permissions"].is_array();
        if role_form && let Ok(form) = read::<RoleForm>(case["body"].clone()) {
            let found = form.validate().err().and_then(|all| {
                all.into_errors()
                    .into_iter()
                    .find(|e| e.field == "permissions")
                    .map(as_json)
            });
            assert_eq!(found, expected("permissions"), "{}", case["note"]);
            judged += 1;
        }
    }
    assert!(judged > 20, "the fixture's cases were found ({judged})");
}
