//! The Casebook API, guarded by role permissions: the permission matrix
//! generated from the role catalog and the access table, RFC 6750 answers,
//! narrowed and outdated tokens, and the records themselves, on both backends.

use casebook_domain::PermissionSet;
use casebook_server::http::auth::{Access, ROUTES};
use casebook_tests::{
    ADMIN_PASSWORD, APPS, Spawn, TestApp, USER_PASSWORD, both_backends, expect, field_codes, header, id_of, pairs,
    problem,
};
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const CASES: &str = "/api/v1/engage/cases";
const REPORTS: &str = "/api/v1/intake/reports";

// ------------------------------------------------------------------ helpers

/// Asserts RFC 6750 `invalid_token`: 401, the challenge, a problem body.
async fn invalid_token(r: reqwest::Response) -> Value {
    let challenge = header(&r, WWW_AUTHENTICATE);
    let body = problem(r, 401).await;
    assert!(challenge.starts_with("Bearer realm=\"casebook\""), "{challenge}");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    body
}

/// Asserts RFC 6750 `insufficient_scope` naming the missing permission.
async fn insufficient_scope(r: reqwest::Response, permission: &str) {
    let challenge = header(&r, WWW_AUTHENTICATE);
    problem(r, 403).await;
    assert!(challenge.contains("error=\"insufficient_scope\""), "{challenge}");
    assert!(challenge.contains(&format!("scope=\"{permission}\"")), "{challenge}");
}

async fn create(app: &TestApp, token: &str, path: &str, body: &Value) -> Value {
    expect(app.post_json(path, token, body).await, 201).await
}

async fn create_user(app: &TestApp, admin: &str, email: &str, roles: &[&str]) -> Value {
    app.create_user(admin, email, &format!("User {email}"), roles).await
}

/// A signed-in user holding exactly these roles.
async fn user_session(app: &TestApp, admin: &str, email: &str, roles: &[&str]) -> (Value, String) {
    let user = create_user(app, admin, email, roles).await;
    let session = app.sign_in(email, USER_PASSWORD).await;
    (user, session)
}

/// A registered application holding exactly these roles, and an access token for it.
async fn app_token(app: &TestApp, admin: &str, name: &str, roles: &[&str]) -> (Value, String, String, String) {
    let (view, client_id, secret) = app.partner(admin, name, roles).await;
    let token = app.access_token(&client_id, &secret).await;
    (view, client_id, secret, token)
}

async fn request(app: &TestApp, method: Method, path: &str, token: &str, body: Option<&Value>) -> reqwest::Response {
    let mut r = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        r = r.json(body);
    }
    r.send().await.expect("send")
}

// ------------------------------------------------------------------ the permission matrix

/// Records the matrix works on: a stable one per resource for reads,
/// changes and refused calls, and a fresh one for each allowed removal.
struct Records {
    role: String,
    user: String,
    application: String,
    case: String,
    report: String,
    webhook: String,
}

static SERIAL: AtomicUsize = AtomicUsize::new(0);

fn serial() -> usize {
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

/// Creates a fresh record of the resource a route acts on; returns its id.
async fn fresh_record(app: &TestApp, admin: &str, route: &str) -> String {
    let n = serial();
    let created = if route.starts_with("/admin/v1/roles/") {
        app.create_role(admin, &format!("Fresh role {n}"), &["providers:view"])
            .await
    } else if route.starts_with("/admin/v1/users/") {
        create_user(app, admin, &format!("fresh-{n}@agency.org"), &[]).await
    } else if route.starts_with("/admin/v1/external-applications/") {
        app.register(
            admin,
            &format!("Fresh app {n}"),
            &format!("fresh-{n}@partner.org"),
            &["auditor"],
        )
        .await
    } else if route.starts_with("/api/v1/engage/cases/") {
        create(app, admin, CASES, &json!({"title": format!("Fresh case {n}")})).await
    } else if route.starts_with("/api/v1/intake/reports/") {
        create(app, admin, REPORTS, &json!({"summary": format!("Fresh report {n}")})).await
    } else {
        panic!("the permission matrix does not know how to make a record for {route}; teach fresh_record");
    };
    id_of(&created)
}

fn stable_record<'a>(records: &'a Records, route: &str) -> &'a str {
    if route.starts_with("/admin/v1/roles/") {
        &records.role
    } else if route.starts_with("/admin/v1/users/") {
        &records.user
    } else if route.starts_with("/admin/v1/external-applications/") {
        &records.application
    } else if route.starts_with("/api/v1/engage/cases/") {
        &records.case
    } else if route.starts_with("/api/v1/intake/reports/") {
        &records.report
    } else if route.starts_with("/admin/v1/webhooks/") {
        &records.webhook
    } else {
        panic!("the permission matrix has no record for {route}; teach stable_record")
    }
}

/// An endpoint only to be read: disabled at once, so the matrix's own
/// audit events queue nothing for it.
async fn spare_webhook(app: &TestApp, admin: &str) -> String {
    let form = json!({"url": "https://siem.example.org/hook", "events": ["*"]});
    let id = id_of(&expect(app.post_json("/admin/v1/webhooks", admin, &form).await, 201).await);
    let off = json!({"enabled": false});
    expect(
        app.patch_json(&format!("/admin/v1/webhooks/{id}"), admin, &off).await,
        200,
    )
    .await;
    id
}

/// A valid body for a route that takes one, unique per call.
fn body_for(method: &Method, route: &str) -> Option<Value> {
    let n = serial();
    let body = match (method.as_str(), route) {
        ("GET" | "DELETE", _) => return None,
        ("POST", "/admin/v1/roles") => json!({"name": format!("Matrix role {n}"), "permissions": ["placements:view"]}),
        ("PATCH", "/admin/v1/roles/{id}") => json!({"name": format!("Spare role {n}")}),
        ("POST", "/admin/v1/users") => {
            json!({"email": format!("matrix-made-{n}@agency.org"), "name": "Made", "password": USER_PASSWORD})
        }
        ("PATCH", "/admin/v1/users/{id}") => json!({"name": format!("Spare user {n}")}),
        ("POST", APPS) => {
            json!({"name": format!("Made {n}"), "email": format!("made-{n}@partner.org"), "roles": ["auditor"]})
        }
        ("PATCH", "/admin/v1/external-applications/{id}") => json!({"description": format!("changed {n}")}),
        ("POST", CASES) => json!({"title": format!("Matrix case {n}")}),
        ("PATCH", "/api/v1/engage/cases/{id}") => json!({"title": format!("Changed case {n}")}),
        ("POST", REPORTS) => json!({"summary": format!("Matrix report {n}")}),
        ("PATCH", "/admin/v1/settings") => json!({"require_mfa_for_admins": false}),
        ("PATCH", "/api/v1/intake/reports/{id}") => json!({"summary": format!("Changed report {n}")}),
        _ => panic!("the permission matrix has no body for {method} {route}; teach body_for"),
    };
    Some(body)
}

fn success_status(method: &Method) -> u16 {
    match method.as_str() {
        "POST" => 201,
        "DELETE" => 204,
        _ => 200,
    }
}

/// Routes the matrix covers: the admin and Casebook APIs, except sign-in and
/// sign-out, the secret routes, which only a signed-in person may use, and
/// federated credentials, whose access is tested beside them (federated.rs).
fn matrix_routes() -> Vec<&'static casebook_server::http::auth::RouteAccess> {
    ROUTES
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/") || r.path.starts_with("/admin/v1/"))
        .filter(|r| !r.path.starts_with("/admin/v1/sessions"))
        .filter(|r| !r.path.contains("/federated-credentials"))
        // Addressed by slug, and held to their permissions in tenants.rs.
        .filter(|r| !r.path.starts_with("/admin/v1/tenants"))
        // A person's own sign-in settings and the links that set a password
        // answer to no permission: strong_sign_in.rs, passkeys.rs and
        // password_links.rs hold them.
        .filter(|r| !matches!(r.access, Access::SignedInUser(_) | Access::Person | Access::Public))
        .collect()
}

both_backends!(permission_matrix_every_role_every_route, |app: TestApp| async move {
    let admin = app.admin_token().await;
    // The catalog as the server has it, plus one role of our own.
    app.create_role(&admin, "Intake Viewer Case Remover", &["intake:view", "engage:delete"])
        .await;
    let catalog = expect(app.get("/admin/v1/roles?limit=100", &admin).await, 200).await;
    let roles: Vec<(String, String, PermissionSet)> = catalog["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let scope: Vec<&str> = r["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect();
            (
                id_of(r),
                r["name"].as_str().unwrap().to_owned(),
                PermissionSet::parse_scope(&scope.join(" ")).expect("permissions"),
            )
        })
        .collect();
    assert_eq!(roles.len(), 6, "five seeded roles and ours");

    let records = Records {
        role: id_of(&app.create_role(&admin, "Spare role", &["providers:view"]).await),
        user: id_of(&create_user(&app, &admin, "spare@agency.org", &[]).await),
        application: id_of(
            &app.register(&admin, "Spare app", "spare@partner.org", &["auditor"])
                .await,
        ),
        case: id_of(&create(&app, &admin, CASES, &json!({"title": "Spare case"})).await),
        report: id_of(&create(&app, &admin, REPORTS, &json!({"summary": "Spare report"})).await),
        webhook: spare_webhook(&app, &admin).await,
    };
    let routes = matrix_routes();
    assert!(routes.len() >= 27, "{} routes", routes.len());

    let mut cells = 0;
    let mut wrong = Vec::new();
    for (i, (role_id, role_name, permissions)) in roles.iter().enumerate() {
        let (_, _, _, token) = app_token(&app, &admin, &format!("Matrix {i}"), &[role_id]).await;
        let (_, session) = user_session(&app, &admin, &format!("matrix-{i}@agency.org"), &[role_id]).await;
        for (caller, credential) in [("application", &token), ("user", &session)] {
            let me = expect(app.get("/api/v1/me", credential).await, 200).await;
            assert_eq!(me["kind"], caller);
            assert_eq!(
                PermissionSet::parse_scope(
                    &me["permissions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p.as_str().unwrap())
                        .collect::<Vec<_>>()
                        .join(" ")
                )
                .unwrap(),
                *permissions,
                "{caller} with {role_name}"
            );
            for route in &routes {
                let needs = match route.access {
                    Access::Permission(p) => Some(p),
                    Access::Authenticated => None,
                    other => panic!("unexpected access {other:?} in the matrix"),
                };
                let allowed = needs.is_none_or(|p| permissions.contains(p));
                let id = if !route.path.contains("{id}") {
                    String::new()
                } else if allowed && route.method == Method::DELETE {
                    fresh_record(&app, &admin, route.path).await
                } else {
                    stable_record(&records, route.path).to_owned()
                };
                let path = route.path.replace("{id}", &id);
                let body = body_for(&route.method, route.path);
                let r = request(&app, route.method.clone(), &path, credential, body.as_ref()).await;
                let status = r.status().as_u16();
                let challenge = header(&r, WWW_AUTHENTICATE);
                let text = r.text().await.unwrap_or_default();
                let cell = format!("{caller} with {role_name:?}: {} {path}", route.method);
                match needs.filter(|_| !allowed) {
                    None if status != success_status(&route.method) => {
                        wrong.push(format!(
                            "{cell}: allowed, expected {} but got {status} {text}",
                            success_status(&route.method)
                        ));
                    }
                    Some(p)
                        if status != 403
                            || !challenge.contains("error=\"insufficient_scope\"")
                            || !challenge.contains(&format!("scope=\"{p}\"")) =>
                    {
                        wrong.push(format!("{cell}: refused for {p}, got {status} [{challenge}] {text}"));
                    }
                    _ => {}
                }
                cells += 1;
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(cells, roles.len() * 2 * routes.len());
});

both_backends!(secrets_are_for_signed_in_people_only, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let (target, _, secret) = app.partner(&admin, "Target", &["auditor"]).await;
    let (_, _, _, token) = app_token(&app, &admin, "Mighty", &["administrator"]).await;
    let secret_routes: Vec<_> = ROUTES
        .iter()
        .filter(|r| matches!(r.access, Access::SignedInUser(_)) && r.path.contains("/client-secret/"))
        .collect();
    assert_eq!(secret_routes.len(), 2);
    let (_, auditor) = user_session(&app, &admin, "auditor@agency.org", &["auditor"]).await;
    for route in secret_routes {
        let path = route.path.replace("{id}", &id_of(&target));
        let body = json!({"password": ADMIN_PASSWORD});
        // An application, even one holding every permission: 403.
        let r = request(&app, route.method.clone(), &path, &token, Some(&body)).await;
        let p = problem(r, 403).await;
        assert!(!p.to_string().contains(&secret));
        // A person without admin:edit: 403 insufficient_scope.
        let r = request(
            &app,
            route.method.clone(),
            &path,
            &auditor,
            Some(&json!({"password": USER_PASSWORD})),
        )
        .await;
        insufficient_scope(r, "admin:edit").await;
        // An administrator with their password: allowed.
        let r = request(&app, route.method.clone(), &path, &admin, Some(&body)).await;
        assert!(expect(r, 200).await["client_secret"].is_string());
    }
    // Sessions: an application cannot sign out, but its token still works.
    problem(app.delete("/admin/v1/sessions/current", &token).await, 403).await;
    expect(app.get("/api/v1/me", &token).await, 200).await;
});

// ------------------------------------------------------------------ RFC 6750

both_backends!(rfc6750_answers_for_missing_and_bad_tokens, |app: TestApp| async move {
    let admin = app.admin_token().await;
    for path in ["/api/v1/me", CASES, "/admin/v1/roles"] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        let challenge = header(&r, WWW_AUTHENTICATE);
        problem(r, 401).await;
        assert_eq!(
            challenge,
            format!(
                "Bearer realm=\"casebook\", resource_metadata=\"{}/.well-known/oauth-protected-resource\"",
                app.base_url
            ),
            "no error code without a credential; the resource metadata named (RFC 9728)"
        );
    }
    for value in [
        "Bearer not-a-token",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "Bearer cbsess_forged",
        "Bearer ",
        "Token abc",
    ] {
        let r = app
            .http
            .get(app.url("/api/v1/me"))
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        let challenge = header(&r, WWW_AUTHENTICATE);
        problem(r, 401).await;
        assert!(
            challenge.starts_with("Bearer realm=\"casebook\""),
            "{value}: {challenge}"
        );
        if value.starts_with("Bearer ") && value.len() > 7 {
            assert!(challenge.contains("error=\"invalid_token\""), "{value}: {challenge}");
        }
    }

    // A token whose claims were changed after signing: invalid.
    let (view, client_id, secret, token) = app_token(&app, &admin, "Tamperer", &["engage-worker"]).await;
    let parts: Vec<&str> = token.split('.').collect();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    claims["scope"] = json!("engage:view engage:create engage:delete admin:view");
    let forged = format!("{}.{}.{}", parts[0], b64.encode(claims.to_string()), parts[2]);
    invalid_token(app.get(CASES, &forged).await).await;
    expect(app.get(CASES, &token).await, 200).await;

    // Revoked: refused from then on.
    let r = app
        .http
        .post(app.url("/oauth2/revoke"))
        .form(&[
            ("token", token.as_str()),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    invalid_token(app.get(CASES, &token).await).await;
    invalid_token(app.get("/api/v1/me", &token).await).await;

    // Disabled, then deleted: refused.
    let token = app.access_token(&client_id, &secret).await;
    expect(app.get(CASES, &token).await, 200).await;
    let path = format!("{APPS}/{}", id_of(&view));
    expect(app.patch_json(&path, &admin, &json!({"enabled": false})).await, 200).await;
    let p = invalid_token(app.get(CASES, &token).await).await;
    assert!(p["detail"].as_str().unwrap().contains("disabled"), "{p}");
    expect(app.patch_json(&path, &admin, &json!({"enabled": true})).await, 200).await;
    let token = app.access_token(&client_id, &secret).await;
    expect(app.get(CASES, &token).await, 200).await;
    expect(app.delete(&path, &admin).await, 204).await;
    invalid_token(app.get(CASES, &token).await).await;

    // A signed-out session.
    let session = app.admin_token().await;
    expect(app.delete("/admin/v1/sessions/current", &session).await, 204).await;
    invalid_token(app.get(CASES, &session).await).await;

    // Expired: an hour and a second later on a server whose clock a test moves.
    let Some(short) = TestApp::spawn_with(app.db.backend, Spawn::with_manual_clock()).await else {
        return;
    };
    let short_admin = short.admin_token().await;
    let (_, client_id, secret) = short.partner(&short_admin, "Short Lived", &["engage-worker"]).await;
    let expired = short.access_token(&client_id, &secret).await;
    short.advance_clock(Duration::from_secs(3601));
    let p = invalid_token(short.get(CASES, &expired).await).await;
    assert!(p["detail"].as_str().unwrap().contains("expired"), "{p}");
    // Tokens of one install mean nothing to another.
    invalid_token(app.get("/api/v1/me", &expired).await).await;
});

// ------------------------------------------------------------------ narrowed and outdated tokens

both_backends!(
    a_token_narrowed_by_scope_reads_but_cannot_create,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Narrow", &["engage-supervisor"]).await;
        let r = app.token_response(&client_id, &secret, Some("engage:view")).await;
        let granted = expect(r, 200).await;
        assert_eq!(granted["scope"], "engage:view");
        let narrow = granted["access_token"].as_str().unwrap().to_owned();
        let me = expect(app.get("/api/v1/me", &narrow).await, 200).await;
        assert_eq!(me["permissions"], json!(["engage:view"]));
        expect(app.get(CASES, &narrow).await, 200).await;
        insufficient_scope(
            app.post_json(CASES, &narrow, &json!({"title": "Nope"})).await,
            "engage:create",
        )
        .await;
        // The full token can; the narrow one can read what it made.
        let full = app.access_token(&client_id, &secret).await;
        let case = create(&app, &full, CASES, &json!({"title": "Yes"})).await;
        expect(app.get(&format!("{CASES}/{}", id_of(&case)), &narrow).await, 200).await;
        insufficient_scope(
            app.patch_json(
                &format!("{CASES}/{}", id_of(&case)),
                &narrow,
                &json!({"title": "Edited"}),
            )
            .await,
            "engage:edit",
        )
        .await;
        // More than the roles grant is refused at the token endpoint.
        let r = app
            .token_response(&client_id, &secret, Some("engage:view engage:delete"))
            .await;
        assert_eq!(r.status(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");
        assert_eq!(
            expect(app.get(CASES, &full).await, 200).await["items"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
);

both_backends!(
    a_widened_role_reaches_new_tokens_and_a_narrowed_one_bites_at_once,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let role = app.create_role(&admin, "Growing", &["engage:view"]).await;
        let role_path = format!("/admin/v1/roles/{}", id_of(&role));
        let (_, client_id, secret, old) = app_token(&app, &admin, "Grower", &[&id_of(&role)]).await;
        let (_, session) = user_session(&app, &admin, "grower@agency.org", &[&id_of(&role)]).await;
        insufficient_scope(
            app.post_json(CASES, &old, &json!({"title": "Early"})).await,
            "engage:create",
        )
        .await;

        expect(
            app.patch_json(
                &role_path,
                &admin,
                &json!({"permissions": ["engage:view", "engage:create"]}),
            )
            .await,
            200,
        )
        .await;
        // The old token keeps what it was issued with.
        insufficient_scope(
            app.post_json(CASES, &old, &json!({"title": "Still no"})).await,
            "engage:create",
        )
        .await;
        assert_eq!(
            expect(app.get("/api/v1/me", &old).await, 200).await["permissions"],
            json!(["engage:view"])
        );
        // A new token, and a signed-in person, get the new permissions.
        let new = app.access_token(&client_id, &secret).await;
        create(&app, &new, CASES, &json!({"title": "Now yes"})).await;
        create(&app, &session, CASES, &json!({"title": "Me too"})).await;

        // Narrowed again: a live token loses what the role no longer grants
        // (a widened role never widens a token beyond its scope, above).
        expect(
            app.patch_json(&role_path, &admin, &json!({"permissions": ["intake:view"]}))
                .await,
            200,
        )
        .await;
        insufficient_scope(
            app.post_json(CASES, &new, &json!({"title": "Not any more"})).await,
            "engage:create",
        )
        .await;
        let newest = app.access_token(&client_id, &secret).await;
        assert_eq!(
            expect(app.get("/api/v1/me", &newest).await, 200).await["permissions"],
            json!(["intake:view"])
        );
        insufficient_scope(app.get(CASES, &newest).await, "engage:view").await;
        expect(app.get(REPORTS, &newest).await, 200).await;
        insufficient_scope(app.get(CASES, &session).await, "engage:view").await;
    }
);

// ------------------------------------------------------------------ records

both_backends!(records_show_who_created_and_changed_them, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let clerk = app
        .create_role(
            &admin,
            "Clerk",
            &[
                "engage:view",
                "engage:create",
                "engage:edit",
                "intake:view",
                "intake:create",
                "intake:edit",
            ],
        )
        .await;
    let (view, client_id, secret, token) = app_token(&app, &admin, "Records Partner", &[&id_of(&clerk)]).await;
    let (user, session) = user_session(&app, &admin, "worker@agency.org", &[&id_of(&clerk)]).await;
    let as_app = json!({"kind": "application", "id": id_of(&view), "name": "Records Partner"});
    let as_user = json!({"kind": "user", "id": id_of(&user), "name": "User worker@agency.org"});

    let case = create(&app, &token, CASES, &json!({"title": "Made by a partner"})).await;
    assert_eq!(case["created_by"], as_app);
    assert_eq!(case["updated_by"], as_app);
    let report = create(&app, &token, REPORTS, &json!({"summary": "Filed by a partner"})).await;
    assert_eq!(report["created_by"], as_app);

    let case = expect(
        app.patch_json(
            &format!("{CASES}/{}", id_of(&case)),
            &session,
            &json!({"status": "closed"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(case["created_by"], as_app);
    assert_eq!(case["updated_by"], as_user);
    assert_eq!(case["status"], "closed");
    let report = expect(
        app.patch_json(
            &format!("{REPORTS}/{}", id_of(&report)),
            &session,
            &json!({"details": "More"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(report["updated_by"], as_user);

    // Renamed: what it does from then on shows the new name, even with a token from before.
    expect(
        app.patch_json(
            &format!("{APPS}/{}", id_of(&view)),
            &admin,
            &json!({"name": "Renamed Partner"}),
        )
        .await,
        200,
    )
    .await;
    let case = create(&app, &token, CASES, &json!({"title": "After the rename"})).await;
    assert_eq!(case["created_by"]["name"], "Renamed Partner");
    let fresh = app.access_token(&client_id, &secret).await;
    assert_eq!(
        expect(app.get("/api/v1/me", &fresh).await, 200).await["name"],
        "Renamed Partner"
    );
    assert_eq!(expect(app.get("/api/v1/me", &session).await, 200).await["kind"], "user");
});

both_backends!(cases_crud_validation_and_pages, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let (_, _, _, token) = app_token(&app, &admin, "Case Partner", &["administrator"]).await;

    let case = create(&app, &token, CASES, &json!({"title": "  Housing referral  "})).await;
    assert_eq!(case["title"], "Housing referral");
    assert_eq!(case["status"], "open");
    assert_eq!(case["description"], Value::Null);
    assert!(case["created_at"].is_string() && case["updated_at"].is_string());
    let path = format!("{CASES}/{}", id_of(&case));
    assert_eq!(expect(app.get(&path, &token).await, 200).await, case);
    let full = create(
        &app,
        &token,
        CASES,
        &json!({"title": "Closed one", "description": "Line one\nLine two", "status": "closed"}),
    )
    .await;
    assert_eq!(full["status"], "closed");
    assert_eq!(full["description"], "Line one\nLine two");

    // Every invalid field at once; nothing stored.
    let before = expect(app.get(CASES, &token).await, 200).await;
    let r = app
        .post_json(
            CASES,
            &token,
            &json!({"title": "", "description": "d".repeat(10_001), "status": "pending"}),
        )
        .await;
    assert_eq!(
        field_codes(&problem(r, 422).await),
        pairs(&[
            ("title", "required"),
            ("description", "too_long"),
            ("status", "invalid_value")
        ])
    );
    let r = app.post_json(CASES, &token, &json!({"title": "t".repeat(201)})).await;
    assert_eq!(field_codes(&problem(r, 422).await), pairs(&[("title", "too_long")]));
    assert!(
        app.post_json(CASES, &token, &json!({"title": "t".repeat(200)}))
            .await
            .status()
            == 201
    );
    let p = problem(
        app.post_json(CASES, &token, &json!({"title": "x", "owner": "me"}))
            .await,
        422,
    )
    .await;
    assert_eq!(field_codes(&p), pairs(&[("owner", "unknown_field")]));
    let p = problem(
        app.post_json(CASES, &token, &json!({"description": "no title"})).await,
        422,
    )
    .await;
    assert_eq!(field_codes(&p), pairs(&[("title", "required")]));
    let r = app
        .patch_json(&path, &token, &json!({"title": " ", "status": "archived"}))
        .await;
    assert_eq!(
        field_codes(&problem(r, 422).await),
        pairs(&[("title", "required"), ("status", "invalid_value")])
    );
    let after = expect(app.get(CASES, &token).await, 200).await;
    assert_eq!(
        after["items"].as_array().unwrap().len(),
        before["items"].as_array().unwrap().len() + 1
    );
    assert_eq!(
        expect(app.get(&path, &token).await, 200).await,
        case,
        "the refused change changed nothing"
    );

    // Change, clear, remove.
    let changed = expect(
        app.patch_json(
            &path,
            &token,
            &json!({"title": "Housing referral (urgent)", "description": "Call back", "status": "closed"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["title"], "Housing referral (urgent)");
    assert_eq!(changed["status"], "closed");
    assert_eq!(changed["created_at"], case["created_at"]);
    let cleared = expect(app.patch_json(&path, &token, &json!({"description": null})).await, 200).await;
    assert_eq!(cleared["description"], Value::Null);
    assert_eq!(cleared["title"], "Housing referral (urgent)");
    expect(app.delete(&path, &token).await, 204).await;
    problem(app.get(&path, &token).await, 404).await;
    problem(app.delete(&path, &token).await, 404).await;
    problem(app.patch_json(&path, &token, &json!({"title": "Ghost"})).await, 404).await;
    let r = app
        .http
        .put(app.url(&path))
        .bearer_auth(&token)
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    problem(r, 405).await;
    problem(app.get(&format!("{CASES}/%FF"), &token).await, 400).await;
    problem(app.get(&format!("{CASES}/%00"), &token).await, 400).await;

    // Pages.
    for i in 0..5 {
        create(&app, &token, CASES, &json!({"title": format!("Paged {i}")})).await;
    }
    let all = expect(app.get(CASES, &token).await, 200).await;
    let total = all["items"].as_array().unwrap().len();
    assert_eq!(total, 7);
    assert_eq!(all["next_cursor"], Value::Null);
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..10 {
        let page = expect(app.get(&format!("{CASES}?limit=2{cursor}"), &token).await, 200).await;
        seen.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(&seen, all["items"].as_array().unwrap());
    for query in ["limit=0", "limit=101"] {
        let p = problem(app.get(&format!("{CASES}?{query}"), &token).await, 422).await;
        assert_eq!(field_codes(&p), pairs(&[("limit", "invalid_value")]));
    }
    problem(app.get(&format!("{CASES}?limit=ten"), &token).await, 400).await;
    problem(app.get(&format!("{CASES}?cursor=%00"), &token).await, 400).await;
});

both_backends!(reports_crud_validation_and_pages, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let (_, session) = user_session(&app, &admin, "screener@agency.org", &["intake-screener"]).await;
    let report = create(
        &app,
        &session,
        REPORTS,
        &json!({"summary": "Neighbour called", "details": "At 9pm"}),
    )
    .await;
    assert_eq!(report["summary"], "Neighbour called");
    assert_eq!(report["details"], "At 9pm");
    assert_eq!(report["created_by"]["kind"], "user");
    let path = format!("{REPORTS}/{}", id_of(&report));
    assert_eq!(expect(app.get(&path, &session).await, 200).await, report);

    let r = app
        .post_json(
            REPORTS,
            &session,
            &json!({"summary": " ", "details": "d".repeat(10_001)}),
        )
        .await;
    assert_eq!(
        field_codes(&problem(r, 422).await),
        pairs(&[("summary", "required"), ("details", "too_long")])
    );
    let r = app
        .post_json(REPORTS, &session, &json!({"summary": "s".repeat(201)}))
        .await;
    assert_eq!(field_codes(&problem(r, 422).await), pairs(&[("summary", "too_long")]));
    let r = app
        .patch_json(&path, &session, &json!({"summary": "bad\u{7}bell"}))
        .await;
    assert_eq!(
        field_codes(&problem(r, 422).await),
        pairs(&[("summary", "invalid_characters")])
    );
    let p = problem(
        app.post_json(REPORTS, &session, &json!({"summary": "x", "title": "wrong kind"}))
            .await,
        422,
    )
    .await;
    assert_eq!(field_codes(&p), pairs(&[("title", "unknown_field")]));
    let r = app
        .http
        .post(app.url(REPORTS))
        .bearer_auth(&session)
        .header(CONTENT_TYPE, "text/plain")
        .body("{\"summary\": \"x\"}")
        .send()
        .await
        .unwrap();
    problem(r, 415).await;
    assert_eq!(expect(app.get(&path, &session).await, 200).await, report);

    let changed = expect(
        app.patch_json(&path, &session, &json!({"summary": "Neighbour called twice"}))
            .await,
        200,
    )
    .await;
    assert_eq!(changed["summary"], "Neighbour called twice");
    assert_eq!(changed["details"], "At 9pm");
    // The screener cannot remove; an administrator can.
    insufficient_scope(app.delete(&path, &session).await, "intake:delete").await;
    expect(app.delete(&path, &admin).await, 204).await;
    problem(app.get(&path, &session).await, 404).await;

    for i in 0..5 {
        create(&app, &session, REPORTS, &json!({"summary": format!("Report {i}")})).await;
    }
    let mut seen = BTreeSet::new();
    let mut cursor = String::new();
    let mut pages = 0;
    for _ in 0..10 {
        let page = expect(app.get(&format!("{REPORTS}?limit=2{cursor}"), &session).await, 200).await;
        pages += 1;
        seen.extend(page["items"].as_array().unwrap().iter().map(id_of));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (5, 3));
});
