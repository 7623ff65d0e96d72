//! The tenants themselves: an install-wide table, read by slug on a request's
//! way in and written only from the root tenant (the contract, "Tenants").

use super::*;

#[derive(Debug, Clone)]
pub struct TenantRecord {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub enabled: bool,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const TENANT_COLUMNS: &str = "id, slug, name, enabled, disabled_at, created_at, updated_at";

fn tenant_from(row: &AnyRow) -> Result<TenantRecord, sqlx::Error> {
    Ok(TenantRecord {
        id: col(row, "id")?,
        slug: col(row, "slug")?,
        name: col(row, "name")?,
        enabled: col::<i64>(row, "enabled")? != 0,
        disabled_at: col(row, "disabled_at")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

#[tracing::instrument(name = "db tenant_by_slug", level = "debug", skip_all)]
pub async fn tenant_by_slug(db: &Db, slug: &str) -> Result<Option<TenantRecord>, sqlx::Error> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {TENANT_COLUMNS} FROM tenants WHERE slug = $1"
    )))
    .bind(slug)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(tenant_from).transpose()
}

/// A page of tenants, by slug.
#[tracing::instrument(name = "db list_tenants", level = "debug", skip_all)]
pub async fn list_tenants(db: &Db, after: Option<&str>, limit: u32) -> Result<Listed<TenantRecord>, sqlx::Error> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {TENANT_COLUMNS} FROM tenants WHERE slug > $1 ORDER BY slug LIMIT $2"
    )))
    .bind(after.unwrap_or(""))
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await?;
    let items = rows.iter().map(tenant_from).collect::<Result<Vec<_>, _>>()?;
    Ok(paginate(items, limit, |t| &t.slug))
}

/// A replica is counted alive while its quota heartbeat is this recent.
const REPLICA_LIVE_MICROS: i64 = 60 * 1_000_000;

/// Refuses to make a second tenant while a replica of the release before
/// tenancy is alive: it reads signing keys and accounts without a tenant
/// filter, so another tenant's rows would reach its answers. Such a replica
/// heartbeats in `token_quota_replicas` but writes no `replica_releases` row.
async fn no_replica_predates_tenancy(tx: &mut Tx) -> Result<(), StoreError> {
    let live_since = tx.now_micros() - REPLICA_LIVE_MICROS;
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM token_quota_replicas q WHERE q.seen_at >= $1 \
         AND NOT EXISTS (SELECT 1 FROM replica_releases r WHERE r.replica_id = q.replica_id)",
    )
    .bind(live_since)
    .fetch_one(&mut **tx)
    .await?;
    if col::<i64>(&row, "n")? > 0 {
        return Err(StoreError::Conflict {
            detail: "a replica of a release without tenants is still serving this database; upgrade every replica, \
                     then create tenants"
                .into(),
            holders: None,
        });
    }
    Ok(())
}

/// A new tenant in one transaction: its row, the seeded roles (within the
/// agency modules), and its first Administrator. Its first signing key is
/// made on its first use (see `tenancy::KeyRings`), so creating one stays
/// fast whatever the algorithm.
#[tracing::instrument(name = "db create_tenant", level = "debug", skip_all)]
pub async fn create_tenant(
    db: &Db,
    author: Option<&ActorRef>,
    tenant: &casebook_domain::tenant::NewTenant,
    admin_password_hash: &str,
) -> Result<TenantRecord, StoreError> {
    let id = new_id();
    let mut tx = db.begin().await?;
    let now = tx.now_micros();
    no_replica_predates_tenancy(&mut tx).await?;
    let inserted = sqlx::query(
        "INSERT INTO tenants (id, slug, name, enabled, created_at, updated_at) VALUES ($1, $2, $3, 1, $4, $4)",
    )
    .bind(&id)
    .bind(tenant.slug().as_str())
    .bind(tenant.name())
    .bind(now)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::refused(FieldError::new(
                "slug",
                ErrorCode::NameInUse,
                format!("a tenant with slug {:?} exists already", tenant.slug().as_str()),
            )));
        }
        other => other?,
    };
    let at = Scope::new(db.clone(), id.as_str());
    roles::seed_roles_in(&mut tx, &at, Some(tenant.slug().as_str())).await?;
    let admin_id = new_id();
    let account = AccountRef::new(AccountKind::User, &admin_id);
    claim_email(&mut tx, &at, tenant.admin_email(), &account)
        .await
        .map_err(|e| match e {
            // The tenant is new: only the form's own address can clash, and
            // it cannot. Kept for the message's field name.
            StoreError::Refused(_) => StoreError::refused(FieldError::email_in_use()),
            other => other,
        })?;
    let admin_name = casebook_domain::user::FIRST_ADMINISTRATOR_NAME;
    sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, created_at, updated_at, tenant_id) \
         VALUES ($1, $2, $3, $4, $5, $5, $6)",
    )
    .bind(&admin_id)
    .bind(tenant.admin_email().as_str())
    .bind(admin_name)
    .bind(admin_password_hash)
    .bind(now)
    .bind(at.tenant())
    .execute(&mut *tx)
    .await?;
    set_roles(
        &mut tx,
        &at,
        RoleHolder::User(&admin_id),
        &[roles::seed_role_id(
            Some(tenant.slug().as_str()),
            casebook_domain::user::FIRST_ADMINISTRATOR_NAME,
        )],
    )
    .await?;
    let actor = author.cloned().unwrap_or_else(ActorRef::operator);
    audit(
        &mut tx,
        &at,
        &actor,
        Event::new("user.created", "user", &admin_id).detail(tenant.admin_email().to_string()),
    )
    .await?;
    audit(
        &mut tx,
        &Scope::root(db.clone()),
        &actor,
        Event::new("tenant.created", "tenant", tenant.slug().as_str()).detail(tenant.name().to_owned()),
    )
    .await?;
    tx.commit().await?;
    tenant_by_slug(db, tenant.slug().as_str())
        .await?
        .ok_or(StoreError::NotFound("tenant"))
}

/// Renames a tenant, or disables or enables it. Disabling moves every
/// application's token generation and ends every session, so enabling it
/// again brings back no token or session from before; the triggers on `tenants` and `applications` move
/// the cache generation, so every replica drops what it cached within a poll.
#[tracing::instrument(name = "db update_tenant", level = "debug", skip_all)]
pub async fn update_tenant(
    db: &Db,
    author: Option<&ActorRef>,
    slug: &str,
    change: &casebook_domain::tenant::ValidTenantChange,
) -> Result<TenantRecord, StoreError> {
    let mut tx = db.begin().await?;
    let now = tx.now_micros();
    let Some(before) =
        sqlx::query("UPDATE tenants SET updated_at = $1 WHERE slug = $2 AND id <> 'root' RETURNING name, enabled")
            .bind(now)
            .bind(slug)
            .fetch_optional(&mut *tx)
            .await?
    else {
        tx.rollback().await?;
        return Err(StoreError::NotFound("tenant"));
    };
    let (name_before, enabled_before): (String, bool) = (col(&before, "name")?, col::<i64>(&before, "enabled")? != 0);
    if let Some(name) = &change.name {
        sqlx::query("UPDATE tenants SET name = $1 WHERE slug = $2")
            .bind(name)
            .bind(slug)
            .execute(&mut *tx)
            .await?;
    }
    match change.enabled {
        Some(false) => {
            let disabled = sqlx::query(
                "UPDATE tenants SET enabled = 0, disabled_at = $1 WHERE slug = $2 AND enabled = 1 RETURNING id",
            )
            .bind(now)
            .bind(slug)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = disabled {
                let id: String = col(&row, "id")?;
                sqlx::query("UPDATE applications SET token_generation = token_generation + 1 WHERE tenant_id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                // Its people sign in again once it is enabled, as its
                // applications take new tokens.
                sqlx::query("DELETE FROM sessions WHERE tenant_id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        Some(true) => {
            sqlx::query("UPDATE tenants SET enabled = 1, disabled_at = NULL WHERE slug = $1")
                .bind(slug)
                .execute(&mut *tx)
                .await?;
        }
        None => {}
    }
    let after = sqlx::query("SELECT name, enabled FROM tenants WHERE slug = $1")
        .bind(slug)
        .fetch_one(&mut *tx)
        .await?;
    let (name_after, enabled_after): (String, bool) = (col(&after, "name")?, col::<i64>(&after, "enabled")? != 0);
    let mut changes = casebook_domain::audit::Changes::new();
    changes
        .field("name", name_before.as_str(), name_after.as_str())
        .field("enabled", enabled_before, enabled_after);
    let verb = casebook_domain::audit::change_verb(enabled_before, enabled_after);
    audit(
        &mut tx,
        &Scope::root(db.clone()),
        author.unwrap_or(&ActorRef::operator()),
        Event::new(format!("tenant.{verb}"), "tenant", slug).changes(changes),
    )
    .await?;
    tx.commit().await?;
    tenant_by_slug(db, slug).await?.ok_or(StoreError::NotFound("tenant"))
}

/// Removes a tenant and every row it owns, in one transaction. The root
/// cannot be deleted.
#[tracing::instrument(name = "db delete_tenant", level = "debug", skip_all)]
pub async fn delete_tenant(db: &Db, author: Option<&ActorRef>, slug: &str) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    let Some(row) = sqlx::query("SELECT id, name FROM tenants WHERE slug = $1 AND id <> 'root'")
        .bind(slug)
        .fetch_optional(&mut *tx)
        .await?
    else {
        tx.rollback().await?;
        return Err(StoreError::NotFound("tenant"));
    };
    let (id, name): (String, String) = (col(&row, "id")?, col(&row, "name")?);
    // Children before parents, so that no foreign key is left dangling
    // while the transaction runs.
    for table in TENANT_DELETION_ORDER {
        sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE tenant_id = $1")))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM tenants WHERE id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    audit(
        &mut tx,
        &Scope::root(db.clone()),
        author.unwrap_or(&ActorRef::operator()),
        Event::new("tenant.deleted", "tenant", slug).named(&name),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether the tenant requires a second factor of everyone holding an
/// `admin:` permission.
#[tracing::instrument(name = "db tenant_settings", level = "debug", skip_all)]
pub async fn tenant_settings(at: &Scope) -> Result<casebook_domain::wire::Settings, StoreError> {
    let row = sqlx::query("SELECT require_mfa_for_admins FROM tenants WHERE id = $1")
        .bind(at.tenant())
        .fetch_optional(at.pool())
        .await?
        .ok_or(StoreError::NotFound("tenant"))?;
    Ok(casebook_domain::wire::Settings {
        require_mfa_for_admins: col::<i64>(&row, "require_mfa_for_admins")? != 0,
    })
}

/// Changes the tenant's settings, with `settings.changed` in its trail.
#[tracing::instrument(name = "db change_tenant_settings", level = "debug", skip_all)]
pub async fn change_tenant_settings(
    at: &Scope,
    author: &ActorRef,
    change: &casebook_domain::wire::SettingsChange,
) -> Result<casebook_domain::wire::Settings, StoreError> {
    let before = tenant_settings(at).await?;
    let mut tx = at.begin().await?;
    if let Some(required) = change.require_mfa_for_admins {
        sqlx::query("UPDATE tenants SET require_mfa_for_admins = $1 WHERE id = $2")
            .bind(i64::from(required))
            .bind(at.tenant())
            .execute(&mut *tx)
            .await?;
    }
    let after = casebook_domain::wire::Settings {
        require_mfa_for_admins: change.require_mfa_for_admins.unwrap_or(before.require_mfa_for_admins),
    };
    let mut changes = casebook_domain::audit::Changes::new();
    changes.field(
        "require_mfa_for_admins",
        before.require_mfa_for_admins,
        after.require_mfa_for_admins,
    );
    if !changes.is_empty() {
        audit(
            &mut tx,
            at,
            author,
            Event::new("settings.changed", "tenant", at.tenant()).changes(changes),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(after)
}

/// Every table of [`super::TENANT_TABLES`], children first.
const TENANT_DELETION_ORDER: &[&str] = &[
    "idempotency_keys",
    "usage_counts",
    "webhook_deliveries",
    "webhook_event_types",
    "webhooks",
    "sessions",
    "recovery_codes",
    "mfa_challenges",
    "password_links",
    "passkeys",
    "webauthn_ceremonies",
    "second_factor_failures",
    "reveal_failures",
    "user_roles",
    "application_roles",
    "client_secrets",
    "federated_credentials",
    "account_emails",
    "users",
    "applications",
    "roles",
    "signing_keys",
    "audit_events",
    "cases",
    "reports",
    "outbox",
];

#[cfg(test)]
mod tests {
    #[test]
    fn deletion_covers_every_tenant_table() {
        let mut deleted = super::TENANT_DELETION_ORDER.to_vec();
        let mut owned = super::super::TENANT_TABLES.to_vec();
        deleted.sort_unstable();
        owned.sort_unstable();
        assert_eq!(deleted, owned);
    }
}
