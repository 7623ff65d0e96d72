//! The scannable secret format (the contract's "Client secrets"): what is issued is
//! found by a scanner's pattern, a mistyped secret is refused without a
//! lookup, and secrets of the older format keep working.

use casebook_domain::ClientSecret;
use casebook_tests::{TestApp, both_backends};

/// `cbs_[0-9A-Za-z]{50}`, as a secret scanner matches it.
fn scannable(secret: &str) -> bool {
    secret
        .strip_prefix("cbs_")
        .is_some_and(|rest| rest.len() == 50 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn mistyped_count(app: &TestApp) -> u64 {
    app.running.state.metrics().mistyped_secrets.get()
}

both_backends!(
    issued_secrets_are_scannable_and_typos_are_refused_offline,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Scannable Partner", &["engage-worker"]).await;
        assert!(scannable(&secret), "{secret}");
        assert_eq!(app.token_response(&client_id, &secret, None).await.status(), 200);

        // One character changed: the checksum fails, and storage is not asked.
        let mut typo = secret.clone().into_bytes();
        typo[20] = if typo[20] == b'x' { b'y' } else { b'x' };
        let typo = String::from_utf8(typo).unwrap();
        let before = mistyped_count(&app);
        let r = app.token_response(&client_id, &typo, None).await;
        assert_eq!(r.status(), 401);
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "invalid_client");
        assert_eq!(mistyped_count(&app), before + 1);

        // A well-formed secret that is simply not this client's is looked up
        // and refused like any wrong one, not counted as a typo.
        let other = ClientSecret::from_random([7; casebook_domain::credentials::CLIENT_SECRET_BYTES]);
        assert_eq!(app.token_response(&client_id, other.expose(), None).await.status(), 401);
        assert_eq!(mistyped_count(&app), before + 1);
    }
);

both_backends!(a_secret_of_the_older_format_keeps_working, |app: TestApp| async move {
    use base64::Engine;
    let admin = app.admin_token().await;
    let (view, client_id, _) = app.partner(&admin, "Older Partner", &["engage-worker"]).await;
    let id = view["id"].as_str().unwrap();
    // What the service issued before: `cbs_` and 32 bytes in base64url.
    let legacy = format!(
        "cbs_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0x5a; 32])
    );
    let state = &app.running.state;
    let master = state.master();
    sqlx::query("UPDATE client_secrets SET secret_mac = $1, secret_ciphertext = $2 WHERE application_id = $3")
        .bind(master.secret_mac(&legacy).to_vec())
        .bind(master.seal(legacy.as_bytes(), id))
        .bind(id)
        .execute(state.db().pool())
        .await
        .unwrap();
    state.client_changed(&client_id);
    let r = app.token_response(&client_id, &legacy, None).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    assert_eq!(
        app.reveal(&admin, id).await,
        legacy,
        "the stored secret is shown as issued"
    );
});
