//! The audit trail as evidence (the contract's "The audit trail as
//! evidence"): each event says what happened, what changed, to what by
//! name, from where and in which request; sign-ins and sign-outs are in it;
//! it filters by time and by a search, and exports in full.

use casebook_tests::*;
use serde_json::{Value, json};

const AUDIT: &str = "/admin/v1/audit-events";

async fn events(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let page = expect(app.get(&format!("{AUDIT}?limit=100&{query}"), admin).await, 200).await;
    page["items"].as_array().expect("items").clone()
}

/// The newest event with `action` about `target`.
async fn latest(app: &TestApp, admin: &str, action: &str, target: &str) -> Value {
    events(app, admin, &format!("action={action}&target_id={target}"))
        .await
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {action} event about {target}"))
}

async fn role_id(app: &TestApp, admin: &str, name: &str) -> String {
    let roles = expect(app.get("/admin/v1/roles?limit=100", admin).await, 200).await;
    roles["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["name"] == name)
        .map(id_of)
        .unwrap_or_else(|| panic!("no role {name}"))
}

both_backends!(
    an_edit_that_resends_enabled_is_a_change_and_says_what_changed,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let readers = app.create_role(&admin, "Readers", &["intake:view"]).await;
        let writers = app.create_role(&admin, "Writers", &["intake:edit"]).await;
        let registered = app
            .register(
                &admin,
                "Intake Bridge",
                "bridge@partner.example.org",
                &[&id_of(&readers)],
            )
            .await;
        let id = id_of(&registered);
        // What the console's Edit sends: every field, `enabled: true` among them.
        expect(
            app.patch_json(
                &format!("{APPS}/{id}"),
                &admin,
                &json!({"enabled": true, "roles": [id_of(&writers)], "token_quota_per_hour": 500}),
            )
            .await,
            200,
        )
        .await;
        assert!(events(&app, &admin, "action=application.enabled").await.is_empty());
        let changed = latest(&app, &admin, "application.changed", &id).await;
        assert_eq!(changed["target_name"], "Intake Bridge");
        assert_eq!(changed["tenant"], "root");
        assert_eq!(
            changed["changes"],
            json!({
                "roles": {"from": ["Readers"], "to": ["Writers"]},
                "token_quota_per_hour": {"from": null, "to": 500},
            })
        );

        // Disabling is a disable, once; disabling again moves nothing.
        let disable = json!({"enabled": false});
        expect(app.patch_json(&format!("{APPS}/{id}"), &admin, &disable).await, 200).await;
        expect(app.patch_json(&format!("{APPS}/{id}"), &admin, &disable).await, 200).await;
        let disabled = events(&app, &admin, &format!("action=application.disabled&target_id={id}")).await;
        assert_eq!(disabled.len(), 1, "{disabled:?}");
        assert_eq!(disabled[0]["changes"], json!({"enabled": {"from": true, "to": false}}));
        let again = latest(&app, &admin, "application.changed", &id).await;
        assert_eq!(again["changes"], json!({}));
    }
);

both_backends!(
    a_users_roles_password_and_email_changes_are_recorded_as_such,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let administrator = role_id(&app, &admin, "Administrator").await;
        let user = app.create_user(&admin, "dana@agency.org", "Dana", &[]).await;
        let id = id_of(&user);
        expect(
            app.patch_json(
                &format!("/admin/v1/users/{id}"),
                &admin,
                &json!({"roles": [administrator]}),
            )
            .await,
            200,
        )
        .await;
        let promoted = latest(&app, &admin, "user.changed", &id).await;
        assert_eq!(
            promoted["changes"],
            json!({"roles": {"from": [], "to": ["Administrator"]}})
        );
        assert_eq!(promoted["target_name"], "dana@agency.org");

        let new_password = "a different long password";
        expect(
            app.patch_json(
                &format!("/admin/v1/users/{id}"),
                &admin,
                &json!({"password": new_password, "email": "dana.r@agency.org"}),
            )
            .await,
            200,
        )
        .await;
        let changed = latest(&app, &admin, "user.changed", &id).await;
        assert_eq!(
            changed["changes"],
            json!({
                "email": {"from": "dana@agency.org", "to": "dana.r@agency.org"},
                "password": {"changed": true},
            })
        );
        let trail = events(&app, &admin, "").await;
        assert!(!Value::from(trail).to_string().contains(new_password));
    }
);

both_backends!(a_role_gaining_a_permission_says_which, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let role = app
        .create_role(&admin, "Helpdesk", &["intake:view", "intake:edit"])
        .await;
    let id = id_of(&role);
    expect(
        app.patch_json(
            &format!("/admin/v1/roles/{id}"),
            &admin,
            &json!({"permissions": ["intake:view", "admin:edit"]}),
        )
        .await,
        200,
    )
    .await;
    let changed = latest(&app, &admin, "role.changed", &id).await;
    assert_eq!(
        changed["changes"],
        json!({"permissions": {"added": ["admin:edit"], "removed": ["intake:edit"]}})
    );
    assert_eq!(changed["target_name"], "Helpdesk");
    expect(app.delete(&format!("/admin/v1/roles/{id}"), &admin).await, 204).await;
    assert_eq!(
        latest(&app, &admin, "role.removed", &id).await["target_name"],
        "Helpdesk"
    );
});

both_backends!(
    sign_ins_refusals_and_sign_outs_carry_their_source_and_request,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let user = app.create_user(&admin, "lee@agency.org", "Lee", &[]).await;
        let id = id_of(&user);
        let sign_in = |password: &'static str, request_id: &'static str| {
            app.http
                .post(app.url("/admin/v1/sessions"))
                .header("X-Request-Id", request_id)
                .json(&json!({"email": "lee@agency.org", "password": password}))
                .send()
        };
        let refused = sign_in("not the password at all", "req-refused-1").await.expect("send");
        assert_eq!(refused.status(), 401);
        // Nobody's account: nothing to record.
        let nobody = app
            .http
            .post(app.url("/admin/v1/sessions"))
            .json(&json!({"email": "nobody@agency.org", "password": "whatever it is"}))
            .send()
            .await
            .expect("send");
        assert_eq!(nobody.status(), 401);
        let created = sign_in(USER_PASSWORD, "req-signed-in-1").await.expect("send");
        let session = expect(created, 201).await["token"].as_str().expect("token").to_owned();
        expect(app.delete("/admin/v1/sessions/current", &session).await, 204).await;

        let created = latest(&app, &admin, "session.created", &id).await;
        assert_eq!(created["request_id"], "req-signed-in-1");
        assert_eq!(created["source"], "127.0.0.1");
        assert_eq!(created["actor"]["id"], id.as_str());
        assert_eq!(created["target_name"], "lee@agency.org");
        assert_eq!(
            latest(&app, &admin, "session.ended", &id).await["actor"]["id"],
            id.as_str()
        );
        // The refusal is written after the answer: wait for it.
        let mut refusal = Vec::new();
        for _ in 0..50 {
            refusal = events(&app, &admin, &format!("action=user.sign_in_refused&target_id={id}")).await;
            if !refusal.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(refusal.len(), 1, "{refusal:?}");
        assert_eq!(refusal[0]["actor"]["id"], id.as_str());
        assert_eq!(refusal[0]["request_id"], "req-refused-1");
        let everything = Value::from(events(&app, &admin, "").await).to_string();
        assert!(!everything.contains("not the password at all"));
        assert!(!everything.contains("nobody@agency.org"));
    }
);

both_backends!(
    the_trail_filters_by_time_and_search_and_exports_in_full,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let readers = app.create_role(&admin, "Readers", &["intake:view"]).await;
        let (partner, client_id, _) = app.partner(&admin, "Benefits Sync", &[&id_of(&readers)]).await;
        let partner_id = id_of(&partner);
        app.create_role(&admin, "=HYPERLINK(\"http://evil.example\")", &["intake:view"])
            .await;

        // A Client ID finds its application's events; a name finds its own.
        let by_client_id = events(&app, &admin, &format!("search={client_id}")).await;
        assert!(!by_client_id.is_empty());
        assert!(
            by_client_id.iter().all(|e| e["target_id"] == partner_id.as_str()),
            "{by_client_id:?}"
        );
        let by_name = events(&app, &admin, "search=benefits%20SYNC").await;
        assert_eq!(by_name.len(), by_client_id.len());
        assert!(events(&app, &admin, "search=%25").await.is_empty(), "a % is literal");

        // Time: everything is before a minute from now, nothing after it.
        let later = "2100-01-01T00:00:00Z";
        assert!(events(&app, &admin, &format!("since={later}")).await.is_empty());
        let all = events(&app, &admin, "").await;
        assert_eq!(events(&app, &admin, &format!("until={later}")).await.len(), all.len());
        for bad in [
            "since=yesterday",
            "until=2026-13-01T00:00:00Z",
            "since=2100-01-01T00:00:00Z&until=2000-01-01T00:00:00Z",
        ] {
            let p = problem(app.get(&format!("{AUDIT}?{bad}"), &admin).await, 422).await;
            assert_eq!(p["errors"].as_array().map(Vec::len), Some(1), "{bad}: {p}");
        }

        // The export: every event, as a download.
        let r = app.get(&format!("{AUDIT}/export?format=jsonl"), &admin).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            header(&r, reqwest::header::CONTENT_DISPOSITION),
            "attachment; filename=\"audit-events.jsonl\""
        );
        let body = r.text().await.expect("body");
        let lines: Vec<Value> = body
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        assert_eq!(lines.len(), events(&app, &admin, "").await.len());
        let r = app
            .get(&format!("{AUDIT}/export?format=csv&search=HYPERLINK"), &admin)
            .await;
        assert_eq!(r.status(), 200);
        let csv = r.text().await.expect("body");
        let rows: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert!(rows[0].starts_with("id,at,tenant,actor_kind"), "{csv}");
        assert_eq!(rows.len(), 2, "{csv}");
        assert!(
            rows[1].contains("\"'=HYPERLINK(\"\"http://evil.example\"\")\""),
            "{csv}"
        );
        // Query strings that do not parse are 400, as everywhere in the API.
        let p = problem(app.get(&format!("{AUDIT}/export?format=xml"), &admin).await, 400).await;
        assert!(p.to_string().contains("format"), "{p}");
        let p = problem(
            app.get(&format!("{AUDIT}/export?format=csv&serach=x"), &admin).await,
            400,
        )
        .await;
        assert!(p.to_string().contains("serach"), "{p}");
    }
);
