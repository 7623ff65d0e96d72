//! The keys that sign secret-scanning partner alerts, and the check of a
//! signature (the contract's "Leaked secrets"). GitHub publishes its keys as
//! `{"public_keys": [{"key_identifier", "key", "is_current"}]}` with PEM
//! public keys, and signs each alert's raw body with ECDSA P-256 SHA-256,
//! the DER signature base64 in `Github-Public-Key-Signature`.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ParsedPublicKey};
use base64::Engine;
use std::path::Path;

/// `CASEBOOK_SECRET_SCANNING_KEYS`, read once at start.
#[derive(Clone)]
pub struct ScanningKeys {
    /// By `key_identifier`. Keys that are no longer `is_current` still
    /// verify: alerts signed just before a rotation arrive after it.
    keys: Vec<(String, ParsedPublicKey)>,
}

impl std::fmt::Debug for ScanningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("ScanningKeys").field("key_identifiers", &ids).finish()
    }
}

#[derive(Debug, serde::Deserialize)]
struct KeysDocument {
    public_keys: Vec<KeyEntry>,
}

#[derive(Debug, serde::Deserialize)]
struct KeyEntry {
    key_identifier: String,
    key: String,
}

/// Why a signature is not believed; all of them are a 401 to the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureRefused {
    #[error("the Github-Public-Key-Identifier and Github-Public-Key-Signature headers are required")]
    Missing,
    #[error("the alert is signed with a key this server does not list")]
    UnknownKey,
    #[error("the alert's signature does not verify")]
    BadSignature,
}

impl ScanningKeys {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("CASEBOOK_SECRET_SCANNING_KEYS: cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("CASEBOOK_SECRET_SCANNING_KEYS: {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let document: KeysDocument = serde_json::from_str(text)
            .map_err(|e| format!("not a public keys document ({{\"public_keys\": [...]}}): {e}"))?;
        if document.public_keys.is_empty() {
            return Err("it lists no public keys".into());
        }
        let keys = document
            .public_keys
            .into_iter()
            .map(|entry| {
                let der = pem_public_key(&entry.key).ok_or_else(|| {
                    format!(
                        "the key {:?} is not a PEM public key (-----BEGIN PUBLIC KEY-----)",
                        entry.key_identifier
                    )
                })?;
                // A key that cannot verify anything is a mistake to report now,
                // not a silent 401 for every alert later.
                let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, der)
                    .map_err(|_| format!("the key {:?} is not an EC P-256 public key", entry.key_identifier))?;
                Ok((entry.key_identifier, key))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { keys })
    }

    /// Checks the signature headers against the raw body.
    pub fn verify(&self, key_id: Option<&str>, signature: Option<&str>, body: &[u8]) -> Result<(), SignatureRefused> {
        let (Some(key_id), Some(signature)) = (key_id, signature) else {
            return Err(SignatureRefused::Missing);
        };
        let (_, key) = self
            .keys
            .iter()
            .find(|(id, _)| id == key_id)
            .ok_or(SignatureRefused::UnknownKey)?;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .map_err(|_| SignatureRefused::BadSignature)?;
        key.verify_sig(body, &signature)
            .map_err(|_| SignatureRefused::BadSignature)
    }
}

/// The DER inside a `PUBLIC KEY` PEM block.
fn pem_public_key(pem: &str) -> Option<Vec<u8>> {
    let body = pem
        .trim()
        .strip_prefix("-----BEGIN PUBLIC KEY-----")?
        .strip_suffix("-----END PUBLIC KEY-----")?;
    let base64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(base64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

    fn pem(der: &[u8]) -> String {
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(der)
        )
    }

    #[test]
    fn alerts_verify_only_under_a_listed_key() {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let der = pair.public_key().as_der().unwrap();
        let document = serde_json::json!({"public_keys": [
            {"key_identifier": "k1", "key": pem(der.as_ref()), "is_current": true}
        ]});
        let keys = ScanningKeys::parse(&document.to_string()).unwrap();
        let body =
            br#"[{"token":"cbs_x","type":"casebook_client_secret","url":"https://example.org","source":"content"}]"#;
        let signature = pair.sign(&SystemRandom::new(), body).unwrap();
        let signature = base64::engine::general_purpose::STANDARD.encode(signature.as_ref());
        assert_eq!(keys.verify(Some("k1"), Some(&signature), body), Ok(()));
        assert_eq!(
            keys.verify(Some("k1"), Some(&signature), b"[]"),
            Err(SignatureRefused::BadSignature)
        );
        assert_eq!(
            keys.verify(Some("k2"), Some(&signature), body),
            Err(SignatureRefused::UnknownKey)
        );
        assert_eq!(
            keys.verify(None, Some(&signature), body),
            Err(SignatureRefused::Missing)
        );
        assert_eq!(
            keys.verify(Some("k1"), Some("not base64!"), body),
            Err(SignatureRefused::BadSignature)
        );
    }

    #[test]
    fn a_keys_file_that_cannot_verify_is_refused_at_start() {
        for bad in [
            "[]",
            r#"{"public_keys": []}"#,
            r#"{"public_keys": [{"key_identifier": "k", "key": "not pem"}]}"#,
            r#"{"public_keys": [{"key_identifier": "k", "key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}]}"#,
        ] {
            assert!(ScanningKeys::parse(bad).is_err(), "{bad}");
        }
    }
}
