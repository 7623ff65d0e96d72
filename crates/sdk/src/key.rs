//! A client's private key for `private_key_jwt` (RFC 7523 §2.2): read from
//! PEM or from a private JWK, held by aws-lc-rs, never shown.

use crate::error::Error;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPairComponents, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256,
    RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use casebook_domain::AssertionAlg;
use casebook_domain::jose::{Jwk, KeyMaterial};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;

pub use crate::key_kind::KeyKind;

pub(crate) enum Material {
    Rsa(RsaKeyPair),
    P256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl Material {
    pub(crate) fn kind(&self) -> KeyKind {
        match self {
            Self::Rsa(_) => KeyKind::Rsa,
            Self::P256(_) => KeyKind::P256,
            Self::Ed25519(_) => KeyKind::Ed25519,
        }
    }
}

/// The private key of an application registered for `private_key_jwt`,
/// with the `kid` of its public half in the application's JWK Set.
///
/// Read it from PEM ([`from_pem`](Self::from_pem)) or from a private JWK
/// ([`from_jwk`](Self::from_jwk)); [`public_jwk`](Self::public_jwk) gives
/// the public half to register. Cheap to clone. Neither its `Debug` output
/// nor any error ever shows the key.
#[derive(Clone)]
pub struct PrivateKey {
    pub(crate) material: Arc<Material>,
    pub(crate) kid: String,
    /// The JWK's own `alg`, when it named one.
    pub(crate) alg: Option<AssertionAlg>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("kind", &self.kind())
            .field("kid", &self.kid)
            .field("alg", &self.alg.map(AssertionAlg::as_str))
            .field("material", &"[redacted]")
            .finish()
    }
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidKey { reason: reason.into() }
}

impl PrivateKey {
    /// Reads an unencrypted PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`, as
    /// `openssl genpkey` writes for RSA, P-256 and Ed25519), or the older
    /// `BEGIN RSA PRIVATE KEY` (PKCS#1) and `BEGIN EC PRIVATE KEY` (SEC 1).
    /// `kid` names its public half in the application's JWK Set.
    pub fn from_pem(pem: &str, kid: impl Into<String>) -> Result<Self, Error> {
        let (label, der) = pem_block(pem)?;
        let material = match label {
            "PRIVATE KEY" => pkcs8(&der)?,
            "RSA PRIVATE KEY" => Material::Rsa(
                RsaKeyPair::from_der(&der).map_err(|e| invalid(format!("the PKCS#1 RSA key is refused ({e})")))?,
            ),
            "EC PRIVATE KEY" => Material::P256(
                EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                    .map_err(|e| invalid(format!("the EC key is not a P-256 key ({e})")))?,
            ),
            "ENCRYPTED PRIVATE KEY" => {
                return Err(invalid(
                    "the PEM key is encrypted; decrypt it first (openssl pkcs8 -topk8 -nocrypt)",
                ));
            }
            _ => return Err(invalid("the PEM block is not a private key")),
        };
        Self::new(material, kid.into(), None)
    }

    /// Reads a private JWK (RFC 7517, RFC 7518 §6, RFC 8037): `RSA` with
    /// every CRT member, `EC` on `P-256`, or `OKP` on `Ed25519`. Its `kid`
    /// is required; its `alg`, when present, becomes the default algorithm.
    pub fn from_jwk(jwk: &str) -> Result<Self, Error> {
        let value: Value = serde_json::from_str(jwk).map_err(|_| invalid("the JWK is not a JSON object"))?;
        let Value::Object(members) = value else {
            return Err(invalid("the JWK is not a JSON object"));
        };
        let text = |name: &str| match members.get(name) {
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            None => Ok(None),
            Some(_) => Err(invalid(format!("the JWK member {name:?} is not a string"))),
        };
        let kid = text("kid")?
            .filter(|k| !k.is_empty())
            .ok_or_else(|| invalid("the JWK has no kid"))?;
        let alg = match text("alg")? {
            None => None,
            Some(raw) => Some(
                AssertionAlg::parse(raw).ok_or_else(|| invalid(format!("the JWK's alg {raw:?} is not supported")))?,
            ),
        };
        let material = match text("kty")? {
            Some("RSA") => rsa_jwk(&members)?,
            Some("EC") => ec_jwk(&members)?,
            Some("OKP") => okp_jwk(&members)?,
            Some(other) => return Err(invalid(format!("the JWK's kty {other:?} is not RSA, EC or OKP"))),
            None => return Err(invalid("the JWK has no kty")),
        };
        Self::new(material, kid.to_owned(), alg)
    }

    fn new(material: Material, kid: String, alg: Option<AssertionAlg>) -> Result<Self, Error> {
        if kid.is_empty() || kid.chars().any(char::is_control) {
            return Err(invalid("the kid is empty or holds control characters"));
        }
        Ok(Self {
            material: Arc::new(material),
            kid,
            alg,
        })
    }

    /// The kind of key.
    pub fn kind(&self) -> KeyKind {
        self.material.kind()
    }

    /// The `kid` assertions are signed under.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half as a JWK with its `kid`, to register in the
    /// application's `jwks` (cb Admin, or `token_endpoint_auth_method:
    /// "private_key_jwt"` through the admin API).
    pub fn public_jwk(&self) -> Value {
        Jwk::public(&self.public_material(), &self.kid, self.alg.map(AssertionAlg::as_str)).to_value()
    }

    /// A fresh P-256 key, for DPoP: nothing outside this process ever needs
    /// it, so it is made here rather than read.
    pub(crate) fn generate_p256(kid: impl FnOnce(&KeyMaterial) -> String) -> Result<Self, Error> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| invalid("no P-256 key could be generated (the system has no randomness)"))?;
        let material = Material::P256(pair);
        let kid = kid(&public_of(&material));
        Self::new(material, kid, None)
    }

    /// The algorithm this key signs with: `asked`, else its JWK's own, else
    /// its kind's default; a pairing it cannot sign with is refused here,
    /// before anything is sent.
    pub(crate) fn alg_for(&self, asked: Option<AssertionAlg>) -> Result<AssertionAlg, Error> {
        let kind = self.kind();
        let alg = asked.or(self.alg).unwrap_or_else(|| kind.default_alg());
        if !kind.signs_with(alg) {
            return Err(Error::KeyAlgorithmMismatch { key: kind, alg });
        }
        // A JWK that names its algorithm is registered under it: the server
        // would refuse any other.
        if let Some(own) = self.alg.filter(|own| *own != alg) {
            return Err(Error::Config(format!(
                "the key {:?} is for {} only, not {}",
                self.kid,
                own.as_str(),
                alg.as_str()
            )));
        }
        Ok(alg)
    }

    /// Signs `message` with `alg`, which [`alg_for`](Self::alg_for) chose.
    pub(crate) fn sign(&self, alg: AssertionAlg, rng: &SystemRandom, message: &[u8]) -> Result<Vec<u8>, Error> {
        let failed = |_| Error::Config("the private key could not sign".into());
        match &*self.material {
            Material::Rsa(pair) => {
                let padding = match alg {
                    AssertionAlg::Ps256 => &RSA_PSS_SHA256,
                    _ => &RSA_PKCS1_SHA256,
                };
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(padding, rng, message, &mut signature).map_err(failed)?;
                Ok(signature)
            }
            // The FIXED encoding: r and s of 32 bytes each, as JWS wants (RFC 7518 §3.4).
            Material::P256(pair) => Ok(pair.sign(rng, message).map_err(failed)?.as_ref().to_vec()),
            Material::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }

    /// The public half's numbers.
    pub(crate) fn public_material(&self) -> KeyMaterial {
        public_of(&self.material)
    }
}

fn public_of(material: &Material) -> KeyMaterial {
    match material {
        Material::Rsa(pair) => {
            let public = pair.public_key();
            KeyMaterial::Rsa {
                n: public.modulus().big_endian_without_leading_zero().to_vec(),
                e: public.exponent().big_endian_without_leading_zero().to_vec(),
            }
        }
        Material::P256(pair) => {
            // SEC 1 uncompressed point: 0x04, then x and y.
            let point = pair.public_key().as_ref();
            KeyMaterial::P256 {
                x: point[1..33].to_vec(),
                y: point[33..].to_vec(),
            }
        }
        Material::Ed25519(pair) => KeyMaterial::Ed25519 {
            x: pair.public_key().as_ref().to_vec(),
        },
    }
}

/// The one PEM block of `pem`: its label and its decoded body.
fn pem_block(pem: &str) -> Result<(&str, Vec<u8>), Error> {
    let not_pem = || invalid("the key is not PEM (-----BEGIN … PRIVATE KEY-----)");
    let start = pem.find("-----BEGIN ").ok_or_else(not_pem)?;
    let rest = &pem[start + "-----BEGIN ".len()..];
    let (label, rest) = rest.split_once("-----").ok_or_else(not_pem)?;
    let end_marker = format!("-----END {label}-----");
    let body = &rest[..rest.find(&end_marker).ok_or_else(not_pem)?];
    let base64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if base64.contains(':') {
        // RFC 1421 headers ("Proc-Type: 4,ENCRYPTED") mean an OpenSSL-encrypted key.
        return Err(invalid(
            "the PEM key is encrypted; decrypt it first (openssl pkcs8 -topk8 -nocrypt)",
        ));
    }
    let der = STANDARD
        .decode(base64.as_bytes())
        .map_err(|_| invalid("the PEM body is not base64"))?;
    Ok((label, der))
}

/// A PKCS#8 document of any of the three kinds; each parser refuses the others.
fn pkcs8(der: &[u8]) -> Result<Material, Error> {
    if let Ok(pair) = RsaKeyPair::from_pkcs8(der) {
        return Ok(Material::Rsa(pair));
    }
    if let Ok(pair) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
        return Ok(Material::P256(pair));
    }
    if let Ok(pair) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
        return Ok(Material::Ed25519(pair));
    }
    Err(invalid(
        "the PKCS#8 key is not RSA (2048 to 8192 bits), EC P-256 or Ed25519",
    ))
}

fn member(members: &Map<String, Value>, name: &str) -> Result<Vec<u8>, Error> {
    let Some(Value::String(encoded)) = members.get(name) else {
        return Err(invalid(format!(
            "the JWK has no {name:?}; a private JWK needs every private member"
        )));
    };
    URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('=').as_bytes())
        .map_err(|_| invalid(format!("the JWK member {name:?} is not base64url")))
}

fn rsa_jwk(members: &Map<String, Value>) -> Result<Material, Error> {
    if members.contains_key("oth") {
        return Err(invalid("multi-prime RSA keys (oth) are not supported"));
    }
    let get = |name| member(members, name);
    let n = get("n")?;
    let e = get("e")?;
    // aws-lc-rs wants the public numbers without leading zeros.
    let strip = |bytes: &[u8]| bytes[bytes.iter().take_while(|b| **b == 0).count()..].to_vec();
    let components = KeyPairComponents {
        public_key: PublicKeyComponents {
            n: strip(&n),
            e: strip(&e),
        },
        d: get("d")?,
        p: get("p")?,
        q: get("q")?,
        dP: get("dp")?,
        dQ: get("dq")?,
        qInv: get("qi")?,
    };
    RsaKeyPair::from_components(&components)
        .map(Material::Rsa)
        .map_err(|e| invalid(format!("the RSA JWK's members do not form a usable key ({e})")))
}

fn curve(members: &Map<String, Value>) -> Option<&str> {
    members.get("crv").and_then(Value::as_str)
}

fn ec_jwk(members: &Map<String, Value>) -> Result<Material, Error> {
    if curve(members) != Some("P-256") {
        return Err(invalid("the EC JWK's crv is not P-256"));
    }
    let (x, y, d) = (member(members, "x")?, member(members, "y")?, member(members, "d")?);
    if x.len() != 32 || y.len() != 32 || d.len() != 32 {
        return Err(invalid("the P-256 JWK's x, y and d must be 32 bytes each"));
    }
    let point = [&[4u8][..], &x, &y].concat();
    EcdsaKeyPair::from_private_key_and_public_key(&ECDSA_P256_SHA256_FIXED_SIGNING, &d, &point)
        .map(Material::P256)
        .map_err(|e| invalid(format!("the EC JWK's d does not match its x and y ({e})")))
}

fn okp_jwk(members: &Map<String, Value>) -> Result<Material, Error> {
    if curve(members) != Some("Ed25519") {
        return Err(invalid("the OKP JWK's crv is not Ed25519"));
    }
    let (x, d) = (member(members, "x")?, member(members, "d")?);
    Ed25519KeyPair::from_seed_and_public_key(&d, &x)
        .map(Material::Ed25519)
        .map_err(|e| invalid(format!("the Ed25519 JWK's d does not match its x ({e})")))
}

#[cfg(test)]
pub(crate) mod tests;
