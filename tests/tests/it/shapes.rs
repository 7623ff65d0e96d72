//! The contract ("Errors"): a JSON body with fields missing,
//! null where a value is needed, of the wrong type or unknown is a 422 like
//! any other validation failure, listing every violation at once in the
//! form's order (JSON that is not an object too, as one error for the whole
//! document); only a body that is not JSON at all is a 400.
//! Every JSON endpoint of the admin and Casebook APIs, on both backends.

use casebook_tests::{
    ADMIN_EMAIL, ADMIN_PASSWORD, APPS, TestApp, USER_PASSWORD, both_backends, expect, id_of, ordered_field_codes,
    problem,
};
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

const CASES: &str = "/api/v1/engage/cases";
const REPORTS: &str = "/api/v1/intake/reports";

/// One JSON endpoint and what it answers to bodies of the wrong shape.
struct Endpoint {
    method: Method,
    path: String,
    /// Each body with the exact `(field, code)` list of its 422.
    refused: Vec<(Value, Vec<(&'static str, &'static str)>)>,
}

async fn send(app: &TestApp, method: &Method, path: &str, token: Option<&str>, body: Vec<u8>) -> reqwest::Response {
    let mut request = app
        .http
        .request(method.clone(), app.url(path))
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("send")
}

/// Every record a refused body could have touched, to compare before and after.
async fn snapshot(app: &TestApp, admin: &str, paths: &[String]) -> Vec<Value> {
    let mut all = Vec::new();
    for path in paths {
        all.push(expect(app.get(path, admin).await, 200).await);
    }
    all
}

fn endpoints(app_path: &str, user_path: &str, role_path: &str, case_path: &str, report_path: &str) -> Vec<Endpoint> {
    let valid_user = json!({"email": "new@agency.org", "name": "New", "password": USER_PASSWORD});
    let with = |base: &Value, key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    let valid_app = json!({"name": "Fine", "email": "fine@partner.org", "roles": ["auditor"]});
    let endpoint = |method: Method, path: &str, refused| Endpoint {
        method,
        path: path.to_owned(),
        refused,
    };
    vec![
        endpoint(
            Method::POST,
            "/admin/v1/sessions",
            vec![
                (json!({}), vec![("email", "required"), ("password", "required")]),
                (json!({"email": 5, "password": "x"}), vec![("email", "invalid_type")]),
                (
                    json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "remember": true}),
                    vec![("remember", "unknown_field")],
                ),
                (json!({"password": ADMIN_PASSWORD}), vec![("email", "required")]),
                (
                    json!({"email": ADMIN_EMAIL, "password": null}),
                    vec![("password", "required")],
                ),
            ],
        ),
        endpoint(
            Method::POST,
            "/admin/v1/users",
            vec![
                // No password is an invitation: the person chooses their own.
                (json!({}), vec![("email", "required"), ("name", "required")]),
                (with(&valid_user, "name", json!(5)), vec![("name", "invalid_type")]),
                (with(&valid_user, "roles", json!([1])), vec![("roles", "invalid_type")]),
                (
                    with(&valid_user, "admin", json!(true)),
                    vec![("admin", "unknown_field")],
                ),
                (
                    json!({"name": "", "password": "short", "roles": ["auditor", "auditor"]}),
                    vec![
                        ("email", "required"),
                        ("name", "required"),
                        ("password", "too_short"),
                        ("roles", "duplicate_role"),
                    ],
                ),
            ],
        ),
        endpoint(
            Method::PATCH,
            user_path,
            vec![
                (
                    json!({"roles": "auditor", "name": 5, "email": ""}),
                    vec![
                        ("email", "required"),
                        ("name", "invalid_type"),
                        ("roles", "invalid_type"),
                    ],
                ),
                (json!({"password": ["x"]}), vec![("password", "invalid_type")]),
                (json!({"colour": "red"}), vec![("colour", "unknown_field")]),
            ],
        ),
        endpoint(
            Method::POST,
            "/admin/v1/roles",
            vec![
                (json!({}), vec![("name", "required"), ("permissions", "required")]),
                (
                    json!({"name": "R", "permissions": "engage:view"}),
                    vec![("permissions", "invalid_type")],
                ),
                (
                    json!({"name": "R", "permissions": ["engage:view"], "id": "r"}),
                    vec![("id", "unknown_field")],
                ),
                (
                    json!({"name": "", "permissions": [5]}),
                    vec![("name", "required"), ("permissions", "invalid_type")],
                ),
            ],
        ),
        endpoint(
            Method::PATCH,
            role_path,
            vec![
                (json!({"name": 5}), vec![("name", "invalid_type")]),
                (
                    json!({"permissions": ["nope:view"], "name": []}),
                    vec![("name", "invalid_type"), ("permissions", "invalid_permission")],
                ),
                (json!({"holders": []}), vec![("holders", "unknown_field")]),
            ],
        ),
        endpoint(
            Method::POST,
            APPS,
            vec![
                (
                    json!({}),
                    vec![("name", "required"), ("email", "required"), ("roles", "required")],
                ),
                (
                    json!({"name": "", "email": 5}),
                    vec![("name", "required"), ("email", "invalid_type"), ("roles", "required")],
                ),
                (with(&valid_app, "name", json!(5)), vec![("name", "invalid_type")]),
                (
                    with(&valid_app, "roles", json!("auditor")),
                    vec![("roles", "invalid_type")],
                ),
                (
                    with(&valid_app, "secret", json!("x")),
                    vec![("secret", "unknown_field")],
                ),
                (
                    json!({"name": "No email", "roles": ["auditor"], "application_url": "ftp://x"}),
                    vec![("email", "required"), ("application_url", "invalid_url")],
                ),
                (with(&valid_app, "name", Value::Null), vec![("name", "required")]),
            ],
        ),
        endpoint(
            Method::PATCH,
            app_path,
            vec![
                (json!({"enabled": "yes"}), vec![("enabled", "invalid_type")]),
                (
                    json!({"name": 5, "application_url": "ftp://x"}),
                    vec![("name", "invalid_type"), ("application_url", "invalid_url")],
                ),
                (json!({"client_id": "cb_mine"}), vec![("client_id", "unknown_field")]),
            ],
        ),
        endpoint(
            Method::POST,
            &format!("{app_path}/client-secret/reveal"),
            vec![
                (json!({}), vec![("password", "required")]),
                (json!({"password": 5}), vec![("password", "invalid_type")]),
                (
                    json!({"password": ADMIN_PASSWORD, "remember": true}),
                    vec![("remember", "unknown_field")],
                ),
            ],
        ),
        endpoint(
            Method::POST,
            &format!("{app_path}/client-secret/rotate"),
            vec![
                (json!({}), vec![("password", "required")]),
                (
                    json!({"password": 5, "grace_period_seconds": -1}),
                    vec![("password", "invalid_type"), ("grace_period_seconds", "invalid_value")],
                ),
                (
                    json!({"password": ADMIN_PASSWORD, "grace_period_seconds": "60"}),
                    vec![("grace_period_seconds", "invalid_type")],
                ),
                (
                    json!({"password": ADMIN_PASSWORD, "grace": 5}),
                    vec![("grace", "unknown_field")],
                ),
            ],
        ),
        endpoint(
            Method::POST,
            CASES,
            vec![
                (json!({}), vec![("title", "required")]),
                (
                    json!({"title": 5, "status": "archived"}),
                    vec![("title", "invalid_type"), ("status", "invalid_value")],
                ),
                (json!({"title": "T", "owner": "me"}), vec![("owner", "unknown_field")]),
            ],
        ),
        endpoint(
            Method::PATCH,
            case_path,
            vec![
                (json!({"title": 5}), vec![("title", "invalid_type")]),
                (
                    json!({"description": 5, "status": true}),
                    vec![("description", "invalid_type"), ("status", "invalid_type")],
                ),
                (json!({"owner": "me"}), vec![("owner", "unknown_field")]),
            ],
        ),
        endpoint(
            Method::POST,
            REPORTS,
            vec![
                (json!({}), vec![("summary", "required")]),
                (
                    json!({"summary": 5, "details": "d".repeat(10_001)}),
                    vec![("summary", "invalid_type"), ("details", "too_long")],
                ),
                (json!({"summary": "S", "title": "T"}), vec![("title", "unknown_field")]),
            ],
        ),
        endpoint(
            Method::PATCH,
            report_path,
            vec![
                (json!({"summary": []}), vec![("summary", "invalid_type")]),
                (
                    json!({"details": 5, "summary": " "}),
                    vec![("summary", "required"), ("details", "invalid_type")],
                ),
                (json!({"status": "open"}), vec![("status", "unknown_field")]),
            ],
        ),
    ]
}

both_backends!(
    every_json_endpoint_lists_shape_errors_with_the_rest,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let application = app
            .register(&admin, "Existing", "existing@partner.org", &["auditor"])
            .await;
        let app_path = format!("{APPS}/{}", id_of(&application));
        let user = app.create_user(&admin, "jo@agency.org", "Jo", &[]).await;
        let user_path = format!("/admin/v1/users/{}", id_of(&user));
        let role = app.create_role(&admin, "Spare", &["engage:view"]).await;
        let role_path = format!("/admin/v1/roles/{}", id_of(&role));
        let case = expect(app.post_json(CASES, &admin, &json!({"title": "Case"})).await, 201).await;
        let case_path = format!("{CASES}/{}", id_of(&case));
        let report = expect(app.post_json(REPORTS, &admin, &json!({"summary": "Report"})).await, 201).await;
        let report_path = format!("{REPORTS}/{}", id_of(&report));
        let records = [
            app_path.clone(),
            user_path.clone(),
            role_path.clone(),
            case_path.clone(),
            report_path.clone(),
            format!("{APPS}?limit=100"),
            "/admin/v1/users?limit=100".to_owned(),
            "/admin/v1/roles?limit=100".to_owned(),
            format!("{CASES}?limit=100"),
            format!("{REPORTS}?limit=100"),
            "/admin/v1/audit-events?limit=100".to_owned(),
        ];
        let before = snapshot(&app, &admin, &records).await;

        let all = endpoints(&app_path, &user_path, &role_path, &case_path, &report_path);
        assert_eq!(all.len(), 13, "one per form the extractor reads");
        for endpoint in &all {
            let Endpoint { method, path, refused } = endpoint;
            let token = (path != "/admin/v1/sessions").then_some(admin.as_str());
            for (body, expected) in refused {
                let r = send(&app, method, path, token, body.to_string().into_bytes()).await;
                let p = problem(r, 422).await;
                let expected: Vec<(String, String)> =
                    expected.iter().map(|&(f, c)| (f.to_owned(), c.to_owned())).collect();
                assert_eq!(ordered_field_codes(&p), expected, "{method} {path} {body}");
            }
            // JSON that is not an object: one error for the whole document.
            for body in [&b"[]"[..], b"5", b"\"name\"", b"null"] {
                let r = send(&app, method, path, token, body.to_vec()).await;
                let p = problem(r, 422).await;
                let whole = [(String::new(), "invalid_type".to_owned())];
                assert_eq!(ordered_field_codes(&p), whole, "{method} {path}: {p}");
            }
            // Bytes that are not JSON: 400.
            for body in [&b"{\"name\": "[..], b"{\"a\": \"\xff\"}"] {
                let r = send(&app, method, path, token, body.to_vec()).await;
                let p = problem(r, 400).await;
                assert!(p.get("errors").is_none(), "{method} {path}: {p}");
            }
        }
        assert_eq!(
            snapshot(&app, &admin, &records).await,
            before,
            "refused bodies change nothing"
        );
    }
);

both_backends!(
    sign_in_shape_errors_say_nothing_about_accounts,
    |app: TestApp| async move {
        let body = |email: &str| json!({"email": email, "password": 5, "remember": true}).to_string();
        let known = send(
            &app,
            &Method::POST,
            "/admin/v1/sessions",
            None,
            body(ADMIN_EMAIL).into_bytes(),
        )
        .await;
        let known = problem(known, 422).await;
        let unknown = send(
            &app,
            &Method::POST,
            "/admin/v1/sessions",
            None,
            body("nobody@agency.org").into_bytes(),
        )
        .await;
        assert_eq!(problem(unknown, 422).await, known);
        // Shape errors check no password, so they spend nothing of the throttle
        // and no reveal lockout: the right password still works afterwards.
        let admin = app.admin_token().await;
        let application = app.register(&admin, "Locked", "locked@partner.org", &["auditor"]).await;
        let reveal = format!("{APPS}/{}/client-secret/reveal", id_of(&application));
        for _ in 0..8 {
            let r = send(
                &app,
                &Method::POST,
                &reveal,
                Some(&admin),
                br#"{"password": 5}"#.to_vec(),
            )
            .await;
            problem(r, 422).await;
        }
        app.reveal(&admin, &id_of(&application)).await;
        for _ in 0..8 {
            let r = send(
                &app,
                &Method::POST,
                "/admin/v1/sessions",
                None,
                br#"{"email": 5}"#.to_vec(),
            )
            .await;
            problem(r, 422).await;
        }
        app.admin_token().await;
    }
);

both_backends!(
    a_field_sent_twice_is_refused_not_guessed_between,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let body = br#"{"name": "One", "name": "Two", "email": "twice@partner.org", "roles": ["auditor"]}"#;
        let p = problem(send(&app, &Method::POST, APPS, Some(&admin), body.to_vec()).await, 422).await;
        assert_eq!(
            ordered_field_codes(&p),
            [("name".to_owned(), "invalid_value".to_owned())]
        );
        let listed = expect(app.get(&format!("{APPS}?limit=100"), &admin).await, 200).await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 0);
    }
);
