//! Admin sessions: only a digest of each token is stored.

use super::*;

/// A session for `user`, and `session.created` in the trail, together.
#[tracing::instrument(name = "db create_session", level = "debug", skip_all)]
pub async fn create_session(
    at: &Scope,
    user: &ActorRef,
    token_hash: &[u8],
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = at.begin().await?;
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, tenant_id) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash.to_vec())
    .bind(&user.id)
    .bind(tx.now_micros())
    .bind(expires_at)
    .bind(at.tenant())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE users SET last_sign_in_at = $1 WHERE id = $2 AND tenant_id = $3")
        .bind(tx.now_micros())
        .bind(&user.id)
        .bind(at.tenant())
        .execute(&mut *tx)
        .await?;
    audit(&mut tx, at, user, Event::new("session.created", "user", &user.id)).await?;
    tx.commit().await
}

#[derive(Debug)]
pub struct SessionUser {
    pub user_id: String,
    pub name: String,
    /// Whether the person has a second factor, and whether their tenant
    /// requires one of administrators: together with their permissions,
    /// whether they must enrol before anything else.
    pub second_factor: bool,
    pub tenant_requires_mfa: bool,
}

#[tracing::instrument(name = "db session_user", level = "debug", skip_all)]
pub async fn session_user(at: &Scope, token_hash: &[u8]) -> Result<Option<SessionUser>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT u.id, u.name, u.totp_confirmed_at, t.require_mfa_for_admins, \
         (SELECT COUNT(*) FROM passkeys p WHERE p.user_id = u.id AND p.tenant_id = $3) AS passkey_count \
         FROM sessions s \
         JOIN users u ON u.id = s.user_id AND u.tenant_id = $3 \
         JOIN tenants t ON t.id = s.tenant_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.tenant_id = $3 AND u.enabled = 1",
    )
    .bind(token_hash.to_vec())
    .bind(at.now_micros())
    .bind(at.tenant())
    .fetch_optional(at.pool())
    .await?;
    row.map(|r| {
        Ok(SessionUser {
            user_id: col(&r, "id")?,
            name: col(&r, "name")?,
            second_factor: col::<Option<i64>>(&r, "totp_confirmed_at")?.is_some()
                || col::<i64>(&r, "passkey_count")? > 0,
            tenant_requires_mfa: col::<i64>(&r, "require_mfa_for_admins")? != 0,
        })
    })
    .transpose()
}

/// Ends the session of `user` with this digest (and any expired one on the
/// way), with `session.ended` in the trail.
#[tracing::instrument(name = "db delete_session", level = "debug", skip_all)]
pub async fn delete_session(at: &Scope, user: &ActorRef, token_hash: &[u8]) -> Result<(), sqlx::Error> {
    let mut tx = at.begin().await?;
    sqlx::query("DELETE FROM sessions WHERE tenant_id = $3 AND (token_hash = $1 OR expires_at < $2)")
        .bind(token_hash.to_vec())
        .bind(tx.now_micros())
        .bind(at.tenant())
        .execute(&mut *tx)
        .await?;
    audit(&mut tx, at, user, Event::new("session.ended", "user", &user.id)).await?;
    tx.commit().await
}
