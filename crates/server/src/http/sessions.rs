//! Sign in to cb Admin, and out.

use crate::crypto::{random_token, token_digest};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::http::auth::{Caller, SESSION_TOKEN_PREFIX};
use crate::password::verify_password;
use crate::state::AppState;
use crate::store;
use crate::store::Scope;
use crate::tenancy::Tenant;
use crate::views::*;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use casebook_domain::Email;
use casebook_domain::wire::SignIn;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sign_in)).routes(routes!(sign_out))
}

pub const SESSION_TTL_MICROS: i64 = casebook_domain::user::SESSION_LIFETIME_SECS * 1_000_000;

/// Sign in with email and password; returns a bearer session token.
#[utoipa::path(post, path = "/admin/v1/sessions", tag = "admin: sessions",
    request_body = SignIn,
    security(()),
    responses(
        (status = 201, description = "Signed in", body = SessionView, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
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
    if let Some(wait) = state.throttle().sign_in_attempt(at.tenant(), email.normalized(), peer) {
        let secs = wait.as_secs().max(1);
        return Err(ApiError::TooManyRequests {
            detail: format!(
                "too many sign-in attempts: try again in {secs} second{}",
                if secs == 1 { "" } else { "s" }
            ),
            retry_after_secs: secs,
        });
    }
    let user = store::user_auth_by_email(&at, &email).await?;
    let (hash, user) = match user {
        Some(u) => (Some(u.password_hash.clone()), Some(u)),
        None => (None, None),
    };
    let ok = verify_password(form.password, hash).await?;
    let refused = ApiError::Unauthorized {
        invalid_token: false,
        detail: "wrong email or password".into(),
    };
    let Some(user) = user else {
        // No account to name: nothing for the trail (the log has the line).
        return Err(refused);
    };
    let account = store::ActorRef {
        kind: casebook_domain::AccountKind::User,
        id: user.id.clone(),
        name: user.name.clone(),
    };
    if !ok {
        // Recorded after the answer, not before it: a write only for an
        // address that has an account would let response times tell which
        // addresses do. The actor is the account as claimed.
        let context = crate::request_context::RequestContext::current();
        tokio::spawn(context.scope(async move {
            let event =
                store::Event::new("user.sign_in_refused", "user", &account.id).detail("wrong password".to_owned());
            if let Err(error) = store::record(&at, &account, event).await {
                tracing::error!(%error, "a refused sign-in could not be written to the audit trail");
            }
        }));
        return Err(refused);
    }
    let token = format!("{SESSION_TOKEN_PREFIX}{}", random_token());
    let expires_at = at.now_micros() + SESSION_TTL_MICROS;
    store::create_session(&at, &account, &token_digest(&token), expires_at).await?;
    tracing::info!(user = %user.id, "signed in");
    Ok((
        StatusCode::CREATED,
        // The answer is a credential: no cache may keep it (RFC 9111 §5.2.2.5).
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(SessionView {
            token,
            expires_at: casebook_domain::Timestamp::from_unix_micros(expires_at),
        }),
    ))
}

/// Sign out: the session token stops working.
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
