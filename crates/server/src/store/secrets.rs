//! Client secrets: revealed and rotated under the grant rule, with notices.

use super::*;

pub async fn reveal_secret(
    db: &Db,
    master: &MasterKey,
    author: &Author,
    id: &str,
) -> Result<(String, ClientSecret), StoreError> {
    let mut tx = db.begin().await?;
    authorize_secret_access(db, &mut tx, author, id).await?;
    let actor = &author.actor;
    let row = sqlx::query("SELECT client_id, name, email, secret_ciphertext FROM applications WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("external application"))?;
    let sealed: Vec<u8> = col(&row, "secret_ciphertext")?;
    let plain = master.open(&sealed, id).map_err(StoreError::corrupt)?;
    let secret = String::from_utf8(plain).map_err(StoreError::corrupt)?;
    audit(&mut tx, actor, "application.secret_revealed", "application", id, None).await?;
    let (name, email): (String, String) = (col(&row, "name")?, col(&row, "email")?);
    let notice = Notice::SecretRevealed {
        application: &name,
        by: &actor.name,
    };
    outbox::enqueue(&mut tx, &email, &notice).await?;
    tx.commit().await?;
    Ok((col(&row, "client_id")?, ClientSecret::from_presented(secret)))
}

/// Issues a new secret; the old one stays valid for `grace_micros`. With no
/// grace period the rotation answers a leak: the old secret stops at once and
/// so does every token issued with it (a new token generation).
pub async fn rotate_secret(
    db: &Db,
    master: &MasterKey,
    author: &Author,
    id: &str,
    secret: &ClientSecret,
    grace_micros: i64,
) -> Result<(String, Option<i64>), StoreError> {
    let mut tx = db.begin().await?;
    authorize_secret_access(db, &mut tx, author, id).await?;
    let actor = &author.actor;
    let now = db.now_micros();
    let previous_expires = (grace_micros > 0).then_some(now + grace_micros);
    let row = sqlx::query(
        "UPDATE applications SET \
           previous_secret_mac = CASE WHEN $1 = 1 THEN secret_mac ELSE NULL END, \
           previous_secret_expires_at = $2, \
           secret_mac = $3, secret_ciphertext = $4, updated_at = $5, \
           token_generation = token_generation + (1 - $1) \
         WHERE id = $6 RETURNING client_id, name, email",
    )
    .bind(i64::from(previous_expires.is_some()))
    .bind(previous_expires)
    .bind(master.secret_mac(secret.expose()).to_vec())
    .bind(master.seal(secret.expose().as_bytes(), id))
    .bind(now)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(StoreError::NotFound("external application"))?;
    audit(
        &mut tx,
        actor,
        "application.secret_rotated",
        "application",
        id,
        Some(format!("grace period {} s", grace_micros / 1_000_000)),
    )
    .await?;
    let (name, email): (String, String) = (col(&row, "name")?, col(&row, "email")?);
    let until = previous_expires.map(micros_to_rfc3339);
    let notice = Notice::SecretRotated {
        application: &name,
        by: &actor.name,
        old_secret_valid_until: until.as_deref(),
    };
    outbox::enqueue(&mut tx, &email, &notice).await?;
    tx.commit().await?;
    Ok((col(&row, "client_id")?, previous_expires))
}

/// A secret opens everything its application holds, so seeing or replacing
/// it is a change to that account under the grant rule: nobody obtains the
/// credentials of an application more powerful than themselves.
async fn authorize_secret_access(db: &Db, tx: &mut Tx, author: &Author, id: &str) -> Result<(), StoreError> {
    let grantor = grants::Grantor::read(db, tx, author).await?;
    let held = held_permissions(tx, RoleHolder::Application(id)).await?;
    grantor.authorize(GrantChange::Change {
        before: held,
        after: held,
    })
}

/// Checked before the caller's password is asked for, so that a refusal
/// does not cost a lockout attempt; checked again in the change itself.
pub async fn may_access_secret(db: &Db, author: &Author, id: &str) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    authorize_secret_access(db, &mut tx, author, id).await?;
    tx.rollback().await?;
    Ok(())
}
