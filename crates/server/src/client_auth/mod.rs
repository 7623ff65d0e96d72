//! Client authentication at the OAuth endpoints (token, introspection,
//! revocation): which credential a request presents, and whether it opens
//! the client it names. One door for every method:
//!
//! - `secret.rs`: a client secret (HTTP Basic or the form), by its MAC;
//! - `assertion.rs`: a signed JWT, the client's own (`private_key_jwt`,
//!   RFC 7523) or, beside a `client_id`, an outside identity's;
//! - `federated.rs`: an outside identity's token judged against the
//!   application's federated credentials;
//! - `keys.rs`: the public keys those JWTs are verified with, registered or
//!   fetched, and the one signature check.
//!
//! What a result means (a secret's state and expiry, which methods a client
//! takes) is decided in `casebook_domain::client_auth`; which header or field
//! carries a credential in `casebook_domain::token_request` and
//! `casebook_domain::client_assertion`. Every refusal is the same
//! `invalid_client`, counted by the throttle against the client and the
//! source, and a client outside its `allowed_sources` is refused the same way.

mod assertion;
mod federated;
pub mod keys;
mod secret;

pub use casebook_domain::client_auth::SecretVerdict;
pub use secret::check_secret;

use crate::error::OAuthError;
use crate::state::AppState;
use crate::store::{ClientRecord, FederatedCredentialRecord};
use crate::tenancy::Tenant;
use axum::http::{HeaderMap, header};
use casebook_domain::client_assertion;
use casebook_domain::secret_format::Shape;
use casebook_domain::token_request::{Form, PresentedClient, presented_client};
use casebook_domain::usage::Counter;
use std::net::IpAddr;
use std::sync::Arc;

/// A client whose credentials were checked.
#[derive(Debug)]
pub struct AuthenticatedClient {
    pub id: String,
    pub record: Arc<ClientRecord>,
    /// The outside identity that stood in for the client's own credential.
    pub federated: Option<Arc<FederatedCredentialRecord>>,
}

/// Authenticates the client of an OAuth request, throttling failures, and
/// holds it to its `allowed_sources`: from elsewhere, even the right
/// credentials get the answer a wrong secret gets, counted like one.
pub async fn authenticate(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    form: &Form,
    peer: Option<IpAddr>,
) -> Result<AuthenticatedClient, OAuthError> {
    // A disabled tenant's clients are refused as unknown ones are.
    if !tenant.is_enabled() {
        return Err(OAuthError::invalid_client());
    }
    let client = check_credentials(state, tenant, headers, form, peer).await?;
    let sources = client.record.limits.allowed_sources.as_deref();
    if !crate::sources::admitted(sources, peer) {
        let what = crate::sources::Refused::Credentials;
        state
            .usage()
            .count(tenant.id(), &client.id, Counter::SourceNotAllowed, state.now());
        state.refuse_source(
            tenant.id(),
            &client.record.application_id,
            &client.record.name,
            peer,
            what,
        );
        return Err(failed(state, tenant, Some(&client.id), peer));
    }
    Ok(client)
}

/// The one answer to a failed client authentication, counted against the
/// client (when the request names one that can exist) and the source.
fn failed(state: &AppState, tenant: &Tenant, client_id: Option<&str>, peer: Option<IpAddr>) -> OAuthError {
    state.metrics().client_auth_failures.inc();
    let mut error = OAuthError::invalid_client();
    if let Some(wait) = state.throttle().record_failure(tenant.id(), client_id, peer) {
        error.description = "too many failed client authentications; wait before trying again".into();
        error.retry_after_secs = Some(wait.as_secs().max(1));
    }
    error
}

/// The client lookup every method starts from, its failure the server's own.
async fn client_record(
    state: &AppState,
    tenant: &Tenant,
    client_id: &str,
) -> Result<Option<Arc<ClientRecord>>, OAuthError> {
    state.client(tenant, client_id).await.map_err(|e| {
        tracing::error!(error = %e, "client lookup failed");
        OAuthError::unavailable("the server could not check the client; try again")
    })
}

/// Checks the credentials of an OAuth request, throttling failures.
async fn check_credentials(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    form: &Form,
    peer: Option<IpAddr>,
) -> Result<AuthenticatedClient, OAuthError> {
    // A source that spent its failure budget learns nothing more, not even
    // whether a guess was right.
    if let Some(wait) = state.throttle().source_refused(tenant.id(), peer) {
        let mut error = OAuthError::invalid_client();
        error.description = "too many failed client authentications from this address; wait before trying again".into();
        error.retry_after_secs = Some(wait.as_secs().max(1));
        return Err(error);
    }
    let authorization: Vec<&[u8]> = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    if let Some(presented) = client_assertion::presented(&authorization, form)? {
        return assertion::authenticate(state, tenant, presented, peer).await;
    }
    let PresentedClient { client_id, secret } =
        presented_client(&authorization, form)?.ok_or_else(OAuthError::invalid_client)?;
    // Something that cannot be a Client ID never reaches storage, nor becomes
    // a throttle key of the sender's choosing; only its source is counted.
    if casebook_domain::ClientId::parse(&client_id).is_none() {
        return Err(failed(state, tenant, None, peer));
    }
    // No secret this service issued has a failing checksum or a foreign
    // shape: refused without a lookup, and counted like any wrong secret.
    if secret.shape() == Shape::Mistyped {
        state.metrics().mistyped_secrets.inc();
        state
            .usage()
            .count_unverified(tenant.id(), &client_id, Counter::InvalidSecret, state.now());
        return Err(failed(state, tenant, Some(&client_id), peer));
    }
    match client_record(state, tenant, &client_id).await? {
        Some(record) => {
            let now = state.now();
            match check_secret(state.master(), &state.config().secret_policy, &record, &secret, now) {
                SecretVerdict::Accepted { secret_id } => {
                    state.secret_uses().note(&secret_id, now);
                    return Ok(AuthenticatedClient {
                        id: client_id,
                        record,
                        federated: None,
                    });
                }
                SecretVerdict::Expired { secret_id } => {
                    state
                        .usage()
                        .count(tenant.id(), &client_id, Counter::ExpiredSecret, now);
                    secret::audit_expired_use(state, &record, &secret_id, peer);
                }
                SecretVerdict::Refused => {
                    state
                        .usage()
                        .count(tenant.id(), &client_id, Counter::InvalidSecret, now);
                }
            }
        }
        // The same work as for a known client, so timing does not tell them apart.
        None => {
            std::hint::black_box(state.master().secret_matches(secret.expose(), &[0; 32]));
        }
    }
    Err(failed(state, tenant, Some(&client_id), peer))
}
