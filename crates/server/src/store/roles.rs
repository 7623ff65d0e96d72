//! The role catalog.

use super::*;

/// Seeds the contract's catalog ("Roles and permissions") on a new install; idempotent across replicas.
#[tracing::instrument(name = "db seed_roles", level = "debug", skip_all)]
pub async fn seed_roles(at: &Scope) -> Result<(), sqlx::Error> {
    let mut tx = at.begin().await?;
    seed_roles_in(&mut tx, at, None).await?;
    tx.commit().await
}

/// The seeded catalog, within what the tenant can hold (`tenants:*` only
/// at the root), with ids from [`seed_role_id`] (`tenant_slug`: `None` at
/// the root).
pub(super) async fn seed_roles_in(tx: &mut Tx, at: &Scope, tenant_slug: Option<&str>) -> Result<(), sqlx::Error> {
    let now = tx.now_micros();
    for role in seeded_roles() {
        let (agency, platform) = permission_columns(role.permissions.within(at.is_root()));
        sqlx::query(
            "INSERT INTO roles (id, name, name_key, permissions, platform_permissions, created_at, updated_at, tenant_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(seed_role_id(tenant_slug, role.name))
        .bind(role.name)
        .bind(at.unique_key(&casebook_domain::text::fold(role.name)))
        .bind(agency)
        .bind(platform)
        .bind(now)
        .bind(at.tenant())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A seeded role's id: its slug at the root (`engage-worker`), as every
/// release has had it, and `<tenant slug>.<role slug>` in a tenant
/// (`acme.engage-worker`), since role ids are unique in the install. A
/// tenant deleted takes its roles along, so a later one of the same slug
/// seeds the same ids afresh.
pub(super) fn seed_role_id(tenant_slug: Option<&str>, name: &str) -> String {
    let slug = casebook_domain::role::seed_role_id(name);
    match tenant_slug {
        None => slug,
        Some(tenant) => format!("{tenant}.{slug}"),
    }
}

/// A role's permissions as a row holds them (`permissions`, and the
/// `tenants` module's in `platform_permissions`, which the previous release
/// never reads); no role on the row (an outer join) is the empty set.
pub(super) fn role_permissions(row: &AnyRow) -> Result<PermissionSet, sqlx::Error> {
    let agency = col::<Option<String>>(row, "permissions")?.unwrap_or_default();
    let platform = col::<Option<String>>(row, "platform_permissions")?.unwrap_or_default();
    Ok(PermissionSet::parse_scope(&agency)
        .unwrap_or_default()
        .union(PermissionSet::parse_scope(&platform).unwrap_or_default()))
}

/// The two columns a set is written to: the agency modules, and `tenants`.
pub(super) fn permission_columns(set: PermissionSet) -> (String, String) {
    let platform = set.intersection(PermissionSet::platform());
    (set.difference(platform).to_scope(), platform.to_scope())
}

fn role_from(row: &AnyRow) -> Result<RoleRecord, sqlx::Error> {
    Ok(RoleRecord {
        id: col(row, "id")?,
        name: col(row, "name")?,
        permissions: role_permissions(row)?,
        created_at: stamp(row, "created_at")?,
        updated_at: stamp(row, "updated_at")?,
    })
}

#[tracing::instrument(name = "db list_roles", level = "debug", skip_all)]
pub async fn list_roles(at: &Scope, cursor: Option<&str>, limit: u32) -> Result<Listed<RoleRecord>, sqlx::Error> {
    let rows = page_rows(at, ROLES, cursor, limit).await?;
    let items = rows.iter().map(role_from).collect::<Result<Vec<_>, _>>()?;
    Ok(paginate(items, limit, |r| &r.id))
}

#[tracing::instrument(name = "db get_role", level = "debug", skip_all)]
pub async fn get_role(at: &Scope, id: &str) -> Result<RoleRecord, StoreError> {
    let row = sqlx::query(
        "SELECT id, name, permissions, platform_permissions, created_at, updated_at FROM roles WHERE id = $1 AND tenant_id = $2",
    )
    .bind(id)
    .bind(at.tenant())
        .fetch_optional(at.pool())
        .await?;
    row.as_ref()
        .map(role_from)
        .transpose()?
        .ok_or(StoreError::NotFound("role"))
}

fn role_name_in_use(name: &str) -> StoreError {
    StoreError::refused(FieldError::new(
        "name",
        ErrorCode::NameInUse,
        format!("a role named {name:?} exists already"),
    ))
}

#[tracing::instrument(name = "db create_role", level = "debug", skip_all)]
pub async fn create_role(at: &Scope, author: &Author, role: &ValidRole) -> Result<RoleRecord, StoreError> {
    let id = new_id();
    let now = at.now_micros();
    let mut tx = at.begin().await?;
    grants::Grantor::read(at, &mut tx, author)
        .await?
        .authorize(GrantChange::Create {
            after: role.permissions(),
        })?;
    let result = sqlx::query(
        "INSERT INTO roles (id, name, name_key, permissions, platform_permissions, created_at, updated_at, tenant_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
    )
    .bind(&id)
    .bind(role.name().as_ref())
    .bind(at.unique_key(&casebook_domain::text::fold(role.name().as_ref())))
    .bind(permission_columns(role.permissions()).0)
    .bind(permission_columns(role.permissions()).1)
    .bind(now)
    .bind(at.tenant())
    .execute(&mut *tx)
    .await;
    match result {
        Err(e) if is_unique_violation(&e) => return Err(role_name_in_use(role.name().as_ref())),
        other => other?,
    };
    audit(
        &mut tx,
        at,
        &author.actor,
        Event::new("role.created", "role", &id)
            .named(role.name().as_ref())
            .detail(role.name().to_string()),
    )
    .await?;
    tx.commit().await?;
    get_role(at, &id).await
}

#[tracing::instrument(name = "db update_role", level = "debug", skip_all)]
pub async fn update_role(
    at: &Scope,
    author: &Author,
    id: &str,
    change: &ValidRoleChange,
) -> Result<RoleRecord, StoreError> {
    let mut tx = at.begin().await?;
    touch(&mut tx, at, "roles", id, "role").await?;
    let snapshot = snapshots::RoleSnapshot::read(&mut tx, at, id).await?;
    let check = AdministratorCheck::before(at, &mut tx).await?;
    let grantor = grants::Grantor::read(at, &mut tx, author).await?;
    let before = grants::role_permissions(&mut tx, at, id).await?.unwrap_or_default();
    let after = change.permissions().unwrap_or(before);
    grantor.authorize(GrantChange::Change { before, after })?;
    if let Some(name) = change.name() {
        let result = sqlx::query("UPDATE roles SET name = $1, name_key = $2 WHERE id = $3 AND tenant_id = $4")
            .bind(name.as_ref())
            .bind(at.unique_key(&casebook_domain::text::fold(name.as_ref())))
            .bind(id)
            .bind(at.tenant())
            .execute(&mut *tx)
            .await;
        match result {
            Err(e) if is_unique_violation(&e) => return Err(role_name_in_use(name.as_ref())),
            other => other?,
        };
    }
    if let Some(permissions) = change.permissions() {
        let (agency, platform) = permission_columns(permissions);
        set_text(&mut tx, at, "roles", "permissions", id, Some(&agency)).await?;
        set_text(&mut tx, at, "roles", "platform_permissions", id, Some(&platform)).await?;
    }
    check.after(&mut tx, at).await?;
    let after_change = snapshots::RoleSnapshot::read(&mut tx, at, id).await?;
    audit(
        &mut tx,
        at,
        &author.actor,
        Event::new("role.changed", "role", id)
            .named(&after_change.name)
            .changes(snapshot.changes_to(&after_change)),
    )
    .await?;
    tx.commit().await?;
    get_role(at, id).await
}

#[tracing::instrument(name = "db delete_role", level = "debug", skip_all)]
pub async fn delete_role(at: &Scope, author: &Author, id: &str) -> Result<(), StoreError> {
    let mut tx = at.begin().await?;
    let snapshot = snapshots::RoleSnapshot::read(&mut tx, at, id).await?;
    let grantor = grants::Grantor::read(at, &mut tx, author).await?;
    if let Some(before) = grants::role_permissions(&mut tx, at, id).await? {
        grantor.authorize(GrantChange::Remove { before })?;
    }
    let holders = sqlx::query(
        "SELECT 'user' AS kind, u.id AS id, u.name AS name FROM user_roles x JOIN users u ON u.id = x.user_id \
         WHERE x.role_id = $1 AND x.tenant_id = $2 \
         UNION ALL \
         SELECT 'application' AS kind, a.id AS id, a.name AS name FROM application_roles x JOIN applications a ON a.id = x.application_id \
         WHERE x.role_id = $1 AND x.tenant_id = $2 \
         ORDER BY kind, name",
    )
    .bind(id)
    .bind(at.tenant())
    .fetch_all(&mut *tx)
    .await?;
    if !holders.is_empty() {
        let holders = holders
            .iter()
            .map(|r| {
                let kind: String = col(r, "kind")?;
                Ok(Holder {
                    kind: AccountKind::parse(&kind).unwrap_or(AccountKind::User),
                    id: col::<String>(r, "id")?.into(),
                    name: col(r, "name")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let names: Vec<&str> = holders.iter().take(5).map(|h| h.name.as_str()).collect();
        return Err(StoreError::Conflict {
            detail: format!(
                "the role is still assigned to {} account(s) ({}{}); remove it from them first",
                holders.len(),
                names.join(", "),
                if holders.len() > 5 { ", …" } else { "" }
            ),
            holders: Some(holders),
        });
    }
    let removed = match sqlx::query("DELETE FROM roles WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(at.tenant())
        .execute(&mut *tx)
        .await
    {
        Ok(done) => done.rows_affected(),
        // Assigned by a request that committed after the check above.
        Err(e) if crate::db::is_foreign_key_violation(&e) => {
            return Err(StoreError::Conflict {
                detail: "the role was just assigned to an account; remove it from its holders first".into(),
                holders: None,
            });
        }
        Err(e) => return Err(e.into()),
    };
    if removed == 0 {
        return Err(StoreError::NotFound("role"));
    }
    audit(
        &mut tx,
        at,
        &author.actor,
        Event::new("role.removed", "role", id).named(&snapshot.name),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
