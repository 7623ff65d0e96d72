//! the contract ("Signing in strongly"): a second factor (TOTP and recovery
//! codes) at sign-in and for secrets, the tenant's requirement of one,
//! disabling a person, and the last sign-in.

use casebook_server::totp::code_for_base32;
use casebook_tests::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Spawn, TestApp, USER_PASSWORD, both_backends, expect, field_codes, id_of, pairs,
    problem,
};
use serde_json::{Value, json};
use std::time::Duration;

const TOTP: &str = "/admin/v1/users/me/totp";

fn now_secs(app: &TestApp) -> u64 {
    (app.running.state.db().now_micros() / 1_000_000) as u64
}

/// The code the person's app shows now, by the server's clock.
fn code_now(app: &TestApp, secret: &str) -> String {
    code_for_base32(secret, now_secs(app)).expect("a code")
}

/// Enrols TOTP for the session's person: the base32 secret and the
/// recovery codes.
pub(crate) async fn enrol(app: &TestApp, session: &str, password: &str) -> (String, Vec<String>) {
    let begun = expect(app.post_json(TOTP, session, &json!({"password": password})).await, 201).await;
    let secret = begun["secret"].as_str().unwrap().to_owned();
    let confirmed = app
        .post_json(
            &format!("{TOTP}/confirm"),
            session,
            &json!({"code": code_now(app, &secret)}),
        )
        .await;
    let codes = expect(confirmed, 200).await["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

async fn sign_in_raw(app: &TestApp, body: &Value) -> reqwest::Response {
    app.http
        .post(app.url("/admin/v1/sessions"))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn second_step(app: &TestApp, body: &Value) -> reqwest::Response {
    app.http
        .post(app.url("/admin/v1/sessions/mfa"))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A 401 that asks for the second step: its token.
async fn mfa_token(r: reqwest::Response) -> String {
    let p = problem(r, 401).await;
    assert_eq!(p["mfa_required"], true, "{p}");
    p["mfa_token"].as_str().expect("an mfa_token").to_owned()
}

both_backends!(
    enrolment_then_every_sign_in_takes_a_code_once,
    spawn = Spawn::with_manual_clock(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let begun = expect(
            app.post_json(TOTP, &admin, &json!({"password": ADMIN_PASSWORD})).await,
            201,
        )
        .await;
        let secret = begun["secret"].as_str().unwrap().to_owned();
        let uri = begun["otpauth_uri"].as_str().unwrap();
        assert!(uri.starts_with("otpauth://totp/") && uri.contains(&secret), "{uri}");
        assert!(begun["qr_svg"].as_str().unwrap().contains("<svg"));
        // Until a code confirms it, nothing changes.
        let r = sign_in_raw(&app, &json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
        assert_eq!(r.status(), 201);
        let wrong = app
            .post_json(&format!("{TOTP}/confirm"), &admin, &json!({"code": "000000"}))
            .await;
        assert_eq!(problem(wrong, 422).await["errors"][0]["field"], "code");
        let r = app
            .post_json(
                &format!("{TOTP}/confirm"),
                &admin,
                &json!({"code": code_now(&app, &secret)}),
            )
            .await;
        let codes: Vec<String> = serde_json::from_value(expect(r, 200).await["recovery_codes"].clone()).unwrap();
        assert_eq!(codes.len(), 10);
        // Enrolled twice is refused: remove first.
        let again = app.post_json(TOTP, &admin, &json!({"password": ADMIN_PASSWORD})).await;
        assert_eq!(again.status(), 409);

        // The password alone now asks for the second step.
        let token =
            mfa_token(sign_in_raw(&app, &json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await).await;
        // The code the enrolment was confirmed with is spent.
        let reused = second_step(&app, &json!({"mfa_token": token, "totp_code": code_now(&app, &secret)})).await;
        let token = mfa_token(reused).await;
        app.advance_clock(Duration::from_secs(30));
        let code = code_now(&app, &secret);
        let r = second_step(&app, &json!({"mfa_token": token, "totp_code": code})).await;
        let session = expect(r, 201).await["token"].as_str().unwrap().to_owned();
        assert_eq!(app.get("/admin/v1/users", &session).await.status(), 200);
        // The token was single use.
        let r = second_step(&app, &json!({"mfa_token": token, "totp_code": code})).await;
        assert_eq!(problem(r, 401).await.get("mfa_required"), None);
        // The same code a second time, in one step, is refused too.
        let r = sign_in_raw(
            &app,
            &json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "totp_code": code}),
        )
        .await;
        mfa_token(r).await;
        // A recovery code works once, typed as people type it.
        let typed = codes[0].to_uppercase().replace('-', " ");
        let body = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "recovery_code": typed});
        assert_eq!(sign_in_raw(&app, &body).await.status(), 201);
        mfa_token(sign_in_raw(&app, &body).await).await;
        // A wrong password never reaches the second step.
        let r = sign_in_raw(
            &app,
            &json!({"email": ADMIN_EMAIL, "password": "not the password at all"}),
        )
        .await;
        assert_eq!(problem(r, 401).await.get("mfa_token"), None);
        // A half-finished sign-in lasts five minutes.
        let token =
            mfa_token(sign_in_raw(&app, &json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await).await;
        app.advance_clock(Duration::from_secs(301));
        let r = second_step(&app, &json!({"mfa_token": token, "totp_code": code_now(&app, &secret)})).await;
        assert_eq!(problem(r, 401).await.get("mfa_required"), None);

        // No code, recovery code or secret reaches the audit trail.
        let trail = app
            .get("/admin/v1/audit-events?limit=100", &session)
            .await
            .text()
            .await
            .unwrap();
        for secret_text in codes
            .iter()
            .map(String::as_str)
            .chain([secret.as_str(), token.as_str()])
        {
            assert!(!trail.contains(secret_text), "{secret_text} in the trail");
        }
        assert!(trail.contains("user.second_factor_added") && trail.contains("user.recovery_code_used"));
    }
);

both_backends!(
    revealing_and_rotating_ask_for_a_code_once_enrolled,
    spawn = Spawn::with_manual_clock(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let partner = app
            .register(&admin, "Coded Partner", "coded@partner.example.org", &["engage-worker"])
            .await;
        let id = partner["id"].as_str().unwrap();
        let (secret, codes) = enrol(&app, &admin, ADMIN_PASSWORD).await;
        let reveal = format!("/admin/v1/external-applications/{id}/client-secret/reveal");
        let r = app
            .post_json(&reveal, &admin, &json!({"password": ADMIN_PASSWORD}))
            .await;
        assert!(problem(r, 403).await["detail"].as_str().unwrap().contains("totp_code"));
        let r = app
            .post_json(
                &reveal,
                &admin,
                &json!({"password": ADMIN_PASSWORD, "totp_code": "123456"}),
            )
            .await;
        assert!(
            problem(r, 403).await["detail"]
                .as_str()
                .unwrap()
                .contains("not accepted")
        );
        app.advance_clock(Duration::from_secs(30));
        let code = code_now(&app, &secret);
        let r = app
            .post_json(&reveal, &admin, &json!({"password": ADMIN_PASSWORD, "totp_code": code}))
            .await;
        assert!(expect(r, 200).await["client_secret"].is_string());
        let rotate = format!("/admin/v1/external-applications/{id}/client-secret/rotate");
        let r = app
            .post_json(
                &rotate,
                &admin,
                &json!({"password": ADMIN_PASSWORD, "recovery_code": codes[1]}),
            )
            .await;
        assert_eq!(r.status(), 200);
        // Removing the app asks for a code too; then the password is enough.
        let r = app
            .delete_json(TOTP, &admin, &json!({"password": ADMIN_PASSWORD}))
            .await;
        assert_eq!(r.status(), 403);
        let r = app
            .delete_json(
                TOTP,
                &admin,
                &json!({"password": ADMIN_PASSWORD, "recovery_code": codes[2]}),
            )
            .await;
        assert_eq!(r.status(), 204);
        let r = app
            .post_json(&reveal, &admin, &json!({"password": ADMIN_PASSWORD}))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            sign_in_raw(&app, &json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
                .await
                .status(),
            201
        );
    }
);

both_backends!(
    a_tenant_can_require_administrators_to_enrol,
    spawn = Spawn::with_manual_clock(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let viewers = id_of(&app.create_role(&admin, "Viewers", &["admin:view"]).await);
        let workers = id_of(&app.create_role(&admin, "Workers", &["engage:view"]).await);
        app.create_user(&admin, "viewer@agency.org", "Viewer", &[&viewers])
            .await;
        app.create_user(&admin, "worker@agency.org", "Worker", &[&workers])
            .await;
        let require = json!({"require_mfa_for_admins": true});
        let r = app.patch_json("/admin/v1/settings", &admin, &require).await;
        assert!(problem(r, 409).await["detail"].as_str().unwrap().contains("yourself"));
        enrol(&app, &admin, ADMIN_PASSWORD).await;
        let r = app.patch_json("/admin/v1/settings", &admin, &require).await;
        assert_eq!(expect(r, 200).await, require);
        assert_eq!(
            expect(app.get("/admin/v1/settings", &admin).await, 200).await["require_mfa_for_admins"],
            true
        );
        // Signed in, an administrator without a second factor can only enrol.
        let viewer = app.sign_in("viewer@agency.org", USER_PASSWORD).await;
        let p = problem(app.get("/admin/v1/users", &viewer).await, 403).await;
        assert_eq!(p["mfa_enrolment_required"], true, "{p}");
        enrol(&app, &viewer, USER_PASSWORD).await;
        assert_eq!(app.get("/admin/v1/users", &viewer).await.status(), 200);
        // Nobody else is asked.
        let worker = app.sign_in("worker@agency.org", USER_PASSWORD).await;
        assert_eq!(app.get("/api/v1/engage/cases", &worker).await.status(), 200);
        // The trail records who required it.
        let trail = expect(
            app.get("/admin/v1/audit-events?action=settings.changed", &admin).await,
            200,
        )
        .await;
        assert_eq!(
            trail["items"][0]["changes"]["require_mfa_for_admins"],
            json!({"from": false, "to": true})
        );
        // Removing one's only second factor is refused while it is required.
        let r = app
            .delete_json(
                TOTP,
                &viewer,
                &json!({"password": USER_PASSWORD, "totp_code": "000000"}),
            )
            .await;
        assert_eq!(r.status(), 403);
    }
);

both_backends!(
    disabled_people_cannot_sign_in_and_lose_their_sessions,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let user = app
            .create_user(&admin, "leaving@agency.org", "Leaving", &["administrator"])
            .await;
        let id = user["id"].as_str().unwrap();
        assert_eq!(user["enabled"], true);
        assert_eq!(user["last_sign_in_at"], Value::Null);
        let session = app.sign_in("leaving@agency.org", USER_PASSWORD).await;
        let seen = expect(app.get(&format!("/admin/v1/users/{id}"), &admin).await, 200).await;
        assert!(seen["last_sign_in_at"].is_string(), "{seen}");
        let r = app
            .patch_json(&format!("/admin/v1/users/{id}"), &admin, &json!({"enabled": false}))
            .await;
        assert_eq!(expect(r, 200).await["enabled"], false);
        assert_eq!(app.get("/admin/v1/users", &session).await.status(), 401);
        let r = sign_in_raw(&app, &json!({"email": "leaving@agency.org", "password": USER_PASSWORD})).await;
        assert!(problem(r, 401).await["detail"].as_str().unwrap().contains("disabled"));
        // Nobody disables themselves.
        let me = expect(app.get("/api/v1/me", &admin).await, 200).await;
        let own = app
            .patch_json(
                &format!("/admin/v1/users/{}", me["id"].as_str().unwrap()),
                &admin,
                &json!({"enabled": false}),
            )
            .await;
        assert_eq!(own.status(), 409);
        let r = app
            .patch_json(&format!("/admin/v1/users/{id}"), &admin, &json!({"enabled": true}))
            .await;
        assert_eq!(expect(r, 200).await["enabled"], true);
        app.sign_in("leaving@agency.org", USER_PASSWORD).await;
        let trail = expect(
            app.get(
                &format!("/admin/v1/audit-events?target_id={id}&action=user.changed"),
                &admin,
            )
            .await,
            200,
        )
        .await;
        let moves: Vec<&Value> = trail["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["changes"]["enabled"])
            .collect();
        assert_eq!(
            moves,
            [&json!({"from": false, "to": true}), &json!({"from": true, "to": false})]
        );
    }
);

both_backends!(weak_passwords_are_refused_saying_why, |app: TestApp| async move {
    let admin = app.admin_token().await;
    for weak in [
        " ".repeat(12),
        "\u{200b}".repeat(12),
        "aaaaaaaaaaaa".to_owned(),
        "123456789012".to_owned(),
        "passwordpassword".to_owned(),
        "pat.jones@agency.org".to_owned(),
    ] {
        let r = app
            .post_json(
                "/admin/v1/users",
                &admin,
                &json!({"email": "pat.jones@agency.org", "name": "Pat", "password": weak, "roles": []}),
            )
            .await;
        let p = problem(r, 422).await;
        assert_eq!(p["errors"][0]["field"], "password", "{weak:?}: {p}");
        assert_eq!(p["errors"][0]["code"], "weak_password", "{weak:?}: {p}");
        assert!(!p["errors"][0]["message"].as_str().unwrap().is_empty());
    }
    // A change that sends back what is stored is not judged again; the new
    // password is, against the stored address.
    let user = app.create_user(&admin, "pat.jones@agency.org", "Pat", &[]).await;
    let path = format!("/admin/v1/users/{}", user["id"].as_str().unwrap());
    let same = json!({"email": "pat.jones@agency.org", "name": "Pat", "password": "pat.jones@agency.org"});
    let p = problem(app.patch_json(&path, &admin, &same).await, 422).await;
    assert_eq!(field_codes(&p), pairs(&[("password", "weak_password")]));
    let ok = json!({"email": "pat.jones@agency.org", "name": "Pat", "password": "a fresh passphrase for Pat"});
    expect(app.patch_json(&path, &admin, &ok).await, 200).await;
    app.sign_in("pat.jones@agency.org", "a fresh passphrase for Pat").await;
});

// What an attack on the first build of this found: each test below failed
// on it.

both_backends!(
    wrong_codes_from_many_sources_lock_the_second_step,
    spawn = Spawn::with_manual_clock(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (secret, _) = enrol(&app, &admin, ADMIN_PASSWORD).await;
        let body = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "totp_code": "000000"});
        // Five sources, one wrong guess each: no source's budget is near spent.
        for source in ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"] {
            let r = app
                .client_from(source)
                .post(app.url("/admin/v1/sessions"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401, "{source}");
        }
        // The person's second step is locked, from a sixth source too, even
        // for the right code; the password step still answers as before.
        app.advance_clock(Duration::from_secs(30));
        let right = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "totp_code": code_now(&app, &secret)});
        let r = app
            .client_from("127.0.0.7")
            .post(app.url("/admin/v1/sessions"))
            .json(&right)
            .send()
            .await
            .unwrap();
        let p = problem(r, 429).await;
        assert!(p["detail"].as_str().unwrap().contains("wrong codes"), "{p}");
        // Fifteen minutes on, the right code works.
        app.advance_clock(Duration::from_secs(15 * 60));
        let right = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "totp_code": code_now(&app, &secret)});
        assert_eq!(sign_in_raw(&app, &right).await.status(), 201);
    }
);

both_backends!(
    a_half_finished_sign_in_is_not_renewed_past_five_minutes,
    spawn = Spawn::with_manual_clock(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (secret, _) = enrol(&app, &admin, ADMIN_PASSWORD).await;
        let token =
            mfa_token(sign_in_raw(&app, &json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await).await;
        // Asking again without a code hands on the sign-in, not its age.
        app.advance_clock(Duration::from_secs(240));
        let token = mfa_token(second_step(&app, &json!({"mfa_token": token})).await).await;
        app.advance_clock(Duration::from_secs(61));
        let r = second_step(&app, &json!({"mfa_token": token, "totp_code": code_now(&app, &secret)})).await;
        assert_eq!(problem(r, 401).await.get("mfa_required"), None);
    }
);

both_backends!(
    a_link_dies_with_the_address_or_password_it_was_sent_for,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let r = app
            .post_json(
                "/admin/v1/users",
                &admin,
                &json!({"email": "bob@agnecy.org", "name": "Bob", "roles": ["administrator"]}),
            )
            .await;
        let bob = expect(r, 201).await;
        let token = crate::password_links::delivered_link_token(&app).await;
        // The typo is fixed and a password set by the administrator.
        let path = format!("/admin/v1/users/{}", bob["id"].as_str().unwrap());
        let fixed = json!({"email": "bob@agency.org", "password": "a password set by the admin"});
        expect(app.patch_json(&path, &admin, &fixed).await, 200).await;
        let r = app
            .http
            .post(app.url("/admin/v1/set-password"))
            .json(&json!({"token": token, "password": "the typo owner's password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "the invitation to the old address must be dead");
        app.sign_in("bob@agency.org", "a password set by the admin").await;
    }
);

both_backends!(
    disabled_administrators_do_not_count_as_the_last,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let b = app.create_user(&admin, "b@agency.org", "B", &["administrator"]).await;
        let b_session = app.sign_in("b@agency.org", USER_PASSWORD).await;
        let me = expect(app.get("/api/v1/me", &admin).await, 200).await;
        // B disables the first administrator, then tries to give up its own role.
        let first = format!("/admin/v1/users/{}", me["id"].as_str().unwrap());
        expect(
            app.patch_json(&first, &b_session, &json!({"enabled": false})).await,
            200,
        )
        .await;
        let own = format!("/admin/v1/users/{}", b["id"].as_str().unwrap());
        let r = app.patch_json(&own, &b_session, &json!({"roles": ["auditor"]})).await;
        assert_eq!(r.status(), 409, "no enabled administrator would be left");
    }
);
