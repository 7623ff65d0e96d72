//! What a client reads before it calls the OAuth endpoints: authorization
//! server metadata (RFC 8414), protected resource metadata (RFC 9728) and
//! the JWKS its tokens verify with.

use crate::error::ApiError;
use crate::keys::JwkSet;
use crate::state::AppState;
use crate::tenancy::Tenant;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use casebook_domain::PermissionSet;
use casebook_domain::client_keys::AssertionAlg;
use casebook_domain::wire::{ProtectedResourceMetadata, ServerMetadata};

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(metadata))
        .routes(utoipa_axum::routes!(protected_resource_metadata))
        .routes(utoipa_axum::routes!(jwks))
}

const AUTH_METHODS: [&str; 3] = ["client_secret_basic", "client_secret_post", "private_key_jwt"];

fn assertion_algs() -> Vec<String> {
    AssertionAlg::ALL.map(|alg| alg.as_str().to_owned()).to_vec()
}

/// RFC 9449 §5.1 and RFC 9728 §2: what a DPoP proof may be signed with.
fn dpop_algs() -> Vec<String> {
    casebook_domain::dpop::ALGS
        .iter()
        .map(|alg| alg.as_str().to_owned())
        .collect()
}

fn auth_methods() -> Vec<String> {
    AUTH_METHODS.map(str::to_owned).to_vec()
}

/// Authorization server metadata.
///
/// RFC 8414: the issuer, the token, revocation and introspection endpoints, the
/// JWKS and the client authentication methods and signing algorithms this
/// install (or tenant) takes. OAuth libraries configure themselves from it; a
/// tenant's also answers at `/.well-known/oauth-authorization-server/t/{slug}`.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oauth",
    responses((status = 200, description = "Server metadata", body = ServerMetadata)))]
pub async fn metadata(State(state): State<AppState>, tenant: Tenant) -> Result<Json<ServerMetadata>, ApiError> {
    let base = tenant.issuer();
    let keys = keys_of(&state, &tenant).await?;
    Ok(Json(ServerMetadata {
        issuer: base.to_owned(),
        token_endpoint: format!("{base}/oauth2/token"),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        introspection_endpoint: format!("{base}/oauth2/introspect"),
        revocation_endpoint: format!("{base}/oauth2/revoke"),
        grant_types_supported: vec!["client_credentials".to_owned()],
        response_types_supported: vec![],
        token_endpoint_auth_methods_supported: auth_methods(),
        introspection_endpoint_auth_methods_supported: auth_methods(),
        revocation_endpoint_auth_methods_supported: auth_methods(),
        token_endpoint_auth_signing_alg_values_supported: assertion_algs(),
        introspection_endpoint_auth_signing_alg_values_supported: assertion_algs(),
        revocation_endpoint_auth_signing_alg_values_supported: assertion_algs(),
        scopes_supported: scopes(&tenant),
        service_documentation: format!("{base}/docs"),
        introspection_signing_alg_values_supported: keys
            .published_algorithms()
            .into_iter()
            .map(|alg| alg.as_str().to_owned())
            .collect(),
        dpop_signing_alg_values_supported: dpop_algs(),
    }))
}

/// Every permission a token of the tenant can carry: `tenants:*` only at the root.
fn scopes(tenant: &Tenant) -> Vec<String> {
    PermissionSet::all().within(tenant.is_root()).to_strings()
}

/// Where RFC 9728 protected resource metadata is, named in every 401 from
/// the APIs so a client can find its authorization server.
pub fn protected_resource_metadata_url(issuer: &str) -> String {
    format!("{issuer}/.well-known/oauth-protected-resource")
}

/// Protected resource metadata.
///
/// RFC 9728: the Casebook API as a resource, the authorization server that
/// issues its tokens, and how tokens are presented. Every 401 from `/api/v1`
/// and `/admin/v1` names this document in `WWW-Authenticate`
/// (`resource_metadata`).
#[utoipa::path(get, path = "/.well-known/oauth-protected-resource", tag = "oauth",
    responses((status = 200, description = "Protected resource metadata", body = ProtectedResourceMetadata)))]
pub async fn protected_resource_metadata(tenant: Tenant) -> Json<ProtectedResourceMetadata> {
    let base = tenant.issuer();
    Json(ProtectedResourceMetadata {
        resource: base.to_owned(),
        authorization_servers: vec![base.to_owned()],
        scopes_supported: scopes(&tenant),
        bearer_methods_supported: vec!["header".to_owned()],
        dpop_signing_alg_values_supported: dpop_algs(),
        resource_documentation: format!("{base}/docs"),
        resource_name: "Casebook API".to_owned(),
    })
}

/// The token signing keys (JWKS).
///
/// The public keys access tokens are signed with, including retired keys
/// until every token they signed has expired. Served with `max-age=300`: a
/// verifier that meets an unknown `kid` fetches it again.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "oauth",
    responses((status = 200, description = "JSON Web Key Set", body = JwkSet)))]
pub async fn jwks(State(state): State<AppState>, tenant: Tenant) -> Result<Response, ApiError> {
    let keys = keys_of(&state, &tenant).await?;
    let mut response = Json(keys.jwks()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(response)
}

/// A tenant deleted through another replica a moment ago is not found.
async fn keys_of(state: &AppState, tenant: &Tenant) -> Result<std::sync::Arc<crate::keys::KeyRing>, ApiError> {
    state.keys_of(tenant).await.map_err(|e| match e {
        crate::keys::KeyError::TenantGone => ApiError::NotFound("route"),
        e => ApiError::internal(e),
    })
}
