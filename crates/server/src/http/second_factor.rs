//! A person's second factor: enrolling an authenticator app (TOTP), its
//! recovery codes, removing it, and the check every step that asks for a
//! code goes through (the second step of signing in, reveal and rotate).

use crate::crypto::random_bytes;
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::http::auth::Caller;
use crate::password::verify_password;
use crate::state::AppState;
use crate::store::{self, ActorRef, Scope};
use crate::tenancy::Tenant;
use crate::{passkeys, totp};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use casebook_domain::mfa::{self, RECOVERY_CODE_CHARS, RECOVERY_CODES};
use casebook_domain::wire::{
    PasskeyOptions, RecoveryCodes, SecondFactor, TotpConfirmation, TotpEnrolment, TotpEnrolmentRequest, TotpRemoval,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(begin_totp, remove_totp))
        .routes(routes!(confirm_totp))
}

/// What a person's offered second factor came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The person has none enrolled: nothing to ask.
    NotEnrolled,
    Accepted,
    /// Enrolled, and no code was offered.
    Missing,
    /// A code was offered and is wrong, used already, or not a code.
    Refused,
}

/// Judges the code a person offers. A TOTP code is accepted once (the step
/// it matched must be later than the last accepted, written as one
/// conditional update); a recovery code is spent. Nothing here is logged:
/// neither the code nor which part of it was wrong.
pub async fn judge(
    state: &AppState,
    tenant: &Tenant,
    at: &Scope,
    person: &ActorRef,
    offered: SecondFactor<'_>,
) -> Result<Verdict, ApiError> {
    let enrolment = store::totp_state(at, &person.id).await?;
    let passkeys = store::passkeys_of(at, &person.id).await?;
    if !enrolment.confirmed && passkeys.is_empty() {
        return Ok(Verdict::NotEnrolled);
    }
    let accepted = match offered {
        SecondFactor::None => return Ok(Verdict::Missing),
        SecondFactor::Totp(typed) => {
            let (true, Some(code), Some(sealed)) =
                (enrolment.confirmed, mfa::read_totp_code(typed), enrolment.sealed_secret)
            else {
                return Ok(Verdict::Refused);
            };
            let secret = state.master().open(&sealed, &person.id).map_err(ApiError::internal)?;
            let now_secs = u64::try_from(at.now_micros() / 1_000_000).unwrap_or(0);
            match totp::matched_step(&secret, &code, now_secs) {
                Some(step) => store::accept_totp_step(at, &person.id, step).await?,
                None => false,
            }
        }
        SecondFactor::Recovery(typed) => match mfa::read_recovery_code(typed) {
            Some(code) => store::spend_recovery_code(at, person, &state.master().secret_mac(&code)).await?,
            None => false,
        },
        SecondFactor::Passkey(proof) => passkey_holds(tenant, at, person, proof, passkeys).await?,
    };
    Ok(if accepted { Verdict::Accepted } else { Verdict::Refused })
}

/// Whether a passkey's answer completes a ceremony this server began for
/// this person; its counter is written back when it does.
async fn passkey_holds(
    tenant: &Tenant,
    at: &Scope,
    person: &ActorRef,
    proof: &casebook_domain::wire::PasskeyProof,
    stored: Vec<store::PasskeyRecord>,
) -> Result<bool, ApiError> {
    let Some(ceremony) = store::take_ceremony(at, &proof.ceremony_id, &person.id, AUTHENTICATE).await? else {
        return Ok(false);
    };
    let rp = relying_party(tenant)?;
    let result = match passkeys::finish_authentication(&rp, &ceremony, proof) {
        Ok(result) => result,
        Err(error) => {
            tracing::info!(%error, "a passkey's answer was refused");
            return Ok(false);
        }
    };
    for record in stored {
        let mut passkey: webauthn_rs::prelude::Passkey =
            passkeys::from_text(&record.passkey).map_err(ApiError::internal)?;
        if passkey.cred_id() == result.cred_id() {
            passkey.update_credential(&result);
            let text = passkeys::to_text(&passkey).map_err(ApiError::internal)?;
            store::passkey_used(at, &person.id, &record.id, &text).await?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether the person holds a passkey.
pub async fn has_passkeys(at: &Scope, user_id: &str) -> Result<bool, ApiError> {
    Ok(!store::passkeys_of(at, user_id).await?.is_empty())
}

/// Whether the person holds any second factor.
pub async fn holds_a_factor(at: &Scope, user_id: &str) -> Result<bool, ApiError> {
    Ok(store::totp_state(at, user_id).await?.confirmed || has_passkeys(at, user_id).await?)
}

/// The tenant as a relying party, or a 409 that says why there is none.
pub fn relying_party(tenant: &Tenant) -> Result<webauthn_rs::prelude::Webauthn, ApiError> {
    if !passkeys::available(tenant) {
        return Err(ApiError::Conflict {
            detail: "passkeys need the service at a domain name (CASEBOOK_PUBLIC_URL): browsers refuse them at an IP address"
                .into(),
            holders: None,
        });
    }
    passkeys::relying_party(tenant).map_err(ApiError::internal)
}

/// A ceremony's purpose, as stored.
pub const REGISTER: &str = "register";
pub const AUTHENTICATE: &str = "authenticate";

/// Options for the person's passkeys, and the ceremony kept for the answer.
pub async fn passkey_challenge(tenant: &Tenant, at: &Scope, user_id: &str) -> Result<Option<PasskeyOptions>, ApiError> {
    let stored = store::passkeys_of(at, user_id).await?;
    if stored.is_empty() {
        return Ok(None);
    }
    let keys = passkeys::read_all(stored.iter().map(|r| r.passkey.as_str())).map_err(ApiError::internal)?;
    let rp = relying_party(tenant)?;
    let (options, ceremony) = passkeys::start_authentication(&rp, &keys).map_err(ApiError::internal)?;
    let expires_at = at.now_micros() + passkeys::CEREMONY_LIFETIME.as_micros() as i64;
    let ceremony_id = store::begin_ceremony(at, user_id, AUTHENTICATE, &ceremony, expires_at).await?;
    Ok(Some(PasskeyOptions {
        ceremony_id,
        options: serde_json::to_value(&options).map_err(ApiError::internal)?,
    }))
}

/// The password and, for someone enrolled, a code: what changing one's own
/// second factor asks.
pub async fn confirm_person(
    state: &AppState,
    tenant: &Tenant,
    at: &Scope,
    person: &ActorRef,
    password: casebook_domain::Password,
    offered: Option<SecondFactor<'_>>,
) -> Result<(), ApiError> {
    let hash = store::user_password_hash(at, &person.id).await?;
    if !verify_password(password, hash).await? {
        return Err(ApiError::forbidden("the password is not right"));
    }
    if let Some(offered) = offered
        && matches!(
            judge(state, tenant, at, person, offered).await?,
            Verdict::Missing | Verdict::Refused
        )
    {
        return Err(ApiError::forbidden(
            "you have a second factor: give a current code from your authenticator app (totp_code), your passkey's answer (passkey) or an unused recovery code (recovery_code)",
        ));
    }
    Ok(())
}

/// Counts one attempt at a password or a code against `who` (an address,
/// or a person's id) from `peer`: a code is as guessable as a password, so
/// both draw on the sign-in budget.
pub fn throttled(state: &AppState, tenant: &Tenant, who: &str, peer: Option<std::net::IpAddr>) -> Result<(), ApiError> {
    let Some(wait) = state.throttle().sign_in_attempt(tenant.id(), who, peer) else {
        return Ok(());
    };
    let secs = wait.as_secs().max(1);
    Err(ApiError::TooManyRequests {
        detail: format!(
            "too many sign-in attempts: try again in {secs} second{}",
            if secs == 1 { "" } else { "s" }
        ),
        retry_after_secs: secs,
    })
}

/// Begin enrolling an authenticator app.
///
/// A new TOTP secret, shown once, that works once a code from it is confirmed
/// at `POST /admin/v1/users/me/totp/confirm`. Someone who holds a passkey gives
/// it (or a recovery code) beside the password.
#[utoipa::path(post, path = "/admin/v1/users/me/totp", tag = "admin: sign-in",
    request_body = TotpEnrolmentRequest,
    responses(
        (status = 201, description = "The secret to add to an app; confirm it with a code", body = TotpEnrolment,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 403, description = "Wrong password, a second factor held and not given, or not a signed-in person", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An authenticator app is enrolled already: remove it first", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn begin_totp(
    State(state): State<AppState>,
    tenant: Tenant,
    at: Scope,
    crate::http::oauth::PeerAddr(peer): crate::http::oauth::PeerAddr,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<TotpEnrolmentRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let person = caller.actor();
    let already = || ApiError::Conflict {
        detail: "an authenticator app is enrolled already; remove it (DELETE /admin/v1/users/me/totp) to enrol another"
            .into(),
        holders: None,
    };
    if store::totp_state(&at, &person.id).await?.confirmed {
        return Err(already());
    }
    throttled(&state, &tenant, &person.id, peer)?;
    // Adding a factor asks for one already held: a stolen session and
    // password must not be able to enrol the thief's.
    let offered = SecondFactor::of(request.totp_code.as_ref(), request.recovery_code.as_ref())
        .or_passkey(request.passkey.as_ref());
    confirm_person(&state, &tenant, &at, &person, request.password, Some(offered)).await?;
    let user = store::get_user(&at, &person.id).await?;
    let secret = totp::new_secret();
    let sealed = state.master().seal(&secret, &person.id);
    if !store::begin_totp(&at, &person.id, &sealed).await? {
        return Err(already());
    }
    let issuer = if tenant.is_root() {
        "Casebook".to_owned()
    } else {
        format!("Casebook {}", tenant.info().name)
    };
    let enrolment = totp::enrolment(&secret, &issuer, &user.email).map_err(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(TotpEnrolment {
            secret: enrolment.secret_base32,
            otpauth_uri: enrolment.uri,
            qr_svg: enrolment.qr_svg,
        }),
    ))
}

/// Confirm an authenticator app.
///
/// A code from the app confirms the enrolment; the answer holds the recovery
/// codes, shown this once.
#[utoipa::path(post, path = "/admin/v1/users/me/totp/confirm", tag = "admin: sign-in",
    request_body = TotpConfirmation,
    responses(
        (status = 200, description = "Enrolled: from now on signing in asks for a code", body = RecoveryCodes,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 403, description = "Not a signed-in person", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No enrolment to confirm: begin one first", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The code is not the app's current one", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    tenant: Tenant,
    at: Scope,
    crate::http::oauth::PeerAddr(peer): crate::http::oauth::PeerAddr,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<TotpConfirmation>,
) -> Result<impl IntoResponse, ApiError> {
    let person = caller.actor();
    throttled(&state, &tenant, &person.id, peer)?;
    let enrolment = store::totp_state(&at, &person.id).await?;
    let no_enrolment = || ApiError::Conflict {
        detail: "there is no enrolment to confirm: begin one with POST /admin/v1/users/me/totp".into(),
        holders: None,
    };
    let (false, Some(sealed), Some(started_at)) = (enrolment.confirmed, enrolment.sealed_secret, enrolment.started_at)
    else {
        return Err(no_enrolment());
    };
    if at.now_micros() - started_at > mfa::ENROLMENT_LIFETIME_SECS * 1_000_000 {
        return Err(ApiError::Conflict {
            detail: "this enrolment began over 15 minutes ago: begin again with POST /admin/v1/users/me/totp".into(),
            holders: None,
        });
    }
    let secret = state.master().open(&sealed, &person.id).map_err(ApiError::internal)?;
    let now_secs = u64::try_from(at.now_micros() / 1_000_000).unwrap_or(0);
    let step = mfa::read_totp_code(request.code.expose()).and_then(|code| totp::matched_step(&secret, &code, now_secs));
    let Some(step) = step else {
        return Err(ApiError::Validation(
            casebook_domain::FieldError::new(
                "code",
                casebook_domain::ErrorCode::InvalidValue,
                "the code is not the app's current one: check the app's clock, and type the six digits it shows now",
            )
            .into(),
        ));
    };
    let codes = mfa::recovery_codes(&random_bytes::<{ RECOVERY_CODES * RECOVERY_CODE_CHARS }>());
    let macs: Vec<[u8; 32]> = codes
        .iter()
        .filter_map(|code| mfa::read_recovery_code(code))
        .map(|code| state.master().secret_mac(&code))
        .collect();
    if !store::confirm_totp(&at, &person, step, &macs).await? {
        return Err(no_enrolment());
    }
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(RecoveryCodes { recovery_codes: codes }),
    ))
}

/// Remove the authenticator app.
///
/// Removes the app and its recovery codes; the password and a code (or a
/// recovery code) confirm it.
#[utoipa::path(delete, path = "/admin/v1/users/me/totp", tag = "admin: sign-in",
    request_body = TotpRemoval,
    responses(
        (status = 204, description = "Removed: signing in asks for the password alone"),
        (status = 403, description = "Wrong password or code, or not a signed-in person", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The tenant requires a second factor of this administrator", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove_totp(
    State(state): State<AppState>,
    tenant: Tenant,
    at: Scope,
    crate::http::oauth::PeerAddr(peer): crate::http::oauth::PeerAddr,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<TotpRemoval>,
) -> Result<StatusCode, ApiError> {
    let person = caller.actor();
    throttled(&state, &tenant, &person.id, peer)?;
    let offered = SecondFactor::of(request.totp_code.as_ref(), request.recovery_code.as_ref())
        .or_passkey(request.passkey.as_ref());
    confirm_person(&state, &tenant, &at, &person, request.password, Some(offered)).await?;
    let required = store::tenant_settings(&at).await?.require_mfa_for_admins;
    let passkeys_left = has_passkeys(&at, &person.id).await?;
    if mfa::must_enrol(required, caller.permissions, passkeys_left) {
        return Err(ApiError::Conflict {
            detail: "your agency requires a second factor of everyone with admin permissions; it cannot be removed"
                .into(),
            holders: None,
        });
    }
    store::remove_totp(&at, &person).await?;
    Ok(StatusCode::NO_CONTENT)
}
