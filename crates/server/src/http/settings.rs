//! A tenant's settings: for now, whether administrators must have a second
//! factor.

use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::http::auth::Caller;
use crate::state::AppState;
use crate::store::{self, Scope};
use axum::Json;
use casebook_domain::wire::{Settings, SettingsChange};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, change_settings))
}

/// The tenant's settings.
///
/// Settings that hold for the whole tenant, such as whether everyone holding
/// an `admin:` permission must enrol a second factor.
#[utoipa::path(get, path = "/admin/v1/settings", tag = "admin: settings",
    responses(
        (status = 200, description = "The settings", body = Settings),
        (status = 403, description = "Lacking admin:view", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_settings(at: Scope) -> Result<Json<Settings>, ApiError> {
    Ok(Json(store::tenant_settings(&at).await?))
}

/// Change the tenant's settings.
///
/// Absent fields stay as they are. Requiring a second factor of admins is
/// refused (409) while the person asking has none.
#[utoipa::path(patch, path = "/admin/v1/settings", tag = "admin: settings",
    request_body = SettingsChange,
    responses(
        (status = 200, description = "Changed", body = Settings),
        (status = 403, description = "Lacking admin:edit", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A person requiring a second factor of others has none", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn change_settings(
    at: Scope,
    Caller(caller): Caller,
    ApiJson(change): ApiJson<SettingsChange>,
) -> Result<Json<Settings>, ApiError> {
    // Whoever requires a second factor of others has one: a setting made
    // by someone it would stop at once is a slip, not a policy.
    if change.require_mfa_for_admins == Some(true)
        && caller.session.is_some()
        && !crate::http::second_factor::holds_a_factor(&at, &caller.id).await?
    {
        return Err(ApiError::Conflict {
            detail: "enrol a second factor yourself (POST /admin/v1/users/me/totp) before requiring one of others"
                .into(),
            holders: None,
        });
    }
    Ok(Json(
        store::change_tenant_settings(&at, &caller.actor(), &change).await?,
    ))
}
