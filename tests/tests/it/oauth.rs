//! OAuth 2.0 conformance of the token service: one test per requirement
//! (RFC 6749, 6750, 7009, 7662, 8414, 9068 and the contract's "OAuth endpoints"), each on SQLite and
//! PostgreSQL, plus the knowledge-base flow verified with an independent JWT
//! library and a signing-key rotation.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use casebook_tests::{ADMIN_PASSWORD, Spawn, TestApp, both_backends, jwt_part, verify_with_jsonwebtoken};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

const FORM: &str = "application/x-www-form-urlencoded";
const SUPERVISOR_SCOPE: &str = "engage:view engage:create engage:edit";

/// A registered application with its revealed secret.
struct Partner {
    admin: String,
    app_id: String,
    client_id: String,
    secret: String,
}

async fn partner(app: &TestApp, name: &str) -> Partner {
    partner_with(app, name, &["engage-supervisor"]).await
}

/// A resource server of the install: the contract ("OAuth endpoints") lets an application holding
/// `admin:view` (here through Auditor) introspect other clients' tokens.
async fn resource_server(app: &TestApp) -> Partner {
    partner_with(app, "Resource Server", &["auditor"]).await
}

async fn partner_with(app: &TestApp, name: &str, roles: &[&str]) -> Partner {
    let admin = app.admin_token().await;
    let (view, client_id, secret) = app.partner(&admin, name, roles).await;
    Partner {
        admin,
        app_id: view["id"].as_str().expect("id").to_owned(),
        client_id,
        secret,
    }
}

/// `application/x-www-form-urlencoded` serialisation of one value.
fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined and base64'd.
fn basic(client_id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", urlencode(client_id), urlencode(secret)))
    )
}

fn form(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).expect("form")
}

/// POSTs a form to an OAuth endpoint.
async fn post_form(
    app: &TestApp,
    path: &str,
    authorization: Option<&str>,
    pairs: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url(path))
        .header(CONTENT_TYPE, FORM)
        .body(form(pairs));
    if let Some(auth) = authorization {
        request = request.header(AUTHORIZATION, auth);
    }
    request.send().await.expect("send")
}

/// Status and JSON body.
async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}

/// Asserts an RFC 6749 §5.2 error with this status and code; returns the description.
async fn expect_oauth_error(response: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(
        response.headers()[CONTENT_TYPE].to_str().unwrap(),
        "application/json",
        "an OAuth error is JSON"
    );
    let (got, body) = answer(response).await;
    assert_eq!((got, body["error"].as_str()), (status, Some(code)), "{body}");
    let description = body["error_description"].as_str().unwrap_or_default().to_owned();
    assert!(!description.is_empty(), "a description says what went wrong: {body}");
    description
}

async fn token_with(app: &TestApp, client_id: &str, secret: &str) -> String {
    app.access_token(client_id, secret).await
}

async fn introspect(app: &TestApp, caller: &Partner, token: &str) -> Value {
    let r = post_form(
        app,
        "/oauth2/introspect",
        Some(&basic(&caller.client_id, &caller.secret)),
        &[("token", token)],
    )
    .await;
    assert_eq!(r.headers()["cache-control"], "no-store");
    let (status, body) = answer(r).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn revoke(app: &TestApp, caller: &Partner, token: &str) -> reqwest::Response {
    post_form(
        app,
        "/oauth2/revoke",
        Some(&basic(&caller.client_id, &caller.secret)),
        &[("token", token), ("token_type_hint", "access_token")],
    )
    .await
}

/// Asserts `/api/v1/me` refuses the token as RFC 6750 `invalid_token`.
async fn expect_refused_at_me(app: &TestApp, token: &str) {
    let r = app.get("/api/v1/me", token).await;
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""),
        "{challenge}"
    );
}

fn scope_set(scope: &str) -> BTreeSet<String> {
    scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

async fn disable(app: &TestApp, p: &Partner) {
    let r = app
        .patch_json(
            &format!("/admin/v1/external-applications/{}", p.app_id),
            &p.admin,
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(r.status(), 200, "disable");
}

async fn rotate_secret(app: &TestApp, p: &Partner, grace_period_seconds: i64) -> String {
    let r = app
        .post_json(
            &format!("/admin/v1/external-applications/{}/client-secret/rotate", p.app_id),
            &p.admin,
            &json!({"password": ADMIN_PASSWORD, "grace_period_seconds": grace_period_seconds}),
        )
        .await;
    assert_eq!(r.status(), 200, "rotate");
    r.json::<Value>().await.expect("json")["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned()
}

// ------------------------------------------------------------ client authentication

both_backends!(basic_authentication_works, |app: TestApp| async move {
    let p = partner(&app, "Basic Partner").await;
    // Issued IDs and secrets need no escaping, so naive clients that skip
    // the form-urlencoding step still interoperate.
    assert_eq!(urlencode(&p.client_id), p.client_id);
    assert_eq!(urlencode(&p.secret), p.secret);
    let r = post_form(
        &app,
        "/oauth2/token",
        Some(&basic(&p.client_id, &p.secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    let (status, body) = answer(r).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], SUPERVISOR_SCOPE);

    // The server form-decodes both parts: every byte percent-encoded still opens the client.
    let escaped = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    let header = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", escaped(&p.client_id), escaped(&p.secret)))
    );
    let r = post_form(
        &app,
        "/oauth2/token",
        Some(&header),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(r.status(), 200, "percent-encoded Basic credentials are decoded");

    // A `+` decodes to a space, so it is not the secret's own character.
    let plus = format!("Basic {}", STANDARD.encode(format!("{}:{}+", p.client_id, p.secret)));
    let r = post_form(
        &app,
        "/oauth2/token",
        Some(&plus),
        &[("grant_type", "client_credentials")],
    )
    .await;
    expect_oauth_error(r, 401, "invalid_client").await;
});

both_backends!(body_authentication_works, |app: TestApp| async move {
    let p = partner(&app, "Body Partner").await;
    let r = post_form(
        &app,
        "/oauth2/token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &p.client_id),
            ("client_secret", &p.secret),
        ],
    )
    .await;
    let (status, body) = answer(r).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
});

both_backends!(
    two_authentication_methods_at_once_are_refused,
    |app: TestApp| async move {
        let p = partner(&app, "Twice Partner").await;
        let r = post_form(
            &app,
            "/oauth2/token",
            Some(&basic(&p.client_id, &p.secret)),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &p.client_id),
                ("client_secret", &p.secret),
            ],
        )
        .await;
        let description = expect_oauth_error(r, 400, "invalid_request").await;
        assert!(description.contains("Basic"), "{description}");
    }
);

both_backends!(credentials_in_the_query_string_are_refused, |app: TestApp| async move {
    let p = partner(&app, "Query Partner").await;
    let url = format!(
        "{}?client_id={}&client_secret={}",
        app.url("/oauth2/token"),
        p.client_id,
        p.secret
    );
    let r = app
        .http
        .post(url)
        .header(CONTENT_TYPE, FORM)
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    let description = expect_oauth_error(r, 400, "invalid_request").await;
    assert!(
        description.contains("query string") && description.contains("body") && description.contains("Basic"),
        "the message says where credentials belong: {description}"
    );
    // A client assertion there would land in proxies' logs just the same.
    let url = format!(
        "{}?client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c",
        app.url("/oauth2/token")
    );
    let r = app
        .http
        .post(url)
        .header(CONTENT_TYPE, FORM)
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    expect_oauth_error(r, 400, "invalid_request").await;
});

both_backends!(
    every_failed_client_authentication_looks_the_same,
    |app: TestApp| async move {
        let good = partner(&app, "Good Partner").await;
        let disabled = partner(&app, "Disabled Partner").await;
        disable(&app, &disabled).await;
        let rotated = partner(&app, "Rotated Partner").await;
        rotate_secret(&app, &rotated, 0).await;

        let cases = [
            (
                "unknown client",
                "cb_00000000000000000000000000000000".to_owned(),
                good.secret.clone(),
            ),
            ("wrong secret", good.client_id.clone(), format!("{}x", good.secret)),
            ("disabled client", disabled.client_id.clone(), disabled.secret.clone()),
            ("rotated-away secret", rotated.client_id.clone(), rotated.secret.clone()),
        ];
        let mut bodies = Vec::new();
        for (case, id, secret) in &cases {
            for authorization in [Some(basic(id, secret)), None] {
                let mut pairs = vec![("grant_type", "client_credentials")];
                if authorization.is_none() {
                    pairs.extend([("client_id", id.as_str()), ("client_secret", secret.as_str())]);
                }
                let r = post_form(&app, "/oauth2/token", authorization.as_deref(), &pairs).await;
                assert_eq!(r.status(), 401, "{case}");
                let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
                assert!(challenge.starts_with("Basic"), "{case}: {challenge}");
                bodies.push((*case, r.text().await.unwrap()));
            }
        }
        let first = &bodies[0].1;
        assert_eq!(serde_json::from_str::<Value>(first).unwrap()["error"], "invalid_client");
        for (case, body) in &bodies {
            assert_eq!(body, first, "{case} must not be told apart");
        }
    }
);

both_backends!(
    an_old_secret_works_during_its_grace_period_only,
    spawn = Spawn::with_manual_clock(),
    |app: TestApp| async move {
        let p = partner(&app, "Grace Partner").await;
        let grace = Duration::from_secs(2);
        let new_secret = rotate_secret(&app, &p, grace.as_secs() as i64).await;
        assert_eq!(
            app.token_response(&p.client_id, &p.secret, None).await.status(),
            200,
            "old secret in grace"
        );
        assert_eq!(
            app.token_response(&p.client_id, &new_secret, None).await.status(),
            200,
            "new secret"
        );
        // Not refused before the grace period ends...
        app.advance_clock(grace - Duration::from_millis(500));
        assert_eq!(
            app.token_response(&p.client_id, &p.secret, None).await.status(),
            200,
            "refused before the grace period ended"
        );
        // ...and refused once it has.
        app.advance_clock(Duration::from_secs(1));
        let refused = app.token_response(&p.client_id, &p.secret, None).await;
        expect_oauth_error(refused, 401, "invalid_client").await;
        assert_eq!(
            app.token_response(&p.client_id, &new_secret, None).await.status(),
            200,
            "new secret still works"
        );
    }
);

both_backends!(scope_narrows_to_a_granted_subset_only, |app: TestApp| async move {
    let p = partner(&app, "Scope Partner").await;
    for (asked, granted) in [
        ("engage:view", "engage:view"),
        ("engage:edit engage:view", "engage:view engage:edit"),
        (SUPERVISOR_SCOPE, SUPERVISOR_SCOPE),
    ] {
        let (status, body) = answer(app.token_response(&p.client_id, &p.secret, Some(asked)).await).await;
        assert_eq!(status, 200, "{asked}: {body}");
        assert_eq!(
            scope_set(body["scope"].as_str().unwrap()),
            scope_set(granted),
            "{asked}"
        );
    }
    // The narrowed token carries only what was asked for.
    let (_, body) = answer(app.token_response(&p.client_id, &p.secret, Some("engage:view")).await).await;
    let me: Value = app
        .get("/api/v1/me", body["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["permissions"], json!(["engage:view"]));
    for refused in [
        "engage:delete",
        "intake:view",
        "engage:view admin:edit",
        "openid",
        "engage:everything",
    ] {
        let r = app.token_response(&p.client_id, &p.secret, Some(refused)).await;
        expect_oauth_error(r, 400, "invalid_scope").await;
    }
});

// ------------------------------------------------------------ the token response

both_backends!(a_token_response_has_exactly_the_rfc_shape, |app: TestApp| async move {
    let p = partner(&app, "Shape Partner").await;
    let r = app.token_response(&p.client_id, &p.secret, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["pragma"], "no-cache");
    assert!(
        r.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = r.json().await.unwrap();
    let keys: BTreeSet<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["access_token", "token_type", "expires_in", "scope"]),
        "no refresh_token or anything else (RFC 6749 §4.4.3)"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], SUPERVISOR_SCOPE);
    assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 3);
});

both_backends!(
    grant_type_is_required_and_only_client_credentials,
    |app: TestApp| async move {
        let p = partner(&app, "Grant Partner").await;
        let creds = [
            ("client_id", p.client_id.as_str()),
            ("client_secret", p.secret.as_str()),
        ];
        let r = post_form(&app, "/oauth2/token", None, &creds).await;
        expect_oauth_error(r, 400, "invalid_request").await;
        // §3.2: a parameter without a value counts as omitted.
        let r = post_form(
            &app,
            "/oauth2/token",
            None,
            &[&[("grant_type", "")][..], &creds].concat(),
        )
        .await;
        expect_oauth_error(r, 400, "invalid_request").await;
        for other in ["password", "authorization_code", "refresh_token", "CLIENT_CREDENTIALS"] {
            let r = post_form(
                &app,
                "/oauth2/token",
                None,
                &[&[("grant_type", other)][..], &creds].concat(),
            )
            .await;
            expect_oauth_error(r, 400, "unsupported_grant_type").await;
        }
    }
);

both_backends!(bad_input_is_invalid_request_never_5xx, |app: TestApp| async move {
    let p = partner(&app, "Bad Input Partner").await;
    let good = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", &p.client_id),
        ("client_secret", &p.secret),
    ]);
    let oversized = format!("{good}&pad={}", "a".repeat(9 * 1024));
    let huge = format!("{good}&pad={}", "a".repeat(200 * 1024));
    let cases: Vec<(&str, Option<&str>, Vec<u8>)> = vec![
        (
            "JSON body",
            Some("application/json"),
            serde_json::to_vec(
                &json!({"grant_type": "client_credentials", "client_id": p.client_id, "client_secret": p.secret}),
            )
            .unwrap(),
        ),
        ("no content type", None, good.clone().into_bytes()),
        ("text/plain", Some("text/plain"), good.clone().into_bytes()),
        (
            "JSON sent as a form",
            Some(FORM),
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
        ),
        (
            "a broken escape",
            Some(FORM),
            format!("{good}&scope=engage%3").into_bytes(),
        ),
        ("a non-hex escape", Some(FORM), format!("{good}&scope=%ZZ").into_bytes()),
        (
            "duplicated grant_type",
            Some(FORM),
            format!("{good}&grant_type=client_credentials").into_bytes(),
        ),
        (
            "duplicated client_id",
            Some(FORM),
            format!("{good}&client_id={}", p.client_id).into_bytes(),
        ),
        ("%FF", Some(FORM), format!("{good}&scope=%FF").into_bytes()),
        (
            "raw non-UTF-8",
            Some(FORM),
            [good.as_bytes(), b"&scope=\xff\xfe"].concat(),
        ),
        ("oversized form", Some(FORM), oversized.into_bytes()),
        ("huge form", Some(FORM), huge.into_bytes()),
    ];
    // A fresh connection per case: the server may close one whose body it did not read.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    for (case, content_type, body) in cases {
        let mut request = http.post(app.url("/oauth2/token")).body(body);
        if let Some(ct) = content_type {
            request = request.header(CONTENT_TYPE, ct);
        }
        let r = request.send().await.unwrap_or_else(|e| panic!("{case}: {e}"));
        assert!(!r.status().is_server_error(), "{case}: {}", r.status());
        let description = expect_oauth_error(r, 400, "invalid_request").await;
        assert!(!description.contains("panic"), "{case}: {description}");
    }
    // The client is untouched by all that.
    assert_eq!(app.token_response(&p.client_id, &p.secret, None).await.status(), 200);
});

both_backends!(
    failed_authentication_is_throttled_but_the_right_secret_works,
    |app: TestApp| async move {
        let p = partner(&app, "Throttle Partner").await;
        let wrong = format!("{}wrong", p.secret);
        let mut throttled = None;
        for _ in 0..40 {
            let r = app.token_response(&p.client_id, &wrong, None).await;
            match r.status().as_u16() {
                401 => continue,
                429 => {
                    throttled = Some(r);
                    break;
                }
                other => panic!("a wrong secret got {other}"),
            }
        }
        let r = throttled.expect("repeated wrong secrets are throttled");
        let retry_after: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .expect("Retry-After seconds");
        assert!(retry_after >= 1);
        expect_oauth_error(r, 429, "invalid_client").await;
        // RFC 6749 §10.10 without a lockout of the genuine client.
        let r = app.token_response(&p.client_id, &p.secret, None).await;
        assert_eq!(r.status(), 200, "the right secret still gets a token");
    }
);

// ------------------------------------------------------------ introspection (RFC 7662)

both_backends!(introspection_describes_an_active_token, |app: TestApp| async move {
    let p = partner(&app, "Introspected Partner").await;
    let resource = resource_server(&app).await;
    let token = token_with(&app, &p.client_id, &p.secret).await;
    let body = introspect(&app, &resource, &token).await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["scope"], SUPERVISOR_SCOPE);
    assert_eq!(body["client_id"], p.client_id.as_str());
    assert_eq!(body["sub"], p.client_id.as_str());
    let claims = jwt_part(&token, 1);
    assert_eq!(body["exp"], claims["exp"]);
    assert_eq!(body["iat"], claims["iat"]);
    assert_eq!(body["jti"], claims["jti"]);
    assert_eq!(body["iss"], app.base_url.as_str());
});

both_backends!(inactive_tokens_introspect_as_bare_inactive, |app: TestApp| async move {
    let resource = resource_server(&app).await;
    let p = partner(&app, "Inactive Partner").await;
    let revoked = token_with(&app, &p.client_id, &p.secret).await;
    assert_eq!(revoke(&app, &p, &revoked).await.status(), 200);
    let active = token_with(&app, &p.client_id, &p.secret).await;
    let mut tampered = active.clone();
    tampered.pop();
    tampered.push(if active.ends_with('A') { 'B' } else { 'A' });
    let d = partner(&app, "Disabled Partner").await;
    let of_disabled = token_with(&app, &d.client_id, &d.secret).await;
    assert_eq!(introspect(&app, &resource, &of_disabled).await["active"], true);
    disable(&app, &d).await;
    for (case, token) in [
        ("unknown", "not-a-token"),
        ("unknown JWT-shaped", "eyJhbGciOiJub25lIn0.e30."),
        ("tampered", tampered.as_str()),
        ("revoked", revoked.as_str()),
        ("disabled application", of_disabled.as_str()),
    ] {
        assert_eq!(
            introspect(&app, &resource, token).await,
            json!({"active": false}),
            "{case}"
        );
    }
    assert_eq!(introspect(&app, &resource, &active).await["active"], true);
});

both_backends!(
    introspection_requires_client_authentication,
    |app: TestApp| async move {
        let p = partner(&app, "Private Partner").await;
        let token = token_with(&app, &p.client_id, &p.secret).await;
        let r = post_form(&app, "/oauth2/introspect", None, &[("token", &token)]).await;
        assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
        expect_oauth_error(r, 401, "invalid_client").await;
        let wrong = basic(&p.client_id, "cbs_wrong");
        let r = post_form(&app, "/oauth2/introspect", Some(&wrong), &[("token", &token)]).await;
        expect_oauth_error(r, 401, "invalid_client").await;
    }
);

// ------------------------------------------------------------ revocation (RFC 7009)

both_backends!(revoking_an_unknown_token_is_ok, |app: TestApp| async move {
    let p = partner(&app, "Revoking Partner").await;
    for token in ["not-a-token", "a.b.c", "eyJhbGciOiJFZERTQSJ9.e30.AAAA"] {
        let r = revoke(&app, &p, token).await;
        assert_eq!(r.status(), 200, "{token}");
    }
    let r = post_form(&app, "/oauth2/revoke", None, &[("token", "not-a-token")]).await;
    expect_oauth_error(r, 401, "invalid_client").await;
});

both_backends!(a_revoked_token_is_refused, |app: TestApp| async move {
    let p = partner(&app, "Revoked Partner").await;
    let token = token_with(&app, &p.client_id, &p.secret).await;
    let other = token_with(&app, &p.client_id, &p.secret).await;
    assert_eq!(
        app.get("/api/v1/me", &token).await.status(),
        200,
        "cached as valid first"
    );
    assert_eq!(revoke(&app, &p, &token).await.status(), 200);
    expect_refused_at_me(&app, &token).await;
    assert_eq!(revoke(&app, &p, &token).await.status(), 200, "revoking twice is fine");
    assert_eq!(app.get("/api/v1/me", &other).await.status(), 200, "only that token");
});

both_backends!(
    a_client_cannot_revoke_another_clients_token_nor_learn_that_it_lives,
    |app: TestApp| async move {
        let owner = partner(&app, "Owner Partner").await;
        let stranger = partner(&app, "Stranger Partner").await;
        let token = token_with(&app, &owner.client_id, &owner.secret).await;
        let live = revoke(&app, &stranger, &token).await;
        let garbage = revoke(&app, &stranger, "not.a.token").await;
        // The same answer as for garbage: no oracle for whether a stolen token still works.
        assert_eq!((live.status().as_u16(), garbage.status().as_u16()), (200, 200));
        assert_eq!(live.text().await.unwrap(), garbage.text().await.unwrap());
        assert_eq!(app.get("/api/v1/me", &token).await.status(), 200, "left alive");
    }
);

both_backends!(
    a_disabled_applications_token_is_refused_at_once,
    |app: TestApp| async move {
        let p = partner(&app, "Disabled Partner").await;
        let token = token_with(&app, &p.client_id, &p.secret).await;
        assert_eq!(
            app.get("/api/v1/me", &token).await.status(),
            200,
            "cached as valid first"
        );
        disable(&app, &p).await;
        expect_refused_at_me(&app, &token).await;
        expect_oauth_error(
            app.token_response(&p.client_id, &p.secret, None).await,
            401,
            "invalid_client",
        )
        .await;
    }
);

both_backends!(
    a_deleted_applications_token_is_refused_at_once,
    |app: TestApp| async move {
        let p = partner(&app, "Deleted Partner").await;
        let token = token_with(&app, &p.client_id, &p.secret).await;
        assert_eq!(
            app.get("/api/v1/me", &token).await.status(),
            200,
            "cached as valid first"
        );
        let r = app
            .delete(&format!("/admin/v1/external-applications/{}", p.app_id), &p.admin)
            .await;
        assert_eq!(r.status(), 204);
        expect_refused_at_me(&app, &token).await;
        expect_oauth_error(
            app.token_response(&p.client_id, &p.secret, None).await,
            401,
            "invalid_client",
        )
        .await;
    }
);

// ------------------------------------------------------------ discovery and the JWT

both_backends!(metadata_describes_the_server, |app: TestApp| async move {
    let (status, m) = answer(
        app.http
            .get(app.url("/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let base = app.base_url.as_str();
    assert_eq!(m["issuer"], base);
    assert_eq!(m["token_endpoint"], format!("{base}/oauth2/token"));
    assert_eq!(m["jwks_uri"], format!("{base}/.well-known/jwks.json"));
    assert_eq!(m["introspection_endpoint"], format!("{base}/oauth2/introspect"));
    assert_eq!(m["revocation_endpoint"], format!("{base}/oauth2/revoke"));
    assert_eq!(m["grant_types_supported"], json!(["client_credentials"]));
    for field in [
        "token_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ] {
        let methods: BTreeSet<&str> = m[field].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert_eq!(
            methods,
            BTreeSet::from(["client_secret_basic", "client_secret_post", "private_key_jwt"]),
            "{field}"
        );
    }
    for field in [
        "token_endpoint_auth_signing_alg_values_supported",
        "introspection_endpoint_auth_signing_alg_values_supported",
        "revocation_endpoint_auth_signing_alg_values_supported",
    ] {
        assert_eq!(m[field], json!(["RS256", "PS256", "ES256", "EdDSA"]), "{field}");
    }
    assert!(
        m["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("engage:view"))
    );
});

both_backends!(the_jwks_lists_the_signing_key, |app: TestApp| async move {
    let p = partner(&app, "Jwks Partner").await;
    let token = token_with(&app, &p.client_id, &p.secret).await;
    let kid = jwt_part(&token, 0)["kid"].as_str().unwrap().to_owned();
    let (status, jwks) = answer(app.http.get(app.url("/.well-known/jwks.json")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let keys = jwks["keys"].as_array().unwrap();
    let key = keys
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the token's kid is listed");
    // RS256 by default: the one algorithm RFC 9068 makes every verifier support.
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["e"], "AQAB");
    assert_eq!(URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap().len(), 256);
    for k in keys {
        assert!(k.get("d").is_none(), "no private key material: {k}");
    }
});

both_backends!(the_token_is_an_rfc_9068_jwt, |app: TestApp| async move {
    let p = partner(&app, "Jwt Partner").await;
    let before = app.running.state.now().unix_secs();
    let token = token_with(&app, &p.client_id, &p.secret).await;
    let again = token_with(&app, &p.client_id, &p.secret).await;
    let header = jwt_part(&token, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    assert!(header["kid"].as_str().is_some_and(|k| !k.is_empty()));
    let claims = jwt_part(&token, 1);
    let base = app.base_url.as_str();
    assert_eq!(claims["iss"], base);
    assert_eq!(claims["aud"], base);
    assert_eq!(claims["sub"], p.client_id.as_str());
    assert_eq!(claims["client_id"], p.client_id.as_str());
    let iat = claims["iat"].as_i64().unwrap();
    assert!((before..=before + 60).contains(&iat), "iat is now");
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 3600);
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    assert_ne!(claims["jti"], jwt_part(&again, 1)["jti"], "jti is unique");
    assert_eq!(claims["scope"], SUPERVISOR_SCOPE);
});

// ------------------------------------------------------------ end to end

both_backends!(
    the_knowledge_base_flow_verifies_with_an_independent_library,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        // Register, as the "New Application" form does.
        let r = app
            .post_json(
                "/admin/v1/external-applications",
                &admin,
                &json!({"name": "KB Partner", "email": "kb@partner.example.org", "roles": ["engage-worker"],
                    "application_url": "https://partner.example.org", "description": "The article's example"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        // The expanded view: Client ID and Callback URL.
        let view: Value = app
            .get(&format!("/admin/v1/external-applications/{id}"), &admin)
            .await
            .json()
            .await
            .unwrap();
        let client_id = view["client_id"].as_str().unwrap().to_owned();
        let callback_url = view["callback_url"].as_str().unwrap().to_owned();
        // The key icon: reveal with the admin's password.
        let secret = app.reveal(&admin, &id).await;
        // The snippet: URLSearchParams posted to callback_url + '/oauth2/token'.
        let params = form(&[
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("grant_type", "client_credentials"),
        ]);
        let r = app
            .http
            .post(format!("{callback_url}/oauth2/token"))
            .header(CONTENT_TYPE, FORM)
            .body(params)
            .send()
            .await
            .unwrap();
        let (status, body) = answer(r).await;
        assert_eq!(status, 200, "{body}");
        let token = body["access_token"].as_str().unwrap();

        let claims = verify_with_jsonwebtoken(&app, token)
            .await
            .expect("jsonwebtoken verifies the token");
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
        assert_eq!(claims["sub"], client_id.as_str());
        let role: Value = app
            .get("/admin/v1/roles/engage-worker", &admin)
            .await
            .json()
            .await
            .unwrap();
        let role_permissions: BTreeSet<String> = role["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect();
        assert!(!role_permissions.is_empty());
        assert_eq!(scope_set(claims["scope"].as_str().unwrap()), role_permissions);

        // The same verifier refuses a forgery: another payload under the same signature.
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged_claims = jwt_part(token, 1);
        forged_claims["scope"] = json!("admin:delete");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(forged_claims.to_string()),
            parts[2]
        );
        assert!(
            verify_with_jsonwebtoken(&app, &forged).await.is_err(),
            "a forged payload must not verify"
        );

        // And the token calls the Casebook API with the role's permissions.
        let me: Value = app.get("/api/v1/me", token).await.json().await.unwrap();
        assert_eq!(me["kind"], "application");
        assert_eq!(me["name"], "KB Partner");
    }
);

both_backends!(
    tokens_signed_before_a_key_rotation_still_verify,
    |app: TestApp| async move {
        let p = partner(&app, "Rotation Partner").await;
        let old = token_with(&app, &p.client_id, &p.secret).await;
        let old_kid = jwt_part(&old, 0)["kid"].as_str().unwrap().to_owned();
        let state = &app.running.state;
        let new_kid = casebook_tests::casebook_server::keys::rotate(
            &casebook_tests::casebook_server::store::Scope::root(state.db().clone()),
            state.master(),
            Default::default(),
        )
        .await
        .expect("rotate");
        state.keys().root().refresh().await.expect("refresh");
        assert_ne!(new_kid, old_kid);
        let new = token_with(&app, &p.client_id, &p.secret).await;
        assert_eq!(jwt_part(&new, 0)["kid"], new_kid.as_str(), "new tokens use the new key");

        let jwks = app.public_json("/.well-known/jwks.json").await;
        let kids: BTreeSet<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k["kid"].as_str())
            .collect();
        assert!(
            kids.contains(old_kid.as_str()) && kids.contains(new_kid.as_str()),
            "{kids:?}"
        );

        for token in [&old, &new] {
            verify_with_jsonwebtoken(&app, token)
                .await
                .expect("verifies against the JWKS");
            assert_eq!(app.get("/api/v1/me", token).await.status(), 200);
            assert_eq!(introspect(&app, &p, token).await["active"], true);
        }
    }
);

both_backends!(
    a_token_signed_by_a_key_another_replica_has_not_loaded_can_be_revoked,
    |app: TestApp| async move {
        use casebook_tests::casebook_server as server;
        let p = partner(&app, "Replica Partner").await;
        // A second server on the same database and issuer: another replica of the install.
        let other = app.replica().await;
        let state = &app.running.state;
        // A new key, so far loaded by the first replica only.
        let new_kid = server::keys::rotate(
            &casebook_tests::casebook_server::store::Scope::root(state.db().clone()),
            state.master(),
            Default::default(),
        )
        .await
        .expect("rotate");
        state.keys().root().refresh().await.expect("refresh");
        let token = token_with(&app, &p.client_id, &p.secret).await;
        assert_eq!(jwt_part(&token, 0)["kid"], new_kid.as_str());
        // Revoked through the replica that has not seen the key yet.
        let r = app
            .http
            .post(format!("http://{}/oauth2/revoke", other.addr))
            .header(AUTHORIZATION, basic(&p.client_id, &p.secret))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        expect_refused_at_me(&app, &token).await;
        let r = app
            .http
            .get(format!("http://{}/api/v1/me", other.addr))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "refused by the revoking replica too");
        other.running.task.abort();
    }
);

// ------------------------------------------------------------------ RFC 8707 resource indicators

both_backends!(
    the_public_url_is_the_one_resource_a_token_is_for,
    |app: TestApp| async move {
        let p = partner(&app, "Resource Partner").await;
        let auth = basic(&p.client_id, &p.secret);
        let base = app.base_url.clone();
        let granted = post_form(
            &app,
            "/oauth2/token",
            Some(&auth),
            &[("grant_type", "client_credentials"), ("resource", &base)],
        )
        .await;
        let (status, body) = answer(granted).await;
        assert_eq!(status, 200, "{body}");
        let token = body["access_token"].as_str().unwrap();
        assert_eq!(jwt_part(token, 1)["aud"], base.as_str());
        assert_eq!(app.get("/api/v1/me", token).await.status(), 200);

        let elsewhere = format!("{base}/api/v1");
        let refused: [&[(&str, &str)]; 4] = [
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://other.example.org"),
            ],
            &[("grant_type", "client_credentials"), ("resource", "/api/v1")],
            &[("grant_type", "client_credentials"), ("resource", &elsewhere)],
            &[
                ("grant_type", "client_credentials"),
                ("resource", &base),
                ("resource", &base),
            ],
        ];
        for pairs in refused {
            let r = post_form(&app, "/oauth2/token", Some(&auth), pairs).await;
            expect_oauth_error(r, 400, "invalid_target").await;
        }
        // A wrong target is refused only once the client is known: an unknown
        // client still learns nothing but invalid_client.
        let r = post_form(
            &app,
            "/oauth2/token",
            Some(&basic(&p.client_id, "not-the-secret")),
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://other.example.org"),
            ],
        )
        .await;
        expect_oauth_error(r, 401, "invalid_client").await;
    }
);

// ------------------------------------------------------------------ RFC 9728 protected resource metadata

both_backends!(
    the_api_names_its_protected_resource_metadata,
    |app: TestApp| async move {
        let base = app.base_url.clone();
        let metadata = app.public_json("/.well-known/oauth-protected-resource").await;
        assert_eq!(metadata["resource"], base.as_str());
        assert_eq!(metadata["authorization_servers"], json!([base]));
        assert_eq!(metadata["bearer_methods_supported"], json!(["header"]));
        assert_eq!(metadata["resource_documentation"], format!("{base}/docs"));
        assert!(metadata["resource_name"].as_str().is_some_and(|n| !n.is_empty()));
        let scopes: BTreeSet<&str> = metadata["scopes_supported"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert!(
            scopes.contains("engage:view") && scopes.contains("admin:view"),
            "{scopes:?}"
        );
        // The authorization server's own metadata names the same issuer.
        let server = app.public_json("/.well-known/oauth-authorization-server").await;
        assert_eq!(server["issuer"], metadata["authorization_servers"][0]);

        let named = format!("resource_metadata=\"{base}/.well-known/oauth-protected-resource\"");
        let no_token = app.http.get(app.url("/api/v1/me")).send().await.unwrap();
        let bad_token = app.get("/api/v1/engage/cases", "not-a-token").await;
        let bad_session = app.get("/admin/v1/roles", "not-a-session").await;
        for r in [no_token, bad_token, bad_session] {
            assert_eq!(r.status(), 401);
            let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
            assert!(challenge.starts_with("Bearer realm=\"casebook\""), "{challenge}");
            assert!(challenge.contains(&named), "{challenge}");
        }
        // The token endpoint's own challenge is Basic, with no resource to name.
        let r = post_form(
            &app,
            "/oauth2/token",
            Some(&basic("cb_unknown", "nope")),
            &[("grant_type", "client_credentials")],
        )
        .await;
        let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(
            challenge.starts_with("Basic") && !challenge.contains("resource_metadata"),
            "{challenge}"
        );
    }
);
