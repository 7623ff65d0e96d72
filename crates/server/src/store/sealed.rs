//! Sealed values as `casebook master-key rotate` and `casebook check` see
//! them: the keys the install keeps for its lifetime (`install_keys`), and
//! every sealed column, read in pages and written back only where it still
//! holds what was read. The master key is the install's, so every tenant's
//! rows are read and resealed together.

use super::*;

/// The `install_keys` row of the client secrets' MAC key; also the
/// associated data it is sealed with.
pub const SECRET_MAC_KEY: &str = "client-secret-mac";

/// The tables whose rows carry one sealed value each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedTable {
    ClientSecrets,
    SigningKeys,
    InstallKeys,
    /// People's TOTP secrets (associated data: the user's id).
    TotpSecrets,
    /// Notices whose body carries a one-time link, until sent (associated
    /// data: the notice's id).
    OutboxLinks,
    /// Webhooks' signing secrets (associated data: the webhook's id).
    WebhookSecrets,
}

impl SealedTable {
    /// `(id column, context column, sealed column, table)`.
    fn columns(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Self::ClientSecrets => ("id", "application_id", "secret_ciphertext", "client_secrets"),
            Self::SigningKeys => ("kid", "kid", "private_key_ciphertext", "signing_keys"),
            Self::InstallKeys => ("name", "name", "sealed_value", "install_keys"),
            Self::TotpSecrets => ("id", "id", "totp_secret_sealed", "users"),
            Self::OutboxLinks => ("id", "id", "sealed_body", "outbox"),
            Self::WebhookSecrets => ("id", "id", "secret_sealed", "webhooks"),
        }
    }
}

/// One sealed value and where it lives. `context_source` is the column the
/// associated data is made from (the application's id for a secret, the
/// `kid` for a signing key, the name for an install key).
pub struct SealedRow {
    pub id: String,
    pub context_source: String,
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for SealedRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedRow")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A stored install key, sealed.
#[tracing::instrument(name = "db install_key", level = "debug", skip_all)]
pub async fn install_key(db: &Db, name: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let row = sqlx::query("SELECT sealed_value FROM install_keys WHERE name = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await?;
    row.map(|row| col(&row, "sealed_value")).transpose()
}

/// Stores an install key unless one of that name exists: replicas starting
/// together each try, and all then read the one that won.
#[tracing::instrument(name = "db insert_install_key", level = "debug", skip_all)]
pub async fn insert_install_key_if_absent(db: &Db, name: &str, sealed: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO install_keys (name, sealed_value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(sealed.to_vec())
    .bind(db.now_micros())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// How many rows of `table` hold a sealed value (a secret kept by its MAC
/// alone holds none).
#[tracing::instrument(name = "db count_sealed", level = "debug", skip_all)]
pub async fn count_sealed(conn: &mut sqlx::AnyConnection, table: SealedTable) -> Result<u64, sqlx::Error> {
    let (_, _, sealed, name) = table.columns();
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n FROM {name} /* UNSCOPED: the master key seals the rows of every tenant */ \
         WHERE length({sealed}) > 0"
    )))
    .fetch_one(conn)
    .await?;
    Ok(u64::try_from(col::<i64>(&row, "n")?).unwrap_or(0))
}

/// The next `limit` sealed values of `table` after the id `after`, in id order.
#[tracing::instrument(name = "db sealed_page", level = "debug", skip_all)]
pub async fn sealed_page(
    conn: &mut sqlx::AnyConnection,
    table: SealedTable,
    after: &str,
    limit: i64,
) -> Result<Vec<SealedRow>, sqlx::Error> {
    let (id, context, sealed, name) = table.columns();
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {id} AS id, {context} AS context_source, {sealed} AS sealed FROM {name} \
         /* UNSCOPED: the master key seals the rows of every tenant */ \
         WHERE {id} > $1 AND length({sealed}) > 0 ORDER BY {id} LIMIT $2"
    )))
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(SealedRow {
                id: col(row, "id")?,
                context_source: col(row, "context_source")?,
                sealed: col(row, "sealed")?,
            })
        })
        .collect()
}

/// The sealed value of one row now, or `None` when the row is gone.
#[tracing::instrument(name = "db sealed_value", level = "debug", skip_all)]
pub async fn sealed_value(
    conn: &mut sqlx::AnyConnection,
    table: SealedTable,
    row_id: &str,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let (id, _, sealed, name) = table.columns();
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {sealed} AS sealed FROM {name} /* UNSCOPED: one row by id, from a page read across every tenant */ \
         WHERE {id} = $1"
    )))
    .bind(row_id)
    .fetch_optional(conn)
    .await?;
    row.map(|row| col(&row, "sealed")).transpose()
}

/// Writes `new` over a row's sealed value only if it still holds `old`:
/// a value changed meanwhile (a secret ended, another run) is never
/// overwritten. Whether it was written.
#[tracing::instrument(name = "db reseal", level = "debug", skip_all)]
pub async fn reseal(
    conn: &mut sqlx::AnyConnection,
    table: SealedTable,
    row_id: &str,
    old: &[u8],
    new: &[u8],
) -> Result<bool, sqlx::Error> {
    let (id, _, sealed, name) = table.columns();
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE {name} SET {sealed} = $1 /* UNSCOPED: one row by id, from a page read across every tenant */ \
         WHERE {id} = $2 AND {sealed} = $3"
    )))
    .bind(new.to_vec())
    .bind(row_id)
    .bind(old.to_vec())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One client secret that still has its sealed value, with its MAC: what
/// tells which master key's derived MAC key made the stored MACs.
#[tracing::instrument(name = "db one_sealed_secret_with_mac", level = "debug", skip_all)]
pub async fn one_sealed_secret_with_mac(
    conn: &mut sqlx::AnyConnection,
) -> Result<Option<(SealedRow, Vec<u8>)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, application_id, secret_ciphertext, secret_mac FROM client_secrets \
         /* UNSCOPED: one MAC key for the install, shown by a secret of any tenant */ \
         WHERE length(secret_ciphertext) > 0 ORDER BY id LIMIT 1",
    )
    .fetch_optional(conn)
    .await?;
    row.map(|row| {
        Ok((
            SealedRow {
                id: col(&row, "id")?,
                context_source: col(&row, "application_id")?,
                sealed: col(&row, "secret_ciphertext")?,
            },
            col(&row, "secret_mac")?,
        ))
    })
    .transpose()
}
