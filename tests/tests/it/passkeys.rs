//! the contract ("Signing in strongly"): passkeys as a second factor, from
//! registration to a sign-in's second step and a secret's reveal, through
//! a software authenticator.

use crate::soft_passkey::SoftPasskey;
use casebook_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, Spawn, TestApp, both_backends, expect, problem};
use serde_json::{Value, json};

const MINE: &str = "/admin/v1/users/me/passkeys";

/// Registers a passkey for the session's person; the passkey's view.
pub(crate) async fn register(app: &TestApp, session: &str, password: &str, key: &mut SoftPasskey, name: &str) -> Value {
    let begun = expect(
        app.post_json(&format!("{MINE}/options"), session, &json!({"password": password}))
            .await,
        200,
    )
    .await;
    let credential = key.register(&begun["options"]);
    let r = app
        .post_json(
            MINE,
            session,
            &json!({"ceremony_id": begun["ceremony_id"], "name": name, "credential": credential}),
        )
        .await;
    expect(r, 201).await
}

/// The passkey's answer to a fresh step-up ceremony.
async fn step_up(app: &TestApp, session: &str, key: &mut SoftPasskey) -> Value {
    let options = expect(
        app.post_json(&format!("{MINE}/challenge"), session, &json!({})).await,
        200,
    )
    .await;
    json!({"ceremony_id": options["ceremony_id"], "credential": key.assert(&options["options"])})
}

async fn post(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.http.post(app.url(path)).json(body).send().await.unwrap()
}

both_backends!(
    a_passkey_is_a_second_factor_for_signing_in_and_for_secrets,
    spawn = Spawn::at_localhost(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let mut key = SoftPasskey::new(&app.base_url);
        let view = register(&app, &admin, ADMIN_PASSWORD, &mut key, "Work laptop").await;
        assert_eq!(view["name"], "Work laptop");
        assert_eq!(view["last_used_at"], Value::Null);
        let listed = expect(app.get(MINE, &admin).await, 200).await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 1);
        // Another factor is added only with one held: the password alone,
        // as a thief with a session and the password would try, is refused.
        let r = app
            .post_json(&format!("{MINE}/options"), &admin, &json!({"password": ADMIN_PASSWORD}))
            .await;
        assert_eq!(r.status(), 403);
        let r = app
            .post_json("/admin/v1/users/me/totp", &admin, &json!({"password": ADMIN_PASSWORD}))
            .await;
        assert_eq!(r.status(), 403);
        // With the passkey's answer, a second registration begins; its
        // options exclude the authenticator registered already.
        let proof = step_up(&app, &admin, &mut key).await;
        let again = expect(
            app.post_json(
                &format!("{MINE}/options"),
                &admin,
                &json!({"password": ADMIN_PASSWORD, "passkey": proof}),
            )
            .await,
            200,
        )
        .await;
        let excluded = again["options"]["publicKey"]["excludeCredentials"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(excluded, 1);

        // Signing in now takes a second step, which the passkey answers.
        let asked = problem(
            post(
                &app,
                "/admin/v1/sessions",
                &json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
            )
            .await,
            401,
        )
        .await;
        let token = asked["mfa_token"].as_str().unwrap();
        let options = expect(
            post(&app, "/admin/v1/sessions/mfa/passkey", &json!({"mfa_token": token})).await,
            200,
        )
        .await;
        let answer = key.assert(&options["options"]);
        let proof = json!({"ceremony_id": options["ceremony_id"], "credential": answer});
        let r = post(
            &app,
            "/admin/v1/sessions/mfa",
            &json!({"mfa_token": token, "passkey": proof}),
        )
        .await;
        let session = expect(r, 201).await["token"].as_str().unwrap().to_owned();
        // A ceremony answers once.
        let replay = problem(
            post(
                &app,
                "/admin/v1/sessions",
                &json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
            )
            .await,
            401,
        )
        .await;
        let token = replay["mfa_token"].as_str().unwrap();
        let r = post(
            &app,
            "/admin/v1/sessions/mfa",
            &json!({"mfa_token": token, "passkey": proof}),
        )
        .await;
        assert_eq!(problem(r, 401).await["mfa_required"], true);

        // Reveal with a passkey beside the password.
        let partner = app
            .register(
                &session,
                "Keyed Partner",
                "keyed@partner.example.org",
                &["engage-worker"],
            )
            .await;
        let reveal = format!(
            "/admin/v1/external-applications/{}/client-secret/reveal",
            partner["id"].as_str().unwrap()
        );
        let r = app
            .post_json(&reveal, &session, &json!({"password": ADMIN_PASSWORD}))
            .await;
        assert_eq!(r.status(), 403);
        let options = expect(
            app.post_json(&format!("{MINE}/challenge"), &session, &json!({})).await,
            200,
        )
        .await;
        let proof = json!({"ceremony_id": options["ceremony_id"], "credential": key.assert(&options["options"])});
        let r = app
            .post_json(
                &reveal,
                &session,
                &json!({"password": ADMIN_PASSWORD, "passkey": proof}),
            )
            .await;
        assert!(expect(r, 200).await["client_secret"].is_string());
        // Another person's passkey answers nothing of this one's.
        let mut stranger = SoftPasskey::new(&app.base_url);
        let options = expect(
            app.post_json(&format!("{MINE}/challenge"), &session, &json!({})).await,
            200,
        )
        .await;
        let proof = json!({"ceremony_id": options["ceremony_id"], "credential": stranger.assert(&options["options"])});
        let r = app
            .post_json(
                &reveal,
                &session,
                &json!({"password": ADMIN_PASSWORD, "passkey": proof}),
            )
            .await;
        assert_eq!(r.status(), 403);

        let me = expect(app.get("/api/v1/me", &session).await, 200).await;
        let user = expect(
            app.get(&format!("/admin/v1/users/{}", me["id"].as_str().unwrap()), &session)
                .await,
            200,
        )
        .await;
        assert_eq!(user["second_factors"], json!(["passkey"]));
        let id = view["id"].as_str().unwrap();
        let r = app
            .delete_json(&format!("{MINE}/{id}"), &session, &json!({"password": ADMIN_PASSWORD}))
            .await;
        assert_eq!(r.status(), 403, "removing a factor asks for one held");
        let proof = step_up(&app, &session, &mut key).await;
        let r = app
            .delete_json(
                &format!("{MINE}/{id}"),
                &session,
                &json!({"password": ADMIN_PASSWORD, "passkey": proof}),
            )
            .await;
        assert_eq!(r.status(), 204);
        assert_eq!(
            post(
                &app,
                "/admin/v1/sessions",
                &json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
            )
            .await
            .status(),
            201
        );
    }
);

both_backends!(passkeys_need_a_domain_name, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let r = app
        .post_json(&format!("{MINE}/options"), &admin, &json!({"password": ADMIN_PASSWORD}))
        .await;
    assert!(
        problem(r, 409).await["detail"]
            .as_str()
            .unwrap()
            .contains("domain name")
    );
});
