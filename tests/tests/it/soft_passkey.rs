//! A software authenticator for tests: an ES256 key that answers WebAuthn
//! ceremonies as a platform authenticator would (attestation `none`, user
//! present and verified), so the server's passkey paths run end to end
//! without a browser. The browser suite uses Chromium's own virtual one.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub(crate) struct SoftPasskey {
    key: EcdsaKeyPair,
    credential_id: Vec<u8>,
    origin: String,
    rp_id: String,
    counter: u32,
}

/// Flags of authenticator data (WebAuthn §6.1): user present, user
/// verified, attested credential data included.
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

impl SoftPasskey {
    /// An authenticator for the relying party at `origin` (`http://localhost:1234`).
    pub(crate) fn new(origin: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("a key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).expect("the key");
        let rp_id = url::Url::parse(origin)
            .expect("an origin")
            .host_str()
            .expect("a host")
            .to_owned();
        Self {
            key,
            credential_id: uuid::Uuid::new_v4().as_bytes().to_vec(),
            origin: origin.trim_end_matches('/').to_owned(),
            rp_id,
            counter: 0,
        }
    }

    fn client_data(&self, kind: &str, options: &Value) -> Vec<u8> {
        let challenge = options["publicKey"]["challenge"].as_str().expect("a challenge");
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        }))
        .unwrap()
    }

    fn authenticator_data(&self, flags: u8, attested: Option<&[u8]>) -> Vec<u8> {
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        if let Some(attested) = attested {
            data.extend_from_slice(attested);
        }
        data
    }

    /// The COSE_Key of the public key (RFC 9052 §7; EC2, P-256, ES256).
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.public_key().as_ref();
        let (x, y) = (&point[1..33], &point[33..65]);
        let mut key = vec![0xA5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20];
        key.extend_from_slice(x);
        key.extend_from_slice(&[0x22, 0x58, 0x20]);
        key.extend_from_slice(y);
        key
    }

    /// The answer to `navigator.credentials.create(options)`.
    pub(crate) fn register(&mut self, options: &Value) -> Value {
        let client_data = self.client_data("webauthn.create", options);
        let mut attested = vec![0u8; 16]; // AAGUID: none
        attested.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        attested.extend_from_slice(&self.credential_id);
        attested.extend_from_slice(&self.cose_key());
        let auth_data = self.authenticator_data(UP | UV | AT, Some(&attested));
        // {"fmt": "none", "attStmt": {}, "authData": bytes}, in CBOR.
        let mut object = vec![0xA3, 0x63];
        object.extend_from_slice(b"fmt");
        object.push(0x64);
        object.extend_from_slice(b"none");
        object.push(0x67);
        object.extend_from_slice(b"attStmt");
        object.push(0xA0);
        object.push(0x68);
        object.extend_from_slice(b"authData");
        object.push(0x59);
        object.extend_from_slice(&(auth_data.len() as u16).to_be_bytes());
        object.extend_from_slice(&auth_data);
        json!({
            "id": B64.encode(&self.credential_id),
            "rawId": B64.encode(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": B64.encode(&object),
                "clientDataJSON": B64.encode(&client_data),
            },
            "extensions": {},
        })
    }

    /// The answer to `navigator.credentials.get(options)`.
    pub(crate) fn assert(&mut self, options: &Value) -> Value {
        self.counter += 1;
        let client_data = self.client_data("webauthn.get", options);
        let auth_data = self.authenticator_data(UP | UV, None);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature = self.key.sign(&SystemRandom::new(), &signed).expect("a signature");
        json!({
            "id": B64.encode(&self.credential_id),
            "rawId": B64.encode(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(&auth_data),
                "clientDataJSON": B64.encode(&client_data),
                "signature": B64.encode(signature.as_ref()),
                "userHandle": null,
            },
            "extensions": {},
        })
    }
}
