//! What the server and the SDK write in the JOSE formats, written once: a
//! public key as a JWK (RFC 7517; RFC 7518 §6; RFC 8037 §2) and a compact
//! JWS (RFC 7515 §7.1) around a signature made elsewhere.
//!
//! The server publishes its signing keys and shows an application's
//! registered keys with [`Jwk::public`]; the SDK gives a partner the public
//! half of their private key to register with it. Access tokens (server)
//! and client assertions (SDK) are assembled with [`signing_input`] and
//! [`compact`]. No cryptography runs here: the caller signs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A public key's numbers, decoded and checked for size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// Big-endian modulus and exponent, without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The affine coordinates, 32 bytes each.
    P256 { x: Vec<u8>, y: Vec<u8> },
    /// The 32-byte public key.
    Ed25519 { x: Vec<u8> },
}

/// A public key as a JWK (RFC 7517): `n` and `e` for RSA (RFC 7518 §6.3),
/// `crv`, `x` and `y` for EC (§6.2), `crv` and `x` for OKP (RFC 8037 §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jwk {
    /// `RSA`, `EC` or `OKP`.
    pub kty: String,
    pub kid: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// `RS256`, `ES256` or `EdDSA`: the one algorithm this key signs with.
    // Every key the server publishes names its algorithm, which is what the
    // OpenAPI document describes; a registered key or a partner's may not.
    #[cfg_attr(not(feature = "openapi"), doc = "")]
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "Absent from a key that may be used with any algorithm of its kind."
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

impl Jwk {
    /// The public key `material` as a JWK for signatures (`use: sig`) under
    /// `kid`, naming `alg` when the key is bound to one algorithm.
    pub fn public(material: &KeyMaterial, kid: &str, alg: Option<&str>) -> Self {
        let b64 = |bytes: &[u8]| Some(URL_SAFE_NO_PAD.encode(bytes));
        let mut jwk = Self {
            kty: String::new(),
            kid: kid.to_owned(),
            use_: "sig".to_owned(),
            alg: alg.map(str::to_owned),
            n: None,
            e: None,
            crv: None,
            x: None,
            y: None,
        };
        match material {
            KeyMaterial::Rsa { n, e } => {
                jwk.kty = "RSA".to_owned();
                jwk.n = b64(n);
                jwk.e = b64(e);
            }
            KeyMaterial::P256 { x, y } => {
                jwk.kty = "EC".to_owned();
                jwk.crv = Some("P-256".to_owned());
                jwk.x = b64(x);
                jwk.y = b64(y);
            }
            KeyMaterial::Ed25519 { x } => {
                jwk.kty = "OKP".to_owned();
                jwk.crv = Some("Ed25519".to_owned());
                jwk.x = b64(x);
            }
        }
        jwk
    }

    /// The JWK as a JSON object.
    pub fn to_value(&self) -> Value {
        // Serializing strings and optional strings into a `Value` cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A JWS part: base64url without padding (RFC 7515 §2).
pub fn encode_part(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The JWS Protected Header as it stands in a compact JWS: its JSON, base64url.
pub fn encode_header(header: &Value) -> String {
    encode_part(header.to_string().as_bytes())
}

/// What a compact JWS's signature covers (RFC 7515 §5.1): the encoded
/// header, a dot, the base64url of `payload`. Room for the signature is
/// kept, for [`compact`] to append it without copying.
pub fn signing_input(header_b64: &str, payload: &[u8]) -> String {
    // An RSA-2048 signature is 342 characters in base64url; the others are shorter.
    let mut input = String::with_capacity(header_b64.len() + payload.len() * 4 / 3 + 350);
    input.push_str(header_b64);
    input.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut input);
    input
}

/// The compact JWS (RFC 7515 §7.1): the signing input, a dot, the
/// base64url of the signature made over it.
pub fn compact(signing_input: String, signature: &[u8]) -> String {
    let mut token = signing_input;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    token
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_kind_of_key_writes_the_members_it_needs_and_no_other() {
        let rsa = Jwk::public(
            &KeyMaterial::Rsa {
                n: vec![0xc3; 4],
                e: vec![1, 0, 1],
            },
            "r",
            Some("RS256"),
        );
        assert_eq!(
            rsa.to_value(),
            json!({"kty": "RSA", "kid": "r", "use": "sig", "alg": "RS256", "n": "w8PDww", "e": "AQAB"})
        );
        let ec = Jwk::public(
            &KeyMaterial::P256 {
                x: vec![1; 32],
                y: vec![2; 32],
            },
            "e",
            None,
        );
        assert_eq!(
            ec.to_value(),
            json!({"kty": "EC", "kid": "e", "use": "sig", "crv": "P-256",
                "x": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE", "y": "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI"})
        );
        let ed = Jwk::public(&KeyMaterial::Ed25519 { x: vec![3; 32] }, "o", Some("EdDSA"));
        assert_eq!(
            ed.to_value(),
            json!({"kty": "OKP", "kid": "o", "use": "sig", "alg": "EdDSA", "crv": "Ed25519",
                "x": "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM"})
        );
        // Written as a struct, in the order the JWKS has always had.
        assert_eq!(
            serde_json::to_string(&ed).unwrap(),
            r#"{"kty":"OKP","kid":"o","use":"sig","alg":"EdDSA","crv":"Ed25519","x":"AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM"}"#
        );
    }

    #[test]
    fn a_compact_jws_is_three_base64url_parts() {
        let header = encode_header(&json!({"alg": "EdDSA", "typ": "JWT"}));
        let input = signing_input(&header, br#"{"sub":"a"}"#);
        assert_eq!(input, "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhIn0");
        assert_eq!(compact(input.clone(), &[0xfb, 0xff]), format!("{input}.-_8"));
    }
}
