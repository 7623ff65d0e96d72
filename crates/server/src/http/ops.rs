//! Health, readiness, metrics.

use crate::db::NotReady;
use crate::error::ApiError;
use crate::metrics::PoolUse;
use crate::state::AppState;
use crate::store;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(healthz))
        .routes(utoipa_axum::routes!(readyz))
        .routes(utoipa_axum::routes!(metrics))
}

/// Liveness.
///
/// Answers as long as the process serves HTTP; it reads no database.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is serving", body = String, content_type = "text/plain")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// The longest `/readyz` waits for the database.
const READINESS_DEADLINE: std::time::Duration = std::time::Duration::from_secs(1);

/// Readiness.
///
/// The database can be read and written, and its schema is one this binary
/// serves. Answers 503 while the server drains on shutdown, so a balancer moves
/// traffic away first.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "The database can be read and written, and its schema is one this binary serves", body = String, content_type = "text/plain"),
        (status = 503, description = "The database cannot be reached or written, a newer release's schema needs a newer binary (the answer names both versions), or the server is shutting down", body = String, content_type = "text/plain"),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    // A load balancer's check has its own timeout; answering within it
    // tells "not ready" apart from "not there".
    if state.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    let why = match tokio::time::timeout(READINESS_DEADLINE, state.db().readiness()).await {
        Ok(Ok(())) => return (StatusCode::OK, "ready").into_response(),
        Ok(Err(NotReady::Database(e))) => {
            // The cause is for the log: whoever asks /readyz is not told
            // how the database is reached.
            tracing::warn!(error = %e, "not ready: the database cannot be read and written");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database cannot be read and written",
            )
                .into_response();
        }
        Ok(Err(schema)) => schema.to_string(),
        Err(_) => "the database did not answer within 1 s".to_owned(),
    };
    tracing::warn!(reason = %why, "not ready");
    (StatusCode::SERVICE_UNAVAILABLE, why).into_response()
}

/// How long a scrape waits for the outbox count before it answers with the
/// last one: a scrape must not hang on a database that does not answer.
const SCRAPE_QUERY_TIMEOUT: Duration = Duration::from_secs(1);

/// Prometheus metrics.
///
/// Prometheus text exposition. Served here unless `CASEBOOK_METRICS_ADDR` is
/// set; then it is served on that address only, and this path is 404.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    // Not documented as a 404: with `CASEBOOK_METRICS_ADDR` set the
    // operation is not on this listener at all, like any unknown path.
    responses(
        (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
    ))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    if state.config().metrics_addr.is_some() {
        return ApiError::NotFound("route").into_response();
    }
    exposition(&state).await
}

/// `/metrics`, as either listener serves it: what is read rather than
/// counted (the pool, the outbox) is read now, then everything is written.
pub async fn exposition(state: &AppState) -> Response {
    let pool = state.db().pool();
    let size = u64::from(pool.size());
    let idle = u64::try_from(pool.num_idle()).unwrap_or(u64::MAX).min(size);
    let pool_use = PoolUse {
        idle,
        in_use: size - idle,
        max: u64::from(pool.options().get_max_connections()),
    };
    let depth = match tokio::time::timeout(
        SCRAPE_QUERY_TIMEOUT,
        store::outbox_depth(state.db(), crate::notify::MAX_ATTEMPTS),
    )
    .await
    {
        Ok(Ok(depth)) => Some(depth),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "could not count the outbox for /metrics");
            None
        }
        Err(_) => {
            tracing::warn!("could not count the outbox for /metrics within 1 s");
            None
        }
    };
    state.metrics().observe(pool_use, depth);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics().render(),
    )
        .into_response()
}

/// The listener of `CASEBOOK_METRICS_ADDR`: `GET /metrics` and nothing else.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            axum::routing::get(|State(state): State<AppState>| async move { exposition(&state).await }),
        )
        .fallback(super::not_found)
        .method_not_allowed_fallback(super::method_not_allowed)
        .with_state(state)
}
