//! Leak reports (the contract's "Leaked secrets"): GitHub's secret-scanning partner
//! alerts, signed with a key of the keys file, end a reported secret and its
//! application's live tokens; anything not signed by a listed key changes
//! nothing.

use crate::notifications::outbox;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use casebook_domain::ClientSecret;
use casebook_server::secret_scanning::ScanningKeys;
use casebook_tests::{ADMIN_PASSWORD, Spawn, TestApp, both_backends, expect, problem};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

pub(crate) const KEY_ID: &str = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a";

/// The reporter's key pair: one per test binary, listed in the keys file.
fn reporter() -> &'static EcdsaKeyPair {
    static PAIR: OnceLock<EcdsaKeyPair> = OnceLock::new();
    PAIR.get_or_init(|| EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap())
}

fn keys_file() -> String {
    let der = reporter().public_key().as_der().unwrap();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der.as_ref())
    );
    // Shaped as GitHub publishes it, with a retired key beside the current one.
    let other = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let other_pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(other.public_key().as_der().unwrap().as_ref())
    );
    json!({"public_keys": [
        {"key_identifier": "retired", "key": other_pem, "is_current": false},
        {"key_identifier": KEY_ID, "key": pem, "is_current": true},
    ]})
    .to_string()
}

pub(crate) fn with_scanning() -> Spawn {
    Spawn {
        secret_scanning: Some(ScanningKeys::parse(&keys_file()).unwrap()),
        ..Spawn::default()
    }
}

pub(crate) fn sign(body: &[u8]) -> String {
    let signature = reporter().sign(&SystemRandom::new(), body).unwrap();
    base64::engine::general_purpose::STANDARD.encode(signature.as_ref())
}

pub(crate) fn alert(tokens: &[&str]) -> Vec<u8> {
    let items: Vec<Value> = tokens
        .iter()
        .map(|t| {
            json!({"token": t, "type": "casebook_client_secret",
                   "url": "https://github.com/acme/sync/blob/abc123/config.env", "source": "content"})
        })
        .collect();
    serde_json::to_vec(&items).unwrap()
}

pub(crate) async fn report(
    app: &TestApp,
    body: &[u8],
    key_id: Option<&str>,
    signature: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url("/secret-scanning/github"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(key_id) = key_id {
        request = request.header("Github-Public-Key-Identifier", key_id);
    }
    if let Some(signature) = signature {
        request = request.header("Github-Public-Key-Signature", signature);
    }
    request.send().await.unwrap()
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

both_backends!(
    a_reported_secret_ends_with_its_tokens_and_nothing_else,
    spawn = with_scanning(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, client_id, leaked) = app.partner(&admin, "Leaky Partner", &["engage-worker"]).await;
        let app_id = view["id"].as_str().unwrap();
        let other = expect(
            app.post_json(
                &format!("/admin/v1/external-applications/{app_id}/client-secrets"),
                &admin,
                &json!({"password": ADMIN_PASSWORD, "label": "cluster b"}),
            )
            .await,
            201,
        )
        .await;
        let other = other["client_secret"].as_str().unwrap().to_owned();
        let live_token = app.access_token(&client_id, &leaked).await;
        assert_eq!(app.get("/api/v1/me", &live_token).await.status(), 200);

        let unknown = ClientSecret::from_random([9; casebook_domain::credentials::CLIENT_SECRET_BYTES]);
        let body = alert(&[&leaked, unknown.expose(), "cbs_not-even-close"]);
        let r = report(&app, &body, Some(KEY_ID), Some(&sign(&body))).await;
        let verdicts = expect(r, 200).await;
        assert_eq!(
            verdicts,
            json!([
                {"token_hash": sha256_hex(&leaked), "token_type": "casebook_client_secret", "label": "true_positive"},
                {"token_hash": sha256_hex(unknown.expose()), "token_type": "casebook_client_secret", "label": "false_positive"},
                {"token_hash": sha256_hex("cbs_not-even-close"), "token_type": "casebook_client_secret", "label": "false_positive"},
            ])
        );

        assert_eq!(app.token_response(&client_id, &leaked, None).await.status(), 401);
        assert_eq!(
            app.get("/api/v1/me", &live_token).await.status(),
            401,
            "live tokens end too"
        );
        assert_eq!(
            app.token_response(&client_id, &other, None).await.status(),
            200,
            "the other secret keeps working"
        );
        let leak_notice = outbox(&app)
            .await
            .into_iter()
            .find(|(_, subject, ..)| subject.contains("found in public"))
            .expect("a leak notice");
        assert_eq!(leak_notice.0, "leaky-partner@partner.example.org");
        assert!(
            leak_notice
                .2
                .contains("https://github.com/acme/sync/blob/abc123/config.env"),
            "{}",
            leak_notice.2
        );
        assert!(!leak_notice.2.contains(&leaked), "never the secret itself");
        let audit = expect(
            app.get("/admin/v1/audit-events?action=application.secret_leaked", &admin)
                .await,
            200,
        )
        .await;
        assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");

        // Reported again, twice: still a real leak, already ended, and
        // nothing more is done about it.
        let notices = outbox(&app).await.len();
        let again = alert(&[&leaked]);
        for _ in 0..2 {
            let r = report(&app, &again, Some(KEY_ID), Some(&sign(&again))).await;
            assert_eq!(expect(r, 200).await[0]["label"], "true_positive");
        }
        let audit = expect(
            app.get("/admin/v1/audit-events?action=application.secret_leaked", &admin)
                .await,
            200,
        )
        .await;
        assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
        assert_eq!(outbox(&app).await.len(), notices, "no second notice");
        assert_eq!(
            app.token_response(&client_id, &other, None).await.status(),
            200,
            "the other secret still works"
        );
    }
);

both_backends!(
    a_secret_ended_before_its_report_is_still_a_real_leak,
    spawn = with_scanning(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, client_id, first) = app.partner(&admin, "Careful Partner", &["engage-worker"]).await;
        let app_id = view["id"].as_str().unwrap();
        let secrets = format!("/admin/v1/external-applications/{app_id}/client-secrets");
        let added = expect(
            app.post_json(&secrets, &admin, &json!({"password": ADMIN_PASSWORD}))
                .await,
            201,
        )
        .await;
        let kept = added["client_secret"].as_str().unwrap().to_owned();
        let first_id = expect(app.get(&secrets, &admin).await, 200).await["items"][1]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(app.delete(&format!("{secrets}/{first_id}"), &admin).await.status(), 204);
        // Ended by a rotation without grace too.
        let rotated = expect(
            app.post_json(
                &format!("/admin/v1/external-applications/{app_id}/client-secret/rotate"),
                &admin,
                &json!({"password": ADMIN_PASSWORD}),
            )
            .await,
            200,
        )
        .await;
        let current = rotated["client_secret"].as_str().unwrap().to_owned();
        let notices = outbox(&app).await.len();

        let body = alert(&[&first, &kept]);
        let verdicts = expect(report(&app, &body, Some(KEY_ID), Some(&sign(&body))).await, 200).await;
        assert_eq!(verdicts[0]["label"], "true_positive", "{verdicts}");
        assert_eq!(verdicts[1]["label"], "true_positive", "{verdicts}");
        let audit = expect(
            app.get("/admin/v1/audit-events?action=application.secret_leaked", &admin)
                .await,
            200,
        )
        .await;
        assert!(
            audit["items"].as_array().unwrap().is_empty(),
            "nothing left to end: {audit}"
        );
        assert_eq!(outbox(&app).await.len(), notices);
        assert_eq!(app.token_response(&client_id, &current, None).await.status(), 200);
    }
);

both_backends!(
    a_thousand_alerts_fit_and_a_larger_body_is_a_problem,
    spawn = with_scanning(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, leaked) = app.partner(&admin, "Busy Partner", &["engage-worker"]).await;
        let unknown: Vec<String> = (0..999u32)
            .map(|n| {
                let mut bytes = [0; casebook_domain::credentials::CLIENT_SECRET_BYTES];
                bytes[..4].copy_from_slice(&n.to_be_bytes());
                ClientSecret::from_random(bytes).expose().to_owned()
            })
            .collect();
        let mut tokens: Vec<&str> = unknown.iter().map(String::as_str).collect();
        tokens.push(&leaked);
        let body = alert(&tokens);
        assert!(body.len() > 64 * 1024, "{} bytes", body.len());
        let verdicts = expect(report(&app, &body, Some(KEY_ID), Some(&sign(&body))).await, 200).await;
        let verdicts = verdicts.as_array().unwrap();
        assert_eq!(verdicts.len(), 1000);
        assert_eq!(verdicts[999]["label"], "true_positive");
        assert!(verdicts[..999].iter().all(|v| v["label"] == "false_positive"));
        assert_eq!(app.token_response(&client_id, &leaked, None).await.status(), 401);

        let mut too_large = b"[".to_vec();
        too_large.resize(1024 * 1024 + 1, b' ');
        let r = report(&app, &too_large, Some(KEY_ID), Some(&sign(&too_large))).await;
        problem(r, 413).await;
        // Every refusal of the route is a problem, an unsigned one too.
        problem(report(&app, b"[]", None, None).await, 401).await;
    }
);

both_backends!(
    an_alert_not_signed_by_a_listed_key_changes_nothing,
    spawn = with_scanning(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Guarded Partner", &["engage-worker"]).await;
        let body = alert(&[&secret]);
        let signed_other = sign(b"[]");
        let stranger = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let by_stranger = base64::engine::general_purpose::STANDARD
            .encode(stranger.sign(&SystemRandom::new(), &body).unwrap().as_ref());
        for (key_id, signature) in [
            (None, None),
            (Some(KEY_ID), None),
            (None, Some(sign(&body))),
            (Some(KEY_ID), Some(signed_other)),
            (Some(KEY_ID), Some(by_stranger.clone())),
            (Some("retired"), Some(by_stranger)),
            (Some("unlisted"), Some(sign(&body))),
            (Some(KEY_ID), Some("%%%".to_owned())),
        ] {
            let r = report(&app, &body, key_id, signature.as_deref()).await;
            problem(r, 401).await;
        }
        assert_eq!(
            app.token_response(&client_id, &secret, None).await.status(),
            200,
            "still working"
        );
        // A signed body that is not alerts is refused as such.
        let junk = br#"{"token": "x"}"#;
        problem(report(&app, junk, Some(KEY_ID), Some(&sign(junk))).await, 400).await;
    }
);

both_backends!(
    without_a_keys_file_leak_reports_are_not_taken,
    |app: TestApp| async move {
        let body = alert(&["cbs_x"]);
        problem(report(&app, &body, Some(KEY_ID), Some(&sign(&body))).await, 404).await;
    }
);
