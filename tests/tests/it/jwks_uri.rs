//! `private_key_jwt` applications whose keys are fetched from a `jwks_uri`
//! (the contract's "Client authentication without a shared secret"): the keys come
//! from a real HTTPS host on loopback, trusted through
//! `CASEBOOK_EXTRA_CA_FILE`, and the host counts every fetch, so a test sees
//! the cache, the refetch rule and each refusal as the host does.

use crate::jose::{Key, signed};
use crate::key_host::{Answer, KeyHost, ca_file};
use crate::private_key_jwt::{claims, exchange, refused, token};
use casebook_domain::client_keys::JwksUri;
use casebook_server::config::JwksFetchConfig;
use casebook_server::jwks_fetch::{FetchError, JwksFetcher, Limits};
use casebook_server::metrics::Metrics;
use casebook_tests::{APPS, Spawn, TestApp, both_backends, expect, field_codes, id_of, pairs, problem};
use serde_json::{Value, json};
use std::time::Duration;

fn set(keys: &[(&Key, &str)]) -> Answer {
    Answer::Jwks(json!({"keys": keys.iter().map(|(key, kid)| key.public_jwk(kid)).collect::<Vec<_>>()}))
}

fn registration(name: &str, jwks_uri: &str) -> Value {
    json!({"name": name, "email": format!("{}@partner.example.org", name.to_lowercase().replace(' ', "-")),
        "roles": ["engage-worker"], "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": jwks_uri})
}

/// Registers an application whose keys are at `jwks_uri`; returns `(id, client_id)`.
async fn register(app: &TestApp, admin: &str, name: &str, jwks_uri: &str) -> (String, String) {
    let view = expect(app.post_json(APPS, admin, &registration(name, jwks_uri)).await, 201).await;
    assert_eq!(view["jwks_uri"], jwks_uri);
    assert_eq!(view["jwks"], Value::Null);
    (id_of(&view), view["client_id"].as_str().expect("client_id").to_owned())
}

fn trusting() -> Spawn {
    Spawn::trusting_ca(ca_file(), true)
}

both_backends!(
    rsa_ec_and_ed25519_keys_at_a_uri_each_get_a_token_from_one_fetch,
    spawn = trusting(),
    |app: TestApp| async move {
        let host = KeyHost::start().await;
        let (rsa, ec, ed) = (Key::rsa(), Key::ec(), Key::ed());
        host.answer("/jwks", set(&[(&rsa, "r"), (&ec, "e"), (&ed, "o")]));
        let admin = app.admin_token().await;
        let (id, client) = register(&app, &admin, "Hosted Keys", &host.url("/jwks")).await;
        let view = expect(app.get(&format!("{APPS}/{id}"), &admin).await, 200).await;
        assert_eq!(view["jwks_uri"], host.url("/jwks"));
        assert_eq!(host.asked("/jwks"), 0, "registration fetches nothing");
        for (key, alg, kid) in [
            (&rsa, "RS256", "r"),
            (&rsa, "PS256", "r"),
            (&ec, "ES256", "e"),
            (&ed, "EdDSA", "o"),
        ] {
            let access = token(&app, &signed(key, alg, Some(kid), &claims(&app, &client))).await;
            let me = expect(app.get("/api/v1/me", &access).await, 200).await;
            assert_eq!(me["id"], id.as_str(), "{alg}: {me}");
        }
        assert_eq!(host.asked("/jwks"), 1, "one fetch, then the cache");
        // A key the set does not hold is refused like any other.
        refused(
            &app,
            &signed(&Key::ed(), "EdDSA", Some("o"), &claims(&app, &client)),
            "a stranger's key",
        )
        .await;
    }
);

both_backends!(
    a_rotated_key_is_fetched_once_and_a_second_unknown_kid_inside_a_minute_is_not,
    spawn = trusting(),
    |app: TestApp| async move {
        let host = KeyHost::start().await;
        let (first, second, third) = (Key::ed(), Key::ec(), Key::ed());
        host.answer("/keys", set(&[(&first, "2024")]));
        let admin = app.admin_token().await;
        let (_, client) = register(&app, &admin, "Rotating Partner", &host.url("/keys")).await;
        token(&app, &signed(&first, "EdDSA", Some("2024"), &claims(&app, &client))).await;
        assert_eq!(host.asked("/keys"), 1);
        // The partner rotates: the unknown kid brings the new set at once.
        host.answer("/keys", set(&[(&second, "2025")]));
        token(&app, &signed(&second, "ES256", Some("2025"), &claims(&app, &client))).await;
        assert_eq!(host.asked("/keys"), 2);
        // Another unknown kid inside the minute is refused without a fetch.
        host.answer("/keys", set(&[(&third, "2026")]));
        refused(
            &app,
            &signed(&third, "EdDSA", Some("2026"), &claims(&app, &client)),
            "a second unknown kid inside the minute",
        )
        .await;
        refused(
            &app,
            &signed(&third, "EdDSA", Some("2027"), &claims(&app, &client)),
            "a made-up kid",
        )
        .await;
        assert_eq!(host.asked("/keys"), 2, "no fetch for either");
        token(&app, &signed(&second, "ES256", Some("2025"), &claims(&app, &client))).await;
    }
);

both_backends!(
    a_private_address_needs_the_operators_opt_in,
    spawn = Spawn::trusting_ca(ca_file(), false),
    |app: TestApp| async move {
        let host = KeyHost::start().await;
        let key = Key::ed();
        host.answer("/jwks", set(&[(&key, "k")]));
        let admin = app.admin_token().await;
        for literal in [host.url("/jwks"), format!("https://[::1]:{}/jwks", host.addr.port())] {
            let r = app
                .post_json(APPS, &admin, &registration("Internal Keys", &literal))
                .await;
            assert_eq!(
                field_codes(&problem(r, 422).await),
                pairs(&[("jwks_uri", "private_address")])
            );
        }
        // A name is not resolved at registration; what it resolves to is
        // refused when the fetch would connect.
        let by_name = format!("https://localhost:{}/jwks", host.addr.port());
        let (_, client) = register(&app, &admin, "Named Loopback", &by_name).await;
        let (status, body) = exchange(&app, &signed(&key, "EdDSA", Some("k"), &claims(&app, &client)), None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{body}"
        );
        assert_eq!(host.asked("/jwks"), 0, "the key host was never reached");
        let metrics = app
            .http
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("casebook_jwks_fetch_failures_total 1"), "{metrics}");
    }
);

both_backends!(
    a_change_moves_keys_between_inline_and_a_uri,
    spawn = trusting(),
    |app: TestApp| async move {
        let host = KeyHost::start().await;
        let key = Key::ec();
        host.answer("/jwks", set(&[(&key, "moved")]));
        let admin = app.admin_token().await;
        let inline = json!({"name": "Moving Keys", "email": "moving@partner.example.org", "roles": ["engage-worker"],
            "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [Key::ed().public_jwk("old")]}});
        let view = expect(app.post_json(APPS, &admin, &inline).await, 201).await;
        let (id, client) = (id_of(&view), view["client_id"].as_str().unwrap().to_owned());
        assert_eq!(view["jwks_uri"], Value::Null);
        let path = format!("{APPS}/{id}");
        let both = json!({"jwks_uri": host.url("/jwks"), "jwks": {"keys": [key.public_jwk("moved")]}});
        let r = app.patch_json(&path, &admin, &both).await;
        assert_eq!(
            field_codes(&problem(r, 422).await),
            pairs(&[("jwks_uri", "invalid_value")])
        );
        let moved = expect(
            app.patch_json(&path, &admin, &json!({"jwks_uri": host.url("/jwks")}))
                .await,
            200,
        )
        .await;
        assert_eq!(
            (moved["jwks"].clone(), moved["jwks_uri"].clone()),
            (Value::Null, json!(host.url("/jwks")))
        );
        token(&app, &signed(&key, "ES256", Some("moved"), &claims(&app, &client))).await;
        let back = json!({"jwks": {"keys": [key.public_jwk("inline")]}});
        let back = expect(app.patch_json(&path, &admin, &back).await, 200).await;
        assert_eq!(back["jwks_uri"], Value::Null);
        token(&app, &signed(&key, "ES256", Some("inline"), &claims(&app, &client))).await;
        let secret = expect(
            app.patch_json(
                &path,
                &admin,
                &json!({"token_endpoint_auth_method": "client_secret_basic"}),
            )
            .await,
            200,
        )
        .await;
        assert_eq!(
            (secret["jwks"].clone(), secret["jwks_uri"].clone()),
            (Value::Null, Value::Null)
        );
    }
);

/// The fetcher alone, as the token endpoint and federated credentials use it.
fn fetcher(limits: Limits) -> JwksFetcher {
    let config = JwksFetchConfig {
        allow_private: true,
        extra_ca_file: Some(ca_file().to_owned()),
    };
    JwksFetcher::new(&config, limits, &Metrics::new()).expect("fetcher")
}

fn uri(raw: &str) -> JwksUri {
    JwksUri::parse("jwks_uri", raw, true).expect("a jwks_uri")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_for_one_uri_make_one_fetch() {
    let host = KeyHost::start().await;
    let key = Key::ed();
    host.answer("/jwks", set(&[(&key, "k")]));
    let fetcher = std::sync::Arc::new(fetcher(Limits::default()));
    let target = uri(&host.url("/jwks"));
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let (fetcher, target) = (fetcher.clone(), target.clone());
            tokio::spawn(async move { fetcher.keys(&target, Some("k")).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().expect("keys").keys()[0].kid, "k");
    }
    assert_eq!(host.asked("/jwks"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_and_big_or_slow_answers_are_cut_off() {
    let host = KeyHost::start().await;
    let key = Key::ed();
    host.answer("/real", set(&[(&key, "k")]));
    host.answer("/moved", Answer::Redirect(host.url("/real")));
    host.answer("/huge", Answer::Huge(100 * 1024));
    host.answer("/just-fits", Answer::Huge(60 * 1024));
    host.answer("/stall", Answer::Stall);
    let fetcher = fetcher(Limits {
        timeout: Duration::from_secs(1),
        ..Limits::default()
    });
    assert_eq!(
        fetcher.keys(&uri(&host.url("/moved")), None).await.unwrap_err(),
        FetchError::Status(302)
    );
    assert_eq!(host.asked("/real"), 0, "the redirect was not followed");
    assert_eq!(
        fetcher.keys(&uri(&host.url("/huge")), None).await.unwrap_err(),
        FetchError::TooLarge(65_536)
    );
    // Under the limit it is read whole, and then judged as a key set.
    assert_eq!(
        fetcher.keys(&uri(&host.url("/just-fits")), None).await.unwrap_err(),
        FetchError::Set(casebook_domain::client_keys::FetchedSetError::NoUsableKey)
    );
    let started = std::time::Instant::now();
    assert_eq!(
        fetcher.keys(&uri(&host.url("/stall")), None).await.unwrap_err(),
        FetchError::Timeout
    );
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(matches!(
        fetcher.keys(&uri(&host.url("/missing")), None).await,
        Err(FetchError::Status(404))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_private_key_spoils_the_set_and_an_untrusted_certificate_is_refused() {
    let host = KeyHost::start().await;
    let key = Key::ed();
    let mut leaked = key.public_jwk("k");
    leaked["d"] = json!("c2VjcmV0");
    host.answer(
        "/leaked",
        Answer::Jwks(json!({"keys": [key.public_jwk("fine"), leaked]})),
    );
    host.answer("/jwks", set(&[(&key, "k")]));
    assert_eq!(
        fetcher(Limits::default())
            .keys(&uri(&host.url("/leaked")), None)
            .await
            .unwrap_err(),
        FetchError::Set(casebook_domain::client_keys::FetchedSetError::PrivateKeyMaterial)
    );
    // Without the extra CA the host's certificate chains to nothing trusted.
    let config = JwksFetchConfig {
        allow_private: true,
        extra_ca_file: None,
    };
    let untrusting = JwksFetcher::new(&config, Limits::default(), &Metrics::new()).expect("fetcher");
    assert!(matches!(
        untrusting.keys(&uri(&host.url("/jwks")), None).await,
        Err(FetchError::Transport(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_kid_does_not_wait_behind_a_refetch_for_an_unknown_one() {
    let host = KeyHost::start().await;
    let key = Key::ed();
    host.answer("/jwks", set(&[(&key, "k")]));
    let fetcher = std::sync::Arc::new(fetcher(Limits {
        timeout: Duration::from_secs(3),
        ..Limits::default()
    }));
    let target = uri(&host.url("/jwks"));
    fetcher.keys(&target, Some("k")).await.expect("the first fetch");
    // The key host stops answering; an unknown kid sets off a refetch that stalls.
    host.answer("/jwks", Answer::Stall);
    let stalled = {
        let (fetcher, target) = (fetcher.clone(), target.clone());
        tokio::spawn(async move { fetcher.keys(&target, Some("rotated")).await })
    };
    while host.asked("/jwks") < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = std::time::Instant::now();
    let keys = fetcher.keys(&target, Some("k")).await.expect("the set in hand");
    assert_eq!(keys.keys()[0].kid, "k");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    // The refetch gives up, and the set in hand, still fresh, is what it has.
    let after = stalled.await.unwrap().expect("the set in hand");
    assert!(after.select(Some("rotated")).is_none());
}
