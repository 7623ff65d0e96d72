//! User accounts.

use super::*;

#[derive(Debug)]
pub struct UserAuth {
    pub id: String,
    pub name: String,
    pub email: String,
    pub password_hash: String,
    pub enabled: bool,
    /// A confirmed second factor: signing in takes a second step.
    pub second_factor: bool,
}

/// How a new user gets a password: given one, or invited to choose it.
pub enum FirstPassword<'a> {
    Hash(&'a str),
    Invitation { master: &'a MasterKey, link: NewLink<'a> },
}

impl std::fmt::Debug for FirstPassword<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Hash(_) => "FirstPassword::Hash",
            Self::Invitation { .. } => "FirstPassword::Invitation",
        })
    }
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
        enabled: col::<i64>(row, "enabled")? != 0,
        last_sign_in_at: col::<Option<i64>>(row, "last_sign_in_at")?.map(casebook_domain::Timestamp::from_unix_micros),
        totp_enrolled: col::<Option<i64>>(row, "totp_confirmed_at")?.is_some(),
        passkeys: col(row, "passkey_count")?,
        invitation_pending: col::<i64>(row, "password_chars")? == 0,
    })
}

#[tracing::instrument(name = "db count_users", level = "debug", skip_all)]
pub async fn count_users(at: &Scope) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE tenant_id = $1")
        .bind(at.tenant())
        .fetch_one(at.pool())
        .await?;
    col(&row, "n")
}

#[tracing::instrument(name = "db list_users", level = "debug", skip_all)]
pub async fn list_users(at: &Scope, cursor: Option<&str>, limit: u32) -> Result<Listed<UserRecord>, sqlx::Error> {
    let rows = page_rows(at, USERS, cursor, limit).await?;
    let ids: Vec<String> = rows.iter().map(|r| col(r, "id")).collect::<Result<_, _>>()?;
    let mut roles = roles_of(
        at,
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
pub async fn get_user(at: &Scope, id: &str) -> Result<UserRecord, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {} FROM users WHERE id = $1 AND tenant_id = $2",
        USERS.columns
    )))
    .bind(id)
    .bind(at.tenant())
    .fetch_optional(at.pool())
    .await?
    .ok_or(StoreError::NotFound("user"))?;
    let mut roles = roles_of(at, AccountKind::User, &[id]).await?;
    Ok(user_from(&row, &mut roles)?)
}

#[tracing::instrument(name = "db user_auth_by_email", level = "debug", skip_all)]
pub async fn user_auth_by_email(at: &Scope, email: &Email) -> Result<Option<UserAuth>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT u.id, u.name, u.email, u.password_hash, u.enabled, u.totp_confirmed_at, \
         (SELECT COUNT(*) FROM passkeys p WHERE p.user_id = u.id AND p.tenant_id = $2) AS passkey_count \
         FROM account_emails e \
         JOIN users u ON u.id = e.account_id AND u.tenant_id = $2 \
         WHERE e.email = $1 AND e.account_kind = 'user' AND e.tenant_id = $2",
    )
    .bind(at.unique_key(email.normalized()))
    .bind(at.tenant())
    .fetch_optional(at.pool())
    .await?;
    row.map(|r| user_auth_from(&r)).transpose()
}

fn user_auth_from(row: &AnyRow) -> Result<UserAuth, sqlx::Error> {
    Ok(UserAuth {
        id: col(row, "id")?,
        name: col(row, "name")?,
        email: col(row, "email")?,
        password_hash: col(row, "password_hash")?,
        enabled: col::<i64>(row, "enabled")? != 0,
        second_factor: col::<Option<i64>>(row, "totp_confirmed_at")?.is_some() || col::<i64>(row, "passkey_count")? > 0,
    })
}

/// What signing in needs of one user, by id (the second step knows the id).
#[tracing::instrument(name = "db user_auth", level = "debug", skip_all)]
pub async fn user_auth(at: &Scope, id: &str) -> Result<Option<UserAuth>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT u.id, u.name, u.email, u.password_hash, u.enabled, u.totp_confirmed_at, \
         (SELECT COUNT(*) FROM passkeys p WHERE p.user_id = u.id AND p.tenant_id = $2) AS passkey_count \
         FROM users u WHERE u.id = $1 AND u.tenant_id = $2",
    )
    .bind(id)
    .bind(at.tenant())
    .fetch_optional(at.pool())
    .await?;
    row.map(|r| user_auth_from(&r)).transpose()
}

#[tracing::instrument(name = "db user_password_hash", level = "debug", skip_all)]
pub async fn user_password_hash(at: &Scope, id: &str) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(at.tenant())
        .fetch_optional(at.pool())
        .await?;
    row.map(|r| col(&r, "password_hash")).transpose()
}

/// `password_hash` is computed by the caller, off the async threads.
/// `author` is `None` only for the first administrator, made at first start.
#[tracing::instrument(name = "db create_user", level = "debug", skip_all)]
pub async fn create_user(
    at: &Scope,
    author: Option<&Author>,
    user: &NewUser,
    password: FirstPassword<'_>,
) -> Result<UserRecord, StoreError> {
    let id = new_id();
    let now = at.now_micros();
    let mut tx = at.begin().await?;
    if let Some(author) = author {
        let grantor = grants::Grantor::read(at, &mut tx, author).await?;
        let after = grants::permissions_of_roles(&mut tx, at, user.roles()).await?;
        grantor.authorize(GrantChange::Create { after })?;
    }
    claim_email(&mut tx, at, user.email(), &AccountRef::new(AccountKind::User, &id)).await?;
    sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, created_at, updated_at, tenant_id) \
         VALUES ($1, $2, $3, $4, $5, $5, $6)",
    )
    .bind(&id)
    .bind(user.email().as_str())
    .bind(user.name())
    // An invited user has no password until the link sets one: the empty
    // hash matches nothing (`password::verify_password`).
    .bind(match &password {
        FirstPassword::Hash(hash) => *hash,
        FirstPassword::Invitation { .. } => "",
    })
    .bind(now)
    .bind(at.tenant())
    .execute(&mut *tx)
    .await?;
    set_roles(&mut tx, at, RoleHolder::User(&id), user.roles()).await?;
    if let FirstPassword::Invitation { master, link } = &password {
        password_links::write_link(&mut tx, at, master, &id, user.email().as_str(), link).await?;
    }
    let system = ActorRef {
        kind: AccountKind::User,
        id: id.clone(),
        name: user.name().to_owned(),
    };
    audit(
        &mut tx,
        at,
        author.map_or(&system, |a| &a.actor),
        Event::new("user.created", "user", &id)
            .named(user.email().as_str())
            .detail(match password {
                FirstPassword::Hash(_) => user.email().to_string(),
                FirstPassword::Invitation { .. } => format!("{} (invited by email)", user.email()),
            }),
    )
    .await?;
    tx.commit().await?;
    get_user(at, &id).await
}

#[tracing::instrument(name = "db update_user", level = "debug", skip_all)]
pub async fn update_user(
    at: &Scope,
    author: &Author,
    id: &str,
    change: &ValidUserChange,
    password_hash: Option<&str>,
) -> Result<UserRecord, StoreError> {
    let mut tx = at.begin().await?;
    touch(&mut tx, at, "users", id, "user").await?;
    let snapshot = snapshots::UserSnapshot::read(&mut tx, at, id).await?;
    let check = AdministratorCheck::before(at, &mut tx).await?;
    let grantor = grants::Grantor::read(at, &mut tx, author).await?;
    let before = held_permissions(&mut tx, at, RoleHolder::User(id)).await?;
    if let Some(email) = change.email() {
        move_email(&mut tx, at, "users", &AccountRef::new(AccountKind::User, id), email).await?;
    }
    if let Some(name) = change.name() {
        set_text(&mut tx, at, "users", "name", id, Some(name)).await?;
    }
    // A link or a half-finished sign-in outlives no change of the address
    // it was sent to, of the password it stood for, or of the standing.
    if change.email().is_some() || password_hash.is_some() || change.enabled() == Some(false) {
        second_factor::end_pending_sign_ins(&mut tx, at, id).await?;
    }
    if let Some(hash) = password_hash {
        set_text(&mut tx, at, "users", "password_hash", id, Some(hash)).await?;
        // A new password ends every other session.
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(at.tenant())
            .execute(&mut *tx)
            .await?;
    }
    if let Some(roles) = change.roles() {
        set_roles(&mut tx, at, RoleHolder::User(id), roles).await?;
    }
    if let Some(enabled) = change.enabled() {
        sqlx::query("UPDATE users SET enabled = $1 WHERE id = $2 AND tenant_id = $3")
            .bind(i64::from(enabled))
            .bind(id)
            .bind(at.tenant())
            .execute(&mut *tx)
            .await?;
        if !enabled {
            // Disabled means signed out everywhere, now.
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND tenant_id = $2")
                .bind(id)
                .bind(at.tenant())
                .execute(&mut *tx)
                .await?;
        }
    }
    let after = held_permissions(&mut tx, at, RoleHolder::User(id)).await?;
    grantor.authorize(GrantChange::Change { before, after })?;
    check.after(&mut tx, at).await?;
    let after_change = snapshots::UserSnapshot::read(&mut tx, at, id).await?;
    let mut changes = snapshot.changes_to(&after_change);
    if password_hash.is_some() {
        changes.secret("password");
    }
    audit(
        &mut tx,
        at,
        &author.actor,
        Event::new("user.changed", "user", id)
            .named(&after_change.email)
            .changes(changes),
    )
    .await?;
    tx.commit().await?;
    get_user(at, id).await
}

#[tracing::instrument(name = "db delete_user", level = "debug", skip_all)]
pub async fn delete_user(at: &Scope, author: &Author, id: &str) -> Result<(), StoreError> {
    let mut tx = at.begin().await?;
    let snapshot = snapshots::UserSnapshot::read(&mut tx, at, id).await?;
    let check = AdministratorCheck::before(at, &mut tx).await?;
    let grantor = grants::Grantor::read(at, &mut tx, author).await?;
    let before = held_permissions(&mut tx, at, RoleHolder::User(id)).await?;
    grantor.authorize(GrantChange::Remove { before })?;
    let removed = sqlx::query("DELETE FROM users WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(at.tenant())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(StoreError::NotFound("user"));
    }
    release_email(&mut tx, at, &AccountRef::new(AccountKind::User, id)).await?;
    check.after(&mut tx, at).await?;
    audit(
        &mut tx,
        at,
        &author.actor,
        Event::new("user.removed", "user", id).named(&snapshot.email),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
