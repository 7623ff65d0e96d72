//! Signing keys and JWTs: access tokens (RFC 9068) and introspection
//! responses (RFC 9701), with RS256, ES256 or EdDSA.
//!
//! Every key has one algorithm, chosen when it is made and stored with it.
//! Keys of several algorithms can be published at once (an install moving
//! from one to another), and a token is checked with the algorithm of the key
//! its `kid` names; the `alg` in its header must agree, and never chooses.
//! The compact JWS is assembled and read by the domain (`jose`, `jws`), the
//! same code that writes and reads client assertions; each key is parsed
//! once, when the ring loads, not on every token.

mod material;
#[cfg(test)]
mod tests;

pub use material::CryptoFailure;

use crate::crypto::{MasterKey, random_bytes};
use crate::db::Tx;
use crate::store;
use crate::store::Scope;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use casebook_domain::SigningAlgorithm;
use casebook_domain::jose;
use casebook_domain::jws::{SignedJwt, UniqueMembers, Unreadable};
use material::{Signer, Verifier};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long a retired key stays published: the longest a token it signed can live, plus skew.
const RETIRED_KEY_GRACE_MICROS: i64 = (casebook_domain::ACCESS_TOKEN_LIFETIME_SECS + 300) * 1_000_000;

/// Refreshes start at most this often. A token naming an unknown `kid`
/// triggers one, and anyone can send such tokens: without a floor, each would
/// cost a database read and a key decryption.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

pub use casebook_domain::token_request::AccessClaims;

/// A public key as a JWK, written by the domain for the server and the SDK alike.
pub use casebook_domain::jose::Jwk;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

struct CurrentKey {
    kid: String,
    alg: SigningAlgorithm,
    signer: Signer,
    /// The encoded access token header, computed once per key.
    header_b64: String,
}

struct KeySet {
    current: CurrentKey,
    verifying: HashMap<String, Verifier>,
    jwks: JwkSet,
    /// Of the published keys, the current one's first, each once.
    algorithms: Vec<SigningAlgorithm>,
}

/// One tenant's signing keys, shared by every replica through the database.
pub struct KeyRing {
    at: Scope,
    master: MasterKey,
    set: RwLock<Arc<KeySet>>,
    /// When the latest refresh started; held while one runs, so concurrent callers share it.
    refreshed: tokio::sync::Mutex<Option<Instant>>,
    /// When storage was last read, by a load or a refresh.
    read_at: std::sync::Mutex<Instant>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("a signing key could not be decrypted: is CASEBOOK_MASTER_KEY the one this database was created with?")]
    Sealed,
    #[error("a stored signing key is malformed")]
    Malformed,
    /// The tenant has no key and cannot get one: it was deleted.
    #[error("the tenant has no signing key: it was deleted")]
    TenantGone,
    #[error("signing key {kid} has an algorithm this version does not know ({alg:?}): upgrade, or rotate it out")]
    UnknownAlgorithm { kid: String, alg: String },
    #[error(transparent)]
    Crypto(#[from] CryptoFailure),
}

/// Why a presented token is refused. The message goes to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token is malformed")]
    Malformed,
    #[error("the access token was not signed by this server")]
    BadSignature,
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not for this server")]
    WrongAudience,
}

/// The associated data a signing key's private half is sealed with.
pub fn kid_context(kid: &str) -> String {
    format!("signing-key:{kid}")
}

impl KeyRing {
    /// Loads the key set, creating the first key, of `alg`, on a new install.
    pub async fn load(at: Scope, master: MasterKey, alg: SigningAlgorithm) -> Result<Self, KeyError> {
        if !store::has_active_signing_key(&at).await? {
            insert_new_key(&at, &master, alg).await?;
        }
        let set = load_set(&at, &master).await?;
        Ok(Self {
            at,
            master,
            set: RwLock::new(Arc::new(set)),
            refreshed: tokio::sync::Mutex::new(None),
            read_at: std::sync::Mutex::new(Instant::now()),
        })
    }

    /// Re-reads keys: how a rotation made elsewhere reaches this process.
    ///
    /// On return the ring reflects storage as of some moment after the call
    /// began. Concurrent callers share one read, and reads start at most once
    /// per [`MIN_REFRESH_INTERVAL`]; a caller inside that interval waits.
    pub async fn refresh(&self) -> Result<(), KeyError> {
        let asked = Instant::now();
        let mut last = self.refreshed.lock().await;
        if let Some(started) = *last {
            if started >= asked {
                // A read that began after this call: it already covers it.
                return Ok(());
            }
            let wait = MIN_REFRESH_INTERVAL.saturating_sub(started.elapsed());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        *last = Some(Instant::now());
        // Reads only: a first key is made by `load`, so a ring kept on a
        // replica after its tenant was deleted elsewhere writes nothing.
        let set = load_set(&self.at, &self.master).await?;
        *self.set.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        *self.read_at.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        Ok(())
    }

    /// The tenant whose keys these are.
    pub fn tenant(&self) -> &str {
        self.at.tenant()
    }

    /// Whether storage was last read longer than `age` ago.
    pub fn read_before(&self, age: Duration) -> bool {
        self.read_at.lock().unwrap_or_else(|e| e.into_inner()).elapsed() > age
    }

    fn snapshot(&self) -> Arc<KeySet> {
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn jwks(&self) -> JwkSet {
        self.snapshot().jwks.clone()
    }

    pub fn current_kid(&self) -> String {
        self.snapshot().current.kid.clone()
    }

    /// The algorithms of the published keys, the signing one first: what a
    /// verifier of this install must accept.
    pub fn published_algorithms(&self) -> Vec<SigningAlgorithm> {
        self.snapshot().algorithms.clone()
    }

    /// The algorithm tokens are signed with now.
    pub fn current_alg(&self) -> SigningAlgorithm {
        self.snapshot().current.alg
    }

    /// An access token (`typ: at+jwt`) with the current key.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, CryptoFailure> {
        let set = self.snapshot();
        let payload = serde_json::to_vec(claims).map_err(|_| CryptoFailure::encode())?;
        compact_jws(&set.current, &set.current.header_b64, &payload)
    }

    /// Any other JWT the server issues (RFC 9701 introspection responses),
    /// with the current key and the given `typ`.
    pub fn sign_typed<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, CryptoFailure> {
        let set = self.snapshot();
        let current = &set.current;
        let header = serde_json::json!({"alg": current.alg.as_str(), "kid": current.kid, "typ": typ});
        let payload = serde_json::to_vec(claims).map_err(|_| CryptoFailure::encode())?;
        compact_jws(current, &jose::encode_header(&header), &payload)
    }

    /// Checks signature, type, issuer, audience and lifetime. `Ok(None)` means
    /// the `kid` is not known yet: the caller may refresh and try again.
    pub fn verify(&self, token: &str, issuer: &str, now_secs: i64) -> Result<Option<AccessClaims>, TokenError> {
        self.snapshot().verify(token, issuer, now_secs)
    }

    /// [`KeyRing::verify`], reading the keys again once when the `kid` is
    /// not known yet (a key rotated in on another replica). The outer error
    /// is the server's (keys unreadable), the inner the token's.
    pub async fn verify_fresh(
        &self,
        token: &str,
        issuer: &str,
        now_secs: i64,
    ) -> Result<Result<AccessClaims, TokenError>, KeyError> {
        match self.verify(token, issuer, now_secs) {
            Ok(Some(claims)) => return Ok(Ok(claims)),
            Err(refused) => return Ok(Err(refused)),
            Ok(None) => {}
        }
        self.refresh().await?;
        Ok(self
            .verify(token, issuer, now_secs)
            .and_then(|claims| claims.ok_or(TokenError::BadSignature)))
    }
}

impl KeySet {
    /// Checks signature, type, issuer, audience and lifetime. `Ok(None)` means
    /// the `kid` is not known yet: the caller may refresh and try again.
    fn verify(&self, token: &str, issuer: &str, now_secs: i64) -> Result<Option<AccessClaims>, TokenError> {
        // The domain's one reader: strict, as for a client assertion. An
        // `alg` outside the asymmetric ones (`none`, HMAC) never verifies.
        let jwt = SignedJwt::<UniqueMembers>::parse(token).map_err(|e| match e {
            Unreadable::Algorithm => TokenError::BadSignature,
            _ => TokenError::Malformed,
        })?;
        // RFC 9068 §4: the type must be present and be `at+jwt` (or its media type form).
        let typ_ok = jwt
            .typ()
            .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt"));
        if !typ_ok {
            return Err(TokenError::Malformed);
        }
        let kid = jwt.kid().ok_or(TokenError::Malformed)?;
        let Some(key) = self.verifying.get(kid) else {
            return Ok(None);
        };
        // The key decides the algorithm; a header naming another (`none`,
        // HS256 with the public key as secret, …) is refused unread.
        if jwt.alg().as_str() != key.alg.as_str() {
            return Err(TokenError::BadSignature);
        }
        if !key.verify(jwt.signing_input(), jwt.signature()) {
            return Err(TokenError::BadSignature);
        }
        let claims = AccessClaims::deserialize(serde_json::Value::Object((**jwt.claims()).clone()))
            .map_err(|_| TokenError::Malformed)?;
        if claims.iss != issuer || claims.aud != issuer {
            return Err(TokenError::WrongAudience);
        }
        if claims.exp <= now_secs {
            return Err(TokenError::Expired);
        }
        Ok(Some(claims))
    }
}

fn compact_jws(key: &CurrentKey, header_b64: &str, payload: &[u8]) -> Result<String, CryptoFailure> {
    let input = jose::signing_input(header_b64, payload);
    let signature = key.signer.sign(input.as_bytes())?;
    Ok(jose::compact(input, &signature))
}

async fn insert_new_key(at: &Scope, master: &MasterKey, alg: SigningAlgorithm) -> Result<String, KeyError> {
    let pair = generate_off_workers(alg).await?;
    let mut tx = at.begin().await?;
    let activates_at = tx.now_micros();
    let kid = insert_key(&mut tx, at, master, alg, pair, activates_at).await?;
    tx.commit().await?;
    Ok(kid)
}

/// RSA key generation takes about 175 ms: on a blocking thread, so that the
/// requests an async worker serves meanwhile do not wait for it.
async fn generate_off_workers(alg: SigningAlgorithm) -> Result<material::Generated, KeyError> {
    tokio::task::spawn_blocking(move || material::generate(alg))
        .await
        .map_err(|_| CryptoFailure::generate())?
        .map_err(KeyError::from)
}

async fn insert_key(
    tx: &mut Tx,
    at: &Scope,
    master: &MasterKey,
    alg: SigningAlgorithm,
    pair: material::Generated,
    activates_at: i64,
) -> Result<String, KeyError> {
    let kid = URL_SAFE_NO_PAD.encode(random_bytes::<12>());
    let key = store::StoredSigningKey {
        sealed_private_key: master.seal(&pair.private, &kid_context(&kid)),
        public_key: pair.public,
        alg: alg.as_str().to_owned(),
        kid,
        retired_at: None,
        activates_at,
    };
    if !store::insert_signing_key(tx, at, &key).await? {
        return Err(KeyError::TenantGone);
    }
    Ok(key.kid)
}

/// `casebook keys rotate`: a new current key, of `alg`; the old one keeps
/// verifying (and stays in the JWKS) until every token it signed has expired.
pub async fn rotate(at: &Scope, master: &MasterKey, alg: SigningAlgorithm) -> Result<String, KeyError> {
    rotate_with_notice(at, master, alg, std::time::Duration::ZERO).await
}

/// A rotation announced ahead: the new key is in the JWKS at once but signs
/// only after `notice`, so verifiers that cache the JWKS (for up to its
/// `max-age`) already hold it when its first token arrives. Replicas switch
/// within their refresh interval (5 s) of that moment. A change of algorithm
/// is a rotation like any other: tokens of the old key verify until they
/// expire, whatever its algorithm.
pub async fn rotate_with_notice(
    at: &Scope,
    master: &MasterKey,
    alg: SigningAlgorithm,
    notice: std::time::Duration,
) -> Result<String, KeyError> {
    // Generated before the transaction opens: no lock is held for 175 ms.
    let pair = generate_off_workers(alg).await?;
    // One transaction: no moment without a current key, in which a replica
    // refreshing its ring would create a second one.
    let mut tx = at.begin().await?;
    let switch_at = tx.now_micros() + i64::try_from(notice.as_micros()).unwrap_or(i64::MAX / 2);
    store::retire_signing_keys(&mut tx, at, switch_at).await?;
    let kid = insert_key(&mut tx, at, master, alg, pair, switch_at).await?;
    tx.commit().await?;
    Ok(kid)
}

/// `casebook check`: how many signing keys are stored, and the ids of those
/// `master` does not open. Creates nothing, unlike [`KeyRing::load`].
pub async fn unopened_keys(db: &crate::db::Db, master: &MasterKey) -> Result<(usize, Vec<String>), KeyError> {
    let stored = store::every_tenants_signing_keys(db).await?;
    let unopened = stored
        .iter()
        .filter(|key| {
            let opens = SigningAlgorithm::parse(&key.alg).is_some_and(|alg| {
                master
                    .open(&key.sealed_private_key, &kid_context(&key.kid))
                    .is_ok_and(|private| Signer::open(alg, &private).is_some())
            });
            !opens
        })
        .map(|key| key.kid.clone())
        .collect();
    Ok((stored.len(), unopened))
}

async fn load_set(at: &Scope, master: &MasterKey) -> Result<KeySet, KeyError> {
    let now = at.now_micros();
    let cutoff = now - RETIRED_KEY_GRACE_MICROS;
    let mut current = None;
    let mut verifying = HashMap::new();
    let mut jwks = Vec::new();
    for stored in store::published_signing_keys(at, cutoff).await? {
        let kid = stored.kid;
        let alg = SigningAlgorithm::parse(&stored.alg).ok_or_else(|| KeyError::UnknownAlgorithm {
            kid: kid.clone(),
            alg: stored.alg.clone(),
        })?;
        let verifier = Verifier::new(alg, &stored.public_key).ok_or(KeyError::Malformed)?;
        // Signs: the newest key whose time has come and that has not retired.
        let signs_now = stored.activates_at <= now && stored.retired_at.is_none_or(|r| r > now);
        if current.is_none() && signs_now {
            let private = master
                .open(&stored.sealed_private_key, &kid_context(&kid))
                .map_err(|_| KeyError::Sealed)?;
            let signer = Signer::open(alg, &private).ok_or(KeyError::Malformed)?;
            let header = serde_json::json!({"alg": alg.as_str(), "kid": kid, "typ": "at+jwt"});
            current = Some(CurrentKey {
                kid: kid.clone(),
                alg,
                signer,
                header_b64: jose::encode_header(&header),
            });
        }
        jwks.push(material::jwk(alg, &kid, &stored.public_key).ok_or(KeyError::Malformed)?);
        verifying.insert(kid, verifier);
    }
    let current: CurrentKey = match current {
        Some(current) => current,
        None if verifying.is_empty() => return Err(KeyError::TenantGone),
        None => return Err(KeyError::Malformed),
    };
    let mut algorithms = vec![current.alg];
    for key in verifying.values() {
        if !algorithms.contains(&key.alg) {
            algorithms.push(key.alg);
        }
    }
    Ok(KeySet {
        current,
        verifying,
        jwks: JwkSet { keys: jwks },
        algorithms,
    })
}
