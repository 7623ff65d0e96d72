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
pub async fn has_active_signing_key(at: &Scope) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM signing_keys WHERE tenant_id = $1 AND retired_at IS NULL")
        .bind(at.tenant())
        .fetch_one(at.pool())
        .await?;
    Ok(col::<i64>(&row, "n")? > 0)
}

/// A new key, stamped as created at the transaction's instant; `false`
/// when its tenant no longer exists (deleted through another replica), so
/// that no key outlives its tenant.
#[tracing::instrument(name = "db insert_signing_key", level = "debug", skip_all)]
pub async fn insert_signing_key(tx: &mut Tx, at: &Scope, key: &StoredSigningKey) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO signing_keys (kid, private_key_ciphertext, public_key, created_at, retired_at, activates_at, alg, tenant_id) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $8)",
    )
    .bind(&key.kid)
    .bind(&key.sealed_private_key)
    .bind(&key.public_key)
    .bind(tx.now_micros())
    .bind(key.retired_at)
    .bind(key.activates_at)
    .bind(&key.alg)
    .bind(at.tenant())
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Every key not yet retired stops signing at `at`.
#[tracing::instrument(name = "db retire_signing_keys", level = "debug", skip_all)]
pub async fn retire_signing_keys(tx: &mut Tx, scope: &Scope, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE tenant_id = $2 AND retired_at IS NULL")
        .bind(at)
        .bind(scope.tenant())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The keys still published: unretired, or retired after `retired_after`;
/// newest to activate first.
#[tracing::instrument(name = "db published_signing_keys", level = "debug", skip_all)]
pub async fn published_signing_keys(at: &Scope, retired_after: i64) -> Result<Vec<StoredSigningKey>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT kid, private_key_ciphertext, public_key, alg, retired_at, activates_at FROM signing_keys \
         WHERE tenant_id = $2 AND (retired_at IS NULL OR retired_at > $1) ORDER BY activates_at DESC, created_at DESC, kid",
    )
    .bind(retired_after)
    .bind(at.tenant())
    .fetch_all(at.pool())
    .await?;
    rows.iter().map(stored_key).collect()
}

/// `casebook check`: every tenant's keys, retired ones too.
#[tracing::instrument(name = "db every_tenants_signing_keys", level = "debug", skip_all)]
pub async fn every_tenants_signing_keys(db: &Db) -> Result<Vec<StoredSigningKey>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT kid, private_key_ciphertext, public_key, alg, retired_at, activates_at FROM signing_keys \
         /* UNSCOPED: the install's check reads every tenant's keys */ ORDER BY kid",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(stored_key).collect()
}

fn stored_key(row: &AnyRow) -> Result<StoredSigningKey, sqlx::Error> {
    Ok(StoredSigningKey {
        kid: col(row, "kid")?,
        sealed_private_key: col(row, "private_key_ciphertext")?,
        public_key: col(row, "public_key")?,
        alg: col(row, "alg")?,
        retired_at: col(row, "retired_at")?,
        activates_at: col(row, "activates_at")?,
    })
}

/// The tenants whose keys changed after `since` (a key made, or one that
/// began or stopped signing by `now`): what each replica's housekeeping
/// refreshes, so that a round costs one query whatever the tenant count.
#[tracing::instrument(name = "db signing_keys_moved", level = "debug", skip_all)]
pub async fn signing_keys_moved(db: &Db, since: i64, now: i64) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT DISTINCT tenant_id FROM signing_keys /* UNSCOPED: one look for every tenant */ \
         WHERE created_at > $1 OR (activates_at > $1 AND activates_at <= $2) OR (retired_at > $1 AND retired_at <= $2)",
    )
    .bind(since)
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(|row| col(row, "tenant_id")).collect()
}
