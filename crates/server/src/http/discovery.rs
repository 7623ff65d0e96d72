//! What a client reads before it calls the OAuth endpoints: authorization
//! server metadata (RFC 8414), protected resource metadata (RFC 9728) and
//! the JWKS its tokens verify with.

use crate::keys::JwkSet;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use casebook_domain::Permission;
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

fn auth_methods() -> Vec<String> {
    AUTH_METHODS.map(str::to_owned).to_vec()
}

/// RFC 8414 authorization server metadata.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oauth",
    responses((status = 200, description = "Server metadata", body = ServerMetadata)))]
pub async fn metadata(State(state): State<AppState>) -> Json<ServerMetadata> {
    let base = state.issuer();
    Json(ServerMetadata {
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
        scopes_supported: Permission::all().map(|p| p.to_string()).collect(),
        service_documentation: format!("{base}/docs"),
        introspection_signing_alg_values_supported: state
            .keys()
            .published_algorithms()
            .into_iter()
            .map(|alg| alg.as_str().to_owned())
            .collect(),
    })
}

/// Where RFC 9728 protected resource metadata is, named in every 401 from
/// the APIs so a client can find its authorization server.
pub fn protected_resource_metadata_url(issuer: &str) -> String {
    format!("{issuer}/.well-known/oauth-protected-resource")
}

/// RFC 9728 protected resource metadata of the Casebook API.
#[utoipa::path(get, path = "/.well-known/oauth-protected-resource", tag = "oauth",
    responses((status = 200, description = "Protected resource metadata", body = ProtectedResourceMetadata)))]
pub async fn protected_resource_metadata(State(state): State<AppState>) -> Json<ProtectedResourceMetadata> {
    let base = state.issuer();
    Json(ProtectedResourceMetadata {
        resource: base.to_owned(),
        authorization_servers: vec![base.to_owned()],
        scopes_supported: Permission::all().map(|p| p.to_string()).collect(),
        bearer_methods_supported: vec!["header".to_owned()],
        resource_documentation: format!("{base}/docs"),
        resource_name: "Casebook API".to_owned(),
    })
}

/// The public keys access tokens are signed with, including retired keys
/// until every token they signed has expired.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "oauth",
    responses((status = 200, description = "JSON Web Key Set", body = JwkSet)))]
pub async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = Json(state.keys().jwks()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}
