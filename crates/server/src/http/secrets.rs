//! An application's client secret: shown, or replaced, only to a signed-in
//! person who re-enters their password.

use crate::auth::Caller;
use crate::crypto::random_bytes;
use crate::db::micros_to_rfc3339;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::password::verify_password;
use crate::state::AppState;
use crate::store;
use crate::views::*;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use casebook_domain::ClientSecret;
use casebook_domain::client_keys::AuthMethod;
use casebook_domain::user::Password;
use casebook_domain::wire::{RevealRequest, RotateRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reveal_secret))
        .routes(routes!(rotate_secret))
}

pub use casebook_domain::credentials::MAX_GRACE_PERIOD_SECS;

/// A `private_key_jwt` application has no secret to show or replace.
fn has_secret(app: &store::ApplicationRecord) -> Result<(), ApiError> {
    if app.auth_method == AuthMethod::ClientSecretBasic.as_str() {
        return Ok(());
    }
    Err(ApiError::Conflict {
        detail: "this application authenticates with private_key_jwt and has no client secret; change its jwks instead"
            .into(),
        holders: None,
    })
}

/// Re-checks the calling admin's password, with the reveal lockout.
async fn confirm_password(
    state: &AppState,
    caller: &crate::auth::Principal,
    password: Password,
    application_id: &str,
) -> Result<(), ApiError> {
    let at = match store::claim_reveal_attempt(&state.db, &caller.id).await? {
        store::RevealAttempt::Locked(wait) => {
            return Err(ApiError::TooManyRequests {
                detail: format!(
                    "too many wrong passwords: secrets are locked for you for {} more minute(s)",
                    wait.div_ceil(60)
                ),
                retry_after_secs: wait,
            });
        }
        store::RevealAttempt::Claimed { at } => at,
    };
    let hash = store::user_password_hash(&state.db, &caller.id).await?;
    let right = verify_password(password, hash).await?;
    store::settle_reveal_attempt(&state.db, &caller.actor(), application_id, at, right).await?;
    if right {
        Ok(())
    } else {
        Err(ApiError::forbidden("the password is not right"))
    }
}

/// Show the client secret, after the calling admin re-enters their password.
/// Five wrong passwords in 15 minutes lock this for 15 minutes.
#[utoipa::path(post, path = "/admin/v1/external-applications/{id}/client-secret/reveal", tag = "admin: external applications",
    params(("id" = String, Path)), request_body = RevealRequest,
    responses(
        (status = 200, description = "The secret", body = SecretView, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 403, description = "Wrong password, not a signed-in person, lacking admin:edit, or the application holds permissions the caller lacks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The application authenticates with private_key_jwt and has no client secret", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Locked after wrong passwords", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reveal_secret(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<RevealRequest>,
) -> Result<impl IntoResponse, ApiError> {
    // 404 and 403 before the password check, so neither a typo'd id nor a
    // refused application counts as a failure.
    has_secret(&store::get_application(&state.db, &id).await?)?;
    store::may_access_secret(&state.db, &caller.author(), &id).await?;
    confirm_password(&state, &caller, request.password, &id).await?;
    let (client_id, secret) = store::reveal_secret(&state.db, state.master(), &caller.author(), &id).await?;
    tracing::info!(application = %id, user = %caller.id, "client secret revealed");
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(SecretView {
            client_id,
            client_secret: secret,
            previous_secret_valid_until: None,
        }),
    ))
}

/// Issue a new client secret. The old one keeps working for
/// `grace_period_seconds` (default 0: it stops at once). One previous secret
/// is kept: rotating again ends any earlier grace period at once.
#[utoipa::path(post, path = "/admin/v1/external-applications/{id}/client-secret/rotate", tag = "admin: external applications",
    params(("id" = String, Path)), request_body = RotateRequest,
    responses(
        (status = 200, description = "The new secret", body = SecretView, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 403, description = "Wrong password, not a signed-in person, lacking admin:edit, or the application holds permissions the caller lacks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The application authenticates with private_key_jwt and has no client secret", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Validation failed: a field missing, of the wrong type or unknown, or the grace period out of range", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Locked after wrong passwords", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<RotateRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let grace = casebook_domain::credentials::grace_period(request.grace_period_seconds).map_err(ApiError::field)?;
    has_secret(&store::get_application(&state.db, &id).await?)?;
    store::may_access_secret(&state.db, &caller.author(), &id).await?;
    confirm_password(&state, &caller, request.password, &id).await?;
    let secret = ClientSecret::from_random(random_bytes());
    let (client_id, until) = store::rotate_secret(
        &state.db,
        state.master(),
        &caller.author(),
        &id,
        &secret,
        grace * 1_000_000,
    )
    .await?;
    state.clients.remove(&client_id);
    state.bump_epoch();
    tracing::info!(application = %id, user = %caller.id, grace_seconds = grace, "client secret rotated");
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(SecretView {
            client_id,
            client_secret: secret,
            previous_secret_valid_until: until.map(micros_to_rfc3339),
        }),
    ))
}
