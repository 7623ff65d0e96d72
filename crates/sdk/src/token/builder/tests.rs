//! Keys and federated token files on the wire, against a local endpoint
//! that records what it was sent.

use super::*;
use crate::RetryPolicy;
use crate::key::tests::{ec_jwk, ed25519_pem, rsa_pem, verifies};
use crate::token::tests::{ISSUED, endpoint};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use casebook_domain::AssertionAlg;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The form a recorded request carried, by field.
fn form_of(request: &str) -> BTreeMap<String, String> {
    let body = request.split_once("\r\n\r\n").expect("a body").1;
    url::form_urlencoded::parse(body.as_bytes()).into_owned().collect()
}

fn claims_of(assertion: &str) -> Value {
    let part = assertion.split('.').nth(1).expect("claims");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn quick(builder: TokenSourceBuilder) -> TokenSourceBuilder {
    builder.retry_policy(RetryPolicy::default().initial_backoff(Duration::from_millis(10)))
}

#[tokio::test]
async fn each_token_request_carries_a_new_assertion_addressed_to_the_issuer() {
    let (url, seen) = endpoint(vec![(200, ISSUED), (200, ISSUED)]).await;
    let key = PrivateKey::from_pem(&ed25519_pem(), "k1").unwrap();
    let source = quick(TokenSource::with_private_key(&url, "cb_1", key.clone()))
        .scope("engage:view")
        .build()
        .unwrap();
    let first = source.token().await.unwrap();
    source.invalidate(&first);
    source.token().await.unwrap();
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    let issuer = url.strip_suffix("/oauth2/token").unwrap();
    let mut jtis = Vec::new();
    for request in &requests {
        assert!(!request.to_ascii_lowercase().contains("authorization:"), "{request}");
        let form = form_of(request);
        assert_eq!(
            form.keys().map(String::as_str).collect::<Vec<_>>(),
            [
                "client_assertion",
                "client_assertion_type",
                "client_id",
                "grant_type",
                "scope"
            ]
        );
        assert_eq!(form["grant_type"], "client_credentials");
        assert_eq!(form["client_id"], "cb_1");
        assert_eq!(
            form["client_assertion_type"],
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        );
        let assertion = &form["client_assertion"];
        let claims = claims_of(assertion);
        assert_eq!(
            (claims["iss"].as_str(), claims["sub"].as_str()),
            (Some("cb_1"), Some("cb_1"))
        );
        assert_eq!(claims["aud"], issuer);
        assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 60);
        let (input, signature) = assertion.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert!(verifies(&key, AssertionAlg::EdDsa, input.as_bytes(), &signature));
        jtis.push(claims["jti"].as_str().unwrap().to_owned());
    }
    assert_ne!(jtis[0], jtis[1]);
}

#[tokio::test]
async fn a_retried_request_is_signed_again() {
    let (url, seen) = endpoint(vec![(503, r#"{"error":"temporarily_unavailable"}"#), (200, ISSUED)]).await;
    let key = PrivateKey::from_jwk(&ec_jwk("e").to_string()).unwrap();
    quick(TokenSource::with_private_key(&url, "cb_1", key))
        .build()
        .unwrap()
        .token()
        .await
        .unwrap();
    let requests = seen.lock().unwrap().clone();
    let jti = |r: &str| claims_of(&form_of(r)["client_assertion"])["jti"].clone();
    assert_eq!(requests.len(), 2);
    assert_ne!(jti(&requests[0]), jti(&requests[1]));
}

#[test]
fn the_audience_is_the_token_url_less_its_path_or_what_is_set() {
    let key = PrivateKey::from_pem(&ed25519_pem(), "k").unwrap();
    let describe = |source: TokenSource| format!("{source:?}");
    for (url, issuer) in [
        (
            "https://casebook.example.org/oauth2/token",
            "https://casebook.example.org",
        ),
        ("https://example.org/tenant/oauth2/token", "https://example.org/tenant"),
    ] {
        let shown = describe(TokenSource::with_private_key(url, "cb_1", key.clone()).build().unwrap());
        assert!(shown.contains(&format!("aud {issuer})")), "{shown}");
    }
    let elsewhere = TokenSource::with_private_key("https://auth.example.org/token", "cb_1", key.clone());
    assert!(matches!(elsewhere.build(), Err(Error::Config(m)) if m.contains("audience")));
    let set = TokenSource::with_private_key("https://auth.example.org/token", "cb_1", key.clone())
        .audience("https://auth.example.org")
        .build()
        .unwrap();
    assert!(describe(set).contains("aud https://auth.example.org)"));
}

#[test]
fn a_mismatched_algorithm_fails_the_build_and_key_settings_need_a_key() {
    let rsa = PrivateKey::from_pem(&rsa_pem(), "r").unwrap();
    let url = "https://casebook.example.org/oauth2/token";
    let built = TokenSource::with_private_key(url, "cb_1", rsa.clone())
        .signing_alg(AssertionAlg::Ps256)
        .build()
        .unwrap();
    assert!(format!("{built:?}").contains("PS256"));
    let error = TokenSource::with_private_key(url, "cb_1", rsa)
        .signing_alg(AssertionAlg::Es256)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::KeyAlgorithmMismatch {
                key: crate::KeyKind::Rsa,
                alg: AssertionAlg::Es256
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "ES256 cannot be signed with an RSA key");
    let secret = TokenSource::builder(
        url,
        "cb_1",
        ClientSecret::from_random([9; casebook_domain::credentials::CLIENT_SECRET_BYTES]),
    )
    .signing_alg(AssertionAlg::Rs256);
    assert!(matches!(secret.build(), Err(Error::Config(_))));
    let file = TokenSource::with_federated_token_file(url, "cb_1", "/nonexistent").audience("x");
    assert!(matches!(file.build(), Err(Error::Config(_))));
}

#[test]
fn the_key_is_never_in_debug_output() {
    let jwk = ec_jwk("e");
    let d = jwk["d"].as_str().unwrap().to_owned();
    let builder = TokenSource::with_private_key(
        "https://casebook.example.org/oauth2/token",
        "cb_1",
        PrivateKey::from_jwk(&jwk.to_string()).unwrap(),
    );
    let shown = format!("{builder:?}");
    assert!(!shown.contains(&d), "{shown}");
    let shown = format!("{:?}", builder.build().unwrap());
    assert!(!shown.contains(&d) && shown.contains("private_key_jwt"), "{shown}");
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("casebook-sdk-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn the_federated_token_file_is_read_for_every_token_request() {
    let dir = TempDir::new("rotates");
    let path = dir.0.join("token");
    std::fs::write(&path, "eyJ.first.token\n").unwrap();
    let (url, seen) = endpoint(vec![(200, ISSUED), (200, ISSUED)]).await;
    let source = quick(TokenSource::with_federated_token_file(&url, "cb_1", &path))
        .build()
        .unwrap();
    let first = source.token().await.unwrap();
    // The platform rotates the token; the next request must carry the new one.
    std::fs::write(&path, "eyJ.second.token").unwrap();
    source.invalidate(&first);
    source.token().await.unwrap();
    let forms: Vec<_> = seen.lock().unwrap().iter().map(|r| form_of(r)).collect();
    assert_eq!(forms.len(), 2);
    for (form, token) in forms.iter().zip(["eyJ.first.token", "eyJ.second.token"]) {
        assert_eq!(
            form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(),
            [
                ("client_assertion", token),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                ),
                ("client_id", "cb_1"),
                ("grant_type", "client_credentials"),
            ]
        );
    }
}

#[tokio::test]
async fn an_unusable_token_file_is_a_typed_error_that_never_quotes_it() {
    let dir = TempDir::new("unusable");
    let huge = "x".repeat(70 * 1024);
    for (name, contents, says) in [
        ("missing", None, "cannot be opened"),
        ("empty", Some(" \n"), "empty"),
        ("two", Some("one.token two.token"), "more than one token"),
        ("huge", Some(huge.as_str()), "64 KiB"),
    ] {
        let path = dir.0.join(name);
        if let Some(contents) = contents {
            std::fs::write(&path, contents).unwrap();
        }
        let error = super::super::endpoint::read_token_file(&path).await.unwrap_err();
        let Error::TokenFile {
            path: named, message, ..
        } = &error
        else {
            panic!("{error:?}")
        };
        assert_eq!(named, &path);
        assert!(message.contains(says), "{name}: {message}");
        assert!(error.is_transient());
        assert!(!error.to_string().contains("one.token"), "{error}");
    }
    // Through a source: nothing is sent, and the error is the file's.
    let (url, seen) = endpoint(vec![]).await;
    let error = TokenSource::with_federated_token_file(&url, "cb_1", dir.0.join("missing"))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
        .token()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::TokenFile { .. }), "{error:?}");
    assert!(std::error::Error::source(&error).is_some());
    assert!(seen.lock().unwrap().is_empty());
}
