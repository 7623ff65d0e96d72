//! A record as the audit trail compares it, read in a change's transaction
//! before and after the change: so `changes` says what the database now
//! holds that it did not, whatever the request sent.

use super::*;
use casebook_domain::audit::Changes;

/// The names of the roles an account holds, for the trail.
async fn role_names(tx: &mut Tx, at: &Scope, holder: RoleHolder<'_>) -> Result<Vec<String>, sqlx::Error> {
    let (table, owner, id) = match holder {
        RoleHolder::User(id) => ("user_roles", "user_id", id),
        RoleHolder::Application(id) => ("application_roles", "application_id", id),
    };
    // Table and column are the constants above.
    let sql = format!(
        "SELECT r.name AS name FROM {table} x JOIN roles r ON r.id = x.role_id AND r.tenant_id = $2 \
         WHERE x.{owner} = $1 AND x.tenant_id = $2 ORDER BY r.name"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .bind(at.tenant())
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(|r| col(r, "name")).collect()
}

#[derive(Debug, PartialEq)]
pub(super) struct ApplicationSnapshot {
    pub name: String,
    email: String,
    application_url: Option<String>,
    description: Option<String>,
    pub enabled: bool,
    method: String,
    jwks_uri: Option<String>,
    allowed_sources: Option<Vec<String>>,
    token_quota_per_hour: Option<i64>,
    dpop_bound_access_tokens: bool,
    roles: Vec<String>,
}

impl ApplicationSnapshot {
    pub(super) async fn read(tx: &mut Tx, at: &Scope, id: &str) -> Result<Self, StoreError> {
        let row = sqlx::query(
            "SELECT name, email, application_url, description, enabled, token_endpoint_auth_method, jwks_uri, \
             allowed_sources, token_quota_per_hour, dpop_bound_access_tokens FROM applications WHERE id = $1 AND tenant_id = $2",
        )
        .bind(id)
        .bind(at.tenant())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound("external application"))?;
        let sources: Option<String> = col(&row, "allowed_sources")?;
        Ok(Self {
            name: col(&row, "name")?,
            email: col(&row, "email")?,
            application_url: col(&row, "application_url")?,
            description: col(&row, "description")?,
            enabled: col::<i64>(&row, "enabled")? != 0,
            method: col(&row, "token_endpoint_auth_method")?,
            jwks_uri: col(&row, "jwks_uri")?,
            allowed_sources: sources.and_then(|text| serde_json::from_str(&text).ok()),
            token_quota_per_hour: col(&row, "token_quota_per_hour")?,
            dpop_bound_access_tokens: col::<i64>(&row, "dpop_bound_access_tokens")? != 0,
            roles: role_names(tx, at, RoleHolder::Application(id)).await?,
        })
    }

    pub(super) fn email(&self) -> &str {
        &self.email
    }

    pub(super) fn changes_to(&self, after: &Self) -> Changes {
        let mut changes = Changes::new();
        changes
            .field("name", self.name.as_str(), after.name.as_str())
            .field("email", self.email.as_str(), after.email.as_str())
            .field(
                "application_url",
                self.application_url.clone(),
                after.application_url.clone(),
            )
            .field("description", self.description.clone(), after.description.clone())
            .field("enabled", self.enabled, after.enabled)
            .field(
                "token_endpoint_auth_method",
                self.method.as_str(),
                after.method.as_str(),
            )
            .field("jwks_uri", self.jwks_uri.clone(), after.jwks_uri.clone())
            .field(
                "allowed_sources",
                self.allowed_sources.clone(),
                after.allowed_sources.clone(),
            )
            .field(
                "token_quota_per_hour",
                self.token_quota_per_hour,
                after.token_quota_per_hour,
            )
            .field(
                "dpop_bound_access_tokens",
                self.dpop_bound_access_tokens,
                after.dpop_bound_access_tokens,
            )
            .list("roles", &self.roles, &after.roles);
        changes
    }
}

#[derive(Debug, PartialEq)]
pub(super) struct UserSnapshot {
    pub email: String,
    name: String,
    roles: Vec<String>,
    enabled: bool,
}

impl UserSnapshot {
    pub(super) async fn read(tx: &mut Tx, at: &Scope, id: &str) -> Result<Self, StoreError> {
        let row = sqlx::query("SELECT email, name, enabled FROM users WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(at.tenant())
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        Ok(Self {
            email: col(&row, "email")?,
            name: col(&row, "name")?,
            roles: role_names(tx, at, RoleHolder::User(id)).await?,
            enabled: col::<i64>(&row, "enabled")? != 0,
        })
    }

    pub(super) fn changes_to(&self, after: &Self) -> Changes {
        let mut changes = Changes::new();
        changes
            .field("email", self.email.as_str(), after.email.as_str())
            .field("name", self.name.as_str(), after.name.as_str())
            .field("enabled", self.enabled, after.enabled)
            .list("roles", &self.roles, &after.roles);
        changes
    }
}

#[derive(Debug, PartialEq)]
pub(super) struct RoleSnapshot {
    pub name: String,
    permissions: Vec<String>,
}

impl RoleSnapshot {
    pub(super) async fn read(tx: &mut Tx, at: &Scope, id: &str) -> Result<Self, StoreError> {
        let row =
            sqlx::query("SELECT name, permissions, platform_permissions FROM roles WHERE id = $1 AND tenant_id = $2")
                .bind(id)
                .bind(at.tenant())
                .fetch_optional(&mut **tx)
                .await?
                .ok_or(StoreError::NotFound("role"))?;
        let permissions = roles::role_permissions(&row)?.iter().map(|p| p.to_string()).collect();
        Ok(Self {
            name: col(&row, "name")?,
            permissions,
        })
    }

    pub(super) fn changes_to(&self, after: &Self) -> Changes {
        let mut changes = Changes::new();
        changes.field("name", self.name.as_str(), after.name.as_str()).delta(
            "permissions",
            &self.permissions,
            &after.permissions,
        );
        changes
    }
}
