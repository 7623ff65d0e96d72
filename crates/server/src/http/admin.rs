//! The admin API: sessions, roles, users, external applications, audit trail.

use crate::auth::{Caller, SESSION_TOKEN_PREFIX};
use crate::crypto::{random_bytes, random_token, token_digest};
use crate::db::{micros_to_rfc3339, now_micros};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::store;
use crate::views::*;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use casebook_domain::application::{ApplicationChange, ApplicationFacts, ApplicationForm};
use casebook_domain::pagination::{page_cursor, page_size};
use casebook_domain::role::{RoleChange, RoleForm};
use casebook_domain::user::{Password, UserChange, UserFacts, UserForm};
use casebook_domain::{AccountKind, AccountRef, ClientId, ClientSecret, Email};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// `?limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// 1 to 100; 50 when absent.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<u32, ApiError> {
        page_size(self.limit).map_err(ApiError::field)
    }

    pub fn cursor(&self) -> Result<Option<&str>, ApiError> {
        page_cursor(self.cursor.as_deref()).map_err(ApiError::field)
    }
}

/// `?limit=&cursor=&name=&email=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApplicationQuery {
    /// 1 to 100; 50 when absent.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
    /// Case-insensitive substring of the name.
    #[param(max_length = 254)]
    pub name: Option<String>,
    /// Case-insensitive substring of the email.
    #[param(max_length = 254)]
    pub email: Option<String>,
}

/// No name or address is longer than this, so neither is a useful filter;
/// a longer one would only cost the database.
const MAX_FILTER_CHARS: usize = 254;

fn filter<'a>(field: &'static str, value: Option<&'a str>) -> Result<Option<&'a str>, ApiError> {
    match value {
        Some(text) if text.chars().count() > MAX_FILTER_CHARS => {
            Err(ApiError::field(casebook_domain::FieldError::new(
                field,
                casebook_domain::ErrorCode::TooLong,
                format!("the {field} filter must be at most {MAX_FILTER_CHARS} characters"),
            )))
        }
        other => Ok(other),
    }
}

/// Sign-in form.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub password: Password,
}

/// Re-entered password of the calling admin.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    #[schema(value_type = String, format = Password)]
    pub password: Password,
}

/// Rotation: the admin's password and how long the old secret keeps working.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    #[schema(value_type = String, format = Password)]
    pub password: Password,
    /// 0 (default) to 604800 (7 days).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 604800)]
    pub grace_period_seconds: Option<i64>,
}

pub const MAX_GRACE_PERIOD_SECS: i64 = 7 * 24 * 3600;

// --------------------------------------------------------------- passwords

/// Argon2id with the recommended parameters, on the bounded password pool.
pub async fn hash_password(password: Password) -> Result<String, ApiError> {
    crate::password::hasher()
        .hash(password)
        .await
        .map_err(ApiError::internal)
}

/// Constant time with respect to the password; with no account, a dummy hash
/// is checked so that timing does not reveal which addresses exist.
pub async fn verify_password(password: Password, hash: Option<String>) -> Result<bool, ApiError> {
    crate::password::hasher()
        .verify(password, hash)
        .await
        .map_err(ApiError::internal)
}

// --------------------------------------------------------------- sessions

pub const SESSION_TTL_MICROS: i64 = 8 * 3600 * 1_000_000;

/// Sign in with email and password; returns a bearer session token.
#[utoipa::path(post, path = "/admin/v1/sessions", tag = "admin: sessions",
    request_body = SignIn,
    security(()),
    responses(
        (status = 201, description = "Signed in", body = SessionView, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-in attempts for this address or from this source", body = Problem,
            content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn sign_in(
    State(state): State<AppState>,
    crate::http::oauth::PeerAddr(peer): crate::http::oauth::PeerAddr,
    ApiJson(form): ApiJson<SignIn>,
) -> Result<impl IntoResponse, ApiError> {
    let email = Email::for_lookup(&form.email);
    // Every attempt draws on the budget before the password is checked;
    // otherwise throttling would not slow guessing at all.
    if let Some(wait) = state.throttle.sign_in_attempt(email.normalized(), peer) {
        return Err(ApiError::TooManyRequests {
            detail: "too many sign-in attempts; wait before trying again".into(),
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    let user = store::user_auth_by_email(&state.db, &email).await?;
    let (hash, user) = match user {
        Some(u) => (Some(u.password_hash.clone()), Some(u)),
        None => (None, None),
    };
    let ok = verify_password(form.password, hash).await?;
    let Some(user) = user.filter(|_| ok) else {
        return Err(ApiError::Unauthorized {
            invalid_token: false,
            detail: "wrong email or password".into(),
        });
    };
    let token = format!("{SESSION_TOKEN_PREFIX}{}", random_token());
    let expires_at = now_micros() + SESSION_TTL_MICROS;
    store::create_session(&state.db, &user.id, &token_digest(&token), expires_at).await?;
    tracing::info!(user = %user.id, "signed in");
    Ok((
        StatusCode::CREATED,
        // The answer is a credential: no cache may keep it (RFC 9111 §5.2.2.5).
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(SessionView {
            token,
            expires_at: micros_to_rfc3339(expires_at),
        }),
    ))
}

/// Sign out: the session token stops working.
#[utoipa::path(delete, path = "/admin/v1/sessions/current", tag = "admin: sessions",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a session", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn sign_out(State(state): State<AppState>, Caller(caller): Caller) -> Result<StatusCode, ApiError> {
    let Some(digest) = caller.session else {
        return Err(ApiError::forbidden(
            "only an admin session can be signed out; revoke access tokens at /oauth2/revoke",
        ));
    };
    store::delete_session(&state.db, &digest).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --------------------------------------------------------------- roles

/// The role catalog.
#[utoipa::path(get, path = "/admin/v1/roles", tag = "admin: roles", params(PageQuery),
    responses(
        (status = 200, description = "A page of roles", body = Page<RoleView>),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin:view", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad limit", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_roles(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Page<RoleView>>, ApiError> {
    Ok(Json(store::list_roles(&state.db, q.cursor()?, q.limit()?).await?))
}

/// Add a role.
#[utoipa::path(post, path = "/admin/v1/roles", tag = "admin: roles", request_body = RoleForm,
    responses(
        (status = 201, description = "Created", body = RoleView),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin:create, and every permission the change touches (`missing_permissions` lists those lacking)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_role(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(form): ApiJson<RoleForm>,
) -> Result<impl IntoResponse, ApiError> {
    let role = form.validate()?;
    let view = store::create_role(&state.db, &caller.author(), &role).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One role.
#[utoipa::path(get, path = "/admin/v1/roles/{id}", tag = "admin: roles", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The role", body = RoleView),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin:view", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such role", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_role(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Json<RoleView>, ApiError> {
    Ok(Json(store::get_role(&state.db, &id).await?))
}

/// Change a role's name or permissions. A permission taken away stops
/// working on live tokens within 5 seconds; one added reaches new tokens.
/// The caller must hold every permission the role carries before and after.
#[utoipa::path(patch, path = "/admin/v1/roles/{id}", tag = "admin: roles", params(("id" = String, Path)), request_body = RoleChange,
    responses(
        (status = 200, description = "Changed", body = RoleView),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin:edit, and every permission the change touches (`missing_permissions` lists those lacking)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such role", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The change would leave no user holding every admin permission", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_role(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(change): ApiJson<RoleChange>,
) -> Result<Json<RoleView>, ApiError> {
    let change = change.validate()?;
    let view = store::update_role(&state.db, &caller.author(), &id, &change).await?;
    state.bump_epoch();
    Ok(Json(view))
}

/// Remove a role no account holds.
#[utoipa::path(delete, path = "/admin/v1/roles/{id}", tag = "admin: roles", params(("id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin:delete, and every permission the change touches (`missing_permissions` lists those lacking)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such role", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still assigned; `holders` lists who holds it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_role(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    store::delete_role(&state.db, &caller.author(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --------------------------------------------------------------- users

async fn user_facts(state: &AppState, email: Option<&str>, roles: &[String]) -> Result<UserFacts, ApiError> {
    let email_holder = match email.and_then(|e| Email::parse(e).ok()) {
        Some(email) => store::email_holder(&state.db, &email).await?,
        None => None,
    };
    Ok(UserFacts {
        existing_roles: store::existing_roles(&state.db, roles).await?,
        email_holder,
    })
}

/// User accounts.
#[utoipa::path(get, path = "/admin/v1/users", tag = "admin: users", params(PageQuery),
    responses(
        (status = 200, description = "A page of users", body = Page<UserView>),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin:view", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad limit", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Page<UserView>>, ApiError> {
    Ok(Json(store::list_users(&state.db, q.cursor()?, q.limit()?).await?))
}

/// Create a user; the address must not belong to any account, user or application.
#[utoipa::path(post, path = "/admin/v1/users", tag = "admin: users", request_body = UserForm,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin:create, and every permission the change touches (`missing_permissions` lists those lacking)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(form): ApiJson<UserForm>,
) -> Result<impl IntoResponse, ApiError> {
    let facts = user_facts(&state, Some(&form.email), &form.roles).await?;
    let user = form.validate(&facts)?;
    let hash = hash_password(user.password.clone()).await?;
    let view = store::create_user(&state.db, Some(&caller.author()), &user, &hash).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One user.
#[utoipa::path(get, path = "/admin/v1/users/{id}", tag = "admin: users", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin:view", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_user(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Json<UserView>, ApiError> {
    Ok(Json(store::get_user(&state.db, &id).await?))
}

/// Change a user.
#[utoipa::path(patch, path = "/admin/v1/users/{id}", tag = "admin: users", params(("id" = String, Path)), request_body = UserChange,
    responses(
        (status = 200, description = "Changed", body = UserView),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin:edit, and every permission the change touches (`missing_permissions` lists those lacking)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The change would leave no user holding every admin permission", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(change): ApiJson<UserChange>,
) -> Result<Json<UserView>, ApiError> {
    let facts = user_facts(
        &state,
        change.email.as_deref(),
        change.roles.as_deref().unwrap_or_default(),
    )
    .await?;
    let change = change.validate(&facts, &AccountRef::new(AccountKind::User, &id))?;
    if (change.password.is_some() || change.email.is_some())
        && !casebook_domain::grant::may_set_sign_in_details(caller.kind)
    {
        return Err(ApiError::forbidden(
            "only a signed-in person can set a user's password or email; an application cannot",
        ));
    }
    let hash = match &change.password {
        Some(p) => Some(hash_password(p.clone()).await?),
        None => None,
    };
    Ok(Json(
        store::update_user(&state.db, &caller.author(), &id, &change, hash.as_deref()).await?,
    ))
}

/// Remove a user.
#[utoipa::path(delete, path = "/admin/v1/users/{id}", tag = "admin: users", params(("id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin:delete, and every permission the change touches (`missing_permissions` lists those lacking)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A user cannot remove their own account, nor the last user holding every admin permission", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if caller.kind == AccountKind::User && caller.id == id {
        return Err(ApiError::Conflict {
            detail: "you cannot remove your own account; ask another administrator".into(),
            holders: None,
        });
    }
    store::delete_user(&state.db, &caller.author(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --------------------------------------------------------------- external applications

fn callback_url(state: &AppState) -> &str {
    state.issuer()
}

async fn application_facts(
    state: &AppState,
    email: Option<&str>,
    roles: &[String],
) -> Result<ApplicationFacts, ApiError> {
    let email_holder = match email.and_then(|e| Email::parse(e).ok()) {
        Some(email) => store::email_holder(&state.db, &email).await?,
        None => None,
    };
    Ok(ApplicationFacts {
        existing_roles: store::existing_roles(&state.db, roles).await?,
        email_holder,
    })
}

/// Registered external applications, filtered by name or email.
#[utoipa::path(get, path = "/admin/v1/external-applications", tag = "admin: external applications", params(ApplicationQuery),
    responses(
        (status = 200, description = "A page of applications", body = Page<ApplicationView>),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin:view", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad limit, or a filter longer than 254 characters", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_applications(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ApplicationQuery>,
) -> Result<Json<Page<ApplicationView>>, ApiError> {
    let limit = page_size(q.limit).map_err(ApiError::field)?;
    let cursor = page_cursor(q.cursor.as_deref()).map_err(ApiError::field)?;
    Ok(Json(
        store::list_applications(
            &state.db,
            callback_url(&state),
            cursor,
            limit,
            filter("name", q.name.as_deref())?,
            filter("email", q.email.as_deref())?,
        )
        .await?,
    ))
}

/// Register an external application ("New Application"). The secret is not
/// in the answer: reveal it with the key icon (`client-secret/reveal`).
#[utoipa::path(post, path = "/admin/v1/external-applications", tag = "admin: external applications", request_body = ApplicationForm,
    responses(
        (status = 201, description = "Registered", body = ApplicationView),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin:create, and every permission the change touches (`missing_permissions` lists those lacking)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Every invalid field, with its code", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_application(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(form): ApiJson<ApplicationForm>,
) -> Result<impl IntoResponse, ApiError> {
    let facts = application_facts(&state, Some(&form.email), &form.roles).await?;
    let app = form.validate(&facts)?;
    let client_id = ClientId::from_random(random_bytes());
    let secret = ClientSecret::from_random(random_bytes());
    let view = store::create_application(
        &state.db,
        state.master(),
        callback_url(&state),
        &caller.author(),
        &app,
        &client_id,
        &secret,
    )
    .await?;
    tracing::info!(application = %view.id, client_id = %view.client_id, "external application registered");
    Ok((StatusCode::CREATED, Json(view)))
}

/// The expanded view: Client ID, description, application URL, Callback URL, roles, status.
#[utoipa::path(get, path = "/admin/v1/external-applications/{id}", tag = "admin: external applications", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The application", body = ApplicationView),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin:view", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_application(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ApplicationView>, ApiError> {
    Ok(Json(
        store::get_application(&state.db, callback_url(&state), &id).await?,
    ))
}

/// Change name, email, URL, roles, description, or enable/disable. Disabling
/// refuses the application's tokens everywhere from then on.
#[utoipa::path(patch, path = "/admin/v1/external-applications/{id}", tag = "admin: external applications", params(("id" = String, Path)),
    request_body = ApplicationChange,
    responses(
        (status = 200, description = "Changed", body = ApplicationView),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin:edit, and every permission the change touches (`missing_permissions` lists those lacking)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_application(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(change): ApiJson<ApplicationChange>,
) -> Result<Json<ApplicationView>, ApiError> {
    let facts = application_facts(
        &state,
        change.email.as_deref(),
        change.roles.as_deref().unwrap_or_default(),
    )
    .await?;
    let change = change.validate(&facts, &AccountRef::new(AccountKind::Application, &id))?;
    let view = store::update_application(&state.db, callback_url(&state), &caller.author(), &id, &change).await?;
    state.clients.remove(&view.client_id);
    state.bump_epoch();
    Ok(Json(view))
}

/// Remove an application: its tokens are refused from then on.
#[utoipa::path(delete, path = "/admin/v1/external-applications/{id}", tag = "admin: external applications", params(("id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin:delete, and every permission the change touches (`missing_permissions` lists those lacking)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_application(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let client_id = store::delete_application(&state.db, &caller.author(), &id).await?;
    state.clients.remove(&client_id);
    state.bump_epoch();
    Ok(StatusCode::NO_CONTENT)
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
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Wrong password, not a signed-in person, lacking admin:edit, or the application holds permissions the caller lacks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
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
    store::get_application(&state.db, callback_url(&state), &id).await?;
    store::may_access_secret(&state.db, &caller.author(), &id).await?;
    confirm_password(&state, &caller, request.password, &id).await?;
    let (client_id, secret) = store::reveal_secret(&state.db, state.master(), &caller.author(), &id).await?;
    tracing::info!(application = %id, user = %caller.id, "client secret revealed");
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(SecretView {
            client_id,
            client_secret: secret.expose().to_owned(),
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
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Wrong password, not a signed-in person, lacking admin:edit, or the application holds permissions the caller lacks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Grace period out of range", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Locked after wrong passwords", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<RotateRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let grace = request.grace_period_seconds.unwrap_or(0);
    if !(0..=MAX_GRACE_PERIOD_SECS).contains(&grace) {
        return Err(ApiError::field(casebook_domain::FieldError::new(
            "grace_period_seconds",
            casebook_domain::ErrorCode::InvalidValue,
            format!("grace_period_seconds must be between 0 and {MAX_GRACE_PERIOD_SECS}"),
        )));
    }
    store::get_application(&state.db, callback_url(&state), &id).await?;
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
            client_secret: secret.expose().to_owned(),
            previous_secret_valid_until: until.map(micros_to_rfc3339),
        }),
    ))
}

// --------------------------------------------------------------- audit

/// The audit trail, newest first. No secret is ever in it.
#[utoipa::path(get, path = "/admin/v1/audit-events", tag = "admin: audit", params(PageQuery),
    responses(
        (status = 200, description = "A page of events", body = Page<AuditEventView>),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs admin:view", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad limit", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_audit(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Page<AuditEventView>>, ApiError> {
    Ok(Json(store::list_audit(&state.db, q.cursor()?, q.limit()?).await?))
}
