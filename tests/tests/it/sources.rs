//! `allowed_sources` (the contract's "Allowed sources"): a token request from outside an
//! application's networks is `invalid_client`, answered exactly as a wrong
//! secret is, and its tokens used from outside are `invalid_token`; both
//! are audited, at most once a minute per address. The address is the
//! socket peer, or `X-Forwarded-For` from a trusted proxy only.
//!
//! The server listens on 127.0.0.1; a client bound to 127.0.0.2 or
//! 127.0.0.3 reaches it over the loopback interface from another address.

use casebook_tests::{APPS, Spawn, TestApp, both_backends, expect, field_codes, header, id_of, pairs, problem};
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Value, json};
use std::time::Duration;

/// Registers an application with `allowed_sources` and the Administrator
/// role; returns `(id, client_id, secret)`.
async fn restricted(app: &TestApp, admin: &str, name: &str, sources: &[&str]) -> (String, String, String) {
    let email = format!("{}@partner.example.org", name.to_lowercase().replace(' ', "-"));
    let body = json!({"name": name, "email": email, "roles": ["administrator"], "allowed_sources": sources});
    let view = expect(app.post_json(APPS, admin, &body).await, 201).await;
    let id = id_of(&view);
    let secret = app.reveal(admin, &id).await;
    (id, view["client_id"].as_str().expect("client_id").to_owned(), secret)
}

async fn token_from(
    app: &TestApp,
    http: &reqwest::Client,
    client_id: &str,
    secret: &str,
    forwarded: Option<&str>,
) -> reqwest::Response {
    let mut request = http.post(app.url("/oauth2/token")).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
    ]);
    if let Some(address) = forwarded {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.expect("send")
}

async fn access_token(response: reqwest::Response) -> String {
    expect(response, 200).await["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// The audit rows of `action` about application `id`, waiting a little for
/// the first: refusals are audited in the background.
async fn audited(app: &TestApp, admin: &str, action: &str, id: &str, at_least: usize) -> Vec<Value> {
    let path = format!("/admin/v1/audit-events?action={action}&target_id={id}");
    for _ in 0..50 {
        let page = expect(app.get(&path, admin).await, 200).await;
        let items = page["items"].as_array().expect("items").clone();
        if items.len() >= at_least {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {at_least} {action} rows for {id}");
}

/// A refusal answered like a wrong secret: same status, body and challenge.
async fn answer(r: reqwest::Response) -> (u16, String, Value) {
    let status = r.status().as_u16();
    let challenge = header(&r, WWW_AUTHENTICATE);
    (status, challenge, r.json().await.expect("json"))
}

both_backends!(
    a_token_request_from_outside_is_refused_exactly_as_a_wrong_secret,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (id, client_id, secret) = restricted(&app, &admin, "Local Only", &["127.0.0.1"]).await;
        let view = expect(app.get(&format!("{APPS}/{id}"), &admin).await, 200).await;
        assert_eq!(
            view["allowed_sources"],
            json!(["127.0.0.1/32"]),
            "shown in canonical form"
        );

        let outside = app.client_from("127.0.0.2");
        let refused = answer(token_from(&app, &outside, &client_id, &secret, None).await).await;
        // Well formed, so that it is looked up and checked like the right one.
        let wrong = casebook_domain::ClientSecret::from_random([7; casebook_domain::credentials::CLIENT_SECRET_BYTES]);
        let wrong_secret = answer(token_from(&app, &outside, &client_id, wrong.expose(), None).await).await;
        assert_eq!(refused.0, 401, "{:?}", refused.2);
        assert_eq!(refused.2["error"], "invalid_client");
        assert_eq!(refused, wrong_secret, "nothing tells the right secret from a wrong one");

        // From inside, the same credentials work.
        let inside = app.client_from("127.0.0.1");
        access_token(token_from(&app, &inside, &client_id, &secret, None).await).await;

        // Audited, naming the address; again and again within a minute, once.
        let rows = audited(&app, &admin, "application.source_refused", &id, 1).await;
        assert!(rows[0]["detail"].as_str().unwrap().contains("127.0.0.2"), "{}", rows[0]);
        assert_eq!(rows[0]["actor"]["id"], id.as_str());
        for _ in 0..3 {
            assert_eq!(
                token_from(&app, &outside, &client_id, &secret, None).await.status(),
                401
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            audited(&app, &admin, "application.source_refused", &id, 1).await.len(),
            1
        );

        // Introspection and revocation authenticate the client the same way.
        let r = outside
            .post(app.url("/oauth2/introspect"))
            .form(&[("token", "x"), ("client_id", &client_id), ("client_secret", &secret)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
);

both_backends!(its_tokens_are_refused_from_outside, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let (id, client_id, secret) = restricted(&app, &admin, "Pinned Partner", &["127.0.0.1/32"]).await;
    let inside = app.client_from("127.0.0.1");
    let outside = app.client_from("127.0.0.2");
    let token = access_token(token_from(&app, &inside, &client_id, &secret, None).await).await;
    let me = |http: &reqwest::Client, path: &str| http.get(app.url(path)).bearer_auth(&token).send();
    assert_eq!(me(&inside, "/api/v1/me").await.unwrap().status(), 200);
    for path in ["/api/v1/me", "/admin/v1/roles"] {
        let r = me(&outside, path).await.unwrap();
        let challenge = header(&r, WWW_AUTHENTICATE);
        problem(r, 401).await;
        assert!(challenge.contains("error=\"invalid_token\""), "{path}: {challenge}");
        assert!(challenge.contains("resource_metadata="), "{path}: {challenge}");
    }
    assert_eq!(me(&inside, "/admin/v1/roles").await.unwrap().status(), 200);
    let rows = audited(&app, &admin, "application.token_source_refused", &id, 1).await;
    assert!(rows[0]["detail"].as_str().unwrap().contains("127.0.0.2"), "{}", rows[0]);

    // A change of the list holds on live tokens at once.
    let path = format!("{APPS}/{id}");
    let moved = json!({"allowed_sources": ["127.0.0.2/32"]});
    expect(app.patch_json(&path, &admin, &moved).await, 200).await;
    assert_eq!(me(&outside, "/api/v1/me").await.unwrap().status(), 200);
    assert_eq!(me(&inside, "/api/v1/me").await.unwrap().status(), 401);
    // Cleared, the application may be used from anywhere again.
    let view = expect(
        app.patch_json(&path, &admin, &json!({"allowed_sources": null})).await,
        200,
    )
    .await;
    assert_eq!(view["allowed_sources"], Value::Null);
    assert_eq!(me(&inside, "/api/v1/me").await.unwrap().status(), 200);
    assert_eq!(
        me(&app.client_from("127.0.0.3"), "/api/v1/me").await.unwrap().status(),
        200
    );
});

both_backends!(
    x_forwarded_for_counts_only_from_a_trusted_proxy,
    spawn = Spawn::behind_proxies("127.0.0.3/32"),
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = restricted(&app, &admin, "Proxied Partner", &["198.51.100.0/24"]).await;
        let proxy = app.client_from("127.0.0.3");
        let direct = app.client_from("127.0.0.2");
        // From anyone else the header is ignored: the peer is the client.
        let r = token_from(&app, &direct, &client_id, &secret, Some("198.51.100.7")).await;
        assert_eq!(r.status(), 401, "a spoofed X-Forwarded-For from an untrusted peer");
        // From the proxy, the client it names.
        let token = access_token(token_from(&app, &proxy, &client_id, &secret, Some("198.51.100.7")).await).await;
        let r = token_from(&app, &proxy, &client_id, &secret, Some("203.0.113.1")).await;
        assert_eq!(r.status(), 401, "the proxy names a client outside the list");
        let me = |http: &reqwest::Client, forwarded: &'static str| {
            http.get(app.url("/api/v1/me"))
                .bearer_auth(&token)
                .header("x-forwarded-for", forwarded)
                .send()
        };
        assert_eq!(me(&proxy, "198.51.100.200").await.unwrap().status(), 200);
        assert_eq!(me(&proxy, "203.0.113.1").await.unwrap().status(), 401);
        assert_eq!(me(&direct, "198.51.100.7").await.unwrap().status(), 401);
    }
);

both_backends!(bad_sources_and_quotas_are_field_errors, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let form = |extra: Value| {
        let mut body = json!({"name": "Bad Limits", "email": "bad-limits@partner.example.org", "roles": ["auditor"]});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let check = |body: Value, expected: &'static [(&'static str, &'static str)]| {
        let app = &app;
        let admin = &admin;
        async move {
            let refused = problem(app.post_json(APPS, admin, &body).await, 422).await;
            assert_eq!(field_codes(&refused), pairs(expected), "{body}");
            refused
        }
    };
    let refused = check(
        form(json!({"allowed_sources": ["10.0.0.1/8", "not-a-cidr", "10.0.0.0/8", "10.0.0.0/8"]})),
        &[("allowed_sources", "invalid_value")],
    )
    .await;
    let messages: Vec<&str> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 3, "each bad entry: {messages:?}");
    assert!(messages[0].contains("allowed_sources[0]") && messages[0].contains("10.0.0.0/8"));
    assert!(messages[1].contains("allowed_sources[1]"));
    assert!(messages[2].contains("allowed_sources[3]"));
    let many: Vec<String> = (0..51).map(|i| format!("10.0.{i}.0/24")).collect();
    check(
        form(json!({"allowed_sources": many})),
        &[("allowed_sources", "too_long")],
    )
    .await;
    check(form(json!({"allowed_sources": []})), &[("allowed_sources", "required")]).await;
    check(
        form(json!({"allowed_sources": "10.0.0.0/8"})),
        &[("allowed_sources", "invalid_type")],
    )
    .await;
    check(
        form(json!({"token_quota_per_hour": 0})),
        &[("token_quota_per_hour", "invalid_value")],
    )
    .await;
    check(
        form(json!({"token_quota_per_hour": 1_000_001, "name": ""})),
        &[("name", "required"), ("token_quota_per_hour", "invalid_value")],
    )
    .await;
    check(
        form(json!({"token_quota_per_hour": "10"})),
        &[("token_quota_per_hour", "invalid_type")],
    )
    .await;
    let page = expect(app.get(APPS, &admin).await, 200).await;
    assert!(page["items"].as_array().unwrap().is_empty(), "nothing was registered");

    // The change refuses the same, and null clears.
    let fifty: Vec<String> = (0..50).map(|i| format!("2001:db8:{i:x}::/48")).collect();
    let view = expect(
        app.post_json(
            APPS,
            &admin,
            &form(json!({"allowed_sources": fifty, "token_quota_per_hour": 1_000_000})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(view["allowed_sources"].as_array().unwrap().len(), 50);
    assert_eq!(view["token_quota_per_hour"], 1_000_000);
    let path = format!("{APPS}/{}", id_of(&view));
    let refused = problem(
        app.patch_json(
            &path,
            &admin,
            &json!({"allowed_sources": ["::1/64"], "token_quota_per_hour": -5}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        field_codes(&refused),
        pairs(&[
            ("allowed_sources", "invalid_value"),
            ("token_quota_per_hour", "invalid_value")
        ])
    );
    let view = expect(
        app.patch_json(
            &path,
            &admin,
            &json!({"allowed_sources": null, "token_quota_per_hour": null}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (view["allowed_sources"].clone(), view["token_quota_per_hour"].clone()),
        (Value::Null, Value::Null)
    );
    let changes = expect(
        app.get(
            &format!(
                "/admin/v1/audit-events?action=application.changed&target_id={}",
                id_of(&view)
            ),
            &admin,
        )
        .await,
        200,
    )
    .await;
    let detail = changes["items"][0]["detail"].as_str().unwrap_or_default().to_owned();
    assert!(
        detail.contains("allowed_sources removed") && detail.contains("token_quota_per_hour removed"),
        "{detail}"
    );
});

both_backends!(
    the_sdk_checks_sources_and_quotas_before_sending,
    |app: TestApp| async move {
        use casebook_sdk::{ApplicationChange, ApplicationForm, Error};
        let admin = app.sdk_admin().await;
        let apps = admin.admin().applications();
        let codes = |errors: &[casebook_sdk::FieldError]| -> Vec<(String, String)> {
            errors
                .iter()
                .map(|e| (e.field.clone(), e.code.as_str().to_owned()))
                .collect()
        };
        let bad = ApplicationForm::new("SDK Limits", "sdk-limits@partner.example.org")
            .roles(["auditor"])
            .allowed_sources(["10.0.0.1/8", "10.0.0.0/33"])
            .token_quota_per_hour(0);
        let offline = apps.register(&bad).await.unwrap_err();
        assert!(matches!(offline, Error::Validation(_)), "{offline:?}");
        let server = problem(
            app.post_json(APPS, &app.admin_token().await, &serde_json::to_value(&bad).unwrap())
                .await,
            422,
        )
        .await;
        let server: Vec<casebook_sdk::FieldError> = serde_json::from_value(server["errors"].clone()).unwrap();
        assert_eq!(
            codes(offline.field_errors()),
            codes(&server),
            "the same errors, before sending"
        );

        let good = bad.allowed_sources(["127.0.0.1"]).token_quota_per_hour(5);
        let registered = apps.register(&good).await.expect("register");
        assert_eq!(registered.allowed_sources, Some(vec!["127.0.0.1/32".to_owned()]));
        assert_eq!(registered.token_quota_per_hour, Some(5));
        let refused = apps
            .change(
                &registered.id,
                &ApplicationChange::new().token_quota_per_hour(1_000_001),
            )
            .await
            .unwrap_err();
        assert!(matches!(refused, Error::Validation(_)), "{refused:?}");
        let cleared = apps
            .change(
                &registered.id,
                &ApplicationChange::new().clear_allowed_sources().clear_token_quota(),
            )
            .await
            .expect("clear");
        assert_eq!((cleared.allowed_sources, cleared.token_quota_per_hour), (None, None));
    }
);

both_backends!(
    a_signed_assertion_from_outside_is_refused_too,
    |app: TestApp| async move {
        use crate::jose::{Key, signed};
        let admin = app.admin_token().await;
        let key = Key::ed();
        let body = json!({"name": "Keyed Pinned", "email": "keyed-pinned@partner.example.org", "roles": ["engage-worker"],
        "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.public_jwk("k")]},
        "allowed_sources": ["127.0.0.2/32"]});
        let view = expect(app.post_json(APPS, &admin, &body).await, 201).await;
        let client_id = view["client_id"].as_str().unwrap().to_owned();
        let exchange = |http: reqwest::Client| {
            let assertion = signed(
                &key,
                "EdDSA",
                Some("k"),
                &crate::private_key_jwt::claims(&app, &client_id),
            );
            let url = app.url("/oauth2/token");
            async move {
                let r = http
                    .post(url)
                    .form(&[
                        ("grant_type", "client_credentials"),
                        (
                            "client_assertion_type",
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                        ),
                        ("client_assertion", assertion.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }
        };
        let (status, refused) = exchange(app.client_from("127.0.0.1")).await;
        assert_eq!(
            (status, refused["error"].as_str()),
            (401, Some("invalid_client")),
            "{refused}"
        );
        let (status, granted) = exchange(app.client_from("127.0.0.2")).await;
        assert_eq!(status, 200, "{granted}");
        audited(&app, &admin, "application.source_refused", &id_of(&view), 1).await;
    }
);
