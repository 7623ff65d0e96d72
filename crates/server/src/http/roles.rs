//! The role catalog.

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::auth::Caller;
use crate::http::query::PageQuery;
use crate::state::AppState;
use crate::store;
use crate::store::Scope;
use crate::views::*;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use casebook_domain::role::{RoleChange, RoleForm};
use casebook_domain::wire::Role;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, update_role, delete_role))
}

/// List roles.
///
/// The role catalog, seeded roles and the tenant's own, each with its
/// permissions; paged like every list (`limit`, `cursor`).
#[utoipa::path(get, path = "/admin/v1/roles", tag = "admin: roles", params(PageQuery),
    responses(
        (status = 200, description = "A page of roles", body = Page<Role>),
        (status = 422, description = "Bad limit", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_roles(at: Scope, ApiQuery(q): ApiQuery<PageQuery>) -> Result<Json<Page<Role>>, ApiError> {
    Ok(Json(crate::views::page(
        store::list_roles(&at, q.cursor()?, q.limit()?).await?,
    )))
}

/// Add a role.
///
/// A name and a list of permissions (`module:action`, such as
/// `engage:view`). The caller must hold every permission the role carries
/// (the grant rule; 403 with `missing_permissions` otherwise).
#[utoipa::path(post, path = "/admin/v1/roles", tag = "admin: roles", request_body = RoleForm,
    responses(
        (status = 201, description = "Created", body = Role),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_role(
    at: Scope,
    Caller(caller): Caller,
    ApiJson(form): ApiJson<RoleForm>,
) -> Result<impl IntoResponse, ApiError> {
    let role = form.validate()?;
    let view = store::create_role(&at, &caller.author(), &role).await?;
    Ok((StatusCode::CREATED, Json(Role::from(view))))
}

/// Get a role.
///
/// One role by its id, with its permissions.
#[utoipa::path(get, path = "/admin/v1/roles/{id}", tag = "admin: roles", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The role", body = Role),
        (status = 404, description = "No such role", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_role(at: Scope, ApiPath(id): ApiPath<String>) -> Result<Json<Role>, ApiError> {
    Ok(Json(store::get_role(&at, &id).await?.into()))
}

/// Change a role.
///
/// Its name or permissions. A permission taken away stops working on live
/// tokens within 5 seconds; one added reaches new tokens. The caller must hold
/// every permission the role carries before and after.
#[utoipa::path(patch, path = "/admin/v1/roles/{id}", tag = "admin: roles", params(("id" = String, Path)), request_body = RoleChange,
    responses(
        (status = 200, description = "Changed", body = Role),
        (status = 404, description = "No such role", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The change would leave no user holding every admin permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_role(
    State(state): State<AppState>,
    at: Scope,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(change): ApiJson<RoleChange>,
) -> Result<Json<Role>, ApiError> {
    let change = change.validate()?;
    let view = store::update_role(&at, &caller.author(), &id, &change).await?;
    state.caches().everything_changed();
    Ok(Json(view.into()))
}

/// Remove a role.
///
/// Only a role no account holds: otherwise 409, with `holders` listing the
/// accounts that still hold it.
#[utoipa::path(delete, path = "/admin/v1/roles/{id}", tag = "admin: roles", params(("id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such role", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still assigned; `holders` lists who holds it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_role(
    at: Scope,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    store::delete_role(&at, &caller.author(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
