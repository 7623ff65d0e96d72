//! Wire shapes of the admin and Casebook APIs (what SPEC calls "wire shapes").

use casebook_domain::AccountKind;
use serde::Serialize;
use utoipa::ToSchema;

/// A page of a list: `next_cursor` is null on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `?cursor=` for the next page; always present, `null` on the last page.
    #[schema(required = true)]
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
    /// RFC 3339, UTC.
    #[schema(format = DateTime, example = "2026-03-02T14:05:09.123456Z")]
    pub created_at: String,
    #[schema(format = DateTime, example = "2026-03-02T14:05:09.123456Z")]
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
    /// RFC 3339, UTC.
    #[schema(format = DateTime, example = "2026-03-02T14:05:09.123456Z")]
    pub created_at: String,
    #[schema(format = DateTime, example = "2026-03-02T14:05:09.123456Z")]
    pub updated_at: String,
}

/// A registered external application, expanded. Never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApplicationView {
    #[schema(example = "0195a0c4-7a3e-7d2c-9a51-2f4b8c1d9e07")]
    pub id: String,
    #[schema(example = "Acme Intake Bridge")]
    pub name: String,
    #[schema(example = "integrations+intake@acme.example")]
    pub email: String,
    /// Always present; `null` when none was given.
    #[schema(required = true, example = "https://acme.example/casebook")]
    pub application_url: Option<String>,
    /// Always present; `null` when none was given.
    #[schema(required = true)]
    pub description: Option<String>,
    /// Role ids.
    #[schema(example = json!(["engage-worker"]))]
    pub roles: Vec<String>,
    /// Public, never changes.
    #[schema(example = "cb_3f9a1c2e7b4d8e6f0a1b2c3d4e5f6a7b")]
    pub client_id: String,
    /// Where the application asks for tokens: POST `{callback_url}/oauth2/token`.
    #[schema(example = "https://casebook.agency.example")]
    pub callback_url: String,
    pub enabled: bool,
    /// RFC 3339, UTC.
    #[schema(format = DateTime, example = "2026-03-02T14:05:09.123456Z")]
    pub created_at: String,
    #[schema(format = DateTime, example = "2026-03-02T14:05:09.123456Z")]
    pub updated_at: String,
}

/// A client secret, shown on purpose.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretView {
    pub client_id: String,
    /// At least 256 random bits; treat it as a password.
    #[schema(example = "cbs_Jc0k2m1Xw7pR5tYbN3eJhL6aGfU9sKoIiCxMvEq8Vd0")]
    pub client_secret: String,
    /// On rotation: until when the previous secret is still accepted, if at all.
    #[schema(format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_valid_until: Option<String>,
}

/// A signed-in admin session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Send as `Authorization: Bearer <token>`; valid for 8 hours or until signed out.
    #[schema(example = "cbsess_q8Vd0c4kz2m1Xw7pR5tYbN3eJhL6aGfU9sKoIiCxMvE")]
    pub token: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime, example = "2026-03-02T22:05:09.123456Z")]
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
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub at: String,
    pub actor: Actor,
    /// e.g. `application.registered`, `application.secret_revealed`.
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    /// Always present; `null` when there is nothing to add.
    #[schema(required = true)]
    pub detail: Option<String>,
}

/// `GET /api/v1/me`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    pub kind: AccountKind,
    pub id: String,
    pub name: String,
    /// `module:action`, in a fixed order.
    #[schema(example = json!(["engage:view", "engage:create"]))]
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
    /// Always present; `null` when none was given.
    #[schema(required = true)]
    pub description: Option<String>,
    pub status: casebook_domain::records::CaseStatus,
    pub created_by: Actor,
    pub updated_by: Actor,
    /// RFC 3339, UTC.
    #[schema(format = DateTime, example = "2026-03-02T14:05:09.123456Z")]
    pub created_at: String,
    #[schema(format = DateTime, example = "2026-03-02T14:05:09.123456Z")]
    pub updated_at: String,
}

/// An intake report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportView {
    pub id: String,
    pub summary: String,
    /// Always present; `null` when none was given.
    #[schema(required = true)]
    pub details: Option<String>,
    pub created_by: Actor,
    pub updated_by: Actor,
    /// RFC 3339, UTC.
    #[schema(format = DateTime, example = "2026-03-02T14:05:09.123456Z")]
    pub created_at: String,
    #[schema(format = DateTime, example = "2026-03-02T14:05:09.123456Z")]
    pub updated_at: String,
}
