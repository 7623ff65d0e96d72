//! The reveal lockout: wrong passwords at the key icon, counted per person.

use super::*;

/// A password check for reveal or rotate, recorded before it runs.
#[derive(Debug)]
pub enum RevealAttempt {
    /// Locked: seconds until it unlocks.
    Locked(u64),
    /// Counted as a failure until [`settle_reveal_attempt`] says otherwise.
    Claimed { at: i64 },
}

/// Records an attempt before the password is checked, under a per-user lock,
/// so that a burst of parallel guesses cannot all pass the lockout check
/// before any failure is written.
#[tracing::instrument(name = "db claim_reveal_attempt", level = "debug", skip_all)]
pub async fn claim_reveal_attempt(scope: &Scope, user_id: &str) -> Result<RevealAttempt, sqlx::Error> {
    let mut tx = scope.begin().await?;
    if scope.db().backend() == crate::db::Backend::Postgres {
        // SQLite's BEGIN IMMEDIATE already serialises writers.
        sqlx::query("SELECT id FROM users WHERE id = $1 AND tenant_id = $2 FOR UPDATE")
            .bind(user_id)
            .bind(scope.tenant())
            .fetch_optional(&mut *tx)
            .await?;
    }
    let now = scope.now_micros();
    let rows = sqlx::query("SELECT at FROM reveal_failures WHERE user_id = $1 AND at > $2 AND tenant_id = $3")
        .bind(user_id)
        .bind(now - lockout::LOOKBACK_MICROS)
        .bind(scope.tenant())
        .fetch_all(&mut *tx)
        .await?;
    let failures = rows
        .iter()
        .map(|r| col::<i64>(r, "at"))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(until) = lockout::locked_until(&failures, now) {
        tx.rollback().await?;
        return Ok(RevealAttempt::Locked(((until - now) / 1_000_000).max(1) as u64));
    }
    sqlx::query("INSERT INTO reveal_failures (user_id, at, tenant_id) VALUES ($1, $2, $3)")
        .bind(user_id)
        .bind(now)
        .bind(scope.tenant())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(RevealAttempt::Claimed { at: now })
}

/// A right password takes the attempt back; a wrong one leaves it counted
/// and goes to the audit trail.
#[tracing::instrument(name = "db settle_reveal_attempt", level = "debug", skip_all)]
pub async fn settle_reveal_attempt(
    scope: &Scope,
    actor: &ActorRef,
    application_id: &str,
    at: i64,
    password_was_right: bool,
) -> Result<(), sqlx::Error> {
    let mut tx = scope.begin().await?;
    if password_was_right {
        sqlx::query("DELETE FROM reveal_failures WHERE user_id = $1 AND at = $2 AND tenant_id = $3")
            .bind(&actor.id)
            .bind(at)
            .bind(scope.tenant())
            .execute(&mut *tx)
            .await?;
    } else {
        audit(
            &mut tx,
            scope,
            actor,
            Event::new("application.secret_reveal_refused", "application", application_id)
                .detail("wrong password".to_owned()),
        )
        .await?;
    }
    tx.commit().await
}
