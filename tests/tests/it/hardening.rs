//! Edges that were soft: throttles that cannot be turned against the owner,
//! revocations that touch only their token, and strict input at the edges.

use casebook_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, both_backends};
use serde_json::{Value, json};
use std::net::IpAddr;
use std::time::{Duration, Instant};

fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().expect("address"))
        .build()
        .expect("client")
}

both_backends!(
    nobody_can_keep_an_administrator_from_signing_in,
    |app: TestApp| async move {
        let attacker = client_from("127.0.0.2");
        let owner = client_from("127.0.0.3");
        let sign_in = async |client: &reqwest::Client, password: &str| {
            client
                .post(app.url("/admin/v1/sessions"))
                .json(&json!({"email": ADMIN_EMAIL, "password": password}))
                .send()
                .await
                .expect("send")
                .status()
                .as_u16()
        };
        let mut throttled = false;
        for _ in 0..15 {
            if sign_in(&attacker, "a wrong guess at the password").await == 429 {
                throttled = true;
                break;
            }
        }
        assert!(throttled, "guessing from one source is throttled");
        // The attack keeps going while the owner signs in from elsewhere.
        assert_eq!(sign_in(&attacker, "another wrong guess").await, 429);
        assert_eq!(sign_in(&owner, ADMIN_PASSWORD).await, 201);
        assert_eq!(
            sign_in(&attacker, ADMIN_PASSWORD).await,
            429,
            "not even the right password from there"
        );
    }
);

both_backends!(
    a_throttled_source_is_refused_before_any_secret_is_checked,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app.partner(&admin, "Target", &["engage-worker"]).await;
        let attacker = client_from("127.0.0.2");
        let token = async |client: &reqwest::Client, id: &str, secret: &str| {
            client
                .post(app.url("/oauth2/token"))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", id),
                    ("client_secret", secret),
                ])
                .send()
                .await
                .expect("send")
                .status()
                .as_u16()
        };
        // Spend the source's budget on made-up clients, not on the target.
        let mut throttled = false;
        for i in 0..40u8 {
            let made_up = casebook_domain::ClientId::from_random([i; casebook_domain::credentials::CLIENT_ID_BYTES]);
            if token(&attacker, made_up.as_str(), "wrong").await == 429 {
                throttled = true;
                break;
            }
        }
        assert!(throttled, "failures from one source are throttled");
        assert_eq!(
            token(&attacker, &client_id, &secret).await,
            429,
            "a right guess from a throttled source is not confirmed"
        );
        assert_eq!(token(&client_from("127.0.0.3"), &client_id, &secret).await, 200);
    }
);

both_backends!(
    unknown_client_ids_are_remembered_within_bounds,
    |app: TestApp| async move {
        let state = &app.running.state;
        let made_up = casebook_domain::ClientId::from_random([7; casebook_domain::credentials::CLIENT_ID_BYTES]);
        // A well-formed secret: a mistyped one is refused before any lookup.
        let wrong = casebook_domain::ClientSecret::from_random([7; casebook_domain::credentials::CLIENT_SECRET_BYTES]);
        let r = app.token_response(made_up.as_str(), wrong.expose(), None).await;
        assert_eq!(r.status(), 401);
        assert!(
            state.caches().knows_unknown(made_up.as_str()),
            "the next try of this ID costs no storage read, like a known client"
        );
        assert_eq!(
            state.caches().cached_clients(),
            0,
            "unknown IDs do not take the place of real clients"
        );
    }
);

async fn me(http: &reqwest::Client, base: &str, token: &str) -> u16 {
    http.get(format!("{base}/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

both_backends!(
    a_revocation_reaches_every_replica_and_touches_only_its_token,
    |app: TestApp| async move {
        use casebook_tests::casebook_server::{self as server, config::Config};
        let admin = app.admin_token().await;
        let (_, revoking_id, revoking_secret) = app.partner(&admin, "Revoker", &["engage-worker"]).await;
        let (_, bystander_id, bystander_secret) = app.partner(&admin, "Bystander", &["engage-worker"]).await;
        let revoked = app.access_token(&revoking_id, &revoking_secret).await;
        let kept = app.access_token(&bystander_id, &bystander_secret).await;
        let other = server::start(
            Config {
                addr: "127.0.0.1:0".parse().unwrap(),
                ..app.running.state.config().clone()
            },
            server::TestOptions::default(),
        )
        .await
        .expect("second replica");
        let other_base = format!("http://{}", other.addr);
        // Registering assigned roles, which moves every replica's cache epoch
        // at its next poll (two a second): let that settle before filling the
        // caches whose survival is the point.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        for base in [app.base_url.as_str(), other_base.as_str()] {
            assert_eq!(me(&app.http, base, &revoked).await, 200);
            assert_eq!(me(&app.http, base, &kept).await, 200);
        }
        let r = app
            .http
            .post(app.url("/oauth2/revoke"))
            .basic_auth(&revoking_id, Some(&revoking_secret))
            .form(&[("token", revoked.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            me(&app.http, &app.base_url, &revoked).await,
            401,
            "at once where it was revoked"
        );
        let start = Instant::now();
        while me(&app.http, &other_base, &revoked).await != 401 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the other replica refuses it within 5 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for (replica, state) in [&app.running.state, &other.state].into_iter().enumerate() {
            assert!(
                state.caches().holds_token(&kept),
                "replica {replica}: the bystander's cached token survives the revocation"
            );
        }
        assert_eq!(me(&app.http, &other_base, &kept).await, 200);
    }
);

both_backends!(edges_refuse_what_they_cannot_read, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let long = "a".repeat(25_000);
    for filter in ["name", "email"] {
        let r = app
            .get(&format!("/admin/v1/external-applications?{filter}={long}"), &admin)
            .await;
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["errors"][0]["field"], filter);
        assert_eq!(body["errors"][0]["code"], "too_long");
    }
    let r = app.get("/admin/v1/external-applications?name=%FF%FE", &admin).await;
    assert_eq!(r.status(), 400, "bytes that are not UTF-8 are not a name");
    let r = app
        .http
        .get(app.url("/api/v1/me"))
        .header("authorization", format!("Bearer {admin}"))
        .header("authorization", "Bearer someone-else")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "two credentials are not guessed between");
    let r = app
        .http
        .post(app.url("/admin/v1/sessions"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
});
#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn(casebook_tests::casebook_server::config::Backend::Sqlite)
        .await
        .expect("sqlite");
    let admin = app.admin_token().await;
    app.register(&admin, "Private", "private@partner.example.org", &["engage-worker"])
        .await;
    let path = app.db.url.trim_start_matches("sqlite://").to_owned();
    for file in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
        let mode = std::fs::metadata(&file).expect(&file).permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file} is {mode:o}");
    }
}
