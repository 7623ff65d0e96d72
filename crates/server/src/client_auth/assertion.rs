//! A JWT as client authentication: the client's own assertion
//! (`private_key_jwt`, RFC 7523 §2.2, §3), signed with one of the
//! application's registered keys, or an outside identity's token (see
//! `federated.rs`). The
//! domain reads and judges it; here the client is looked up, the signature
//! verified with aws-lc-rs, and the `jti` spent in the database, so a second
//! use is refused on every replica.

use super::keys::{keys_of, signature_holds};
use super::{AuthenticatedClient, client_record, failed, federated};
use crate::error::OAuthError;
use crate::state::AppState;
use crate::tenancy::Tenant;
use casebook_domain::ClientId;
use casebook_domain::client_assertion::{Assertion, Presented, Refused};
use casebook_domain::federated::{self as federated_rules, OutsideToken};
use std::net::IpAddr;

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
    tenant: &Tenant,
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
                Some(id) => federated::judge(state, tenant, token, id)
                    .await?
                    .map_err(|why| why.map_or(Why::NoClient, Why::Federated)),
            };
            (client_id.map(str::to_owned), outcome)
        }
        _ => own_assertion(state, tenant, presented).await?,
    };
    match outcome {
        Ok(client) => Ok(client),
        Err(reason) => {
            tracing::debug!(?reason, "client assertion refused");
            if let Some(id) = client_id.as_deref() {
                let counter = casebook_domain::usage::Counter::AssertionRefused;
                state.usage().count_unverified(tenant.id(), id, counter, state.now());
            }
            Err(failed(state, tenant, client_id.as_deref(), peer))
        }
    }
}

/// A `private_key_jwt` assertion: the client it names (if it can be one) and the verdict.
async fn own_assertion(
    state: &AppState,
    tenant: &Tenant,
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
        (Ok(assertion), Some(client_id)) => judge(state, tenant, assertion, client_id)
            .await?
            .map_err(|why| why.map_or(Why::NoClient, Why::Assertion)),
    };
    Ok((client_id.map(str::to_owned), outcome))
}

/// The verdict on an assertion for `client_id`: `Err(None)` when the client
/// does not exist or cannot use assertions. The outer error is the server's
/// own failure, which is no verdict at all.
async fn judge(
    state: &AppState,
    tenant: &Tenant,
    assertion: &Assertion<'_>,
    client_id: &str,
) -> Result<Result<AuthenticatedClient, Option<Refused>>, OAuthError> {
    let Some(record) = client_record(state, tenant, client_id).await? else {
        return Ok(Err(None));
    };
    let source = match &record.keys {
        Some(source) if record.standing().takes_assertions() => source,
        _ => return Ok(Err(None)),
    };
    // The claims first: an assertion that could never pass makes no fetch.
    let accepted = match assertion.check(client_id, tenant.issuer(), state.now()) {
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
        .jtis()
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
