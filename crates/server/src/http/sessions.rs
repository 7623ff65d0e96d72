//! Sign in to cb Admin, and out.

use crate::crypto::{random_token, token_digest};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::http::auth::{Caller, SESSION_TOKEN_PREFIX};
use crate::http::second_factor::{self, Verdict, throttled};
use crate::password::verify_password;
use crate::state::AppState;
use crate::store;
use crate::store::ActorRef;
use crate::store::Scope;
use crate::tenancy::Tenant;
use crate::views::*;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use casebook_domain::Email;
use casebook_domain::mfa;
use casebook_domain::wire::{MfaSignIn, SecondFactor, SignIn};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in))
        .routes(routes!(sign_in_mfa))
        .routes(routes!(sign_out))
}

/// Tokens of a half-finished sign-in carry this prefix.
const MFA_TOKEN_PREFIX: &str = "cbmfa_";

pub const SESSION_TTL_MICROS: i64 = casebook_domain::user::SESSION_LIFETIME_SECS * 1_000_000;

/// Sign in.
///
/// Email and password; answers a bearer session token for the admin API (8
/// hours, or until signed out). When the account has a second factor the
/// answer is 401 with `mfa_required` and an `mfa_token`: finish at `POST /admin/v1/sessions/mfa`. Repeated failures for an address or from
/// a source are throttled (429 with `Retry-After`).
#[utoipa::path(post, path = "/admin/v1/sessions", tag = "admin: sessions",
    request_body = SignIn,
    security(()),
    responses(
        (status = 201, description = "Signed in", body = SessionView, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 401, description = "Wrong email or password, a disabled account, or (with `mfa_required` and an `mfa_token`) a second step to take", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-in attempts for this address or from this source", body = Problem,
            content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn sign_in(
    State(state): State<AppState>,
    tenant: Tenant,
    at: Scope,
    crate::http::oauth::PeerAddr(peer): crate::http::oauth::PeerAddr,
    ApiJson(form): ApiJson<SignIn>,
) -> Result<impl IntoResponse, ApiError> {
    if !tenant.is_enabled() {
        return Err(ApiError::Unauthorized {
            invalid_token: false,
            detail: "this tenant is disabled: nobody can sign in to it until it is enabled again".into(),
        });
    }
    let email = Email::for_lookup(&form.email);
    // Every attempt draws on the budget before the password is checked;
    // otherwise throttling would not slow guessing at all.
    throttled(&state, &tenant, email.normalized(), peer)?;
    let user = store::user_auth_by_email(&at, &email).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let ok = verify_password(form.password, hash).await?;
    let refused = ApiError::Unauthorized {
        invalid_token: false,
        detail: "wrong email or password".into(),
    };
    let Some(user) = user else {
        // No account to name: nothing for the trail (the log has the line).
        return Err(refused);
    };
    let account = person(&user);
    if !ok {
        refuse_later(at, account, "wrong password");
        return Err(refused);
    }
    // Said only to someone who knows the password: it tells nothing to a guesser.
    if !user.enabled {
        refuse_later(at, account, "account disabled");
        return Err(ApiError::Unauthorized {
            invalid_token: false,
            detail: "this account is disabled; ask an administrator to enable it".into(),
        });
    }
    if mfa::second_step_required(user.second_factor) {
        let offered = SecondFactor::of(form.totp_code.as_ref(), form.recovery_code.as_ref());
        second_step(&state, &tenant, &at, &account, offered, None).await?;
    }
    start_session(&at, &account).await
}

/// The second step of a sign-in whose password was right: a code, or a
/// 401 that asks for one with a token for `POST /admin/v1/sessions/mfa`.
async fn second_step(
    state: &AppState,
    tenant: &Tenant,
    at: &Scope,
    account: &ActorRef,
    offered: SecondFactor<'_>,
    begun_until: Option<i64>,
) -> Result<(), ApiError> {
    // Five wrong codes lock the second step for this person from every
    // source: a code has a million values, and sources are many.
    if let Some(until) = store::code_lock(at, &account.id).await? {
        let wait = ((until - at.now_micros()) / 1_000_000).max(1) as u64;
        return Err(ApiError::TooManyRequests {
            detail: format!(
                "too many wrong codes for this account: try again in {} minute(s)",
                wait.div_ceil(60)
            ),
            retry_after_secs: wait,
        });
    }
    let detail = match second_factor::judge(state, tenant, at, account, offered).await? {
        Verdict::Accepted => {
            store::clear_code_failures(at, &account.id).await?;
            return Ok(());
        }
        Verdict::NotEnrolled => return Ok(()),
        Verdict::Missing => "enter the code from your authenticator app, use your passkey, or enter a recovery code",
        Verdict::Refused => {
            store::record_code_failure(at, &account.id).await?;
            refuse_later(at.clone(), account.clone(), "wrong or reused second-factor code");
            "that code was not accepted: enter the app's current code, or an unused recovery code"
        }
    };
    let token = format!("{MFA_TOKEN_PREFIX}{}", random_token());
    // A sign-in carried on keeps the time its password was checked: the
    // five minutes are not renewed by asking again.
    let lifetime_end = at.now_micros() + mfa::MFA_TOKEN_LIFETIME_SECS * 1_000_000;
    let expires_at = begun_until.map_or(lifetime_end, |until| until.min(lifetime_end));
    store::create_mfa_challenge(at, &account.id, &token_digest(&token), expires_at).await?;
    Err(ApiError::MfaRequired {
        detail: detail.into(),
        mfa_token: token,
    })
}

/// Finish signing in with a second factor.
///
/// The `mfa_token` from the first step with a code from the authenticator app,
/// a recovery code or a passkey's answer. A code that is not accepted answers
/// 401 with a new `mfa_token` to try again; after five wrong codes for the
/// account in 15 minutes the answer is 429 for a while.
#[utoipa::path(post, path = "/admin/v1/sessions/mfa", tag = "admin: sessions",
    request_body = MfaSignIn,
    security(()),
    responses(
        (status = 201, description = "Signed in", body = SessionView, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 401, description = "The token expired or was used, or the code was not accepted (then with a new `mfa_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this source, or five wrong codes for this account in 15 minutes", body = Problem,
            content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn sign_in_mfa(
    State(state): State<AppState>,
    tenant: Tenant,
    at: Scope,
    crate::http::oauth::PeerAddr(peer): crate::http::oauth::PeerAddr,
    ApiJson(form): ApiJson<MfaSignIn>,
) -> Result<impl IntoResponse, ApiError> {
    let expired = || ApiError::Unauthorized {
        invalid_token: false,
        detail: "this sign-in has expired or was finished already: sign in again with your password".into(),
    };
    if !tenant.is_enabled() {
        return Err(expired());
    }
    // Taken before anything else: the token works once, whatever follows.
    let Some((user_id, begun_until)) = store::take_mfa_challenge(&at, &token_digest(&form.mfa_token)).await? else {
        return Err(expired());
    };
    let Some(user) = store::user_auth(&at, &user_id).await?.filter(|u| u.enabled) else {
        return Err(expired());
    };
    throttled(&state, &tenant, Email::for_lookup(&user.email).normalized(), peer)?;
    let account = person(&user);
    let offered =
        SecondFactor::of(form.totp_code.as_ref(), form.recovery_code.as_ref()).or_passkey(form.passkey.as_ref());
    second_step(&state, &tenant, &at, &account, offered, Some(begun_until)).await?;
    start_session(&at, &account).await
}

fn person(user: &store::UserAuth) -> ActorRef {
    ActorRef {
        kind: casebook_domain::AccountKind::User,
        id: user.id.clone(),
        name: user.name.clone(),
    }
}

/// Records a refused sign-in after the answer, not before it: a write only
/// for an address that has an account would let response times tell which
/// addresses do. The actor is the account as claimed.
fn refuse_later(at: Scope, account: ActorRef, why: &'static str) {
    let context = crate::request_context::RequestContext::current();
    tokio::spawn(context.scope(async move {
        let event = store::Event::new("user.sign_in_refused", "user", &account.id).detail(why.to_owned());
        if let Err(error) = store::record(&at, &account, event).await {
            tracing::error!(%error, "a refused sign-in could not be written to the audit trail");
        }
    }));
}

async fn start_session(at: &Scope, account: &ActorRef) -> Result<axum::response::Response, ApiError> {
    let token = format!("{SESSION_TOKEN_PREFIX}{}", random_token());
    let expires_at = at.now_micros() + SESSION_TTL_MICROS;
    store::create_session(at, account, &token_digest(&token), expires_at).await?;
    tracing::info!(user = %account.id, "signed in");
    Ok((
        StatusCode::CREATED,
        // The answer is a credential: no cache may keep it (RFC 9111 §5.2.2.5).
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(SessionView {
            token,
            expires_at: casebook_domain::Timestamp::from_unix_micros(expires_at),
        }),
    )
        .into_response())
}

/// Sign out.
///
/// The session token that signs this request stops working at once. An
/// application's access token is not a session: revoke it at
/// `/oauth2/revoke` instead (403 here).
#[utoipa::path(delete, path = "/admin/v1/sessions/current", tag = "admin: sessions",
    responses(
        (status = 204, description = "Signed out"),
        (status = 403, description = "Not a session", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn sign_out(at: Scope, Caller(caller): Caller) -> Result<StatusCode, ApiError> {
    let Some(digest) = caller.session.as_deref() else {
        return Err(ApiError::forbidden(
            "only an admin session can be signed out; revoke access tokens at /oauth2/revoke",
        ));
    };
    store::delete_session(&at, &caller.actor(), digest).await?;
    Ok(StatusCode::NO_CONTENT)
}
