//! Managing tenants, at the root tenant only (the contract, "Tenants"). Under
//! another tenant's base URL these paths are 404 (`http/tenant.rs`, `resolve`).

use crate::crypto::random_token;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::auth::Caller;
use crate::http::query::PageQuery;
use crate::state::AppState;
use crate::store::{self, TenantRecord};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use casebook_domain::grant::{GrantChange, authorize_change};
use casebook_domain::tenant::{TenantChange, TenantForm, TenantSlug, base_url, root_is_permanent};
use casebook_domain::wire::{Page, Tenant};
use casebook_domain::{Password, PermissionSet, Timestamp};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant, update_tenant, delete_tenant))
}

/// A tenant as the API writes it.
pub fn view(record: TenantRecord, public_url: &str) -> Tenant {
    Tenant {
        base_url: base_url(public_url, &record.slug),
        slug: record.slug,
        name: record.name,
        enabled: record.enabled,
        created_at: Timestamp::from_unix_micros(record.created_at),
        admin_password: None,
    }
}

/// A slug from the path: one that cannot exist is a 404 like an unknown one.
fn slug_of(raw: &str) -> Result<TenantSlug, ApiError> {
    TenantSlug::parse(raw).map_err(|_| ApiError::NotFound("tenant"))
}

/// List tenants.
///
/// The tenants of the install, the root first, by slug, paged like every list
/// (`limit`, `cursor`). Only at the root tenant.
#[utoipa::path(get, path = "/admin/v1/tenants", tag = "admin: tenants", params(PageQuery),
    responses(
        (status = 200, description = "A page of tenants", body = Page<Tenant>),
        (status = 422, description = "Bad limit", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_tenants(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Page<Tenant>>, ApiError> {
    let listed = store::list_tenants(state.db(), q.cursor()?, q.limit()?).await?;
    let public_url = &state.config().public_url;
    Ok(Json(Page {
        items: listed.items.into_iter().map(|t| view(t, public_url)).collect(),
        next_cursor: listed.next_cursor,
    }))
}

/// Add a tenant.
///
/// Its seeded roles, its first Administrator (with a password generated and
/// shown once when none is given) and, on its first use (a token or its JWKS),
/// its own signing key: an install of 10,000 tenants makes keys only for those
/// that serve. Its Administrator is given every agency permission, so the
/// caller must hold them all (the grant rule).
#[utoipa::path(post, path = "/admin/v1/tenants", tag = "admin: tenants", request_body = TenantForm,
    responses(
        (status = 201, description = "Created", body = Tenant),
        (status = 403, description = "The caller lacks a permission the new Administrator gets", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A replica of a release without tenants is still serving", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or the slug is taken", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_tenant(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(form): ApiJson<TenantForm>,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = form.validate()?;
    let author = caller.author();
    let held = match author.token_scope {
        Some(scope) => caller.permissions.intersection(scope),
        None => caller.permissions,
    };
    authorize_change(
        held,
        GrantChange::Create {
            after: PermissionSet::agency(),
        },
    )
    .map_err(store::StoreError::MissingPermissions)?;
    let (password, generated) = match tenant.admin_password() {
        Some(password) => (password.clone(), false),
        None => (Password::new(&random_token()[..24]), true),
    };
    let hash = crate::password::hash_password(password.clone()).await?;
    let record = store::create_tenant(state.db(), Some(&author.actor), &tenant, &hash).await?;
    state.tenant_changed(&record.slug);
    tracing::info!(tenant = %record.slug, "tenant created");
    let mut answer = view(record, &state.config().public_url);
    if generated {
        answer.admin_password = Some(password.expose().to_owned());
    }
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(answer),
    ))
}

/// Get a tenant.
///
/// One tenant by its slug, with its base URL and whether it is enabled.
#[utoipa::path(get, path = "/admin/v1/tenants/{slug}", tag = "admin: tenants", params(("slug" = String, Path)),
    responses(
        (status = 200, description = "The tenant", body = Tenant),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_tenant(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Tenant>, ApiError> {
    let slug = slug_of(&slug)?;
    let record = store::tenant_by_slug(state.db(), slug.as_str())
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    Ok(Json(view(record, &state.config().public_url)))
}

/// Rename, disable or enable a tenant.
///
/// A disabled tenant keeps its data; its token endpoint answers
/// `invalid_client`, its tokens and sessions are refused within 5 seconds on
/// every replica, and enabling it again brings back no token or session from
/// before.
#[utoipa::path(patch, path = "/admin/v1/tenants/{slug}", tag = "admin: tenants", params(("slug" = String, Path)), request_body = TenantChange,
    responses(
        (status = 200, description = "Changed", body = Tenant),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The root tenant cannot be disabled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_tenant(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(slug): ApiPath<String>,
    ApiJson(change): ApiJson<TenantChange>,
) -> Result<Json<Tenant>, ApiError> {
    let slug = slug_of(&slug)?;
    let change = change.validate()?;
    if root_is_permanent(&slug, Some(&change)) {
        return Err(root_refused("disabled"));
    }
    if slug.is_root() {
        return Err(root_refused("changed"));
    }
    let record = store::update_tenant(state.db(), Some(&caller.actor()), slug.as_str(), &change).await?;
    state.tenant_changed(slug.as_str());
    Ok(Json(view(record, &state.config().public_url)))
}

/// Delete a tenant.
///
/// Deletes the tenant and everything it holds, in one transaction; its tokens
/// are refused within 5 seconds on every replica.
#[utoipa::path(delete, path = "/admin/v1/tenants/{slug}", tag = "admin: tenants", params(("slug" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The root tenant cannot be deleted", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_tenant(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(slug): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let slug = slug_of(&slug)?;
    if slug.is_root() {
        return Err(root_refused("deleted"));
    }
    let existing = store::tenant_by_slug(state.db(), slug.as_str()).await?;
    store::delete_tenant(state.db(), Some(&caller.actor()), slug.as_str()).await?;
    if let Some(gone) = existing {
        state.keys().forget(&gone.id);
    }
    state.tenant_changed(slug.as_str());
    Ok(StatusCode::NO_CONTENT)
}

fn root_refused(what: &str) -> ApiError {
    store::StoreError::Conflict {
        detail: format!("the root tenant serves the whole install and cannot be {what}"),
        holders: None,
    }
    .into()
}
