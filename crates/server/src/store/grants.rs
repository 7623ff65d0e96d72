//! The grant rule ([`casebook_domain::grant`]) applied inside the
//! transaction of the change it guards.
//!
//! The caller's permissions and the target's, before and after, are all read
//! in that transaction, and on PostgreSQL every such change first takes one
//! advisory lock, so a concurrent change to a role or to the caller's own
//! roles cannot slip between the check and the write.

use super::ActorRef;
use super::RoleHolder;
use super::Scope;
use super::StoreError;
use crate::db::Backend;
use crate::db::Tx;
use casebook_domain::PermissionSet;
use casebook_domain::grant::{GrantChange, authorize_change};

/// Orders every change that grants or takes permissions on PostgreSQL (and
/// the last-administrator check with them). The value is arbitrary; it only
/// has to be the same everywhere. SQLite's `BEGIN IMMEDIATE` already
/// serialises writers.
const PERMISSIONS_LOCK: i64 = 0x6361_7365_6164_6d6e;

pub(super) async fn lock_permissions(at: &Scope, tx: &mut Tx) -> Result<(), sqlx::Error> {
    if at.db().backend() == Backend::Postgres {
        sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock($1)) AS l")
            .bind(PERMISSIONS_LOCK)
            .fetch_one(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The account making an admin change, and the bound on what it may grant.
#[derive(Debug, Clone)]
pub struct Author {
    pub actor: ActorRef,
    /// For an application, the scope of the token it called with: it acts
    /// with that scope's permissions that its roles still grant. A signed-in
    /// user acts with everything its roles grant.
    pub token_scope: Option<PermissionSet>,
}

/// The union of the permissions of `role_ids`, as this transaction sees them.
pub(super) async fn permissions_of_roles(
    tx: &mut Tx,
    at: &Scope,
    role_ids: &[String],
) -> Result<PermissionSet, sqlx::Error> {
    let mut set = PermissionSet::EMPTY;
    for id in role_ids {
        if let Some(permissions) = role_permissions(tx, at, id).await? {
            set = set.union(permissions);
        }
    }
    Ok(set)
}

pub(super) async fn role_permissions(
    tx: &mut Tx,
    at: &Scope,
    role_id: &str,
) -> Result<Option<PermissionSet>, sqlx::Error> {
    let row = sqlx::query("SELECT permissions, platform_permissions FROM roles WHERE id = $1 AND tenant_id = $2")
        .bind(role_id)
        .bind(at.tenant())
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(super::roles::role_permissions).transpose()
}

/// What the author of a change may grant, read in the change's transaction
/// before anything is written: a change to the author's own roles must not
/// vouch for itself.
#[derive(Debug, Clone, Copy)]
pub(super) struct Grantor(PermissionSet);

impl Grantor {
    pub(super) async fn read(at: &Scope, tx: &mut Tx, author: &Author) -> Result<Self, sqlx::Error> {
        lock_permissions(at, tx).await?;
        let held = match RoleHolder::of(author.actor.kind, &author.actor.id) {
            Some(holder) => super::held_permissions(tx, at, holder).await?,
            None => PermissionSet::EMPTY,
        };
        Ok(Self(match author.token_scope {
            Some(scope) => held.intersection(scope),
            None => held,
        }))
    }

    /// Refuses the change with 403 and the missing permissions unless the
    /// author holds everything the target holds before and after it.
    pub(super) fn authorize(self, change: GrantChange) -> Result<(), StoreError> {
        authorize_change(self.0, change).map_err(StoreError::MissingPermissions)
    }
}
