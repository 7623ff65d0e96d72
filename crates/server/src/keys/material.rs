//! Key material for each signing algorithm, all through one library.
//!
//! aws-lc-rs does RSA, P-256 and Ed25519 alike: it generates RSA keys (ring
//! cannot), it is constant-time where the pure-Rust `rsa` crate is not
//! (RUSTSEC-2023-0071), and reqwest's rustls already links it. Keys are
//! parsed once, when the ring loads, never per token.
//!
//! What is stored: for EdDSA the 32-byte seed (the format keys had before
//! there was a choice of algorithm), for RS256 and ES256 the PKCS#8 document;
//! the public half as the bytes the verifier takes (an RFC 8017
//! `RSAPublicKey`, an uncompressed P-256 point, a raw Ed25519 key).

use super::Jwk;
use crate::crypto::random_bytes;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair, Ed25519KeyPair,
    KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair,
};
use casebook_domain::SigningAlgorithm;
use casebook_domain::jose::KeyMaterial;

/// A key pair as it is sealed and stored.
pub(super) struct Generated {
    pub private: Vec<u8>,
    pub public: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
#[error("the cryptographic library refused to {0}")]
pub struct CryptoFailure(&'static str);

impl CryptoFailure {
    pub(super) fn encode() -> Self {
        Self("encode the claims")
    }

    pub(super) fn generate() -> Self {
        Self("generate a key")
    }
}

/// A new key pair. RSA takes about 175 ms: call this off the async workers.
pub(super) fn generate(alg: SigningAlgorithm) -> Result<Generated, CryptoFailure> {
    match alg {
        SigningAlgorithm::Rs256 => {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| CryptoFailure("generate an RSA key"))?;
            let pkcs8 = pair.as_der().map_err(|_| CryptoFailure("encode an RSA key"))?;
            Ok(Generated {
                private: pkcs8.as_ref().to_vec(),
                public: pair.public_key().as_ref().to_vec(),
            })
        }
        SigningAlgorithm::Es256 => {
            let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|_| CryptoFailure("generate a P-256 key"))?;
            let pkcs8 = pair.to_pkcs8v1().map_err(|_| CryptoFailure("encode a P-256 key"))?;
            Ok(Generated {
                private: pkcs8.as_ref().to_vec(),
                public: pair.public_key().as_ref().to_vec(),
            })
        }
        SigningAlgorithm::EdDsa => {
            let seed = random_bytes::<32>();
            let pair =
                Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| CryptoFailure("derive an Ed25519 key"))?;
            Ok(Generated {
                private: seed.to_vec(),
                public: pair.public_key().as_ref().to_vec(),
            })
        }
    }
}

/// The private half, parsed.
pub(super) enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl Signer {
    pub(super) fn open(alg: SigningAlgorithm, private: &[u8]) -> Option<Self> {
        match alg {
            SigningAlgorithm::Rs256 => RsaKeyPair::from_pkcs8(private).ok().map(Self::Rsa),
            SigningAlgorithm::Es256 => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, private)
                .ok()
                .map(Self::Ec),
            SigningAlgorithm::EdDsa => Ed25519KeyPair::from_seed_unchecked(private).ok().map(Self::Ed),
        }
    }

    /// The JWS signature of `message` (for ES256 the fixed-width `r || s`
    /// RFC 7518 §3.4 requires, not DER).
    pub(super) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoFailure> {
        match self {
            Self::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature)
                    .map_err(|_| CryptoFailure("sign with RSA"))?;
                Ok(signature)
            }
            Self::Ec(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| CryptoFailure("sign with P-256")),
            Self::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

/// The public half, parsed, bound to its algorithm: a token's header never
/// chooses how it is checked.
pub(super) struct Verifier {
    pub alg: SigningAlgorithm,
    key: ParsedPublicKey,
}

impl Verifier {
    pub(super) fn new(alg: SigningAlgorithm, public: &[u8]) -> Option<Self> {
        let params: &'static dyn signature::VerificationAlgorithm = match alg {
            SigningAlgorithm::Rs256 => &RSA_PKCS1_2048_8192_SHA256,
            SigningAlgorithm::Es256 => &ECDSA_P256_SHA256_FIXED,
            SigningAlgorithm::EdDsa => &ED25519,
        };
        ParsedPublicKey::new(params, public).ok().map(|key| Self { alg, key })
    }

    pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(message, signature).is_ok()
    }
}

/// The public half as a JWK (RFC 7517, 7518 §6, 8037 §2).
pub(super) fn jwk(alg: SigningAlgorithm, kid: &str, public: &[u8]) -> Option<Jwk> {
    let material = match alg {
        SigningAlgorithm::Rs256 => {
            let key = aws_lc_rs::rsa::PublicKey::from_der(public).ok()?;
            KeyMaterial::Rsa {
                n: key.modulus().big_endian_without_leading_zero().to_vec(),
                e: key.exponent().big_endian_without_leading_zero().to_vec(),
            }
        }
        SigningAlgorithm::Es256 => {
            // SEC 1 uncompressed point: 0x04, then x and y, 32 bytes each.
            let [0x04, coordinates @ ..] = public else { return None };
            if coordinates.len() != 64 {
                return None;
            }
            KeyMaterial::P256 {
                x: coordinates[..32].to_vec(),
                y: coordinates[32..].to_vec(),
            }
        }
        SigningAlgorithm::EdDsa => {
            if public.len() != 32 {
                return None;
            }
            KeyMaterial::Ed25519 { x: public.to_vec() }
        }
    };
    Some(Jwk::public(&material, kid, Some(alg.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn every_algorithm_signs_what_its_verifier_accepts_and_nothing_else() {
        for alg in SigningAlgorithm::ALL {
            let pair = generate(alg).unwrap();
            let signer = Signer::open(alg, &pair.private).unwrap();
            let verifier = Verifier::new(alg, &pair.public).unwrap();
            let signature = signer.sign(b"header.payload").unwrap();
            assert!(verifier.verify(b"header.payload", &signature), "{alg}");
            assert!(!verifier.verify(b"header.payloaD", &signature), "{alg}");
            let mut forged = signature.clone();
            forged[0] ^= 1;
            assert!(!verifier.verify(b"header.payload", &forged), "{alg}");
        }
    }

    #[test]
    fn a_key_is_never_read_as_another_algorithms() {
        let rsa = generate(SigningAlgorithm::Rs256).unwrap();
        let ec = generate(SigningAlgorithm::Es256).unwrap();
        assert!(Verifier::new(SigningAlgorithm::EdDsa, &rsa.public).is_none());
        assert!(Verifier::new(SigningAlgorithm::Rs256, &ec.public).is_none());
        assert!(Signer::open(SigningAlgorithm::Es256, &rsa.private).is_none());
    }

    #[test]
    fn jwks_carry_the_members_their_key_type_needs() {
        let rsa = jwk(
            SigningAlgorithm::Rs256,
            "k1",
            &generate(SigningAlgorithm::Rs256).unwrap().public,
        )
        .unwrap();
        assert_eq!((rsa.kty.as_str(), rsa.e.as_deref()), ("RSA", Some("AQAB")));
        assert_eq!(URL_SAFE_NO_PAD.decode(rsa.n.unwrap()).unwrap().len(), 256);
        let ec = jwk(
            SigningAlgorithm::Es256,
            "k2",
            &generate(SigningAlgorithm::Es256).unwrap().public,
        )
        .unwrap();
        assert_eq!((ec.kty.as_str(), ec.crv.as_deref()), ("EC", Some("P-256")));
        assert!(ec.x.is_some() && ec.y.is_some() && ec.n.is_none());
        let ed = jwk(
            SigningAlgorithm::EdDsa,
            "k3",
            &generate(SigningAlgorithm::EdDsa).unwrap().public,
        )
        .unwrap();
        assert_eq!(
            (ed.kty.as_str(), ed.crv.as_deref(), ed.y.as_deref()),
            ("OKP", Some("Ed25519"), None)
        );
        for key in [&rsa.kid, &ec.kid, &ed.kid] {
            assert!(!key.is_empty());
        }
    }
}
