//! Federated credentials (SPEC "Client authentication without a shared
//! secret"): the admin API that makes an application trust an outside
//! identity, and the token endpoint's judgement of that identity's tokens.

use super::assertion::{keys_of, signature_holds};
use super::oauth::AuthenticatedClient;
use crate::auth::Caller;
use crate::error::{ApiError, OAuthError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::store::{self, FederatedCredentialRecord};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use casebook_domain::client_keys::KeySource;
use casebook_domain::federated::{FederatedCredentialForm, JUDGING_DEADLINE_SECS, OutsideToken, Refused};
use casebook_domain::wire::{FederatedCredential as FederatedCredentialView, FederatedCredentials};
use futures_util::future::join_all;
use std::sync::Arc;
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_federated_credentials, add_federated_credential))
        .routes(routes!(remove_federated_credential))
}

fn view(record: FederatedCredentialRecord, our_issuer: &str) -> FederatedCredentialView {
    let (jwks, jwks_uri) = match record.keys {
        KeySource::Inline(set) => (Some(set.to_json()), None),
        KeySource::Uri(uri) => (None, Some(uri.as_str().to_owned())),
    };
    FederatedCredentialView {
        id: record.id.into(),
        name: record.name,
        issuer: record.identity.issuer,
        jwks,
        jwks_uri,
        subject: record.identity.subject,
        audience: record.identity.audience.unwrap_or_else(|| our_issuer.to_owned()),
        claims: record.identity.claims,
        max_token_lifetime_seconds: record.identity.max_token_lifetime_secs,
        single_use: record.identity.single_use,
        created_at: record.created_at,
        created_by: record.created_by.into(),
    }
}

/// The outside identities the application trusts, oldest first.
#[utoipa::path(get, path = "/admin/v1/external-applications/{id}/federated-credentials", tag = "admin: external applications",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Every federated credential of the application", body = FederatedCredentials),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_federated_credentials(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<FederatedCredentials>, ApiError> {
    let records = store::list_federated_credentials(&state.db, &id).await?;
    Ok(Json(FederatedCredentials {
        items: records.into_iter().map(|r| view(r, state.issuer())).collect(),
    }))
}

/// Trust an outside identity: a workload holding a token of `issuer` for
/// `subject` (with `audience` and `claims`) gets this application's tokens by
/// sending its `client_id` and that token as `client_assertion`. Whoever adds
/// one must hold every permission the application holds.
#[utoipa::path(post, path = "/admin/v1/external-applications/{id}/federated-credentials", tag = "admin: external applications",
    params(("id" = String, Path)), request_body = FederatedCredentialForm,
    responses(
        (status = 201, description = "Trusted", body = FederatedCredentialView),
        (status = 403, description = "Lacking admin:edit, or the application holds permissions the caller lacks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The application already trusts 20 outside identities", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Every invalid field, with its code (a name in use is name_in_use)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_federated_credential(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(form): ApiJson<FederatedCredentialForm>,
) -> Result<impl IntoResponse, ApiError> {
    let credential = form.validate(state.config.jwks_fetch.allow_private)?;
    if let KeySource::Inline(keys) = &credential.keys {
        crate::client_keys::usable(keys, "jwks")?;
    }
    let record = store::add_federated_credential(&state.db, &caller.author(), &id, &credential).await?;
    tracing::info!(application = %id, credential = %record.id, user = %caller.id, "federated credential added");
    Ok((StatusCode::CREATED, Json(view(record, state.issuer()))))
}

/// Stop trusting an outside identity. Tokens already issued through it live
/// out their hour; disable the application or revoke them to end them now.
#[utoipa::path(delete, path = "/admin/v1/external-applications/{id}/federated-credentials/{credential_id}", tag = "admin: external applications",
    params(("id" = String, Path), ("credential_id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Lacking admin:edit, or the application holds permissions the caller lacks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application or credential", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove_federated_credential(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, credential_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    store::remove_federated_credential(&state.db, &caller.author(), &id, &credential_id).await?;
    tracing::info!(application = %id, credential = %credential_id, user = %caller.id, "federated credential removed");
    Ok(StatusCode::NO_CONTENT)
}

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
    token: &OutsideToken<'_>,
    client_id: &str,
) -> Result<Result<AuthenticatedClient, Option<Refused>>, OAuthError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(JUDGING_DEADLINE_SECS);
    match tokio::time::timeout_at(deadline, judge_within(state, token, client_id, deadline)).await {
        Ok(verdict) => verdict,
        Err(_) => Ok(Err(Some(Refused::Deadline))),
    }
}

async fn judge_within(
    state: &AppState,
    token: &OutsideToken<'_>,
    client_id: &str,
    deadline: tokio::time::Instant,
) -> Result<Result<AuthenticatedClient, Option<Refused>>, OAuthError> {
    let unavailable = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "could not check a federated credential");
        OAuthError::unavailable("the server could not check the client; try again")
    };
    let record = state.client(client_id).await.map_err(|e| unavailable(&e))?;
    let Some(record) = record.filter(|r| r.enabled) else {
        return Ok(Err(None));
    };
    let (Some(issuer), Some(subject)) = (token.issuer(), token.subject()) else {
        return Ok(Err(Some(Refused::MissingClaim)));
    };
    let candidates = store::federated_candidates(&state.db, &record.application_id, issuer, subject)
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
        if let Err(refused) = token.check(&credential.identity, state.issuer(), state.now()) {
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
                .jtis
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
