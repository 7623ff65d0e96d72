//! Setting a password through a one-time link: the reset a person asks for
//! by address, and the page both invitations and resets lead to.

use crate::crypto::{random_token, token_digest};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::password::hash_password;
use crate::state::AppState;
use crate::store::{self, ActorRef, NewLink, Scope};
use crate::tenancy::Tenant;
use axum::extract::State;
use axum::http::StatusCode;
use casebook_domain::mfa::LinkPurpose;
use casebook_domain::notice::PasswordLinkNotice;
use casebook_domain::wire::{PasswordResetRequest, SetPasswordRequest};
use casebook_domain::{AccountKind, Email};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_reset))
        .routes(routes!(set_password))
}

/// Where a link leads: the console's page that sets a password. The token
/// rides in the fragment, which browsers send to no server, so it stays out
/// of access logs, proxies and `Referer` headers.
pub fn console_link(tenant: &Tenant, token: &str) -> String {
    format!("{}/admin#set-password?token={token}", tenant.info().base_url)
}

/// A new link's token, and what to write for it.
pub struct LinkToken {
    pub token: String,
    pub digest: Vec<u8>,
}

impl std::fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkToken([redacted])")
    }
}

impl LinkToken {
    /// A fresh token from the server's random source.
    pub fn draw() -> Self {
        let token = random_token();
        let digest = token_digest(&token);
        Self { token, digest }
    }
}

/// Ask for a password reset.
///
/// Always 202, whether or not the address holds an account, so the answer
/// tells nobody which addresses do. When it does, a one-time link (1 hour)
/// goes to it.
#[utoipa::path(post, path = "/admin/v1/password-resets", tag = "admin: sign-in",
    request_body = PasswordResetRequest,
    security(()),
    responses(
        (status = 202, description = "If the address holds an account, a link is on its way"),
        (status = 422, description = "The body is not `{\"email\"}`", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn request_reset(
    State(state): State<AppState>,
    tenant: Tenant,
    at: Scope,
    crate::http::oauth::PeerAddr(peer): crate::http::oauth::PeerAddr,
    ApiJson(request): ApiJson<PasswordResetRequest>,
) -> StatusCode {
    let email = Email::for_lookup(&request.email);
    // A spent budget sends nothing, and says so to nobody: a flood of
    // resets must not become a flood of mail.
    let throttled = state
        .throttle()
        .sign_in_attempt(tenant.id(), email.normalized(), peer)
        .is_some();
    if tenant.is_enabled() && !throttled {
        // After the answer: the time it takes must not tell an account apart.
        let context = crate::request_context::RequestContext::current();
        tokio::spawn(context.scope(async move {
            if let Err(error) = send_reset(&state, &tenant, &at, &email).await {
                tracing::error!(%error, "a password reset could not be queued");
            }
        }));
    }
    StatusCode::ACCEPTED
}

async fn send_reset(state: &AppState, tenant: &Tenant, at: &Scope, email: &Email) -> Result<(), sqlx::Error> {
    let Some((id, name, address)) = store::user_by_email(at, email).await? else {
        return Ok(());
    };
    let token = LinkToken::draw();
    let link = console_link(tenant, &token.token);
    let console_url = format!("{}/admin", tenant.info().base_url);
    let notice = PasswordLinkNotice {
        purpose: LinkPurpose::Reset,
        person: &name,
        by: None,
        console_url: &console_url,
    };
    let person = ActorRef {
        kind: AccountKind::User,
        id,
        name: name.clone(),
    };
    let new_link = NewLink {
        purpose: LinkPurpose::Reset,
        token_hash: &token.digest,
        notice: &notice,
        link: &link,
    };
    store::request_password_reset(at, state.master(), &person, &address, &new_link).await
}

/// Set a password from a link.
///
/// The token of an invitation or reset link, and the new password. The token
/// works once; a password the policy refuses leaves it working.
#[utoipa::path(post, path = "/admin/v1/set-password", tag = "admin: sign-in",
    request_body = SetPasswordRequest,
    security(()),
    responses(
        (status = 204, description = "The password is set; sign in with it. Every session of the account has ended"),
        (status = 400, description = "The link is unknown, used or expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The password is refused (`weak_password`, `too_short`, …)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_password(
    State(_state): State<AppState>,
    at: Scope,
    ApiJson(request): ApiJson<SetPasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let unusable = || {
        ApiError::BadRequest(
            "this link is unknown, used or expired: ask for a new one (Forgot password?) or a new invitation".into(),
        )
    };
    let digest = token_digest(&request.token);
    let Some(holder) = store::password_link(&at, &digest).await? else {
        return Err(unusable());
    };
    casebook_domain::password_policy::judge_new_password(&request.password, Some(&holder.email))
        .map_err(|error| ApiError::Validation(error.into()))?;
    let hash = hash_password(request.password).await?;
    if !store::set_password_by_link(&at, &digest, &holder, &hash).await? {
        return Err(unusable());
    }
    Ok(StatusCode::NO_CONTENT)
}
