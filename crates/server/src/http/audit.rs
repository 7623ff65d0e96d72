//! The audit trail.

use crate::error::{ApiError, Problem};
use crate::extract::ApiQuery;
use crate::http::query::PageQuery;
use crate::state::AppState;
use crate::store;
use crate::store::Scope;
use crate::views::*;
use axum::Json;
use casebook_domain::{ErrorCode, FieldError};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// `?limit=&cursor=&action=&target_id=&actor_id=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// 1 to 100; 50 when absent.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
    /// One action (`application.disabled`), or a family ending in a dot
    /// (`application.`, `user.`, `role.`).
    #[param(
        min_length = 1,
        max_length = 64,
        pattern = "^[a-z_]+\\.[a-z_]*$",
        example = "application."
    )]
    pub action: Option<String>,
    /// Only events about this record (an application, user or role id).
    #[param(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    pub target_id: Option<String>,
    /// Only events by this account (a user or application id).
    #[param(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    pub actor_id: Option<String>,
}

/// What a filter value may be: the documented pattern, checked here too, so
/// a value outside it is a 422 naming the parameter, not a query.
fn filter_value<'a>(
    field: &'static str,
    value: Option<&'a str>,
    allowed: fn(char) -> bool,
) -> Result<Option<&'a str>, ApiError> {
    match value {
        Some(v) if v.is_empty() || v.chars().count() > 64 || !v.chars().all(allowed) => {
            Err(ApiError::field(FieldError::new(
                field,
                ErrorCode::InvalidValue,
                format!("{field} must be 1 to 64 characters of the documented pattern"),
            )))
        }
        other => Ok(other),
    }
}

fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// The audit trail, newest first, optionally narrowed to an action or a
/// family of actions, a record, or an account. No secret is ever in it.
#[utoipa::path(get, path = "/admin/v1/audit-events", tag = "admin: audit", params(AuditQuery),
    responses(
        (status = 200, description = "A page of events", body = Page<AuditEventView>),
        (status = 422, description = "Bad limit or filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_audit(at: Scope, ApiQuery(q): ApiQuery<AuditQuery>) -> Result<Json<Page<AuditEventView>>, ApiError> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    };
    let action = filter_value("action", q.action.as_deref(), |c| {
        c.is_ascii_lowercase() || c == '_' || c == '.'
    })?;
    if action.is_some_and(|a| a.matches('.').count() != 1 || a.starts_with('.')) {
        return Err(ApiError::field(FieldError::new(
            "action",
            ErrorCode::InvalidValue,
            "action is one action (application.disabled) or a family ending in a dot (application.)",
        )));
    }
    let filter = store::AuditFilter {
        action,
        target_id: filter_value("target_id", q.target_id.as_deref(), id_char)?,
        actor_id: filter_value("actor_id", q.actor_id.as_deref(), id_char)?,
    };
    Ok(Json(crate::views::page(
        store::list_audit(&at, page.cursor()?, page.limit()?, filter).await?,
    )))
}
