//! Degenerate public keys (the contract's "Keys from outside"): an Ed25519 point of
//! small order verifies a forged signature with good odds (the identity
//! point verifies `R = identity, S = 0` for every message), so such keys are
//! refused wherever keys come in: an application's `jwks`, a federated
//! credential's, and a set fetched from a `jwks_uri` (which drops the key).

use crate::jose::{Key, b64, compact};
use crate::key_host::{Answer, KeyHost, ca_file};
use crate::private_key_jwt::{claims, exchange, token};
use casebook_tests::{APPS, Spawn, TestApp, both_backends, expect, field_codes, id_of, pairs, problem};
use serde_json::{Value, json};

/// `x` = 0: the all-zero buffer, a point of order 4.
const ZERO: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
/// `x` = 1: the identity point.
const IDENTITY: &str = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn okp(kid: &str, x: &str) -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": x})
}

/// A "signature" made without any private key: `R` = the identity, `S` = 0.
/// Against the identity key it satisfies `[S]B = R + [k]A` for any message.
fn forged(kid: &str, claims: &Value) -> String {
    compact(&json!({"alg": "EdDSA", "kid": kid}), claims, |_| {
        let mut signature = vec![0u8; 64];
        signature[0] = 1;
        signature
    })
}

fn registration(name: &str, keys: Vec<Value>) -> Value {
    json!({"name": name, "email": "keys@partner.example.org", "roles": ["engage-worker"],
        "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": keys}})
}

both_backends!(degenerate_keys_are_refused_at_registration, |app: TestApp| async move {
    let admin = app.admin_token().await;
    let rsa = Key::rsa().public_jwk("r");
    let mut e3 = rsa.clone();
    e3["e"] = json!(b64(&[3]));
    let mut even = rsa.clone();
    let mut n = base64_decode(rsa["n"].as_str().unwrap());
    *n.last_mut().unwrap() &= 0xfe;
    even["n"] = json!(b64(&n));
    let mut encrypting = Key::ed().public_jwk("o");
    encrypting["key_ops"] = json!(["encrypt"]);
    let mut chained = Key::ec().public_jwk("c");
    chained["x5c"] = json!(["MIIBszCCAVmgAwIBAgIU"]);
    let cases = [
        ("all-zero Ed25519", okp("z", ZERO), "weak_key"),
        ("identity Ed25519", okp("z", IDENTITY), "weak_key"),
        ("RSA e = 3", e3, "weak_key"),
        ("RSA even modulus", even, "weak_key"),
        ("key_ops encrypt", encrypting, "invalid_value"),
        ("an x5c chain nothing checks", chained, "unsupported_key"),
    ];
    for (why, key, code) in cases {
        let refused = problem(app.post_json(APPS, &admin, &registration(why, vec![key])).await, 422).await;
        assert_eq!(field_codes(&refused), pairs(&[("jwks", code)]), "{why}: {refused}");
    }
    // A federated credential's inline keys follow the same rule.
    let (view, _, _) = app.partner(&admin, "Federated Partner", &["engage-worker"]).await;
    let path = format!("{APPS}/{}/federated-credentials", id_of(&view));
    let body = json!({"name": "cluster", "issuer": "https://issuer.example.org",
            "subject": "workload", "jwks": {"keys": [okp("z", IDENTITY)]}});
    let refused = problem(app.post_json(&path, &admin, &body).await, 422).await;
    assert_eq!(field_codes(&refused), pairs(&[("jwks", "weak_key")]), "{refused}");
    // Nothing was stored by any refusal.
    let listed = expect(app.get(&path, &admin).await, 200).await;
    assert_eq!(listed["items"], json!([]));
});

both_backends!(
    a_fetched_set_drops_a_degenerate_key_and_keeps_the_rest,
    spawn = Spawn::trusting_ca(ca_file(), true),
    |app: TestApp| async move {
        let host = KeyHost::start().await;
        let good = Key::ed();
        host.answer(
            "/jwks",
            Answer::Jwks(json!({"keys": [okp("z", IDENTITY), good.public_jwk("g")]})),
        );
        let admin = app.admin_token().await;
        let body = json!({"name": "Hosted", "email": "hosted@partner.example.org", "roles": ["engage-worker"],
            "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": host.url("/jwks")});
        let view = expect(app.post_json(APPS, &admin, &body).await, 201).await;
        let client = view["client_id"].as_str().expect("client_id").to_owned();
        let (status, answer) = exchange(&app, &forged("z", &claims(&app, &client)), None).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (401, Some("invalid_client")),
            "a forged signature over the identity key: {answer}"
        );
        // The publisher's good key still works.
        token(
            &app,
            &crate::jose::signed(&good, "EdDSA", Some("g"), &claims(&app, &client)),
        )
        .await;
    }
);

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .expect("base64url")
}
