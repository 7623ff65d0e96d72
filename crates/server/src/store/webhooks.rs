//! Webhooks: a tenant's endpoints, and the outbox of deliveries the audit
//! trail writes for them in each event's transaction (`audit.rs`),
//! leased, delivered and retried by [`crate::webhooks`].
//!
//! A delivery is one audit event for one endpoint, keyed by both: its id is
//! the event's, so the `webhook-id` a receiver sees is the same on every
//! attempt. The queue is the install's; every row names its tenant.

use super::*;
use casebook_domain::webhook::{EventType, MAX_PER_TENANT, NewWebhook, ValidWebhookChange};

/// A stored endpoint, without its secret.
#[derive(Debug, Clone)]
pub struct WebhookRecord {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub created_at: casebook_domain::Timestamp,
    pub created_by: ActorRef,
}

const COLUMNS: &str =
    "id, url, events, description, enabled, created_at, created_by_kind, created_by_id, created_by_name";

fn webhook_from(row: &AnyRow) -> Result<WebhookRecord, StoreError> {
    let events: String = col(row, "events")?;
    Ok(WebhookRecord {
        id: col(row, "id")?,
        url: col(row, "url")?,
        events: serde_json::from_str(&events).map_err(StoreError::corrupt)?,
        description: col(row, "description")?,
        enabled: col::<i64>(row, "enabled")? != 0,
        created_at: stamp(row, "created_at")?,
        created_by: actor_from(row, "created_by")?,
    })
}

async fn write_event_types(tx: &mut Tx, at: &Scope, id: &str, types: &[EventType]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM webhook_event_types WHERE tenant_id = $1 AND webhook_id = $2")
        .bind(at.tenant())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for t in types {
        let (exact, prefix) = match t {
            EventType::Exact(action) => (Some(action.as_str()), None),
            EventType::Prefix(prefix) => (None, Some(prefix.as_str())),
        };
        sqlx::query("INSERT INTO webhook_event_types (tenant_id, webhook_id, exact, prefix) VALUES ($1, $2, $3, $4)")
            .bind(at.tenant())
            .bind(id)
            .bind(exact)
            .bind(prefix)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Registers an endpoint with its secret sealed under `master` (associated
/// data: its id), and audits it, in one transaction.
#[tracing::instrument(name = "db create_webhook", level = "debug", skip_all)]
pub async fn create_webhook(
    at: &Scope,
    actor: &ActorRef,
    master: &MasterKey,
    webhook: &NewWebhook,
    secret_key: &[u8],
) -> Result<WebhookRecord, StoreError> {
    let mut tx = at.begin().await?;
    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM webhooks WHERE tenant_id = $1")
        .bind(at.tenant())
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| col(&row, "n"))?;
    if count >= MAX_PER_TENANT as i64 {
        return Err(StoreError::Conflict {
            detail: format!("this tenant already has {MAX_PER_TENANT} webhooks, the most it may; remove one first"),
            holders: None,
        });
    }
    let id = new_id();
    let events = serde_json::Value::from(webhook.events.as_written()).to_string();
    sqlx::query(
        "INSERT INTO webhooks (id, tenant_id, url, events, description, enabled, secret_sealed, created_at, \
           created_by_kind, created_by_id, created_by_name) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(at.tenant())
    .bind(webhook.url.as_str())
    .bind(&events)
    .bind(webhook.description.as_deref())
    .bind(master.seal(secret_key, &id))
    .bind(tx.now_micros())
    .bind(actor.kind.as_str())
    .bind(&actor.id)
    .bind(&actor.name)
    .execute(&mut *tx)
    .await?;
    write_event_types(&mut tx, at, &id, webhook.events.types()).await?;
    audit(
        &mut tx,
        at,
        actor,
        Event::new("webhook.created", "webhook", &id)
            .named(&audited_url(webhook.url.as_str()))
            .detail(format!("events: {}", webhook.events.as_written().join(", "))),
    )
    .await?;
    let record = read_webhook(&mut tx, at, &id).await?;
    tx.commit().await?;
    Ok(record)
}

async fn read_webhook(tx: &mut Tx, at: &Scope, id: &str) -> Result<WebhookRecord, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id)
    .bind(at.tenant())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound("webhook"))?;
    webhook_from(&row)
}

#[tracing::instrument(name = "db list_webhooks", level = "debug", skip_all)]
pub async fn list_webhooks(at: &Scope) -> Result<Vec<WebhookRecord>, StoreError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhooks WHERE tenant_id = $1 ORDER BY id"
    )))
    .bind(at.tenant())
    .fetch_all(at.pool())
    .await?;
    rows.iter().map(webhook_from).collect()
}

#[tracing::instrument(name = "db webhook", level = "debug", skip_all)]
pub async fn webhook(at: &Scope, id: &str) -> Result<WebhookRecord, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id)
    .bind(at.tenant())
    .fetch_optional(at.pool())
    .await?
    .ok_or(StoreError::NotFound("webhook"))?;
    webhook_from(&row)
}

#[tracing::instrument(name = "db change_webhook", level = "debug", skip_all)]
pub async fn change_webhook(
    at: &Scope,
    actor: &ActorRef,
    id: &str,
    change: &ValidWebhookChange,
) -> Result<WebhookRecord, StoreError> {
    let mut tx = at.begin().await?;
    let before = read_webhook(&mut tx, at, id).await?;
    let mut changed = Vec::new();
    if let Some(url) = &change.url {
        sqlx::query("UPDATE webhooks SET url = $1 WHERE id = $2 AND tenant_id = $3")
            .bind(url.as_str())
            .bind(id)
            .bind(at.tenant())
            .execute(&mut *tx)
            .await?;
        changed.push(format!(
            "url: {} → {}",
            audited_url(&before.url),
            audited_url(url.as_str())
        ));
    }
    if let Some(events) = &change.events {
        let written = events.as_written();
        sqlx::query("UPDATE webhooks SET events = $1 WHERE id = $2 AND tenant_id = $3")
            .bind(serde_json::Value::from(written.clone()).to_string())
            .bind(id)
            .bind(at.tenant())
            .execute(&mut *tx)
            .await?;
        write_event_types(&mut tx, at, id, events.types()).await?;
        changed.push(format!("events: {}", written.join(", ")));
    }
    if let Some(description) = &change.description {
        sqlx::query("UPDATE webhooks SET description = $1 WHERE id = $2 AND tenant_id = $3")
            .bind(description.as_deref())
            .bind(id)
            .bind(at.tenant())
            .execute(&mut *tx)
            .await?;
        changed.push("description".to_owned());
    }
    if let Some(enabled) = change.enabled {
        sqlx::query("UPDATE webhooks SET enabled = $1 WHERE id = $2 AND tenant_id = $3")
            .bind(i64::from(enabled))
            .bind(id)
            .bind(at.tenant())
            .execute(&mut *tx)
            .await?;
        changed.push(format!("enabled: {enabled}"));
    }
    let after = read_webhook(&mut tx, at, id).await?;
    audit(
        &mut tx,
        at,
        actor,
        Event::new("webhook.changed", "webhook", id)
            .named(&audited_url(&after.url))
            .detail(changed.join("; ")),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// A receiver's URL as the audit trail keeps it: the trail is exported and
/// delivered to the tenant's other endpoints, and receivers often carry a
/// token in the query, so the query, the fragment and any user information
/// are left out (a `?…` says there was a query).
fn audited_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "(a URL that does not parse)".to_owned();
    };
    let had_query = parsed.query().is_some() || parsed.fragment().is_some();
    parsed.set_query(None);
    parsed.set_fragment(None);
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    let mut shown = parsed.to_string();
    if had_query {
        shown.push_str("?…");
    }
    shown
}

/// Removes an endpoint with its queue: what was not yet sent never will be.
#[tracing::instrument(name = "db delete_webhook", level = "debug", skip_all)]
pub async fn delete_webhook(at: &Scope, actor: &ActorRef, id: &str) -> Result<(), StoreError> {
    let mut tx = at.begin().await?;
    let before = read_webhook(&mut tx, at, id).await?;
    for sql in [
        "DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND tenant_id = $2",
        "DELETE FROM webhook_event_types WHERE webhook_id = $1 AND tenant_id = $2",
        "DELETE FROM webhooks WHERE id = $1 AND tenant_id = $2",
    ] {
        sqlx::query(sql).bind(id).bind(at.tenant()).execute(&mut *tx).await?;
    }
    audit(
        &mut tx,
        at,
        actor,
        Event::new("webhook.deleted", "webhook", id).named(&audited_url(&before.url)),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A delivery leased for sending, with what it needs.
#[derive(Debug)]
pub struct DueDelivery {
    pub tenant_id: String,
    pub webhook_id: String,
    pub url: String,
    pub secret_sealed: Vec<u8>,
    pub attempts: i64,
    pub window_start: casebook_domain::Timestamp,
    pub event: AuditRecord,
}

/// Leases up to `limit` due deliveries under `lease` until `until_micros`:
/// a row another replica leased first is not due any more, so it is not
/// taken twice (PostgreSQL re-reads the condition of a row it waited for).
#[tracing::instrument(name = "db lease_deliveries", level = "debug", skip_all)]
pub async fn lease_deliveries(
    db: &Db,
    lease: &str,
    until_micros: i64,
    limit: i64,
) -> Result<Vec<DueDelivery>, sqlx::Error> {
    let now = db.now_micros();
    // A read first: an idle queue costs no write lock (SQLite takes one
    // for an UPDATE that changes nothing).
    let due = sqlx::query(
        "SELECT 1 AS one FROM webhook_deliveries /* UNSCOPED: the install's delivery queue */ \
         WHERE next_attempt_at <= $1 LIMIT 1",
    )
    .bind(now)
    .fetch_optional(db.pool())
    .await?;
    if due.is_none() {
        return Ok(Vec::new());
    }
    // Oldest first, each tenant's first quarter of a batch ahead of any
    // tenant's rest: one tenant's flood of slow endpoints cannot hold back
    // another's deliveries, and a flood alone still fills whole batches.
    let per_tenant = (limit / 4).max(1);
    sqlx::query(
        "UPDATE webhook_deliveries SET lease = $1, next_attempt_at = $2 /* UNSCOPED: the install's delivery queue */ \
         WHERE next_attempt_at <= $3 AND (webhook_id, event_id) IN \
           (SELECT webhook_id, event_id FROM \
              (SELECT webhook_id, event_id, next_attempt_at, \
                 ROW_NUMBER() OVER (PARTITION BY tenant_id ORDER BY next_attempt_at) AS place \
               FROM webhook_deliveries WHERE next_attempt_at <= $3) AS due \
            ORDER BY CASE WHEN place <= $5 THEN 0 ELSE 1 END, next_attempt_at LIMIT $4)",
    )
    .bind(lease)
    .bind(until_micros)
    .bind(now)
    .bind(limit)
    .bind(per_tenant)
    .execute(db.pool())
    .await?;
    let rows = sqlx::query(
        "SELECT d.tenant_id AS d_tenant, d.webhook_id AS d_webhook, d.attempts AS d_attempts, \
           d.window_start AS d_window, w.url AS w_url, w.secret_sealed AS w_secret, \
           e.id, e.at, e.actor_kind, e.actor_id, e.actor_name, e.action, e.target_kind, e.target_id, e.detail, \
           e.source, e.request_id, e.target_name, e.changes, t.slug AS tenant \
         FROM webhook_deliveries d \
         JOIN webhooks w ON w.id = d.webhook_id AND w.tenant_id = d.tenant_id \
         JOIN audit_events e ON e.id = d.event_id AND e.tenant_id = d.tenant_id \
         LEFT JOIN tenants t ON t.id = d.tenant_id \
         /* UNSCOPED: the leased rows of the install's queue, each joined within its tenant */ \
         WHERE d.lease = $1 AND d.next_attempt_at = $2",
    )
    .bind(lease)
    .bind(until_micros)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(DueDelivery {
                tenant_id: col(row, "d_tenant")?,
                webhook_id: col(row, "d_webhook")?,
                url: col(row, "w_url")?,
                secret_sealed: col(row, "w_secret")?,
                attempts: col(row, "d_attempts")?,
                window_start: stamp(row, "d_window")?,
                event: super::audit::audit_record(row)?,
            })
        })
        .collect()
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status: Option<u16>,
    pub error: Option<String>,
    /// When to try again; `None` once delivered or given up.
    pub next_at: Option<casebook_domain::Timestamp>,
    pub delivered: bool,
}

/// Records an attempt of a delivery this replica holds under `lease`.
#[tracing::instrument(name = "db record_attempt", level = "debug", skip_all)]
pub async fn record_attempt(
    db: &Db,
    lease: &str,
    webhook_id: &str,
    event_id: &str,
    attempt: &Attempt,
) -> Result<(), sqlx::Error> {
    let now = db.now_micros();
    sqlx::query(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = $1, response_status = $2, \
           last_error = $3, next_attempt_at = $4, delivered_at = $5, lease = NULL \
         /* UNSCOPED: one row of the install's queue, by its key and this replica's lease */ \
         WHERE webhook_id = $6 AND event_id = $7 AND lease = $8",
    )
    .bind(now)
    .bind(attempt.status.map(i64::from))
    .bind(attempt.error.as_ref().map(|e| e.chars().take(500).collect::<String>()))
    .bind(attempt.next_at.map(|t| t.unix_micros()))
    .bind(attempt.delivered.then_some(now))
    .bind(webhook_id)
    .bind(event_id)
    .bind(lease)
    .execute(db.pool())
    .await
    .map(|_| ())
}

/// Deliveries still to be sent, of every tenant.
pub async fn webhook_queue_depth(db: &Db) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM webhook_deliveries /* UNSCOPED: the depth of the install's queue */ \
         WHERE next_attempt_at IS NOT NULL",
    )
    .fetch_one(db.pool())
    .await?;
    col(&row, "n")
}

/// Forgets deliveries finished (sent or given up) before `before_micros`.
pub async fn purge_finished_deliveries(db: &Db, before_micros: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM webhook_deliveries /* UNSCOPED: housekeeping of the install's queue */ \
         WHERE next_attempt_at IS NULL AND created_at < $1",
    )
    .bind(before_micros)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected())
}

/// A delivery as the admin API lists it.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub event_id: String,
    pub action: String,
    pub attempts: i64,
    pub created_at: casebook_domain::Timestamp,
    pub last_attempt_at: Option<casebook_domain::Timestamp>,
    pub next_attempt_at: Option<casebook_domain::Timestamp>,
    pub delivered_at: Option<casebook_domain::Timestamp>,
    pub response_status: Option<i64>,
    pub last_error: Option<String>,
}

const DELIVERY_COLUMNS: &str = "event_id, action, attempts, created_at, last_attempt_at, next_attempt_at, \
     delivered_at, response_status, last_error";

fn delivery_from(row: &AnyRow) -> Result<DeliveryRecord, sqlx::Error> {
    let at = |name: &str| -> Result<Option<casebook_domain::Timestamp>, sqlx::Error> {
        Ok(col::<Option<i64>>(row, name)?.map(casebook_domain::Timestamp::from_unix_micros))
    };
    Ok(DeliveryRecord {
        event_id: col(row, "event_id")?,
        action: col(row, "action")?,
        attempts: col(row, "attempts")?,
        created_at: stamp(row, "created_at")?,
        last_attempt_at: at("last_attempt_at")?,
        next_attempt_at: at("next_attempt_at")?,
        delivered_at: at("delivered_at")?,
        response_status: col(row, "response_status")?,
        last_error: col(row, "last_error")?,
    })
}

/// An endpoint's deliveries, newest first (event ids are time-ordered).
#[tracing::instrument(name = "db list_deliveries", level = "debug", skip_all)]
pub async fn list_deliveries(
    at: &Scope,
    webhook_id: &str,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Listed<DeliveryRecord>, StoreError> {
    webhook(at, webhook_id).await?;
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2 \
         AND event_id < $3 ORDER BY event_id DESC LIMIT $4"
    )))
    .bind(at.tenant())
    .bind(webhook_id)
    // Past every UUID: no cursor starts at the newest.
    .bind(cursor.unwrap_or("~"))
    .bind(i64::from(limit) + 1)
    .fetch_all(at.pool())
    .await?;
    let items = rows.iter().map(delivery_from).collect::<Result<Vec<_>, _>>()?;
    Ok(paginate(items, limit, |d| &d.event_id))
}

/// Sends a delivery again now, with a new day of retries, whatever came of
/// it before.
#[tracing::instrument(name = "db retry_delivery", level = "debug", skip_all)]
pub async fn retry_delivery(
    at: &Scope,
    actor: &ActorRef,
    webhook_id: &str,
    event_id: &str,
) -> Result<DeliveryRecord, StoreError> {
    let mut tx = at.begin().await?;
    let now = tx.now_micros();
    // A delivery a replica holds under a lease that has not run out is being
    // sent: queued again it would go out twice at once.
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET next_attempt_at = $1, window_start = $1, lease = NULL, delivered_at = NULL \
         WHERE tenant_id = $2 AND webhook_id = $3 AND event_id = $4 \
         AND (lease IS NULL OR next_attempt_at IS NULL OR next_attempt_at <= $1)",
    )
    .bind(now)
    .bind(at.tenant())
    .bind(webhook_id)
    .bind(event_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        let exists =
            sqlx::query("SELECT 1 FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2 AND event_id = $3")
                .bind(at.tenant())
                .bind(webhook_id)
                .bind(event_id)
                .fetch_optional(&mut *tx)
                .await?;
        return Err(match exists {
            Some(_) => StoreError::Conflict {
                detail: "this delivery is being sent right now; ask again once this attempt has ended".into(),
                holders: None,
            },
            None => StoreError::NotFound("delivery"),
        });
    }
    audit(
        &mut tx,
        at,
        actor,
        Event::new("webhook.delivery_retried", "webhook", webhook_id).detail(format!("event {event_id}")),
    )
    .await?;
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2 AND event_id = $3"
    )))
    .bind(at.tenant())
    .bind(webhook_id)
    .bind(event_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(delivery_from(&row)?)
}

#[cfg(test)]
mod audited_url_tests {
    use super::audited_url;

    #[test]
    fn the_trail_keeps_a_receivers_address_without_its_query() {
        assert_eq!(audited_url("https://siem.example/hook"), "https://siem.example/hook");
        assert_eq!(
            audited_url("https://user:pw@siem.example/hook?token=s3cret#x"),
            "https://siem.example/hook?…"
        );
    }
}

#[cfg(test)]
mod lease_tests {
    use super::lease_deliveries;
    use crate::db::{Db, col};

    async fn queue(db: &Db, tenant: &str, count: usize, from: i64) {
        for i in 0..count {
            sqlx::query(
                "INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, action, created_at, window_start, \
                 next_attempt_at) VALUES ($1, $2, $3, 'role.created', 0, 0, $4)",
            )
            .bind(tenant)
            .bind(format!("hook-{tenant}"))
            .bind(format!("event-{i}"))
            .bind(from + i as i64)
            .execute(db.pool())
            .await
            .unwrap();
        }
    }

    async fn leased_by_tenant(db: &Db, lease: &str) -> Vec<(String, i64)> {
        sqlx::query(
            "SELECT tenant_id, COUNT(*) AS n FROM webhook_deliveries WHERE lease = $1 GROUP BY tenant_id ORDER BY tenant_id",
        )
        .bind(lease)
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|row| (col(row, "tenant_id").unwrap(), col(row, "n").unwrap()))
        .collect()
    }

    #[tokio::test]
    async fn a_flooding_tenant_leaves_room_for_others_and_alone_fills_whole_batches() {
        let (db, _dir) = crate::db::scratch_sqlite().await;
        // The flood is older than the other tenant's five.
        queue(&db, "flood", 200, 1).await;
        queue(&db, "quiet", 5, 1_000).await;
        let far = i64::MAX / 2;
        lease_deliveries(&db, "first", far, 64).await.unwrap();
        assert_eq!(
            leased_by_tenant(&db, "first").await,
            [("flood".to_owned(), 59), ("quiet".to_owned(), 5)]
        );
        lease_deliveries(&db, "second", far, 64).await.unwrap();
        assert_eq!(leased_by_tenant(&db, "second").await, [("flood".to_owned(), 64)]);
    }
}
