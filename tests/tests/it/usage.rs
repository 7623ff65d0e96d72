//! Usage at a glance (the contract, "Usage at a glance"): every token
//! issued and every refusal, by reason, counted per application and hour,
//! summed over replicas, visible within 15 seconds, kept 30 days.

use casebook_tests::casebook_server::store;
use casebook_tests::{ADMIN_PASSWORD, APPS, Spawn, TestApp, both_backends, expect, id_of, problem};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The contract's bound on how long a count takes to show.
const VISIBLE_WITHIN: Duration = Duration::from_secs(15);

/// Every count of an answer, summed over its buckets, by name.
fn totals(usage: &Value) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for bucket in usage["buckets"].as_array().expect("buckets") {
        let start = bucket["start"].as_str().expect("start");
        assert!(start.ends_with(":00:00Z"), "on the hour: {start}");
        for name in ["issued", "api_refused"] {
            *out.entry(name.to_owned()).or_default() += bucket[name].as_i64().expect(name);
        }
        for (name, n) in bucket["refused"].as_object().expect("refused") {
            *out.entry(name.clone()).or_default() += n.as_i64().expect("count");
        }
    }
    out.retain(|_, n| *n != 0);
    out
}

fn expected(counts: &[(&str, i64)]) -> BTreeMap<String, i64> {
    counts
        .iter()
        .filter(|(_, n)| *n != 0)
        .map(|(k, n)| ((*k).to_owned(), *n))
        .collect()
}

/// Polls an application's usage until it equals `want`, at most [`VISIBLE_WITHIN`].
async fn wait_for(app: &TestApp, admin: &str, id: &str, want: &BTreeMap<String, i64>) {
    let started = Instant::now();
    loop {
        let usage = expect(app.get(&format!("{APPS}/{id}/usage"), admin).await, 200).await;
        let got = totals(&usage);
        if &got == want {
            return;
        }
        assert!(
            started.elapsed() < VISIBLE_WITHIN,
            "after {VISIBLE_WITHIN:?}: {got:?}, expected {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn mistyped(secret: &str) -> String {
    let mut chars: Vec<char> = secret.chars().collect();
    let last = chars.last_mut().expect("a secret");
    *last = if *last == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

async fn assertion_refused(app: &TestApp, client_id: &str) -> u16 {
    // A JWT's shape, signed by no one.
    let assertion = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4Iiwic3ViIjoieCJ9.c2lnbmF0dXJl";
    let r = app
        .http
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .expect("send");
    r.status().as_u16()
}

both_backends!(
    every_reason_counts_what_was_sent_across_two_replicas,
    spawn = Spawn::with_manual_clock(),
    |app: TestApp| async move {
        let replicas = [app.clone(), app.replica().await];
        let admin = app.admin_token().await;
        let quota: i64 = 3;
        let body = json!({"name": "Counted Partner", "email": "counted@partner.example.org",
            "roles": ["engage-worker"], "token_quota_per_hour": quota});
        let view = expect(app.post_json(APPS, &admin, &body).await, 201).await;
        let (id, client_id) = (id_of(&view), view["client_id"].as_str().unwrap().to_owned());
        let secret = app.reveal(&admin, &id).await;
        let body = json!({"name": "Fenced Partner", "email": "fenced@partner.example.org",
            "roles": ["engage-worker"], "allowed_sources": ["192.0.2.0/24"]});
        let fenced = expect(app.post_json(APPS, &admin, &body).await, 201).await;
        let fenced_id = id_of(&fenced);
        let fenced_secret = app.reveal(&admin, &fenced_id).await;
        let fenced_client = fenced["client_id"].as_str().unwrap().to_owned();

        let (mut issued, mut over_quota, mut token) = (0, 0, String::new());
        for n in 0..quota + 2 {
            let r = replicas[n as usize % 2].token_response(&client_id, &secret, None).await;
            match r.status().as_u16() {
                200 => {
                    issued += 1;
                    token = r.json::<Value>().await.unwrap()["access_token"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                }
                429 => over_quota += 1,
                other => panic!("token request {n}: {other}"),
            }
        }
        assert_eq!((issued, over_quota), (quota, 2));
        for replica in &replicas {
            let r = replica.token_response(&client_id, &mistyped(&secret), None).await;
            assert_eq!(r.status(), 401);
            assert_eq!(assertion_refused(replica, &client_id).await, 401);
            // An API call the token's roles do not allow.
            assert_eq!(replica.get("/admin/v1/users", &token).await.status(), 403);
            let r = replica.token_response(&fenced_client, &fenced_secret, None).await;
            assert_eq!(r.status(), 401, "from outside allowed_sources");
        }
        // A token of the application honoured, then revoked: the next call
        // is a 401 with its token, counted as the 403s are.
        assert_eq!(app.get("/api/v1/me", &token).await.status(), 200);
        let r = app
            .http
            .post(app.url("/oauth2/revoke"))
            .form(&[
                ("token", token.as_str()),
                ("client_id", &client_id),
                ("client_secret", &secret),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(app.get("/api/v1/me", &token).await.status(), 401);
        // A secret rotated with a grace period, presented after it ended.
        let rotate = json!({"password": ADMIN_PASSWORD, "grace_period_seconds": 60});
        let rotated = app
            .post_json(&format!("{APPS}/{id}/client-secret/rotate"), &admin, &rotate)
            .await;
        expect(rotated, 200).await;
        app.advance_clock(Duration::from_secs(61));
        // Asked where it was rotated: the other replica's cache may hold
        // the application as it was for a moment longer.
        let r = app.token_response(&client_id, &secret, None).await;
        assert_eq!(r.status(), 401);

        let want = expected(&[
            ("issued", quota),
            ("quota_exceeded", 2),
            ("invalid_secret", 2),
            ("assertion_refused", 2),
            ("api_refused", 3),
            ("expired_secret", 1),
        ]);
        wait_for(&app, &admin, &id, &want).await;
        wait_for(
            &replicas[1],
            &admin,
            &fenced_id,
            &expected(&[("source_not_allowed", 2)]),
        )
        .await;

        // The tenant's overview sums them and names both applications.
        let tenant = expect(app.get("/admin/v1/usage", &admin).await, 200).await;
        let mut all = want.clone();
        all.insert("source_not_allowed".into(), 2);
        assert_eq!(totals(&tenant), all);
        let listed: Vec<&str> = tenant["applications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        assert_eq!(listed, [id.as_str(), fenced_id.as_str()], "most active first");
        assert!(tenant["applications"][0]["last_activity"].is_string());
        assert_eq!(tenant["applications"][0]["issued"], quota);
    }
);

both_backends!(
    counts_older_than_thirty_days_are_dropped,
    spawn = Spawn::with_manual_clock(),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, client_id, secret) = app.partner(&admin, "Old Partner", &["engage-worker"]).await;
        let id = id_of(&view);
        app.access_token(&client_id, &secret).await;
        let state = &app.running.state;
        state.usage().flush(state.db()).await.expect("flush");
        let path = format!("{APPS}/{id}/usage");
        assert_eq!(
            totals(&expect(app.get(&path, &admin).await, 200).await),
            expected(&[("issued", 1)])
        );

        app.advance_clock(Duration::from_secs(31 * 24 * 3600));
        let kept_from = casebook_domain::usage::oldest_kept_hour(state.now());
        store::purge_usage(state.db(), kept_from).await.expect("purge");
        let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM usage_counts")
            .fetch_one(state.db().pool())
            .await
            .expect("count");
        assert_eq!(rows, 0, "the 31-day-old bucket is gone");
        let admin = app.admin_token().await;
        // Nor may a request reach back past what is kept.
        let since = casebook_domain::Timestamp::from_unix_micros(kept_from - 1).to_rfc3339();
        let r = app
            .http
            .get(app.url(&path))
            .query(&[("since", since.as_str())])
            .bearer_auth(&admin)
            .send();
        let p = problem(r.await.expect("send"), 422).await;
        assert_eq!(p["errors"][0]["field"], "since", "{p}");
    }
);

both_backends!(an_unknown_application_or_window_is_refused, |app: TestApp| async move {
    let admin = app.admin_token().await;
    problem(app.get(&format!("{APPS}/nope/usage"), &admin).await, 404).await;
    let (view, _, _) = app.partner(&admin, "Quiet Partner", &["engage-worker"]).await;
    let path = format!("{APPS}/{}/usage", id_of(&view));
    let quiet = expect(app.get(&path, &admin).await, 200).await;
    assert_eq!(quiet, json!({"buckets": []}));
    // The Rust SDK reads both answers.
    let sdk = app.sdk_admin().await;
    let id = casebook_domain::ApplicationId::new(id_of(&view));
    let read = sdk.admin().applications().usage(&id, None, None).await.expect("usage");
    assert!(read.buckets.is_empty());
    let tenant = sdk.admin().usage(None, None).await.expect("tenant usage");
    assert!(tenant.applications.is_empty());
    for (query, status) in [
        ("since=yesterday", 422),
        ("until=2020-01-01T00:00:00Z", 422),
        ("colour=blue", 400),
    ] {
        let r = app.get(&format!("{path}?{query}"), &admin).await;
        assert_eq!(r.status(), status, "{query}");
    }
});
