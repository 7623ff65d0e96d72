//! The one way into a tenant's rows (the contract, "Tenants": isolation).
//!
//! Every query of a tenant-owned table takes a [`Scope`] and binds its
//! [`Scope::tenant`] in a `tenant_id = $n` condition, and every insert writes
//! it. A `Scope` is made only from a resolved tenant (a request's, through
//! its extractor) or by install-wide work that names the tenant it acts for,
//! so a handler cannot reach rows without saying whose. The test
//! `every_tenant_query_is_scoped` reads each SQL statement in this folder and
//! fails on one that touches a tenant-owned table without `tenant_id`.

use crate::db::{Db, Tx};
use std::sync::Arc;

/// A tenant's view of the database.
#[derive(Debug, Clone)]
pub struct Scope {
    db: Db,
    tenant: Arc<str>,
}

impl Scope {
    pub fn new(db: Db, tenant_id: impl Into<Arc<str>>) -> Self {
        Self {
            db,
            tenant: tenant_id.into(),
        }
    }

    /// The root tenant's rows: the CLI, first-start bootstrap and tests.
    pub fn root(db: Db) -> Self {
        Self::new(db, casebook_domain::tenant::ROOT)
    }

    /// The tenant's id, for `tenant_id = $n`.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    pub fn is_root(&self) -> bool {
        &*self.tenant == casebook_domain::tenant::ROOT
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn pool(&self) -> &sqlx::AnyPool {
        self.db.pool()
    }

    pub fn now_micros(&self) -> i64 {
        self.db.now_micros()
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.db.begin().await
    }

    /// The key of a value unique within the tenant (an email, a role name),
    /// as [`casebook_domain::tenant::unique_key`] writes it.
    pub fn unique_key(&self, value: &str) -> String {
        casebook_domain::tenant::unique_key(&self.tenant, value)
    }
}

/// The tables whose every row belongs to one tenant: each has `tenant_id`.
pub const TENANT_TABLES: &[&str] = &[
    "account_emails",
    "roles",
    "users",
    "user_roles",
    "applications",
    "application_roles",
    "sessions",
    "signing_keys",
    "reveal_failures",
    "audit_events",
    "cases",
    "reports",
    "federated_credentials",
    "client_secrets",
    "outbox",
    "recovery_codes",
    "mfa_challenges",
    "password_links",
    "passkeys",
    "webauthn_ceremonies",
    "second_factor_failures",
    "idempotency_keys",
    "usage_counts",
    "webhooks",
    "webhook_event_types",
    "webhook_deliveries",
];

#[cfg(test)]
mod tests {
    use super::TENANT_TABLES;

    /// Each SQL statement written in `store/`: every string literal that
    /// starts like one, joined with the literals `\`-continued after it.
    fn statements(source: &str) -> Vec<String> {
        let mut found = Vec::new();
        let mut rest = source;
        while let Some(at) = rest.find('"') {
            rest = &rest[at + 1..];
            let Some(end) = rest.find('"') else { break };
            let literal = &rest[..end];
            rest = &rest[end + 1..];
            let upper = literal.trim_start().to_ascii_uppercase();
            let starts = ["SELECT ", "INSERT ", "UPDATE ", "DELETE ", "WITH "];
            if starts.iter().any(|s| upper.starts_with(s)) {
                found.push(literal.to_owned());
            }
        }
        found
    }

    fn names_table(sql: &str, table: &str) -> bool {
        sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|word| word.eq_ignore_ascii_case(table))
    }

    #[test]
    fn every_tenant_query_is_scoped() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
        let mut unscoped = Vec::new();
        let mut read = 0;
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let source = std::fs::read_to_string(&path).unwrap();
            // Statements are often split over `\`-continued literals: read
            // each as one by dropping the continuations first.
            let joined = source.replace("\\\n", " ").replace("\" \"", "");
            for sql in statements(&joined) {
                read += 1;
                let tables: Vec<&&str> = TENANT_TABLES.iter().filter(|t| names_table(&sql, t)).collect();
                if !tables.is_empty() && !sql.contains("tenant_id") && !sql.contains("UNSCOPED:") {
                    unscoped.push(format!("{}: {sql}", path.file_name().unwrap().to_string_lossy()));
                }
            }
        }
        // A reader that found nothing would pass whatever the queries say.
        assert!(read > 100, "only {read} statements were read in store/");
        assert!(
            unscoped.is_empty(),
            "these statements touch a tenant's table without tenant_id:\n{}",
            unscoped.join("\n")
        );
    }
}
