//! Several client secrets per application (the contract's "Client secrets"): side by
//! side up to five, each ended on its own, expiring by its own date or the
//! install's most, stamped when last used without a write per token, and
//! announced before it expires, once each.

use crate::notifications::{fake_relay, outbox, without_delivery};
use casebook_domain::secret_lifecycle::SecretPolicy;
use casebook_server::notify::{self, Mailer};
use casebook_server::store;
use casebook_tests::{ADMIN_PASSWORD, Spawn, TestApp, both_backends, expect, field_codes, pairs, problem};
use serde_json::{Value, json};
use std::time::Duration;

const DAY: Duration = Duration::from_secs(24 * 3600);

fn secrets_path(app_id: &str) -> String {
    format!("/admin/v1/external-applications/{app_id}/client-secrets")
}

async fn add_secret(app: &TestApp, admin: &str, app_id: &str, body: Value) -> reqwest::Response {
    let mut body = body;
    body["password"] = json!(ADMIN_PASSWORD);
    app.post_json(&secrets_path(app_id), admin, &body).await
}

async fn list(app: &TestApp, admin: &str, app_id: &str) -> Vec<Value> {
    let listed = expect(app.get(&secrets_path(app_id), admin).await, 200).await;
    listed["items"].as_array().unwrap().clone()
}

async fn token_status(app: &TestApp, client_id: &str, secret: &str) -> u16 {
    app.token_response(client_id, secret, None).await.status().as_u16()
}

fn in_rfc3339(from_now: Duration, app: &TestApp) -> String {
    app.running.state.now().saturating_add(from_now).to_rfc3339()
}

both_backends!(
    five_secrets_work_side_by_side_and_each_ends_alone,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, client_id, first) = app.partner(&admin, "Many Secrets", &["engage-worker"]).await;
        let app_id = view["id"].as_str().unwrap().to_owned();
        let mut secrets = vec![(
            list(&app, &admin, &app_id).await[0]["id"].as_str().unwrap().to_owned(),
            first,
        )];
        for n in 2..=5 {
            let r = add_secret(&app, &admin, &app_id, json!({"label": format!("deployment {n}")})).await;
            assert_eq!(casebook_tests::header(&r, reqwest::header::CACHE_CONTROL), "no-store");
            let added = expect(r, 201).await;
            assert_eq!(added["client_id"], client_id.as_str());
            assert_eq!(added["label"], format!("deployment {n}"));
            assert!(added["expires_at"].is_null(), "{added}");
            secrets.push((
                added["id"].as_str().unwrap().to_owned(),
                added["client_secret"].as_str().unwrap().to_owned(),
            ));
        }
        for (_, secret) in &secrets {
            assert_eq!(token_status(&app, &client_id, secret).await, 200);
        }
        let sixth = problem(add_secret(&app, &admin, &app_id, json!({})).await, 409).await;
        assert!(sixth["detail"].as_str().unwrap().contains('5'), "{sixth}");

        let listed = list(&app, &admin, &app_id).await;
        assert_eq!(listed.len(), 5);
        for item in &listed {
            assert_eq!(item["status"], "active");
            assert!(item.get("client_secret").is_none(), "never a value in the list: {item}");
        }
        assert_eq!(listed[0]["label"], "deployment 5", "newest first");

        // One shown again by its id, with the admin's password.
        let (third_id, third) = &secrets[2];
        let shown = expect(
            app.post_json(
                &format!("{}/{third_id}/reveal", secrets_path(&app_id)),
                &admin,
                &json!({"password": ADMIN_PASSWORD}),
            )
            .await,
            200,
        )
        .await;
        assert_eq!(shown["client_secret"], third.as_str());

        // Ending one leaves the others working, and makes room for another.
        assert_eq!(
            app.delete(&format!("{}/{third_id}", secrets_path(&app_id)), &admin)
                .await
                .status(),
            204
        );
        assert_eq!(token_status(&app, &client_id, third).await, 401);
        for (id, secret) in &secrets {
            if id != third_id {
                assert_eq!(token_status(&app, &client_id, secret).await, 200, "{id}");
            }
        }
        assert_eq!(list(&app, &admin, &app_id).await.len(), 4);
        expect(add_secret(&app, &admin, &app_id, json!({})).await, 201).await;
        problem(
            app.delete(&format!("{}/{third_id}", secrets_path(&app_id)), &admin)
                .await,
            404,
        )
        .await;

        // The key icon shows the newest active secret; a rotation without a grace
        // period ends every other one at once.
        let newest = app.reveal(&admin, &app_id).await;
        assert_eq!(token_status(&app, &client_id, &newest).await, 200);
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
        for (_, secret) in &secrets {
            assert_eq!(token_status(&app, &client_id, secret).await, 401);
        }
        let current = rotated["client_secret"].as_str().unwrap();
        assert_eq!(token_status(&app, &client_id, current).await, 200);
        assert_eq!(list(&app, &admin, &app_id).await.len(), 1);
    }
);

both_backends!(
    new_secrets_are_checked_before_anything_changes,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, _, _) = app.partner(&admin, "Checked Secrets", &["engage-worker"]).await;
        let app_id = view["id"].as_str().unwrap();
        let refused = problem(
            add_secret(
                &app,
                &admin,
                app_id,
                json!({"label": "x".repeat(101), "expires_at": "next tuesday"}),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(
            field_codes(&refused),
            pairs(&[("label", "too_long"), ("expires_at", "invalid_value")])
        );
        let past = in_rfc3339(Duration::ZERO, &app);
        let refused = problem(add_secret(&app, &admin, app_id, json!({"expires_at": past})).await, 422).await;
        assert_eq!(field_codes(&refused), pairs(&[("expires_at", "invalid_value")]));
        let refused = problem(add_secret(&app, &admin, app_id, json!({"colour": "blue"})).await, 422).await;
        assert_eq!(field_codes(&refused), pairs(&[("colour", "unknown_field")]));
        // A wrong password costs an attempt and adds nothing.
        let wrong = app
            .post_json(&secrets_path(app_id), &admin, &json!({"password": "not the password"}))
            .await;
        problem(wrong, 403).await;
        problem(app.get(&secrets_path("no-such-application"), &admin).await, 404).await;
        assert_eq!(list(&app, &admin, app_id).await.len(), 1);
    }
);

both_backends!(
    an_expired_secret_is_refused_and_audited,
    spawn = Spawn::with_manual_clock(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, client_id, lasting) = app.partner(&admin, "Expiring Partner", &["engage-worker"]).await;
        let app_id = view["id"].as_str().unwrap();
        let until = in_rfc3339(Duration::from_secs(3600), &app);
        let added = expect(
            add_secret(&app, &admin, app_id, json!({"label": "short", "expires_at": until})).await,
            201,
        )
        .await;
        let short = added["client_secret"].as_str().unwrap();
        assert_eq!(added["expires_at"], until.as_str());
        assert_eq!(token_status(&app, &client_id, short).await, 200);

        app.advance_clock(Duration::from_secs(3601));
        let r = app.token_response(&client_id, short, None).await;
        assert_eq!(expect(r, 401).await["error"], "invalid_client");
        assert_eq!(
            token_status(&app, &client_id, &lasting).await,
            200,
            "the other still works"
        );
        let admin = app.admin_token().await;
        let events = expired_uses_audited(&app, &admin, app_id, 1).await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["target_id"], app_id);
        assert!(
            events[0]["detail"]
                .as_str()
                .unwrap()
                .contains(added["id"].as_str().unwrap()),
            "{events:?}"
        );
        let statuses: Vec<Value> = list(&app, &admin, app_id)
            .await
            .iter()
            .map(|s| s["status"].clone())
            .collect();
        assert_eq!(statuses, [json!("expired"), json!("active")]);
        // An expired secret leaves room for a new one.
        for _ in 0..4 {
            expect(add_secret(&app, &admin, app_id, json!({})).await, 201).await;
        }
        // Listed for a month after it expired, then removed; the others stay.
        let policy = SecretPolicy::default();
        assert_eq!(
            store::purge_expired_secrets(app.running.state.db(), &policy)
                .await
                .unwrap(),
            0
        );
        app.advance_clock(store::EXPIRED_SECRET_KEPT);
        assert_eq!(
            store::purge_expired_secrets(app.running.state.db(), &policy)
                .await
                .unwrap(),
            1
        );
        // Still known as ended, so a leak report of it is a real leak.
        let ended: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ended_secrets WHERE application_id = $1")
            .bind(app_id)
            .fetch_one(app.running.state.db().pool())
            .await
            .unwrap();
        assert_eq!(ended, 1);
        let admin = app.admin_token().await;
        assert_eq!(list(&app, &admin, app_id).await.len(), 5);
    }
);

fn capped_at_thirty_days() -> Spawn {
    Spawn {
        secret_policy: SecretPolicy::from_max_age_days(Some(30)).unwrap(),
        ..Spawn::with_manual_clock()
    }
}

both_backends!(
    the_install_most_bounds_every_secret,
    spawn = capped_at_thirty_days(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, client_id, secret) = app.partner(&admin, "Capped Partner", &["engage-worker"]).await;
        let app_id = view["id"].as_str().unwrap();
        let first = &list(&app, &admin, app_id).await[0];
        assert_eq!(first["expires_at"], in_rfc3339(30 * DAY, &app).as_str(), "{first}");
        let too_late = in_rfc3339(31 * DAY, &app);
        let refused = problem(
            add_secret(&app, &admin, app_id, json!({"expires_at": too_late})).await,
            422,
        )
        .await;
        assert!(
            refused["errors"][0]["message"].as_str().unwrap().contains("30 days"),
            "{refused}"
        );

        app.advance_clock(30 * DAY + Duration::from_secs(1));
        assert_eq!(token_status(&app, &client_id, &secret).await, 401);
    }
);

both_backends!(
    last_use_is_kept_to_the_minute_without_a_write_per_token,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, client_id, secret) = app.partner(&admin, "Busy Partner", &["engage-worker"]).await;
        let app_id = view["id"].as_str().unwrap();
        expect(add_secret(&app, &admin, app_id, json!({"label": "idle"})).await, 201).await;
        let state = &app.running.state;
        let writes = || state.metrics().secret_use_writes.get();
        state.secret_uses().flush(state.db()).await.unwrap();
        let before = writes();
        for _ in 0..25 {
            assert_eq!(token_status(&app, &client_id, &secret).await, 200);
        }
        // Shown at once on this replica, from memory.
        let listed = list(&app, &admin, app_id).await;
        let (idle, used) = (&listed[0], &listed[1]);
        assert!(idle["last_used_at"].is_null(), "{idle}");
        assert!(used["last_used_at"].as_str().unwrap().ends_with(":00Z"), "{used}");
        state.secret_uses().flush(state.db()).await.unwrap();
        // 25 tokens, at most two statements (the housekeeping loop may have
        // written the same minute's stamp in between).
        let written = writes() - before;
        assert!((1..=2).contains(&written), "{written} writes for 25 tokens");
        state.secret_uses().flush(state.db()).await.unwrap();
        assert_eq!(writes() - before, written, "nothing new, nothing written");
        let stored: Option<i64> =
            sqlx::query_scalar::<_, Option<i64>>("SELECT last_used_at FROM client_secrets WHERE id = $1")
                .bind(used["id"].as_str().unwrap())
                .fetch_one(state.db().pool())
                .await
                .unwrap();
        assert!(stored.is_some());
        // A replica sees the stored stamp.
        let replica = app.replica().await;
        let seen = list(&replica, &admin, app_id).await;
        assert_eq!(seen[1]["last_used_at"], used["last_used_at"]);
    }
);

/// Reminders and their delivery are driven by the test, on a clock it moves.
fn reminders_by_hand() -> Spawn {
    let mut spawn = Spawn::with_manual_clock();
    spawn.options.deliver_notifications = without_delivery().options.deliver_notifications;
    spawn
}

both_backends!(
    expiry_reminders_go_out_once_each_and_by_smtp,
    spawn = reminders_by_hand(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, _, _) = app.partner(&admin, "Reminded Partner", &["engage-worker"]).await;
        let app_id = view["id"].as_str().unwrap();
        let until = in_rfc3339(40 * DAY, &app);
        expect(
            add_secret(&app, &admin, app_id, json!({"label": "yearly", "expires_at": until})).await,
            201,
        )
        .await;
        let state = &app.running.state;
        let policy = SecretPolicy::default();
        let reminders = |app: &TestApp| {
            let db = app.running.state.db().clone();
            async move { store::send_expiry_reminders(&db, &policy).await.unwrap() }
        };
        let reminders_queued = || async {
            outbox(&app)
                .await
                .into_iter()
                .filter(|(_, subject, ..)| subject.contains("a client secret of Reminded Partner"))
                .map(|(_, subject, ..)| subject)
                .collect::<Vec<_>>()
        };
        assert_eq!(reminders(&app).await, 0, "40 days ahead: nothing yet");

        let mut expected = Vec::new();
        for (advance, subject) in [
            (10 * DAY + Duration::from_secs(60), "expires within 30 day(s)"),
            (23 * DAY, "expires within 7 day(s)"),
            (6 * DAY, "expires within 1 day(s)"),
            (DAY, "has expired"),
        ] {
            app.advance_clock(advance);
            // Two looks at once, as two replicas would; one of them sends it.
            let (a, b) = tokio::join!(reminders(&app), reminders(&app));
            assert_eq!(a + b, 1, "{subject}");
            assert_eq!(reminders(&app).await, 0);
            expected.push(format!("Casebook: a client secret of Reminded Partner {subject}"));
            assert_eq!(reminders_queued().await, expected);
        }

        // Delivered through an SMTP relay on loopback, to the application's address.
        let (port, mut received) = fake_relay().await;
        let mailer = Mailer::from_url(Some(&format!("smtp://127.0.0.1:{port}")), None, &[]).unwrap();
        notify::deliver_due(
            state.db(),
            state.master(),
            &mailer,
            &state.metrics().outbox_delivery_failures,
        )
        .await
        .unwrap();
        let mut messages = Vec::new();
        while let Ok(Some(message)) = tokio::time::timeout(Duration::from_secs(5), received.recv()).await {
            messages.push(message);
            if messages.iter().filter(|m| m.contains("yearly")).count() == 4 {
                break;
            }
        }
        let last = messages
            .iter()
            .rfind(|m| m.contains("has expired"))
            .expect("the expiry notice");
        assert!(last.contains("To: reminded-partner@partner.example.org"), "{last}");
        assert!(
            last.contains("The client secret \"yearly\" of Reminded Partner expired at"),
            "{last}"
        );
    }
);

async fn rotate(app: &TestApp, admin: &str, app_id: &str, grace_seconds: u64) -> reqwest::Response {
    app.post_json(
        &format!("/admin/v1/external-applications/{app_id}/client-secret/rotate"),
        admin,
        &json!({"password": ADMIN_PASSWORD, "grace_period_seconds": grace_seconds}),
    )
    .await
}

both_backends!(a_rotation_with_grace_cannot_pass_the_cap, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let (view, client_id, first) = app.partner(&admin, "Rotating Partner", &["engage-worker"]).await;
    let app_id = view["id"].as_str().unwrap();
    let mut working = vec![first];
    for _ in 0..3 {
        let added = expect(add_secret(&app, &admin, app_id, json!({})).await, 201).await;
        working.push(added["client_secret"].as_str().unwrap().to_owned());
    }
    // Four working: a rotation with grace leaves five, which fits.
    let rotated = expect(rotate(&app, &admin, app_id, 86_400).await, 200).await;
    working.push(rotated["client_secret"].as_str().unwrap().to_owned());
    // Five working: every further rotation with grace would make six.
    for _ in 0..12 {
        let refused = problem(rotate(&app, &admin, app_id, 86_400).await, 409).await;
        let detail = refused["detail"].as_str().unwrap();
        assert!(
            detail.contains('5') && detail.contains("grace"),
            "tells the admin what to do: {refused}"
        );
    }
    assert_eq!(
        list(&app, &admin, app_id).await.len(),
        5,
        "a refused rotation adds nothing"
    );
    for secret in &working {
        assert_eq!(token_status(&app, &client_id, secret).await, 200);
    }
    // Without grace the others end, so it always fits.
    let rotated = expect(rotate(&app, &admin, app_id, 0).await, 200).await;
    let current = rotated["client_secret"].as_str().unwrap();
    assert_eq!(token_status(&app, &client_id, current).await, 200);
    assert_eq!(list(&app, &admin, app_id).await.len(), 1);
    for _ in 0..4 {
        expect(rotate(&app, &admin, app_id, 60).await, 200).await;
    }
    problem(rotate(&app, &admin, app_id, 60).await, 409).await;
});

/// The audit rows of expired secrets presented for application `app_id`,
/// once at least `at_least` are there: they are written in the background.
async fn expired_uses_audited(app: &TestApp, admin: &str, app_id: &str, at_least: usize) -> Vec<Value> {
    let path = format!("/admin/v1/audit-events?action=application.expired_secret_refused&target_id={app_id}");
    let mut items = Vec::new();
    for _ in 0..50 {
        let page = expect(app.get(&path, admin).await, 200).await;
        items = page["items"].as_array().unwrap().clone();
        if items.len() >= at_least {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    items
}

both_backends!(
    an_expired_secret_is_audited_once_a_minute_per_source_and_answered_as_a_wrong_one,
    spawn = {
        let mut spawn = Spawn::with_manual_clock();
        spawn.trusted_proxies = casebook_server::client_addr::TrustedProxies::parse("127.0.0.1/32").unwrap();
        spawn
    },
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, client_id, _) = app.partner(&admin, "Stale Partner", &["engage-worker"]).await;
        let app_id = view["id"].as_str().unwrap();
        let until = in_rfc3339(Duration::from_secs(3600), &app);
        let added = expect(
            add_secret(&app, &admin, app_id, json!({"expires_at": until})).await,
            201,
        )
        .await;
        let expired = added["client_secret"].as_str().unwrap().to_owned();
        app.advance_clock(Duration::from_secs(3601));
        let admin = app.admin_token().await;
        let from = |address: &'static str, secret: String| {
            let (app, client_id) = (&app, &client_id);
            async move {
                let r = app
                    .http
                    .post(app.url("/oauth2/token"))
                    .header("x-forwarded-for", address)
                    .form(&[
                        ("grant_type", "client_credentials"),
                        ("client_id", client_id.as_str()),
                        ("client_secret", secret.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap())
            }
        };
        // Answered exactly as a wrong secret is, from a fresh source each.
        let wrong = casebook_domain::ClientSecret::from_random([7; casebook_domain::credentials::CLIENT_SECRET_BYTES]);
        let as_wrong = from("203.0.113.1", wrong.expose().to_owned()).await;
        let as_expired = from("203.0.113.2", expired.clone()).await;
        assert_eq!(as_expired, as_wrong);
        assert_eq!(as_expired.0, 401);

        for _ in 0..19 {
            let (status, body) = from("203.0.113.2", expired.clone()).await;
            assert!(status == 401 || status == 429, "{status} {body}");
            assert_eq!(body["error"], "invalid_client");
        }
        assert_eq!(expired_uses_audited(&app, &admin, app_id, 1).await.len(), 1);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rows = expired_uses_audited(&app, &admin, app_id, 1).await;
        assert_eq!(rows.len(), 1, "20 tries from one source, one row: {rows:?}");
        assert!(rows[0]["detail"].as_str().unwrap().contains("203.0.113.2"), "{rows:?}");

        // Another source is another row.
        for _ in 0..3 {
            assert_eq!(from("203.0.113.3", expired.clone()).await.1["error"], "invalid_client");
        }
        let rows = expired_uses_audited(&app, &admin, app_id, 2).await;
        assert_eq!(rows.len(), 2, "{rows:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(expired_uses_audited(&app, &admin, app_id, 2).await.len(), 2);
    }
);

both_backends!(an_ended_secret_stays_listed_as_what_it_was, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let (view, _, first) = app.partner(&admin, "Ending Partner", &["engage-worker"]).await;
    let app_id = view["id"].as_str().unwrap().to_owned();
    let first_id = list(&app, &admin, &app_id).await[0]["id"].as_str().unwrap().to_owned();
    let added = expect(
        add_secret(&app, &admin, &app_id, json!({"label": "old laptop"})).await,
        201,
    )
    .await;
    let laptop_id = added["id"].as_str().unwrap().to_owned();
    expect(
        app.delete(&format!("{}/{laptop_id}", secrets_path(&app_id)), &admin)
            .await,
        204,
    )
    .await;
    // A rotation with no grace ends the first secret too.
    expect(rotate(&app, &admin, &app_id, 0).await, 200).await;
    let listed = expect(app.get(&secrets_path(&app_id), &admin).await, 200).await;
    let ended: Vec<(&str, Option<&str>)> = listed["ended"]
        .as_array()
        .expect("ended")
        .iter()
        .map(|e| (e["id"].as_str().unwrap(), e["label"].as_str()))
        .collect();
    assert_eq!(
        ended,
        [(first_id.as_str(), None), (laptop_id.as_str(), Some("old laptop"))],
        "newest end first: {listed}"
    );
    assert!(listed["ended"][0]["ended_at"].is_string() && listed["ended"][1]["created_at"].is_string());
    assert!(!listed.to_string().contains(&first), "never a value");
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "only the new secret works"
    );
});
