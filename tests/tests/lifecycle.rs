//! Disabling an application refuses its tokens from then on, not only while
//! it stays disabled.

use casebook_tests::{TestApp, both_backends};
use serde_json::json;

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
