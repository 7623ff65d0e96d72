//! Changing how an application proves who it is ends the tokens it holds,
//! and a refusal stays small however much input it refuses (the contract's "Tokens"
//! and "Errors").

use crate::jose::{Key, signed};
use crate::private_key_jwt::{claims, token};
use casebook_tests::{APPS, TestApp, both_backends, expect, problem};
use serde_json::json;

both_backends!(
    moving_between_secret_and_keys_ends_live_tokens,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, client_id, secret) = app.partner(&admin, "Moving Partner", &["engage-worker"]).await;
        let path = format!("{APPS}/{}", view["id"].as_str().unwrap());
        let by_secret = app.access_token(&client_id, &secret).await;
        assert_eq!(
            app.get("/api/v1/me", &by_secret).await.status(),
            200,
            "cached as valid first"
        );

        let key = Key::ed();
        let to_keys = json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.public_jwk("k")]}});
        expect(app.patch_json(&path, &admin, &to_keys).await, 200).await;
        assert_eq!(
            app.get("/api/v1/me", &by_secret).await.status(),
            401,
            "a token got with the secret ends with it"
        );
        let by_key = token(&app, &signed(&key, "EdDSA", Some("k"), &claims(&app, &client_id))).await;
        assert_eq!(app.get("/api/v1/me", &by_key).await.status(), 200);

        // New keys for the same method are not a change of method.
        let other = Key::ed();
        let new_keys = json!({"jwks": {"keys": [key.public_jwk("k"), other.public_jwk("o")]}});
        expect(app.patch_json(&path, &admin, &new_keys).await, 200).await;
        assert_eq!(
            app.get("/api/v1/me", &by_key).await.status(),
            200,
            "same method, new keys"
        );

        let back = json!({"token_endpoint_auth_method": "client_secret_basic"});
        expect(app.patch_json(&path, &admin, &back).await, 200).await;
        assert_eq!(
            app.get("/api/v1/me", &by_key).await.status(),
            401,
            "a token got with a key ends with the move back"
        );
    }
);

both_backends!(a_refusal_lists_at_most_a_hundred_errors, |app: TestApp| async move {
    let admin = app.admin_token().await;
    // Nine thousand short ids: a body well inside the 64 KiB limit.
    let base36 = |mut n: u32| {
        let mut id = String::new();
        loop {
            id.insert(0, char::from_digit(n % 36, 36).expect("a digit"));
            n /= 36;
            if n == 0 {
                break id;
            }
        }
    };
    let roles: Vec<String> = (0..9_000).map(base36).collect();
    let body = json!({"name": "Many Roles", "email": "many@partner.example.org", "roles": roles});
    let r = app.post_json(APPS, &admin, &body).await;
    let refusal = problem(r, 422).await;
    let size = refusal.to_string().len();
    assert_eq!(refusal["errors"].as_array().map(Vec::len), Some(100), "{size} bytes");
    assert!(
        refusal["detail"].as_str().unwrap().ends_with("more, not listed"),
        "{}",
        refusal["detail"]
    );
    assert!(size < 64 * 1024, "a 422 of {size} bytes");
});
