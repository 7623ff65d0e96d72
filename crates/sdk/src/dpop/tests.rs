//! The key and its proofs on their own, then a client against a scripted
//! server on a loopback socket: the proofs on the wire, the nonce dance,
//! and how refusals are typed.

use super::*;
use crate::key::tests::{ec_jwk, ed25519_pem, rsa_jwk, verifies};
use crate::{Client, ClientSecret, Error, RetryPolicy, TokenSource};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use casebook_domain::OAuthErrorCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A proof's header and claims, with its signature checked by aws-lc-rs's
/// own verifier against the key's public half.
fn opened(key: &DpopKey, proof: &str) -> (Value, Value) {
    let (input, signature) = proof.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    assert!(verifies(&key.key, key.alg, input.as_bytes(), &signature), "{proof}");
    let (header, claims) = input.split_once('.').unwrap();
    (decode(header), decode(claims))
}

fn url(raw: &str) -> Url {
    Url::parse(raw).unwrap()
}

#[test]
fn a_generated_key_signs_es256_proofs_naming_its_public_key() {
    let key = DpopKey::generate().unwrap();
    assert_eq!((key.alg(), key.kind()), (AssertionAlg::Es256, KeyKind::P256));
    let prover = Prover::new(key.clone());
    let proof = prover
        .prove_at("POST", &url("https://cb.example/t/a/oauth2/token"), None, 1_700_000_000)
        .unwrap();
    let (header, claims) = opened(&key, proof.header.to_str().unwrap());
    assert_eq!(header["typ"], "dpop+jwt");
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["jwk"]["kty"], "EC");
    assert!(
        header["jwk"].get("d").is_none(),
        "the proof carries the public key only"
    );
    // The thumbprint is the header's key's, by RFC 7638 computed here.
    let jwk = &header["jwk"];
    let canonical = json!({"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]}).to_string();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    assert_eq!(key.thumbprint(), URL_SAFE_NO_PAD.encode(digest.as_ref()));
    assert_eq!(claims["htm"], "POST");
    assert_eq!(claims["htu"], "https://cb.example/t/a/oauth2/token");
    assert_eq!(claims["iat"], 1_700_000_000);
    assert_eq!(
        URL_SAFE_NO_PAD.decode(claims["jti"].as_str().unwrap()).unwrap().len(),
        16
    );
    assert!(claims.get("ath").is_none() && claims.get("nonce").is_none(), "{claims}");
    // Two generated keys are two keys.
    assert_ne!(DpopKey::generate().unwrap().thumbprint(), key.thumbprint());
}

#[test]
fn an_api_proof_hashes_the_token_leaves_out_the_query_and_carries_the_nonce() {
    let key = DpopKey::generate().unwrap();
    let prover = Prover::new(key.clone());
    let mut answer = HeaderMap::new();
    answer.insert("dpop-nonce", HeaderValue::from_static("n-1"));
    prover.remember_nonce(&answer);
    let proof = prover
        .prove(
            "GET",
            &url("https://cb.example/api/v1/engage/cases?limit=2&cursor=x"),
            Some("tok"),
        )
        .unwrap();
    let (_, claims) = opened(&key, proof.header.to_str().unwrap());
    assert_eq!(claims["htm"], "GET");
    assert_eq!(claims["htu"], "https://cb.example/api/v1/engage/cases");
    assert_eq!(claims["ath"], dpop::access_token_hash("tok"));
    assert_eq!(claims["nonce"], "n-1");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((claims["iat"].as_i64().unwrap() - now).abs() <= 5);
    assert!(proof.header.is_sensitive());
}

#[test]
fn every_proof_has_its_own_jti() {
    let prover = Prover::new(DpopKey::generate().unwrap());
    let jtis: BTreeSet<String> = (0..100)
        .map(|_| {
            let proof = prover
                .prove("GET", &url("https://cb.example/api/v1/me"), Some("t"))
                .unwrap();
            let claims = decode(proof.header.to_str().unwrap().split('.').nth(1).unwrap());
            claims["jti"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(jtis.len(), 100);
}

#[test]
fn a_nonce_is_kept_only_when_well_formed_and_a_newer_one_is_told_apart() {
    let prover = Prover::new(DpopKey::generate().unwrap());
    let target = url("https://cb.example/oauth2/token");
    let bare = prover.prove("POST", &target, None).unwrap();
    assert!(!prover.has_newer_nonce_than(&bare), "no nonce held");
    for bad in ["with space", "quote\"d", "back\\slash", ""] {
        let mut answer = HeaderMap::new();
        answer.insert("dpop-nonce", HeaderValue::from_str(bad).unwrap());
        prover.remember_nonce(&answer);
        assert!(prover.nonce().is_none(), "{bad:?}");
    }
    let mut answer = HeaderMap::new();
    answer.insert(
        "dpop-nonce",
        HeaderValue::from_str(&"n".repeat(MAX_NONCE_LEN + 1)).unwrap(),
    );
    prover.remember_nonce(&answer);
    assert!(prover.nonce().is_none(), "too long");

    answer.insert("dpop-nonce", HeaderValue::from_static("AbC-_.~1"));
    prover.remember_nonce(&answer);
    assert!(prover.has_newer_nonce_than(&bare));
    let with_it = prover.prove("POST", &target, None).unwrap();
    assert!(!prover.has_newer_nonce_than(&with_it), "the same nonce again");
    // An answer without one keeps the one held.
    prover.remember_nonce(&HeaderMap::new());
    assert_eq!(prover.nonce().as_deref(), Some("AbC-_.~1"));
}

#[test]
fn a_key_of_your_own_signs_with_its_algorithm_or_the_one_chosen() {
    let rsa = PrivateKey::from_jwk(&rsa_jwk("r").to_string()).unwrap();
    let ec = PrivateKey::from_jwk(&ec_jwk("e").to_string()).unwrap();
    let ed = PrivateKey::from_pem(&ed25519_pem(), "o").unwrap();
    let target = url("https://cb.example/oauth2/token");
    for (key, chosen, alg) in [
        (&rsa, None, AssertionAlg::Rs256),
        (&rsa, Some(AssertionAlg::Ps256), AssertionAlg::Ps256),
        (&ec, None, AssertionAlg::Es256),
        (&ed, None, AssertionAlg::EdDsa),
    ] {
        let mut dpop_key = DpopKey::from_private_key(key.clone()).unwrap();
        if let Some(chosen) = chosen {
            dpop_key = dpop_key.signing_alg(chosen).unwrap();
        }
        assert_eq!(dpop_key.alg(), alg);
        assert_eq!(dpop_key.thumbprint(), dpop::thumbprint(&key.public_material()));
        let proof = Prover::new(dpop_key.clone()).prove("POST", &target, None).unwrap();
        let (header, _) = opened(&dpop_key, proof.header.to_str().unwrap());
        assert_eq!(header["alg"], alg.as_str());
        assert!(header.get("kid").is_none(), "{header}");
    }
    let error = DpopKey::from_private_key(ed)
        .unwrap()
        .signing_alg(AssertionAlg::Rs256)
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::KeyAlgorithmMismatch {
                key: KeyKind::Ed25519,
                alg: AssertionAlg::Rs256
            }
        ),
        "{error:?}"
    );
}

fn secret() -> ClientSecret {
    ClientSecret::from_random([4; casebook_domain::credentials::CLIENT_SECRET_BYTES])
}

#[test]
fn debug_never_shows_the_private_key() {
    let jwk = ec_jwk("e");
    let private = jwk["d"].as_str().unwrap().to_owned();
    let key = DpopKey::from_private_key(PrivateKey::from_jwk(&jwk.to_string()).unwrap()).unwrap();
    let builder = Client::builder("https://casebook.example.org")
        .client_credentials("cb_1", secret())
        .dpop(key.clone());
    let builder_shown = format!("{builder:?}");
    let client = builder.build().unwrap();
    let source = TokenSource::builder("https://casebook.example.org/oauth2/token", "cb_1", secret())
        .dpop(key.clone())
        .build()
        .unwrap();
    let shown = format!(
        "{key:?} {builder_shown} {client:?} {source:?} {:?}",
        Prover::new(key.clone())
    );
    assert!(!shown.contains(&private), "{shown}");
    assert!(!shown.contains(secret().expose()), "{shown}");
    assert!(
        shown.contains(key.thumbprint()) && shown.contains("[redacted]"),
        "{shown}"
    );
    // Nor does a generated key: its Debug is the same fields.
    let generated = format!("{:?}", DpopKey::generate().unwrap());
    assert!(
        generated.starts_with("DpopKey { kind: P256, alg: \"ES256\", jkt: "),
        "{generated}"
    );
}

#[test]
fn a_key_left_unused_is_refused_at_build() {
    let key = DpopKey::generate().unwrap();
    let anonymous = Client::builder("https://casebook.example.org")
        .dpop(key.clone())
        .build();
    assert!(matches!(anonymous, Err(Error::Config(_))), "{anonymous:?}");
    let source = TokenSource::builder("https://casebook.example.org/oauth2/token", "cb_1", secret())
        .build()
        .unwrap();
    let beside_a_source = Client::builder("https://casebook.example.org")
        .token_source(source)
        .dpop(key)
        .build();
    assert!(matches!(beside_a_source, Err(Error::Config(_))), "{beside_a_source:?}");
    assert!(crate::RequestOptions::new().header("DPoP", "x").is_err());
}

/// One scripted answer: status, extra headers, JSON body.
type Answer = (u16, Vec<(&'static str, String)>, String);

/// A server on a loopback socket that answers `answers` in order, one
/// connection each, and records every request it read.
async fn server(answers: Vec<Answer>) -> (String, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        for (status, headers, body) in answers {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let n = socket.read(&mut chunk).await.unwrap();
                request.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some((head, sent)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if sent.len() >= length || n == 0 {
                        record.lock().unwrap().push(text);
                        break;
                    }
                }
            }
            let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
            let response = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(response.as_bytes()).await.unwrap();
            socket.shutdown().await.unwrap();
        }
    });
    (base, seen)
}

/// A request's header, by its name in any case.
fn header_of<'a>(request: &'a str, name: &str) -> Option<&'a str> {
    let head = request.split("\r\n\r\n").next().unwrap();
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn claims_of(request: &str) -> Value {
    decode(
        header_of(request, "dpop")
            .expect("a DPoP header")
            .split('.')
            .nth(1)
            .unwrap(),
    )
}

const DPOP_TOKEN: &str = r#"{"access_token":"at-bound","token_type":"DPoP","expires_in":3600}"#;

fn nonce(value: &str) -> Vec<(&'static str, String)> {
    vec![("DPoP-Nonce", value.to_owned())]
}

fn challenge(code: &str, nonce: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = vec![(
        "WWW-Authenticate",
        format!(r#"DPoP error="{code}", error_description="told by the test", algs="ES256 EdDSA PS256 RS256""#),
    )];
    headers.extend(nonce.map(|n| ("DPoP-Nonce", n.to_owned())));
    headers
}

const PROBLEM: &str = r#"{"type":"about:blank","title":"Unauthorized","status":401,"detail":"told by the test"}"#;

fn dpop_client(base: &str, key: &DpopKey) -> Client {
    Client::builder(base)
        .client_credentials("cb_1", secret())
        .dpop(key.clone())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

#[test]
fn a_bound_clients_calls_still_cross_threads() {
    fn sendable<T: Send>(_: &T) {}
    let client = Client::builder("https://casebook.example.org")
        .client_credentials("cb_1", secret())
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    sendable(&client.me());
    sendable(&me(&client));
}

async fn me(client: &Client) -> Result<Value, Error> {
    client
        .call::<Value>(reqwest::Method::GET, &["api", "v1", "me"], None::<&()>)
        .await
        .map(|answer| answer.body)
}

#[tokio::test]
async fn nonces_are_asked_for_once_at_the_token_endpoint_and_at_the_api() {
    let (base, seen) = server(vec![
        (
            400,
            nonce("n1"),
            r#"{"error":"use_dpop_nonce","error_description":"use this"}"#.into(),
        ),
        (200, nonce("n2"), DPOP_TOKEN.into()),
        (401, challenge("use_dpop_nonce", Some("n3")), PROBLEM.into()),
        (200, nonce("n4"), r#"{"name":"Partner"}"#.into()),
        (200, vec![], r#"{"name":"Partner"}"#.into()),
    ])
    .await;
    let key = DpopKey::generate().unwrap();
    let client = dpop_client(&base, &key);
    assert_eq!(me(&client).await.unwrap()["name"], "Partner");
    assert_eq!(me(&client).await.unwrap()["name"], "Partner");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5);
    let token_url = format!("{base}/oauth2/token");
    for (request, nonce) in [(&seen[0], None), (&seen[1], Some("n1"))] {
        assert!(request.starts_with("POST /oauth2/token "), "{request}");
        let claims = claims_of(request);
        assert_eq!(
            (claims["htm"].as_str(), claims["htu"].as_str()),
            (Some("POST"), Some(token_url.as_str()))
        );
        assert_eq!(claims["nonce"].as_str(), nonce);
        assert!(claims.get("ath").is_none());
    }
    assert_ne!(claims_of(&seen[0])["jti"], claims_of(&seen[1])["jti"]);
    // At the API: the token under the DPoP scheme, its hash in the proof,
    // and the latest nonce each time.
    for (request, nonce) in [(&seen[2], "n2"), (&seen[3], "n3"), (&seen[4], "n4")] {
        assert!(request.starts_with("GET /api/v1/me "), "{request}");
        assert_eq!(header_of(request, "authorization"), Some("DPoP at-bound"));
        let claims = claims_of(request);
        assert_eq!(claims["htu"], format!("{base}/api/v1/me"));
        assert_eq!(claims["ath"], dpop::access_token_hash("at-bound"));
        assert_eq!(claims["nonce"], nonce);
    }
}

#[tokio::test]
async fn a_nonce_refused_again_is_the_answer_not_a_loop() {
    let (base, seen) = server(vec![
        (400, nonce("n1"), r#"{"error":"use_dpop_nonce"}"#.into()),
        (
            400,
            nonce("n2"),
            r#"{"error":"use_dpop_nonce","error_description":"again"}"#.into(),
        ),
    ])
    .await;
    let error = me(&dpop_client(&base, &DpopKey::generate().unwrap()))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::DpopProof { code: OAuthErrorCode::UseDpopNonce, status: 400, description: Some(d), .. } if d == "again"),
        "{error:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 2);

    let (base, seen) = server(vec![
        (200, vec![], DPOP_TOKEN.into()),
        (401, challenge("use_dpop_nonce", Some("n1")), PROBLEM.into()),
        (401, challenge("use_dpop_nonce", Some("n2")), PROBLEM.into()),
    ])
    .await;
    let error = me(&dpop_client(&base, &DpopKey::generate().unwrap()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::DpopProof {
                code: OAuthErrorCode::UseDpopNonce,
                status: 401,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 3);

    // Without a nonce to send, asking again would change nothing.
    let (base, seen) = server(vec![
        (200, vec![], DPOP_TOKEN.into()),
        (401, challenge("use_dpop_nonce", None), PROBLEM.into()),
    ])
    .await;
    let error = me(&dpop_client(&base, &DpopKey::generate().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(error.oauth_code(), Some(OAuthErrorCode::UseDpopNonce));
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_refused_proof_is_typed_and_a_code_from_a_newer_server_is_still_read() {
    let (base, seen) = server(vec![
        (200, vec![], DPOP_TOKEN.into()),
        (401, challenge("invalid_dpop_proof", None), PROBLEM.into()),
        (401, challenge("proof_from_the_future", None), PROBLEM.into()),
    ])
    .await;
    let client = dpop_client(&base, &DpopKey::generate().unwrap());
    let error = me(&client).await.unwrap_err();
    assert!(
        matches!(&error, Error::DpopProof { code: OAuthErrorCode::InvalidDpopProof, status: 401, description: Some(d), .. } if d == "told by the test"),
        "{error:?}"
    );
    assert!(!error.is_transient());
    let newer = me(&client).await.unwrap_err();
    assert!(
        matches!(&newer, Error::Api { status: 401, detail, .. } if detail == "told by the test"),
        "{newer:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 3, "neither is sent again");

    // At the token endpoint: an application that requires DPoP, asked
    // without a proof.
    let (base, _) = server(vec![(
        400,
        vec![],
        r#"{"error":"invalid_dpop_proof","error_description":"this application's tokens are DPoP-bound"}"#.into(),
    )])
    .await;
    let plain = Client::builder(&base)
        .client_credentials("cb_1", secret())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let error = me(&plain).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::DpopProof {
                code: OAuthErrorCode::InvalidDpopProof,
                status: 400,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_bearer_token_is_not_taken_when_a_bound_one_was_asked_for() {
    let (base, seen) = server(vec![(
        200,
        vec![],
        r#"{"access_token":"at-1","token_type":"Bearer","expires_in":3600}"#.into(),
    )])
    .await;
    let error = me(&dpop_client(&base, &DpopKey::generate().unwrap()))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::UnexpectedResponse { status: 200, message, .. } if message.contains("DPoP")),
        "{error:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1, "no API call with it");
}

#[tokio::test]
async fn a_source_makes_proofs_for_requests_of_your_own() {
    let (base, _) = server(vec![(200, nonce("n1"), DPOP_TOKEN.into())]).await;
    let key = DpopKey::generate().unwrap();
    let tokens = TokenSource::builder(format!("{base}/oauth2/token"), "cb_1", secret())
        .dpop(key.clone())
        .build()
        .unwrap();
    assert_eq!(tokens.dpop_key().map(DpopKey::thumbprint), Some(key.thumbprint()));
    let token = tokens.token().await.unwrap();
    let proof = tokens
        .dpop_proof("DELETE", "https://cb.example/api/v1/engage/cases/1?x=y", &token)
        .unwrap()
        .expect("a proof");
    let (_, claims) = opened(&key, &proof);
    assert_eq!(claims["htm"], "DELETE");
    assert_eq!(claims["htu"], "https://cb.example/api/v1/engage/cases/1");
    assert_eq!(claims["ath"], dpop::access_token_hash("at-bound"));
    assert_eq!(claims["nonce"], "n1");

    let (base, _) = server(vec![]).await;
    let plain = TokenSource::builder(format!("{base}/oauth2/token"), "cb_1", secret())
        .build()
        .unwrap();
    assert!(plain.dpop_key().is_none());
}

#[cfg(feature = "blocking")]
#[test]
fn the_blocking_client_proves_its_calls_too() {
    // The scripted server runs on a runtime of its own; the blocking client
    // brings its own too, and this thread stays outside both.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (base, seen) = runtime.block_on(server(vec![
        (400, nonce("n1"), r#"{"error":"use_dpop_nonce"}"#.into()),
        (200, nonce("n2"), DPOP_TOKEN.into()),
        (200, vec![], r#"{"name":"Partner"}"#.into()),
    ]));
    let key = DpopKey::generate().unwrap();
    let client = crate::blocking::Client::new(
        Client::builder(&base)
            .client_credentials("cb_1", secret())
            .dpop(key.clone()),
    )
    .unwrap();
    let answer = client.run(|c| async move { me(&c).await }).unwrap();
    assert_eq!(answer["name"], "Partner");
    assert!(format!("{client:?}").contains(key.thumbprint()), "{client:?}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(header_of(&seen[2], "authorization"), Some("DPoP at-bound"));
    assert_eq!(claims_of(&seen[2])["nonce"], "n2");
}
