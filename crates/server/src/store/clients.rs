//! What the token endpoint and the caches read about a client, and the
//! shared counter that tells every process when to read it again.

use super::*;

/// What the token endpoint needs to know about a client.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    pub application_id: String,
    pub name: String,
    pub enabled: bool,
    pub secret_mac: Vec<u8>,
    pub previous_secret_mac: Option<Vec<u8>>,
    pub previous_secret_expires_at: Option<i64>,
    pub permissions: PermissionSet,
    /// Bumped by every disable; tokens of another generation are refused.
    pub token_generation: i64,
}

/// One round trip: the application and its roles' permissions, joined. This
/// runs whenever a client's cache entry has expired, which for clients that
/// ask for a token once an hour is nearly every time.
pub async fn client_record(db: &Db, client_id: &str) -> Result<Option<ClientRecord>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT a.id, a.name, a.enabled, a.secret_mac, a.previous_secret_mac, a.previous_secret_expires_at, \
                a.token_generation, r.permissions \
         FROM applications a \
         LEFT JOIN application_roles ar ON ar.application_id = a.id \
         LEFT JOIN roles r ON r.id = ar.role_id \
         WHERE a.client_id = $1",
    )
    .bind(client_id)
    .fetch_all(db.pool())
    .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let mut permissions = PermissionSet::EMPTY;
    for r in &rows {
        if let Some(text) = col::<Option<String>>(r, "permissions")? {
            permissions = permissions.union(PermissionSet::parse_scope(&text).unwrap_or_default());
        }
    }
    Ok(Some(ClientRecord {
        application_id: col(row, "id")?,
        name: col(row, "name")?,
        enabled: col::<i64>(row, "enabled")? != 0,
        secret_mac: col(row, "secret_mac")?,
        previous_secret_mac: col(row, "previous_secret_mac")?,
        previous_secret_expires_at: col(row, "previous_secret_expires_at")?,
        permissions,
        token_generation: col(row, "token_generation")?,
    }))
}

/// The shared counter the triggers of migration 0006 move with every change
/// a cached application or token could depend on.
pub async fn cache_generation(db: &Db) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT generation FROM cache_generation WHERE id = 1")
        .fetch_one(db.pool())
        .await?;
    col(&row, "generation")
}
