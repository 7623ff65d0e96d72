//! The audit trail.

use crate::error::{ApiError, Problem};
use crate::extract::ApiQuery;
use crate::http::query::PageQuery;
use crate::state::AppState;
use crate::store;
use crate::views::*;
use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// The audit trail, newest first. No secret is ever in it.
#[utoipa::path(get, path = "/admin/v1/audit-events", tag = "admin: audit", params(PageQuery),
    responses(
        (status = 200, description = "A page of events", body = Page<AuditEventView>),
        (status = 422, description = "Bad limit", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_audit(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Page<AuditEventView>>, ApiError> {
    Ok(Json(crate::views::page(
        store::list_audit(&state.db, q.cursor()?, q.limit()?).await?,
    )))
}
