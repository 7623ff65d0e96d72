//! Webhook deliveries (the contract, "Webhooks"): the outbox the audit
//! trail writes in each event's transaction (`store/audit.rs`) sent to each endpoint,
//! signed per Standard Webhooks.
//!
//! One background task per replica leases a batch of due deliveries (so
//! two replicas never send the same one at once), sends them with bounded
//! concurrency through the `jwks_uri` fetcher's HTTPS client rules (https
//! only, public addresses only unless allowed, checked again at each
//! connection since DNS can change; `CASEBOOK_EXTRA_CA_FILE`; no
//! redirects), and records each attempt: a 2xx within 10 s is delivered,
//! anything else is tried again with backoff for 24 hours. The API never
//! waits for any of it: the task uses a few pooled connections between
//! batches and none while it waits on a receiver.

use crate::crypto::MasterKey;
use crate::db::Db;
use crate::metrics::WebhookMetrics;
use crate::state::AppState;
use crate::store::{self, Attempt, DueDelivery};
use casebook_domain::webhook::{self, WebhookUrl};
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

/// Deliveries leased at once.
const BATCH: i64 = 64;
/// Requests in flight at once, per replica.
const CONCURRENCY: usize = 16;
/// How long a lease holds: well past a batch's worst case (four rounds of
/// 10 s timeouts), so a live replica's deliveries are never taken over.
const LEASE: Duration = Duration::from_secs(120);
/// How often an empty queue is looked at again.
const POLL: Duration = Duration::from_millis(500);
/// How long finished deliveries stay listed.
const KEEP_FINISHED: Duration = Duration::from_secs(30 * 24 * 3600);

/// Starts the delivery task; its HTTPS client follows the `jwks_uri`
/// fetcher's, with the webhooks' own address setting and 10 s timeout.
pub fn spawn(state: AppState) {
    let config = state.config();
    let client = match crate::jwks_fetch::https_client(
        config.allow_private_webhook_urls,
        config.jwks_fetch.extra_ca_file.as_deref(),
        webhook::TIMEOUT,
        "webhook",
    ) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "webhooks will not be delivered: the HTTPS client could not be set up");
            return;
        }
    };
    let sender = Sender {
        client,
        allow_private: config.allow_private_webhook_urls,
        db: state.db().clone(),
        master: state.master().clone(),
        metrics: state.metrics().webhooks.clone(),
    };
    tokio::spawn(async move { sender.run().await });
}

struct Sender {
    client: reqwest::Client,
    allow_private: bool,
    db: Db,
    master: MasterKey,
    metrics: WebhookMetrics,
}

impl Sender {
    async fn run(self) {
        let mut last_gauge = tokio::time::Instant::now() - Duration::from_secs(60);
        let mut last_purge = tokio::time::Instant::now();
        loop {
            let full = match self.round().await {
                Ok(n) => n as i64 >= BATCH,
                Err(error) => {
                    tracing::warn!(%error, "could not lease webhook deliveries");
                    false
                }
            };
            if last_gauge.elapsed() >= Duration::from_secs(5) {
                last_gauge = tokio::time::Instant::now();
                match store::webhook_queue_depth(&self.db).await {
                    Ok(depth) => {
                        self.metrics.queue_depth.set(depth);
                    }
                    Err(error) => tracing::warn!(%error, "could not count webhook deliveries"),
                }
            }
            if last_purge.elapsed() >= Duration::from_secs(3600) {
                last_purge = tokio::time::Instant::now();
                let before = self.db.clock().now().saturating_sub(KEEP_FINISHED).unix_micros();
                if let Err(error) = store::purge_finished_deliveries(&self.db, before).await {
                    tracing::warn!(%error, "could not purge finished webhook deliveries");
                }
            }
            if !full {
                tokio::time::sleep(POLL).await;
            }
        }
    }

    /// Leases one batch and sends it; how many were leased.
    async fn round(&self) -> Result<usize, sqlx::Error> {
        let lease = crate::db::new_id();
        let until = self.db.clock().now().saturating_add(LEASE).unix_micros();
        let due = store::lease_deliveries(&self.db, &lease, until, BATCH).await?;
        let leased = due.len();
        futures_util::stream::iter(due)
            .for_each_concurrent(CONCURRENCY, |delivery| {
                let lease = lease.as_str();
                async move {
                    let webhook_id = delivery.webhook_id.clone();
                    let event_id = delivery.event.id.clone();
                    let attempt = self.attempt(delivery).await;
                    if let Err(error) = store::record_attempt(&self.db, lease, &webhook_id, &event_id, &attempt).await
                    {
                        // The lease runs out and the delivery is tried again.
                        tracing::warn!(%error, webhook = %webhook_id, event = %event_id, "could not record a webhook delivery");
                    }
                }
            })
            .await;
        Ok(leased)
    }

    async fn attempt(&self, delivery: DueDelivery) -> Attempt {
        let failed_before = u32::try_from(delivery.attempts).unwrap_or(u32::MAX);
        let outcome = self.send(&delivery).await;
        let now = self.db.clock().now();
        let (status, error) = match outcome {
            Ok(status) if (200..300).contains(&status) => {
                self.metrics.delivered.inc();
                return Attempt {
                    status: Some(status),
                    error: None,
                    next_at: None,
                    delivered: true,
                };
            }
            Ok(status) => (
                Some(status),
                if (300..400).contains(&status) {
                    format!("answered {status}: redirects are not followed")
                } else {
                    format!("answered {status}")
                },
            ),
            Err(error) => (None, error),
        };
        let next_at = webhook::next_attempt(delivery.window_start, failed_before.saturating_add(1), now);
        match next_at {
            Some(_) => self.metrics.failed.inc(),
            None => self.metrics.gave_up.inc(),
        };
        tracing::warn!(
            webhook = %delivery.webhook_id,
            tenant = %delivery.tenant_id,
            event = %delivery.event.id,
            attempt = failed_before.saturating_add(1),
            %error,
            gave_up = next_at.is_none(),
            "webhook delivery failed"
        );
        Attempt {
            status,
            error: Some(error),
            next_at,
            delivered: false,
        }
    }

    /// One request; the status of the answer, or why none came.
    async fn send(&self, delivery: &DueDelivery) -> Result<u16, String> {
        // Checked again at each attempt: the install's setting may have
        // changed, and the client's resolver checks what a name resolves to.
        let url = WebhookUrl::parse(&delivery.url, self.allow_private).map_err(|e| e.message)?;
        let key = self
            .master
            .open(&delivery.secret_sealed, &delivery.webhook_id)
            .map_err(|e| format!("the webhook's secret could not be opened: {e}"))?;
        let id = delivery.event.id.clone();
        let body = payload(&delivery.event);
        let timestamp = self.db.clock().now().unix_secs();
        let signature = sign(&key, &id, timestamp, &body);
        let response = self
            .client
            .post(url.url().clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    format!("no answer within {} s", webhook::TIMEOUT.as_secs())
                } else {
                    crate::jwks_fetch::error_chain(&e.without_url())
                }
            })?;
        Ok(response.status().as_u16())
    }
}

/// The body: `{"type", "timestamp", "data"}`, the event as the audit API shows it.
pub fn payload(event: &store::AuditRecord) -> Vec<u8> {
    let view = casebook_domain::wire::AuditEvent::from(event.clone());
    serde_json::to_vec(&serde_json::json!({
        "type": event.action,
        "timestamp": event.at.to_rfc3339(),
        "data": view,
    }))
    .unwrap_or_default()
}

/// The `webhook-signature` header: `v1,` and the base64 HMAC-SHA256 of
/// `id.timestamp.body` under the secret's key.
pub fn sign(key: &[u8], id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(&webhook::signed_content(id, timestamp_secs, body));
    webhook::signature_header(&mac.finalize().into_bytes())
}

/// A new signing key, and the secret the receiver is given.
pub fn new_secret() -> (Vec<u8>, String) {
    let key = crate::crypto::random_bytes::<{ webhook::SECRET_BYTES }>().to_vec();
    let secret = webhook::format_secret(&key);
    (key, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Standard Webhooks' own example: secret, id, timestamp, body and the
    /// signature its libraries compute.
    #[test]
    fn signs_as_standard_webhooks_does() {
        let key = webhook::secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
