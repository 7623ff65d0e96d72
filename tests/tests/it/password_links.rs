//! the contract ("Signing in strongly"): invitations and password resets,
//! each a one-time link by email that sets a password under the policy.

use crate::notifications::{deliver, fake_relay, outbox};
use casebook_server::db::col;
use casebook_server::notify::Mailer;
use casebook_tests::{Spawn, TestApp, both_backends, expect, problem};
use serde_json::json;
use std::time::Duration;

/// Delivers what is queued to a relay on loopback; the messages' text.
async fn delivered_messages(app: &TestApp) -> Vec<String> {
    let (port, mut received) = fake_relay().await;
    let mailer = Mailer::from_url(Some(&format!("smtp://127.0.0.1:{port}")), None, &[]).unwrap();
    let count = deliver(app, &mailer).await.unwrap();
    let mut messages = Vec::new();
    for _ in 0..count {
        let message = tokio::time::timeout(Duration::from_secs(5), received.recv())
            .await
            .unwrap()
            .unwrap();
        messages.push(message);
    }
    messages
}

/// A quoted-printable body as its reader sees it (RFC 2045 §6.7): soft
/// line breaks joined, `=XX` decoded.
fn unquote(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (other, _) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The token of the one link among `messages`.
fn link_token(messages: &[String]) -> String {
    let text = unquote(&messages.join("\n"));
    let at = text.find("#set-password?token=").expect("a link in the message");
    text[at + "#set-password?token=".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Delivers what is queued and answers the token of the one link sent.
pub(crate) async fn delivered_link_token(app: &TestApp) -> String {
    for _ in 0..50 {
        let messages = delivered_messages(app).await;
        let links: Vec<String> = messages
            .into_iter()
            .filter(|m| unquote(m).contains("#set-password?token="))
            .collect();
        if !links.is_empty() {
            return link_token(&links);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no message with a link was queued");
}

async fn set_password(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.http
        .post(app.url("/admin/v1/set-password"))
        .json(&json!({"token": token, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn sealed_bodies(app: &TestApp) -> Vec<Option<Vec<u8>>> {
    sqlx::query("SELECT sealed_body FROM outbox ORDER BY created_at")
        .fetch_all(app.running.state.db().pool())
        .await
        .unwrap()
        .iter()
        .map(|row| col(row, "sealed_body").unwrap())
        .collect()
}

both_backends!(an_invited_user_chooses_a_password_once, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let r = app
        .post_json(
            "/admin/v1/users",
            &admin,
            &json!({"email": "new.hire@agency.org", "name": "New Hire", "roles": ["administrator"]}),
        )
        .await;
    let user = expect(r, 201).await;
    assert_eq!(user["invitation_pending"], true);
    // Nothing can sign in as the user yet, not even with an empty password.
    let r = app
        .http
        .post(app.url("/admin/v1/sessions"))
        .json(&json!({"email": "new.hire@agency.org", "password": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The outbox holds the message without its link; the link is sealed.
    let queued = outbox(&app).await;
    let (recipient, subject, body, ..) = queued.last().unwrap();
    assert_eq!(recipient, "new.hire@agency.org");
    assert!(subject.contains("invited"), "{subject}");
    assert!(!body.contains("token="), "{body}");
    assert!(sealed_bodies(&app).await.last().unwrap().is_some());
    let messages = delivered_messages(&app).await;
    let token = link_token(&messages);
    assert!(messages.iter().any(|m| m.contains("48 hours")));
    // Sent, the sealed copy is gone.
    assert!(sealed_bodies(&app).await.iter().all(Option::is_none));

    // The policy applies, and a refused password leaves the link working.
    let p = problem(set_password(&app, &token, "new.hire@agency.org").await, 422).await;
    assert_eq!(p["errors"][0]["code"], "weak_password", "{p}");
    assert_eq!(
        set_password(&app, &token, "a sturdy passphrase for work")
            .await
            .status(),
        204
    );
    assert_eq!(
        set_password(&app, &token, "another sturdy passphrase").await.status(),
        400
    );
    let session = app.sign_in("new.hire@agency.org", "a sturdy passphrase for work").await;
    let me = expect(
        app.get(&format!("/admin/v1/users/{}", user["id"].as_str().unwrap()), &session)
            .await,
        200,
    )
    .await;
    assert_eq!(me["invitation_pending"], false);
});

both_backends!(
    a_reset_is_always_accepted_and_sends_a_link_only_to_an_account,
    spawn = Spawn::with_manual_clock(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        app.create_user(&admin, "forgetful@agency.org", "Forgetful", &[]).await;
        let before = outbox(&app).await.len();
        for email in ["nobody@agency.org", "not an address", "forgetful@agency.org"] {
            let r = app
                .http
                .post(app.url("/admin/v1/password-resets"))
                .json(&json!({"email": email}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202, "{email}");
        }
        // The work happens after the answer.
        let mut queued = outbox(&app).await;
        for _ in 0..50 {
            if queued.len() > before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            queued = outbox(&app).await;
        }
        assert_eq!(queued.len(), before + 1, "one message, to the account");
        assert_eq!(queued.last().unwrap().0, "forgetful@agency.org");
        let messages = delivered_messages(&app).await;
        let token = link_token(&messages);
        let session = app.sign_in("forgetful@agency.org", casebook_tests::USER_PASSWORD).await;
        // An hour later the link no longer works.
        app.advance_clock(Duration::from_secs(3601));
        assert_eq!(
            set_password(&app, &token, "a sturdy passphrase for work")
                .await
                .status(),
            400
        );
        // A fresh one does, and ends the person's sessions.
        let r = app
            .http
            .post(app.url("/admin/v1/password-resets"))
            .json(&json!({"email": "Forgetful@Agency.org"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let token = delivered_link_token(&app).await;
        assert_eq!(
            set_password(&app, &token, "a sturdy passphrase for work")
                .await
                .status(),
            204
        );
        assert_eq!(app.get("/admin/v1/users", &session).await.status(), 401);
        app.sign_in("forgetful@agency.org", "a sturdy passphrase for work")
            .await;
        let trail = expect(
            app.get("/admin/v1/audit-events?action=user.password_reset", &admin)
                .await,
            200,
        )
        .await;
        assert_eq!(trail["items"].as_array().unwrap().len(), 1);
        assert!(!serde_json::to_string(&trail).unwrap().contains(&token));
    }
);
