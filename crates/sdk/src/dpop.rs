//! DPoP (RFC 9449) on the client's side: the key that tokens are bound to,
//! the proof it signs for each request, and the latest nonce the server
//! gave. What a proof says is the domain's (`casebook_domain::dpop`), the
//! same rules the server judges proofs by; only the signature and the
//! randomness are made here.

use crate::error::Error;
use crate::key::{KeyKind, PrivateKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use casebook_domain::AssertionAlg;
use casebook_domain::{dpop, jose};
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderValue};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// The `DPoP` request header, which carries a proof.
pub(crate) const HEADER: &str = dpop::HEADER;

/// A nonce longer than this is not a Casebook nonce, nor any sensible
/// server's; it is not echoed into every later proof.
const MAX_NONCE_LEN: usize = 1024;

/// The key an application's access tokens are bound to (DPoP, RFC 9449):
/// give it to [`ClientBuilder::dpop`](crate::ClientBuilder::dpop) and every
/// token is issued for this key alone, and honoured only beside a proof it
/// signed, so a token copied out of a log or a proxy is useless on its own.
///
/// [`generate`](Self::generate) makes a fresh ES256 key, which is all most
/// applications need: nothing is registered, the server learns the public
/// key from each token request's proof. A key of your own (RSA for RS256 or
/// PS256, P-256 for ES256, Ed25519 for EdDSA) comes from a [`PrivateKey`]
/// with [`from_private_key`](Self::from_private_key).
///
/// Cheap to clone. Neither its `Debug` output nor any error ever shows the
/// private key; its public thumbprint is no secret.
#[derive(Clone)]
pub struct DpopKey {
    key: PrivateKey,
    alg: AssertionAlg,
    /// Every proof's protected header is the same: `typ`, `alg`, the public key.
    header: Arc<str>,
    thumbprint: Arc<str>,
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("kind", &self.key.kind())
            .field("alg", &self.alg.as_str())
            .field("jkt", &self.thumbprint)
            .field("material", &"[redacted]")
            .finish()
    }
}

impl DpopKey {
    /// A fresh P-256 key that signs ES256, made with aws-lc-rs. It lives as
    /// long as the value: a process that starts again makes a new one, and
    /// its first call fetches a token bound to that.
    pub fn generate() -> Result<Self, Error> {
        let key = PrivateKey::generate_p256(dpop::thumbprint)?;
        Self::with(key, AssertionAlg::Es256)
    }

    /// Your own key, signing with its JWK's `alg`, else RS256 for RSA,
    /// ES256 for P-256 and EdDSA for Ed25519 (see
    /// [`signing_alg`](Self::signing_alg) for PS256). Its `kid` plays no part.
    pub fn from_private_key(key: PrivateKey) -> Result<Self, Error> {
        let alg = key.alg_for(None)?;
        Self::with(key, alg)
    }

    /// The same key signing with `alg`: PS256 rather than RS256 for an RSA
    /// key, say. One the key cannot sign with is
    /// [`Error::KeyAlgorithmMismatch`].
    pub fn signing_alg(self, alg: AssertionAlg) -> Result<Self, Error> {
        let alg = self.key.alg_for(Some(alg))?;
        Self::with(self.key, alg)
    }

    fn with(key: PrivateKey, alg: AssertionAlg) -> Result<Self, Error> {
        // The server names the algorithms it takes; a key of this SDK signs
        // no other, and this keeps the two lists from drifting apart.
        if !dpop::ALGS.contains(&alg) {
            return Err(Error::KeyAlgorithmMismatch { key: key.kind(), alg });
        }
        let material = key.public_material();
        let header = jose::encode_header(&dpop::proof_header(alg, &material));
        Ok(Self {
            thumbprint: dpop::thumbprint(&material).into(),
            header: header.into(),
            key,
            alg,
        })
    }

    /// The algorithm proofs are signed with.
    pub fn alg(&self) -> AssertionAlg {
        self.alg
    }

    /// The kind of key.
    pub fn kind(&self) -> KeyKind {
        self.key.kind()
    }

    /// The key's JWK SHA-256 thumbprint (RFC 7638), base64url: what a
    /// token bound to it carries as `cnf.jkt`, and introspection shows.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }
}

/// A proof ready for the `DPoP` header, and the nonce it carries.
pub(crate) struct Proof {
    pub(crate) header: HeaderValue,
    nonce: Option<Arc<str>>,
}

/// Signs proofs with one key and keeps the latest nonce the server gave
/// (RFC 9449 §8, §9). A client talks to one server, so one slot is enough;
/// the token source and the client that uses its tokens share it.
pub(crate) struct Prover {
    key: DpopKey,
    nonce: Mutex<Option<Arc<str>>>,
    rng: SystemRandom,
}

impl fmt::Debug for Prover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.key.fmt(f)
    }
}

impl Prover {
    pub(crate) fn new(key: DpopKey) -> Self {
        Self {
            key,
            nonce: Mutex::new(None),
            rng: SystemRandom::new(),
        }
    }

    pub(crate) fn key(&self) -> &DpopKey {
        &self.key
    }

    fn nonce(&self) -> Option<Arc<str>> {
        // A plain value, whole at every step: a panic elsewhere cannot have
        // left it half-written.
        self.nonce.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// A proof for one `method` request to `url` (its query and fragment
    /// are no part of it), with the access token it carries at an API, the
    /// latest nonce, the system clock's time and a random `jti`.
    pub(crate) fn prove(&self, method: &str, url: &Url, access_token: Option<&str>) -> Result<Proof, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Error::Config("the system clock is before 1970".into()))?;
        let iat = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        self.prove_at(method, url, access_token, iat)
    }

    pub(crate) fn prove_at(
        &self,
        method: &str,
        url: &Url,
        access_token: Option<&str>,
        iat: i64,
    ) -> Result<Proof, Error> {
        let mut jti = [0u8; 16];
        self.rng
            .fill(&mut jti)
            .map_err(|_| Error::Config("no randomness for the DPoP proof's jti".into()))?;
        let nonce = self.nonce();
        let request = dpop::ProofFor {
            method,
            url: url.as_str(),
            access_token,
            nonce: nonce.as_deref(),
        };
        let claims = dpop::proof_claims(&request, iat, &jose::encode_part(&jti))
            .ok_or_else(|| Error::Config(format!("{url} is not an http(s) URL a DPoP proof can name")))?;
        let input = jose::signing_input(&self.key.header, claims.to_string().as_bytes());
        let signature = self.key.key.sign(self.key.alg, &self.rng, input.as_bytes())?;
        let mut header = HeaderValue::from_str(&jose::compact(input, &signature))
            .map_err(|_| Error::Config("the DPoP proof cannot go in an HTTP header".into()))?;
        // One request's proof, hashing its token: no use to anyone, but
        // kept out of logs with the token beside it all the same.
        header.set_sensitive(true);
        Ok(Proof { header, nonce })
    }

    /// Keeps the `DPoP-Nonce` of an answer, if it has one: the next proof
    /// carries it.
    pub(crate) fn remember_nonce(&self, headers: &HeaderMap) {
        let Some(nonce) = headers.get(dpop::NONCE_HEADER).and_then(|v| v.to_str().ok()) else {
            return;
        };
        // RFC 9449 §8.1: `nonce = 1*NQCHAR`; anything else is not one.
        let well_formed = !nonce.is_empty()
            && nonce.len() <= MAX_NONCE_LEN
            && nonce.bytes().all(|b| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e));
        if well_formed {
            *self.nonce.lock().unwrap_or_else(PoisonError::into_inner) = Some(nonce.into());
        }
    }

    /// Whether a nonce other than the one `proof` carried is held now: only
    /// then is a request refused with `use_dpop_nonce` worth sending again.
    pub(crate) fn has_newer_nonce_than(&self, proof: &Proof) -> bool {
        let held = self.nonce();
        held.is_some() && held != proof.nonce
    }
}

#[cfg(test)]
mod tests;
