//! The admin API's view of webhooks and their deliveries.

use super::Actor;
use crate::Timestamp;
use serde::{Deserialize, Serialize};

/// An endpoint that receives the tenant's audit events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = WebhookView))]
pub struct Webhook {
    pub id: String,
    /// Where deliveries are sent.
    pub url: String,
    /// The event types and families it receives, as given.
    pub events: Vec<String>,
    /// `null` when none was given.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub description: Option<String>,
    /// Off, no new event is queued for it.
    pub enabled: bool,
    /// RFC 3339.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub created_at: Timestamp,
    pub created_by: Actor,
}

/// `POST /admin/v1/webhooks`: the endpoint, with its signing secret shown
/// this once (and never by `Debug`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = CreatedWebhook))]
pub struct CreatedWebhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub description: Option<String>,
    pub enabled: bool,
    /// RFC 3339.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub created_at: Timestamp,
    pub created_by: Actor,
    /// `whsec_` and the base64 key that signs every delivery (Standard
    /// Webhooks). Shown this once; the server keeps it sealed.
    pub secret: String,
}

impl std::fmt::Debug for CreatedWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedWebhook")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("enabled", &self.enabled)
            .field("secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// `GET /admin/v1/webhooks`: every endpoint of the tenant (at most 20), oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = WebhookList))]
pub struct Webhooks {
    pub items: Vec<Webhook>,
}

/// One audit event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = WebhookDeliveryView))]
pub struct WebhookDelivery {
    /// The delivery's id: the audit event's id, which is also the
    /// `webhook-id` header the receiver sees (the same on every attempt).
    pub id: String,
    /// The event's action, the body's `type`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// `pending` (queued or to be retried), `delivered` (a 2xx came back)
    /// or `failed` (retried for 24 hours without one).
    pub status: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// RFC 3339: when the event was queued.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub created_at: Timestamp,
    /// RFC 3339; `null` before the first attempt.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, required = true))]
    pub last_attempt_at: Option<Timestamp>,
    /// RFC 3339; `null` once delivered or given up.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, required = true))]
    pub next_attempt_at: Option<Timestamp>,
    /// The HTTP status of the last answer; `null` when none came.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub response_status: Option<i64>,
    /// Why the last attempt failed; `null` when it did not.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_error: Option<String>,
}

/// A page of an endpoint's deliveries, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = WebhookDeliveryPage))]
pub struct WebhookDeliveries {
    pub items: Vec<WebhookDelivery>,
    /// Pass as `cursor` for the next page; `null` on the last.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}
