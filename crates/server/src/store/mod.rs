//! The queries the service runs, one file per aggregate.
//!
//! Handlers validate with `casebook_domain`, then call here. Writes that
//! change more than one row run in one transaction, so a failure leaves the
//! database as it was.

mod accounts;
mod applications;
mod assignments;
mod audit;
mod clients;
mod ended_secrets;
mod error;
mod federated;
mod grants;
pub mod idempotency;
mod limits;
mod outbox;
mod passkeys;
mod password_links;
mod quota;
mod records;
mod reminders;
mod reveal_lockout;
mod revocations;
mod roles;
mod rows;
mod scope;
mod sealed;
mod second_factor;
mod secret_upkeep;
mod secrets;
mod sessions;
mod signing_keys;
mod snapshots;
mod tenants;
mod usage;
mod users;
mod webhooks;

pub use accounts::*;
pub use applications::*;
pub use assignments::*;
pub use audit::*;
pub use clients::*;
pub use ended_secrets::*;
pub use error::StoreError;
pub use federated::*;
pub use grants::Author;
pub use limits::*;
pub use outbox::*;
pub use passkeys::*;
pub use password_links::*;
pub use quota::*;
pub use records::*;
pub use reminders::*;
pub use reveal_lockout::*;
pub use revocations::*;
pub use roles::*;
pub use rows::*;
pub use scope::{Scope, TENANT_TABLES};
pub use sealed::*;
pub use second_factor::*;
pub use secret_upkeep::*;
pub use secrets::*;
pub use sessions::*;
pub use signing_keys::*;
pub use tenants::*;
pub use usage::*;
pub use users::*;
pub use webhooks::*;

use crate::crypto::MasterKey;
use crate::db::{Db, Tx, col, is_unique_violation, micros_to_rfc3339, new_id};
use casebook_domain::account::AccountRef;
use casebook_domain::application::{NewApplication, ValidApplicationChange};
use casebook_domain::grant::GrantChange;
use casebook_domain::lockout;
use casebook_domain::notice::Notice;
use casebook_domain::records::{CaseStatus, ValidCase, ValidCaseChange, ValidReport, ValidReportChange};
use casebook_domain::role::{self, ValidRole, ValidRoleChange};
use casebook_domain::user::{NewUser, ValidUserChange};
use casebook_domain::wire::Holder;
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

impl ActorRef {
    /// Someone at the command line: the actor of what the CLI changes.
    pub fn operator() -> Self {
        Self {
            kind: AccountKind::Operator,
            id: casebook_domain::audit::OPERATOR_ID.to_owned(),
            name: casebook_domain::audit::OPERATOR_NAME.to_owned(),
        }
    }

    /// An application as the author of what it does (an exchange, a refused
    /// use): how the trail names it.
    pub fn application(id: &str, name: &str) -> Self {
        Self {
            kind: AccountKind::Application,
            id: id.to_owned(),
            name: name.to_owned(),
        }
    }
}

fn parameter_list(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn email_in_use() -> StoreError {
    StoreError::refused(casebook_domain::FieldError::email_in_use())
}

/// Cuts a `LIMIT n + 1` result to a page, with the cursor of the next one.
/// A stored instant (microseconds since the Unix epoch).
fn stamp(row: &AnyRow, column: &str) -> Result<casebook_domain::Timestamp, sqlx::Error> {
    Ok(casebook_domain::Timestamp::from_unix_micros(col(row, column)?))
}

fn paginate<T>(mut items: Vec<T>, limit: u32, id: impl Fn(&T) -> &str) -> Listed<T> {
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|i| id(i).to_owned())
    } else {
        None
    };
    Listed { items, next_cursor }
}
