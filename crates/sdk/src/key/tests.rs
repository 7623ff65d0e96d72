use super::*;
use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256, UnparsedPublicKey,
};
use serde_json::json;
use std::sync::OnceLock;

/// One RSA key, written as the PKCS#1 PEM and the private JWK a partner's
/// tooling would hand over; used by tests only.
const RSA_FIXTURE_JWK: &str = include_str!("rsa-test-key.jwk.json");
const RSA_FIXTURE_PKCS1: &str = include_str!("rsa-test-key.pkcs1.pem");

pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

/// A fresh RSA-2048 key as PKCS#8 PEM (generated once per test run: it is slow).
pub(crate) fn rsa_pem() -> String {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        pem(
            "PRIVATE KEY",
            AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
                .unwrap()
                .as_ref(),
        )
    })
    .clone()
}

pub(crate) fn ed25519_pem() -> String {
    let pair = Ed25519KeyPair::generate().unwrap();
    pem("PRIVATE KEY", pair.to_pkcs8v1().unwrap().as_ref())
}

pub(crate) fn ec_pair() -> EcdsaKeyPair {
    EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap()
}

/// The private JWK of a fresh P-256 key.
pub(crate) fn ec_jwk(kid: &str) -> Value {
    let pair = ec_pair();
    let point = pair.public_key().as_ref().to_vec();
    let d: aws_lc_rs::encoding::EcPrivateKeyBin = pair.private_key().as_be_bytes().unwrap();
    json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..]), "d": URL_SAFE_NO_PAD.encode(d.as_ref())})
}

pub(crate) fn rsa_jwk(kid: &str) -> Value {
    let mut jwk: Value = serde_json::from_str(RSA_FIXTURE_JWK).unwrap();
    jwk["kid"] = json!(kid);
    jwk
}

fn ed25519_jwk(kid: &str) -> Value {
    let pair = Ed25519KeyPair::generate().unwrap();
    let seed = pair.seed().unwrap();
    let d: aws_lc_rs::encoding::Curve25519SeedBin = seed.as_be_bytes().unwrap();
    json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
        "d": URL_SAFE_NO_PAD.encode(d.as_ref())})
}

/// Whether `signature` verifies under the key's public half, by aws-lc-rs's
/// own verifier, from the public JWK the key reports.
pub(crate) fn verifies(key: &PrivateKey, alg: AssertionAlg, message: &[u8], signature: &[u8]) -> bool {
    let jwk = key.public_jwk();
    let get = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    match alg {
        AssertionAlg::Rs256 | AssertionAlg::Ps256 => {
            let params = match alg {
                AssertionAlg::Rs256 => &RSA_PKCS1_2048_8192_SHA256,
                _ => &RSA_PSS_2048_8192_SHA256,
            };
            aws_lc_rs::signature::RsaPublicKeyComponents {
                n: get("n"),
                e: get("e"),
            }
            .verify(params, message, signature)
            .is_ok()
        }
        AssertionAlg::Es256 => {
            let point = [&[4u8][..], &get("x"), &get("y")].concat();
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(message, signature)
                .is_ok()
        }
        AssertionAlg::EdDsa => UnparsedPublicKey::new(&ED25519, get("x"))
            .verify(message, signature)
            .is_ok(),
    }
}

fn refused(result: Result<PrivateKey, Error>) -> String {
    match result {
        Err(Error::InvalidKey { reason }) => reason,
        other => panic!("not refused as an invalid key: {other:?}"),
    }
}

#[test]
fn pem_keys_of_each_kind_are_read() {
    for (pem, kind) in [
        (rsa_pem(), KeyKind::Rsa),
        (RSA_FIXTURE_PKCS1.to_owned(), KeyKind::Rsa),
        (
            pem("PRIVATE KEY", ec_pair().to_pkcs8v1().unwrap().as_ref()),
            KeyKind::P256,
        ),
        (ed25519_pem(), KeyKind::Ed25519),
    ] {
        let key = PrivateKey::from_pem(&format!("a comment line\n{pem}"), "k").unwrap();
        assert_eq!((key.kind(), key.kid()), (kind, "k"));
    }
    let sec1 = ec_pair();
    let der: aws_lc_rs::encoding::EcPrivateKeyRfc5915Der = sec1.private_key().as_der().unwrap();
    let key = PrivateKey::from_pem(&pem("EC PRIVATE KEY", der.as_ref()), "k").unwrap();
    assert_eq!(
        key.public_jwk()["x"],
        URL_SAFE_NO_PAD.encode(&sec1.public_key().as_ref()[1..33])
    );
}

#[test]
fn the_pkcs1_pem_and_the_jwk_of_one_key_are_the_same_key() {
    let from_pem = PrivateKey::from_pem(RSA_FIXTURE_PKCS1, "fixture").unwrap();
    let from_jwk = PrivateKey::from_jwk(RSA_FIXTURE_JWK).unwrap();
    assert_eq!(from_pem.public_jwk(), from_jwk.public_jwk());
    let public = from_jwk.public_jwk();
    assert!(public.get("d").is_none() && public.get("p").is_none(), "{public}");
    assert_eq!(
        (public["kty"].as_str(), public["kid"].as_str()),
        (Some("RSA"), Some("fixture"))
    );
}

#[test]
fn jwks_of_each_kind_are_read_and_keep_their_kid_and_alg() {
    for (jwk, kind) in [
        (rsa_jwk("r"), KeyKind::Rsa),
        (ec_jwk("e"), KeyKind::P256),
        (ed25519_jwk("o"), KeyKind::Ed25519),
    ] {
        let key = PrivateKey::from_jwk(&jwk.to_string()).unwrap();
        assert_eq!((key.kind(), key.kid()), (kind, jwk["kid"].as_str().unwrap()));
        // The public half is the JWK less its private members.
        let mut expected = jwk.clone();
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            expected.as_object_mut().unwrap().remove(private);
        }
        expected["use"] = json!("sig");
        assert_eq!(key.public_jwk(), expected);
    }
    let mut with_alg = ec_jwk("e");
    with_alg["alg"] = json!("ES256");
    let key = PrivateKey::from_jwk(&with_alg.to_string()).unwrap();
    assert_eq!(key.alg, Some(AssertionAlg::Es256));
    assert_eq!(key.public_jwk()["alg"], "ES256");
}

#[test]
fn unusable_pems_are_refused_with_a_reason() {
    let rsa = rsa_pem();
    let body = rsa.lines().nth(1).unwrap();
    for (pem, says) in [
        ("", "not PEM"),
        ("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "not PEM"),
        ("-----BEGIN PRIVATE KEY-----\nMIIE", "not PEM"),
        (
            "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----",
            "not base64",
        ),
        (
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
            "not RSA",
        ),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            "not a private key",
        ),
        (
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
            "not a private key",
        ),
        (
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
            "encrypted",
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----",
            "encrypted",
        ),
    ] {
        let reason = refused(PrivateKey::from_pem(pem, "k"));
        assert!(reason.contains(says), "{pem:?}: {reason}");
        assert!(!reason.contains(body), "the reason quotes the key");
    }
    // An Ed25519 key in an EC block is no P-256 key.
    let ed = ed25519_pem().replace("PRIVATE KEY", "EC PRIVATE KEY");
    assert!(refused(PrivateKey::from_pem(&ed, "k")).contains("P-256"));
    assert!(refused(PrivateKey::from_pem(&rsa, "")).contains("kid"));
}

#[test]
fn unusable_jwks_are_refused_with_a_reason_that_never_quotes_them() {
    let rsa = rsa_jwk("r");
    let d = rsa["d"].as_str().unwrap().to_owned();
    let edit = |base: &Value, change: &dyn Fn(&mut Map<String, Value>)| {
        let mut jwk = base.clone();
        change(jwk.as_object_mut().unwrap());
        jwk.to_string()
    };
    let ec = ec_jwk("e");
    for (jwk, says) in [
        ("not json".to_owned(), "not a JSON object"),
        ("[]".to_owned(), "not a JSON object"),
        (edit(&rsa, &|m| drop(m.remove("kid"))), "no kid"),
        (edit(&rsa, &|m| drop(m.remove("kty"))), "no kty"),
        (
            edit(&rsa, &|m| drop(m.insert("kty".into(), json!("oct")))),
            "not RSA, EC or OKP",
        ),
        (
            edit(&rsa, &|m| drop(m.insert("alg".into(), json!("HS256")))),
            "not supported",
        ),
        (edit(&rsa, &|m| drop(m.remove("qi"))), "\"qi\""),
        (edit(&rsa, &|m| drop(m.insert("kid".into(), json!(7)))), "not a string"),
        (
            edit(&rsa, &|m| drop(m.insert("d".into(), json!("AQAB")))),
            "do not form",
        ),
        (edit(&rsa, &|m| drop(m.insert("oth".into(), json!([])))), "multi-prime"),
        // A public key where a private one is needed.
        (edit(&ec, &|m| drop(m.remove("d"))), "\"d\""),
        (
            edit(&ec, &|m| drop(m.insert("crv".into(), json!("P-384")))),
            "not P-256",
        ),
        (edit(&ec, &|m| drop(m.insert("d".into(), json!("*")))), "not base64url"),
        (
            edit(&ec, &|m| drop(m.insert("x".into(), ec_jwk("other")["x"].clone()))),
            "does not match",
        ),
        (
            edit(&ed25519_jwk("o"), &|m| drop(m.insert("crv".into(), json!("X25519")))),
            "not Ed25519",
        ),
        (
            edit(&ed25519_jwk("o"), &|m| {
                drop(m.insert("x".into(), ed25519_jwk("p")["x"].clone()))
            }),
            "does not match",
        ),
    ] {
        let reason = refused(PrivateKey::from_jwk(&jwk));
        assert!(reason.contains(says), "{jwk}: {reason}");
        assert!(!reason.contains(&d), "the reason quotes the key");
    }
}

#[test]
fn debug_and_errors_never_show_the_key() {
    let jwk = ec_jwk("e");
    let key = PrivateKey::from_jwk(&jwk.to_string()).unwrap();
    let shown = format!("{key:?}");
    assert!(shown.contains("\"e\"") && shown.contains("P256"), "{shown}");
    assert!(!shown.contains(jwk["d"].as_str().unwrap()), "{shown}");
    let pem = rsa_pem();
    let shown = format!("{:?}", PrivateKey::from_pem(&pem, "r").unwrap());
    assert!(!pem.lines().skip(1).take(3).any(|line| shown.contains(line)), "{shown}");
}
