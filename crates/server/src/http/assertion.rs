//! `private_key_jwt` client authentication (RFC 7523 §2.2, §3): the request
//! carries a JWT signed with one of the application's registered keys. The
//! domain reads and judges it; here the client is looked up, the signature
//! verified with aws-lc-rs, and the `jti` spent in the database, so a second
//! use is refused on every replica.

use super::federated;
use super::oauth::{AuthenticatedClient, client_auth_failed};
use crate::error::OAuthError;
use crate::state::AppState;
use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use casebook_domain::ClientId;
use casebook_domain::client_assertion::{Assertion, Presented, Refused};
use casebook_domain::client_keys::{
    AssertionAlg, AuthMethod, ClientKey, ClientKeySet, KeyMaterial, KeySource, degenerate,
};
use casebook_domain::federated::{self as federated_rules, OutsideToken};
use std::net::IpAddr;
use std::sync::Arc;

/// Whether `signature` is `key`'s, under `alg`, over `message`. The pairing
/// of algorithm and key type is checked again here: nothing else verifies.
pub(crate) fn signature_holds(key: &ClientKey, alg: AssertionAlg, message: &[u8], signature: &[u8]) -> bool {
    // Registration refuses these now; a key stored before that rule existed
    // must not verify either.
    if degenerate(&key.material).is_some() {
        return false;
    }
    match (&key.material, alg) {
        (KeyMaterial::Rsa { n, e }, AssertionAlg::Rs256 | AssertionAlg::Ps256) => {
            let params = if alg == AssertionAlg::Rs256 {
                &signature::RSA_PKCS1_2048_8192_SHA256
            } else {
                &signature::RSA_PSS_2048_8192_SHA256
            };
            RsaPublicKeyComponents { n, e }
                .verify(params, message, signature)
                .is_ok()
        }
        (KeyMaterial::P256 { x, y }, AssertionAlg::Es256) => {
            // SEC 1 §2.3.3: the uncompressed point.
            let point: Vec<u8> = [&[4u8][..], x, y].concat();
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, signature)
                .is_ok()
        }
        (KeyMaterial::Ed25519 { x }, AssertionAlg::EdDsa) => UnparsedPublicKey::new(&signature::ED25519, x)
            .verify(message, signature)
            .is_ok(),
        _ => false,
    }
}

/// Why a presented JWT did not authenticate its client, for the log.
#[derive(Debug)]
#[expect(dead_code, reason = "the reasons are read through Debug, by the log line")]
enum Why {
    /// No such client, or one that cannot authenticate this way.
    NoClient,
    Assertion(Refused),
    Federated(federated_rules::Refused),
}

/// Authenticates the client of a request that presents a JWT: its own
/// signed assertion (`private_key_jwt`), or an outside identity's token
/// (a federated credential). Every refusal is the one `invalid_client`,
/// counted against the client the request names (when it can be one) and its
/// source, like a wrong secret.
pub(super) async fn authenticate(
    state: &AppState,
    presented: Presented<'_>,
    peer: Option<IpAddr>,
) -> Result<AuthenticatedClient, OAuthError> {
    // A client's own assertion is issued by the client; a token whose issuer
    // is someone else, presented beside a client_id, is an outside identity's.
    // Read as an outside token only beside a client_id: an assertion alone
    // names its client in its own iss.
    let outside = presented
        .client_id
        .and_then(|_| OutsideToken::parse(presented.assertion).ok());
    let federated_for = presented
        .client_id
        .filter(|id| outside.as_ref().is_some_and(|t| t.issuer() != Some(*id)));
    let (client_id, outcome) = match (federated_for, &outside) {
        (Some(client_id), Some(token)) => {
            let client_id = Some(client_id).filter(|id| ClientId::parse(id).is_some());
            let outcome = match client_id {
                None => Err(Why::NoClient),
                Some(id) => federated::judge(state, token, id)
                    .await?
                    .map_err(|why| why.map_or(Why::NoClient, Why::Federated)),
            };
            (client_id.map(str::to_owned), outcome)
        }
        _ => own_assertion(state, presented).await?,
    };
    match outcome {
        Ok(client) => Ok(client),
        Err(reason) => {
            tracing::debug!(?reason, "client assertion refused");
            Err(client_auth_failed(state, client_id.as_deref(), peer))
        }
    }
}

/// A `private_key_jwt` assertion: the client it names (if it can be one) and the verdict.
async fn own_assertion(
    state: &AppState,
    presented: Presented<'_>,
) -> Result<(Option<String>, Result<AuthenticatedClient, Why>), OAuthError> {
    let assertion = Assertion::parse(presented.assertion);
    let named = presented
        .client_id
        .or_else(|| assertion.as_ref().ok().map(Assertion::issuer));
    // Something that cannot be a Client ID is never a throttle key of the
    // sender's choosing.
    let client_id = named.filter(|id| ClientId::parse(id).is_some());
    let outcome = match (&assertion, client_id) {
        (Err(refused), _) => Err(Why::Assertion(*refused)),
        (Ok(_), None) => Err(Why::NoClient),
        (Ok(assertion), Some(client_id)) => judge(state, assertion, client_id)
            .await?
            .map_err(|why| why.map_or(Why::NoClient, Why::Assertion)),
    };
    Ok((client_id.map(str::to_owned), outcome))
}

/// The keys to verify with: the registered set, or the one at the URL. A
/// failed fetch is the same `invalid_client` as any other failure (SPEC: any
/// failure is), rather than a 503: a caller who cannot authenticate learns
/// nothing of the client's key host, and the fetcher has logged the cause.
pub(super) async fn keys_of<'a>(state: &AppState, source: &'a KeySource, kid: Option<&str>) -> Option<Keys<'a>> {
    match source {
        KeySource::Inline(set) => Some(Keys::Registered(set)),
        KeySource::Uri(uri) => state.jwks.keys(uri, kid).await.ok().map(Keys::Fetched),
    }
}

/// A key set borrowed from the client record, or shared with the fetcher's cache.
pub(super) enum Keys<'a> {
    Registered(&'a ClientKeySet),
    Fetched(Arc<ClientKeySet>),
}

impl std::ops::Deref for Keys<'_> {
    type Target = ClientKeySet;
    fn deref(&self) -> &ClientKeySet {
        match self {
            Self::Registered(set) => set,
            Self::Fetched(set) => set,
        }
    }
}

/// The verdict on an assertion for `client_id`: `Err(None)` when the client
/// does not exist or cannot use assertions. The outer error is the server's
/// own failure, which is no verdict at all.
async fn judge(
    state: &AppState,
    assertion: &Assertion<'_>,
    client_id: &str,
) -> Result<Result<AuthenticatedClient, Option<Refused>>, OAuthError> {
    let record = state.client(client_id).await.map_err(|e| {
        tracing::error!(error = %e, "client lookup failed");
        OAuthError::unavailable("the server could not check the client; try again")
    })?;
    let Some(record) = record else {
        return Ok(Err(None));
    };
    let source = match (&record.keys, record.auth_method, record.enabled) {
        (Some(source), Some(AuthMethod::PrivateKeyJwt), true) => source,
        _ => return Ok(Err(None)),
    };
    // The claims first: an assertion that could never pass makes no fetch.
    let accepted = match assertion.check(client_id, state.issuer(), state.now()) {
        Ok(accepted) => accepted,
        Err(refused) => return Ok(Err(Some(refused))),
    };
    let Some(keys) = keys_of(state, source, assertion.kid()).await else {
        return Ok(Err(None));
    };
    let key = match assertion.key(&keys) {
        Ok(key) => key,
        Err(refused) => return Ok(Err(Some(refused))),
    };
    if !signature_holds(key, assertion.alg(), assertion.signing_input(), assertion.signature()) {
        return Ok(Err(Some(Refused::BadSignature)));
    }
    // Spent only once the signature holds: nobody else can burn a client's jtis.
    let fresh = state
        .jtis
        .spend(client_id, &accepted.jti, accepted.exp)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not record a client assertion");
            OAuthError::unavailable("the server could not check the client; try again")
        })?;
    if !fresh {
        return Ok(Err(Some(Refused::Replayed)));
    }
    Ok(Ok(AuthenticatedClient {
        id: client_id.to_owned(),
        record,
        federated: None,
    }))
}
