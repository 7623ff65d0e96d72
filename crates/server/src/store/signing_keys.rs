//! The signing keys' rows. What a key is and which one signs is decided in
//! [`crate::keys`]; here they are only read and written, private halves
//! always sealed.

use super::*;

/// A signing key as stored: the private half sealed under the master key.
#[derive(Debug)]
pub struct StoredSigningKey {
    pub kid: String,
    pub sealed_private_key: Vec<u8>,
    pub public_key: Vec<u8>,
    /// The JWS `alg` the key signs with, as [`casebook_domain::SigningAlgorithm`] names it.
    pub alg: String,
    pub retired_at: Option<i64>,
    pub activates_at: i64,
}

#[tracing::instrument(name = "db has_active_signing_key", level = "debug", skip_all)]
pub async fn has_active_signing_key(db: &Db) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM signing_keys WHERE retired_at IS NULL")
        .fetch_one(db.pool())
        .await?;
    Ok(col::<i64>(&row, "n")? > 0)
}

/// A new key, stamped as created at the transaction's instant.
#[tracing::instrument(name = "db insert_signing_key", level = "debug", skip_all)]
pub async fn insert_signing_key(tx: &mut Tx, key: &StoredSigningKey) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, private_key_ciphertext, public_key, created_at, retired_at, activates_at, alg) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.kid)
    .bind(&key.sealed_private_key)
    .bind(&key.public_key)
    .bind(tx.now_micros())
    .bind(key.retired_at)
    .bind(key.activates_at)
    .bind(&key.alg)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Every key not yet retired stops signing at `at`.
#[tracing::instrument(name = "db retire_signing_keys", level = "debug", skip_all)]
pub async fn retire_signing_keys(tx: &mut Tx, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The keys still published: unretired, or retired after `retired_after`;
/// newest to activate first.
#[tracing::instrument(name = "db published_signing_keys", level = "debug", skip_all)]
pub async fn published_signing_keys(db: &Db, retired_after: i64) -> Result<Vec<StoredSigningKey>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT kid, private_key_ciphertext, public_key, alg, retired_at, activates_at FROM signing_keys \
         WHERE retired_at IS NULL OR retired_at > $1 ORDER BY activates_at DESC, created_at DESC, kid",
    )
    .bind(retired_after)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredSigningKey {
                kid: col(row, "kid")?,
                sealed_private_key: col(row, "private_key_ciphertext")?,
                public_key: col(row, "public_key")?,
                alg: col(row, "alg")?,
                retired_at: col(row, "retired_at")?,
                activates_at: col(row, "activates_at")?,
            })
        })
        .collect()
}
