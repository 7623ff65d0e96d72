//! Webhooks (the contract, "Webhooks"): the endpoints a tenant's audit
//! events are sent to, and their deliveries.
//!
//! An endpoint receives the trail, so adding or changing one needs what
//! reading the trail needs (`admin:view`) and what changing settings needs
//! (`admin:edit`), held by a signed-in person: an application's token, even
//! one holding both, cannot point the trail somewhere else. Listing
//! endpoints and deliveries needs `admin:view`; sending a delivery again
//! needs `admin:edit` (it sends nothing new, to nowhere new).

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::auth::{Caller, Principal};
use crate::http::query::PageQuery;
use crate::state::AppState;
use crate::store::{self, DeliveryRecord, Scope, WebhookRecord};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use casebook_domain::webhook::{WebhookChange, WebhookForm};
use casebook_domain::wire::{CreatedWebhook, Webhook, WebhookDeliveries, WebhookDelivery, Webhooks};
use casebook_domain::{Action, Module, Permission};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This resource's operations, documented: merged into the router and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, change_webhook, delete_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(retry_delivery))
}

fn view(record: WebhookRecord) -> Webhook {
    Webhook {
        id: record.id,
        url: record.url,
        events: record.events,
        description: record.description,
        enabled: record.enabled,
        created_at: record.created_at,
        created_by: record.created_by.into(),
    }
}

fn delivery_view(record: DeliveryRecord) -> WebhookDelivery {
    let status = if record.next_attempt_at.is_some() {
        "pending"
    } else if record.delivered_at.is_some() {
        "delivered"
    } else {
        "failed"
    };
    WebhookDelivery {
        id: record.event_id,
        event_type: record.action,
        status: status.to_owned(),
        attempts: record.attempts,
        created_at: record.created_at,
        last_attempt_at: record.last_attempt_at,
        next_attempt_at: record.next_attempt_at,
        response_status: record.response_status,
        last_error: record.last_error,
    }
}

/// The route's rule asks for a signed-in person holding `admin:edit`; the
/// trail an endpoint receives is what `admin:view` shows.
fn may_view_the_trail(caller: &Principal) -> Result<(), ApiError> {
    let view = Permission::new(Module::Admin, Action::View);
    if caller.permissions.contains(view) {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            detail: format!(
                "a webhook receives the audit trail, which needs the {view} permission; the caller does not have it"
            ),
            insufficient_scope: Some(view.to_string()),
        })
    }
}

/// List webhooks.
///
/// Every endpoint of the tenant (at most 20), oldest first. Secrets are
/// never shown again.
#[utoipa::path(get, path = "/admin/v1/webhooks", tag = "admin: webhooks",
    responses((status = 200, description = "Every webhook of the tenant", body = Webhooks)))]
pub async fn list_webhooks(at: Scope) -> Result<Json<Webhooks>, ApiError> {
    let records = store::list_webhooks(&at).await?;
    Ok(Json(Webhooks {
        items: records.into_iter().map(view).collect(),
    }))
}

/// Add a webhook.
///
/// The tenant's audit events of the types named in `events` are sent to
/// `url` as they happen, signed per Standard Webhooks with the `secret` in
/// the answer, which is shown this once. Needs a signed-in person holding
/// `admin:view` and `admin:edit`.
#[utoipa::path(post, path = "/admin/v1/webhooks", tag = "admin: webhooks", request_body = WebhookForm,
    responses(
        (status = 201, description = "Added; the secret is shown this once", body = CreatedWebhook),
        (status = 409, description = "The tenant already has 20 webhooks", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_webhook(
    State(state): State<AppState>,
    at: Scope,
    Caller(caller): Caller,
    ApiJson(form): ApiJson<WebhookForm>,
) -> Result<impl IntoResponse, ApiError> {
    may_view_the_trail(&caller)?;
    let webhook = form.validate(state.config().allow_private_webhook_urls)?;
    let (key, secret) = crate::webhooks::new_secret();
    let record = store::create_webhook(&at, &caller.actor(), state.master(), &webhook, &key).await?;
    tracing::info!(webhook = %record.id, user = %caller.id, "webhook added");
    let shown = view(record);
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            id: shown.id,
            url: shown.url,
            events: shown.events,
            description: shown.description,
            enabled: shown.enabled,
            created_at: shown.created_at,
            created_by: shown.created_by,
            secret,
        }),
    ))
}

/// Get a webhook.
///
/// One endpoint, without its secret.
#[utoipa::path(get, path = "/admin/v1/webhooks/{id}", tag = "admin: webhooks", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The webhook", body = Webhook),
        (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_webhook(at: Scope, ApiPath(id): ApiPath<String>) -> Result<Json<Webhook>, ApiError> {
    Ok(Json(view(store::webhook(&at, &id).await?)))
}

/// Change a webhook.
///
/// Its `url`, `events`, `description` or `enabled`; what is not given
/// stays. Needs a signed-in person holding `admin:view` and `admin:edit`.
#[utoipa::path(patch, path = "/admin/v1/webhooks/{id}", tag = "admin: webhooks", params(("id" = String, Path)),
    request_body = WebhookChange,
    responses(
        (status = 200, description = "Changed", body = Webhook),
        (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn change_webhook(
    State(state): State<AppState>,
    at: Scope,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(change): ApiJson<WebhookChange>,
) -> Result<Json<Webhook>, ApiError> {
    may_view_the_trail(&caller)?;
    let change = change.validate(state.config().allow_private_webhook_urls)?;
    let record = store::change_webhook(&at, &caller.actor(), &id, &change).await?;
    tracing::info!(webhook = %record.id, user = %caller.id, "webhook changed");
    Ok(Json(view(record)))
}

/// Remove a webhook.
///
/// Deliveries not yet sent are dropped with it. Needs a signed-in person
/// holding `admin:view` and `admin:edit`.
#[utoipa::path(delete, path = "/admin/v1/webhooks/{id}", tag = "admin: webhooks", params(("id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_webhook(
    at: Scope,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    may_view_the_trail(&caller)?;
    store::delete_webhook(&at, &caller.actor(), &id).await?;
    tracing::info!(webhook = %id, user = %caller.id, "webhook removed");
    Ok(StatusCode::NO_CONTENT)
}

/// List a webhook's deliveries.
///
/// Its recent deliveries (the last 30 days), newest first: each audit event
/// sent or to be sent, how many attempts it took and how the last ended.
#[utoipa::path(get, path = "/admin/v1/webhooks/{id}/deliveries", tag = "admin: webhooks",
    params(("id" = String, Path), PageQuery),
    responses(
        (status = 200, description = "A page of deliveries", body = WebhookDeliveries),
        (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad limit", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_deliveries(
    at: Scope,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<WebhookDeliveries>, ApiError> {
    let listed = store::list_deliveries(&at, &id, q.cursor()?, q.limit()?).await?;
    Ok(Json(WebhookDeliveries {
        items: listed.items.into_iter().map(delivery_view).collect(),
        next_cursor: listed.next_cursor,
    }))
}

/// Send a delivery again.
///
/// Queues it at once, with a new day of retries, whether it was delivered,
/// is waiting or was given up; a delivery being sent at that moment is a
/// 409. Only a signed-in person may ask. The receiver sees the same
/// `webhook-id`.
#[utoipa::path(post, path = "/admin/v1/webhooks/{id}/deliveries/{delivery_id}/retry", tag = "admin: webhooks",
    params(("id" = String, Path), ("delivery_id" = String, Path)),
    responses(
        (status = 202, description = "Queued", body = WebhookDelivery),
        (status = 404, description = "No such webhook or delivery", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The delivery is being sent right now", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn retry_delivery(
    at: Scope,
    Caller(caller): Caller,
    ApiPath((id, delivery_id)): ApiPath<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let record = store::retry_delivery(&at, &caller.actor(), &id, &delivery_id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery_view(record))))
}
