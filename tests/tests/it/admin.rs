//! The admin API ("Storage and the admin API"): sessions, roles, users,
//! external applications, secrets and the audit trail, on both backends.

use casebook_server::http::auth::{Access, ROUTES};
use casebook_tests::{
    ADMIN_EMAIL, ADMIN_PASSWORD, APPS, TestApp, USER_PASSWORD, both_backends, expect, field_codes, id_of, pairs,
    problem,
};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use std::collections::BTreeSet;

// ------------------------------------------------------------------ helpers

/// A JSON array of strings, as a set.
fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_owned())
        .collect()
}

/// Everything the admin API shows, to compare before and after a refused request.
async fn snapshot(app: &TestApp, admin: &str) -> Value {
    let mut all = json!({});
    for path in ["/admin/v1/roles", "/admin/v1/users", APPS, "/admin/v1/audit-events"] {
        all[path] = expect(app.get(&format!("{path}?limit=100"), admin).await, 200).await;
    }
    all
}

async fn me(app: &TestApp, token: &str) -> Value {
    expect(app.get("/api/v1/me", token).await, 200).await
}

async fn reveal_with(app: &TestApp, token: &str, id: &str, password: &str) -> reqwest::Response {
    app.post_json(
        &format!("{APPS}/{id}/client-secret/reveal"),
        token,
        &json!({"password": password}),
    )
    .await
}

async fn rotate_with(app: &TestApp, token: &str, id: &str, body: &Value) -> reqwest::Response {
    app.post_json(&format!("{APPS}/{id}/client-secret/rotate"), token, body)
        .await
}

/// A POST with a raw body and content type, for the malformed-input cases.
async fn post_raw(
    app: &TestApp,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = app.http.post(app.url(path)).bearer_auth(token).body(body);
    if let Some(ct) = content_type {
        request = request.header(CONTENT_TYPE, ct);
    }
    request.send().await.expect("send")
}

// ------------------------------------------------------------------ access

both_backends!(
    every_admin_route_refuses_no_credential_and_missing_permission,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        app.create_user(&admin, "nobody@agency.org", "Nobody", &[]).await;
        let nobody = app.sign_in("nobody@agency.org", USER_PASSWORD).await;
        let role = app.create_role(&admin, "Spare", &["engage:view"]).await;
        let user = app.create_user(&admin, "spare@agency.org", "Spare", &[]).await;
        let application = app
            .register(&admin, "Spare App", "spare-app@partner.org", &["auditor"])
            .await;
        let mut checked = 0;
        for route in ROUTES.iter().filter(|r| r.path.starts_with("/admin/v1/")) {
            if route.access == Access::Public {
                continue;
            }
            let id = if route.path.starts_with("/admin/v1/roles/") {
                id_of(&role)
            } else if route.path.starts_with("/admin/v1/users/") {
                id_of(&user)
            } else {
                id_of(&application)
            };
            let url = app.url(&route.path.replace("{id}", &id));
            let what = format!("{} {}", route.method, route.path);

            let r = app
                .http
                .request(route.method.clone(), &url)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let challenge = r.headers().get(WWW_AUTHENTICATE).cloned();
            let body = problem(r, 401).await;
            let expected = format!(
                "Bearer realm=\"casebook\", resource_metadata=\"{}/.well-known/oauth-protected-resource\"",
                app.base_url
            );
            assert_eq!(
                challenge.as_ref().and_then(|v| v.to_str().ok()),
                Some(expected.as_str()),
                "{what}: {body}"
            );

            let needs = match route.access {
                Access::Permission(p) | Access::SignedInUser(p) => p,
                Access::Authenticated | Access::Person | Access::Public => continue,
            };
            let r = app
                .http
                .request(route.method.clone(), &url)
                .bearer_auth(&nobody)
                .json(&json!({"password": USER_PASSWORD}))
                .send()
                .await
                .unwrap();
            let challenge = r
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            problem(r, 403).await;
            assert!(
                challenge.contains("error=\"insufficient_scope\""),
                "{what}: {challenge}"
            );
            assert!(challenge.contains(&format!("scope=\"{needs}\"")), "{what}: {challenge}");
            checked += 1;
        }
        assert!(checked >= 17, "only {checked} admin routes checked");
        // Nothing was changed by any of the refused requests.
        assert_eq!(
            expect(app.get(APPS, &admin).await, 200).await["items"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        expect(app.get(&format!("/admin/v1/roles/{}", id_of(&role)), &admin).await, 200).await;
        expect(app.get(&format!("/admin/v1/users/{}", id_of(&user)), &admin).await, 200).await;
    }
);

both_backends!(unknown_ids_are_404_on_every_admin_route, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let missing = "0190a0a0-0000-7000-8000-000000000000";
    let mut checked = 0;
    for route in ROUTES
        .iter()
        .filter(|r| r.path.starts_with("/admin/v1/") && r.path.contains("{id}"))
    {
        let body = if route.path.ends_with("/reveal")
            || route.path.ends_with("/rotate")
            || route.path.ends_with("/client-secrets")
            || route.path.starts_with("/admin/v1/users/me/passkeys/")
        {
            json!({"password": ADMIN_PASSWORD})
        } else if route.path.ends_with("/federated-credentials") {
            let key =
                json!({"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
            json!({"name": "ci", "issuer": "https://ci.example.org", "jwks": {"keys": [key]}, "subject": "repo:x"})
        } else {
            json!({})
        };
        let path = route
            .path
            .replace("{id}", missing)
            .replace("{credential_id}", missing)
            .replace("{secret_id}", missing)
            .replace("{delivery_id}", missing);
        let r = app
            .http
            .request(route.method.clone(), app.url(&path))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        let p = problem(r, 404).await;
        assert!(
            p["detail"].as_str().unwrap().contains("not found"),
            "{} {}: {p}",
            route.method,
            route.path
        );
        checked += 1;
    }
    assert_eq!(checked, 25);
    // A 404 on reveal does not count as a wrong password.
    let audit = expect(app.get("/admin/v1/audit-events", &admin).await, 200).await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] != "application.secret_reveal_refused"),
        "{audit}"
    );
});

// ------------------------------------------------------------------ sessions

both_backends!(sessions_sign_in_and_out, |app: TestApp| async move {
    let r = app
        .http
        .post(app.url("/admin/v1/sessions"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    let session = expect(r, 201).await;
    let token = session["token"].as_str().unwrap().to_owned();
    assert!(
        session["expires_at"].as_str().is_some_and(|t| t.contains('T')),
        "{session}"
    );
    // The address is matched case-insensitively.
    let again = app.sign_in(&ADMIN_EMAIL.to_uppercase(), ADMIN_PASSWORD).await;
    assert_ne!(again, token);

    for (email, password) in [
        (ADMIN_EMAIL, "wrong password entirely"),
        ("nobody@agency.org", ADMIN_PASSWORD),
        ("not an address", ADMIN_PASSWORD),
    ] {
        let r = app
            .http
            .post(app.url("/admin/v1/sessions"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        let p = problem(r, 401).await;
        assert_eq!(p["detail"], "wrong email or password");
    }
    let r = app
        .http
        .post(app.url("/admin/v1/sessions"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "remember": true}))
        .send()
        .await
        .unwrap();
    let p = problem(r, 422).await;
    assert_eq!(field_codes(&p), pairs(&[("remember", "unknown_field")]));
    let r = app
        .http
        .post(app.url("/admin/v1/sessions"))
        .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    problem(r, 415).await;

    expect(app.get("/admin/v1/roles", &token).await, 200).await;
    expect(app.delete("/admin/v1/sessions/current", &token).await, 204).await;
    for r in [
        app.get("/admin/v1/roles", &token).await,
        app.get("/api/v1/me", &token).await,
        app.delete("/admin/v1/sessions/current", &token).await,
    ] {
        let challenge = r
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        problem(r, 401).await;
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }
    // Signing out one session leaves the other.
    expect(app.get("/admin/v1/roles", &again).await, 200).await;
});

// ------------------------------------------------------------------ bad input

both_backends!(
    bad_input_gets_a_clear_4xx_and_changes_nothing,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let existing = app
            .register(&admin, "Existing", "existing@partner.org", &["engage-worker"])
            .await;
        let existing_path = format!("{APPS}/{}", id_of(&existing));
        let before = snapshot(&app, &admin).await;

        let valid = json!({"name": "Fine", "email": "fine@partner.org", "roles": ["engage-worker"]});
        let json_ct = Some("application/json");
        // Not JSON, or a NUL anywhere: 400.
        for body in [
        b"{\"name\": ".to_vec(),
        b"".to_vec(),
        b"{\"name\": \"\xff\xfe\", \"email\": \"fine@partner.org\", \"roles\": [\"engage-worker\"]}".to_vec(),
        br#"{"name": "Fine", "email": "fine@partner.org", "roles": ["engage-worker\u0000"]}"#.to_vec(),
        br#"{"name": "Fine", "email": "fine@partner.org", "roles": ["engage-worker"], "application_url": "https://p.org/\u0000"}"#.to_vec(),
    ] {
        problem(post_raw(&app, APPS, &admin, json_ct, body.clone()).await, 400).await;
    }
        // Wrong types and unknown fields are field errors: 422.
        for (body, field, code) in [
            (
                br#"{"name": 5, "email": "fine@partner.org", "roles": ["engage-worker"]}"#.to_vec(),
                "name",
                "invalid_type",
            ),
            (
                br#"{"name": "Fine", "email": "fine@partner.org", "roles": ["engage-worker"], "secret": "x"}"#.to_vec(),
                "secret",
                "unknown_field",
            ),
        ] {
            let p = problem(post_raw(&app, APPS, &admin, json_ct, body).await, 422).await;
            assert_eq!(field_codes(&p), pairs(&[(field, code)]));
        }
        // Not JSON: 415.
        let valid_bytes = serde_json::to_vec(&valid).unwrap();
        problem(
            post_raw(&app, APPS, &admin, Some("text/plain"), valid_bytes.clone()).await,
            415,
        )
        .await;
        problem(post_raw(&app, APPS, &admin, None, valid_bytes.clone()).await, 415).await;
        problem(
            post_raw(
                &app,
                APPS,
                &admin,
                Some("application/x-www-form-urlencoded"),
                b"name=x".to_vec(),
            )
            .await,
            415,
        )
        .await;
        // Too large: 413.
        let huge = json!({"name": "Fine", "email": "fine@partner.org", "roles": ["engage-worker"],
        "description": "x".repeat(100 * 1024)});
        problem(app.post_json(APPS, &admin, &huge).await, 413).await;
        // A change with the wrong types or an unknown field, or to an id that cannot be.
        let p = problem(
            app.patch_json(&existing_path, &admin, &json!({"enabled": "no"})).await,
            422,
        )
        .await;
        assert_eq!(field_codes(&p), pairs(&[("enabled", "invalid_type")]));
        let p = problem(
            app.patch_json(&existing_path, &admin, &json!({"client_id": "cb_mine"}))
                .await,
            422,
        )
        .await;
        assert_eq!(field_codes(&p), pairs(&[("client_id", "unknown_field")]));
        for path in [
            format!("{APPS}/%FF%FE"),
            format!("{APPS}/%00"),
            "/admin/v1/roles/%C3%28".to_owned(),
            "/admin/v1/users/a%0Ab".to_owned(),
        ] {
            problem(app.get(&path, &admin).await, 400).await;
            problem(app.patch_json(&path, &admin, &json!({"name": "X"})).await, 400).await;
            problem(app.delete(&path, &admin).await, 400).await;
        }
        // Bad queries: 400 when unreadable, 422 when out of range.
        for query in [
            "limit=abc",
            "limit=1.5",
            "colour=red",
            "cursor=%00",
            "name=%00",
            "email=a%0Db",
        ] {
            problem(app.get(&format!("{APPS}?{query}"), &admin).await, 400).await;
        }
        for query in ["limit=0", "limit=101", "limit=-1"] {
            let p = problem(app.get(&format!("{APPS}?{query}"), &admin).await, 422).await;
            assert_eq!(field_codes(&p), pairs(&[("limit", "invalid_value")]));
            let p = problem(app.get(&format!("/admin/v1/users?{query}"), &admin).await, 422).await;
            assert_eq!(field_codes(&p), pairs(&[("limit", "invalid_value")]));
        }
        // A cursor no page could have handed out.
        for query in ["cursor=", "cursor=a%20b", "cursor=%C3%A9", "cursor=..%2Fx"] {
            for list in [APPS, "/admin/v1/users", "/admin/v1/roles", "/admin/v1/audit-events"] {
                let p = problem(app.get(&format!("{list}?{query}"), &admin).await, 422).await;
                assert_eq!(field_codes(&p), pairs(&[("cursor", "invalid_value")]), "{list}?{query}");
            }
        }
        // A method the route does not serve.
        let r = app
            .http
            .put(app.url(APPS))
            .bearer_auth(&admin)
            .json(&valid)
            .send()
            .await
            .unwrap();
        let allow = r
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        problem(r, 405).await;
        assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
        // A cursor that names nothing is simply the end of the list.
        let page = expect(app.get(&format!("{APPS}?cursor=zzzz"), &admin).await, 200).await;
        assert_eq!(page, json!({"items": [], "next_cursor": null}));

        assert_eq!(
            snapshot(&app, &admin).await,
            before,
            "a refused request changed something"
        );
    }
);

both_backends!(
    registration_reports_every_invalid_field_at_once,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let before = snapshot(&app, &admin).await;
        let r = app
            .post_json(
                APPS,
                &admin,
                &json!({
                    "name": "   ",
                    "email": "not-an-address",
                    "application_url": "ftp://files.partner.org",
                    "roles": ["no-such-role", "auditor", "auditor"],
                    "description": "d".repeat(1001),
                }),
            )
            .await;
        let p = problem(r, 422).await;
        assert_eq!(
            field_codes(&p),
            pairs(&[
                ("name", "required"),
                ("email", "invalid_email"),
                ("application_url", "invalid_url"),
                ("roles", "unknown_role"),
                ("roles", "duplicate_role"),
                ("description", "too_long"),
            ])
        );
        // Other codes: too long, email of an existing account (any case), no roles, a control character.
        let r = app
            .post_json(
                APPS,
                &admin,
                &json!({
                    "name": "n".repeat(101),
                    "email": ADMIN_EMAIL.to_uppercase(),
                    "application_url": format!("https://partner.org/{}", "p".repeat(2048)),
                    "roles": [],
                }),
            )
            .await;
        let p = problem(r, 422).await;
        assert_eq!(
            field_codes(&p),
            pairs(&[
                ("name", "too_long"),
                ("email", "email_in_use"),
                ("application_url", "too_long"),
                ("roles", "required"),
            ])
        );
        let r = app
            .post_json(
                APPS,
                &admin,
                &json!({"name": "Tab\there", "email": "", "application_url": "not a url", "roles": ["auditor"]}),
            )
            .await;
        assert_eq!(
            field_codes(&problem(r, 422).await),
            pairs(&[
                ("name", "invalid_characters"),
                ("email", "required"),
                ("application_url", "invalid_url"),
            ])
        );
        // A required field missing altogether is a field error like the others.
        let p = problem(
            app.post_json(APPS, &admin, &json!({"name": "No roles", "email": "nr@partner.org"}))
                .await,
            422,
        )
        .await;
        assert_eq!(field_codes(&p), pairs(&[("roles", "required")]));
        assert_eq!(snapshot(&app, &admin).await, before);
    }
);

// ------------------------------------------------------------------ roles

both_backends!(role_catalog, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let catalog = expect(app.get("/admin/v1/roles", &admin).await, 200).await;
    assert_eq!(catalog["next_cursor"], Value::Null);
    let seeded: BTreeSet<(String, BTreeSet<String>)> = catalog["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let perms = r["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_owned());
            (r["name"].as_str().unwrap().to_owned(), perms.collect())
        })
        .collect();
    let modules = ["engage", "intake", "investigations", "placements", "providers", "admin"];
    // At the root the Administrator also manages tenants (the contract, "Tenants").
    let every: BTreeSet<String> = modules
        .iter()
        .chain(&["tenants"])
        .flat_map(|m| ["view", "create", "edit", "delete"].map(|a| format!("{m}:{a}")))
        .collect();
    let set = |ps: &[&str]| ps.iter().map(|p| p.to_string()).collect::<BTreeSet<_>>();
    let expected: BTreeSet<(String, BTreeSet<String>)> = [
        ("Administrator".to_owned(), every),
        (
            "Engage Supervisor".to_owned(),
            set(&["engage:view", "engage:create", "engage:edit"]),
        ),
        ("Engage Worker".to_owned(), set(&["engage:view", "engage:create"])),
        (
            "Intake Screener".to_owned(),
            set(&["intake:view", "intake:create", "intake:edit"]),
        ),
        (
            "Auditor".to_owned(),
            modules.iter().map(|m| format!("{m}:view")).collect(),
        ),
    ]
    .into();
    assert_eq!(seeded, expected);

    // Add, read, change, remove.
    let role = app
        .create_role(&admin, "Case Reader", &["engage:view", "intake:view"])
        .await;
    let path = format!("/admin/v1/roles/{}", id_of(&role));
    assert_eq!(role["name"], "Case Reader");
    assert_eq!(role["permissions"], json!(["engage:view", "intake:view"]));
    assert_eq!(expect(app.get(&path, &admin).await, 200).await["name"], "Case Reader");
    // Names are unique, case-insensitively.
    for name in ["case reader", "ENGAGE WORKER"] {
        let r = app
            .post_json(
                "/admin/v1/roles",
                &admin,
                &json!({"name": name, "permissions": ["engage:view"]}),
            )
            .await;
        assert_eq!(field_codes(&problem(r, 422).await), pairs(&[("name", "name_in_use")]));
    }
    let r = app.patch_json(&path, &admin, &json!({"name": "auditor"})).await;
    assert_eq!(field_codes(&problem(r, 422).await), pairs(&[("name", "name_in_use")]));
    let r = app
        .post_json(
            "/admin/v1/roles",
            &admin,
            &json!({"name": "", "permissions": ["engage:fly"]}),
        )
        .await;
    assert_eq!(
        field_codes(&problem(r, 422).await),
        pairs(&[("name", "required"), ("permissions", "invalid_permission")])
    );
    let r = app
        .post_json(
            "/admin/v1/roles",
            &admin,
            &json!({"name": "Dup", "permissions": ["engage:view", "engage:view"]}),
        )
        .await;
    assert_eq!(
        field_codes(&problem(r, 422).await),
        pairs(&[("permissions", "duplicate_permission")])
    );
    let r = app
        .post_json("/admin/v1/roles", &admin, &json!({"name": "Empty", "permissions": []}))
        .await;
    assert_eq!(
        field_codes(&problem(r, 422).await),
        pairs(&[("permissions", "required")])
    );

    let changed = expect(
        app.patch_json(
            &path,
            &admin,
            &json!({"name": "Case Editor", "permissions": ["engage:edit"]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["name"], "Case Editor");
    assert_eq!(changed["permissions"], json!(["engage:edit"]));
    // Renaming to its own name in another case is not a conflict.
    expect(
        app.patch_json(&path, &admin, &json!({"name": "CASE EDITOR"})).await,
        200,
    )
    .await;
    assert_eq!(expect(app.get(&path, &admin).await, 200).await["name"], "CASE EDITOR");

    expect(app.delete(&path, &admin).await, 204).await;
    problem(app.get(&path, &admin).await, 404).await;
    problem(app.delete(&path, &admin).await, 404).await;
    problem(app.patch_json(&path, &admin, &json!({"name": "Ghost"})).await, 404).await;
    // The name is free again.
    app.create_role(&admin, "Case Editor", &["engage:edit"]).await;

    // Pages of two walk the whole catalog once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let query = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page = expect(app.get(&format!("/admin/v1/roles?limit=2{query}"), &admin).await, 200).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(id_of));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 6);
});

both_backends!(a_role_still_assigned_cannot_be_removed, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let role = app.create_role(&admin, "Night Shift", &["intake:view"]).await;
    let role_id = id_of(&role);
    let path = format!("/admin/v1/roles/{role_id}");
    let user = app
        .create_user(&admin, "night@agency.org", "Nora Night", &[&role_id])
        .await;
    let application = app
        .register(&admin, "Night Importer", "night@partner.org", &[&role_id, "auditor"])
        .await;
    let before = snapshot(&app, &admin).await;

    let p = problem(app.delete(&path, &admin).await, 409).await;
    let holders: BTreeSet<(String, String, String)> = p["holders"]
        .as_array()
        .expect("holders")
        .iter()
        .map(|h| {
            (
                h["kind"].as_str().unwrap().to_owned(),
                id_of(h),
                h["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        holders,
        [
            ("user".to_owned(), id_of(&user), "Nora Night".to_owned()),
            (
                "application".to_owned(),
                id_of(&application),
                "Night Importer".to_owned()
            ),
        ]
        .into()
    );
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("Nora Night") && detail.contains("Night Importer"),
        "{detail}"
    );
    assert_eq!(snapshot(&app, &admin).await, before);

    // Taken off the application, still held by the user.
    let changed = expect(
        app.patch_json(
            &format!("{APPS}/{}", id_of(&application)),
            &admin,
            &json!({"roles": ["auditor"]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["roles"], json!(["auditor"]));
    let p = problem(app.delete(&path, &admin).await, 409).await;
    assert_eq!(p["holders"].as_array().unwrap().len(), 1);
    expect(
        app.patch_json(
            &format!("/admin/v1/users/{}", id_of(&user)),
            &admin,
            &json!({"roles": []}),
        )
        .await,
        200,
    )
    .await;
    expect(app.delete(&path, &admin).await, 204).await;
    // Seeded roles are roles like any other: held ones refuse too.
    let p = problem(app.delete("/admin/v1/roles/administrator", &admin).await, 409).await;
    assert!(p["detail"].as_str().unwrap().contains("Administrator"), "{p}");
});

// ------------------------------------------------------------------ users

both_backends!(the_last_administrator_cannot_be_removed, |app: TestApp| async move {
    let root = app.admin_token().await;
    let root_id = id_of(&me(&app, &root).await);
    let root_path = format!("/admin/v1/users/{root_id}");
    let administrator = "/admin/v1/roles/administrator";
    let all_but_delete = json!({"permissions": [
        "engage:view", "intake:view", "admin:view", "admin:create", "admin:edit"
    ]});
    let (_, robot_id, robot_secret) = app.partner(&root, "Admin Robot", &["administrator"]).await;
    let before = snapshot(&app, &root).await;

    // Alone, the first administrator can neither step down nor hollow out
    // the role that makes them one.
    let p = problem(
        app.patch_json(&root_path, &root, &json!({"roles": ["auditor"]})).await,
        409,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("admin permission"), "{p}");
    problem(app.patch_json(administrator, &root, &all_but_delete).await, 409).await;
    assert_eq!(
        snapshot(&app, &root).await,
        before,
        "a refused change leaves nothing behind"
    );
    // Other changes to the same records still go through.
    expect(
        app.patch_json(&root_path, &root, &json!({"name": "Root Admin"})).await,
        200,
    )
    .await;
    expect(
        app.patch_json(administrator, &root, &json!({"name": "Administrator"}))
            .await,
        200,
    )
    .await;

    // With a second administrator, the first may step down; then the second
    // is the last one, and can neither step down nor be removed.
    let second = app
        .create_user(&root, "second@agency.org", "Second Admin", &["administrator"])
        .await;
    let second_path = format!("/admin/v1/users/{}", id_of(&second));
    let second_session = app.sign_in("second@agency.org", USER_PASSWORD).await;
    expect(
        app.patch_json(&root_path, &root, &json!({"roles": ["auditor"]})).await,
        200,
    )
    .await;
    problem(
        app.patch_json(&second_path, &second_session, &json!({"roles": []}))
            .await,
        409,
    )
    .await;
    problem(
        app.patch_json(administrator, &second_session, &all_but_delete).await,
        409,
    )
    .await;
    // An application holding admin rights is not a way back in.
    let robot = app.access_token(&robot_id, &robot_secret).await;
    problem(app.delete(&second_path, &robot).await, 409).await;
    expect(app.get(&second_path, &second_session).await, 200).await;

    // Admin rights split over two roles count when held together. The first
    // carries every other permission too, so that the third administrator
    // may hand out the Administrator role below (a caller only grants what
    // it holds).
    let all_but_admin_delete: Vec<String> = casebook_domain::PermissionSet::all()
        .to_strings()
        .into_iter()
        .filter(|p| p != "admin:delete")
        .collect();
    let split_a = id_of(
        &app.create_role(
            &second_session,
            "Admin Without Delete",
            &all_but_admin_delete.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .await,
    );
    let split_b = id_of(
        &app.create_role(&second_session, "Admin Delete", &["admin:delete"])
            .await,
    );
    let third = app
        .create_user(
            &second_session,
            "third@agency.org",
            "Third Admin",
            &[&split_a, &split_b],
        )
        .await;
    let third_path = format!("/admin/v1/users/{}", id_of(&third));
    let third_session = app.sign_in("third@agency.org", USER_PASSWORD).await;
    expect(
        app.patch_json(&second_path, &second_session, &json!({"roles": ["auditor"]}))
            .await,
        200,
    )
    .await;
    problem(
        app.patch_json(
            &format!("/admin/v1/roles/{split_b}"),
            &third_session,
            &json!({"permissions": ["admin:view"]}),
        )
        .await,
        409,
    )
    .await;

    // Two administrators stepping down at once: one of them must stay.
    expect(
        app.patch_json(&second_path, &third_session, &json!({"roles": ["administrator"]}))
            .await,
        200,
    )
    .await;
    let results = all_at_once(
        &app,
        vec![(
            reqwest::Method::PATCH,
            second_path.clone(),
            json!({"roles": ["auditor"]}),
        )],
        &second_session,
    );
    let other = all_at_once(
        &app,
        vec![(
            reqwest::Method::PATCH,
            third_path.clone(),
            json!({"roles": ["auditor"]}),
        )],
        &third_session,
    );
    let (mut results, other) = tokio::join!(results, other);
    results.extend(other);
    let mut statuses: Vec<u16> = results.iter().map(|(s, _)| *s).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{results:?}");
    let users = expect(app.get("/admin/v1/users?limit=100", &root).await, 200);
    let administrators = users.await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| {
            let roles = strings(&u["roles"]);
            roles.contains("administrator") || (roles.contains(&split_a) && roles.contains(&split_b))
        })
        .count();
    assert_eq!(administrators, 1);
});

both_backends!(users_and_the_email_rule_across_accounts, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let jo = app
        .create_user(&admin, "Jo.Doe@Agency.org", "Jo Doe", &["engage-worker"])
        .await;
    let jo_path = format!("/admin/v1/users/{}", id_of(&jo));
    assert_eq!(jo["email"], "Jo.Doe@Agency.org");
    assert_eq!(jo["roles"], json!(["engage-worker"]));
    assert!(
        jo.get("password").is_none() && jo.get("password_hash").is_none(),
        "{jo}"
    );
    assert_eq!(expect(app.get(&jo_path, &admin).await, 200).await, jo);
    let list = expect(app.get("/admin/v1/users", &admin).await, 200).await;
    let emails: BTreeSet<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, [ADMIN_EMAIL, "Jo.Doe@Agency.org"].into());
    assert!(!list.to_string().contains("argon2"), "no password hash in the list");

    // Every invalid field at once.
    let r = app
        .post_json(
            "/admin/v1/users",
            &admin,
            &json!({"email": "jo", "name": " ", "password": "short", "roles": ["nope"]}),
        )
        .await;
    assert_eq!(
        field_codes(&problem(r, 422).await),
        pairs(&[
            ("email", "invalid_email"),
            ("name", "required"),
            ("password", "too_short"),
            ("roles", "unknown_role"),
        ])
    );

    // One address, one account: users and applications alike, any case.
    let partner = app.register(&admin, "Partner", "Ops@Partner.org", &["auditor"]).await;
    let other = app.register(&admin, "Other", "other@partner.org", &["auditor"]).await;
    for (path, body) in [
        (
            "/admin/v1/users",
            json!({"email": "JO.DOE@AGENCY.ORG", "name": "Jo Two", "password": USER_PASSWORD}),
        ),
        (
            "/admin/v1/users",
            json!({"email": "ops@partner.ORG", "name": "Ops", "password": USER_PASSWORD}),
        ),
        (
            APPS,
            json!({"name": "Jo's App", "email": "jo.doe@agency.org", "roles": ["auditor"]}),
        ),
        (
            APPS,
            json!({"name": "Ops Two", "email": "OPS@partner.org", "roles": ["auditor"]}),
        ),
    ] {
        let p = problem(app.post_json(path, &admin, &body).await, 422).await;
        assert_eq!(field_codes(&p), pairs(&[("email", "email_in_use")]), "{body}");
    }
    for (path, email) in [
        (jo_path.clone(), "ops@partner.org"),
        (jo_path.clone(), ADMIN_EMAIL),
        (format!("{APPS}/{}", id_of(&other)), "Jo.Doe@agency.org"),
        (format!("{APPS}/{}", id_of(&other)), "OPS@PARTNER.ORG"),
    ] {
        let p = problem(app.patch_json(&path, &admin, &json!({"email": email})).await, 422).await;
        assert_eq!(field_codes(&p), pairs(&[("email", "email_in_use")]), "{path} {email}");
    }
    // An account may keep its own address, in another case.
    let jo = expect(
        app.patch_json(&jo_path, &admin, &json!({"email": "jo.doe@agency.org"}))
            .await,
        200,
    )
    .await;
    assert_eq!(jo["email"], "jo.doe@agency.org");
    let partner_path = format!("{APPS}/{}", id_of(&partner));
    expect(
        app.patch_json(&partner_path, &admin, &json!({"email": "ops@partner.org"}))
            .await,
        200,
    )
    .await;

    // Change name, roles and password; the new password signs in, the old does not.
    let jo_session = app.sign_in("jo.doe@agency.org", USER_PASSWORD).await;
    let jo = expect(
        app.patch_json(
            &jo_path,
            &admin,
            &json!({"name": "Jo Doe-Smith", "roles": ["intake-screener", "auditor"], "password": "another long password"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(jo["name"], "Jo Doe-Smith");
    assert_eq!(
        strings(&jo["roles"]),
        ["auditor", "intake-screener"].map(String::from).into()
    );
    problem(app.get("/api/v1/me", &jo_session).await, 401).await;
    let r = app
        .http
        .post(app.url("/admin/v1/sessions"))
        .json(&json!({"email": "jo.doe@agency.org", "password": USER_PASSWORD}))
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
    let jo_session = app.sign_in("JO.DOE@agency.org", "another long password").await;
    assert_eq!(me(&app, &jo_session).await["name"], "Jo Doe-Smith");
    let r = app
        .patch_json(
            &jo_path,
            &admin,
            &json!({"password": "short", "roles": ["auditor", "auditor"]}),
        )
        .await;
    assert_eq!(
        field_codes(&problem(r, 422).await),
        pairs(&[("password", "too_short"), ("roles", "duplicate_role")])
    );

    // Nobody removes their own account; removing another frees the address.
    let admin_id = id_of(&me(&app, &admin).await);
    problem(app.delete(&format!("/admin/v1/users/{admin_id}"), &admin).await, 409).await;
    expect(app.delete(&jo_path, &admin).await, 204).await;
    problem(app.get(&jo_path, &admin).await, 404).await;
    problem(app.delete(&jo_path, &admin).await, 404).await;
    problem(app.patch_json(&jo_path, &admin, &json!({"name": "Ghost"})).await, 404).await;
    problem(app.get("/api/v1/me", &jo_session).await, 401).await;
    app.register(&admin, "Jo's App", "JO.DOE@agency.org", &["auditor"])
        .await;
    expect(app.delete(&partner_path, &admin).await, 204).await;
    app.create_user(&admin, "ops@partner.org", "Ops Person", &[]).await;
});

// ------------------------------------------------------------------ applications

both_backends!(applications_register_view_change_remove, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let r = app
        .post_json(
            APPS,
            &admin,
            &json!({
                "name": "  Acme Intake Sync  ",
                "email": "Integrations@Acme.example.org",
                "application_url": "https://acme.example.org/casebook",
                "roles": ["intake-screener", "engage-worker"],
                "description": "Pushes intake reports nightly.",
            }),
        )
        .await;
    let text_registered = {
        let body = expect(r, 201).await;
        body.to_string()
    };
    let registered: Value = serde_json::from_str(&text_registered).unwrap();
    let keys: BTreeSet<&str> = registered.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "name",
            "email",
            "application_url",
            "description",
            "roles",
            "client_id",
            "callback_url",
            "enabled",
            "token_endpoint_auth_method",
            "jwks",
            "jwks_uri",
            "allowed_sources",
            "token_quota_per_hour",
            "dpop_bound_access_tokens",
            "created_at",
            "updated_at"
        ]
        .into()
    );
    assert_eq!(
        registered["token_endpoint_auth_method"], "client_secret_basic",
        "the default"
    );
    assert_eq!(registered["allowed_sources"], Value::Null, "any address");
    assert_eq!(registered["token_quota_per_hour"], Value::Null, "no quota");
    assert_eq!(registered["jwks"], Value::Null);
    assert_eq!(registered["jwks_uri"], Value::Null);
    assert_eq!(registered["name"], "Acme Intake Sync", "trimmed");
    assert_eq!(registered["email"], "Integrations@Acme.example.org");
    assert_eq!(registered["callback_url"], app.base_url.as_str());
    assert_eq!(registered["enabled"], true);
    assert!(
        registered["client_id"].as_str().is_some_and(|c| c.len() >= 16),
        "{registered}"
    );
    let id = id_of(&registered);
    let path = format!("{APPS}/{id}");

    // The expanded view: the same, and never the secret.
    let view = expect(app.get(&path, &admin).await, 200).await;
    assert_eq!(view, registered);
    assert_eq!(view["application_url"], "https://acme.example.org/casebook");
    assert_eq!(view["description"], "Pushes intake reports nightly.");
    assert_eq!(
        strings(&view["roles"]),
        ["engage-worker", "intake-screener"].map(String::from).into()
    );
    let secret = app.reveal(&admin, &id).await;
    assert!(!text_registered.contains(&secret));
    assert!(!view.to_string().contains(&secret));
    let list = expect(app.get(APPS, &admin).await, 200).await;
    assert!(!list.to_string().contains(&secret));
    assert_eq!(list["items"][0], view);

    // Change each field; absent fields stay, null clears.
    let changed = expect(
        app.patch_json(
            &path,
            &admin,
            &json!({"name": "Acme Sync", "email": "casebook@acme.example.org", "roles": ["auditor"],
                "application_url": null, "description": "Read-only now."}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["name"], "Acme Sync");
    assert_eq!(changed["email"], "casebook@acme.example.org");
    assert_eq!(changed["roles"], json!(["auditor"]));
    assert_eq!(changed["application_url"], Value::Null);
    assert_eq!(changed["description"], "Read-only now.");
    assert_eq!(
        changed["client_id"], registered["client_id"],
        "the Client ID never changes"
    );
    assert_eq!(changed["created_at"], registered["created_at"]);
    let disabled = expect(app.patch_json(&path, &admin, &json!({"enabled": false})).await, 200).await;
    assert_eq!(disabled["enabled"], false);
    assert_eq!(disabled["name"], "Acme Sync");
    assert_eq!(expect(app.get(&path, &admin).await, 200).await["enabled"], false);
    assert_eq!(
        app.token_response(registered["client_id"].as_str().unwrap(), &secret, None)
            .await
            .status(),
        401
    );
    let enabled = expect(app.patch_json(&path, &admin, &json!({"enabled": true})).await, 200).await;
    assert_eq!(enabled["enabled"], true);
    app.access_token(registered["client_id"].as_str().unwrap(), &secret)
        .await;
    // The old address is free once the application moved off it.
    app.register(&admin, "Second", "integrations@acme.example.org", &["auditor"])
        .await;

    // A refused change changes nothing.
    let before = snapshot(&app, &admin).await;
    let r = app
        .patch_json(
            &path,
            &admin,
            &json!({"name": "", "email": "bad", "application_url": "javascript:alert(1)", "roles": [], "description": "x".repeat(1001)}),
        )
        .await;
    assert_eq!(
        field_codes(&problem(r, 422).await),
        pairs(&[
            ("name", "required"),
            ("email", "invalid_email"),
            ("application_url", "invalid_url"),
            ("roles", "required"),
            ("description", "too_long"),
        ])
    );
    let r = app
        .patch_json(&path, &admin, &json!({"name": "Renamed", "roles": ["ghost-role"]}))
        .await;
    assert_eq!(field_codes(&problem(r, 422).await), pairs(&[("roles", "unknown_role")]));
    assert_eq!(snapshot(&app, &admin).await, before);

    // Remove: gone from view and list, its credentials refused, its address free.
    expect(app.delete(&path, &admin).await, 204).await;
    problem(app.get(&path, &admin).await, 404).await;
    problem(app.delete(&path, &admin).await, 404).await;
    problem(app.patch_json(&path, &admin, &json!({"name": "Ghost"})).await, 404).await;
    let list = expect(app.get(APPS, &admin).await, 200).await;
    assert!(list["items"].as_array().unwrap().iter().all(|a| a["id"] != id.as_str()));
    assert_eq!(
        app.token_response(registered["client_id"].as_str().unwrap(), &secret, None)
            .await
            .status(),
        401
    );
    app.create_user(&admin, "casebook@acme.example.org", "Acme Person", &[])
        .await;
});

both_backends!(application_list_pages_and_filters, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let mut all = BTreeSet::new();
    for (name, email) in [
        ("Alpha One", "one@alpha.example.org"),
        ("Alpha Two", "two@alpha.example.org"),
        ("alpha three", "three@alpha.example.org"),
        ("ALPHA Four", "four@alpha.example.org"),
        ("Beta One", "one@beta.example.org"),
        ("Beta Two", "Two@BETA.example.org"),
        ("100% Gamma_1", "gamma@example.org"),
    ] {
        all.insert(id_of(&app.register(&admin, name, email, &["auditor"]).await));
    }

    async fn walk(app: &TestApp, admin: &str, query: &str, limit: usize) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..20 {
            let c = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
            let page = expect(app.get(&format!("{APPS}?limit={limit}{query}{c}"), admin).await, 200).await;
            let got = page["items"].as_array().unwrap();
            assert!(got.len() <= limit, "{page}");
            items.extend(got.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => {
                    assert_eq!(got.len(), limit, "a page with a next cursor is full");
                    cursor = Some(next.to_owned());
                }
                None => return items,
            }
        }
        panic!("pagination did not end");
    }
    let names = |items: &[Value]| -> BTreeSet<String> {
        items.iter().map(|a| a["name"].as_str().unwrap().to_owned()).collect()
    };

    let every = walk(&app, &admin, "", 3).await;
    assert_eq!(every.len(), 7);
    assert_eq!(every.iter().map(id_of).collect::<BTreeSet<_>>(), all);
    // The same order whatever the page size.
    assert_eq!(walk(&app, &admin, "", 100).await, every);
    assert_eq!(walk(&app, &admin, "", 1).await, every);
    let first = expect(app.get(&format!("{APPS}?limit=3"), &admin).await, 200).await;
    assert!(first["next_cursor"].is_string());

    // Filters: substrings, case-insensitive, combined with paging.
    let alpha = walk(&app, &admin, "&name=aLpHa", 3).await;
    assert_eq!(
        names(&alpha),
        ["Alpha One", "Alpha Two", "alpha three", "ALPHA Four"]
            .map(String::from)
            .into()
    );
    let beta = walk(&app, &admin, "&email=beta.EXAMPLE", 1).await;
    assert_eq!(names(&beta), ["Beta One", "Beta Two"].map(String::from).into());
    let both = walk(&app, &admin, "&name=one&email=alpha", 2).await;
    assert_eq!(names(&both), ["Alpha One".to_owned()].into());
    // Wildcard characters are matched literally.
    assert_eq!(
        names(&walk(&app, &admin, "&name=%25", 5).await),
        ["100% Gamma_1".to_owned()].into()
    );
    assert_eq!(
        names(&walk(&app, &admin, "&name=a_", 5).await),
        ["100% Gamma_1".to_owned()].into()
    );
    assert!(walk(&app, &admin, "&name=zeta", 5).await.is_empty());
    assert_eq!(
        walk(&app, &admin, "&name=", 5).await.len(),
        7,
        "an empty filter is no filter"
    );
});

// ------------------------------------------------------------------ secrets

both_backends!(reveal_and_rotate, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let (view, client_id, secret) = app.partner(&admin, "Rotating Partner", &["engage-worker"]).await;
    let id = id_of(&view);
    // Revealing again shows the same secret, marked not to be cached.
    let r = reveal_with(&app, &admin, &id, ADMIN_PASSWORD).await;
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    let shown = expect(r, 200).await;
    assert_eq!(shown["client_secret"], secret.as_str());
    assert_eq!(shown["client_id"], client_id.as_str());
    app.access_token(&client_id, &secret).await;

    // A wrong password is 403 and reveals nothing.
    let p = problem(reveal_with(&app, &admin, &id, "not my password").await, 403).await;
    assert!(!p.to_string().contains(&secret));
    problem(
        rotate_with(&app, &admin, &id, &json!({"password": "not my password"})).await,
        403,
    )
    .await;
    app.access_token(&client_id, &secret).await;

    // Rotation without grace: the new secret works, the old one at once does not.
    let r = rotate_with(&app, &admin, &id, &json!({"password": ADMIN_PASSWORD})).await;
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    let rotated = expect(r, 200).await;
    let second = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(second, secret);
    assert!(
        rotated.get("previous_secret_valid_until").is_none_or(Value::is_null),
        "{rotated}"
    );
    app.access_token(&client_id, &second).await;
    let r = app.token_response(&client_id, &secret, None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    assert_eq!(app.reveal(&admin, &id).await, second);

    // Rotation with a grace period: both work until it ends.
    let rotated = expect(
        rotate_with(
            &app,
            &admin,
            &id,
            &json!({"password": ADMIN_PASSWORD, "grace_period_seconds": 600}),
        )
        .await,
        200,
    )
    .await;
    let third = rotated["client_secret"].as_str().unwrap().to_owned();
    assert!(rotated["previous_secret_valid_until"].is_string(), "{rotated}");
    app.access_token(&client_id, &third).await;
    app.access_token(&client_id, &second).await;
    assert_eq!(app.token_response(&client_id, &secret, None).await.status(), 401);

    // Out-of-range grace periods are refused and change nothing.
    for grace in [-1, 7 * 24 * 3600 + 1] {
        let r = rotate_with(
            &app,
            &admin,
            &id,
            &json!({"password": ADMIN_PASSWORD, "grace_period_seconds": grace}),
        )
        .await;
        assert_eq!(
            field_codes(&problem(r, 422).await),
            pairs(&[("grace_period_seconds", "invalid_value")])
        );
    }
    let p = problem(
        rotate_with(&app, &admin, &id, &json!({"password": ADMIN_PASSWORD, "grace": 5})).await,
        422,
    )
    .await;
    assert_eq!(field_codes(&p), pairs(&[("grace", "unknown_field")]));
    assert_eq!(app.reveal(&admin, &id).await, third);

    // A signed-in user without admin:edit cannot, even with the right password.
    app.create_user(&admin, "auditor@agency.org", "Audrey", &["auditor"])
        .await;
    let auditor = app.sign_in("auditor@agency.org", USER_PASSWORD).await;
    let r = reveal_with(&app, &auditor, &id, USER_PASSWORD).await;
    let challenge = r
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    problem(r, 403).await;
    assert!(challenge.contains("scope=\"admin:edit\""), "{challenge}");
    // Another administrator reveals with their own password, not the first one's.
    app.create_user(&admin, "second@agency.org", "Second Admin", &["administrator"])
        .await;
    let second_admin = app.sign_in("second@agency.org", USER_PASSWORD).await;
    problem(reveal_with(&app, &second_admin, &id, ADMIN_PASSWORD).await, 403).await;
    let shown = expect(reveal_with(&app, &second_admin, &id, USER_PASSWORD).await, 200).await;
    assert_eq!(shown["client_secret"], third.as_str());
});

both_backends!(
    five_wrong_passwords_lock_reveal_even_for_the_right_one,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, _, secret) = app.partner(&admin, "Locked Partner", &["auditor"]).await;
        let id = id_of(&view);
        app.create_user(&admin, "careless@agency.org", "Careless Admin", &["administrator"])
            .await;
        let careless = app.sign_in("careless@agency.org", USER_PASSWORD).await;
        for attempt in 1..=5 {
            let p = problem(
                reveal_with(&app, &careless, &id, &format!("guess number {attempt}")).await,
                403,
            )
            .await;
            assert!(!p.to_string().contains(&secret));
        }
        for r in [
            reveal_with(&app, &careless, &id, USER_PASSWORD).await,
            rotate_with(&app, &careless, &id, &json!({"password": USER_PASSWORD})).await,
        ] {
            let retry_after: u64 = r
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .expect("Retry-After");
            assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
            let p = problem(r, 429).await;
            assert!(!p.to_string().contains(&secret));
        }
        // The rotation was refused: the secret is unchanged. The lockout is per person.
        assert_eq!(app.reveal(&admin, &id).await, secret);
        // Other admin work goes on for the locked person.
        expect(app.get(APPS, &careless).await, 200).await;
        let audit = expect(app.get("/admin/v1/audit-events?limit=100", &admin).await, 200).await;
        let refused = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "application.secret_reveal_refused")
            .count();
        assert_eq!(refused, 5);
    }
);

both_backends!(
    audit_trail_names_the_actor_and_never_the_secret,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let admin_id = id_of(&me(&app, &admin).await);
        let (view, _, first) = app.partner(&admin, "Audited Partner", &["auditor"]).await;
        let id = id_of(&view);
        let rotated = expect(
            rotate_with(&app, &admin, &id, &json!({"password": ADMIN_PASSWORD})).await,
            200,
        )
        .await;
        let second = rotated["client_secret"].as_str().unwrap().to_owned();
        problem(reveal_with(&app, &admin, &id, "wrong password here").await, 403).await;
        expect(
            app.patch_json(&format!("{APPS}/{id}"), &admin, &json!({"enabled": false}))
                .await,
            200,
        )
        .await;

        let audit = expect(app.get("/admin/v1/audit-events?limit=100", &admin).await, 200).await;
        let text = audit.to_string();
        assert!(
            !text.contains(&first) && !text.contains(&second),
            "a secret is in the audit trail"
        );
        assert!(!text.contains(ADMIN_PASSWORD) && !text.contains("wrong password here"));
        let events: Vec<&Value> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["target_id"] == id.as_str())
            .collect();
        // Newest first.
        let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(
            actions,
            [
                "application.disabled",
                "application.secret_reveal_refused",
                "application.secret_rotated",
                "application.secret_revealed",
                "application.registered",
            ]
        );
        for e in &events {
            assert_eq!(
                e["actor"],
                json!({"kind": "user", "id": admin_id, "name": "Administrator"}),
                "{e}"
            );
            assert_eq!(e["target_kind"], "application");
            assert!(e["at"].as_str().is_some_and(|t| t.contains('T')), "{e}");
        }
        // Paging the trail: newest first, pages chained by the cursor.
        let page = expect(app.get("/admin/v1/audit-events?limit=2", &admin).await, 200).await;
        let next = page["next_cursor"].as_str().expect("more events");
        let rest = expect(
            app.get(&format!("/admin/v1/audit-events?limit=100&cursor={next}"), &admin)
                .await,
            200,
        )
        .await;
        let mut paged: Vec<Value> = page["items"].as_array().unwrap().clone();
        paged.extend(rest["items"].as_array().unwrap().iter().cloned());
        assert_eq!(&paged, audit["items"].as_array().unwrap());
    }
);

// ------------------------------------------------------------------ concurrency

/// Fires every request at once and returns the statuses and bodies.
async fn all_at_once(app: &TestApp, requests: Vec<(reqwest::Method, String, Value)>, token: &str) -> Vec<(u16, Value)> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(requests.len()));
    let handles: Vec<_> = requests
        .into_iter()
        .map(|(method, path, body)| {
            let request = app.http.request(method, app.url(&path)).bearer_auth(token).json(&body);
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let r = request.send().await.expect("send");
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap_or(Value::Null))
            })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

/// Exactly one winner; every loser is 422 `email_in_use` and nothing else.
fn exactly_one_winner(results: &[(u16, Value)], success: u16) {
    let winners = results.iter().filter(|(s, _)| *s == success).count();
    assert_eq!(winners, 1, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != success) {
        assert_eq!(*status, 422, "{body}");
        assert_eq!(field_codes(body), pairs(&[("email", "email_in_use")]), "{body}");
    }
}

/// How many accounts, users and applications together, hold this address.
async fn holders_of(app: &TestApp, admin: &str, email: &str) -> usize {
    let apps = expect(app.get(&format!("{APPS}?limit=100"), admin).await, 200).await;
    let users = expect(app.get("/admin/v1/users?limit=100", admin).await, 200).await;
    apps["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(users["items"].as_array().unwrap())
        .filter(|a| a["email"].as_str().unwrap().eq_ignore_ascii_case(email))
        .count()
}

both_backends!(
    concurrent_claims_of_one_address_leave_exactly_one_holder,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        // Sixteen registrations for one address, in different cases.
        let requests = (0..16)
            .map(|i| {
                let email = if i % 2 == 0 {
                    "race@partner.org"
                } else {
                    "RACE@Partner.org"
                };
                (
                    reqwest::Method::POST,
                    APPS.to_owned(),
                    json!({"name": format!("Racer {i}"), "email": email, "roles": ["auditor"]}),
                )
            })
            .collect();
        exactly_one_winner(&all_at_once(&app, requests, &admin).await, 201);
        assert_eq!(holders_of(&app, &admin, "race@partner.org").await, 1);
        assert_eq!(
            expect(app.get(APPS, &admin).await, 200).await["items"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        // Users and applications racing for one address.
        let requests = (0..16)
            .map(|i| {
                if i % 2 == 0 {
                    (
                        reqwest::Method::POST,
                        "/admin/v1/users".to_owned(),
                        json!({"email": "Shared@Agency.org", "name": format!("Person {i}"), "password": USER_PASSWORD}),
                    )
                } else {
                    (
                        reqwest::Method::POST,
                        APPS.to_owned(),
                        json!({"name": format!("App {i}"), "email": "shared@agency.org", "roles": ["auditor"]}),
                    )
                }
            })
            .collect();
        exactly_one_winner(&all_at_once(&app, requests, &admin).await, 201);
        assert_eq!(holders_of(&app, &admin, "shared@agency.org").await, 1);

        // Sixteen applications changed to one address at once.
        let mut requests = Vec::new();
        for i in 0..16 {
            let a = app
                .register(
                    &admin,
                    &format!("Mover {i}"),
                    &format!("mover{i}@partner.org"),
                    &["auditor"],
                )
                .await;
            requests.push((
                reqwest::Method::PATCH,
                format!("{APPS}/{}", id_of(&a)),
                json!({"email": if i % 2 == 0 { "target@partner.org" } else { "Target@PARTNER.org" }}),
            ));
        }
        exactly_one_winner(&all_at_once(&app, requests, &admin).await, 200);
        assert_eq!(holders_of(&app, &admin, "target@partner.org").await, 1);
        // The losers kept their own addresses, and those are still theirs alone.
        let mut kept = 0;
        for i in 0..16 {
            kept += holders_of(&app, &admin, &format!("mover{i}@partner.org")).await;
        }
        assert_eq!(kept, 15);
        let r = app
            .post_json(
                APPS,
                &admin,
                &json!({"name": "Late", "email": "TARGET@partner.org", "roles": ["auditor"]}),
            )
            .await;
        assert_eq!(field_codes(&problem(r, 422).await), pairs(&[("email", "email_in_use")]));
    }
);

// ------------------------------------------------------------------ secrets at rest and in logs

mod capture {
    use std::sync::{Arc, Mutex, OnceLock};

    /// Every log line the test process writes from the moment of `install`.
    #[derive(Clone, Debug, Default)]
    pub struct Logs(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
        type Writer = Logs;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    impl Logs {
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
        }
    }

    /// Installs (once per test process) a subscriber at TRACE level that
    /// writes into a buffer, and returns the buffer.
    pub fn install() -> Logs {
        static LOGS: OnceLock<Logs> = OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Logs::default();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(logs.clone())
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
            logs
        })
        .clone()
    }
}

both_backends!(
    the_plaintext_secret_is_neither_stored_nor_logged,
    |app: TestApp| async move {
        let logs = capture::install();
        let admin = app.admin_token().await;
        let (view, client_id, first) = app.partner(&admin, "Careful Partner", &["engage-worker"]).await;
        let id = id_of(&view);
        app.access_token(&client_id, &first).await;
        let second = expect(
            rotate_with(
                &app,
                &admin,
                &id,
                &json!({"password": ADMIN_PASSWORD, "grace_period_seconds": 60}),
            )
            .await,
            200,
        )
        .await["client_secret"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(app.reveal(&admin, &id).await, second);
        app.access_token(&client_id, &second).await;
        // Sent where it must not go, and sent wrong: refused, and still not logged.
        let r = app
            .http
            .post(app.url(&format!("/oauth2/token?client_id={client_id}&client_secret={second}")))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(
            app.token_response(&client_id, &format!("{second}x"), None)
                .await
                .status(),
            401
        );
        problem(reveal_with(&app, &admin, &id, "wrong password here").await, 403).await;

        let text = logs.text();
        assert!(
            text.contains("client secret revealed") && text.contains("client secret rotated"),
            "the capture sees the server's logs"
        );
        for secret in [&first, &second] {
            assert!(!text.contains(secret.as_str()), "a client secret is in the logs");
        }
        assert!(
            !text.contains(ADMIN_PASSWORD) && !text.contains("wrong password here"),
            "a password is in the logs"
        );

        if let Some(path) = app.db.url.strip_prefix("sqlite://") {
            let mut files = 0;
            for suffix in ["", "-wal", "-shm"] {
                let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) else {
                    continue;
                };
                files += 1;
                for secret in [&first, &second] {
                    let needle = secret.as_bytes();
                    assert!(
                        !bytes.windows(needle.len()).any(|w| w == needle),
                        "a client secret is stored in plaintext in casebook.db{suffix}"
                    );
                }
            }
            assert!(files >= 2, "the database and its WAL were read");
        } else {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&app.db.url).await.expect("connect");
            let rows: Vec<(String,)> = sqlx::query_as(
                "SELECT row_to_json(t)::text FROM (SELECT * FROM applications) t \
             UNION ALL SELECT row_to_json(t)::text FROM (SELECT * FROM audit_events) t",
            )
            .fetch_all(&mut conn)
            .await
            .expect("dump");
            assert!(!rows.is_empty());
            for (row,) in rows {
                for secret in [&first, &second] {
                    assert!(!row.contains(secret.as_str()), "a client secret is stored in plaintext");
                    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
                    assert!(!row.contains(&hex), "a client secret is stored in plaintext (bytea)");
                }
            }
        }
    }
);

both_backends!(
    the_audit_trail_filters_by_action_family_record_and_actor,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (first, _, _) = app.partner(&admin, "Audited One", &["engage-worker"]).await;
        let (second, _, _) = app.partner(&admin, "Audited Two", &["engage-worker"]).await;
        let first_id = id_of(&first);
        expect(
            app.patch_json(&format!("{APPS}/{first_id}"), &admin, &json!({"enabled": false}))
                .await,
            200,
        )
        .await;
        app.create_user(&admin, "audited@agency.org", "Audited User", &["auditor"])
            .await;
        let events = |query: &'static str| {
            let app = &app;
            let admin = admin.clone();
            async move {
                let page = expect(app.get(&format!("/admin/v1/audit-events?{query}"), &admin).await, 200).await;
                page["items"].as_array().expect("items").clone()
            }
        };
        let actions = |items: &[Value]| {
            items
                .iter()
                .map(|e| e["action"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };

        let disabled = events("action=application.disabled").await;
        assert_eq!(actions(&disabled), ["application.disabled"]);
        let family = events("action=application.").await;
        assert!(
            family.len() >= 3 && actions(&family).iter().all(|a| a.starts_with("application.")),
            "{family:?}"
        );
        let users = events("action=user.").await;
        assert!(
            !users.is_empty() && actions(&users).iter().all(|a| a.starts_with("user.")),
            "{users:?}"
        );
        let about_first = app
            .get(&format!("/admin/v1/audit-events?target_id={first_id}"), &admin)
            .await;
        let about_first = expect(about_first, 200).await["items"].as_array().unwrap().clone();
        // `partner` registers, then reveals the secret for the test.
        assert_eq!(
            actions(&about_first),
            [
                "application.disabled",
                "application.secret_revealed",
                "application.registered"
            ],
            "newest first"
        );
        let second_id = id_of(&second);
        assert!(about_first.iter().all(|e| e["target_id"] != second_id.as_str()));
        let by_admin = events("action=application.registered&limit=100").await;
        let admin_id = by_admin[0]["actor"]["id"].as_str().unwrap().to_owned();
        let mine = app
            .get(
                &format!("/admin/v1/audit-events?actor_id={admin_id}&action=application.registered"),
                &admin,
            )
            .await;
        assert_eq!(expect(mine, 200).await["items"].as_array().unwrap().len(), 2);
        // A page of a filtered trail continues that filter.
        let page = expect(
            app.get("/admin/v1/audit-events?action=application.&limit=1", &admin)
                .await,
            200,
        )
        .await;
        let cursor = page["next_cursor"].as_str().expect("a next page").to_owned();
        let next = app
            .get(
                &format!("/admin/v1/audit-events?action=application.&limit=1&cursor={cursor}"),
                &admin,
            )
            .await;
        let next = expect(next, 200).await;
        assert!(next["items"][0]["action"].as_str().unwrap().starts_with("application."));
        assert_ne!(next["items"][0]["id"], page["items"][0]["id"]);

        for bad in [
            "action=user",
            "action=.user",
            "action=a.b.c",
            "action=User.",
            "target_id=%25",
            "actor_id=",
            "action=a%27b.",
        ] {
            let r = app.get(&format!("/admin/v1/audit-events?{bad}"), &admin).await;
            assert_eq!(r.status(), 422, "{bad}");
        }
    }
);
