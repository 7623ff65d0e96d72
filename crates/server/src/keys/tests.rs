//! The verification rules of a key set, on keys made in memory.

use super::*;

const ISSUER: &str = "https://casebook.example";

fn key_set(alg: SigningAlgorithm, kid: &str) -> KeySet {
    let pair = material::generate(alg).expect("key");
    let header = serde_json::json!({"alg": alg.as_str(), "kid": kid, "typ": "at+jwt"});
    KeySet {
        current: CurrentKey {
            kid: kid.to_owned(),
            alg,
            signer: Signer::open(alg, &pair.private).expect("signer"),
            header_b64: URL_SAFE_NO_PAD.encode(header.to_string()),
        },
        verifying: HashMap::from([(kid.to_owned(), Verifier::new(alg, &pair.public).expect("verifier"))]),
        jwks: JwkSet { keys: Vec::new() },
        algorithms: vec![alg],
    }
}

fn claims(exp: i64) -> Vec<u8> {
    serde_json::to_vec(&AccessClaims {
        generation: 0,
        iss: ISSUER.into(),
        sub: "client".into(),
        aud: ISSUER.into(),
        exp,
        iat: exp - 3600,
        jti: "jti".into(),
        client_id: "client".into(),
        scope: "engage:view".into(),
        cnf: None,
    })
    .expect("claims")
}

/// A token the set's own key really signed, under any header at all.
fn signed_under(set: &KeySet, header: serde_json::Value) -> String {
    compact_jws(
        &set.current,
        &URL_SAFE_NO_PAD.encode(header.to_string()),
        &claims(2_000),
    )
    .expect("signed")
}

#[test]
fn each_algorithm_verifies_its_own_tokens() {
    for alg in SigningAlgorithm::ALL {
        let set = key_set(alg, "k1");
        let token = compact_jws(&set.current, &set.current.header_b64, &claims(2_000)).expect("signed");
        let verified = set.verify(&token, ISSUER, 1_000).expect("valid").expect("known kid");
        assert_eq!(verified.client_id, "client", "{alg}");
        assert_eq!(set.verify(&token, ISSUER, 2_000), Err(TokenError::Expired), "{alg}");
        assert_eq!(
            set.verify(&token, "https://other.example", 1_000),
            Err(TokenError::WrongAudience)
        );
    }
}

#[test]
fn the_key_decides_the_algorithm_whatever_the_header_says() {
    for alg in SigningAlgorithm::ALL {
        let set = key_set(alg, "k1");
        for claimed in SigningAlgorithm::ALL
            .iter()
            .map(|a| a.as_str())
            .chain(["none", "HS256", "PS256"])
        {
            if claimed == alg.as_str() {
                continue;
            }
            // Genuinely signed by the key: only the header's claim is wrong.
            let token = signed_under(&set, serde_json::json!({"alg": claimed, "kid": "k1", "typ": "at+jwt"}));
            assert_eq!(
                set.verify(&token, ISSUER, 1_000),
                Err(TokenError::BadSignature),
                "{alg} key, {claimed} header"
            );
        }
    }
}

#[test]
fn a_token_of_another_key_or_type_is_not_taken() {
    let set = key_set(SigningAlgorithm::Rs256, "k1");
    let other = key_set(SigningAlgorithm::Rs256, "k1");
    let foreign = compact_jws(&other.current, &other.current.header_b64, &claims(2_000)).expect("signed");
    assert_eq!(set.verify(&foreign, ISSUER, 1_000), Err(TokenError::BadSignature));
    let unknown = signed_under(&set, serde_json::json!({"alg": "RS256", "kid": "k2", "typ": "at+jwt"}));
    assert_eq!(
        set.verify(&unknown, ISSUER, 1_000),
        Ok(None),
        "an unknown kid asks for a refresh"
    );
    for typ in [
        serde_json::json!("JWT"),
        serde_json::json!("token-introspection+jwt"),
        serde_json::Value::Null,
    ] {
        let token = signed_under(&set, serde_json::json!({"alg": "RS256", "kid": "k1", "typ": typ}));
        assert_eq!(
            set.verify(&token, ISSUER, 1_000),
            Err(TokenError::Malformed),
            "typ {typ}"
        );
    }
}
