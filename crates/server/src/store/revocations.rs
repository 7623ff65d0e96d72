//! Revoked tokens, and the housekeeping that forgets expired rows.
//!
//! `revoked_tokens` is the install's, not a tenant's: a `jti` is random, so
//! one never names two tokens, and a replica keeps one list of them.

use super::*;

#[tracing::instrument(name = "db revoke_token", level = "debug", skip_all)]
pub async fn revoke_token(db: &Db, jti: &str, expires_at_secs: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(jti)
        .bind(expires_at_secs)
        .bind(db.now_micros())
        .execute(db.pool())
        .await
        .map(|_| ())
}

/// Revocations stamped after `since` (microseconds), with the expiry of the
/// token each names: what a server polls to forget just those tokens.
#[tracing::instrument(name = "db revocations_since", level = "debug", skip_all)]
pub async fn revocations_since(db: &Db, since: i64) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query("SELECT jti, expires_at FROM revoked_tokens WHERE revoked_at > $1")
        .bind(since)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((col(r, "jti")?, col(r, "expires_at")?)))
        .collect()
}

#[tracing::instrument(name = "db is_revoked", level = "debug", skip_all)]
pub async fn is_revoked(db: &Db, jti: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("SELECT 1 AS one FROM revoked_tokens WHERE jti = $1")
        .bind(jti)
        .fetch_optional(db.pool())
        .await?
        .is_some())
}

/// Housekeeping: revocations of expired tokens, expired sessions, old reveal
/// failures; of every tenant at once.
#[tracing::instrument(name = "db purge_expired", level = "debug", skip_all)]
pub async fn purge_expired(db: &Db) -> Result<(), sqlx::Error> {
    let now = db.now_micros();
    sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
        .bind(now / 1_000_000)
        .execute(db.pool())
        .await?;
    // A minute late: a replica whose clock runs behind this one's still
    // refuses a replay of an assertion that has expired here.
    sqlx::query("DELETE FROM client_assertion_jtis WHERE expires_at < $1")
        .bind(now / 1_000_000 - 60)
        .execute(db.pool())
        .await?;
    sqlx::query(
        "DELETE FROM idempotency_keys /* UNSCOPED: a key lives 24 hours in every tenant */ WHERE expires_at < $1",
    )
    .bind(now)
    .execute(db.pool())
    .await?;
    sqlx::query("DELETE FROM sessions /* UNSCOPED: expiry is the same for every tenant */ WHERE expires_at < $1")
        .bind(now)
        .execute(db.pool())
        .await?;
    sqlx::query("DELETE FROM reveal_failures /* UNSCOPED: the lookback is the same for every tenant */ WHERE at < $1")
        .bind(now - lockout::LOOKBACK_MICROS)
        .execute(db.pool())
        .await?;
    Ok(())
}
