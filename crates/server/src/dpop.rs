//! DPoP proofs (RFC 9449) at the server: the domain's rules
//! (`casebook_domain::dpop::judge`), the signature checked with aws-lc-rs
//! as for a client assertion, the `jti` spent in the shared ledger so a
//! replay is refused on every replica, and the server's own nonces.
//!
//! A nonce is minted without storage: the period it was minted in and a
//! MAC over the tenant and that period under the install's MAC key, which
//! every replica holds. Any replica accepts any replica's nonce for its
//! period and the next, so a client that meets several replicas behind a
//! balancer is not sent round in `use_dpop_nonce` circles.

use crate::client_auth::keys::signature_holds;
use crate::crypto::mac_under;
use crate::state::AppState;
use crate::tenancy::Tenant;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use casebook_domain::dpop::judge::{Accepted, Expected, Proof, Refused};
use casebook_domain::dpop::{nonce_period, nonce_period_accepted};
use subtle::ConstantTimeEq;

pub use casebook_domain::dpop::{HEADER, NONCE_HEADER};

/// The ledger's namespace for a proof's `jti`: the key's thumbprint, so
/// one client's `jti` never collides with another's, nor with a Client ID
/// (which the same ledger keys client assertions by).
fn ledger_key(jkt: &str) -> String {
    format!("dpop:{jkt}")
}

/// How many bytes of the MAC a nonce carries: 144 bits, beyond guessing.
const NONCE_MAC_BYTES: usize = 18;

fn nonce_mac(state: &AppState, tenant: &Tenant, period: i64) -> [u8; 32] {
    let message = format!("casebook dpop nonce\0{}\0{period}", tenant.id());
    mac_under(state.master().secret_mac_key(), &message)
}

/// A nonce for `tenant` now, when the install demands them.
pub fn fresh_nonce(state: &AppState, tenant: &Tenant) -> Option<String> {
    if !state.config().dpop_nonce {
        return None;
    }
    let period = nonce_period(state.now().unix_secs());
    let mut bytes = period.to_be_bytes().to_vec();
    bytes.extend_from_slice(&nonce_mac(state, tenant, period)[..NONCE_MAC_BYTES]);
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `nonce` is one this install minted for `tenant` and still accepts.
fn nonce_fresh(state: &AppState, tenant: &Tenant, nonce: &str) -> bool {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(nonce) else {
        return false;
    };
    let Some((period, mac)) = bytes.split_first_chunk::<8>() else {
        return false;
    };
    let period = i64::from_be_bytes(*period);
    mac.len() == NONCE_MAC_BYTES
        && nonce_period_accepted(period, state.now().unix_secs())
        && bool::from(mac.ct_eq(&nonce_mac(state, tenant, period)[..NONCE_MAC_BYTES]))
}

/// Why a proof did not pass: the proof's fault, or the server's.
#[derive(Debug)]
pub enum Failure {
    Refused(Refused),
    /// The ledger could not be written: no verdict on the `jti`.
    Unavailable,
}

impl From<Refused> for Failure {
    fn from(refused: Refused) -> Self {
        Self::Refused(refused)
    }
}

/// Judges the proof among `values` (the request's `DPoP` headers) for the
/// request `expected` describes, and spends its `jti`.
pub async fn judge(
    state: &AppState,
    tenant: &Tenant,
    values: &[&[u8]],
    expected: &Expected<'_>,
) -> Result<Accepted, Failure> {
    let proof = Proof::from_headers(values)?;
    let fresh = |nonce: &str| nonce_fresh(state, tenant, nonce);
    let nonce_rule: Option<&dyn Fn(&str) -> bool> = state.config().dpop_nonce.then_some(&fresh);
    let accepted = proof.check(expected, state.now(), nonce_rule)?;
    if !signature_holds(proof.key(), proof.alg(), proof.signing_input(), proof.signature()) {
        return Err(Refused::Signature.into());
    }
    // Spent once the signature holds: nobody without the key burns its jtis.
    let first_use = state
        .jtis()
        .spend(&ledger_key(&accepted.jkt), &accepted.jti, accepted.remember_until)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not record a DPoP proof");
            Failure::Unavailable
        })?;
    if !first_use {
        return Err(Refused::Replayed.into());
    }
    Ok(accepted)
}

/// The values of a request's `DPoP` headers.
pub fn proofs(headers: &axum::http::HeaderMap) -> Vec<&[u8]> {
    headers.get_all(HEADER).iter().map(|v| v.as_bytes()).collect()
}

/// At `/api/v1`, `/admin/v1` and forward auth: the proof beside a
/// DPoP-bound token, made for this request (`method` and its public
/// `url`), for this token (`ath`) and with the key it is bound to (`jkt`).
pub async fn check_at_api(
    state: &AppState,
    tenant: &Tenant,
    headers: &axum::http::HeaderMap,
    method: &str,
    url: &str,
    token: &str,
    jkt: &str,
) -> Result<(), crate::error::ApiError> {
    use crate::error::ApiError;
    let values = proofs(headers);
    let refused = |refused: Refused| ApiError::DpopRefused {
        error: refused.code(),
        detail: refused.description(),
        nonce: fresh_nonce(state, tenant),
    };
    if values.is_empty() {
        return Err(ApiError::DpopRefused {
            error: "invalid_dpop_proof",
            detail: "a DPoP-bound access token needs a DPoP proof beside it, in the DPoP header".into(),
            nonce: fresh_nonce(state, tenant),
        });
    }
    let expected = Expected {
        method,
        url,
        bound: Some((token, jkt)),
    };
    match judge(state, tenant, &values, &expected).await {
        Ok(_) => Ok(()),
        Err(Failure::Refused(why)) => Err(refused(why)),
        // The ledger has logged the cause; a 503 asks the client to try again.
        Err(Failure::Unavailable) => Err(ApiError::Unavailable(sqlx::Error::Io(std::io::Error::other(
            "the DPoP jti ledger could not be written",
        )))),
    }
}
