//! What the token endpoint and the caches read about a client, and the
//! shared counter that tells every process when to read it again.

use super::*;
use casebook_domain::client_keys::{AuthMethod, ClientKeySet, JwksUri, KeySource};

/// What the token endpoint needs to know about a client.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    /// The tenant the application belongs to: a Client ID is unique in the
    /// install, and a lookup by it is answered only for this tenant
    /// ([`crate::state::AppState::client`]).
    pub tenant_id: String,
    pub application_id: String,
    pub name: String,
    pub enabled: bool,
    /// Every stored secret, expired ones too: an expired one is refused
    /// like a wrong one, but audited.
    pub secrets: Vec<StoredSecret>,
    pub permissions: PermissionSet,
    /// Bumped by every disable; tokens of another generation are refused.
    pub token_generation: i64,
    /// `None` for a stored method this build does not know: no way in.
    pub auth_method: Option<AuthMethod>,
    /// The keys of a `private_key_jwt` client, inline or at a URL; `None` if
    /// there are none, or if what is stored does not read as either.
    pub keys: Option<KeySource>,
    /// Where from and how many.
    pub limits: ClientLimits,
    /// A token request without a DPoP proof is refused (RFC 9449).
    pub dpop_bound_access_tokens: bool,
}

impl ClientRecord {
    /// What decides which methods may authenticate it.
    pub fn standing(&self) -> casebook_domain::client_auth::ClientStanding {
        casebook_domain::client_auth::ClientStanding {
            enabled: self.enabled,
            method: self.auth_method,
        }
    }

    /// The application as the trail names it.
    pub fn actor(&self) -> ActorRef {
        ActorRef::application(&self.application_id, &self.name)
    }
}

/// What the token endpoint compares a presented secret with.
#[derive(Clone)]
pub struct StoredSecret {
    pub id: String,
    pub mac: Vec<u8>,
    pub created_at: casebook_domain::Timestamp,
    pub expires_at: Option<casebook_domain::Timestamp>,
}

/// The MAC stays out of every `Debug`: it is not the secret, but nothing
/// derived from one belongs in a log.
impl std::fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSecret")
            .field("id", &self.id)
            .field("mac", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// One round trip: the application, its tenant, its secrets and its roles' permissions,
/// joined (a few rows: roles times secrets, each at most a handful). This
/// runs whenever a client's cache entry has expired, which for clients that
/// ask for a token once an hour is nearly every time.
#[tracing::instrument(name = "db client_record", level = "debug", skip_all)]
pub async fn client_record(db: &Db, client_id: &str) -> Result<Option<ClientRecord>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT a.tenant_id, a.id, a.name, a.enabled, a.token_generation, a.token_endpoint_auth_method, a.jwks, a.jwks_uri, \
                r.permissions, r.platform_permissions, s.id AS secret_id, s.secret_mac, s.created_at AS secret_created_at, s.expires_at AS secret_expires_at, \
                a.allowed_sources, a.token_quota_per_hour, a.dpop_bound_access_tokens \
         FROM applications a \
         LEFT JOIN application_roles ar ON ar.application_id = a.id \
         LEFT JOIN roles r ON r.id = ar.role_id \
         LEFT JOIN client_secrets s ON s.application_id = a.id \
         WHERE a.client_id = $1",
    )
    .bind(client_id)
    .fetch_all(db.pool())
    .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let mut permissions = PermissionSet::EMPTY;
    let mut secrets: Vec<StoredSecret> = Vec::new();
    for r in &rows {
        permissions = permissions.union(role_permissions(r)?);
        if let Some(id) = col::<Option<String>>(r, "secret_id")?
            && !secrets.iter().any(|s| s.id == id)
        {
            secrets.push(StoredSecret {
                id,
                mac: col(r, "secret_mac")?,
                created_at: casebook_domain::Timestamp::from_unix_micros(col(r, "secret_created_at")?),
                expires_at: col::<Option<i64>>(r, "secret_expires_at")?
                    .map(casebook_domain::Timestamp::from_unix_micros),
            });
        }
    }
    Ok(Some(ClientRecord {
        tenant_id: col(row, "tenant_id")?,
        application_id: col(row, "id")?,
        name: col(row, "name")?,
        enabled: col::<i64>(row, "enabled")? != 0,
        secrets,
        permissions,
        token_generation: col(row, "token_generation")?,
        auth_method: AuthMethod::parse(&col::<String>(row, "token_endpoint_auth_method")?),
        keys: match (
            col::<Option<String>>(row, "jwks")?,
            col::<Option<String>>(row, "jwks_uri")?,
        ) {
            (Some(text), _) => stored_keys(client_id, &text).map(KeySource::Inline),
            (None, Some(text)) => stored_uri(client_id, &text).map(KeySource::Uri),
            (None, None) => None,
        },
        limits: LimitColumns::read(row)?.enforced(client_id),
        dpop_bound_access_tokens: col::<i64>(row, "dpop_bound_access_tokens")? != 0,
    }))
}

/// The shared counter the triggers of migration 0006 move with every change
/// a cached application or token could depend on.
#[tracing::instrument(name = "db cache_generation", level = "debug", skip_all)]
pub async fn cache_generation(db: &Db) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT generation FROM cache_generation WHERE id = 1")
        .fetch_one(db.pool())
        .await?;
    col(&row, "generation")
}

fn stored_keys(client_id: &str, text: &str) -> Option<ClientKeySet> {
    let keys = serde_json::from_str(text)
        .ok()
        .and_then(|value| ClientKeySet::parse_stored(&value).ok());
    if keys.is_none() {
        tracing::error!(client_id, "the stored public keys of a client do not read as a key set");
    }
    keys
}

/// A stored `jwks_uri`, read back without the private-address rule: the
/// fetcher applies that rule to every address, under the current setting.
fn stored_uri(client_id: &str, text: &str) -> Option<JwksUri> {
    let uri = JwksUri::parse("jwks_uri", text, true).ok();
    if uri.is_none() {
        tracing::error!(client_id, "the stored jwks_uri of a client does not read as one");
    }
    uri
}

/// Records client assertions' `jti`s, each until its `exp`, in one
/// statement; answers the `(client_id, jti)` pairs that were recorded. One
/// missing from the answer is already recorded and unexpired: a replay,
/// wherever the first use landed. A recorded one that has expired but not
/// yet been purged is taken over. The pairs must be distinct.
#[tracing::instrument(name = "db spend_assertion_jtis", level = "debug", skip_all)]
pub async fn spend_assertion_jtis(
    db: &Db,
    spends: &[(&str, &str, i64)],
) -> Result<HashSet<(String, String)>, sqlx::Error> {
    if spends.is_empty() {
        return Ok(HashSet::new());
    }
    let now = spends.len() * 3 + 1;
    let values: Vec<String> = (0..spends.len())
        .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
        .collect();
    let sql = format!(
        "INSERT INTO client_assertion_jtis (client_id, jti, expires_at) VALUES {} \
         ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at \
         WHERE client_assertion_jtis.expires_at <= ${now} \
         RETURNING client_id, jti",
        values.join(", ")
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (client_id, jti, exp) in spends {
        query = query.bind(*client_id).bind(*jti).bind(*exp);
    }
    let rows = query.bind(db.now_micros() / 1_000_000).fetch_all(db.pool()).await?;
    rows.iter()
        .map(|row| Ok((col(row, "client_id")?, col(row, "jti")?)))
        .collect()
}
