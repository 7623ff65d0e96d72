//! Client assertions for `private_key_jwt` (RFC 7523 §3, with
//! draft-ietf-oauth-rfc7523bis's single audience): a fresh JWT for every
//! token request, since the server accepts each `jti` once.

use crate::error::Error;
use crate::key::PrivateKey;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use casebook_domain::AssertionAlg;
use casebook_domain::jose;
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

/// How long an assertion is good for: long enough for a slow network and a
/// retry's backoff, well within the server's five-minute bound.
pub(crate) const ASSERTION_LIFETIME_SECS: u64 = 60;

/// Signs assertions for one client, one key, one audience.
pub(crate) struct Signer {
    key: PrivateKey,
    alg: AssertionAlg,
    client_id: String,
    audience: String,
    rng: SystemRandom,
}

impl Signer {
    /// `alg` defaults to the key's own (from its JWK) or its kind's; a pairing
    /// the key cannot sign with is refused here, before anything is sent.
    pub(crate) fn new(
        key: PrivateKey,
        alg: Option<AssertionAlg>,
        client_id: String,
        audience: String,
    ) -> Result<Self, Error> {
        let alg = key.alg_for(alg)?;
        Ok(Self {
            key,
            alg,
            client_id,
            audience,
            rng: SystemRandom::new(),
        })
    }

    pub(crate) fn alg(&self) -> AssertionAlg {
        self.alg
    }

    pub(crate) fn kid(&self) -> &str {
        self.key.kid()
    }

    pub(crate) fn audience(&self) -> &str {
        &self.audience
    }

    /// A signed assertion valid from now for [`ASSERTION_LIFETIME_SECS`].
    pub(crate) fn sign_now(&self) -> Result<String, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Error::Config("the system clock is before 1970".into()))?;
        self.sign_at(now.as_secs())
    }

    pub(crate) fn sign_at(&self, now: u64) -> Result<String, Error> {
        let mut jti = [0u8; 16];
        self.rng
            .fill(&mut jti)
            .map_err(|_| Error::Config("no randomness for the assertion's jti".into()))?;
        let header = json!({"alg": self.alg.as_str(), "kid": self.key.kid(), "typ": "JWT"});
        let claims = json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.audience,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
            "jti": URL_SAFE_NO_PAD.encode(jti),
        });
        let input = jose::signing_input(&jose::encode_header(&header), claims.to_string().as_bytes());
        let signature = self.sign(input.as_bytes())?;
        Ok(jose::compact(input, &signature))
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.key.sign(self.alg, &self.rng, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeyKind;
    use crate::key::tests::{ec_jwk, ed25519_pem, rsa_pem, verifies};
    use serde_json::Value;

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    fn signer(key: PrivateKey, alg: Option<AssertionAlg>) -> Result<Signer, Error> {
        Signer::new(key, alg, "cb_client".into(), "https://casebook.example.org".into())
    }

    #[test]
    fn the_assertion_carries_the_claims_and_header_the_server_requires() {
        let signer = signer(PrivateKey::from_pem(&ed25519_pem(), "k1").unwrap(), None).unwrap();
        let compact = signer.sign_at(1_700_000_000).unwrap();
        let parts: Vec<&str> = compact.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(decode(parts[0]), json!({"alg": "EdDSA", "kid": "k1", "typ": "JWT"}));
        let claims = decode(parts[1]);
        assert_eq!(claims["iss"], "cb_client");
        assert_eq!(claims["sub"], "cb_client");
        // One audience, a string: the issuer identifier and nothing else.
        assert_eq!(claims["aud"], "https://casebook.example.org");
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(claims["exp"], 1_700_000_060);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(claims["jti"].as_str().unwrap()).unwrap().len(),
            16
        );
        assert_eq!(claims.as_object().unwrap().len(), 6);
    }

    #[test]
    fn every_assertion_has_its_own_jti() {
        let signer = signer(PrivateKey::from_pem(&ed25519_pem(), "k1").unwrap(), None).unwrap();
        let jtis: std::collections::BTreeSet<String> = (0..100)
            .map(|_| {
                let compact = signer.sign_now().unwrap();
                decode(compact.split('.').nth(1).unwrap())["jti"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(jtis.len(), 100);
    }

    #[test]
    fn signatures_verify_under_each_algorithm() {
        let rsa = PrivateKey::from_pem(&rsa_pem(), "r").unwrap();
        let ec = PrivateKey::from_jwk(&ec_jwk("e").to_string()).unwrap();
        let ed = PrivateKey::from_pem(&ed25519_pem(), "o").unwrap();
        for (key, alg, expected) in [
            (&rsa, None, AssertionAlg::Rs256),
            (&rsa, Some(AssertionAlg::Ps256), AssertionAlg::Ps256),
            (&ec, None, AssertionAlg::Es256),
            (&ed, None, AssertionAlg::EdDsa),
        ] {
            let signer = signer(key.clone(), alg).unwrap();
            assert_eq!(signer.alg(), expected);
            let compact = signer.sign_now().unwrap();
            let (input, signature) = compact.rsplit_once('.').unwrap();
            let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
            assert!(verifies(key, expected, input.as_bytes(), &signature), "{expected:?}");
            // The same signature over other bytes does not verify: the check can fail.
            assert!(!verifies(key, expected, b"other", &signature), "{expected:?}");
            assert_eq!(decode(input.split('.').next().unwrap())["alg"], expected.as_str());
        }
    }

    #[test]
    fn an_algorithm_the_key_cannot_sign_with_is_refused_before_sending() {
        let rsa = PrivateKey::from_pem(&rsa_pem(), "r").unwrap();
        let ed = PrivateKey::from_pem(&ed25519_pem(), "o").unwrap();
        for (key, alg, kind) in [
            (&rsa, AssertionAlg::Es256, KeyKind::Rsa),
            (&rsa, AssertionAlg::EdDsa, KeyKind::Rsa),
            (&ed, AssertionAlg::Rs256, KeyKind::Ed25519),
            (&ed, AssertionAlg::Ps256, KeyKind::Ed25519),
        ] {
            let error = signer(key.clone(), Some(alg)).err().expect("refused");
            assert!(
                matches!(error, Error::KeyAlgorithmMismatch { key, alg: a } if key == kind && a == alg),
                "{error:?}"
            );
            assert!(!error.is_transient());
        }
        // A JWK bound to RS256 is not used for PS256.
        let mut bound: Value = serde_json::from_str(&crate::key::tests::rsa_jwk("r").to_string()).unwrap();
        bound["alg"] = json!("RS256");
        let bound = PrivateKey::from_jwk(&bound.to_string()).unwrap();
        assert_eq!(signer(bound.clone(), None).unwrap().alg(), AssertionAlg::Rs256);
        assert!(matches!(
            signer(bound, Some(AssertionAlg::Ps256)),
            Err(Error::Config(_))
        ));
    }
}
