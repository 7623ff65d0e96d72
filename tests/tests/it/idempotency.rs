//! `Idempotency-Key` (the contract's "Partner experience"): a POST sent again
//! with the same key is answered from the first, and done once, on every
//! replica; another request under the same key is 422.

use casebook_tests::*;
use serde_json::{Value, json};
use std::time::Duration;

const CASES: &str = "/api/v1/engage/cases";
const REPORTS: &str = "/api/v1/intake/reports";

async fn post(app: &TestApp, path: &str, token: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = app.http.post(app.url(path)).bearer_auth(token).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.expect("send")
}

async fn count(app: &TestApp, path: &str, token: &str) -> usize {
    let listed = expect(app.get(&format!("{path}?limit=100"), token).await, 200).await;
    listed["items"].as_array().expect("items").len()
}

async fn case_count(app: &TestApp, token: &str) -> usize {
    count(app, CASES, token).await
}

fn replayed(r: &reqwest::Response) -> bool {
    r.headers().get("idempotent-replayed").is_some_and(|v| v == "true")
}

both_backends!(a_retried_post_is_answered_from_the_first, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let (_, client_id, secret) = app.partner(&admin, "Retrying Partner", &["engage-worker"]).await;
    let token = app.access_token(&client_id, &secret).await;
    let body = json!({"title": "Family of four"});

    let first = post(&app, CASES, &token, Some("retry-1"), &body).await;
    assert!(!replayed(&first));
    let location = header(&first, reqwest::header::LOCATION);
    let made = expect(first, 201).await;
    let again = post(&app, CASES, &token, Some("retry-1"), &body).await;
    assert!(replayed(&again));
    assert_eq!(header(&again, reqwest::header::LOCATION), location);
    assert_eq!(expect(again, 201).await, made, "the first answer, again");
    assert_eq!(case_count(&app, &token).await, 1, "made once");

    // The same key with another body: 422, nothing made.
    let r = post(
        &app,
        CASES,
        &token,
        Some("retry-1"),
        &json!({"title": "Another family"}),
    )
    .await;
    let mismatch = problem(r, 422).await;
    assert!(
        field_codes(&mismatch).contains(&("Idempotency-Key".into(), "invalid_value".into())),
        "{mismatch}"
    );
    // Another key, or none: a new case each time.
    expect(post(&app, CASES, &token, Some("retry-2"), &body).await, 201).await;
    expect(post(&app, CASES, &token, None, &body).await, 201).await;
    assert_eq!(case_count(&app, &token).await, 3);

    // A key is the account's own: another application's same key is its own request.
    let (_, other_id, other_secret) = app.partner(&admin, "Other Partner", &["engage-worker"]).await;
    let other = app.access_token(&other_id, &other_secret).await;
    let r = post(&app, CASES, &other, Some("retry-1"), &body).await;
    assert!(!replayed(&r));
    expect(r, 201).await;

    // A refusal is kept as well: a retry is told the same.
    let bad = json!({"title": ""});
    let first = post(&app, CASES, &token, Some("bad-1"), &bad).await;
    let refused = problem(first, 422).await;
    let again = post(&app, CASES, &token, Some("bad-1"), &bad).await;
    assert!(replayed(&again));
    assert_eq!(problem(again, 422).await, refused);

    // Keys that cannot be one.
    for key in ["", &"k".repeat(256), "caf\u{e9}"] {
        let r = app
            .http
            .post(app.url(CASES))
            .bearer_auth(&token)
            .header(
                "Idempotency-Key",
                reqwest::header::HeaderValue::from_bytes(key.as_bytes()).unwrap(),
            )
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 422, "{key:?}");
    }
});

both_backends!(
    a_new_secret_is_given_again_but_never_kept_in_the_clear,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, _, _) = app.partner(&admin, "Secret Partner", &["engage-worker"]).await;
        let path = format!("{APPS}/{}/client-secrets", id_of(&view));
        let body = json!({"label": "deployment 2", "password": ADMIN_PASSWORD});
        let first = expect(post(&app, &path, &admin, Some("secret-1"), &body).await, 201).await;
        let again = post(&app, &path, &admin, Some("secret-1"), &body).await;
        assert!(replayed(&again));
        let again = expect(again, 201).await;
        assert_eq!(again["client_secret"], first["client_secret"]);
        let listed = expect(app.get(&path, &admin).await, 200).await;
        assert_eq!(
            listed["items"].as_array().unwrap().len(),
            2,
            "one secret added, not two"
        );
        // Neither the secret nor the password is in the stored row.
        let secret = first["client_secret"].as_str().unwrap();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as("SELECT fingerprint, body_sealed FROM idempotency_keys")
            .fetch_all(app.running.state.db().pool())
            .await
            .expect("rows");
        assert!(!rows.is_empty());
        for (fingerprint, sealed) in rows {
            for needle in [secret.as_bytes(), ADMIN_PASSWORD.as_bytes()] {
                assert!(!sealed.windows(needle.len()).any(|w| w == needle));
                assert!(!fingerprint.windows(needle.len()).any(|w| w == needle));
            }
        }
        // Signing in needs no account: the header is ignored there.
        for _ in 0..2 {
            let r = app
                .http
                .post(app.url("/admin/v1/sessions"))
                .header("Idempotency-Key", "sign-in")
                .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
                .send()
                .await
                .expect("send");
            assert!(!replayed(&r));
            assert_eq!(r.status(), 201);
        }
    }
);

both_backends!(
    duplicates_at_once_on_two_replicas_make_one_case,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Eager Partner", &["engage-worker"]).await;
        let token = app.access_token(&client_id, &secret).await;
        let second = app.replica().await;
        let body = json!({"title": "Sent twenty times at once"});
        let sends = (0..20).map(|n| {
            let (app, token, body) = (
                if n % 2 == 0 { app.clone() } else { second.clone() },
                token.clone(),
                body.clone(),
            );
            tokio::spawn(async move {
                let r = post(&app, CASES, &token, Some("burst-1"), &body).await;
                let status = r.status().as_u16();
                let value: Value = r.json().await.unwrap_or(Value::Null);
                (status, value)
            })
        });
        let answers: Vec<(u16, Value)> = futures_util::future::join_all(sends)
            .await
            .into_iter()
            .map(|joined| joined.expect("joined"))
            .collect();
        let made: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 201).map(|(_, v)| v).collect();
        assert!(!made.is_empty(), "{answers:?}");
        assert!(
            made.iter().all(|v| v["id"] == made[0]["id"]),
            "one case answered: {answers:?}"
        );
        assert!(answers.iter().all(|(s, _)| *s == 201 || *s == 409), "{answers:?}");
        assert_eq!(case_count(&app, &token).await, 1, "exactly one case made");
    }
);

both_backends!(
    a_key_lives_a_day,
    spawn = Spawn::with_manual_clock(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Daily Partner", &["engage-worker"]).await;
        let body = json!({"title": "Yesterday's case"});
        let token = app.access_token(&client_id, &secret).await;
        expect(post(&app, CASES, &token, Some("daily"), &body).await, 201).await;
        app.advance_clock(Duration::from_secs(23 * 3600));
        let token = app.access_token(&client_id, &secret).await;
        assert!(replayed(&post(&app, CASES, &token, Some("daily"), &body).await));
        app.advance_clock(Duration::from_secs(3600 + 1));
        let token = app.access_token(&client_id, &secret).await;
        let r = post(&app, CASES, &token, Some("daily"), &body).await;
        assert!(!replayed(&r), "a day on, the key is new again");
        expect(r, 201).await;
        assert_eq!(case_count(&app, &token).await, 2);
    }
);

// The partner API's creations keep their key with the record, in one
// transaction: a key already used elsewhere makes nothing there. A handler
// that made its record first and asked about the key after would leave one.
both_backends!(routes_that_keep_their_own_key_take_it, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let (_, client_id, secret) = app
        .partner(&admin, "Careful Partner", &["engage-worker", "intake-screener"])
        .await;
    let token = app.access_token(&client_id, &secret).await;
    let case = json!({"title": "Kept with its key"});
    let report = json!({"summary": "Kept with its key"});
    for (first, (path, body), (other, other_body)) in [
        ("case-first", (CASES, &case), (REPORTS, &report)),
        ("report-first", (REPORTS, &report), (CASES, &case)),
    ] {
        let before = count(&app, other, &token).await;
        expect(post(&app, path, &token, Some(first), body).await, 201).await;
        let r = post(&app, other, &token, Some(first), other_body).await;
        let refused = problem(r, 422).await;
        assert!(
            field_codes(&refused).contains(&("Idempotency-Key".into(), "invalid_value".into())),
            "{refused}"
        );
        assert_eq!(
            count(&app, other, &token).await,
            before,
            "{other}: nothing made under a used key"
        );
        let again = post(&app, path, &token, Some(first), body).await;
        assert!(replayed(&again), "{path}");
    }
});
