//! The request's tenant, found before routing (the contract, "Tenants").

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Scope;
use crate::tenancy::Tenant;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use casebook_domain::tenant;

/// Finds the request's tenant before routing. An unknown slug is 404,
/// exactly as a path that does not exist; a disabled tenant is still
/// resolved, so that its endpoints refuse as the contract says (the token
/// endpoint `invalid_client`, tokens and sessions 401).
pub async fn resolve(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let (slug, below) = tenant::split_tenant_path(request.uri().path());
    let Some(slug) = slug else {
        let root = state.root_tenant().clone();
        request.extensions_mut().insert(root);
        return next.run(request).await;
    };
    let found = match state.tenant(slug).await {
        Ok(found) => found,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some(found) = found.filter(|t| !t.is_root()) else {
        // `/t/root/…` is not an alias of the root: one issuer, one URL.
        return ApiError::NotFound("route").into_response();
    };
    // Tenants are managed at the root only.
    if below == "/admin/v1/tenants" || below.starts_with("/admin/v1/tenants/") {
        return ApiError::NotFound("route").into_response();
    }
    let below = below.into_owned();
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{below}?{query}"),
        None => below,
    };
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    match axum::http::Uri::from_parts(parts) {
        Ok(uri) => *request.uri_mut() = uri,
        Err(_) => return ApiError::NotFound("route").into_response(),
    }
    request.extensions_mut().insert(found);
    next.run(request).await
}

impl FromRequestParts<AppState> for Scope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let tenant = Tenant::from_request_parts(parts, state).await?;
        Ok(tenant.scope(state.db()))
    }
}
