//! Usage at a glance (the contract, "Usage at a glance"): an application's
//! counts per hour, and the tenant's, for the console's charts. What is
//! counted and when it is written is `crate::usage`; the window and the
//! buckets are `casebook_domain::usage`.

use crate::error::{ApiError, Problem};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;
use crate::store::{self, Scope};
use axum::Json;
use axum::extract::State;
use casebook_domain::usage::{Counter, UsageWindow, buckets};
use casebook_domain::wire::{ApplicationUsage, TenantUsage, Usage};
use casebook_domain::{ApplicationId, Timestamp};
use serde::Deserialize;
use std::collections::HashMap;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(application_usage))
        .routes(routes!(tenant_usage))
}

/// `?since=&until=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// The first hour (RFC 3339, taken back to its hour); at most 30 days
    /// back; 7 days before `until` when absent.
    #[param(format = DateTime, example = "2026-12-01T00:00:00Z")]
    pub since: Option<String>,
    /// The end, exclusive (RFC 3339); now when absent.
    #[param(format = DateTime, example = "2026-12-08T00:00:00Z")]
    pub until: Option<String>,
}

impl UsageQuery {
    fn window(&self, state: &AppState) -> Result<UsageWindow, ApiError> {
        Ok(UsageWindow::parse(
            self.since.as_deref(),
            self.until.as_deref(),
            state.now(),
        )?)
    }
}

/// An application's usage.
///
/// Tokens issued, token requests refused by reason, and API calls refused
/// with the application's tokens, per hour (UTC), oldest first, summed over
/// every replica; hours with nothing counted are left out. A count shows
/// within 15 seconds of the request it counts; counts are kept 30 days.
#[utoipa::path(get, path = "/admin/v1/external-applications/{id}/usage", tag = "admin: external applications",
    params(("id" = String, Path), UsageQuery),
    responses(
        (status = 200, description = "Counts per hour", body = Usage),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`since` or `until` is not an RFC 3339 instant, `since` is more than 30 days back, or `until` is not after it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn application_usage(
    State(state): State<AppState>,
    at: Scope,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<UsageQuery>,
) -> Result<Json<Usage>, ApiError> {
    let window = query.window(&state)?;
    store::get_application(&at, &id).await?;
    let rows = store::application_usage(&at, &id, window.since_hour(), window.until()).await?;
    Ok(Json(Usage { buckets: buckets(rows) }))
}

/// The tenant's usage.
///
/// The counts of every application of the tenant summed per hour, as an
/// application's usage has them, and each application with anything
/// counted in the window, most active first, with the latest hour it was
/// active in the last 30 days.
#[utoipa::path(get, path = "/admin/v1/usage", tag = "admin: external applications",
    params(UsageQuery),
    responses(
        (status = 200, description = "Counts per hour, and per application", body = TenantUsage),
        (status = 422, description = "`since` or `until` is not an RFC 3339 instant, `since` is more than 30 days back, or `until` is not after it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn tenant_usage(
    State(state): State<AppState>,
    at: Scope,
    ApiQuery(query): ApiQuery<UsageQuery>,
) -> Result<Json<TenantUsage>, ApiError> {
    let window = query.window(&state)?;
    let rows = store::tenant_usage(&at, window.since_hour(), window.until()).await?;
    let last = store::last_activity(&at).await?;
    let mut totals: HashMap<String, ApplicationUsage> = HashMap::new();
    for (id, _, counter, n) in &rows {
        let app = totals.entry(id.clone()).or_insert_with(|| ApplicationUsage {
            id: ApplicationId::from(id.clone()),
            issued: 0,
            refused: 0,
            api_refused: 0,
            last_activity: last.get(id).copied().map(Timestamp::from_unix_micros),
        });
        match counter {
            Counter::Issued => app.issued += n,
            Counter::ApiRefused => app.api_refused += n,
            _ => app.refused += n,
        }
    }
    let mut applications: Vec<ApplicationUsage> = totals.into_values().collect();
    applications.sort_by(|a, b| {
        let busy = |u: &ApplicationUsage| u.issued + u.refused + u.api_refused;
        busy(b).cmp(&busy(a)).then_with(|| a.id.as_str().cmp(b.id.as_str()))
    });
    // Applications quiet in the window still say when they were last active.
    let busy: std::collections::HashSet<String> = applications.iter().map(|a| a.id.as_str().to_owned()).collect();
    for (id, hour) in last {
        if !busy.contains(&id) {
            applications.push(ApplicationUsage {
                id: ApplicationId::from(id),
                issued: 0,
                refused: 0,
                api_refused: 0,
                last_activity: Some(Timestamp::from_unix_micros(hour)),
            });
        }
    }
    let buckets = buckets(rows.into_iter().map(|(_, hour, counter, n)| (hour, counter, n)));
    Ok(Json(TenantUsage { buckets, applications }))
}
