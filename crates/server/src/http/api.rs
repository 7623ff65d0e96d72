//! The Casebook API: what an end user can do in the UI, for users and
//! applications alike. Access is decided by `auth::ROUTES`, not here.

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::auth::Caller;
use crate::http::query::PageQuery;
use crate::state::AppState;
use crate::store;
use crate::store::Scope;
use crate::views::{CaseView, MeView, Page, ReportView};
use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use casebook_domain::records::{CaseChange, CaseForm, ReportChange, ReportForm};

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(me))
        .routes(utoipa_axum::routes!(list_cases, create_case))
        .routes(utoipa_axum::routes!(get_case, update_case, delete_case))
        .routes(utoipa_axum::routes!(list_reports, create_report))
        .routes(utoipa_axum::routes!(get_report, update_report, delete_report))
}

/// Who the caller is, and its permissions.
#[utoipa::path(get, path = "/api/v1/me", tag = "casebook api",
    responses(
        (status = 200, description = "The caller", body = MeView),
    ))]
pub async fn me(Caller(caller): Caller) -> Json<MeView> {
    Json(MeView {
        kind: caller.kind,
        id: caller.id.into(),
        name: caller.name,
        permissions: caller.permissions,
        client_id: caller.client_id.map(casebook_domain::ClientId::from_stored),
    })
}

/// Engage cases.
#[utoipa::path(get, path = "/api/v1/engage/cases", tag = "casebook api", params(PageQuery),
    responses(
        (status = 200, description = "A page of cases", body = Page<CaseView>),
        (status = 422, description = "Bad limit", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_cases(at: Scope, ApiQuery(q): ApiQuery<PageQuery>) -> Result<Json<Page<CaseView>>, ApiError> {
    Ok(Json(crate::views::page(
        store::list_cases(&at, q.cursor()?, q.limit()?).await?,
    )))
}

/// Open a case.
#[utoipa::path(post, path = "/api/v1/engage/cases", tag = "casebook api", request_body = CaseForm,
    responses(
        (status = 201, description = "Created", body = CaseView),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_case(
    at: Scope,
    Caller(caller): Caller,
    ApiJson(form): ApiJson<CaseForm>,
) -> Result<impl IntoResponse, ApiError> {
    let case = form.validate()?;
    Ok((
        StatusCode::CREATED,
        Json(CaseView::from(store::create_case(&at, &caller.actor(), &case).await?)),
    ))
}

/// One case.
#[utoipa::path(get, path = "/api/v1/engage/cases/{id}", tag = "casebook api", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The case", body = CaseView),
        (status = 404, description = "No such case", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_case(at: Scope, ApiPath(id): ApiPath<String>) -> Result<Json<CaseView>, ApiError> {
    Ok(Json(store::get_case(&at, &id).await?.into()))
}

/// Change a case.
#[utoipa::path(patch, path = "/api/v1/engage/cases/{id}", tag = "casebook api", params(("id" = String, Path)), request_body = CaseChange,
    responses(
        (status = 200, description = "Changed", body = CaseView),
        (status = 404, description = "No such case", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_case(
    at: Scope,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(change): ApiJson<CaseChange>,
) -> Result<Json<CaseView>, ApiError> {
    let change = change.validate()?;
    Ok(Json(
        store::update_case(&at, &caller.actor(), &id, &change).await?.into(),
    ))
}

/// Remove a case.
#[utoipa::path(delete, path = "/api/v1/engage/cases/{id}", tag = "casebook api", params(("id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such case", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_case(at: Scope, ApiPath(id): ApiPath<String>) -> Result<StatusCode, ApiError> {
    store::delete_case(&at, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Intake reports.
#[utoipa::path(get, path = "/api/v1/intake/reports", tag = "casebook api", params(PageQuery),
    responses(
        (status = 200, description = "A page of reports", body = Page<ReportView>),
        (status = 422, description = "Bad limit", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_reports(at: Scope, ApiQuery(q): ApiQuery<PageQuery>) -> Result<Json<Page<ReportView>>, ApiError> {
    Ok(Json(crate::views::page(
        store::list_reports(&at, q.cursor()?, q.limit()?).await?,
    )))
}

/// File a report.
#[utoipa::path(post, path = "/api/v1/intake/reports", tag = "casebook api", request_body = ReportForm,
    responses(
        (status = 201, description = "Created", body = ReportView),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_report(
    at: Scope,
    Caller(caller): Caller,
    ApiJson(form): ApiJson<ReportForm>,
) -> Result<impl IntoResponse, ApiError> {
    let report = form.validate()?;
    Ok((
        StatusCode::CREATED,
        Json(ReportView::from(
            store::create_report(&at, &caller.actor(), &report).await?,
        )),
    ))
}

/// One report.
#[utoipa::path(get, path = "/api/v1/intake/reports/{id}", tag = "casebook api", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The report", body = ReportView),
        (status = 404, description = "No such report", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_report(at: Scope, ApiPath(id): ApiPath<String>) -> Result<Json<ReportView>, ApiError> {
    Ok(Json(store::get_report(&at, &id).await?.into()))
}

/// Change a report.
#[utoipa::path(patch, path = "/api/v1/intake/reports/{id}", tag = "casebook api", params(("id" = String, Path)), request_body = ReportChange,
    responses(
        (status = 200, description = "Changed", body = ReportView),
        (status = 404, description = "No such report", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_report(
    at: Scope,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(change): ApiJson<ReportChange>,
) -> Result<Json<ReportView>, ApiError> {
    let change = change.validate()?;
    Ok(Json(
        store::update_report(&at, &caller.actor(), &id, &change).await?.into(),
    ))
}

/// Remove a report.
#[utoipa::path(delete, path = "/api/v1/intake/reports/{id}", tag = "casebook api", params(("id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such report", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_report(at: Scope, ApiPath(id): ApiPath<String>) -> Result<StatusCode, ApiError> {
    store::delete_report(&at, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
