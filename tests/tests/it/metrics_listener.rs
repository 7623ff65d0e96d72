//! `/metrics`: token requests by outcome, cache lookups, the database pool
//! and the outbox; and `CASEBOOK_METRICS_ADDR`, which moves it off the main
//! listener onto one of its own.

use casebook_server::config::Backend;
use casebook_tests::*;

async fn metrics_text(http: &reqwest::Client, url: &str) -> String {
    let r = http.get(url).send().await.expect("send");
    assert_eq!(r.status(), 200, "{url}");
    r.text().await.expect("text")
}

/// The value of the sample named exactly `name` (labels included), if the
/// text has it.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

fn outcome(name: &str) -> String {
    format!("casebook_token_requests_total{{outcome=\"{name}\"}}")
}

fn lookups(cache: &str, result: &str) -> String {
    format!("casebook_cache_lookups_total{{cache=\"{cache}\",result=\"{result}\"}}")
}

both_backends!(
    token_requests_caches_and_the_pool_are_measured,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Measured Partner", &["engage-worker"]).await;
        let url = app.url("/metrics");
        let before = metrics_text(&app.http, &url).await;
        let at_start = |name: &str| sample(&before, name).unwrap_or_else(|| panic!("{name} in {before}"));
        for name in [
            "issued",
            "invalid_client",
            "invalid_scope",
            "rate_limited",
            "quota_exceeded",
        ] {
            at_start(&outcome(name));
        }

        // Granted until the client cache answers: the first lookup reads
        // storage; a later one, within the cache TTL, must not.
        let mut granted = 0.0;
        let mut token = String::new();
        while granted < 10.0 {
            token = app.access_token(&client_id, &secret).await;
            granted += 1.0;
            let now = metrics_text(&app.http, &url).await;
            if sample(&now, &lookups("client", "hit")) > Some(at_start(&lookups("client", "hit"))) {
                break;
            }
        }
        let wrong = app.token_response(&client_id, "not the secret", None).await;
        assert_eq!(wrong.status(), 401);
        let narrowed = app.token_response(&client_id, &secret, Some("admin:delete")).await;
        assert_eq!(narrowed.status(), 400);
        for _ in 0..3 {
            assert_eq!(app.get("/api/v1/me", &token).await.status(), 200);
        }

        let after = metrics_text(&app.http, &url).await;
        let moved = |name: &str| sample(&after, name).unwrap_or_else(|| panic!("{name} in {after}")) - at_start(name);
        assert_eq!(moved(&outcome("issued")), granted);
        assert_eq!(moved("casebook_access_tokens_issued_total"), granted);
        assert_eq!(moved(&outcome("invalid_client")), 1.0);
        assert_eq!(moved(&outcome("invalid_scope")), 1.0);
        assert_eq!(moved(&outcome("rate_limited")), 0.0);
        assert!(moved(&lookups("client", "miss")) >= 1.0, "{after}");
        assert!(moved(&lookups("client", "hit")) >= 1.0, "{after}");
        // Every request whose credentials were worth checking looked the client
        // up once; the mistyped secret was refused by its shape alone.
        assert_eq!(
            moved(&lookups("client", "hit")) + moved(&lookups("client", "miss")),
            granted + 1.0
        );
        assert_eq!(
            moved(&lookups("access_token", "hit")) + moved(&lookups("access_token", "miss")),
            3.0
        );
        assert!(moved(&lookups("access_token", "miss")) >= 1.0, "{after}");
        // No label names the client.
        assert!(!after.contains(&client_id), "a Client ID in /metrics");

        let max = sample(&after, "casebook_db_pool_max_connections").expect("pool max");
        let idle = sample(&after, "casebook_db_pool_connections{state=\"idle\"}").expect("idle");
        let in_use = sample(&after, "casebook_db_pool_connections{state=\"in_use\"}").expect("in use");
        assert!(max >= 1.0 && idle + in_use <= max && idle + in_use >= 1.0, "{after}");
        // The registration's notice waits in the outbox (delivery runs every 5 s).
        assert!(sample(&after, "casebook_outbox_depth").is_some(), "{after}");
        assert!(
            sample(&after, "casebook_outbox_delivery_failures_total").is_some(),
            "{after}"
        );
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_metrics_address_metrics_are_served_there_only() {
    let Some(binary) = casebook_binary() else {
        return;
    };
    let db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let metrics_addr = free_addr();
    let mut served = ServeProcess::start(&binary, db, &[("CASEBOOK_METRICS_ADDR", metrics_addr.to_string())]).await;
    served
        .wait_for_log(&format!("metrics: http://{metrics_addr}/metrics"), 0)
        .await;
    let http = reqwest::Client::new();
    let r = http
        .post(served.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "nobody"),
            ("client_secret", "nothing"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);

    let text = metrics_text(&http, &format!("http://{metrics_addr}/metrics")).await;
    assert_eq!(sample(&text, &outcome("invalid_client")), Some(1.0), "{text}");
    for name in [
        outcome("issued"),
        lookups("client", "miss"),
        lookups("access_token", "hit"),
        "casebook_db_pool_max_connections".to_owned(),
        "casebook_db_pool_connections{state=\"idle\"}".to_owned(),
        "casebook_outbox_depth".to_owned(),
        "casebook_outbox_delivery_failures_total".to_owned(),
    ] {
        assert!(sample(&text, &name).is_some(), "{name} in {text}");
    }
    assert!(
        text.contains("casebook_http_requests_total{method=\"POST\",route=\"/oauth2/token\",status=\"401\"} 1"),
        "the main listener's requests are counted: {text}"
    );

    // The metrics listener serves nothing else.
    let r = http
        .get(format!("http://{metrics_addr}/healthz"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    // The main listener serves everything else, and not metrics.
    let r = http.get(served.url("/healthz")).send().await.expect("send");
    assert_eq!(r.status(), 200);
    let r = http.get(served.url("/metrics")).send().await.expect("send");
    problem(r, 404).await;
}
