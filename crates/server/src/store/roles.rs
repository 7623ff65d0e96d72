//! The role catalog.

use super::*;

/// Seeds the contract's catalog ("Roles and permissions") on a new install; idempotent across replicas.
#[tracing::instrument(name = "db seed_roles", level = "debug", skip_all)]
pub async fn seed_roles(db: &Db) -> Result<(), sqlx::Error> {
    let now = db.now_micros();
    for role in seeded_roles() {
        sqlx::query(
            "INSERT INTO roles (id, name, name_key, permissions, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(casebook_domain::role::seed_role_id(role.name))
        .bind(role.name)
        .bind(casebook_domain::text::fold(role.name))
        .bind(role.permissions.to_scope())
        .bind(now)
        .execute(db.pool())
        .await?;
    }
    Ok(())
}

fn role_from(row: &AnyRow) -> Result<RoleRecord, sqlx::Error> {
    let permissions: String = col(row, "permissions")?;
    Ok(RoleRecord {
        id: col(row, "id")?,
        name: col(row, "name")?,
        permissions: PermissionSet::parse_scope(&permissions).unwrap_or_default(),
        created_at: stamp(row, "created_at")?,
        updated_at: stamp(row, "updated_at")?,
    })
}

#[tracing::instrument(name = "db list_roles", level = "debug", skip_all)]
pub async fn list_roles(db: &Db, cursor: Option<&str>, limit: u32) -> Result<Listed<RoleRecord>, sqlx::Error> {
    let rows = page_rows(db, ROLES, cursor, limit).await?;
    let items = rows.iter().map(role_from).collect::<Result<Vec<_>, _>>()?;
    Ok(paginate(items, limit, |r| &r.id))
}

#[tracing::instrument(name = "db get_role", level = "debug", skip_all)]
pub async fn get_role(db: &Db, id: &str) -> Result<RoleRecord, StoreError> {
    let row = sqlx::query("SELECT id, name, permissions, created_at, updated_at FROM roles WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
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
pub async fn create_role(db: &Db, author: &Author, role: &ValidRole) -> Result<RoleRecord, StoreError> {
    let id = new_id();
    let now = db.now_micros();
    let mut tx = db.begin().await?;
    grants::Grantor::read(db, &mut tx, author)
        .await?
        .authorize(GrantChange::Create {
            after: role.permissions(),
        })?;
    let result = sqlx::query(
        "INSERT INTO roles (id, name, name_key, permissions, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(role.name().as_ref())
    .bind(casebook_domain::text::fold(role.name().as_ref()))
    .bind(role.permissions().to_scope())
    .bind(now)
    .execute(&mut *tx)
    .await;
    match result {
        Err(e) if is_unique_violation(&e) => return Err(role_name_in_use(role.name().as_ref())),
        other => other?,
    };
    audit(
        &mut tx,
        &author.actor,
        "role.created",
        "role",
        &id,
        Some(role.name().to_string()),
    )
    .await?;
    tx.commit().await?;
    get_role(db, &id).await
}

#[tracing::instrument(name = "db update_role", level = "debug", skip_all)]
pub async fn update_role(
    db: &Db,
    author: &Author,
    id: &str,
    change: &ValidRoleChange,
) -> Result<RoleRecord, StoreError> {
    let mut tx = db.begin().await?;
    touch(&mut tx, "roles", id, "role").await?;
    let check = AdministratorCheck::before(db, &mut tx).await?;
    let grantor = grants::Grantor::read(db, &mut tx, author).await?;
    let before = grants::role_permissions(&mut tx, id).await?.unwrap_or_default();
    let after = change.permissions().unwrap_or(before);
    grantor.authorize(GrantChange::Change { before, after })?;
    if let Some(name) = change.name() {
        let result = sqlx::query("UPDATE roles SET name = $1, name_key = $2 WHERE id = $3")
            .bind(name.as_ref())
            .bind(casebook_domain::text::fold(name.as_ref()))
            .bind(id)
            .execute(&mut *tx)
            .await;
        match result {
            Err(e) if is_unique_violation(&e) => return Err(role_name_in_use(name.as_ref())),
            other => other?,
        };
    }
    if let Some(permissions) = change.permissions() {
        set_text(&mut tx, "roles", "permissions", id, Some(&permissions.to_scope())).await?;
    }
    check.after(&mut tx).await?;
    audit(&mut tx, &author.actor, "role.changed", "role", id, None).await?;
    tx.commit().await?;
    get_role(db, id).await
}

#[tracing::instrument(name = "db delete_role", level = "debug", skip_all)]
pub async fn delete_role(db: &Db, author: &Author, id: &str) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    let grantor = grants::Grantor::read(db, &mut tx, author).await?;
    if let Some(before) = grants::role_permissions(&mut tx, id).await? {
        grantor.authorize(GrantChange::Remove { before })?;
    }
    let holders = sqlx::query(
        "SELECT 'user' AS kind, u.id AS id, u.name AS name FROM user_roles x JOIN users u ON u.id = x.user_id WHERE x.role_id = $1 \
         UNION ALL \
         SELECT 'application' AS kind, a.id AS id, a.name AS name FROM application_roles x JOIN applications a ON a.id = x.application_id WHERE x.role_id = $1 \
         ORDER BY kind, name",
    )
    .bind(id)
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
    let removed = match sqlx::query("DELETE FROM roles WHERE id = $1")
        .bind(id)
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
    audit(&mut tx, &author.actor, "role.removed", "role", id, None).await?;
    tx.commit().await?;
    Ok(())
}
