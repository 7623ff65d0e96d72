//! `private_key_jwt` client authentication (RFC 7523; the contract, "Client
//! authentication without a shared secret"): registration of inline public
//! keys, tokens for signed assertions, and each refusal beside an assertion
//! that differs only in the rule, so every refusal is the rule's doing.

use crate::jose::{Key, b64, compact, now, signed};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use casebook_server::config::Backend;
use casebook_tests::{ADMIN_PASSWORD, APPS, TestApp, both_backends, expect, field_codes, id_of, pairs, problem};
use serde_json::{Value, json};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Claims a good assertion of `client_id` carries for `app`.
pub(crate) fn claims(app: &TestApp, client_id: &str) -> Value {
    json!({"iss": client_id, "sub": client_id, "aud": app.base_url, "iat": now(), "exp": now() + 60,
        "jti": uuid::Uuid::now_v7().to_string()})
}

/// The token endpoint's answer to an assertion (and a `client_id`, if given).
pub(crate) async fn exchange(app: &TestApp, assertion: &str, client_id: Option<&str>) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    if let Some(id) = client_id {
        form.push(("client_id", id));
    }
    let r = app
        .http
        .post(app.url("/oauth2/token"))
        .form(&form)
        .send()
        .await
        .expect("send");
    (r.status().as_u16(), r.json().await.expect("json"))
}

pub(crate) async fn refused(app: &TestApp, assertion: &str, why: &str) {
    let (status, body) = exchange(app, assertion, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{why}: {body}"
    );
}

pub(crate) async fn token(app: &TestApp, assertion: &str) -> String {
    let (status, body) = exchange(app, assertion, None).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("token").to_owned()
}

fn registration(name: &str, keys: Vec<Value>) -> Value {
    json!({"name": name, "email": format!("{}@partner.example.org", name.to_lowercase().replace(' ', "-")),
        "roles": ["engage-worker"], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": keys}})
}

/// Registers a `private_key_jwt` application; returns `(id, client_id)`.
async fn register(app: &TestApp, admin: &str, name: &str, keys: Vec<Value>) -> (String, String) {
    let view = expect(app.post_json(APPS, admin, &registration(name, keys)).await, 201).await;
    assert_eq!(view["token_endpoint_auth_method"], "private_key_jwt");
    (id_of(&view), view["client_id"].as_str().expect("client_id").to_owned())
}

both_backends!(
    rsa_ec_and_ed25519_keys_each_get_a_token_that_opens_the_api,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (rsa, ec, ed) = (Key::rsa(), Key::ec(), Key::ed());
        let keys = vec![rsa.public_jwk("r"), ec.public_jwk("e"), ed.public_jwk("o")];
        let (id, client) = register(&app, &admin, "Keyed Partner", keys).await;
        let view = expect(app.get(&format!("{APPS}/{id}"), &admin).await, 200).await;
        let kids: Vec<&str> = view["jwks"]["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids, ["r", "e", "o"]);
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
        // An assertion made by an independent JOSE library is read the same.
        if let Key::Ec(pair) = &ec {
            let pkcs8 = pair.to_pkcs8v1().expect("pkcs8");
            let key = jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref());
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
            header.kid = Some("e".into());
            let minted = jsonwebtoken::encode(&header, &claims(&app, &client), &key).expect("jsonwebtoken signs");
            token(&app, &minted).await;
        }
        // A client_id beside the assertion must be the assertion's.
        let (status, _) = exchange(
            &app,
            &signed(&ed, "EdDSA", Some("o"), &claims(&app, &client)),
            Some(&client),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = exchange(
            &app,
            &signed(&ed, "EdDSA", Some("o"), &claims(&app, &client)),
            Some("cb_00000000000000000000000000000000"),
        )
        .await;
        assert_eq!(status, 401);
        // Several keys: an assertion without a kid names none of them.
        refused(
            &app,
            &signed(&ed, "EdDSA", None, &claims(&app, &client)),
            "no kid among three keys",
        )
        .await;
        // One key: the kid may be left out.
        let solo = Key::ed();
        let (_, solo_client) = register(&app, &admin, "Solo Partner", vec![solo.public_jwk("only")]).await;
        token(&app, &signed(&solo, "EdDSA", None, &claims(&app, &solo_client))).await;
    }
);

both_backends!(
    each_rule_of_the_assertion_refuses_what_breaks_it,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let key = Key::ec();
        let (_, client) = register(&app, &admin, "Strict Partner", vec![key.public_jwk("e")]).await;
        let with = |edit: &dyn Fn(&mut Value)| {
            let mut c = claims(&app, &client);
            edit(&mut c);
            signed(&key, "ES256", Some("e"), &c)
        };
        let endpoint = app.url("/oauth2/token");
        refused(
            &app,
            &with(&|c| c["aud"] = json!(endpoint)),
            "aud is the token endpoint",
        )
        .await;
        refused(
            &app,
            &with(&|c| c["aud"] = json!([app.base_url, "https://other.example"])),
            "a second audience",
        )
        .await;
        refused(&app, &with(&|c| c["exp"] = json!(now() - 1)), "expired").await;
        refused(&app, &with(&|c| c["exp"] = json!(now() + 360)), "six minutes").await;
        refused(
            &app,
            &with(&|c| c["iss"] = json!("cb_00000000000000000000000000000000")),
            "another issuer",
        )
        .await;
        refused(&app, &with(&|c| c["sub"] = json!("someone")), "another subject").await;
        refused(
            &app,
            &with(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            "no jti",
        )
        .await;
        let unsigned = compact(&json!({"alg": "none", "kid": "e"}), &claims(&app, &client), |_| {
            Vec::new()
        });
        refused(&app, &unsigned, "alg none").await;
        // The classic confusion: the public key, as published, used as an HMAC secret.
        let public = key.public_jwk("e").to_string();
        let hmac = compact(&json!({"alg": "HS256", "kid": "e"}), &claims(&app, &client), |input| {
            let secret = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, public.as_bytes());
            aws_lc_rs::hmac::sign(&secret, input).as_ref().to_vec()
        });
        refused(&app, &hmac, "HS256 keyed with the public key").await;
        let stranger = Key::ec();
        refused(
            &app,
            &signed(&stranger, "ES256", Some("e"), &claims(&app, &client)),
            "a key not registered",
        )
        .await;
        let mut tampered = with(&|_| {});
        tampered.replace_range(tampered.len() - 4.., "AAAA");
        refused(&app, &tampered, "a signature that does not hold").await;
        // An application without a secret takes none.
        let r = app.token_response(&client, "any-secret-at-all", None).await;
        assert_eq!(r.status(), 401);
        // The same assertion, rules kept: accepted, so the refusals were the rules'.
        token(&app, &with(&|_| {})).await;
        token(&app, &with(&|c| c["aud"] = json!([app.base_url]))).await;
        token(&app, &with(&|c| c["exp"] = json!(now() + 290))).await;
    }
);

both_backends!(a_jti_is_spent_once, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let key = Key::ed();
    let (_, client) = register(&app, &admin, "Replay Partner", vec![key.public_jwk("o")]).await;
    let assertion = signed(&key, "EdDSA", Some("o"), &claims(&app, &client));
    token(&app, &assertion).await;
    refused(&app, &assertion, "the same assertion again").await;
    let mut same_jti = claims(&app, &client);
    same_jti["jti"] = jwt_claims(&assertion)["jti"].clone();
    same_jti["exp"] = json!(now() + 120);
    refused(
        &app,
        &signed(&key, "EdDSA", Some("o"), &same_jti),
        "a new assertion with a spent jti",
    )
    .await;
});

fn jwt_claims(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("claims");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jti_spent_at_one_replica_is_refused_at_the_other() {
    let Some(first) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let second = first.replica().await;
    let admin = first.admin_token().await;
    let key = Key::ed();
    let (_, client) = register(&first, &admin, "Replica Partner", vec![key.public_jwk("o")]).await;
    let assertion = signed(&key, "EdDSA", Some("o"), &claims(&first, &client));
    token(&second, &assertion).await;
    refused(&first, &assertion, "replayed at the other replica").await;
    refused(&second, &assertion, "replayed at the same replica").await;
}

both_backends!(
    registration_refuses_private_weak_and_too_many_keys,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let codes = |keys: Vec<Value>| {
            let app = &app;
            let admin = admin.clone();
            async move {
                let r = app
                    .post_json(APPS, &admin, &registration("Refused Partner", keys))
                    .await;
                field_codes(&problem(r, 422).await)
            }
        };
        let key = Key::ec();
        let mut private = key.public_jwk("e");
        private["d"] = json!(b64(&[7; 32]));
        let p = problem(
            app.post_json(APPS, &admin, &registration("Leaky", vec![private])).await,
            422,
        )
        .await;
        assert_eq!(field_codes(&p), pairs(&[("jwks", "private_key_material")]));
        assert!(
            !p.to_string().contains(&b64(&[7; 32])),
            "the private value is never echoed: {p}"
        );
        assert_eq!(codes(vec![]).await, pairs(&[("jwks", "required")]));
        let six: Vec<Value> = (0..6).map(|i| Key::ed().public_jwk(&format!("k{i}"))).collect();
        assert_eq!(codes(six.clone()).await, pairs(&[("jwks", "too_long")]));
        assert_eq!(
            codes(vec![key.public_jwk("same"), Key::ed().public_jwk("same")]).await,
            pairs(&[("jwks", "duplicate_kid")])
        );
        let weak = json!({"kty": "RSA", "kid": "w", "n": b64(&[0xc5; 128]), "e": "AQAB"});
        assert_eq!(codes(vec![weak]).await, pairs(&[("jwks", "weak_key")]));
        let mut no_keys = registration("No Keys", vec![]);
        no_keys.as_object_mut().unwrap().remove("jwks");
        let r = app.post_json(APPS, &admin, &no_keys).await;
        assert_eq!(field_codes(&problem(r, 422).await), pairs(&[("jwks", "required")]));
        let mut by_uri = no_keys.clone();
        by_uri["jwks_uri"] = json!("http://partner.example.org/jwks.json");
        let r = app.post_json(APPS, &admin, &by_uri).await;
        assert_eq!(
            field_codes(&problem(r, 422).await),
            pairs(&[("jwks_uri", "invalid_url")])
        );
        register(&app, &admin, "Five Keys", six[..5].to_vec()).await;
    }
);

both_backends!(
    an_application_without_a_secret_has_none_to_reveal_or_rotate,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (id, _) = register(&app, &admin, "Secretless", vec![Key::ed().public_jwk("o")]).await;
        for action in ["reveal", "rotate"] {
            let r = app
                .post_json(
                    &format!("{APPS}/{id}/client-secret/{action}"),
                    &admin,
                    &json!({"password": ADMIN_PASSWORD}),
                )
                .await;
            problem(r, 409).await;
        }
    }
);

both_backends!(
    an_application_moves_between_a_secret_and_keys,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let (view, client, secret) = app.partner(&admin, "Mover", &["engage-worker"]).await;
        let id = id_of(&view);
        assert_eq!(view["token_endpoint_auth_method"], "client_secret_basic");
        assert_eq!(view["jwks"], Value::Null);
        let path = format!("{APPS}/{id}");
        let r = app
            .patch_json(&path, &admin, &json!({"token_endpoint_auth_method": "private_key_jwt"}))
            .await;
        assert_eq!(field_codes(&problem(r, 422).await), pairs(&[("jwks", "required")]));
        let key = Key::ed();
        let change = json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.public_jwk("o")]}});
        expect(app.patch_json(&path, &admin, &change).await, 200).await;
        assert_eq!(
            app.token_response(&client, &secret, None).await.status(),
            401,
            "the secret ended"
        );
        token(&app, &signed(&key, "EdDSA", Some("o"), &claims(&app, &client))).await;
        let back = json!({"token_endpoint_auth_method": "client_secret_basic"});
        let view = expect(app.patch_json(&path, &admin, &back).await, 200).await;
        assert_eq!(view["jwks"], Value::Null);
        refused(
            &app,
            &signed(&key, "EdDSA", Some("o"), &claims(&app, &client)),
            "keys dropped",
        )
        .await;
        let fresh = app.reveal(&admin, &id).await;
        assert_ne!(fresh, secret);
        app.access_token(&client, &fresh).await;
        let r = app
            .patch_json(&path, &admin, &json!({"jwks": {"keys": [key.public_jwk("o")]}}))
            .await;
        assert_eq!(field_codes(&problem(r, 422).await), pairs(&[("jwks", "invalid_value")]));
    }
);

both_backends!(
    failed_assertions_are_throttled_like_wrong_secrets,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let key = Key::ed();
        let (_, client) = register(&app, &admin, "Throttled Keys", vec![key.public_jwk("o")]).await;
        let stranger = Key::ed();
        let mut throttled = None;
        for _ in 0..40 {
            let forged = signed(&stranger, "EdDSA", Some("o"), &claims(&app, &client));
            let form = [
                ("grant_type", "client_credentials"),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", forged.as_str()),
            ];
            let r = app
                .http
                .post(app.url("/oauth2/token"))
                .form(&form)
                .send()
                .await
                .expect("send");
            match r.status().as_u16() {
                401 => continue,
                429 => {
                    throttled = Some(r);
                    break;
                }
                other => panic!("a forged assertion got {other}"),
            }
        }
        let r = throttled.expect("repeated forged assertions are throttled");
        assert!(r.headers().contains_key("retry-after"));
        assert_eq!(r.json::<Value>().await.expect("json")["error"], "invalid_client");
        // As for secrets, the genuine client is not locked out.
        token(&app, &signed(&key, "EdDSA", Some("o"), &claims(&app, &client))).await;
    }
);

both_backends!(
    assertions_authenticate_revocation_and_stop_when_disabled,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let key = Key::ed();
        let (id, client) = register(&app, &admin, "Revoking Keys", vec![key.public_jwk("o")]).await;
        let access = token(&app, &signed(&key, "EdDSA", Some("o"), &claims(&app, &client))).await;
        // Revocation shares client authentication with the token endpoint.
        let assertion = signed(&key, "EdDSA", Some("o"), &claims(&app, &client));
        let form = [
            ("token", access.as_str()),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ];
        let r = app
            .http
            .post(app.url("/oauth2/revoke"))
            .form(&form)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200);
        assert_eq!(app.get("/api/v1/me", &access).await.status(), 401, "revoked");
        expect(
            app.patch_json(&format!("{APPS}/{id}"), &admin, &json!({"enabled": false}))
                .await,
            200,
        )
        .await;
        refused(
            &app,
            &signed(&key, "EdDSA", Some("o"), &claims(&app, &client)),
            "a disabled application",
        )
        .await;
    }
);
