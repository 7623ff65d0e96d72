//! Every query the service runs, grouped by resource.
//!
//! Handlers validate with `casebook_domain`, then call here. Writes that
//! change more than one row run in one transaction, so a failure leaves the
//! database as it was.

mod grants;

pub use grants::{Author, Holder as RoleHolder};

use crate::crypto::MasterKey;
use crate::db::{Db, Tx, col, is_unique_violation, micros_to_rfc3339, new_id, now_micros};
use crate::error::{ApiError, Holder};
use crate::notify::{self, Notice};
use crate::views::*;
use casebook_domain::account::AccountRef;
use casebook_domain::application::{NewApplication, ValidApplicationChange};
use casebook_domain::grant::GrantChange;
use casebook_domain::lockout;
use casebook_domain::records::{CaseStatus, ValidCase, ValidCaseChange, ValidReport, ValidReportChange};
use casebook_domain::role::{self, ValidRole, ValidRoleChange};
use casebook_domain::user::{NewUser, ValidUserChange};
use casebook_domain::{AccountKind, ClientId, ClientSecret, Email, ErrorCode, FieldError, PermissionSet, seeded_roles};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use std::collections::{HashMap, HashSet};

/// The account that makes a change, for "Created by" and the audit trail.
#[derive(Debug, Clone)]
pub struct ActorRef {
    pub kind: AccountKind,
    pub id: String,
    pub name: String,
}

fn parameter_list(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn email_in_use() -> ApiError {
    ApiError::field(
        casebook_domain::application::email_rule(Some(&AccountRef::new(AccountKind::User, "")), None).unwrap_err(),
    )
}

/// Cuts a `LIMIT n + 1` result to a page, with the cursor of the next one.
fn paginate<T>(mut items: Vec<T>, limit: u32, id: impl Fn(&T) -> &str) -> Page<T> {
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|i| id(i).to_owned())
    } else {
        None
    };
    Page { items, next_cursor }
}

// ---------------------------------------------------------------- accounts

pub async fn email_holder(db: &Db, email: &Email) -> Result<Option<AccountRef>, sqlx::Error> {
    let row = sqlx::query("SELECT account_kind, account_id FROM account_emails WHERE email = $1")
        .bind(email.normalized())
        .fetch_optional(db.pool())
        .await?;
    Ok(row.and_then(|r| {
        let kind: String = r.try_get("account_kind").ok()?;
        Some(AccountRef::new(
            AccountKind::parse(&kind)?,
            r.try_get::<String, _>("account_id").ok()?,
        ))
    }))
}

pub async fn existing_roles(db: &Db, ids: &[String]) -> Result<HashSet<String>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = format!("SELECT id FROM roles WHERE id IN ({})", parameter_list(1, ids.len()));
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for id in ids {
        query = query.bind(id);
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter().map(|r| col::<String>(r, "id")).collect()
}

/// Claims an address inside a transaction. The primary key decides races:
/// of two concurrent claims, exactly one commits.
async fn claim_email(tx: &mut Tx, email: &Email, account: &AccountRef) -> Result<(), ApiError> {
    let result = sqlx::query("INSERT INTO account_emails (email, account_kind, account_id) VALUES ($1, $2, $3)")
        .bind(email.normalized())
        .bind(account.kind.as_str())
        .bind(&account.id)
        .execute(&mut **tx)
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(email_in_use()),
        Err(e) => Err(e.into()),
    }
}

/// Stamps `updated_at` on a row, or says it does not exist: the first write
/// of every change, so the rest of the transaction knows its target is there.
async fn touch(tx: &mut Tx, table: &str, id: &str, noun: &'static str) -> Result<(), ApiError> {
    let found = sqlx::query(AssertSqlSafe(format!(
        "UPDATE {table} SET updated_at = $1 WHERE id = $2"
    )))
    .bind(now_micros())
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if found == 0 {
        return Err(ApiError::NotFound(noun));
    }
    Ok(())
}

/// Sets one text column of one row; `table` and `column` are fixed names
/// from this file, never input.
async fn set_text(tx: &mut Tx, table: &str, column: &str, id: &str, value: Option<&str>) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!("UPDATE {table} SET {column} = $1 WHERE id = $2")))
        .bind(value)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Moves an account to a new address: the old one is released and the new
/// one claimed in the same transaction, so the primary key decides races.
async fn move_email(tx: &mut Tx, table: &str, account: &AccountRef, email: &Email) -> Result<(), ApiError> {
    release_email(tx, account).await?;
    claim_email(tx, email, account).await?;
    set_text(tx, table, "email", &account.id, Some(email.as_str())).await?;
    Ok(())
}

async fn release_email(tx: &mut Tx, account: &AccountRef) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM account_emails WHERE account_kind = $1 AND account_id = $2")
        .bind(account.kind.as_str())
        .bind(&account.id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

async fn set_roles(
    tx: &mut Tx,
    table: &str,
    owner_column: &str,
    owner: &str,
    roles: &[String],
) -> Result<(), ApiError> {
    sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE {owner_column} = $1")))
        .bind(owner)
        .execute(&mut **tx)
        .await?;
    for role in roles {
        let result = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {table} ({owner_column}, role_id) VALUES ($1, $2)"
        )))
        .bind(owner)
        .bind(role)
        .execute(&mut **tx)
        .await;
        if let Err(e) = result {
            // The role vanished between validation and this write.
            if crate::db::is_foreign_key_violation(&e) {
                return Err(ApiError::field(FieldError::new(
                    "roles",
                    ErrorCode::UnknownRole,
                    format!("there is no role {role:?}"),
                )));
            }
            return Err(e.into());
        }
    }
    Ok(())
}

async fn roles_of(
    db: &Db,
    table: &str,
    owner_column: &str,
    owners: &[&str],
) -> Result<HashMap<String, Vec<String>>, sqlx::Error> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    if owners.is_empty() {
        return Ok(map);
    }
    let sql = format!(
        "SELECT {owner_column} AS owner, role_id FROM {table} WHERE {owner_column} IN ({}) ORDER BY role_id",
        parameter_list(1, owners.len())
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for owner in owners {
        query = query.bind(*owner);
    }
    for row in query.fetch_all(db.pool()).await? {
        map.entry(col(&row, "owner")?).or_default().push(col(&row, "role_id")?);
    }
    Ok(map)
}

/// Keeps [`role::keeps_an_administrator`] true across a change to users or
/// roles: taken at the start of the change's transaction, checked at its end.
/// A change is refused only when it is the one that removes the last
/// administrator, so an install that somehow has none can still be repaired.
struct AdministratorCheck {
    had_one: bool,
}

impl AdministratorCheck {
    /// Takes the permissions lock, so that two changes cannot each see the
    /// other's administrator survive.
    async fn before(db: &Db, tx: &mut Tx) -> Result<Self, ApiError> {
        grants::lock_permissions(db, tx).await?;
        Ok(Self {
            had_one: has_an_administrator(tx).await?,
        })
    }

    async fn after(self, tx: &mut Tx) -> Result<(), ApiError> {
        if self.had_one && !has_an_administrator(tx).await? {
            return Err(ApiError::Conflict {
                detail: "this change would leave no user holding every admin permission, and so nobody able \
                         to manage users, roles and applications; give another user the Administrator role first"
                    .into(),
                holders: None,
            });
        }
        Ok(())
    }
}

async fn has_an_administrator(tx: &mut Tx) -> Result<bool, sqlx::Error> {
    // A role without any admin permission cannot complete an administrator.
    let rows = sqlx::query(
        "SELECT x.user_id AS user_id, r.permissions AS permissions \
         FROM user_roles x JOIN roles r ON r.id = x.role_id WHERE r.permissions LIKE '%admin:%'",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut held: HashMap<String, PermissionSet> = HashMap::new();
    for row in rows {
        let permissions: String = col(&row, "permissions")?;
        let set = held.entry(col(&row, "user_id")?).or_default();
        *set = set.union(PermissionSet::parse_scope(&permissions).unwrap_or_default());
    }
    Ok(role::keeps_an_administrator(held.into_values()))
}

/// Union of the permissions of the roles held by an account.
pub async fn permissions_of(
    db: &Db,
    table: &str,
    owner_column: &str,
    owner: &str,
) -> Result<PermissionSet, sqlx::Error> {
    let sql =
        format!("SELECT r.permissions FROM {table} x JOIN roles r ON r.id = x.role_id WHERE x.{owner_column} = $1");
    let rows = sqlx::query(AssertSqlSafe(sql)).bind(owner).fetch_all(db.pool()).await?;
    let mut set = PermissionSet::EMPTY;
    for row in rows {
        let text: String = col(&row, "permissions")?;
        set = set.union(PermissionSet::parse_scope(&text).unwrap_or_default());
    }
    Ok(set)
}

// ---------------------------------------------------------------- audit

pub async fn audit(
    tx: &mut Tx,
    actor: &ActorRef,
    action: &str,
    target_kind: &str,
    target_id: &str,
    detail: Option<String>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id())
    .bind(now_micros())
    .bind(actor.kind.as_str())
    .bind(&actor.id)
    .bind(&actor.name)
    .bind(action)
    .bind(target_kind)
    .bind(target_id)
    .bind(detail)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn list_audit(db: &Db, cursor: Option<&str>, limit: u32) -> Result<Page<AuditEventView>, sqlx::Error> {
    // Newest first: ids are time-ordered (UUIDv7).
    let (sql, bind_cursor) = match cursor {
        Some(_) => (
            "SELECT * FROM audit_events WHERE id < $1 ORDER BY id DESC LIMIT $2",
            true,
        ),
        None => ("SELECT * FROM audit_events ORDER BY id DESC LIMIT $1", false),
    };
    let mut query = sqlx::query(sql);
    if bind_cursor {
        query = query.bind(cursor);
    }
    let rows = query.bind(i64::from(limit) + 1).fetch_all(db.pool()).await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(AuditEventView {
                id: col(r, "id")?,
                at: micros_to_rfc3339(col(r, "at")?),
                actor: actor_from(r, "actor")?,
                action: col(r, "action")?,
                target_kind: col(r, "target_kind")?,
                target_id: col(r, "target_id")?,
                detail: col(r, "detail")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(paginate(items, limit, |e| &e.id))
}

fn actor_from(row: &AnyRow, prefix: &str) -> Result<Actor, sqlx::Error> {
    let kind: String = col(row, &format!("{prefix}_kind"))?;
    Ok(Actor {
        kind: AccountKind::parse(&kind).unwrap_or(AccountKind::User),
        id: col(row, &format!("{prefix}_id"))?,
        name: col(row, &format!("{prefix}_name"))?,
    })
}

// ---------------------------------------------------------------- roles

fn seed_role_id(name: &str) -> String {
    name.to_lowercase().replace(' ', "-")
}

fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// Seeds SPEC's catalog on a new install; idempotent across replicas.
pub async fn seed_roles(db: &Db) -> Result<(), sqlx::Error> {
    let now = now_micros();
    for role in seeded_roles() {
        sqlx::query(
            "INSERT INTO roles (id, name, name_key, permissions, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(seed_role_id(role.name))
        .bind(role.name)
        .bind(name_key(role.name))
        .bind(role.permissions.to_scope())
        .bind(now)
        .execute(db.pool())
        .await?;
    }
    Ok(())
}

fn role_from(row: &AnyRow) -> Result<RoleView, sqlx::Error> {
    let permissions: String = col(row, "permissions")?;
    Ok(RoleView {
        id: col(row, "id")?,
        name: col(row, "name")?,
        permissions: PermissionSet::parse_scope(&permissions)
            .unwrap_or_default()
            .to_strings(),
        created_at: micros_to_rfc3339(col(row, "created_at")?),
        updated_at: micros_to_rfc3339(col(row, "updated_at")?),
    })
}

pub async fn list_roles(db: &Db, cursor: Option<&str>, limit: u32) -> Result<Page<RoleView>, sqlx::Error> {
    let rows = page_rows(db, "roles", cursor, limit).await?;
    let items = rows.iter().map(role_from).collect::<Result<Vec<_>, _>>()?;
    Ok(paginate(items, limit, |r| &r.id))
}

pub async fn get_role(db: &Db, id: &str) -> Result<RoleView, ApiError> {
    let row = sqlx::query("SELECT * FROM roles WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref()
        .map(role_from)
        .transpose()?
        .ok_or(ApiError::NotFound("role"))
}

fn role_name_in_use(name: &str) -> ApiError {
    ApiError::field(FieldError::new(
        "name",
        ErrorCode::NameInUse,
        format!("a role named {name:?} exists already"),
    ))
}

pub async fn create_role(db: &Db, author: &Author, role: &ValidRole) -> Result<RoleView, ApiError> {
    let id = new_id();
    let now = now_micros();
    let mut tx = db.begin().await?;
    grants::Grantor::read(db, &mut tx, author)
        .await?
        .authorize(GrantChange::Create {
            after: role.permissions,
        })?;
    let result = sqlx::query(
        "INSERT INTO roles (id, name, name_key, permissions, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(role.name.as_ref())
    .bind(name_key(role.name.as_ref()))
    .bind(role.permissions.to_scope())
    .bind(now)
    .execute(&mut *tx)
    .await;
    match result {
        Err(e) if is_unique_violation(&e) => return Err(role_name_in_use(role.name.as_ref())),
        other => other?,
    };
    audit(
        &mut tx,
        &author.actor,
        "role.created",
        "role",
        &id,
        Some(role.name.to_string()),
    )
    .await?;
    tx.commit().await?;
    get_role(db, &id).await
}

pub async fn update_role(db: &Db, author: &Author, id: &str, change: &ValidRoleChange) -> Result<RoleView, ApiError> {
    let mut tx = db.begin().await?;
    touch(&mut tx, "roles", id, "role").await?;
    let check = AdministratorCheck::before(db, &mut tx).await?;
    let grantor = grants::Grantor::read(db, &mut tx, author).await?;
    let before = grants::role_permissions(&mut tx, id).await?.unwrap_or_default();
    let after = change.permissions.unwrap_or(before);
    grantor.authorize(GrantChange::Change { before, after })?;
    if let Some(name) = &change.name {
        let result = sqlx::query("UPDATE roles SET name = $1, name_key = $2 WHERE id = $3")
            .bind(name.as_ref())
            .bind(name_key(name.as_ref()))
            .bind(id)
            .execute(&mut *tx)
            .await;
        match result {
            Err(e) if is_unique_violation(&e) => return Err(role_name_in_use(name.as_ref())),
            other => other?,
        };
    }
    if let Some(permissions) = change.permissions {
        set_text(&mut tx, "roles", "permissions", id, Some(&permissions.to_scope())).await?;
    }
    check.after(&mut tx).await?;
    audit(&mut tx, &author.actor, "role.changed", "role", id, None).await?;
    tx.commit().await?;
    get_role(db, id).await
}

pub async fn delete_role(db: &Db, author: &Author, id: &str) -> Result<(), ApiError> {
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
                    id: col(r, "id")?,
                    name: col(r, "name")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let names: Vec<&str> = holders.iter().take(5).map(|h| h.name.as_str()).collect();
        return Err(ApiError::Conflict {
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
            return Err(ApiError::Conflict {
                detail: "the role was just assigned to an account; remove it from its holders first".into(),
                holders: None,
            });
        }
        Err(e) => return Err(e.into()),
    };
    if removed == 0 {
        return Err(ApiError::NotFound("role"));
    }
    audit(&mut tx, &author.actor, "role.removed", "role", id, None).await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------- users

#[derive(Debug)]
pub struct UserAuth {
    pub id: String,
    pub name: String,
    pub password_hash: String,
}

fn user_from(row: &AnyRow, roles: &mut HashMap<String, Vec<String>>) -> Result<UserView, sqlx::Error> {
    let id: String = col(row, "id")?;
    Ok(UserView {
        roles: roles.remove(&id).unwrap_or_default(),
        id,
        email: col(row, "email")?,
        name: col(row, "name")?,
        created_at: micros_to_rfc3339(col(row, "created_at")?),
        updated_at: micros_to_rfc3339(col(row, "updated_at")?),
    })
}

pub async fn count_users(db: &Db) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(db.pool())
        .await?;
    col(&row, "n")
}

pub async fn list_users(db: &Db, cursor: Option<&str>, limit: u32) -> Result<Page<UserView>, sqlx::Error> {
    let rows = page_rows(db, "users", cursor, limit).await?;
    let ids: Vec<String> = rows.iter().map(|r| col(r, "id")).collect::<Result<_, _>>()?;
    let mut roles = roles_of(
        db,
        "user_roles",
        "user_id",
        &ids.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await?;
    let items = rows
        .iter()
        .map(|r| user_from(r, &mut roles))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(paginate(items, limit, |u| &u.id))
}

pub async fn get_user(db: &Db, id: &str) -> Result<UserView, ApiError> {
    let row = sqlx::query("SELECT * FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let mut roles = roles_of(db, "user_roles", "user_id", &[id]).await?;
    Ok(user_from(&row, &mut roles)?)
}

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

pub async fn user_password_hash(db: &Db, id: &str) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| col(&r, "password_hash")).transpose()
}

/// `password_hash` is computed by the caller, off the async threads.
/// `author` is `None` only for the first administrator, made at first start.
pub async fn create_user(
    db: &Db,
    author: Option<&Author>,
    user: &NewUser,
    password_hash: &str,
) -> Result<UserView, ApiError> {
    let id = new_id();
    let now = now_micros();
    let mut tx = db.begin().await?;
    if let Some(author) = author {
        let grantor = grants::Grantor::read(db, &mut tx, author).await?;
        let after = grants::permissions_of_roles(&mut tx, &user.roles).await?;
        grantor.authorize(GrantChange::Create { after })?;
    }
    claim_email(&mut tx, &user.email, &AccountRef::new(AccountKind::User, &id)).await?;
    sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(user.email.as_str())
    .bind(&user.name)
    .bind(password_hash)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    set_roles(&mut tx, "user_roles", "user_id", &id, &user.roles).await?;
    let system = ActorRef {
        kind: AccountKind::User,
        id: id.clone(),
        name: user.name.clone(),
    };
    audit(
        &mut tx,
        author.map_or(&system, |a| &a.actor),
        "user.created",
        "user",
        &id,
        Some(user.email.to_string()),
    )
    .await?;
    tx.commit().await?;
    get_user(db, &id).await
}

pub async fn update_user(
    db: &Db,
    author: &Author,
    id: &str,
    change: &ValidUserChange,
    password_hash: Option<&str>,
) -> Result<UserView, ApiError> {
    let mut tx = db.begin().await?;
    touch(&mut tx, "users", id, "user").await?;
    let check = AdministratorCheck::before(db, &mut tx).await?;
    let grantor = grants::Grantor::read(db, &mut tx, author).await?;
    let before = grants::held_permissions(&mut tx, RoleHolder::User(id)).await?;
    if let Some(email) = &change.email {
        move_email(&mut tx, "users", &AccountRef::new(AccountKind::User, id), email).await?;
    }
    if let Some(name) = &change.name {
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
    if let Some(roles) = &change.roles {
        set_roles(&mut tx, "user_roles", "user_id", id, roles).await?;
    }
    let after = grants::held_permissions(&mut tx, RoleHolder::User(id)).await?;
    grantor.authorize(GrantChange::Change { before, after })?;
    check.after(&mut tx).await?;
    audit(&mut tx, &author.actor, "user.changed", "user", id, None).await?;
    tx.commit().await?;
    get_user(db, id).await
}

pub async fn delete_user(db: &Db, author: &Author, id: &str) -> Result<(), ApiError> {
    let mut tx = db.begin().await?;
    let check = AdministratorCheck::before(db, &mut tx).await?;
    let grantor = grants::Grantor::read(db, &mut tx, author).await?;
    let before = grants::held_permissions(&mut tx, RoleHolder::User(id)).await?;
    grantor.authorize(GrantChange::Remove { before })?;
    let removed = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(ApiError::NotFound("user"));
    }
    release_email(&mut tx, &AccountRef::new(AccountKind::User, id)).await?;
    check.after(&mut tx).await?;
    audit(&mut tx, &author.actor, "user.removed", "user", id, None).await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------- sessions

pub async fn create_session(db: &Db, user_id: &str, token_hash: &[u8], expires_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash.to_vec())
        .bind(user_id)
        .bind(now_micros())
        .bind(expires_at)
        .execute(db.pool())
        .await
        .map(|_| ())
}

#[derive(Debug)]
pub struct SessionUser {
    pub user_id: String,
    pub name: String,
}

pub async fn session_user(db: &Db, token_hash: &[u8]) -> Result<Option<SessionUser>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT u.id, u.name FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(token_hash.to_vec())
    .bind(now_micros())
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        Ok(SessionUser {
            user_id: col(&r, "id")?,
            name: col(&r, "name")?,
        })
    })
    .transpose()
}

pub async fn delete_session(db: &Db, token_hash: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1 OR expires_at < $2")
        .bind(token_hash.to_vec())
        .bind(now_micros())
        .execute(db.pool())
        .await
        .map(|_| ())
}

// ---------------------------------------------------------------- reveal lockout

/// A password check for reveal or rotate, recorded before it runs.
#[derive(Debug)]
pub enum RevealAttempt {
    /// Locked: seconds until it unlocks.
    Locked(u64),
    /// Counted as a failure until [`settle_reveal_attempt`] says otherwise.
    Claimed { at: i64 },
}

/// Records an attempt before the password is checked, under a per-user lock,
/// so that a burst of parallel guesses cannot all pass the lockout check
/// before any failure is written.
pub async fn claim_reveal_attempt(db: &Db, user_id: &str) -> Result<RevealAttempt, sqlx::Error> {
    let mut tx = db.begin().await?;
    if db.backend() == crate::config::Backend::Postgres {
        // SQLite's BEGIN IMMEDIATE already serialises writers.
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
    }
    let now = now_micros();
    let rows = sqlx::query("SELECT at FROM reveal_failures WHERE user_id = $1 AND at > $2")
        .bind(user_id)
        .bind(now - lockout::LOOKBACK_MICROS)
        .fetch_all(&mut *tx)
        .await?;
    let failures = rows
        .iter()
        .map(|r| col::<i64>(r, "at"))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(until) = lockout::locked_until(&failures, now) {
        tx.rollback().await?;
        return Ok(RevealAttempt::Locked(((until - now) / 1_000_000).max(1) as u64));
    }
    sqlx::query("INSERT INTO reveal_failures (user_id, at) VALUES ($1, $2)")
        .bind(user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(RevealAttempt::Claimed { at: now })
}

/// A right password takes the attempt back; a wrong one leaves it counted
/// and goes to the audit trail.
pub async fn settle_reveal_attempt(
    db: &Db,
    actor: &ActorRef,
    application_id: &str,
    at: i64,
    password_was_right: bool,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    if password_was_right {
        sqlx::query("DELETE FROM reveal_failures WHERE user_id = $1 AND at = $2")
            .bind(&actor.id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
    } else {
        audit(
            &mut tx,
            actor,
            "application.secret_reveal_refused",
            "application",
            application_id,
            Some("wrong password".into()),
        )
        .await?;
    }
    tx.commit().await
}

// ---------------------------------------------------------------- applications

fn application_from(
    row: &AnyRow,
    callback_url: &str,
    roles: &mut HashMap<String, Vec<String>>,
) -> Result<ApplicationView, sqlx::Error> {
    let id: String = col(row, "id")?;
    Ok(ApplicationView {
        roles: roles.remove(&id).unwrap_or_default(),
        id,
        name: col(row, "name")?,
        email: col(row, "email")?,
        application_url: col(row, "application_url")?,
        description: col(row, "description")?,
        client_id: col(row, "client_id")?,
        callback_url: callback_url.to_owned(),
        enabled: col::<i64>(row, "enabled")? != 0,
        created_at: micros_to_rfc3339(col(row, "created_at")?),
        updated_at: micros_to_rfc3339(col(row, "updated_at")?),
    })
}

const APPLICATION_COLUMNS: &str =
    "id, client_id, name, email, application_url, description, enabled, created_at, updated_at";

pub async fn list_applications(
    db: &Db,
    callback_url: &str,
    cursor: Option<&str>,
    limit: u32,
    name: Option<&str>,
    email: Option<&str>,
) -> Result<Page<ApplicationView>, sqlx::Error> {
    let mut clauses = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    if let Some(c) = cursor {
        binds.push(c.to_owned());
        clauses.push(format!("id > ${}", binds.len()));
    }
    let like = |s: &str| {
        format!(
            "%{}%",
            s.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    };
    if let Some(n) = name.filter(|n| !n.is_empty()) {
        binds.push(like(n));
        clauses.push(format!("name_key LIKE ${} ESCAPE '\\'", binds.len()));
    }
    if let Some(e) = email.filter(|e| !e.is_empty()) {
        binds.push(like(e));
        // The normalised address, lowercased by the same code that compares it.
        clauses.push(format!(
            "id IN (SELECT account_id FROM account_emails WHERE account_kind = 'application' AND email LIKE ${} ESCAPE '\\')",
            binds.len()
        ));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let sql = format!(
        "SELECT {APPLICATION_COLUMNS} FROM applications {filter} ORDER BY id LIMIT ${}",
        binds.len() + 1
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for b in &binds {
        query = query.bind(b);
    }
    let rows = query.bind(i64::from(limit) + 1).fetch_all(db.pool()).await?;
    let ids: Vec<String> = rows.iter().map(|r| col(r, "id")).collect::<Result<_, _>>()?;
    let mut roles = roles_of(
        db,
        "application_roles",
        "application_id",
        &ids.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await?;
    let items = rows
        .iter()
        .map(|r| application_from(r, callback_url, &mut roles))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(paginate(items, limit, |a| &a.id))
}

pub async fn get_application(db: &Db, callback_url: &str, id: &str) -> Result<ApplicationView, ApiError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(ApiError::NotFound("external application"))?;
    let mut roles = roles_of(db, "application_roles", "application_id", &[id]).await?;
    Ok(application_from(&row, callback_url, &mut roles)?)
}

pub async fn create_application(
    db: &Db,
    master: &MasterKey,
    callback_url: &str,
    author: &Author,
    app: &NewApplication,
    client_id: &ClientId,
    secret: &ClientSecret,
) -> Result<ApplicationView, ApiError> {
    let id = new_id();
    let now = now_micros();
    let mut tx = db.begin().await?;
    let grantor = grants::Grantor::read(db, &mut tx, author).await?;
    let after = grants::permissions_of_roles(&mut tx, &app.roles).await?;
    grantor.authorize(GrantChange::Create { after })?;
    claim_email(&mut tx, &app.email, &AccountRef::new(AccountKind::Application, &id)).await?;
    sqlx::query(
        "INSERT INTO applications (id, client_id, name, email, application_url, description, enabled, secret_ciphertext, secret_mac, \
         previous_secret_mac, previous_secret_expires_at, created_at, updated_at, name_key) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, NULL, NULL, $9, $9, $10)",
    )
    .bind(&id)
    .bind(client_id.as_str())
    .bind(app.name.as_ref())
    .bind(app.email.as_str())
    .bind(app.application_url.as_deref())
    .bind(app.description.as_deref())
    .bind(master.seal(secret.expose().as_bytes(), &id))
    .bind(master.secret_mac(secret.expose()).to_vec())
    .bind(now)
    .bind(app.name.as_ref().to_lowercase())
    .execute(&mut *tx)
    .await?;
    set_roles(&mut tx, "application_roles", "application_id", &id, &app.roles).await?;
    audit(
        &mut tx,
        &author.actor,
        "application.registered",
        "application",
        &id,
        Some(app.name.to_string()),
    )
    .await?;
    let notice = Notice::Registered {
        application: app.name.as_ref(),
        client_id: client_id.as_str(),
        callback_url,
    };
    notify::enqueue(&mut tx, app.email.as_str(), &notice).await?;
    tx.commit().await?;
    get_application(db, callback_url, &id).await
}

pub async fn update_application(
    db: &Db,
    callback_url: &str,
    author: &Author,
    id: &str,
    change: &ValidApplicationChange,
) -> Result<ApplicationView, ApiError> {
    let mut tx = db.begin().await?;
    touch(&mut tx, "applications", id, "external application").await?;
    let grantor = grants::Grantor::read(db, &mut tx, author).await?;
    let before = grants::held_permissions(&mut tx, RoleHolder::Application(id)).await?;
    if let Some(email) = &change.email {
        move_email(
            &mut tx,
            "applications",
            &AccountRef::new(AccountKind::Application, id),
            email,
        )
        .await?;
    }
    if let Some(name) = &change.name {
        set_text(&mut tx, "applications", "name", id, Some(name.as_ref())).await?;
        set_text(
            &mut tx,
            "applications",
            "name_key",
            id,
            Some(&name.as_ref().to_lowercase()),
        )
        .await?;
    }
    if let Some(url) = &change.application_url {
        set_text(&mut tx, "applications", "application_url", id, url.as_deref()).await?;
    }
    if let Some(description) = &change.description {
        set_text(&mut tx, "applications", "description", id, description.as_deref()).await?;
    }
    if let Some(enabled) = change.enabled {
        sqlx::query("UPDATE applications SET enabled = $1 WHERE id = $2")
            .bind(i64::from(enabled))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if change.enabled == Some(false) {
        // Every token issued so far stays refused after a later re-enable.
        sqlx::query("UPDATE applications SET token_generation = token_generation + 1 WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(roles) = &change.roles {
        set_roles(&mut tx, "application_roles", "application_id", id, roles).await?;
    }
    let after = grants::held_permissions(&mut tx, RoleHolder::Application(id)).await?;
    grantor.authorize(GrantChange::Change { before, after })?;
    let actor = &author.actor;
    let action = match change.enabled {
        Some(false) => "application.disabled",
        Some(true) => "application.enabled",
        None => "application.changed",
    };
    audit(&mut tx, actor, action, "application", id, None).await?;
    if change.enabled == Some(false) {
        let row = sqlx::query("SELECT name, email FROM applications WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let (name, email): (String, String) = (col(&row, "name")?, col(&row, "email")?);
        let notice = Notice::Disabled {
            application: &name,
            by: &actor.name,
        };
        notify::enqueue(&mut tx, &email, &notice).await?;
    }
    tx.commit().await?;
    get_application(db, callback_url, id).await
}

/// Removes an application; returns its client ID so caches can drop it.
pub async fn delete_application(db: &Db, author: &Author, id: &str) -> Result<String, ApiError> {
    let mut tx = db.begin().await?;
    let grantor = grants::Grantor::read(db, &mut tx, author).await?;
    let before = grants::held_permissions(&mut tx, RoleHolder::Application(id)).await?;
    grantor.authorize(GrantChange::Remove { before })?;
    let actor = &author.actor;
    let row = sqlx::query("DELETE FROM applications WHERE id = $1 RETURNING client_id, name, email")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ApiError::NotFound("external application"))?;
    release_email(&mut tx, &AccountRef::new(AccountKind::Application, id)).await?;
    let (name, email): (String, String) = (col(&row, "name")?, col(&row, "email")?);
    audit(
        &mut tx,
        actor,
        "application.removed",
        "application",
        id,
        Some(name.clone()),
    )
    .await?;
    let notice = Notice::Deleted {
        application: &name,
        by: &actor.name,
    };
    notify::enqueue(&mut tx, &email, &notice).await?;
    tx.commit().await?;
    Ok(col(&row, "client_id")?)
}

pub async fn reveal_secret(
    db: &Db,
    master: &MasterKey,
    author: &Author,
    id: &str,
) -> Result<(String, ClientSecret), ApiError> {
    let mut tx = db.begin().await?;
    authorize_secret_access(db, &mut tx, author, id).await?;
    let actor = &author.actor;
    let row = sqlx::query("SELECT client_id, name, email, secret_ciphertext FROM applications WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ApiError::NotFound("external application"))?;
    let sealed: Vec<u8> = col(&row, "secret_ciphertext")?;
    let plain = master.open(&sealed, id).map_err(ApiError::internal)?;
    let secret = String::from_utf8(plain).map_err(ApiError::internal)?;
    audit(&mut tx, actor, "application.secret_revealed", "application", id, None).await?;
    let (name, email): (String, String) = (col(&row, "name")?, col(&row, "email")?);
    let notice = Notice::SecretRevealed {
        application: &name,
        by: &actor.name,
    };
    notify::enqueue(&mut tx, &email, &notice).await?;
    tx.commit().await?;
    Ok((col(&row, "client_id")?, ClientSecret::from_presented(secret)))
}

/// Issues a new secret; the old one stays valid for `grace_micros`. With no
/// grace period the rotation answers a leak: the old secret stops at once and
/// so does every token issued with it (a new token generation).
pub async fn rotate_secret(
    db: &Db,
    master: &MasterKey,
    author: &Author,
    id: &str,
    secret: &ClientSecret,
    grace_micros: i64,
) -> Result<(String, Option<i64>), ApiError> {
    let mut tx = db.begin().await?;
    authorize_secret_access(db, &mut tx, author, id).await?;
    let actor = &author.actor;
    let now = now_micros();
    let previous_expires = (grace_micros > 0).then_some(now + grace_micros);
    let row = sqlx::query(
        "UPDATE applications SET \
           previous_secret_mac = CASE WHEN $1 = 1 THEN secret_mac ELSE NULL END, \
           previous_secret_expires_at = $2, \
           secret_mac = $3, secret_ciphertext = $4, updated_at = $5, \
           token_generation = token_generation + (1 - $1) \
         WHERE id = $6 RETURNING client_id, name, email",
    )
    .bind(i64::from(previous_expires.is_some()))
    .bind(previous_expires)
    .bind(master.secret_mac(secret.expose()).to_vec())
    .bind(master.seal(secret.expose().as_bytes(), id))
    .bind(now)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound("external application"))?;
    audit(
        &mut tx,
        actor,
        "application.secret_rotated",
        "application",
        id,
        Some(format!("grace period {} s", grace_micros / 1_000_000)),
    )
    .await?;
    let (name, email): (String, String) = (col(&row, "name")?, col(&row, "email")?);
    let until = previous_expires.map(micros_to_rfc3339);
    let notice = Notice::SecretRotated {
        application: &name,
        by: &actor.name,
        old_secret_valid_until: until.as_deref(),
    };
    notify::enqueue(&mut tx, &email, &notice).await?;
    tx.commit().await?;
    Ok((col(&row, "client_id")?, previous_expires))
}

/// A secret opens everything its application holds, so seeing or replacing
/// it is a change to that account under the grant rule: nobody obtains the
/// credentials of an application more powerful than themselves.
async fn authorize_secret_access(db: &Db, tx: &mut Tx, author: &Author, id: &str) -> Result<(), ApiError> {
    let grantor = grants::Grantor::read(db, tx, author).await?;
    let held = grants::held_permissions(tx, RoleHolder::Application(id)).await?;
    grantor.authorize(GrantChange::Change {
        before: held,
        after: held,
    })
}

/// Checked before the caller's password is asked for, so that a refusal
/// does not cost a lockout attempt; checked again in the change itself.
pub async fn may_access_secret(db: &Db, author: &Author, id: &str) -> Result<(), ApiError> {
    let mut tx = db.begin().await?;
    authorize_secret_access(db, &mut tx, author, id).await?;
    tx.rollback().await?;
    Ok(())
}

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

// ---------------------------------------------------------------- token revocation

pub async fn revoke_token(db: &Db, jti: &str, expires_at_secs: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(jti)
        .bind(expires_at_secs)
        .bind(now_micros())
        .execute(db.pool())
        .await
        .map(|_| ())
}

/// Revocations stamped after `since` (microseconds), with the expiry of the
/// token each names: what a server polls to forget just those tokens.
pub async fn revocations_since(db: &Db, since: i64) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query("SELECT jti, expires_at FROM revoked_tokens WHERE revoked_at > $1")
        .bind(since)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((col(r, "jti")?, col(r, "expires_at")?)))
        .collect()
}

pub async fn is_revoked(db: &Db, jti: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("SELECT 1 AS one FROM revoked_tokens WHERE jti = $1")
        .bind(jti)
        .fetch_optional(db.pool())
        .await?
        .is_some())
}

/// Housekeeping: revocations of expired tokens, expired sessions, old reveal failures.
pub async fn purge_expired(db: &Db) -> Result<(), sqlx::Error> {
    let now = now_micros();
    sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
        .bind(now / 1_000_000)
        .execute(db.pool())
        .await?;
    sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
        .bind(now)
        .execute(db.pool())
        .await?;
    sqlx::query("DELETE FROM reveal_failures WHERE at < $1")
        .bind(now - lockout::LOOKBACK_MICROS)
        .execute(db.pool())
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- cases and reports

/// The two record kinds share one shape of storage; this names the differences.
#[derive(Debug, Clone, Copy)]
pub struct RecordTable {
    pub table: &'static str,
    pub noun: &'static str,
}

pub const CASES: RecordTable = RecordTable {
    table: "cases",
    noun: "case",
};
pub const REPORTS: RecordTable = RecordTable {
    table: "reports",
    noun: "report",
};

fn case_from(row: &AnyRow) -> Result<CaseView, sqlx::Error> {
    let status: String = col(row, "status")?;
    Ok(CaseView {
        id: col(row, "id")?,
        title: col(row, "title")?,
        description: col(row, "description")?,
        status: CaseStatus::parse(&status).unwrap_or_default(),
        created_by: actor_from(row, "created_by")?,
        updated_by: actor_from(row, "updated_by")?,
        created_at: micros_to_rfc3339(col(row, "created_at")?),
        updated_at: micros_to_rfc3339(col(row, "updated_at")?),
    })
}

fn report_from(row: &AnyRow) -> Result<ReportView, sqlx::Error> {
    Ok(ReportView {
        id: col(row, "id")?,
        summary: col(row, "summary")?,
        details: col(row, "details")?,
        created_by: actor_from(row, "created_by")?,
        updated_by: actor_from(row, "updated_by")?,
        created_at: micros_to_rfc3339(col(row, "created_at")?),
        updated_at: micros_to_rfc3339(col(row, "updated_at")?),
    })
}

/// One page of rows of `table` (a fixed name from this file) in id order:
/// ids are UUIDv7, so this is creation order and the cursor is the last id.
async fn page_rows(db: &Db, table: &str, cursor: Option<&str>, limit: u32) -> Result<Vec<AnyRow>, sqlx::Error> {
    match cursor {
        Some(c) => {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT * FROM {table} WHERE id > $1 ORDER BY id LIMIT $2"
            )))
            .bind(c)
            .bind(i64::from(limit) + 1)
            .fetch_all(db.pool())
            .await
        }
        None => {
            sqlx::query(AssertSqlSafe(format!("SELECT * FROM {table} ORDER BY id LIMIT $1")))
                .bind(i64::from(limit) + 1)
                .fetch_all(db.pool())
                .await
        }
    }
}

async fn get_record(db: &Db, table: RecordTable, id: &str) -> Result<AnyRow, ApiError> {
    sqlx::query(AssertSqlSafe(format!("SELECT * FROM {} WHERE id = $1", table.table)))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(ApiError::NotFound(table.noun))
}

async fn delete_record(db: &Db, table: RecordTable, id: &str) -> Result<(), ApiError> {
    let removed = sqlx::query(AssertSqlSafe(format!("DELETE FROM {} WHERE id = $1", table.table)))
        .bind(id)
        .execute(db.pool())
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(ApiError::NotFound(table.noun));
    }
    Ok(())
}

async fn touch_record(tx: &mut Tx, table: RecordTable, id: &str, actor: &ActorRef) -> Result<(), ApiError> {
    let found = sqlx::query(AssertSqlSafe(format!(
        "UPDATE {} SET updated_by_kind = $1, updated_by_id = $2, updated_by_name = $3, updated_at = $4 WHERE id = $5",
        table.table
    )))
    .bind(actor.kind.as_str())
    .bind(&actor.id)
    .bind(&actor.name)
    .bind(now_micros())
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if found == 0 {
        return Err(ApiError::NotFound(table.noun));
    }
    Ok(())
}

pub async fn list_cases(db: &Db, cursor: Option<&str>, limit: u32) -> Result<Page<CaseView>, sqlx::Error> {
    let rows = page_rows(db, CASES.table, cursor, limit).await?;
    let items = rows.iter().map(case_from).collect::<Result<Vec<_>, _>>()?;
    Ok(paginate(items, limit, |c| &c.id))
}

pub async fn get_case(db: &Db, id: &str) -> Result<CaseView, ApiError> {
    Ok(case_from(&get_record(db, CASES, id).await?)?)
}

pub async fn create_case(db: &Db, actor: &ActorRef, case: &ValidCase) -> Result<CaseView, ApiError> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO cases (id, title, description, status, created_by_kind, created_by_id, created_by_name, \
         updated_by_kind, updated_by_id, updated_by_name, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $5, $6, $7, $8, $8)",
    )
    .bind(&id)
    .bind(&case.title)
    .bind(case.description.as_deref())
    .bind(case.status.as_str())
    .bind(actor.kind.as_str())
    .bind(&actor.id)
    .bind(&actor.name)
    .bind(now_micros())
    .execute(db.pool())
    .await?;
    get_case(db, &id).await
}

pub async fn update_case(db: &Db, actor: &ActorRef, id: &str, change: &ValidCaseChange) -> Result<CaseView, ApiError> {
    let mut tx = db.begin().await?;
    touch_record(&mut tx, CASES, id, actor).await?;
    if let Some(title) = &change.title {
        set_text(&mut tx, "cases", "title", id, Some(title)).await?;
    }
    if let Some(description) = &change.description {
        set_text(&mut tx, "cases", "description", id, description.as_deref()).await?;
    }
    if let Some(status) = change.status {
        set_text(&mut tx, "cases", "status", id, Some(status.as_str())).await?;
    }
    tx.commit().await?;
    get_case(db, id).await
}

pub async fn delete_case(db: &Db, id: &str) -> Result<(), ApiError> {
    delete_record(db, CASES, id).await
}

pub async fn list_reports(db: &Db, cursor: Option<&str>, limit: u32) -> Result<Page<ReportView>, sqlx::Error> {
    let rows = page_rows(db, REPORTS.table, cursor, limit).await?;
    let items = rows.iter().map(report_from).collect::<Result<Vec<_>, _>>()?;
    Ok(paginate(items, limit, |c| &c.id))
}

pub async fn get_report(db: &Db, id: &str) -> Result<ReportView, ApiError> {
    Ok(report_from(&get_record(db, REPORTS, id).await?)?)
}

pub async fn create_report(db: &Db, actor: &ActorRef, report: &ValidReport) -> Result<ReportView, ApiError> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO reports (id, summary, details, created_by_kind, created_by_id, created_by_name, \
         updated_by_kind, updated_by_id, updated_by_name, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $4, $5, $6, $7, $7)",
    )
    .bind(&id)
    .bind(&report.summary)
    .bind(report.details.as_deref())
    .bind(actor.kind.as_str())
    .bind(&actor.id)
    .bind(&actor.name)
    .bind(now_micros())
    .execute(db.pool())
    .await?;
    get_report(db, &id).await
}

pub async fn update_report(
    db: &Db,
    actor: &ActorRef,
    id: &str,
    change: &ValidReportChange,
) -> Result<ReportView, ApiError> {
    let mut tx = db.begin().await?;
    touch_record(&mut tx, REPORTS, id, actor).await?;
    if let Some(summary) = &change.summary {
        set_text(&mut tx, "reports", "summary", id, Some(summary)).await?;
    }
    if let Some(details) = &change.details {
        set_text(&mut tx, "reports", "details", id, details.as_deref()).await?;
    }
    tx.commit().await?;
    get_report(db, id).await
}

pub async fn delete_report(db: &Db, id: &str) -> Result<(), ApiError> {
    delete_record(db, REPORTS, id).await
}
