//! Disabling an application refuses its tokens from then on, not only while
//! it stays disabled.

use casebook_tests::{Spawn, TestApp, both_backends, kid_of};
use serde_json::json;

/// Ten minutes' notice: shorter than a token's life, so a token signed by the
/// old key is still live when the new key starts signing. The test moves the
/// clock past it instead of waiting.
const NOTICE: std::time::Duration = std::time::Duration::from_secs(600);

both_backends!(re_enabling_does_not_revive_old_tokens, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let (view, client_id, secret) = app.partner(&admin, "Paused Partner", &["engage-worker"]).await;
    let path = format!("/admin/v1/external-applications/{}", view["id"].as_str().unwrap());
    let old = app.access_token(&client_id, &secret).await;
    assert_eq!(app.get("/api/v1/me", &old).await.status(), 200);

    assert_eq!(
        app.patch_json(&path, &admin, &json!({"enabled": false})).await.status(),
        200
    );
    assert_eq!(app.get("/api/v1/me", &old).await.status(), 401);
    assert_eq!(app.token_response(&client_id, &secret, None).await.status(), 401);

    // Re-enabled at once, within the same second: old tokens stay dead,
    // new ones work straight away.
    assert_eq!(
        app.patch_json(&path, &admin, &json!({"enabled": true})).await.status(),
        200
    );
    let refused = app.get("/api/v1/me", &old).await;
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("invalid_token"), "{challenge}");
    let fresh = app.access_token(&client_id, &secret).await;
    assert_eq!(app.get("/api/v1/me", &fresh).await.status(), 200);
});

both_backends!(
    parallel_wrong_passwords_cannot_outrun_the_reveal_lockout,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, _, _) = app.partner(&admin, "Guarded Partner", &["engage-worker"]).await;
        let path = format!(
            "/admin/v1/external-applications/{}/client-secret/reveal",
            view["id"].as_str().unwrap()
        );
        let guesses = (0..20).map(|i| {
            let (app, admin, path) = (&app, &admin, &path);
            async move {
                app.post_json(path, admin, &json!({"password": format!("guess number {i}")}))
                    .await
                    .status()
                    .as_u16()
            }
        });
        let statuses = futures_util::future::join_all(guesses).await;
        let checked = statuses.iter().filter(|s| **s == 403).count();
        let locked = statuses.iter().filter(|s| **s == 429).count();
        assert_eq!(checked + locked, 20, "{statuses:?}");
        assert!(checked <= 5, "{checked} guesses were checked: {statuses:?}");
        // Locked now, even with the right password.
        let r = app
            .post_json(&path, &admin, &json!({"password": casebook_tests::ADMIN_PASSWORD}))
            .await;
        assert_eq!(r.status(), 429);
        assert!(r.headers().contains_key("retry-after"));
    }
);

both_backends!(sign_in_guessing_is_throttled, |app: TestApp| async move {
    let mut statuses = Vec::new();
    for i in 0..12 {
        let r = app
            .http
            .post(app.url("/admin/v1/sessions"))
            .json(&json!({"email": casebook_tests::ADMIN_EMAIL, "password": format!("wrong guess {i}")}))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..10], &[401; 10], "{statuses:?}");
    assert_eq!(statuses[11], 429, "{statuses:?}");
});

both_backends!(
    a_rotation_with_notice_publishes_before_it_signs,
    spawn = Spawn::with_manual_clock(),
    |app: TestApp| async move {
        use casebook_tests::casebook_server::keys;
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Key Watcher", &["engage-worker"]).await;
        let state = &app.running.state;
        let old_kid = kid_of(&app.access_token(&client_id, &secret).await);
        let new_kid = keys::rotate_with_notice(
            &casebook_tests::casebook_server::store::Scope::root(state.db().clone()),
            state.master(),
            Default::default(),
            NOTICE,
        )
        .await
        .unwrap();
        state.keys().root().refresh().await.unwrap();
        // Published at once, not yet signing.
        let jwks = app.public_json("/.well-known/jwks.json").await;
        let listed: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert!(
            listed.contains(&old_kid.as_str()) && listed.contains(&new_kid.as_str()),
            "{listed:?}"
        );
        let before = app.access_token(&client_id, &secret).await;
        assert_eq!(kid_of(&before), old_kid);
        // After the notice, the new key signs and the old token still works.
        app.advance_clock(NOTICE + std::time::Duration::from_secs(1));
        state.keys().root().refresh().await.unwrap();
        let after = app.access_token(&client_id, &secret).await;
        assert_eq!(kid_of(&after), new_kid);
        assert_eq!(app.get("/api/v1/me", &before).await.status(), 200);
        assert_eq!(app.get("/api/v1/me", &after).await.status(), 200);
    }
);
