//! The audit trail: a page of it, and all of it as a download.

use crate::error::{ApiError, Problem};
use crate::extract::ApiQuery;
use crate::http::query::PageQuery;
use crate::state::AppState;
use crate::store;
use crate::store::Scope;
use crate::views::*;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use casebook_domain::{ErrorCode, FieldError, Timestamp};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit))
        .routes(routes!(export_audit))
}

/// The longest search text: a name, an email or a Client ID.
const MAX_SEARCH_CHARS: usize = 200;

/// `?limit=&cursor=` and the filters.
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
    /// Only events at or after this instant (RFC 3339).
    #[param(format = DateTime, example = "2026-12-01T00:00:00Z")]
    pub since: Option<String>,
    /// Only events before this instant (RFC 3339).
    #[param(format = DateTime, example = "2026-12-08T00:00:00Z")]
    pub until: Option<String>,
    /// Case-insensitive text in the target's or the actor's name (an
    /// application's name, a user's email, a role's name), or a Client ID.
    #[param(min_length = 1, max_length = 200)]
    pub search: Option<String>,
}

/// What an export is written as.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One header line, then a line per event; `changes` as JSON text.
    Csv,
    /// One JSON object a line, each as `GET /admin/v1/audit-events` shows it.
    Jsonl,
}

/// `?format=` and the same filters as a page (spelled out again: a
/// flattened struct would lose `deny_unknown_fields`, and a typo in a filter
/// must not export everything).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `csv` (when absent) or `jsonl`.
    #[param(inline)]
    pub format: Option<ExportFormat>,
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
    /// Only events at or after this instant (RFC 3339).
    #[param(format = DateTime, example = "2026-12-01T00:00:00Z")]
    pub since: Option<String>,
    /// Only events before this instant (RFC 3339).
    #[param(format = DateTime, example = "2026-12-08T00:00:00Z")]
    pub until: Option<String>,
    /// Case-insensitive text in the target's or the actor's name (an
    /// application's name, a user's email, a role's name), or a Client ID.
    #[param(min_length = 1, max_length = 200)]
    pub search: Option<String>,
}

/// The filters of either query, as sent.
#[derive(Debug, Clone, Copy)]
struct FilterText<'a> {
    action: Option<&'a str>,
    target_id: Option<&'a str>,
    actor_id: Option<&'a str>,
    since: Option<&'a str>,
    until: Option<&'a str>,
    search: Option<&'a str>,
}

macro_rules! filter_text {
    ($q:expr) => {
        FilterText {
            action: $q.action.as_deref(),
            target_id: $q.target_id.as_deref(),
            actor_id: $q.actor_id.as_deref(),
            since: $q.since.as_deref(),
            until: $q.until.as_deref(),
            search: $q.search.as_deref(),
        }
    };
}

fn invalid(field: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::field(FieldError::new(field, ErrorCode::InvalidValue, detail.into()))
}

/// What a filter value may be: the documented pattern, checked here too, so
/// a value outside it is a 422 naming the parameter, not a query.
fn filter_value<'a>(
    field: &'static str,
    value: Option<&'a str>,
    allowed: fn(char) -> bool,
) -> Result<Option<&'a str>, ApiError> {
    match value {
        Some(v) if v.is_empty() || v.chars().count() > 64 || !v.chars().all(allowed) => Err(invalid(
            field,
            format!("{field} must be 1 to 64 characters of the documented pattern"),
        )),
        other => Ok(other),
    }
}

fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn instant(field: &'static str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    value
        .map(|text| {
            Timestamp::parse_rfc3339(text)
                .map(Timestamp::unix_micros)
                .ok_or_else(|| {
                    invalid(
                        field,
                        format!("{field} must be an RFC 3339 instant, e.g. 2026-12-01T00:00:00Z"),
                    )
                })
        })
        .transpose()
}

impl<'a> FilterText<'a> {
    fn to_filter(self) -> Result<store::AuditFilter<'a>, ApiError> {
        let action = filter_value("action", self.action, |c| {
            c.is_ascii_lowercase() || c == '_' || c == '.'
        })?;
        if action.is_some_and(|a| a.matches('.').count() != 1 || a.starts_with('.')) {
            return Err(invalid(
                "action",
                "action is one action (application.disabled) or a family ending in a dot (application.)",
            ));
        }
        let since = instant("since", self.since)?;
        let until = instant("until", self.until)?;
        if let (Some(since), Some(until)) = (since, until)
            && since >= until
        {
            return Err(invalid("until", "until must be later than since"));
        }
        let search = match self.search.map(str::trim) {
            Some("") => None,
            Some(text) if text.chars().count() > MAX_SEARCH_CHARS || text.chars().any(char::is_control) => {
                return Err(invalid(
                    "search",
                    format!("search is at most {MAX_SEARCH_CHARS} characters, without control characters"),
                ));
            }
            other => other,
        };
        Ok(store::AuditFilter {
            action,
            target_id: filter_value("target_id", self.target_id, id_char)?,
            actor_id: filter_value("actor_id", self.actor_id, id_char)?,
            since,
            until,
            search,
        })
    }
}

/// The audit trail.
///
/// Newest first, optionally narrowed to an action or a family of actions, a
/// record, an account, a time span or a search. No secret is ever in it.
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
    let filter = filter_text!(q).to_filter()?;
    Ok(Json(crate::views::page(
        store::list_audit(&at, page.cursor()?, page.limit()?, filter).await?,
    )))
}

/// How many events an export reads at a time: memory stays bounded by
/// this, whatever the export's length.
const EXPORT_BATCH: u32 = 500;

const CSV_HEADER: [&str; 14] = [
    "id",
    "at",
    "tenant",
    "actor_kind",
    "actor_id",
    "actor_name",
    "action",
    "target_kind",
    "target_id",
    "target_name",
    "source",
    "request_id",
    "detail",
    "changes",
];

/// Export the audit trail.
///
/// Every event that matches the filters, newest first, streamed as CSV or
/// JSON Lines: read a batch at a time, so an export of any length takes the
/// same memory.
#[utoipa::path(get, path = "/admin/v1/audit-events/export", tag = "admin: audit", params(ExportQuery),
    responses(
        (status = 200, description = "The matching events, as a download",
            headers(("Content-Disposition" = String, description = "attachment; filename=\"audit-events.csv\" (or .jsonl)")),
            content(
                (String = "text/csv"),
                (String = "application/jsonl"),
            )),
        (status = 422, description = "Bad format or filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn export_audit(at: Scope, ApiQuery(q): ApiQuery<ExportQuery>) -> Result<Response, ApiError> {
    // Checked before the first byte: a bad filter is a 422, not a broken
    // download.
    filter_text!(q).to_filter()?;
    let format = q.format.unwrap_or(ExportFormat::Csv);
    let (content_type, extension) = match format {
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        ExportFormat::Jsonl => ("application/jsonl", "jsonl"),
    };
    let state = ExportState {
        at,
        query: q,
        cursor: None,
        format,
        started: false,
        done: false,
    };
    let body = Body::from_stream(futures_util::stream::unfold(state, next_chunk));
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"audit-events.{extension}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

struct ExportState {
    at: Scope,
    query: ExportQuery,
    cursor: Option<String>,
    format: ExportFormat,
    started: bool,
    done: bool,
}

async fn next_chunk(mut state: ExportState) -> Option<(Result<Bytes, std::io::Error>, ExportState)> {
    if state.done {
        return None;
    }
    let mut out = Vec::new();
    if !state.started {
        state.started = true;
        if let ExportFormat::Csv = state.format {
            out.extend_from_slice(csv_line(CSV_HEADER.iter().map(|c| (*c).to_owned())).as_bytes());
        }
    }
    let listed = match filter_text!(state.query).to_filter() {
        Ok(filter) => store::list_audit(&state.at, state.cursor.as_deref(), EXPORT_BATCH, filter).await,
        // Checked before the response began; cannot fail here.
        Err(_) => return None,
    };
    let listed = match listed {
        Ok(listed) => listed,
        Err(error) => {
            // The response has begun: all that is left is to cut it off,
            // which the client sees as an incomplete download.
            tracing::error!(%error, "the audit export stopped: the database failed mid-way");
            state.done = true;
            return Some((Err(std::io::Error::other("the audit export stopped")), state));
        }
    };
    for event in listed.items {
        let view = AuditEventView::from(event);
        match state.format {
            ExportFormat::Jsonl => {
                if serde_json::to_writer(&mut out, &view).is_ok() {
                    out.push(b'\n');
                }
            }
            ExportFormat::Csv => out.extend_from_slice(csv_row(&view).as_bytes()),
        }
    }
    state.cursor = listed.next_cursor;
    state.done = state.cursor.is_none();
    Some((Ok(Bytes::from(out)), state))
}

fn csv_row(event: &AuditEventView) -> String {
    let optional = |v: &Option<String>| v.clone().unwrap_or_default();
    csv_line([
        event.id.clone(),
        event.at.to_rfc3339(),
        event.tenant.clone(),
        event.actor.kind.as_str().to_owned(),
        event.actor.id.to_string(),
        event.actor.name.clone(),
        event.action.clone(),
        event.target_kind.clone(),
        event.target_id.clone(),
        optional(&event.target_name),
        optional(&event.source),
        optional(&event.request_id),
        optional(&event.detail),
        event.changes.as_ref().map(|c| c.to_string()).unwrap_or_default(),
    ])
}

/// One CSV line (RFC 4180). A cell a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@` first: a name is whatever an admin typed) is
/// prefixed with `'`, as OWASP's advice on CSV injection has it.
fn csv_line(cells: impl IntoIterator<Item = String>) -> String {
    let mut line = String::new();
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        let cell = if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{cell}")
        } else {
            cell
        };
        if cell.contains([',', '"', '\n', '\r']) {
            line.push('"');
            line.push_str(&cell.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(&cell);
        }
    }
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::csv_line;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        let line = csv_line(["plain".into(), "a, b".into(), "say \"hi\"".into(), "=SUM(A1)".into()]);
        assert_eq!(line, "plain,\"a, b\",\"say \"\"hi\"\"\",'=SUM(A1)\r\n");
        assert_eq!(csv_line(["two\nlines".into()]), "\"two\nlines\"\r\n");
    }
}
