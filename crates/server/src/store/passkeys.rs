//! People's passkeys and the ceremonies that register and use them. A
//! passkey row holds only public material; a ceremony's state is taken
//! once, by whichever replica the second request reaches.

use super::*;

/// A passkey as the person's list shows it, and as the library keeps it.
#[derive(Debug, Clone)]
pub struct PasskeyRecord {
    pub id: String,
    pub name: String,
    /// The library's `Passkey`, JSON.
    pub passkey: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[tracing::instrument(name = "db passkeys_of", level = "debug", skip_all)]
pub async fn passkeys_of(at: &Scope, user_id: &str) -> Result<Vec<PasskeyRecord>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, name, passkey, created_at, last_used_at FROM passkeys \
         WHERE user_id = $1 AND tenant_id = $2 ORDER BY created_at, id",
    )
    .bind(user_id)
    .bind(at.tenant())
    .fetch_all(at.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(PasskeyRecord {
                id: col(row, "id")?,
                name: col(row, "name")?,
                passkey: col(row, "passkey")?,
                created_at: col(row, "created_at")?,
                last_used_at: col(row, "last_used_at")?,
            })
        })
        .collect()
}

/// Keeps a newly registered passkey, with `user.second_factor_added`.
#[tracing::instrument(name = "db add_passkey", level = "debug", skip_all)]
pub async fn add_passkey(
    at: &Scope,
    user: &ActorRef,
    credential_id: &str,
    name: &str,
    passkey: &str,
) -> Result<PasskeyRecord, StoreError> {
    let id = new_id();
    let mut tx = at.begin().await?;
    let now = tx.now_micros();
    let inserted = sqlx::query(
        "INSERT INTO passkeys (id, user_id, tenant_id, credential_id, name, passkey, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&user.id)
    .bind(at.tenant())
    .bind(credential_id)
    .bind(name)
    .bind(passkey)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Conflict {
                detail: "this passkey is registered already".into(),
                holders: None,
            });
        }
        other => {
            other?;
        }
    }
    audit(
        &mut tx,
        at,
        user,
        Event::new("user.second_factor_added", "user", &user.id).detail(format!("passkey \"{name}\"")),
    )
    .await?;
    tx.commit().await?;
    Ok(PasskeyRecord {
        id,
        name: name.to_owned(),
        passkey: passkey.to_owned(),
        created_at: now,
        last_used_at: None,
    })
}

/// Writes back a passkey's counter after a use, and when it was used.
#[tracing::instrument(name = "db passkey_used", level = "debug", skip_all)]
pub async fn passkey_used(at: &Scope, user_id: &str, id: &str, passkey: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3 AND user_id = $4 AND tenant_id = $5")
        .bind(passkey)
        .bind(at.now_micros())
        .bind(id)
        .bind(user_id)
        .bind(at.tenant())
        .execute(at.pool())
        .await
        .map(|_| ())
}

/// Removes one of the person's passkeys, with `user.second_factor_removed`.
#[tracing::instrument(name = "db remove_passkey", level = "debug", skip_all)]
pub async fn remove_passkey(at: &Scope, user: &ActorRef, id: &str) -> Result<(), StoreError> {
    let mut tx = at.begin().await?;
    let name = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2 AND tenant_id = $3 RETURNING name")
        .bind(id)
        .bind(&user.id)
        .bind(at.tenant())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("passkey"))?;
    let name: String = col(&name, "name")?;
    audit(
        &mut tx,
        at,
        user,
        Event::new("user.second_factor_removed", "user", &user.id).detail(format!("passkey \"{name}\"")),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Keeps the server's half of a ceremony until its second request.
#[tracing::instrument(name = "db begin_ceremony", level = "debug", skip_all)]
pub async fn begin_ceremony(
    at: &Scope,
    user_id: &str,
    purpose: &str,
    state: &str,
    expires_at: i64,
) -> Result<String, sqlx::Error> {
    sqlx::query("DELETE FROM webauthn_ceremonies WHERE tenant_id = $1 AND expires_at < $2")
        .bind(at.tenant())
        .bind(at.now_micros())
        .execute(at.pool())
        .await?;
    let id = new_id();
    sqlx::query(
        "INSERT INTO webauthn_ceremonies (id, user_id, tenant_id, purpose, state, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(at.tenant())
    .bind(purpose)
    .bind(state)
    .bind(expires_at)
    .execute(at.pool())
    .await?;
    Ok(id)
}

/// Takes a ceremony of `user_id` for `purpose`, once, while it lasts.
#[tracing::instrument(name = "db take_ceremony", level = "debug", skip_all)]
pub async fn take_ceremony(at: &Scope, id: &str, user_id: &str, purpose: &str) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query(
        "DELETE FROM webauthn_ceremonies WHERE id = $1 AND user_id = $2 AND tenant_id = $3 AND purpose = $4 \
         RETURNING state, expires_at",
    )
    .bind(id)
    .bind(user_id)
    .bind(at.tenant())
    .bind(purpose)
    .fetch_optional(at.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    if col::<i64>(&row, "expires_at")? <= at.now_micros() {
        return Ok(None);
    }
    col(&row, "state").map(Some)
}
