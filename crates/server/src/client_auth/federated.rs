//! A federated credential's side of client authentication: an outside
//! identity's token (a CI job's, a cloud workload's) matched against the
//! application's credentials, the issuer's keys fetched, the signature and
//! the claims judged (`casebook_domain::federated`), and a single-use token's
//! `jti` spent in the ledger replicas share.

use super::AuthenticatedClient;
use super::keys::{keys_of, signature_holds};
use crate::error::OAuthError;
use crate::state::AppState;
use crate::store;
use crate::tenancy::Tenant;
use casebook_domain::federated::{JUDGING_DEADLINE_SECS, OutsideToken, Refused};
use futures_util::future::join_all;
use std::sync::Arc;
use std::time::Duration;

/// The verdict on an outside token presented for `client_id`: the client and
/// the credential that let it in, or why not (`None`: no such client, or a
/// disabled one). The outer error is the server's own failure.
///
/// Judging is bounded by [`JUDGING_DEADLINE_SECS`] in all: the key sets of
/// every matching credential are fetched at once (one fetch per URL, the
/// fetcher sharing it), so twenty credentials whose key hosts hang cost one
/// fetch timeout, not twenty.
pub(super) async fn judge(
    state: &AppState,
    tenant: &Tenant,
    token: &OutsideToken<'_>,
    client_id: &str,
) -> Result<Result<AuthenticatedClient, Option<Refused>>, OAuthError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(JUDGING_DEADLINE_SECS);
    match tokio::time::timeout_at(deadline, judge_within(state, tenant, token, client_id, deadline)).await {
        Ok(verdict) => verdict,
        Err(_) => Ok(Err(Some(Refused::Deadline))),
    }
}

async fn judge_within(
    state: &AppState,
    tenant: &Tenant,
    token: &OutsideToken<'_>,
    client_id: &str,
    deadline: tokio::time::Instant,
) -> Result<Result<AuthenticatedClient, Option<Refused>>, OAuthError> {
    let unavailable = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "could not check a federated credential");
        OAuthError::unavailable("the server could not check the client; try again")
    };
    let record = state.client(tenant, client_id).await.map_err(|e| unavailable(&e))?;
    let Some(record) = record.filter(|r| r.standing().takes_federated_tokens()) else {
        return Ok(Err(None));
    };
    let (Some(issuer), Some(subject)) = (token.issuer(), token.subject()) else {
        return Ok(Err(Some(Refused::MissingClaim)));
    };
    let candidates = store::federated_candidates(&tenant.scope(state.db()), &record.application_id, issuer, subject)
        .await
        .map_err(|e| unavailable(&e))?;
    // Every key set at once, each fetch cut off at the deadline; a key host
    // that cannot be reached leaves its credentials out (the fetcher has
    // logged why).
    let key_sets = join_all(candidates.iter().map(|credential| async move {
        tokio::time::timeout_at(deadline, keys_of(state, &credential.keys, token.kid()))
            .await
            .ok()
            .flatten()
    }))
    .await;
    let mut verdict = Refused::NoCredential;
    for (credential, keys) in candidates.iter().zip(key_sets) {
        let Some(keys) = keys else {
            continue;
        };
        let key = match token.key(&keys) {
            Ok(key) => key,
            Err(refused) => {
                verdict = refused;
                continue;
            }
        };
        if !signature_holds(key, token.alg(), token.signing_input(), token.signature()) {
            verdict = Refused::BadSignature;
            continue;
        }
        if let Err(refused) = token.check(&credential.identity, tenant.issuer(), state.now()) {
            verdict = refused;
            continue;
        }
        if credential.identity.single_use {
            let (jti, exp) = match token.single_use_key() {
                Ok(spent) => spent,
                Err(refused) => {
                    verdict = refused;
                    continue;
                }
            };
            // Spent per credential, in the ledger client assertions use, so
            // the one use holds on every replica; only once the signature
            // and claims hold, so nobody else can burn a workload's jti.
            let fresh = state
                .jtis()
                .spend(&format!("federated:{}", credential.id), jti, exp)
                .await
                .map_err(|e| unavailable(&e))?;
            if !fresh {
                verdict = Refused::Replayed;
                continue;
            }
        }
        return Ok(Ok(AuthenticatedClient {
            id: client_id.to_owned(),
            record,
            federated: Some(Arc::new(credential.clone())),
        }));
    }
    Ok(Err(Some(verdict)))
}
