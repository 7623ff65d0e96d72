//! Tokens every verifier accepts: installs signing with RS256 (the default),
//! ES256 or EdDSA, each key bound to its algorithm, keys of several
//! algorithms published at once while an install moves from one to another,
//! and RFC 9701 signed introspection responses. Python verifiers (Authlib,
//! PyJWT) check the same tokens in CI; here `jsonwebtoken` does.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use casebook_domain::SigningAlgorithm;
use casebook_tests::casebook_server::keys;
use casebook_tests::{
    Spawn, TestApp, both_backends, jwt_part, kid_of, verify_jwt_with_jsonwebtoken, verify_with_jsonwebtoken,
};
use reqwest::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use serde_json::{Value, json};

const JWT_RESPONSE: &str = "application/token-introspection+jwt";

struct Partner {
    client_id: String,
    secret: String,
}

async fn partner(app: &TestApp, name: &str, roles: &[&str]) -> Partner {
    let admin = app.admin_token().await;
    let (_, client_id, secret) = app.partner(&admin, name, roles).await;
    Partner { client_id, secret }
}

async fn me_status(app: &TestApp, token: &str) -> u16 {
    app.get("/api/v1/me", token).await.status().as_u16()
}

async fn jwks(app: &TestApp) -> Vec<Value> {
    app.public_json("/.well-known/jwks.json").await["keys"]
        .as_array()
        .expect("keys")
        .clone()
}

fn published<'a>(keys: &'a [Value], kid: &str) -> &'a Value {
    keys.iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("{kid} is not published: {keys:?}"))
}

/// What an install of `alg` publishes and signs, and that `jsonwebtoken`
/// and the install itself accept it.
async fn an_install_signs_with(app: TestApp, alg: SigningAlgorithm) {
    let p = partner(&app, "Verifier Partner", &["engage-worker"]).await;
    let token = app.access_token(&p.client_id, &p.secret).await;
    let header = jwt_part(&token, 0);
    assert_eq!(header["alg"], alg.as_str());
    assert_eq!(header["typ"], "at+jwt");
    let keys = jwks(&app).await;
    let key = published(&keys, &kid_of(&token));
    assert_eq!(key["alg"], alg.as_str());
    assert_eq!(key["kty"], alg.key_type());
    assert_eq!(key["use"], "sig");
    let members = |names: &[&str]| names.iter().all(|n| key[*n].as_str().is_some_and(|v| !v.is_empty()));
    match alg {
        SigningAlgorithm::Rs256 => assert!(members(&["n", "e"]) && key.get("crv").is_none(), "{key}"),
        SigningAlgorithm::Es256 => assert!(members(&["crv", "x", "y"]) && key["crv"] == "P-256", "{key}"),
        SigningAlgorithm::EdDsa => assert!(members(&["crv", "x"]) && key["crv"] == "Ed25519", "{key}"),
    }
    for k in &keys {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none(), "no private member {private}: {k}");
        }
    }
    let claims = verify_with_jsonwebtoken(&app, &token)
        .await
        .unwrap_or_else(|e| panic!("jsonwebtoken refused a {alg} token: {e}"));
    assert_eq!(claims["client_id"], p.client_id.as_str());
    assert_eq!(me_status(&app, &token).await, 200);
    let metadata = app.public_json("/.well-known/oauth-authorization-server").await;
    assert_eq!(
        metadata["introspection_signing_alg_values_supported"],
        json!([alg.as_str()])
    );
}

both_backends!(a_default_install_signs_with_rs256, |app: TestApp| async move {
    an_install_signs_with(app, SigningAlgorithm::Rs256).await;
});

both_backends!(
    an_es256_install_signs_with_es256,
    spawn = Spawn::with_signing_alg(SigningAlgorithm::Es256),
    |app: TestApp| async move { an_install_signs_with(app, SigningAlgorithm::Es256).await }
);

both_backends!(
    an_eddsa_install_signs_with_eddsa,
    spawn = Spawn::with_signing_alg(SigningAlgorithm::EdDsa),
    |app: TestApp| async move { an_install_signs_with(app, SigningAlgorithm::EdDsa).await }
);

/// The same token with its header's `alg` replaced: the signature is intact,
/// only the claim of how to check it changed.
fn relabelled(token: &str, alg: &str) -> String {
    let mut header = jwt_part(token, 0);
    header["alg"] = json!(alg);
    let rest = token.split_once('.').expect("a JWS").1;
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()))
}

both_backends!(
    a_header_naming_another_algorithm_than_its_keys_is_refused,
    |app: TestApp| async move {
        let p = partner(&app, "Confused Partner", &["engage-worker"]).await;
        let token = app.access_token(&p.client_id, &p.secret).await;
        assert_eq!(me_status(&app, &token).await, 200);
        for alg in ["ES256", "EdDSA", "PS256", "HS256", "none", "rs256"] {
            assert_eq!(me_status(&app, &relabelled(&token, alg)).await, 401, "alg {alg}");
        }
        // HS256 keyed with the public key, the classic confusion: refused unread.
        let header =
            URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "at+jwt", "kid": kid_of(&token)}).to_string());
        let payload = token.split('.').nth(1).expect("payload");
        let forged = format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode([0u8; 32]));
        assert_eq!(me_status(&app, &forged).await, 401);
    }
);

both_backends!(
    keys_of_several_algorithms_are_published_and_accepted_at_once,
    spawn = Spawn::with_signing_alg(SigningAlgorithm::EdDsa),
    |app: TestApp| async move {
        let p = partner(&app, "Moving Partner", &["engage-worker"]).await;
        let before = app.access_token(&p.client_id, &p.secret).await;
        let state = &app.running.state;
        keys::rotate(
            &casebook_tests::casebook_server::store::Scope::root(state.db().clone()),
            state.master(),
            SigningAlgorithm::Es256,
        )
        .await
        .expect("rotate");
        state.keys().root().refresh().await.expect("refresh");
        let after = app.access_token(&p.client_id, &p.secret).await;
        assert_eq!(jwt_part(&before, 0)["alg"], "EdDSA");
        assert_eq!(jwt_part(&after, 0)["alg"], "ES256");
        let keys = jwks(&app).await;
        assert_eq!(published(&keys, &kid_of(&before))["kty"], "OKP");
        assert_eq!(published(&keys, &kid_of(&after))["kty"], "EC");
        for token in [&before, &after] {
            assert_eq!(me_status(&app, token).await, 200);
            verify_with_jsonwebtoken(&app, token)
                .await
                .expect("jsonwebtoken verifies");
        }
        let metadata = app.public_json("/.well-known/oauth-authorization-server").await;
        assert_eq!(
            metadata["introspection_signing_alg_values_supported"],
            json!(["ES256", "EdDSA"]),
            "the signing algorithm first"
        );
    }
);

// ------------------------------------------------------------ RFC 9701

async fn introspect(app: &TestApp, caller: &Partner, secret: &str, token: &str, accept: &str) -> reqwest::Response {
    let credentials = STANDARD.encode(format!("{}:{secret}", caller.client_id));
    app.http
        .post(app.url("/oauth2/introspect"))
        .header(AUTHORIZATION, format!("Basic {credentials}"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(ACCEPT, accept)
        .body(serde_urlencoded::to_string([("token", token)]).expect("form"))
        .send()
        .await
        .expect("introspect")
}

/// A signed introspection response, checked as the resource server would,
/// and its claims.
async fn signed_answer(app: &TestApp, caller: &Partner, token: &str) -> Value {
    let r = introspect(app, caller, &caller.secret, token, JWT_RESPONSE).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[CONTENT_TYPE], JWT_RESPONSE);
    assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
    let jwt = r.text().await.expect("body");
    assert_eq!(jwt_part(&jwt, 0)["typ"], "token-introspection+jwt");
    let claims = verify_jwt_with_jsonwebtoken(app, &jwt, &caller.client_id, &["iss", "aud", "iat"])
        .await
        .unwrap_or_else(|e| panic!("the introspection response does not verify: {e}"));
    assert_eq!(claims["iss"], app.base_url.as_str());
    let now = app.running.state.now().unix_secs();
    assert!(
        claims["iat"]
            .as_i64()
            .is_some_and(|iat| (now - 60..=now).contains(&iat)),
        "{claims}"
    );
    // A statement about a token, never one itself.
    assert!(claims.get("sub").is_none() && claims.get("exp").is_none(), "{claims}");
    claims
}

both_backends!(
    introspection_answers_a_signed_jwt_when_asked_for_one,
    |app: TestApp| async move {
        let p = partner(&app, "Introspecting Partner", &["engage-worker"]).await;
        let token = app.access_token(&p.client_id, &p.secret).await;
        let claims = signed_answer(&app, &p, &token).await;
        let inner = &claims["token_introspection"];
        assert_eq!(claims["aud"], p.client_id.as_str(), "the response is for the caller");
        assert_eq!(inner["active"], true);
        assert_eq!(inner["client_id"], p.client_id.as_str());
        assert_eq!(inner["jti"], jwt_part(&token, 1)["jti"]);
        assert_eq!(inner["scope"], jwt_part(&token, 1)["scope"]);
        // The plain answer carries the same members.
        let r = introspect(&app, &p, &p.secret, &token, "application/json").await;
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(&r.json::<Value>().await.expect("json"), inner);
        let refused = "application/token-introspection+jwt;q=0, application/json";
        let r = introspect(&app, &p, &p.secret, &token, refused).await;
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json", "q=0 refuses the JWT");
    }
);

both_backends!(
    a_signed_introspection_tells_an_outsider_nothing,
    |app: TestApp| async move {
        let owner = partner(&app, "Owner Partner", &["engage-worker"]).await;
        let outsider = partner(&app, "Outsider Partner", &["engage-worker"]).await;
        let token = app.access_token(&owner.client_id, &owner.secret).await;
        let claims = signed_answer(&app, &outsider, &token).await;
        assert_eq!(claims["aud"], outsider.client_id.as_str());
        assert_eq!(claims["token_introspection"], json!({"active": false}));
        let claims = signed_answer(&app, &owner, "not-a-token").await;
        assert_eq!(claims["token_introspection"], json!({"active": false}));
    }
);

both_backends!(
    a_failed_client_authentication_is_a_json_error_even_when_a_jwt_is_asked_for,
    |app: TestApp| async move {
        let p = partner(&app, "Wrong Secret Partner", &["engage-worker"]).await;
        let token = app.access_token(&p.client_id, &p.secret).await;
        let r = introspect(&app, &p, "not-the-secret", &token, JWT_RESPONSE).await;
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(r.json::<Value>().await.expect("json")["error"], "invalid_client");
    }
);

// ------------------------------------------------------------ moving an install

/// The contract ("Signing keys"): an install moves from EdDSA to RS256 with `casebook keys rotate
/// --alg RS256 --notice 5`, run by an operator beside two serving replicas.
/// Tokens signed before and after verify on both throughout, with the
/// install's own check and with an outside verifier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_install_moves_from_eddsa_to_rs256_while_two_replicas_serve() {
    use casebook_tests::casebook_server::config::Backend;
    let Some(binary) = casebook_tests::casebook_binary() else {
        return;
    };
    let Some(first) = TestApp::spawn_with(Backend::Postgres, Spawn::with_signing_alg(SigningAlgorithm::EdDsa)).await
    else {
        return;
    };
    let second = first.replica().await;
    let replicas = [&first, &second];
    let p = partner(&first, "Migrating Partner", &["engage-worker"]).await;
    let mut held = Vec::new();
    for replica in replicas {
        held.push(replica.access_token(&p.client_id, &p.secret).await);
    }
    assert!(held.iter().all(|t| jwt_part(t, 0)["alg"] == "EdDSA"));

    let (url, master) = (first.db.url.clone(), first.master_key.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(binary)
            .args(["keys", "rotate", "--alg", "RS256", "--notice", "5"])
            .env("CASEBOOK_DATABASE_URL", url)
            .env("CASEBOOK_MASTER_KEY", master)
            .env_remove("CASEBOOK_TOKEN_SIGNING_ALG")
            .output()
    })
    .await
    .expect("join")
    .expect("run casebook keys rotate");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("RS256") && said.contains("signs from 5 s on"), "{said}");

    // Notice, then each replica's refresh interval, then slack.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(25);
    loop {
        let mut fresh = Vec::new();
        for replica in replicas {
            fresh.push(replica.access_token(&p.client_id, &p.secret).await);
        }
        for token in held.iter().chain(&fresh) {
            let alg = jwt_part(token, 0)["alg"].clone();
            for (n, replica) in replicas.iter().enumerate() {
                assert_eq!(me_status(replica, token).await, 200, "a {alg} token on replica {n}");
            }
            verify_with_jsonwebtoken(&first, token)
                .await
                .unwrap_or_else(|e| panic!("a {alg} token does not verify outside: {e}"));
        }
        if fresh.iter().all(|t| jwt_part(t, 0)["alg"] == "RS256") {
            held.extend(fresh);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "a replica still signs with EdDSA");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    for replica in replicas {
        let kinds: Vec<Value> = jwks(replica).await.iter().map(|k| k["kty"].clone()).collect();
        assert!(
            kinds.contains(&json!("OKP")) && kinds.contains(&json!("RSA")),
            "{kinds:?}"
        );
    }
    // The EdDSA tokens from before the move, after it.
    for token in &held[..2] {
        for replica in replicas {
            assert_eq!(me_status(replica, token).await, 200);
        }
    }
}
