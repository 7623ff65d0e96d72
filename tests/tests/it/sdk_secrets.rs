//! The SDK's handling of several client secrets: listed, added with a label
//! and an expiry, shown by id and ended, with the offline checks first.

use casebook_sdk::{ApplicationId, Error, NewClientSecret, Password, SecretState};
use casebook_tests::{ADMIN_PASSWORD, TestApp, both_backends};
use std::time::Duration;

both_backends!(secrets_are_managed_through_the_sdk, |app: TestApp| async move {
    let admin = app.sdk_admin().await;
    let token = app.admin_token().await;
    let (view, client_id, _) = app.partner(&token, "Sdk Secrets", &["engage-worker"]).await;
    let id = &ApplicationId::new(view["id"].as_str().unwrap());
    let apps = admin.admin().applications();
    let password = Password::new(ADMIN_PASSWORD);

    // Refused offline: nothing is sent, so nothing is added.
    let too_long = NewClientSecret::new().label("x".repeat(101));
    match apps.add_secret(id, &password, &too_long).await {
        Err(Error::Validation(errors)) => assert_eq!(errors.errors()[0].field, "label"),
        other => panic!("a long label is refused before sending: {other:?}"),
    }
    assert_eq!(apps.list_secrets(id).await.unwrap().len(), 1);

    let until = app
        .running
        .state
        .now()
        .saturating_add(Duration::from_secs(90 * 24 * 3600));
    let added = apps
        .add_secret(id, &password, &NewClientSecret::new().label("blue").expires_at(until))
        .await
        .expect("add");
    assert_eq!(added.client_id, client_id.as_str());
    assert_eq!(added.label.as_deref(), Some("blue"));
    assert_eq!(added.expires_at, Some(until));
    assert!(!format!("{added:?}").contains(added.client_secret.expose()), "redacted");
    assert_eq!(
        app.token_response(&client_id, added.client_secret.expose(), None)
            .await
            .status(),
        200
    );

    let listed = apps.list_secrets(id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|s| s.status == SecretState::Active));
    let shown = apps
        .reveal_secret_by_id(id, &added.id, &password)
        .await
        .expect("reveal");
    assert_eq!(shown.client_secret.expose(), added.client_secret.expose());

    apps.end_secret(id, &added.id).await.expect("end");
    assert_eq!(
        app.token_response(&client_id, added.client_secret.expose(), None)
            .await
            .status(),
        401
    );
    match apps.end_secret(id, &added.id).await {
        Err(Error::Api { status: 404, .. }) => {}
        other => panic!("an ended secret is gone: {other:?}"),
    }
});
