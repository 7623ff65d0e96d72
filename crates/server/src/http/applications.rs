//! Registered external applications: the "New Application" form, the
//! list, the expanded view, changes and removal.

use crate::crypto::random_bytes;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::auth::Caller;
use crate::state::AppState;
use crate::store::{self, Scope};
use crate::tenancy::Tenant;
use crate::views::{self, *};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use casebook_domain::application::{ApplicationChange, ApplicationFacts, ApplicationForm};
use casebook_domain::auth_method_form::Credentials;
use casebook_domain::client_keys::{AuthMethod, KeySource};
use casebook_domain::pagination::{page_cursor, page_size};
use casebook_domain::{AccountKind, AccountRef, ClientId, ClientSecret, Email};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_applications, create_application))
        .routes(routes!(get_application, update_application, delete_application))
}

/// `?limit=&cursor=&name=&email=&client_id=`.
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
    /// The application with this Client ID (the identifier a partner
    /// quotes), whole.
    #[param(max_length = 254)]
    pub client_id: Option<String>,
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

/// Registering keys hands out a lasting way in, like revealing a secret:
/// only a signed-in person may, never an application's token (which could
/// otherwise mint itself credentials that outlive it).
fn keys_from_a_person(caller: &crate::http::auth::Principal) -> Result<(), ApiError> {
    if caller.kind == AccountKind::Application {
        return Err(ApiError::forbidden(
            "only a signed-in person may register an application's public keys; an application's token may not",
        ));
    }
    Ok(())
}

/// The tenant's issuer: where its applications' users come back to.
fn callback_url(tenant: &Tenant) -> &str {
    tenant.issuer()
}

async fn application_facts(
    state: &AppState,
    at: &Scope,
    email: Option<&str>,
    roles: &[String],
) -> Result<ApplicationFacts, ApiError> {
    let email_holder = match email.and_then(|e| Email::parse(e).ok()) {
        Some(email) => store::email_holder(at, &email).await?,
        None => None,
    };
    Ok(ApplicationFacts {
        existing_roles: store::existing_roles(at, roles).await?,
        email_holder,
        auth_method: None,
        allow_private_jwks_uri: state.config().jwks_fetch.allow_private,
    })
}

/// List external applications.
///
/// Registered applications, filtered by name or email, paged like every list
/// (`limit`, `cursor`).
#[utoipa::path(get, path = "/admin/v1/external-applications", tag = "admin: external applications", params(ApplicationQuery),
    responses(
        (status = 200, description = "A page of applications", body = Page<ApplicationView>),
        (status = 422, description = "Bad limit, or a filter longer than 254 characters", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_applications(
    tenant: Tenant,
    at: Scope,
    ApiQuery(q): ApiQuery<ApplicationQuery>,
) -> Result<Json<Page<ApplicationView>>, ApiError> {
    let limit = page_size(q.limit).map_err(ApiError::field)?;
    let cursor = page_cursor(q.cursor.as_deref()).map_err(ApiError::field)?;
    let listed = store::list_applications(
        &at,
        cursor,
        limit,
        filter("name", q.name.as_deref())?,
        filter("email", q.email.as_deref())?,
        filter("client_id", q.client_id.as_deref())?,
    )
    .await?;
    Ok(Json(Page {
        items: listed
            .items
            .into_iter()
            .map(|app| views::application(app, callback_url(&tenant)))
            .collect(),
        next_cursor: listed.next_cursor,
    }))
}

/// Register an external application.
///
/// "New Application" in the console: a name, a contact email and roles; the
/// answer carries its Client ID. The secret is not in the answer: reveal it
/// with `POST .../client-secret/reveal`. The caller must hold every permission
/// the application's roles carry (the grant rule).
#[utoipa::path(post, path = "/admin/v1/external-applications", tag = "admin: external applications", request_body = ApplicationForm,
    responses(
        (status = 201, description = "Registered", body = ApplicationView),
        (status = 422, description = "Every invalid field, with its code", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_application(
    State(state): State<AppState>,
    tenant: Tenant,
    at: Scope,
    Caller(caller): Caller,
    ApiJson(form): ApiJson<ApplicationForm>,
) -> Result<impl IntoResponse, ApiError> {
    let facts = application_facts(&state, &at, Some(&form.email), &form.roles).await?;
    let app = form.validate(&facts)?;
    if matches!(app.credentials(), Credentials::Keys(_)) {
        keys_from_a_person(&caller)?;
    }
    if let Credentials::Keys(keys) = app.credentials()
        && let Some(set) = keys.inline()
    {
        crate::client_auth::keys::usable(set, "jwks")?;
    }
    let client_id = ClientId::from_random(random_bytes());
    let secret = ClientSecret::from_random(random_bytes());
    let view = store::create_application(
        &at,
        state.master(),
        &state.config().secret_policy,
        callback_url(&tenant),
        &caller.author(),
        &app,
        &client_id,
        &secret,
    )
    .await?;
    tracing::info!(application = %view.id, client_id = %view.client_id, "external application registered");
    Ok((
        StatusCode::CREATED,
        Json(views::application(view, callback_url(&tenant))),
    ))
}

/// Get an external application.
///
/// The expanded view: Client ID, description, application URL, Callback URL,
/// roles, status.
#[utoipa::path(get, path = "/admin/v1/external-applications/{id}", tag = "admin: external applications", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The application", body = ApplicationView),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_application(
    tenant: Tenant,
    at: Scope,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ApplicationView>, ApiError> {
    let app = store::get_application(&at, &id).await?;
    Ok(Json(views::application(app, callback_url(&tenant))))
}

/// Change an external application.
///
/// Name, email, URL, roles, description, or enable/disable; absent fields stay
/// as they are. Disabling refuses the application's tokens everywhere from
/// then on.
#[utoipa::path(patch, path = "/admin/v1/external-applications/{id}", tag = "admin: external applications", params(("id" = String, Path)),
    request_body = ApplicationChange,
    responses(
        (status = 200, description = "Changed", body = ApplicationView),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_application(
    State(state): State<AppState>,
    tenant: Tenant,
    at: Scope,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(change): ApiJson<ApplicationChange>,
) -> Result<Json<ApplicationView>, ApiError> {
    let mut facts = application_facts(
        &state,
        &at,
        change.email.as_deref(),
        change.roles.as_deref().unwrap_or_default(),
    )
    .await?;
    if change.token_endpoint_auth_method.is_some() || change.jwks.is_some() || change.jwks_uri.is_some() {
        let stored = store::get_application(&at, &id).await?;
        facts.auth_method = AuthMethod::parse(&stored.auth_method);
    }
    let change = change.validate(&facts, &AccountRef::new(AccountKind::Application, &id))?;
    if change.credentials().keys.is_some() || change.credentials().method == Some(AuthMethod::PrivateKeyJwt) {
        keys_from_a_person(&caller)?;
    }
    // Dropping the DPoP requirement makes a stolen token usable again: a
    // person decides it, never an application's token (which may be the
    // stolen one).
    if change.dpop_bound_access_tokens() == Some(false) && caller.kind == AccountKind::Application {
        return Err(ApiError::forbidden(
            "only a signed-in person may turn dpop_bound_access_tokens off; an application's token may not",
        ));
    }
    if let Some(set) = change.credentials().keys.as_ref().and_then(KeySource::inline) {
        crate::client_auth::keys::usable(set, "jwks")?;
    }
    // Used only if the change moves the application back to a secret.
    let secret = ClientSecret::from_random(random_bytes());
    let app = store::update_application(
        &at,
        state.master(),
        &state.config().secret_policy,
        &caller.author(),
        &id,
        &change,
        &secret,
    )
    .await?;
    state.client_changed(&app.client_id);
    Ok(Json(views::application(app, callback_url(&tenant))))
}

/// Remove an external application.
///
/// Its secrets stop working and its tokens are refused from then on.
#[utoipa::path(delete, path = "/admin/v1/external-applications/{id}", tag = "admin: external applications", params(("id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_application(
    State(state): State<AppState>,
    at: Scope,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let client_id = store::delete_application(&at, &caller.author(), &id).await?;
    state.client_changed(&client_id);
    Ok(StatusCode::NO_CONTENT)
}
