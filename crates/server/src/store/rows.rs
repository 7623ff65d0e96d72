//! What the store answers with: plain records of what is stored, typed
//! (sets, instants, flags) but shaped by storage, not by any API. The HTTP
//! layer turns them into wire shapes (`crate::views`), adding what only it
//! knows, such as the callback URL.

use casebook_domain::records::CaseStatus;
use casebook_domain::{PermissionSet, Timestamp};

use super::ActorRef;

/// One page of records in id order, and the id to continue after.
#[derive(Debug)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RoleRecord {
    pub id: String,
    pub name: String,
    pub permissions: PermissionSet,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role_ids: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub enabled: bool,
    pub last_sign_in_at: Option<Timestamp>,
    pub totp_enrolled: bool,
    pub passkeys: i64,
    /// Invited and has not yet set a password.
    pub invitation_pending: bool,
}

#[derive(Debug, Clone)]
pub struct ApplicationRecord {
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub email: String,
    pub application_url: Option<String>,
    pub description: Option<String>,
    pub role_ids: Vec<String>,
    pub enabled: bool,
    /// `token_endpoint_auth_method` as stored.
    pub auth_method: String,
    /// The public JWK Set of a `private_key_jwt` application, as stored.
    pub jwks: Option<String>,
    /// Where the JWK Set is fetched from, when it is not stored inline.
    pub jwks_uri: Option<String>,
    /// Where from and how many: see [`super::LimitColumns`].
    pub limits: super::LimitColumns,
    pub dpop_bound_access_tokens: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct CaseRecord {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub status: CaseStatus,
    pub created_by: ActorRef,
    pub updated_by: ActorRef,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct ReportRecord {
    pub id: String,
    pub summary: String,
    pub details: Option<String>,
    pub created_by: ActorRef,
    pub updated_by: ActorRef,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub id: String,
    pub at: Timestamp,
    pub actor: ActorRef,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub target_name: Option<String>,
    pub detail: Option<String>,
    pub source: Option<String>,
    pub request_id: Option<String>,
    /// The tenant's slug.
    pub tenant: String,
    pub changes: Option<serde_json::Value>,
}
