//! An application's client secrets (the contract's "Client secrets"): listed to
//! admins, and added, shown or replaced only by a signed-in person who
//! re-enters their password; ended by one at once.

use crate::crypto::random_bytes;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::http::auth::Caller;
use crate::http::second_factor::{self, Verdict};
use crate::password::verify_password;
use crate::state::AppState;
use crate::store::{self, Scope};
use crate::tenancy::Tenant;
use crate::views::*;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use casebook_domain::client_keys::AuthMethod;
use casebook_domain::secret_lifecycle::SecretPolicy;
use casebook_domain::user::Password;
use casebook_domain::wire::{
    ClientSecretInfo, ClientSecretValue, ClientSecrets, NewSecretRequest, RevealRequest, RotateRequest,
};
use casebook_domain::wire::{OneTimeCode, PasskeyProof, SecondFactor};
use casebook_domain::{ClientId, ClientSecret, Timestamp};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reveal_secret))
        .routes(routes!(rotate_secret))
        .routes(routes!(list_secrets, add_secret))
        .routes(routes!(reveal_one_secret))
        .routes(routes!(end_secret))
}

fn info(record: store::SecretRecord, policy: &SecretPolicy, now: Timestamp, state: &AppState) -> ClientSecretInfo {
    // This replica's unwritten stamp may be newer than the stored one.
    let last_used_at = record.last_used_at.max(state.secret_uses().last_used(&record.id));
    ClientSecretInfo {
        status: record.status(policy, now).into(),
        expires_at: policy.effective_expiry(record.created_at, record.expires_at),
        last_used_at,
        created_at: record.created_at,
        label: record.label,
        id: record.id.into(),
    }
}

fn value(
    client_id: String,
    record: store::SecretRecord,
    secret: ClientSecret,
    policy: &SecretPolicy,
) -> ClientSecretValue {
    ClientSecretValue {
        expires_at: policy.effective_expiry(record.created_at, record.expires_at),
        created_at: record.created_at,
        label: record.label,
        id: record.id.into(),
        client_id: ClientId::from_stored(client_id),
        client_secret: secret,
    }
}

fn no_store<T: IntoResponse>(status: StatusCode, body: T) -> impl IntoResponse {
    (status, [(axum::http::header::CACHE_CONTROL, "no-store")], body)
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

/// What showing, adding or replacing a secret asks first: an application
/// with secrets (404, 409), the grant rule (403), then the password. The
/// first two come before the password, so that neither a typo'd id nor a
/// refused application costs a lockout attempt.
async fn may_handle_secrets(
    state: &AppState,
    tenant: &Tenant,
    at: &Scope,
    caller: &crate::http::auth::Principal,
    id: &str,
    proof: Proof<'_>,
) -> Result<(), ApiError> {
    has_secret(&store::get_application(at, id).await?)?;
    store::may_access_secret(at, &caller.author(), id).await?;
    confirm_password(state, tenant, at, caller, proof, id).await
}

/// What a person re-enters to handle a secret: the password and, once they
/// have enrolled a second factor, a code.
struct Proof<'a> {
    password: Password,
    second_factor: SecondFactor<'a>,
}

impl<'a> Proof<'a> {
    fn new(
        password: Password,
        totp_code: Option<&'a OneTimeCode>,
        recovery_code: Option<&'a OneTimeCode>,
        passkey: Option<&'a PasskeyProof>,
    ) -> Self {
        Self {
            password,
            second_factor: SecondFactor::of(totp_code, recovery_code).or_passkey(passkey),
        }
    }
}

/// Re-checks the calling admin's password, with the reveal lockout.
async fn confirm_password(
    state: &AppState,
    tenant: &Tenant,
    at: &Scope,
    caller: &crate::http::auth::Principal,
    proof: Proof<'_>,
    application_id: &str,
) -> Result<(), ApiError> {
    let claimed_at = match store::claim_reveal_attempt(at, &caller.id).await? {
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
    let hash = store::user_password_hash(at, &caller.id).await?;
    let password_right = verify_password(proof.password, hash).await?;
    // The code is judged only after a right password: a wrong password must
    // not spend a recovery code or a TOTP step.
    let verdict = match password_right {
        true => Some(second_factor::judge(state, tenant, at, &caller.actor(), proof.second_factor).await?),
        false => None,
    };
    let right = matches!(verdict, Some(Verdict::Accepted | Verdict::NotEnrolled));
    // A missing code is a form not yet filled, not a guess: it costs no attempt.
    if verdict == Some(Verdict::Missing) {
        store::settle_reveal_attempt(at, &caller.actor(), application_id, claimed_at, true).await?;
        return Err(ApiError::forbidden(
            "you have a second factor: send totp_code (from your authenticator app), passkey or recovery_code beside the password",
        ));
    }
    store::settle_reveal_attempt(at, &caller.actor(), application_id, claimed_at, right).await?;
    match verdict {
        _ if right => Ok(()),
        None => Err(ApiError::forbidden("the password is not right")),
        Some(_) => Err(ApiError::forbidden(
            "that code was not accepted: use the app's current code, or an unused recovery code",
        )),
    }
}

/// Reveal the newest client secret.
///
/// Shows the newest active client secret after the calling admin re-enters
/// their password. Five wrong passwords in 15 minutes lock this for 15
/// minutes.
#[utoipa::path(post, path = "/admin/v1/external-applications/{id}/client-secret/reveal", tag = "admin: external applications",
    params(("id" = String, Path)), request_body = RevealRequest,
    responses(
        (status = 200, description = "The secret", body = SecretView, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 403, description = "Wrong password, not a signed-in person, lacking admin:edit, or the application holds permissions the caller lacks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The application authenticates with private_key_jwt and has no client secret, or has no active secret that can be shown", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Locked after wrong passwords", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reveal_secret(
    State(state): State<AppState>,
    tenant: Tenant,
    at: Scope,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<RevealRequest>,
) -> Result<impl IntoResponse, ApiError> {
    may_handle_secrets(
        &state,
        &tenant,
        &at,
        &caller,
        &id,
        Proof::new(
            request.password,
            request.totp_code.as_ref(),
            request.recovery_code.as_ref(),
            request.passkey.as_ref(),
        ),
    )
    .await?;
    let (client_id, record, secret) = store::reveal_secret(
        &at,
        state.master(),
        &state.config().secret_policy,
        &caller.author(),
        &id,
        None,
    )
    .await?;
    tracing::info!(application = %id, secret = %record.id, user = %caller.id, "client secret revealed");
    Ok(no_store(
        StatusCode::OK,
        Json(SecretView {
            client_id: ClientId::from_stored(client_id),
            client_secret: secret,
            previous_secret_valid_until: None,
            secret_id: Some(record.id),
            secret_label: record.label,
        }),
    ))
}

/// Rotate the client secret.
///
/// Issues a new client secret and ends every other one after
/// `grace_period_seconds` (default 0: they stop at once, and so does every
/// token issued so far). A grace period never lengthens a secret's life, and
/// the secrets in it count toward the 5 that may work at once: with 5 active,
/// end one first or rotate without grace.
#[utoipa::path(post, path = "/admin/v1/external-applications/{id}/client-secret/rotate", tag = "admin: external applications",
    params(("id" = String, Path)), request_body = RotateRequest,
    responses(
        (status = 200, description = "The new secret", body = SecretView, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 403, description = "Wrong password, not a signed-in person, lacking admin:edit, or the application holds permissions the caller lacks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The application authenticates with private_key_jwt and has no client secret, or a grace period would leave more than 5 secrets working (the application's active ones and the new one): end a secret first, or rotate with no grace period", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Validation failed: a field missing, of the wrong type or unknown, or the grace period out of range", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Locked after wrong passwords", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    tenant: Tenant,
    at: Scope,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<RotateRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let grace = casebook_domain::credentials::grace_period(request.grace_period_seconds).map_err(ApiError::field)?;
    may_handle_secrets(
        &state,
        &tenant,
        &at,
        &caller,
        &id,
        Proof::new(
            request.password,
            request.totp_code.as_ref(),
            request.recovery_code.as_ref(),
            request.passkey.as_ref(),
        ),
    )
    .await?;
    let secret = ClientSecret::from_random(random_bytes());
    let new = store::NewSecret {
        secret: &secret,
        label: None,
        expires_at: state
            .config()
            .secret_policy
            .expiry_of_new_secret(state.now(), None)
            .map_err(ApiError::field)?,
    };
    let (client_id, until) = store::rotate_secret(
        &at,
        state.master(),
        &state.config().secret_policy,
        &caller.author(),
        &id,
        &new,
        grace * 1_000_000,
    )
    .await?;
    state.client_changed(&client_id);
    tracing::info!(application = %id, user = %caller.id, grace_seconds = grace, "client secret rotated");
    Ok(no_store(
        StatusCode::OK,
        Json(SecretView {
            client_id: ClientId::from_stored(client_id),
            client_secret: secret,
            previous_secret_valid_until: until.map(Timestamp::from_unix_micros),
            secret_id: None,
            secret_label: None,
        }),
    ))
}

/// List client secrets.
///
/// Every client secret of the application, newest first, with its state,
/// expiry and last use; never a value.
#[utoipa::path(get, path = "/admin/v1/external-applications/{id}/client-secrets", tag = "admin: external applications",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The application's secrets", body = ClientSecrets),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_secrets(
    State(state): State<AppState>,
    at: Scope,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ClientSecrets>, ApiError> {
    let records = store::list_secrets(&at, &id).await?;
    let ended = store::ended_secrets(&at, &id).await?;
    let (policy, now) = (&state.config().secret_policy, state.now());
    Ok(Json(ClientSecrets {
        items: records.into_iter().map(|r| info(r, policy, now, &state)).collect(),
        ended: ended
            .into_iter()
            .map(|e| casebook_domain::wire::EndedSecretInfo {
                id: e.id,
                label: e.label,
                created_at: e.created_at,
                ended_at: e.ended_at,
            })
            .collect(),
    }))
}

/// Add a client secret.
///
/// After the calling admin re-enters their password: up to 5 active at once,
/// so deployments move to a new secret one by one. It expires at
/// `expires_at`, or as the install's most (`CASEBOOK_SECRET_MAX_AGE_DAYS`)
/// says, whichever is first.
#[utoipa::path(post, path = "/admin/v1/external-applications/{id}/client-secrets", tag = "admin: external applications",
    params(("id" = String, Path)), request_body = NewSecretRequest,
    responses(
        (status = 201, description = "The new secret, shown this once unless revealed again", body = ClientSecretValue, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 403, description = "Wrong password, not a signed-in person, lacking admin:edit, or the application holds permissions the caller lacks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The application already has 5 active secrets, or authenticates with private_key_jwt", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Validation failed: a field missing, of the wrong type or unknown, a label too long, or an expiry not ahead or past the install's most", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Locked after wrong passwords", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_secret(
    State(state): State<AppState>,
    tenant: Tenant,
    at: Scope,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<NewSecretRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let (label, expires_at) = request.fields()?;
    let policy = &state.config().secret_policy;
    let expires_at = policy
        .expiry_of_new_secret(state.now(), expires_at)
        .map_err(ApiError::field)?;
    may_handle_secrets(
        &state,
        &tenant,
        &at,
        &caller,
        &id,
        Proof::new(
            request.password,
            request.totp_code.as_ref(),
            request.recovery_code.as_ref(),
            request.passkey.as_ref(),
        ),
    )
    .await?;
    let secret = ClientSecret::from_random(random_bytes());
    let new = store::NewSecret {
        secret: &secret,
        label: label.as_deref(),
        expires_at,
    };
    let (client_id, record) = store::add_secret(&at, state.master(), policy, &caller.author(), &id, &new).await?;
    state.client_changed(&client_id);
    tracing::info!(application = %id, secret = %record.id, user = %caller.id, "client secret added");
    Ok(no_store(
        StatusCode::CREATED,
        Json(value(client_id, record, secret, policy)),
    ))
}

/// Reveal one client secret.
///
/// Shows one client secret, after the calling admin re-enters their
/// password; the same lockout as revealing the newest.
#[utoipa::path(post, path = "/admin/v1/external-applications/{id}/client-secrets/{secret_id}/reveal", tag = "admin: external applications",
    params(("id" = String, Path), ("secret_id" = String, Path)), request_body = RevealRequest,
    responses(
        (status = 200, description = "The secret", body = ClientSecretValue, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 403, description = "Wrong password, not a signed-in person, lacking admin:edit, or the application holds permissions the caller lacks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application or secret", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The secret was kept only as a fingerprint and cannot be shown", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Locked after wrong passwords", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reveal_one_secret(
    State(state): State<AppState>,
    tenant: Tenant,
    at: Scope,
    Caller(caller): Caller,
    ApiPath((id, secret_id)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<RevealRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let policy = &state.config().secret_policy;
    // 404s and 403 before the password check, so neither costs an attempt.
    if !store::list_secrets(&at, &id).await?.iter().any(|s| s.id == secret_id) {
        return Err(store::StoreError::NotFound("client secret").into());
    }
    store::may_access_secret(&at, &caller.author(), &id).await?;
    confirm_password(
        &state,
        &tenant,
        &at,
        &caller,
        Proof::new(
            request.password,
            request.totp_code.as_ref(),
            request.recovery_code.as_ref(),
            request.passkey.as_ref(),
        ),
        &id,
    )
    .await?;
    let (client_id, record, secret) =
        store::reveal_secret(&at, state.master(), policy, &caller.author(), &id, Some(&secret_id)).await?;
    tracing::info!(application = %id, secret = %secret_id, user = %caller.id, "client secret revealed");
    Ok(no_store(StatusCode::OK, Json(value(client_id, record, secret, policy))))
}

/// End a client secret.
///
/// Ends one client secret at once; the others keep working. Tokens already
/// issued with it live out their hour: to end those too, rotate without a
/// grace period or disable the application.
#[utoipa::path(delete, path = "/admin/v1/external-applications/{id}/client-secrets/{secret_id}", tag = "admin: external applications",
    params(("id" = String, Path), ("secret_id" = String, Path)),
    responses(
        (status = 204, description = "Ended"),
        (status = 403, description = "Not a signed-in person, lacking admin:edit, or the application holds permissions the caller lacks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application or secret", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn end_secret(
    State(state): State<AppState>,
    at: Scope,
    Caller(caller): Caller,
    ApiPath((id, secret_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let client_id = store::end_secret(&at, &caller.author(), &id, &secret_id).await?;
    state.client_changed(&client_id);
    tracing::info!(application = %id, secret = %secret_id, user = %caller.id, "client secret ended");
    Ok(StatusCode::NO_CONTENT)
}
