use super::*;
use crate::validation::ErrorCode;
use crate::{ClientId, ClientSecret, PermissionSet};

const CLIENT_ID: &str = "cb_0123456789abcdef0123456789abcdef";
use serde_json::json;

#[test]
fn writing_is_exact_and_in_declaration_order() {
    let role = Role {
        id: "r".into(),
        name: "R".into(),
        permissions: PermissionSet::parse_scope("intake:view engage:view").unwrap(),
        created_at: crate::Timestamp::from_unix_secs(0),
        updated_at: crate::Timestamp::from_unix_micros(1_500_000),
    };
    assert_eq!(
        serde_json::to_string(&role).unwrap(),
        r#"{"id":"r","name":"R","permissions":["engage:view","intake:view"],"created_at":"1970-01-01T00:00:00Z","updated_at":"1970-01-01T00:00:01.5Z"}"#
    );
    let page = Page::<Role> {
        items: vec![],
        next_cursor: None,
    };
    assert_eq!(
        serde_json::to_string(&page).unwrap(),
        r#"{"items":[],"next_cursor":null}"#
    );
    let secret = RevealedSecret {
        client_id: ClientId::parse(CLIENT_ID).unwrap(),
        client_secret: ClientSecret::from_presented("cbs_x"),
        previous_secret_valid_until: None,
        secret_id: None,
        secret_label: None,
    };
    assert_eq!(
        serde_json::to_string(&secret).unwrap(),
        format!(r#"{{"client_id":"{CLIENT_ID}","client_secret":"cbs_x"}}"#)
    );
}

#[test]
fn debug_never_shows_a_credential() {
    let secret: RevealedSecret =
        serde_json::from_str(&format!(r#"{{"client_id":"{CLIENT_ID}","client_secret":"cbs_hush"}}"#)).unwrap();
    let session: Session =
        serde_json::from_str(r#"{"token":"cbsess_hush","expires_at":"2026-03-02T22:05:09Z"}"#).unwrap();
    let token: TokenResponse =
        serde_json::from_str(r#"{"access_token":"jwt_hush","token_type":"Bearer","expires_in":3600,"scope":""}"#)
            .unwrap();
    for shown in [format!("{secret:?}"), format!("{session:?}"), format!("{token:?}")] {
        assert!(!shown.contains("hush"), "{shown}");
    }
}

#[test]
fn token_lifetimes_are_read_as_other_servers_send_them() {
    for (raw, expected) in [
        ("3600", Some(3600)),
        ("-5", Some(0)),
        ("1e300", Some(i64::MAX)),
        ("18446744073709551615", Some(i64::MAX)),
        ("\"120\"", Some(120)),
        ("\" 60 \"", Some(60)),
        ("\"-5\"", None),
        ("\"soon\"", None),
        ("null", None),
    ] {
        let body = format!(r#"{{"access_token":"a","token_type":"bearer","expires_in":{raw}}}"#);
        let token: TokenResponse = serde_json::from_str(&body).unwrap();
        assert_eq!(token.expires_in, expected, "{raw}");
        assert_eq!(token.scope, None);
    }
    let bare: TokenResponse = serde_json::from_str(r#"{"access_token":"a","token_type":"Bearer"}"#).unwrap();
    assert_eq!(bare.expires_in, None);
}

#[test]
fn problems_from_newer_or_sparser_servers_are_read() {
    let problem: Problem = serde_json::from_str(
        r#"{"detail":"no","errors":[{"field":"name","code":"required","message":"m"},{"field":"x","code":"future_code"}],
            "holders":[{"kind":"user","id":"u","name":"U"},{"kind":"robot","id":"r","name":"R"}],"extra":1}"#,
    )
    .unwrap();
    assert_eq!(problem.title, "");
    let errors = problem.errors.unwrap();
    assert_eq!(errors[0].code, ErrorCode::Required);
    assert_eq!(
        (errors[1].code, errors[1].code_str(), errors[1].message.as_str()),
        (ErrorCode::Unrecognized, "future_code", "")
    );
    // Written back as it came, so a proxy or a log keeps the server's code.
    assert_eq!(serde_json::to_value(&errors[1]).unwrap()["code"], "future_code");
    // A kind this build does not know is kept, as unknown.
    let holders = problem.holders.unwrap();
    assert_eq!(holders.len(), 2);
    assert_eq!(holders[1].kind, crate::AccountKind::Unknown);
    let odd: Problem = serde_json::from_str(r#"{"holders":"several","title":null,"status":"403"}"#).unwrap();
    assert_eq!((odd.holders, odd.title.as_str(), odd.status), (None, "", 0));
}

#[test]
fn every_field_error_code_is_read_as_itself() {
    // What the SDK maps a 422 with: no known code may fall back to invalid_value.
    for code in ErrorCode::ALL {
        let body = json!({"status": 422, "errors": [{"field": "f", "code": code.as_str(), "message": "m"}]});
        let problem: Problem = serde_json::from_value(body).unwrap();
        assert_eq!(problem.errors.unwrap()[0].code, code);
    }
}

#[test]
fn unknown_permissions_and_fields_are_skipped() {
    let me: Me = serde_json::from_str(
        r#"{"kind":"application","id":"a","name":"A","permissions":["engage:view","billing:view"],"color":"red"}"#,
    )
    .unwrap();
    assert_eq!(me.permissions.to_scope(), "engage:view");
    assert_eq!(me.client_id, None);
}

#[test]
fn ids_are_typed_and_plain_strings_on_the_wire() {
    let me: Me = serde_json::from_str(&format!(
        r#"{{"kind":"application","id":"a1","name":"A","permissions":[],"client_id":"{CLIENT_ID}"}}"#
    ))
    .unwrap();
    assert_eq!(me.application_id(), Some(crate::ApplicationId::new("a1")));
    assert_eq!(me.user_id(), None);
    assert_eq!(me.client_id.as_ref().map(ClientId::as_str), Some(CLIENT_ID));
    let json = serde_json::to_value(&me).unwrap();
    assert_eq!(json["id"], "a1");
    assert_eq!(json["client_id"], CLIENT_ID);
}

#[test]
fn a_client_id_of_another_form_is_read_as_it_comes() {
    let secret: RevealedSecret = serde_json::from_str(r#"{"client_id":"cb_nope","client_secret":"cbs_x"}"#).unwrap();
    assert_eq!(secret.client_id, "cb_nope");
    assert_eq!(ClientId::parse("cb_nope"), None, "input is still checked");
}

#[test]
fn an_auth_method_or_case_status_from_a_newer_server_does_not_fail_the_answer() {
    let app: Application = serde_json::from_str(&format!(
        r#"{{"id":"a1","name":"A","email":"a@b.org","application_url":null,"description":null,"roles":[],
            "client_id":"{CLIENT_ID}","callback_url":"https://casebook.example.org","enabled":true,
            "token_endpoint_auth_method":"tls_client_auth","jwks":null,"jwks_uri":null,
            "allowed_sources":null,"token_quota_per_hour":null,
            "created_at":"2026-03-02T14:05:09Z","updated_at":"2026-03-02T14:05:09Z"}}"#
    ))
    .unwrap();
    assert_eq!(app.token_endpoint_auth_method, crate::AuthMethod::Unrecognized);
    assert_eq!(app.id, "a1");
    assert!(
        crate::AuthMethod::parse("unrecognized").is_none(),
        "no form or stored value parses to it"
    );
}

#[test]
fn an_application_from_an_older_server_is_read_as_not_dpop_bound() {
    let older = format!(
        r#"{{"id":"a1","name":"A","email":"a@b.org","application_url":null,"description":null,"roles":[],
            "client_id":"{CLIENT_ID}","callback_url":"https://casebook.example.org","enabled":true,
            "created_at":"2026-03-02T14:05:09Z","updated_at":"2026-03-02T14:05:09Z"}}"#
    );
    let app: Application = serde_json::from_str(&older).unwrap();
    assert!(!app.dpop_bound_access_tokens);
    let mut written = serde_json::to_value(&app).unwrap();
    assert_eq!(written["dpop_bound_access_tokens"], false, "written always");
    written["dpop_bound_access_tokens"] = json!(true);
    let bound: Application = serde_json::from_value(written).unwrap();
    assert!(bound.dpop_bound_access_tokens);
}
