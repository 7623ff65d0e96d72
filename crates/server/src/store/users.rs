//! User accounts.

use super::*;

#[derive(Debug)]
pub struct UserAuth {
    pub id: String,
    pub name: String,
    pub password_hash: String,
}

fn user_from(row: &AnyRow, roles: &mut HashMap<String, Vec<String>>) -> Result<UserRecord, sqlx::Error> {
    let id: String = col(row, "id")?;
    Ok(UserRecord {
        role_ids: roles.remove(&id).unwrap_or_default(),
        id,
        email: col(row, "email")?,
        name: col(row, "name")?,
        created_at: stamp(row, "created_at")?,
        updated_at: stamp(row, "updated_at")?,
    })
}

#[tracing::instrument(name = "db count_users", level = "debug", skip_all)]
pub async fn count_users(db: &Db) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(db.pool())
        .await?;
    col(&row, "n")
}

#[tracing::instrument(name = "db list_users", level = "debug", skip_all)]
pub async fn list_users(db: &Db, cursor: Option<&str>, limit: u32) -> Result<Listed<UserRecord>, sqlx::Error> {
    let rows = page_rows(db, USERS, cursor, limit).await?;
    let ids: Vec<String> = rows.iter().map(|r| col(r, "id")).collect::<Result<_, _>>()?;
    let mut roles = roles_of(
        db,
        AccountKind::User,
        &ids.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await?;
    let items = rows
        .iter()
        .map(|r| user_from(r, &mut roles))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(paginate(items, limit, |u| &u.id))
}

#[tracing::instrument(name = "db get_user", level = "debug", skip_all)]
pub async fn get_user(db: &Db, id: &str) -> Result<UserRecord, StoreError> {
    let row = sqlx::query("SELECT id, email, name, created_at, updated_at FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(StoreError::NotFound("user"))?;
    let mut roles = roles_of(db, AccountKind::User, &[id]).await?;
    Ok(user_from(&row, &mut roles)?)
}

#[tracing::instrument(name = "db user_auth_by_email", level = "debug", skip_all)]
pub async fn user_auth_by_email(db: &Db, email: &Email) -> Result<Option<UserAuth>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT u.id, u.name, u.password_hash FROM account_emails e JOIN users u ON u.id = e.account_id \
         WHERE e.email = $1 AND e.account_kind = 'user'",
    )
    .bind(email.normalized())
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        Ok(UserAuth {
            id: col(&r, "id")?,
            name: col(&r, "name")?,
            password_hash: col(&r, "password_hash")?,
        })
    })
    .transpose()
}

#[tracing::instrument(name = "db user_password_hash", level = "debug", skip_all)]
pub async fn user_password_hash(db: &Db, id: &str) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| col(&r, "password_hash")).transpose()
}

/// `password_hash` is computed by the caller, off the async threads.
/// `author` is `None` only for the first administrator, made at first start.
#[tracing::instrument(name = "db create_user", level = "debug", skip_all)]
pub async fn create_user(
    db: &Db,
    author: Option<&Author>,
    user: &NewUser,
    password_hash: &str,
) -> Result<UserRecord, StoreError> {
    let id = new_id();
    let now = db.now_micros();
    let mut tx = db.begin().await?;
    if let Some(author) = author {
        let grantor = grants::Grantor::read(db, &mut tx, author).await?;
        let after = grants::permissions_of_roles(&mut tx, user.roles()).await?;
        grantor.authorize(GrantChange::Create { after })?;
    }
    claim_email(&mut tx, user.email(), &AccountRef::new(AccountKind::User, &id)).await?;
    sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(user.email().as_str())
    .bind(user.name())
    .bind(password_hash)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    set_roles(&mut tx, RoleHolder::User(&id), user.roles()).await?;
    let system = ActorRef {
        kind: AccountKind::User,
        id: id.clone(),
        name: user.name().to_owned(),
    };
    audit(
        &mut tx,
        author.map_or(&system, |a| &a.actor),
        "user.created",
        "user",
        &id,
        Some(user.email().to_string()),
    )
    .await?;
    tx.commit().await?;
    get_user(db, &id).await
}

#[tracing::instrument(name = "db update_user", level = "debug", skip_all)]
pub async fn update_user(
    db: &Db,
    author: &Author,
    id: &str,
    change: &ValidUserChange,
    password_hash: Option<&str>,
) -> Result<UserRecord, StoreError> {
    let mut tx = db.begin().await?;
    touch(&mut tx, "users", id, "user").await?;
    let check = AdministratorCheck::before(db, &mut tx).await?;
    let grantor = grants::Grantor::read(db, &mut tx, author).await?;
    let before = held_permissions(&mut tx, RoleHolder::User(id)).await?;
    if let Some(email) = change.email() {
        move_email(&mut tx, "users", &AccountRef::new(AccountKind::User, id), email).await?;
    }
    if let Some(name) = change.name() {
        set_text(&mut tx, "users", "name", id, Some(name)).await?;
    }
    if let Some(hash) = password_hash {
        set_text(&mut tx, "users", "password_hash", id, Some(hash)).await?;
        // A new password ends every other session.
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(roles) = change.roles() {
        set_roles(&mut tx, RoleHolder::User(id), roles).await?;
    }
    let after = held_permissions(&mut tx, RoleHolder::User(id)).await?;
    grantor.authorize(GrantChange::Change { before, after })?;
    check.after(&mut tx).await?;
    audit(&mut tx, &author.actor, "user.changed", "user", id, None).await?;
    tx.commit().await?;
    get_user(db, id).await
}

#[tracing::instrument(name = "db delete_user", level = "debug", skip_all)]
pub async fn delete_user(db: &Db, author: &Author, id: &str) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    let check = AdministratorCheck::before(db, &mut tx).await?;
    let grantor = grants::Grantor::read(db, &mut tx, author).await?;
    let before = held_permissions(&mut tx, RoleHolder::User(id)).await?;
    grantor.authorize(GrantChange::Remove { before })?;
    let removed = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(StoreError::NotFound("user"));
    }
    release_email(&mut tx, &AccountRef::new(AccountKind::User, id)).await?;
    check.after(&mut tx).await?;
    audit(&mut tx, &author.actor, "user.removed", "user", id, None).await?;
    tx.commit().await?;
    Ok(())
}
