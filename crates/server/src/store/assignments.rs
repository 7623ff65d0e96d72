//! Role assignments: which roles an account holds, and what they grant.
//!
//! Users and applications keep their roles in two tables of one shape. The
//! owner is typed ([`RoleHolder`]) and each kind's SQL is fixed text, so no
//! table or column name is ever spliced in from a string.

use super::*;

/// Whose roles.
#[derive(Debug, Clone, Copy)]
pub enum RoleHolder<'a> {
    User(&'a str),
    Application(&'a str),
}

/// The fixed SQL of one kind's assignment table.
struct Assignments {
    table: &'static str,
    owner: &'static str,
    clear: &'static str,
    assign: &'static str,
    held: &'static str,
}

const USER_ROLES: Assignments = Assignments {
    table: "user_roles",
    owner: "user_id",
    clear: "DELETE FROM user_roles WHERE user_id = $1 AND tenant_id = $2",
    assign: "INSERT INTO user_roles (user_id, role_id, tenant_id) \
             SELECT $1, id, tenant_id FROM roles WHERE id = $2 AND tenant_id = $3",
    held: "SELECT r.permissions AS permissions, r.platform_permissions AS platform_permissions \
           FROM user_roles x JOIN roles r ON r.id = x.role_id AND r.tenant_id = $2 \
           WHERE x.user_id = $1 AND x.tenant_id = $2",
};

const APPLICATION_ROLES: Assignments = Assignments {
    table: "application_roles",
    owner: "application_id",
    clear: "DELETE FROM application_roles WHERE application_id = $1 AND tenant_id = $2",
    assign: "INSERT INTO application_roles (application_id, role_id, tenant_id) \
             SELECT $1, id, tenant_id FROM roles WHERE id = $2 AND tenant_id = $3",
    held: "SELECT r.permissions AS permissions, r.platform_permissions AS platform_permissions \
           FROM application_roles x JOIN roles r ON r.id = x.role_id AND r.tenant_id = $2 \
           WHERE x.application_id = $1 AND x.tenant_id = $2",
};

/// `None` for an actor that is no account and holds no roles.
fn assignments(kind: AccountKind) -> Option<&'static Assignments> {
    kind.pick(&USER_ROLES, &APPLICATION_ROLES)
}

impl<'a> RoleHolder<'a> {
    /// `None` for an actor that is no account (an operator) and so holds
    /// no roles.
    pub fn of(kind: AccountKind, id: &'a str) -> Option<Self> {
        kind.pick(Self::User(id), Self::Application(id))
    }

    fn parts(self) -> (&'static Assignments, &'a str) {
        match self {
            Self::User(id) => (&USER_ROLES, id),
            Self::Application(id) => (&APPLICATION_ROLES, id),
        }
    }
}

fn union_of_rows(rows: &[AnyRow]) -> Result<PermissionSet, sqlx::Error> {
    let mut set = PermissionSet::EMPTY;
    for row in rows {
        set = set.union(roles::role_permissions(row)?);
    }
    Ok(set)
}

/// The union of the permissions of the roles `holder` has, as this
/// transaction sees them.
pub(super) async fn held_permissions(
    tx: &mut Tx,
    at: &Scope,
    holder: RoleHolder<'_>,
) -> Result<PermissionSet, sqlx::Error> {
    let (sql, id) = holder.parts();
    union_of_rows(
        &sqlx::query(sql.held)
            .bind(id)
            .bind(at.tenant())
            .fetch_all(&mut **tx)
            .await?,
    )
}

/// The same, outside a transaction: a signed-in person's permissions.
#[tracing::instrument(name = "db permissions_of", level = "debug", skip_all)]
pub async fn permissions_of(at: &Scope, holder: RoleHolder<'_>) -> Result<PermissionSet, sqlx::Error> {
    let (sql, id) = holder.parts();
    union_of_rows(
        &sqlx::query(sql.held)
            .bind(id)
            .bind(at.tenant())
            .fetch_all(at.pool())
            .await?,
    )
}

/// Replaces the roles `holder` has with `roles`.
pub(super) async fn set_roles(
    tx: &mut Tx,
    at: &Scope,
    holder: RoleHolder<'_>,
    roles: &[String],
) -> Result<(), StoreError> {
    let (sql, owner) = holder.parts();
    sqlx::query(sql.clear)
        .bind(owner)
        .bind(at.tenant())
        .execute(&mut **tx)
        .await?;
    for role in roles {
        // Only a role of this tenant is assigned: another tenant's id is
        // as unknown here as one that never existed.
        let assigned = sqlx::query(sql.assign)
            .bind(owner)
            .bind(role)
            .bind(at.tenant())
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if assigned == 0 {
            // The role vanished between validation and this write.
            return Err(StoreError::refused(FieldError::new(
                "roles",
                ErrorCode::UnknownRole,
                format!("there is no role {role:?}"),
            )));
        }
    }
    Ok(())
}

/// The role ids of each of `owners`, accounts of one kind, for a page of them.
pub(super) async fn roles_of(
    at: &Scope,
    kind: AccountKind,
    owners: &[&str],
) -> Result<HashMap<String, Vec<String>>, sqlx::Error> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    let Some(Assignments { table, owner, .. }) = assignments(kind).filter(|_| !owners.is_empty()) else {
        return Ok(map);
    };
    // Table and column come from the constants above; the input decides
    // only how many ids are bound.
    let sql = format!(
        "SELECT {owner} AS owner, role_id FROM {table} WHERE tenant_id = $1 AND {owner} IN ({}) ORDER BY role_id",
        parameter_list(2, owners.len())
    );
    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(at.tenant());
    for id in owners {
        query = query.bind(*id);
    }
    for row in query.fetch_all(at.pool()).await? {
        map.entry(col(&row, "owner")?).or_default().push(col(&row, "role_id")?);
    }
    Ok(map)
}
