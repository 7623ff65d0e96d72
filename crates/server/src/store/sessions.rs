//! Admin sessions: only a digest of each token is stored.

use super::*;

#[tracing::instrument(name = "db create_session", level = "debug", skip_all)]
pub async fn create_session(db: &Db, user_id: &str, token_hash: &[u8], expires_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash.to_vec())
        .bind(user_id)
        .bind(db.now_micros())
        .bind(expires_at)
        .execute(db.pool())
        .await
        .map(|_| ())
}

#[derive(Debug)]
pub struct SessionUser {
    pub user_id: String,
    pub name: String,
}

#[tracing::instrument(name = "db session_user", level = "debug", skip_all)]
pub async fn session_user(db: &Db, token_hash: &[u8]) -> Result<Option<SessionUser>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT u.id, u.name FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(token_hash.to_vec())
    .bind(db.now_micros())
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        Ok(SessionUser {
            user_id: col(&r, "id")?,
            name: col(&r, "name")?,
        })
    })
    .transpose()
}

#[tracing::instrument(name = "db delete_session", level = "debug", skip_all)]
pub async fn delete_session(db: &Db, token_hash: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1 OR expires_at < $2")
        .bind(token_hash.to_vec())
        .bind(db.now_micros())
        .execute(db.pool())
        .await
        .map(|_| ())
}
