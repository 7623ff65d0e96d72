//! The outbox's rows: notices written in the transaction of the change they
//! describe, then leased, delivered or retried by [`crate::notify`].
//!
//! A notice belongs to the tenant whose change it describes; delivery is
//! the install's, one queue for every tenant, as the relay is one.

use super::*;

/// Writes a notice in the caller's transaction, due at once.
#[tracing::instrument(name = "db enqueue", level = "debug", skip_all)]
pub async fn enqueue(tx: &mut Tx, at: &Scope, recipient: &str, notice: &Notice<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (id, recipient, subject, body, created_at, attempts, next_attempt_at, tenant_id) \
         VALUES ($1, $2, $3, $4, $5, 0, $5, $6)",
    )
    .bind(new_id())
    .bind(recipient)
    .bind(notice.subject())
    .bind(notice.body())
    .bind(tx.now_micros())
    .bind(at.tenant())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Writes a notice whose body carries a one-time link: the body is sealed
/// under the master key (associated data: the notice's id) and `body` holds
/// `clear_body`, the text without the link, so the table shows what was
/// sent without holding a credential in the clear.
#[tracing::instrument(name = "db enqueue_sealed", level = "debug", skip_all)]
pub async fn enqueue_sealed(
    tx: &mut Tx,
    at: &Scope,
    master: &MasterKey,
    recipient: &str,
    subject: &str,
    clear_body: &str,
    body: &str,
) -> Result<(), sqlx::Error> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO outbox (id, recipient, subject, body, sealed_body, created_at, attempts, next_attempt_at, tenant_id) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $6, $7)",
    )
    .bind(&id)
    .bind(recipient)
    .bind(subject)
    .bind(clear_body)
    .bind(master.seal(body.as_bytes(), &id))
    .bind(tx.now_micros())
    .bind(at.tenant())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// A notice waiting for delivery.
#[derive(Debug)]
pub struct PendingNotice {
    pub id: String,
    /// Whose change it describes: for the delivery log.
    pub tenant_id: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// The body with its link, sealed (associated data: `id`), for a notice
    /// that carries one.
    pub sealed_body: Option<Vec<u8>>,
    pub attempts: i64,
}

/// Undelivered notices whose time has come and that have attempts left,
/// the longest-waiting first.
#[tracing::instrument(name = "db due_notices", level = "debug", skip_all)]
pub async fn due_notices(db: &Db, max_attempts: i64, limit: i64) -> Result<Vec<PendingNotice>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, tenant_id, recipient, subject, body, sealed_body, attempts FROM outbox \
         /* UNSCOPED: one delivery queue for the install */ \
         WHERE delivered_at IS NULL AND attempts < $1 AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT $3",
    )
    .bind(max_attempts)
    .bind(db.now_micros())
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(PendingNotice {
                id: col(row, "id")?,
                tenant_id: col(row, "tenant_id")?,
                recipient: col(row, "recipient")?,
                subject: col(row, "subject")?,
                body: col(row, "body")?,
                sealed_body: col(row, "sealed_body")?,
                attempts: col(row, "attempts")?,
            })
        })
        .collect()
}

/// Notices not yet delivered that still have attempts left, due or not:
/// what the install has yet to send.
pub async fn outbox_depth(db: &Db, max_attempts: i64) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM outbox /* UNSCOPED: the depth of the install-wide queue */ \
         WHERE delivered_at IS NULL AND attempts < $1",
    )
    .bind(max_attempts)
    .fetch_one(db.pool())
    .await?;
    col(&row, "n")
}

/// Claims a due notice for `lease`, so that another replica does not send it
/// too; false when someone else claimed or delivered it first.
#[tracing::instrument(name = "db lease_notice", level = "debug", skip_all)]
pub async fn lease_notice(db: &Db, id: &str, lease: std::time::Duration) -> Result<bool, sqlx::Error> {
    let now = db.clock().now();
    let until = now.saturating_add(lease).unix_micros();
    let now = now.unix_micros();
    let leased = sqlx::query(
        "UPDATE outbox SET next_attempt_at = $1 /* UNSCOPED: by the id of a notice the install-wide queue read */ \
         WHERE id = $2 AND next_attempt_at <= $3 AND delivered_at IS NULL",
    )
    .bind(until)
    .bind(id)
    .bind(now)
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(leased > 0)
}

#[tracing::instrument(name = "db mark_delivered", level = "debug", skip_all)]
pub async fn mark_delivered(db: &Db, id: &str, attempts: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        // A link sent is a link the outbox no longer needs to be able to open.
        "UPDATE outbox SET delivered_at = $1, attempts = $2, last_error = NULL, sealed_body = NULL \
         /* UNSCOPED: by the id of a notice the install-wide queue read */ WHERE id = $3",
    )
    .bind(db.now_micros())
    .bind(attempts)
    .bind(id)
    .execute(db.pool())
    .await
    .map(|_| ())
}

/// Records a failed attempt and when to try again. The error is cut to 500
/// characters: it is a relay's answer, for an operator's eyes.
#[tracing::instrument(name = "db mark_failed", level = "debug", skip_all)]
pub async fn mark_failed(
    db: &Db,
    id: &str,
    attempts: i64,
    retry_in: std::time::Duration,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE outbox SET attempts = $1, next_attempt_at = $2, last_error = $3 \
         /* UNSCOPED: by the id of a notice the install-wide queue read */ WHERE id = $4",
    )
    .bind(attempts)
    .bind(db.clock().now().saturating_add(retry_in).unix_micros())
    .bind(error.chars().take(500).collect::<String>())
    .bind(id)
    .execute(db.pool())
    .await
    .map(|_| ())
}
