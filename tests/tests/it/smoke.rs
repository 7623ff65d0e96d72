//! The partner flow of the knowledge-base article, end to end, on both backends.

use casebook_tests::{TestApp, both_backends};
use serde_json::Value;

both_backends!(register_reveal_token_call, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let (_, client_id, secret) = app.partner(&admin, "Smoke Partner", &["engage-worker"]).await;
    let token = app.access_token(&client_id, &secret).await;
    let me: Value = app.get("/api/v1/me", &token).await.json().await.unwrap();
    assert_eq!(me["kind"], "application");
    assert_eq!(me["name"], "Smoke Partner");
    assert_eq!(me["permissions"], serde_json::json!(["engage:view", "engage:create"]));
});
