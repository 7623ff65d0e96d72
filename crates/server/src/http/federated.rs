//! Federated credentials (the contract, "Federated credentials" and "Client authentication without a shared
//! secret"): the admin API that makes an application trust an outside
//! identity, and the token endpoint's judgement of that identity's tokens.

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::http::auth::Caller;
use crate::state::AppState;
use crate::store::{self, FederatedCredentialRecord, Scope};
use crate::tenancy::Tenant;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use casebook_domain::client_keys::KeySource;
use casebook_domain::federated::FederatedCredentialForm;
use casebook_domain::wire::{FederatedCredential as FederatedCredentialView, FederatedCredentials};
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

/// List federated credentials.
///
/// The outside identities the application trusts, oldest first.
#[utoipa::path(get, path = "/admin/v1/external-applications/{id}/federated-credentials", tag = "admin: external applications",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Every federated credential of the application", body = FederatedCredentials),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_federated_credentials(
    tenant: Tenant,
    at: Scope,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<FederatedCredentials>, ApiError> {
    let records = store::list_federated_credentials(&at, &id).await?;
    Ok(Json(FederatedCredentials {
        items: records.into_iter().map(|r| view(r, tenant.issuer())).collect(),
    }))
}

/// Trust an outside identity.
///
/// A workload holding a token of `issuer` for `subject` (with `audience` and
/// `claims`) gets this application's tokens by sending its `client_id` and
/// that token as `client_assertion`. Whoever adds one must hold every
/// permission the application holds.
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
    tenant: Tenant,
    at: Scope,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(form): ApiJson<FederatedCredentialForm>,
) -> Result<impl IntoResponse, ApiError> {
    let credential = form.validate(state.config().jwks_fetch.allow_private)?;
    if let KeySource::Inline(keys) = &credential.keys {
        crate::client_auth::keys::usable(keys, "jwks")?;
    }
    let record = store::add_federated_credential(&at, &caller.author(), &id, &credential).await?;
    tracing::info!(application = %id, credential = %record.id, user = %caller.id, "federated credential added");
    Ok((StatusCode::CREATED, Json(view(record, tenant.issuer()))))
}

/// Stop trusting an outside identity.
///
/// Tokens already issued through it live out their hour; disable the
/// application or revoke them to end them now.
#[utoipa::path(delete, path = "/admin/v1/external-applications/{id}/federated-credentials/{credential_id}", tag = "admin: external applications",
    params(("id" = String, Path), ("credential_id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Lacking admin:edit, or the application holds permissions the caller lacks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application or credential", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove_federated_credential(
    at: Scope,
    Caller(caller): Caller,
    ApiPath((id, credential_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    store::remove_federated_credential(&at, &caller.author(), &id, &credential_id).await?;
    tracing::info!(application = %id, credential = %credential_id, user = %caller.id, "federated credential removed");
    Ok(StatusCode::NO_CONTENT)
}
