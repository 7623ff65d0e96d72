//! A person's passkeys: registering one (two requests around the
//! authenticator), listing and removing them, and the options a passkey
//! answers when it is the second step of a sign-in or of handling a secret.

use crate::crypto::token_digest;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::http::auth::Caller;
use crate::http::second_factor::{REGISTER, confirm_person, passkey_challenge, relying_party, throttled};
use crate::passkeys;
use crate::state::AppState;
use crate::store::{self, Scope};
use crate::tenancy::Tenant;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use casebook_domain::Timestamp;
use casebook_domain::wire::{
    MfaPasskeyStart, Passkey as PasskeyView, PasskeyOptions, PasskeyProof, PasskeyRegistration,
    PasskeyRegistrationStart, PasskeyRemoval, Passkeys, SecondFactor,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_passkeys, register_passkey))
        .routes(routes!(registration_options))
        .routes(routes!(remove_passkey))
        .routes(routes!(step_up_options))
        .routes(routes!(sign_in_options))
}

/// What a passkey may be called: the console shows it in the person's list.
const MAX_NAME_CHARS: usize = 100;

fn view(record: &store::PasskeyRecord) -> PasskeyView {
    PasskeyView {
        id: record.id.clone(),
        name: record.name.clone(),
        created_at: Timestamp::from_unix_micros(record.created_at),
        last_used_at: record.last_used_at.map(Timestamp::from_unix_micros),
    }
}

/// The signed-in person's passkeys.
///
/// Every passkey the person registered, with its name and when it was added
/// and last used; never key material.
#[utoipa::path(get, path = "/admin/v1/users/me/passkeys", tag = "admin: sign-in",
    responses(
        (status = 200, description = "The person's passkeys", body = Passkeys),
        (status = 403, description = "Not a signed-in person", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_passkeys(at: Scope, Caller(caller): Caller) -> Result<Json<Passkeys>, ApiError> {
    let items = store::passkeys_of(&at, &caller.id).await?.iter().map(view).collect();
    Ok(Json(Passkeys { items }))
}

/// Begin registering a passkey.
///
/// Options for `navigator.credentials.create`; send the authenticator's
/// answer to `POST /admin/v1/users/me/passkeys` to finish.
#[utoipa::path(post, path = "/admin/v1/users/me/passkeys/options", tag = "admin: sign-in",
    request_body = PasskeyRegistrationStart,
    responses(
        (status = 200, description = "Options for the authenticator; answer within 5 minutes", body = PasskeyOptions,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 403, description = "Wrong password, or not a signed-in person", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The service is at an IP address, where browsers allow no passkey", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn registration_options(
    State(state): State<AppState>,
    tenant: Tenant,
    at: Scope,
    crate::http::oauth::PeerAddr(peer): crate::http::oauth::PeerAddr,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<PasskeyRegistrationStart>,
) -> Result<impl IntoResponse, ApiError> {
    let person = caller.actor();
    throttled(&state, &tenant, &person.id, peer)?;
    // Adding a factor asks for one already held (see `begin_totp`).
    let offered = SecondFactor::of(request.totp_code.as_ref(), request.recovery_code.as_ref())
        .or_passkey(request.passkey.as_ref());
    confirm_person(&state, &tenant, &at, &person, request.password, Some(offered)).await?;
    let user = store::get_user(&at, &person.id).await?;
    let stored = store::passkeys_of(&at, &person.id).await?;
    let existing = passkeys::read_all(stored.iter().map(|r| r.passkey.as_str())).map_err(ApiError::internal)?;
    let rp = relying_party(&tenant)?;
    let (options, ceremony) = passkeys::start_registration(&rp, &person.id, &user.email, &user.name, &existing)
        .map_err(ApiError::internal)?;
    let expires_at = at.now_micros() + passkeys::CEREMONY_LIFETIME.as_micros() as i64;
    let ceremony_id = store::begin_ceremony(&at, &person.id, REGISTER, &ceremony, expires_at).await?;
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(PasskeyOptions {
            ceremony_id,
            options: serde_json::to_value(&options).map_err(ApiError::internal)?,
        }),
    ))
}

/// Finish registering a passkey.
///
/// The authenticator's answer to the options from
/// `POST /admin/v1/users/me/passkeys/options`. The passkey then serves as a
/// second factor at sign-in and beside the password where one is asked for.
#[utoipa::path(post, path = "/admin/v1/users/me/passkeys", tag = "admin: sign-in",
    request_body = PasskeyRegistration,
    responses(
        (status = 201, description = "Registered: from now on signing in asks for a second factor", body = PasskeyView),
        (status = 400, description = "The ceremony is unknown, used or expired, or the answer does not hold", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a signed-in person", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "This passkey is registered already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn register_passkey(
    tenant: Tenant,
    at: Scope,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<PasskeyRegistration>,
) -> Result<impl IntoResponse, ApiError> {
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::Validation(
            casebook_domain::FieldError::new(
                "name",
                casebook_domain::ErrorCode::InvalidValue,
                format!("name must be 1 to {MAX_NAME_CHARS} characters on one line, such as \"Work laptop\""),
            )
            .into(),
        ));
    }
    let person = caller.actor();
    let unusable = || {
        ApiError::BadRequest(
            "this registration is unknown, used or expired, or the authenticator's answer does not match it: begin again"
                .into(),
        )
    };
    let Some(ceremony) = store::take_ceremony(&at, &request.ceremony_id, &person.id, REGISTER).await? else {
        return Err(unusable());
    };
    let rp = relying_party(&tenant)?;
    let proof = PasskeyProof {
        ceremony_id: request.ceremony_id,
        credential: request.credential,
    };
    let passkey = match passkeys::finish_registration(&rp, &ceremony, &proof) {
        Ok(passkey) => passkey,
        Err(error) => {
            tracing::info!(%error, "a passkey registration was refused");
            return Err(unusable());
        }
    };
    let text = passkeys::to_text(&passkey).map_err(ApiError::internal)?;
    let record = store::add_passkey(&at, &person, &passkeys::credential_id(&passkey), name, &text).await?;
    Ok((StatusCode::CREATED, Json(view(&record))))
}

/// Remove a passkey.
///
/// Removes one of the person's passkeys; the password confirms it.
#[utoipa::path(delete, path = "/admin/v1/users/me/passkeys/{id}", tag = "admin: sign-in",
    params(("id" = String, Path)),
    request_body = PasskeyRemoval,
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Wrong password, or not a signed-in person", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such passkey of this person", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The tenant requires a second factor of this administrator, and this is the last", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove_passkey(
    State(state): State<AppState>,
    tenant: Tenant,
    at: Scope,
    crate::http::oauth::PeerAddr(peer): crate::http::oauth::PeerAddr,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<PasskeyRemoval>,
) -> Result<StatusCode, ApiError> {
    let person = caller.actor();
    // An unknown id is a 404 before the password: a typo costs no attempt.
    let held = store::passkeys_of(&at, &person.id).await?;
    if !held.iter().any(|p| p.id == id) {
        return Err(ApiError::NotFound("passkey"));
    }
    throttled(&state, &tenant, &person.id, peer)?;
    // Removing one asks for one held, as removing an app does.
    let offered = SecondFactor::of(request.totp_code.as_ref(), request.recovery_code.as_ref())
        .or_passkey(request.passkey.as_ref());
    confirm_person(&state, &tenant, &at, &person, request.password, Some(offered)).await?;
    let others = held.iter().any(|p| p.id != id);
    let totp = store::totp_state(&at, &person.id).await?.confirmed;
    let required = store::tenant_settings(&at).await?.require_mfa_for_admins;
    if casebook_domain::mfa::must_enrol(required, caller.permissions, others || totp) {
        return Err(ApiError::Conflict {
            detail: "your agency requires a second factor of everyone with admin permissions, and this is your last"
                .into(),
            holders: None,
        });
    }
    store::remove_passkey(&at, &person, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Passkey options to confirm a sensitive step.
///
/// Options for one of the person's passkeys, to answer beside the password
/// when revealing, rotating or adding a secret (as `passkey`).
#[utoipa::path(post, path = "/admin/v1/users/me/passkeys/challenge", tag = "admin: sign-in",
    responses(
        (status = 200, description = "Options for `navigator.credentials.get`", body = PasskeyOptions,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 403, description = "Not a signed-in person", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The person has no passkey", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn step_up_options(tenant: Tenant, at: Scope, Caller(caller): Caller) -> Result<impl IntoResponse, ApiError> {
    let options = passkey_challenge(&tenant, &at, &caller.id)
        .await?
        .ok_or_else(no_passkey)?;
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], Json(options)))
}

/// Passkey options for the second step.
///
/// Options for `navigator.credentials.get` in the second step of a sign-in
/// with a passkey; the `mfa_token` stays usable for
/// `POST /admin/v1/sessions/mfa`.
#[utoipa::path(post, path = "/admin/v1/sessions/mfa/passkey", tag = "admin: sessions",
    request_body = MfaPasskeyStart,
    security(()),
    responses(
        (status = 200, description = "Options for `navigator.credentials.get`", body = PasskeyOptions,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 401, description = "The sign-in expired or was finished", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The person has no passkey", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn sign_in_options(
    State(state): State<AppState>,
    tenant: Tenant,
    at: Scope,
    crate::http::oauth::PeerAddr(peer): crate::http::oauth::PeerAddr,
    ApiJson(request): ApiJson<MfaPasskeyStart>,
) -> Result<impl IntoResponse, ApiError> {
    let Some(user_id) = store::mfa_challenge_user(&at, &token_digest(&request.mfa_token)).await? else {
        return Err(ApiError::Unauthorized {
            invalid_token: false,
            detail: "this sign-in has expired or was finished already: sign in again with your password".into(),
        });
    };
    throttled(&state, &tenant, &user_id, peer)?;
    let options = passkey_challenge(&tenant, &at, &user_id)
        .await?
        .ok_or_else(no_passkey)?;
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], Json(options)))
}

fn no_passkey() -> ApiError {
    ApiError::Conflict {
        detail: "there is no passkey to use: register one (POST /admin/v1/users/me/passkeys/options) or use a code"
            .into(),
        holders: None,
    }
}
