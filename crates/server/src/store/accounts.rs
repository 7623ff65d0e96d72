//! What users and applications share: addresses, role assignments, the
//! last-administrator check, and the small writes every change starts with.

use super::*;

#[tracing::instrument(name = "db email_holder", level = "debug", skip_all)]
pub async fn email_holder(at: &Scope, email: &Email) -> Result<Option<AccountRef>, sqlx::Error> {
    let row = sqlx::query("SELECT account_kind, account_id FROM account_emails WHERE email = $1 AND tenant_id = $2")
        .bind(at.unique_key(email.normalized()))
        .bind(at.tenant())
        .fetch_optional(at.pool())
        .await?;
    Ok(row.and_then(|r| {
        let kind: String = r.try_get("account_kind").ok()?;
        Some(AccountRef::new(
            AccountKind::parse(&kind)?,
            r.try_get::<String, _>("account_id").ok()?,
        ))
    }))
}

#[tracing::instrument(name = "db existing_roles", level = "debug", skip_all)]
pub async fn existing_roles(at: &Scope, ids: &[String]) -> Result<HashSet<String>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = format!(
        "SELECT id FROM roles WHERE tenant_id = $1 AND id IN ({})",
        parameter_list(2, ids.len())
    );
    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(at.tenant());
    for id in ids {
        query = query.bind(id);
    }
    let rows = query.fetch_all(at.pool()).await?;
    rows.iter().map(|r| col::<String>(r, "id")).collect()
}

/// Claims an address inside a transaction. The primary key decides races:
/// of two concurrent claims, exactly one commits.
pub(super) async fn claim_email(
    tx: &mut Tx,
    at: &Scope,
    email: &Email,
    account: &AccountRef,
) -> Result<(), StoreError> {
    let result =
        sqlx::query("INSERT INTO account_emails (email, account_kind, account_id, tenant_id) VALUES ($1, $2, $3, $4)")
            .bind(at.unique_key(email.normalized()))
            .bind(account.kind.as_str())
            .bind(&account.id)
            .bind(at.tenant())
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
pub(super) async fn touch(
    tx: &mut Tx,
    at: &Scope,
    table: &'static str,
    id: &str,
    noun: &'static str,
) -> Result<(), StoreError> {
    let found = sqlx::query(AssertSqlSafe(format!(
        "UPDATE {table} SET updated_at = $1 WHERE id = $2 AND tenant_id = $3"
    )))
    .bind(tx.now_micros())
    .bind(id)
    .bind(at.tenant())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if found == 0 {
        return Err(StoreError::NotFound(noun));
    }
    Ok(())
}

/// Sets one text column of one row. `table` and `column` are `'static`, so
/// they can only be names written in this code, never input.
pub(super) async fn set_text(
    tx: &mut Tx,
    at: &Scope,
    table: &'static str,
    column: &'static str,
    id: &str,
    value: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE {table} SET {column} = $1 WHERE id = $2 AND tenant_id = $3"
    )))
    .bind(value)
    .bind(id)
    .bind(at.tenant())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Moves an account to a new address: the old one is released and the new
/// one claimed in the same transaction, so the primary key decides races.
pub(super) async fn move_email(
    tx: &mut Tx,
    at: &Scope,
    table: &'static str,
    account: &AccountRef,
    email: &Email,
) -> Result<(), StoreError> {
    release_email(tx, at, account).await?;
    claim_email(tx, at, email, account).await?;
    set_text(tx, at, table, "email", &account.id, Some(email.as_str())).await?;
    Ok(())
}

pub(super) async fn release_email(tx: &mut Tx, at: &Scope, account: &AccountRef) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM account_emails WHERE account_kind = $1 AND account_id = $2 AND tenant_id = $3")
        .bind(account.kind.as_str())
        .bind(&account.id)
        .bind(at.tenant())
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Keeps [`role::keeps_an_administrator`] true across a change to users or
/// roles: taken at the start of the change's transaction, checked at its end.
/// A change is refused only when it is the one that removes the last
/// administrator, so an install that somehow has none can still be repaired.
pub(super) struct AdministratorCheck {
    had_one: bool,
}

impl AdministratorCheck {
    /// Takes the permissions lock, so that two changes cannot each see the
    /// other's administrator survive.
    pub(super) async fn before(at: &Scope, tx: &mut Tx) -> Result<Self, StoreError> {
        grants::lock_permissions(at, tx).await?;
        Ok(Self {
            had_one: has_an_administrator(tx, at).await?,
        })
    }

    pub(super) async fn after(self, tx: &mut Tx, at: &Scope) -> Result<(), StoreError> {
        if self.had_one && !has_an_administrator(tx, at).await? {
            return Err(StoreError::Conflict {
                detail: "this change would leave no user holding every admin permission, and so nobody able \
                         to manage users, roles and applications; give another user the Administrator role first"
                    .into(),
                holders: None,
            });
        }
        Ok(())
    }
}

pub(super) async fn has_an_administrator(tx: &mut Tx, at: &Scope) -> Result<bool, sqlx::Error> {
    // Decided on parsed permission sets, never on text patterns: a tenant's
    // people's role assignments are few enough to read whole.
    let rows = sqlx::query(
        // A disabled person manages nothing: they do not count.
        "SELECT x.user_id AS user_id, r.permissions AS permissions, r.platform_permissions AS platform_permissions \
         FROM user_roles x JOIN roles r ON r.id = x.role_id AND r.tenant_id = $1 \
         JOIN users u ON u.id = x.user_id AND u.tenant_id = $1 AND u.enabled = 1 WHERE x.tenant_id = $1",
    )
    .bind(at.tenant())
    .fetch_all(&mut **tx)
    .await?;
    let mut held: HashMap<String, PermissionSet> = HashMap::new();
    for row in rows {
        let permissions = roles::role_permissions(&row)?;
        let set = held.entry(col(&row, "user_id")?).or_default();
        *set = set.union(permissions);
    }
    Ok(role::keeps_an_administrator(held.into_values()))
}
