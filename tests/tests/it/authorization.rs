//! Authorization you can trust: a caller hands out only what it holds, an
//! application cannot take over a person's account, and downgrades bite on
//! live tokens. Each escalation here was reproducible before the grant rule.

use casebook_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, APPS, TestApp, USER_PASSWORD, both_backends, expect, id_of};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

async fn status_and_body(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Asserts a 403 from the grant rule naming exactly `missing`.
async fn refused(r: reqwest::Response, missing: &[&str]) {
    let (status, body) = status_and_body(r).await;
    assert_eq!(status, 403, "{body}");
    let got: BTreeSet<&str> = body["missing_permissions"]
        .as_array()
        .unwrap_or_else(|| panic!("missing_permissions in {body}"))
        .iter()
        .map(|p| p.as_str().expect("a permission"))
        .collect();
    assert_eq!(got, missing.iter().copied().collect(), "{body}");
}

async fn role(app: &TestApp, admin: &str, name: &str, permissions: &[&str]) -> String {
    id_of(&app.create_role(admin, name, permissions).await)
}

async fn user(app: &TestApp, admin: &str, email: &str, roles: &[&str]) -> String {
    id_of(&app.create_user(admin, email, email, roles).await)
}

/// The two kinds of caller the spec names: a signed-in user and an
/// application token, each holding exactly the role `role_id`.
async fn callers(app: &TestApp, admin: &str, label: &str, role_id: &str) -> Vec<(String, String, String)> {
    let email = format!("{label}@agency.org");
    let user_id = user(app, admin, &email, &[role_id]).await;
    let session = app.sign_in(&email, USER_PASSWORD).await;
    let (view, client_id, secret) = app.partner(admin, &format!("{label} app"), &[role_id]).await;
    let token = app.access_token(&client_id, &secret).await;
    vec![
        ("user".into(), session, user_id),
        ("application".into(), token, view["id"].as_str().expect("id").to_owned()),
    ]
}

fn all_but(held: &[&str]) -> Vec<String> {
    casebook_domain::PermissionSet::all()
        .to_strings()
        .into_iter()
        .filter(|p| !held.contains(&p.as_str()))
        .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

both_backends!(admin_create_cannot_make_an_administrator, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let creator = role(&app, &admin, "Creator", &["admin:create"]).await;
    let everything_else = all_but(&["admin:create"]);
    for (kind, token, _) in callers(&app, &admin, "creator", &creator).await {
        refused(
            app.post_json(
                "/admin/v1/users",
                &token,
                &json!({"email": format!("boss-{kind}@agency.org"), "name": "Boss", "password": USER_PASSWORD,
                        "roles": ["administrator"]}),
            )
            .await,
            &strs(&everything_else),
        )
        .await;
        refused(
            app.post_json(
                "/admin/v1/roles",
                &token,
                &json!({"name": format!("All admin {kind}"),
                        "permissions": ["admin:view", "admin:create", "admin:edit", "admin:delete"]}),
            )
            .await,
            &["admin:view", "admin:edit", "admin:delete"],
        )
        .await;
        refused(
            app.post_json(
                APPS,
                &token,
                &json!({"name": format!("Skeleton key {kind}"), "email": format!("key-{kind}@x.example.org"),
                        "roles": ["administrator"]}),
            )
            .await,
            &strs(&everything_else),
        )
        .await;
        // What it holds, it may hand out.
        expect(
            app.post_json(
                "/admin/v1/users",
                &token,
                &json!({"email": format!("peer-{kind}@agency.org"), "name": "Peer", "password": USER_PASSWORD,
                        "roles": [creator]}),
            )
            .await,
            201,
        )
        .await;
    }
    // Nothing refused was written.
    let users = app.get("/admin/v1/users?limit=100", &admin).await.text().await.unwrap();
    assert!(!users.contains("boss-"), "{users}");
    let apps = app.get(APPS, &admin).await.text().await.unwrap();
    assert!(!apps.contains("Skeleton key"), "{apps}");
});

both_backends!(admin_edit_cannot_take_over_the_install, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let editor = role(&app, &admin, "Editor", &["admin:edit"]).await;
    let root_id = {
        let users: Value = app.get("/admin/v1/users", &admin).await.json().await.unwrap();
        users["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == ADMIN_EMAIL)
            .expect("root")["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let everything_else = all_but(&["admin:edit"]);
    for (kind, token, own_id) in callers(&app, &admin, "editor", &editor).await {
        // Raise itself.
        let own = if kind == "user" {
            format!("/admin/v1/users/{own_id}")
        } else {
            format!("{APPS}/{own_id}")
        };
        refused(
            app.patch_json(&own, &token, &json!({"roles": ["administrator"]})).await,
            &strs(&everything_else),
        )
        .await;
        // Widen a role it holds.
        refused(
            app.patch_json(
                &format!("/admin/v1/roles/{editor}"),
                &token,
                &json!({"permissions": ["admin:edit", "admin:delete"]}),
            )
            .await,
            &["admin:delete"],
        )
        .await;
        // Take over the first administrator: password, address, roles.
        for change in [
            json!({"password": "a password the attacker knows"}),
            json!({"email": format!("attacker-{kind}@agency.org")}),
            json!({"name": "Not root"}),
        ] {
            let r = app
                .patch_json(&format!("/admin/v1/users/{root_id}"), &token, &change)
                .await;
            assert_eq!(r.status(), 403, "{kind} {change}: {}", r.text().await.unwrap());
        }
        // Disable or rename an application more powerful than itself.
        let (strong, _, _) = app.partner(&admin, &format!("Strong {kind}"), &["administrator"]).await;
        let strong_id = strong["id"].as_str().unwrap();
        refused(
            app.patch_json(&format!("{APPS}/{strong_id}"), &token, &json!({"enabled": false}))
                .await,
            &strs(&everything_else),
        )
        .await;
    }
    // The real administrator still signs in with the real password.
    app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let role: Value = app
        .get(&format!("/admin/v1/roles/{editor}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(role["permissions"], json!(["admin:edit"]));
});

both_backends!(
    admin_delete_cannot_remove_what_it_could_not_create,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let remover = role(&app, &admin, "Remover", &["admin:delete"]).await;
        let (_, session, _) = callers(&app, &admin, "remover", &remover).await.remove(0);
        let (victim, _, _) = app.partner(&admin, "Victim", &["engage-worker"]).await;
        refused(
            app.delete(&format!("{APPS}/{}", victim["id"].as_str().unwrap()), &session)
                .await,
            &["engage:view", "engage:create"],
        )
        .await;
        let r = app
            .get(&format!("{APPS}/{}", victim["id"].as_str().unwrap()), &admin)
            .await;
        assert_eq!(r.status(), 200);
    }
);

both_backends!(
    applications_cannot_set_a_persons_password_or_address,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let worker = user(&app, &admin, "worker@agency.org", &["engage-worker"]).await;
        let (_, client_id, secret) = app.partner(&admin, "Directory sync", &["administrator"]).await;
        let token = app.access_token(&client_id, &secret).await;
        for change in [
            json!({"password": "a password the app chose"}),
            json!({"email": "other@agency.org"}),
        ] {
            let r = app
                .patch_json(&format!("/admin/v1/users/{worker}"), &token, &change)
                .await;
            let (status, body) = status_and_body(r).await;
            assert_eq!(status, 403, "{change}: {body}");
        }
        // Other fields are within its grant.
        let r = app
            .patch_json(&format!("/admin/v1/users/{worker}"), &token, &json!({"name": "Worker"}))
            .await;
        assert_eq!(r.status(), 200);
        app.sign_in("worker@agency.org", USER_PASSWORD).await;
    }
);

both_backends!(
    secrets_of_stronger_applications_stay_hidden,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let editor = role(&app, &admin, "Secret keeper", &["admin:view", "admin:edit"]).await;
        user(&app, &admin, "keeper@agency.org", &[&editor]).await;
        let session = app.sign_in("keeper@agency.org", USER_PASSWORD).await;
        let (strong, _, _) = app.partner(&admin, "Root integration", &["administrator"]).await;
        let id = strong["id"].as_str().unwrap();
        for action in ["reveal", "rotate"] {
            refused(
                app.post_json(
                    &format!("{APPS}/{id}/client-secret/{action}"),
                    &session,
                    &json!({"password": USER_PASSWORD}),
                )
                .await,
                &strs(&all_but(&["admin:view", "admin:edit"])),
            )
            .await;
        }
    }
);

/// Polls `check` until it holds or `limit` passes; returns how long it took.
async fn within(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

both_backends!(
    a_role_taken_away_stops_working_on_live_tokens,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let reader = role(&app, &admin, "Case reader", &["engage:view"]).await;
        let writer = role(&app, &admin, "Case writer", &["engage:view", "engage:create"]).await;
        let (view, client_id, secret) = app.partner(&admin, "Downgraded", &[&reader, &writer]).await;
        let token = app.access_token(&client_id, &secret).await;
        let create = async || {
            app.post_json("/api/v1/engage/cases", &token, &json!({"title": "Referral"}))
                .await
                .status()
                .as_u16()
        };
        assert_eq!(create().await, 201);
        let r = app
            .patch_json(
                &format!("{APPS}/{}", view["id"].as_str().unwrap()),
                &admin,
                &json!({"roles": [reader]}),
            )
            .await;
        assert_eq!(r.status(), 200);
        within(Duration::from_secs(5), async || create().await == 403)
            .await
            .expect("the removed role is refused on the live token within 5 s");
        let me: Value = app.get("/api/v1/me", &token).await.json().await.unwrap();
        assert_eq!(me["permissions"], json!(["engage:view"]), "{me}");
        // A permission taken from a role bites the same way.
        let r = app
            .patch_json(
                &format!("/admin/v1/roles/{reader}"),
                &admin,
                &json!({"permissions": ["intake:view"]}),
            )
            .await;
        assert_eq!(r.status(), 200);
        within(Duration::from_secs(5), async || {
            app.get("/api/v1/engage/cases", &token).await.status() == 403
        })
        .await
        .expect("the narrowed role is refused within 5 s");
        let introspected: Value = app
            .http
            .post(app.url("/oauth2/introspect"))
            .basic_auth(&client_id, Some(&secret))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(introspected["active"], true);
        assert_eq!(
            introspected["scope"], "",
            "neither role grants engage:view now: {introspected}"
        );
    }
);

both_backends!(rotation_without_grace_ends_live_tokens, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let (view, client_id, secret) = app.partner(&admin, "Leaky", &["engage-worker"]).await;
    let id = view["id"].as_str().unwrap();
    let before = app.access_token(&client_id, &secret).await;
    let (graceful, _, graceful_secret) = app.partner(&admin, "Careful", &["engage-worker"]).await;
    let graceful_id = graceful["id"].as_str().unwrap();
    let careful_token = app
        .access_token(graceful["client_id"].as_str().unwrap(), &graceful_secret)
        .await;
    assert_eq!(app.get("/api/v1/me", &before).await.status(), 200);
    for (app_id, grace) in [(id, 0), (graceful_id, 600)] {
        let r = app
            .post_json(
                &format!("{APPS}/{app_id}/client-secret/rotate"),
                &admin,
                &json!({"password": ADMIN_PASSWORD, "grace_period_seconds": grace}),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        app.get("/api/v1/me", &before).await.status(),
        401,
        "the leaked secret's token"
    );
    assert_eq!(
        app.get("/api/v1/me", &careful_token).await.status(),
        200,
        "a planned rotation"
    );
});

both_backends!(
    introspection_shows_contents_only_to_the_owner_or_a_resource_server,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, owner_id, owner_secret) = app.partner(&admin, "Owner", &["engage-worker"]).await;
        let (_, other_id, other_secret) = app.partner(&admin, "Nosy", &["engage-worker"]).await;
        let (_, rs_id, rs_secret) = app.partner(&admin, "Gateway", &["auditor"]).await;
        let token = app.access_token(&owner_id, &owner_secret).await;
        let introspect = async |id: &str, secret: &str| -> Value {
            app.http
                .post(app.url("/oauth2/introspect"))
                .basic_auth(id, Some(secret))
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        };
        assert_eq!(introspect(&other_id, &other_secret).await, json!({"active": false}));
        let own = introspect(&owner_id, &owner_secret).await;
        assert_eq!(own["active"], true);
        assert_eq!(own["scope"], "engage:view engage:create");
        let gateway = introspect(&rs_id, &rs_secret).await;
        assert_eq!(gateway["active"], true, "Auditor holds admin:view");
        assert_eq!(gateway["client_id"], owner_id.as_str());
    }
);
