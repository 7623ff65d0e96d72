//! Wire shapes of the admin and Casebook APIs (what SPEC calls "wire shapes").

use casebook_domain::AccountKind;
use serde::Serialize;
use utoipa::ToSchema;

/// A page of a list: `next_cursor` is null on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A role of the catalog.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleView {
    pub id: String,
    pub name: String,
    /// `module:action`, in a fixed order.
    #[schema(example = json!(["engage:view", "engage:create"]))]
    pub permissions: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A user account. Never its password.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    /// Role ids.
    pub roles: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A registered external application, expanded. Never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: String,
    pub name: String,
    pub email: String,
    pub application_url: Option<String>,
    pub description: Option<String>,
    /// Role ids.
    pub roles: Vec<String>,
    pub client_id: String,
    /// Where the application asks for tokens: POST `{callback_url}/oauth2/token`.
    pub callback_url: String,
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A client secret, shown on purpose.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretView {
    pub client_id: String,
    pub client_secret: String,
    /// On rotation: until when the previous secret is still accepted, if at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_valid_until: Option<String>,
}

/// A signed-in admin session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub token: String,
    pub expires_at: String,
}

/// Who did something.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Actor {
    pub kind: AccountKind,
    pub id: String,
    pub name: String,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: String,
    pub at: String,
    pub actor: Actor,
    /// e.g. `application.registered`, `application.secret_revealed`.
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub detail: Option<String>,
}

/// `GET /api/v1/me`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    pub kind: AccountKind,
    pub id: String,
    pub name: String,
    pub permissions: Vec<String>,
    /// The application's Client ID, for an application.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// An engage case.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseView {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub status: casebook_domain::records::CaseStatus,
    pub created_by: Actor,
    pub updated_by: Actor,
    pub created_at: String,
    pub updated_at: String,
}

/// An intake report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportView {
    pub id: String,
    pub summary: String,
    pub details: Option<String>,
    pub created_by: Actor,
    pub updated_by: Actor,
    pub created_at: String,
    pub updated_at: String,
}
