//! Expiry reminders (the contract's "Client secrets"): each due reminder of each
//! client secret sent once across every replica, however many are pending.
//! One round serves every tenant; each notice is its secret's tenant's.

use super::*;
use casebook_domain::Timestamp;
use casebook_domain::secret_lifecycle::{Reminder, SecretPolicy};

/// Secrets a reminder round reads at once.
pub const REMINDER_BATCH: usize = 500;

/// Sends the expiry reminders that are due, each once across every replica:
/// a reminder is claimed by moving the secret's stage in a conditional
/// write, in the transaction that queues its notice. Answers how many were
/// queued.
#[tracing::instrument(name = "db send_expiry_reminders", level = "debug", skip_all)]
pub async fn send_expiry_reminders(db: &Db, policy: &SecretPolicy) -> Result<usize, sqlx::Error> {
    send_expiry_reminders_in_batches(db, policy, REMINDER_BATCH).await
}

/// [`send_expiry_reminders`], reading `batch` secrets at a time. Only
/// secrets with a reminder due are read, and the round pages through all of
/// them by id: secrets waiting for a later reminder never fill a batch, and
/// however many are due, none waits for another round.
pub async fn send_expiry_reminders_in_batches(
    db: &Db,
    policy: &SecretPolicy,
    batch: usize,
) -> Result<usize, sqlx::Error> {
    let now = db.clock().now();
    let (due, thresholds) = due_reminder_filter(policy, now);
    let sql = format!(
        "SELECT s.id, s.tenant_id, s.label, s.created_at, s.expires_at, s.reminder_stage, a.name, a.email \
         FROM client_secrets s JOIN applications a ON a.id = s.application_id AND a.tenant_id = s.tenant_id \
         /* UNSCOPED: one round over the secrets of every tenant */ \
         WHERE s.id > $1 AND ({due}) ORDER BY s.id LIMIT ${}",
        thresholds.len() + 2
    );
    let limit = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
    let mut after = String::new();
    let mut sent = 0;
    loop {
        let mut query = sqlx::query(AssertSqlSafe(sql.as_str())).bind(after.as_str());
        for threshold in &thresholds {
            query = query.bind(*threshold);
        }
        let rows = query.bind(limit).fetch_all(db.pool()).await?;
        for row in &rows {
            sent += usize::from(send_reminder(db, policy, now, row).await?);
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == limit => after = col(last, "id")?,
            _ => return Ok(sent),
        }
    }
}

/// The SQL condition "some reminder is due now" (parameters from `$2`), and
/// its parameters. A reminder of stage `k` is due when the last one sent is
/// of a lower stage and the secret stops working by the reminder's moment:
/// by its own `expires_at`, or by the install's most counted from its issue.
/// [`Reminder::due`] has the last word on each secret read.
fn due_reminder_filter(policy: &SecretPolicy, now: Timestamp) -> (String, Vec<i64>) {
    let day = std::time::Duration::from_secs(24 * 3600);
    let stages = casebook_domain::secret_lifecycle::REMINDER_DAYS
        .iter()
        .map(|days| (Reminder::ExpiresWithin { days: *days }, now.saturating_add(day * *days)))
        .chain([(Reminder::Expired, now)]);
    let (mut clauses, mut thresholds) = (Vec::new(), Vec::new());
    for (reminder, moment) in stages {
        let issued_by = policy
            .max_age()
            .map_or(i64::MIN, |age| moment.saturating_sub(age).unix_micros());
        let n = thresholds.len() + 2;
        clauses.push(format!(
            "(s.reminder_stage < {} AND ((s.expires_at IS NOT NULL AND s.expires_at <= ${n}) OR s.created_at <= ${}))",
            reminder.stage(),
            n + 1
        ));
        thresholds.extend([moment.unix_micros(), issued_by]);
    }
    (clauses.join(" OR "), thresholds)
}

/// Claims and queues the reminder due for one secret; false when none is
/// due after all or another replica claimed it first.
async fn send_reminder(db: &Db, policy: &SecretPolicy, now: Timestamp, row: &AnyRow) -> Result<bool, sqlx::Error> {
    let created_at = stamp(row, "created_at")?;
    let own = col::<Option<i64>>(row, "expires_at")?.map(Timestamp::from_unix_micros);
    let Some(expiry) = policy.effective_expiry(created_at, own) else {
        return Ok(false);
    };
    let Some(reminder) = Reminder::due(now, expiry, col(row, "reminder_stage")?) else {
        return Ok(false);
    };
    let secret_id: String = col(row, "id")?;
    // The notice is the secret's tenant's, like the change it warns of.
    let at = Scope::new(db.clone(), col::<String>(row, "tenant_id")?);
    let mut tx = at.begin().await?;
    let claimed = sqlx::query(
        "UPDATE client_secrets SET reminder_stage = $1 WHERE id = $2 AND tenant_id = $3 AND reminder_stage < $1",
    )
    .bind(reminder.stage())
    .bind(&secret_id)
    .bind(at.tenant())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    let label: Option<String> = col(row, "label")?;
    let (name, email): (String, String) = (col(row, "name")?, col(row, "email")?);
    let expires_at = expiry.to_rfc3339();
    let notice = Notice::SecretExpiring {
        application: &name,
        secret: label.as_deref().unwrap_or(&secret_id),
        expires_at: &expires_at,
        days: match reminder {
            Reminder::ExpiresWithin { days } => Some(days),
            Reminder::Expired => None,
        },
    };
    outbox::enqueue(&mut tx, &at, &email, &notice).await?;
    tx.commit().await?;
    Ok(true)
}
