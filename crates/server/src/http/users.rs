//! User accounts.

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::auth::Caller;
use crate::http::password_links::{LinkToken, console_link};
use crate::http::query::PageQuery;
use crate::password::hash_password;
use crate::state::AppState;
use crate::store;
use crate::store::Scope;
use crate::store::{FirstPassword, NewLink};
use crate::tenancy::Tenant;
use crate::views::*;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use casebook_domain::mfa::LinkPurpose;
use casebook_domain::notice::PasswordLinkNotice;
use casebook_domain::user::{CurrentUser, UserChange, UserFacts, UserForm};
use casebook_domain::{AccountKind, AccountRef, Email};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
}

async fn user_facts(
    at: &Scope,
    email: Option<&str>,
    roles: &[String],
    current: Option<CurrentUser>,
) -> Result<UserFacts, ApiError> {
    // Looked up as typed, valid or not: the account's own address sent back
    // unchanged is no change even when today's rule would refuse it
    // (`UserChange::validate`).
    let email_holder = match email.map(Email::for_lookup) {
        Some(email) => store::email_holder(at, &email).await?,
        None => None,
    };
    Ok(UserFacts {
        existing_roles: store::existing_roles(at, roles).await?,
        email_holder,
        current,
    })
}

/// List users.
///
/// The tenant's user accounts with their roles, paged like every list
/// (`limit`, `cursor`).
#[utoipa::path(get, path = "/admin/v1/users", tag = "admin: users", params(PageQuery),
    responses(
        (status = 200, description = "A page of users", body = Page<UserView>),
        (status = 422, description = "Bad limit", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_users(at: Scope, ApiQuery(q): ApiQuery<PageQuery>) -> Result<Json<Page<UserView>>, ApiError> {
    Ok(Json(crate::views::page(
        store::list_users(&at, q.cursor()?, q.limit()?).await?,
    )))
}

/// Create a user.
///
/// The address must not belong to any account, user or application. Without
/// a `password` the person is invited by email to choose one. The caller must
/// hold every permission the user's roles carry (the grant rule).
#[utoipa::path(post, path = "/admin/v1/users", tag = "admin: users", request_body = UserForm,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_user(
    State(state): State<AppState>,
    tenant: Tenant,
    at: Scope,
    Caller(caller): Caller,
    ApiJson(form): ApiJson<UserForm>,
) -> Result<impl IntoResponse, ApiError> {
    let facts = user_facts(&at, Some(&form.email), &form.roles, None).await?;
    let user = form.validate(&facts)?;
    let author = caller.author();
    let view = match user.password() {
        Some(password) => {
            let hash = hash_password(password.clone()).await?;
            store::create_user(&at, Some(&author), &user, FirstPassword::Hash(&hash)).await?
        }
        None => {
            let token = LinkToken::draw();
            let link = console_link(&tenant, &token.token);
            let console_url = format!("{}/admin", tenant.info().base_url);
            let notice = PasswordLinkNotice {
                purpose: LinkPurpose::Invitation,
                person: user.name(),
                by: Some(&caller.name),
                console_url: &console_url,
            };
            let invitation = FirstPassword::Invitation {
                master: state.master(),
                link: NewLink {
                    purpose: LinkPurpose::Invitation,
                    token_hash: &token.digest,
                    notice: &notice,
                    link: &link,
                },
            };
            store::create_user(&at, Some(&author), &user, invitation).await?
        }
    };
    Ok((StatusCode::CREATED, Json(UserView::from(view))))
}

/// Get a user.
///
/// One user account by its id, with its roles and status.
#[utoipa::path(get, path = "/admin/v1/users/{id}", tag = "admin: users", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_user(at: Scope, ApiPath(id): ApiPath<String>) -> Result<Json<UserView>, ApiError> {
    Ok(Json(store::get_user(&at, &id).await?.into()))
}

/// Change a user.
///
/// Absent fields stay as they are. A change that would leave no user holding
/// every admin permission is refused (409), and the caller must hold every
/// permission the user's roles carry before and after.
#[utoipa::path(patch, path = "/admin/v1/users/{id}", tag = "admin: users", params(("id" = String, Path)), request_body = UserChange,
    responses(
        (status = 200, description = "Changed", body = UserView),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The change would leave no user holding every admin permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_user(
    at: Scope,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(change): ApiJson<UserChange>,
) -> Result<Json<UserView>, ApiError> {
    // An unknown id is still judged as a form first (its 422 before the
    // 404), as before the stored fields took part.
    let current = match store::get_user(&at, &id).await {
        Ok(stored) => Some(CurrentUser {
            email: stored.email,
            name: stored.name,
        }),
        Err(store::StoreError::NotFound(_)) => None,
        Err(error) => return Err(error.into()),
    };
    let facts = user_facts(
        &at,
        change.email.as_deref(),
        change.roles.as_deref().unwrap_or_default(),
        current,
    )
    .await?;
    let change = change.validate(&facts, &AccountRef::new(AccountKind::User, &id))?;
    if (change.password().is_some() || change.email().is_some())
        && !casebook_domain::grant::may_set_sign_in_details(caller.kind)
    {
        return Err(ApiError::forbidden(
            "only a signed-in person can set a user's password or email; an application cannot",
        ));
    }
    if change.enabled() == Some(false)
        && !casebook_domain::user::may_remove(
            &AccountRef::new(caller.kind, &caller.id),
            &AccountRef::new(AccountKind::User, &id),
        )
    {
        return Err(ApiError::Conflict {
            detail: "you cannot disable your own account; ask another administrator".into(),
            holders: None,
        });
    }
    let hash = match change.password() {
        Some(p) => Some(hash_password(p.clone()).await?),
        None => None,
    };
    Ok(Json(
        store::update_user(&at, &caller.author(), &id, &change, hash.as_deref())
            .await?
            .into(),
    ))
}

/// Remove a user.
///
/// The account's sessions end with it. Nobody removes their own account, nor
/// the last user holding every admin permission (409).
#[utoipa::path(delete, path = "/admin/v1/users/{id}", tag = "admin: users", params(("id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A user cannot remove their own account, nor the last user holding every admin permission", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_user(
    at: Scope,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if !casebook_domain::user::may_remove(
        &AccountRef::new(caller.kind, &caller.id),
        &AccountRef::new(AccountKind::User, &id),
    ) {
        return Err(ApiError::Conflict {
            detail: "you cannot remove your own account; ask another administrator".into(),
            holders: None,
        });
    }
    store::delete_user(&at, &caller.author(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
