//! The Casebook API: what an end user can do in the UI, for users and
//! applications alike. Access is decided by `auth::ROUTES`, not here.

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::auth::Caller;
use crate::http::idempotency::Keyed;
use crate::http::query::PageQuery;
use crate::state::AppState;
use crate::store;
use crate::store::{NewRecord, Scope};
use crate::views::{CaseView, MeView, Page, ReportView};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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
///
/// The account behind the credential, an external application (with its
/// `client_id`) or a signed-in person, and the permissions it holds at this
/// moment. It needs no permission, so it is the first call to make with a new
/// token: a 200 here beside a 403 elsewhere means a role is missing, not that
/// the token is wrong.
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

/// List Engage cases.
///
/// A page of cases, in the order of their ids. Ask for up to `limit` (1 to
/// 100, 50 when absent) and pass the answer's `next_cursor` back as `cursor`
/// for the next page; `next_cursor` is `null` on the last one. Paging is by id,
/// so a case opened or removed while you page never makes another repeat or go
/// missing. A `cursor` that is not an earlier page's `next_cursor` is 422.
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
///
/// `title` (1 to 200 characters) is required; `description` (up to 10,000)
/// and `status` (`open`, the default, or `closed`) are optional. A 422 lists
/// every refused field in `errors`. Send an `Idempotency-Key` header to make a
/// retry safe: the same key with the same body within 24 hours gets the first
/// answer again, with `Idempotent-Replayed: true`, and opens no second case.
#[utoipa::path(post, path = "/api/v1/engage/cases", tag = "casebook api", request_body = CaseForm,
    responses(
        (status = 201, description = "Created", body = CaseView),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_case(
    State(state): State<AppState>,
    at: Scope,
    Caller(caller): Caller,
    keyed: Keyed,
    ApiJson(form): ApiJson<CaseForm>,
) -> Result<Response, ApiError> {
    let case = store::new_case(&at, &caller.actor(), &form.validate()?);
    let answer = (StatusCode::CREATED, Json(CaseView::from(case.clone()))).into_response();
    keyed.create(&state, &at, NewRecord::Case(case), answer).await
}

/// Get a case.
///
/// One case by its `id`, as a list or its creation answered it; 404 when this
/// tenant has no case with that id.
#[utoipa::path(get, path = "/api/v1/engage/cases/{id}", tag = "casebook api", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The case", body = CaseView),
        (status = 404, description = "No such case", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_case(at: Scope, ApiPath(id): ApiPath<String>) -> Result<Json<CaseView>, ApiError> {
    Ok(Json(store::get_case(&at, &id).await?.into()))
}

/// Change a case.
///
/// Send only what changes: absent fields stay as they are, and
/// `"description": null` clears the description. Answers the case as it now
/// is; a 422 lists every refused field in `errors`.
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
///
/// Removes the case for good. A second removal answers 404, so a retried
/// removal that answers 404 has done its work.
#[utoipa::path(delete, path = "/api/v1/engage/cases/{id}", tag = "casebook api", params(("id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such case", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_case(at: Scope, ApiPath(id): ApiPath<String>) -> Result<StatusCode, ApiError> {
    store::delete_case(&at, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List Intake reports.
///
/// A page of reports, in the order of their ids. Ask for up to `limit` (1 to
/// 100, 50 when absent) and pass the answer's `next_cursor` back as `cursor`
/// for the next page; `next_cursor` is `null` on the last one. A `cursor` that
/// is not an earlier page's `next_cursor` is 422.
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
///
/// `summary` (1 to 200 characters) is required; `details` (up to 10,000) is
/// optional. A 422 lists every refused field in `errors`. Send an
/// `Idempotency-Key` header to make a retry safe: the same key with the same
/// body within 24 hours gets the first answer again, with
/// `Idempotent-Replayed: true`, and files no second report.
#[utoipa::path(post, path = "/api/v1/intake/reports", tag = "casebook api", request_body = ReportForm,
    responses(
        (status = 201, description = "Created", body = ReportView),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_report(
    State(state): State<AppState>,
    at: Scope,
    Caller(caller): Caller,
    keyed: Keyed,
    ApiJson(form): ApiJson<ReportForm>,
) -> Result<Response, ApiError> {
    let report = store::new_report(&at, &caller.actor(), &form.validate()?);
    let answer = (StatusCode::CREATED, Json(ReportView::from(report.clone()))).into_response();
    keyed.create(&state, &at, NewRecord::Report(report), answer).await
}

/// Get a report.
///
/// One report by its `id`, as a list or its filing answered it; 404 when this
/// tenant has no report with that id.
#[utoipa::path(get, path = "/api/v1/intake/reports/{id}", tag = "casebook api", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The report", body = ReportView),
        (status = 404, description = "No such report", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_report(at: Scope, ApiPath(id): ApiPath<String>) -> Result<Json<ReportView>, ApiError> {
    Ok(Json(store::get_report(&at, &id).await?.into()))
}

/// Change a report.
///
/// Send only what changes: absent fields stay as they are, and
/// `"details": null` clears the details. Answers the report as it now is; a
/// 422 lists every refused field in `errors`.
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
///
/// Removes the report for good. A second removal answers 404, so a retried
/// removal that answers 404 has done its work.
#[utoipa::path(delete, path = "/api/v1/intake/reports/{id}", tag = "casebook api", params(("id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such report", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_report(at: Scope, ApiPath(id): ApiPath<String>) -> Result<StatusCode, ApiError> {
    store::delete_report(&at, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
