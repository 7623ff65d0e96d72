//! The Rust SDK with DPoP (the contract's "Sender-constrained tokens")
//! against the real server, on both backends: its tokens are bound to its
//! key, every kind of call it makes carries a proof the server takes, with
//! or without server nonces, and a token taken from it is worth nothing
//! alone. Requests are counted by the server itself, from `GET /metrics`.

use casebook_sdk::records::CaseForm;
use casebook_sdk::{
    ApplicationForm, Client, ClientSecret, DpopKey, Error, Me, Method, OAuthErrorCode, Password, TokenSource,
};
use casebook_tests::*;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::Value;

const TOKENS_ISSUED: &str = "casebook_access_tokens_issued_total";

fn requests(method: &str, route: &str, status: u16) -> String {
    format!("casebook_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}")
}

fn bound_client(app: &TestApp, client_id: &str, secret: &str, key: &DpopKey) -> Client {
    Client::builder(&app.base_url)
        .client_credentials(client_id, ClientSecret::from_presented(secret))
        .dpop(key.clone())
        .build()
        .expect("client")
}

/// Every kind of call the SDK makes: a typed GET, an admin list, a POST,
/// pages whose URLs carry a query (no part of a proof's `htu`), and the
/// raw path.
async fn every_kind_of_call(client: &Client) {
    let me = client.me().await.expect("me");
    assert_eq!(me.name, "Bound Partner");
    let roles = client.admin().roles().list().all().await.expect("an admin call");
    assert!(!roles.is_empty());
    let cases = client.cases();
    for title in ["First bound case", "Second bound case"] {
        cases.create(&CaseForm::new(title)).await.expect("a POST");
    }
    assert_eq!(cases.list().limit(1).all().await.expect("pages").len(), 2);
    let raw = client
        .call::<Me>(Method::GET, &["api", "v1", "me"], None::<&()>)
        .await
        .expect("the raw path");
    assert_eq!(raw.status, 200);
}

both_backends!(
    the_sdk_binds_its_token_to_its_key_and_proves_every_call,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app
            .partner(&admin, "Bound Partner", &["auditor", "engage-worker"])
            .await;
        let key = DpopKey::generate().expect("a key");
        let client = bound_client(&app, &client_id, &secret, &key);
        every_kind_of_call(&client).await;

        let token = client.token_source().expect("a source").token().await.expect("token");
        assert_eq!(jwt_part(token.secret(), 1)["cnf"]["jkt"], key.thumbprint());
        assert_eq!(app.metric(TOKENS_ISSUED).await, 1.0, "one token served every call");

        // Taken from the client, the token is refused as a bearer token, and
        // under its own scheme without a proof.
        let stolen = app.get("/api/v1/me", token.secret()).await;
        assert_eq!(stolen.status(), 401);
        assert!(header(&stolen, WWW_AUTHENTICATE).contains("invalid_token"));
        let unproven = app
            .http
            .get(app.url("/api/v1/me"))
            .header("Authorization", format!("DPoP {}", token.secret()))
            .send()
            .await
            .expect("send");
        assert_eq!(unproven.status(), 401);
        assert!(header(&unproven, WWW_AUTHENTICATE).contains("invalid_dpop_proof"));

        // Nor does a proof signed with another key, made as the SDK makes
        // proofs for requests of a partner's own; the holder's proof does.
        let me_url = app.url("/api/v1/me");
        let thief = TokenSource::builder(
            app.url("/oauth2/token"),
            &client_id,
            ClientSecret::from_presented(&secret),
        )
        .dpop(DpopKey::generate().expect("a key"))
        .build()
        .expect("source");
        let source = client.token_source().expect("a source");
        for (proofs, status) in [(&thief, 401), (source, 200)] {
            let proof = proofs
                .dpop_proof("GET", &me_url, &token)
                .expect("proof")
                .expect("a key");
            let r = app
                .http
                .get(&me_url)
                .header("Authorization", format!("DPoP {}", token.secret()))
                .header("DPoP", proof)
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), status);
        }
        assert_eq!(app.metric(TOKENS_ISSUED).await, 1.0);

        // Introspection names the binding to the SDK's key.
        let r = app
            .http
            .post(app.url("/oauth2/introspect"))
            .basic_auth(&client_id, Some(&secret))
            .form(&[("token", token.secret())])
            .send()
            .await
            .expect("send");
        let answer = expect(r, 200).await;
        assert_eq!(answer["token_type"], "DPoP", "{answer}");
        assert_eq!(answer["cnf"]["jkt"], key.thumbprint());
    }
);

both_backends!(
    with_server_nonces_the_sdk_asks_once_more_and_keeps_the_latest,
    spawn = Spawn {
        dpop_nonce: true,
        ..Spawn::default()
    },
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (_, client_id, secret) = app
            .partner(&admin, "Bound Partner", &["auditor", "engage-worker"])
            .await;
        let client = bound_client(&app, &client_id, &secret, &DpopKey::generate().expect("a key"));
        every_kind_of_call(&client).await;

        // The token endpoint asked for its nonce once, and the request was
        // sent once more with it.
        assert_eq!(app.metric(&requests("POST", "/oauth2/token", 400)).await, 1.0);
        assert_eq!(app.metric(&requests("POST", "/oauth2/token", 200)).await, 1.0);
        // The token's answer brought the nonce the APIs take, and every
        // answer since the next one: no call was refused for want of one.
        for (method, route) in [
            ("GET", "/api/v1/me"),
            ("GET", "/admin/v1/roles"),
            ("POST", "/api/v1/engage/cases"),
            ("GET", "/api/v1/engage/cases"),
        ] {
            assert_eq!(app.metric(&requests(method, route, 401)).await, 0.0, "{method} {route}");
        }
        assert_eq!(app.metric(&requests("GET", "/api/v1/me", 200)).await, 2.0);
        assert_eq!(app.metric(&requests("POST", "/api/v1/engage/cases", 201)).await, 2.0);

        // A second client with its own key and no nonce yet: the same dance,
        // once, at its first token request.
        let second = bound_client(&app, &client_id, &secret, &DpopKey::generate().expect("a key"));
        second.me().await.expect("me");
        assert_eq!(app.metric(&requests("POST", "/oauth2/token", 400)).await, 2.0);
        assert_eq!(app.metric(TOKENS_ISSUED).await, 2.0);
    }
);

both_backends!(
    an_application_that_requires_dpop_works_through_the_sdk_only_with_it,
    |app: TestApp| async move {
        let admin = app.sdk_admin().await;
        let apps = admin.admin().applications();
        let registered = apps
            .register(
                &ApplicationForm::new("Bound Partner", "bound@partner.example.org")
                    .roles(["engage-worker"])
                    .dpop_bound_access_tokens(true),
            )
            .await
            .expect("register");
        assert!(registered.dpop_bound_access_tokens);
        let secret = apps
            .reveal_secret(&registered.id, &Password::new(ADMIN_PASSWORD))
            .await
            .expect("reveal")
            .client_secret;

        let plain = Client::builder(&app.base_url)
            .client_credentials(&registered.client_id, secret.clone())
            .build()
            .expect("client");
        let refused = plain.me().await.unwrap_err();
        match &refused {
            Error::DpopProof {
                code: OAuthErrorCode::InvalidDpopProof,
                status: 400,
                description: Some(description),
                ..
            } => assert!(description.contains("dpop_bound_access_tokens"), "{description}"),
            other => panic!("expected a typed DPoP refusal: {other:?}"),
        }
        assert!(!refused.is_transient());
        assert_eq!(refused.oauth_code(), Some(OAuthErrorCode::InvalidDpopProof));

        let bound = Client::builder(&app.base_url)
            .client_credentials(&registered.client_id, secret)
            .dpop(DpopKey::generate().expect("a key"))
            .build()
            .expect("client");
        let me = bound.me().await.expect("me");
        assert_eq!(me.name, "Bound Partner");
        let case: Value = bound
            .call(
                Method::POST,
                &["api", "v1", "engage", "cases"],
                Some(&serde_json::json!({"title": "Raw"})),
            )
            .await
            .map(|answer| answer.body)
            .expect("a raw POST");
        assert_eq!(case["title"], "Raw");
    }
);
