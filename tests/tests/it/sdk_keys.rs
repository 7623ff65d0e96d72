//! The Rust SDK authenticating with private keys (`private_key_jwt`) against
//! the real server, on both backends: keys as a partner's tooling hands
//! them over (an RSA PKCS#8 PEM, an EC private JWK, an Ed25519 PEM), their
//! public halves registered through the SDK's admin API, and the API called
//! with the tokens they buy.

use crate::jose::{Key, b64};
use aws_lc_rs::encoding::{AsBigEndian, AsDer, EcPrivateKeyBin, Pkcs8V1Der};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use casebook_sdk::{AccountKind, ApplicationForm, AssertionAlg, AuthMethod, Client, Error, OAuthErrorCode, PrivateKey};
use casebook_tests::{TestApp, both_backends};
use serde_json::{Value, json};

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).expect("base64 is ASCII"))
        .collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

/// The private key as a partner would hold it, with the public JWK to register.
fn exported(key: &Key, kid: &str) -> (PrivateKey, Value) {
    let public = key.public_jwk(kid);
    let private = match key {
        Key::Rsa(pair) => {
            let der: Pkcs8V1Der = pair.as_der().expect("pkcs8");
            PrivateKey::from_pem(&pem("PRIVATE KEY", der.as_ref()), kid)
        }
        Key::Ec(pair) => {
            let d: EcPrivateKeyBin = pair.private_key().as_be_bytes().expect("d");
            let mut jwk = public.clone();
            jwk["d"] = json!(b64(d.as_ref()));
            PrivateKey::from_jwk(&jwk.to_string())
        }
        Key::Ed(pair) => PrivateKey::from_pem(&pem("PRIVATE KEY", pair.to_pkcs8v1().expect("pkcs8").as_ref()), kid),
    };
    (private.expect("the SDK reads the key"), public)
}

fn keyed(app: &TestApp, client_id: impl Into<String>, key: PrivateKey) -> casebook_sdk::ClientBuilder {
    Client::builder(&app.base_url).private_key_jwt(client_id, key)
}

both_backends!(
    an_rsa_pem_an_ec_jwk_and_an_ed25519_key_each_open_the_api,
    |app: TestApp| async move {
        let (rsa, ec, ed) = (Key::rsa(), Key::ec(), Key::ed());
        let (rsa_key, rsa_public) = exported(&rsa, "partner-rsa");
        let (ec_key, ec_public) = exported(&ec, "partner-ec");
        let (ed_key, ed_public) = exported(&ed, "partner-ed");
        // What the SDK says the public half is, is what was derived independently.
        for (key, public) in [(&rsa_key, &rsa_public), (&ec_key, &ec_public), (&ed_key, &ed_public)] {
            let mut expected = public.clone();
            expected["use"] = json!("sig");
            assert_eq!(key.public_jwk(), expected);
        }
        let admin = app.sdk_admin().await;
        let registered = admin
            .admin()
            .applications()
            .register(
                &ApplicationForm::new("Keyed Sync", "keyed-sync@partner.example.org")
                    .roles(["engage-worker"])
                    .auth_method(AuthMethod::PrivateKeyJwt)
                    .jwks(json!({"keys": [rsa_public, ec_public, ed_public]})),
            )
            .await
            .expect("register");

        for (key, alg) in [
            (&rsa_key, None),
            (&rsa_key, Some(AssertionAlg::Ps256)),
            (&ec_key, None),
            (&ed_key, None),
        ] {
            let mut builder = keyed(&app, &registered.client_id, key.clone());
            if let Some(alg) = alg {
                builder = builder.signing_alg(alg);
            }
            let client = builder.build().expect("client");
            let me = client
                .me()
                .await
                .unwrap_or_else(|e| panic!("{:?} {alg:?}: {e}", key.kind()));
            assert_eq!(
                (me.kind, me.id.as_str()),
                (AccountKind::Application, registered.id.as_str())
            );
            assert_eq!(me.permissions.to_scope(), "engage:view engage:create");
            // A second token for the same client: a new assertion, a new jti,
            // accepted although the first was spent.
            let tokens = client.token_source().expect("tokens");
            let first = tokens.token().await.expect("token");
            tokens.invalidate(&first);
            let second = tokens.token().await.expect("a second token");
            assert_ne!(first.secret(), second.secret());
            client.cases().list().send().await.expect("the API opens");
        }
    }
);

both_backends!(
    a_key_the_application_does_not_hold_is_invalid_client,
    |app: TestApp| async move {
        let admin = app.sdk_admin().await;
        let held = Key::ed();
        let (own, public) = exported(&held, "only");
        let registered = admin
            .admin()
            .applications()
            .register(
                &ApplicationForm::new("Keyed Stranger", "keyed-stranger@partner.example.org")
                    .roles(["engage-worker"])
                    .auth_method(AuthMethod::PrivateKeyJwt)
                    .jwks(json!({"keys": [public]})),
            )
            .await
            .expect("register");
        // Another key under the registered kid.
        let (impostor, _) = exported(&Key::ed(), "only");
        let error = keyed(&app, &registered.client_id, impostor)
            .build()
            .expect("client")
            .me()
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                Error::OAuth {
                    code: OAuthErrorCode::InvalidClient,
                    status: 401,
                    ..
                }
            ),
            "{error:?}"
        );
        // The application's own key, addressed to another issuer, is refused too…
        let error = keyed(&app, &registered.client_id, own.clone())
            .audience("https://elsewhere.example.org")
            .build()
            .expect("client")
            .me()
            .await
            .unwrap_err();
        assert_eq!(error.oauth_code(), Some(OAuthErrorCode::InvalidClient), "{error:?}");
        // …and opens the API when addressed to this one.
        let me = keyed(&app, &registered.client_id, own)
            .build()
            .expect("client")
            .me()
            .await;
        assert_eq!(
            me.expect("the right key and audience").application_id(),
            Some(registered.id)
        );
    }
);
