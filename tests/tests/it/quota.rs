//! `token_quota_per_hour` (the contract's "Token quota"): grants past the quota in any
//! sliding hour are 429 `temporarily_unavailable` with `Retry-After`, held
//! across replicas to within 10%, with no database write per grant in the
//! ordinary case (`casebook_token_quota_exact_checks_total` counts the
//! grants the database decides, near the limit).

use casebook_tests::casebook_server::config::Backend;
use casebook_tests::{APPS, Spawn, TestApp, both_backends, expect, header, id_of};
use reqwest::header::{CACHE_CONTROL, RETRY_AFTER};
use serde_json::json;
use std::time::Duration;

const EXACT_CHECKS: &str = "casebook_token_quota_exact_checks_total";

/// Registers an application with `quota`; returns `(id, client_id, secret)`.
async fn with_quota(app: &TestApp, admin: &str, name: &str, quota: u32) -> (String, String, String) {
    let email = format!("{}@partner.example.org", name.to_lowercase().replace(' ', "-"));
    let body = json!({"name": name, "email": email, "roles": ["engage-worker"], "token_quota_per_hour": quota});
    let view = expect(app.post_json(APPS, admin, &body).await, 201).await;
    assert_eq!(view["token_quota_per_hour"], quota);
    let id = id_of(&view);
    let secret = app.reveal(admin, &id).await;
    (id, view["client_id"].as_str().expect("client_id").to_owned(), secret)
}

both_backends!(
    past_the_quota_grants_wait_until_the_hour_has_passed,
    spawn = Spawn::with_manual_clock(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = with_quota(&app, &admin, "Hourly Partner", 10).await;
        for n in 1..=10 {
            if n == 5 {
                // A request that is refused for itself is no grant and costs nothing.
                let r = app.token_response(&client_id, &secret, Some("admin:delete")).await;
                assert_eq!(r.status(), 400);
            }
            let r = app.token_response(&client_id, &secret, None).await;
            assert_eq!(r.status(), 200, "grant {n}");
        }
        let r = app.token_response(&client_id, &secret, None).await;
        let retry_after: u64 = header(&r, RETRY_AFTER).parse().expect("Retry-After in seconds");
        assert_eq!(header(&r, CACHE_CONTROL), "no-store");
        let body = expect(r, 429).await;
        assert_eq!(body["error"], "temporarily_unavailable", "{body}");
        assert!(
            (3541..=3660).contains(&retry_after),
            "the first grants count for an hour, to the minute: {retry_after}"
        );
        assert!(
            app.metric(EXACT_CHECKS).await >= 1.0,
            "the last grants were decided by the database"
        );
        // Another application is not held by it.
        let (_, other_id, other_secret) = with_quota(&app, &admin, "Other Partner", 10).await;
        assert_eq!(app.token_response(&other_id, &other_secret, None).await.status(), 200);

        app.advance_clock(Duration::from_secs(59 * 60));
        assert_eq!(
            app.token_response(&client_id, &secret, None).await.status(),
            429,
            "59 minutes on"
        );
        app.advance_clock(Duration::from_secs(retry_after - 59 * 60));
        assert_eq!(
            app.token_response(&client_id, &secret, None).await.status(),
            200,
            "once the first grants have aged out"
        );
    }
);

both_backends!(
    grants_well_under_the_quota_are_decided_in_memory,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = with_quota(&app, &admin, "Roomy Partner", 1000).await;
        for _ in 0..20 {
            assert_eq!(app.token_response(&client_id, &secret, None).await.status(), 200);
        }
        assert_eq!(app.metric(EXACT_CHECKS).await, 0.0, "no grant was written one by one");
        // The counts reach the database in the background, batched.
        let mut flushed = 0.0;
        for _ in 0..40 {
            flushed = app.metric("casebook_token_quota_flushes_total").await;
            if flushed > 0.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!((1.0..=10.0).contains(&flushed), "batched, not one per grant: {flushed}");
    }
);

/// A quota held by two replicas of one install, the client's requests
/// alternating between them as fast as they answer.
async fn over_two_replicas(quota: u32) -> Option<u32> {
    let first = TestApp::spawn(Backend::Postgres).await?;
    let second = first.replica().await;
    let admin = first.admin_token().await;
    let (_, client_id, secret) = with_quota(&first, &admin, "Spread Partner", quota).await;
    let mut granted = 0;
    for i in 0..(quota * 5 / 2) {
        let replica = if i % 2 == 0 { &first } else { &second };
        match replica
            .token_response(&client_id, &secret, None)
            .await
            .status()
            .as_u16()
        {
            200 => granted += 1,
            429 => {}
            other => panic!("grant {i}: {other}"),
        }
    }
    Some(granted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_hold_a_quota_of_ten_within_a_tenth() {
    if let Some(granted) = over_two_replicas(10).await {
        assert!((10..=11).contains(&granted), "{granted} granted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_hold_a_quota_of_a_hundred_within_a_tenth() {
    if let Some(granted) = over_two_replicas(100).await {
        assert!((90..=110).contains(&granted), "{granted} granted");
    }
}
