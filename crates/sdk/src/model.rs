//! What the server answers with. Requests use the domain's own forms
//! ([`ApplicationForm`](casebook_domain::ApplicationForm), …), so the rules
//! and the wire shape cannot drift between server and SDK.
//!
//! Every type here is `#[non_exhaustive]`: the server may add fields, and so
//! may these types, without breaking callers. Timestamps are RFC 3339 text.

use casebook_domain::records::CaseStatus;
use casebook_domain::{AccountKind, ClientSecret, Permission, PermissionSet};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A page of a list, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page, in the server's order.
    pub items: Vec<T>,
    /// Pass to [`List::cursor`](crate::List::cursor) for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/me`: who the caller is and what it may do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Me {
    /// `application` for a token from the client credentials grant, `user` for a session.
    pub kind: AccountKind,
    /// The account's id.
    pub id: String,
    /// The application's or user's name.
    pub name: String,
    /// What the caller may do: its roles' permissions, narrowed by the token's scope.
    #[serde(with = "permissions")]
    pub permissions: PermissionSet,
    /// The application's Client ID, for an application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// Who created or last changed a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Actor {
    /// A user or an application.
    pub kind: AccountKind,
    /// The account's id.
    pub id: String,
    /// The name records show as "Created by" / "Last updated by".
    pub name: String,
}

/// An engage case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Case {
    /// The case's id.
    pub id: String,
    /// 1 to 200 characters.
    pub title: String,
    /// Free text, if any.
    pub description: Option<String>,
    /// Open or closed.
    pub status: CaseStatus,
    /// Who created the case.
    pub created_by: Actor,
    /// Who changed it last.
    pub updated_by: Actor,
    /// When it was created.
    pub created_at: String,
    /// When it was changed last.
    pub updated_at: String,
}

/// An intake report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// The report's id.
    pub id: String,
    /// 1 to 200 characters.
    pub summary: String,
    /// Free text, if any.
    pub details: Option<String>,
    /// Who created the report.
    pub created_by: Actor,
    /// Who changed it last.
    pub updated_by: Actor,
    /// When it was created.
    pub created_at: String,
    /// When it was changed last.
    pub updated_at: String,
}

/// A role of the catalog: a named set of permissions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Role {
    /// The role's id, used in an application's or user's `roles`.
    pub id: String,
    /// The role's name, e.g. `Engage Worker`.
    pub name: String,
    /// What the role grants.
    #[serde(with = "permissions")]
    pub permissions: PermissionSet,
    /// When it was created.
    pub created_at: String,
    /// When it was changed last.
    pub updated_at: String,
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// The user's id.
    pub id: String,
    /// The sign-in address.
    pub email: String,
    /// The display name.
    pub name: String,
    /// Role ids.
    pub roles: Vec<String>,
    /// When it was created.
    pub created_at: String,
    /// When it was changed last.
    pub updated_at: String,
}

/// A registered external application: the expanded view of cb Admin. Never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Application {
    /// The application's id (not its Client ID).
    pub id: String,
    /// The application name, shown as "Created by" on its records.
    pub name: String,
    /// Where alerts about the integration go.
    pub email: String,
    /// The partner's URL, if given.
    pub application_url: Option<String>,
    /// Free text, if given.
    pub description: Option<String>,
    /// Role ids.
    pub roles: Vec<String>,
    /// The public Client ID.
    pub client_id: String,
    /// The Casebook URL the application talks to: its token endpoint is
    /// `{callback_url}/oauth2/token`, and it is the base URL of a [`Client`](crate::Client).
    pub callback_url: String,
    /// Whether the application may get tokens.
    pub enabled: bool,
    /// When it was registered.
    pub created_at: String,
    /// When it was changed last.
    pub updated_at: String,
}

/// A client secret shown on purpose, by reveal or rotation. Its `Debug`
/// never shows the secret; [`ClientSecret::expose`] does.
#[derive(Clone, Deserialize)]
#[non_exhaustive]
pub struct RevealedSecret {
    /// The application's Client ID.
    pub client_id: String,
    /// The secret.
    #[serde(deserialize_with = "secret")]
    pub client_secret: ClientSecret,
    /// On rotation with a grace period: until when the previous secret still works.
    #[serde(default)]
    pub previous_secret_valid_until: Option<String>,
}

impl fmt::Debug for RevealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevealedSecret")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("previous_secret_valid_until", &self.previous_secret_valid_until)
            .finish()
    }
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEvent {
    /// The event's id.
    pub id: String,
    /// When it happened.
    pub at: String,
    /// Who did it.
    pub actor: Actor,
    /// What was done, e.g. `application.registered`, `application.secret_revealed`.
    pub action: String,
    /// What kind of thing it was done to, e.g. `application`.
    pub target_kind: String,
    /// The id of what it was done to.
    pub target_id: String,
    /// More about it, if anything.
    pub detail: Option<String>,
}

/// A signed-in admin session, as the server answers it.
#[derive(Deserialize)]
pub(crate) struct Session {
    pub(crate) token: String,
}

fn secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ClientSecret, D::Error> {
    String::deserialize(deserializer).map(ClientSecret::from_presented)
}

/// Permissions on the wire: `["engage:view", …]`.
mod permissions {
    use super::*;

    pub fn serialize<S: Serializer>(set: &PermissionSet, serializer: S) -> Result<S::Ok, S::Error> {
        set.to_strings().serialize(serializer)
    }

    /// A permission this SDK does not know yet (a newer server's module) is
    /// skipped rather than failing the whole answer.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PermissionSet, D::Error> {
        let raw = Vec::<String>::deserialize(deserializer)?;
        Ok(raw.iter().filter_map(|p| p.parse::<Permission>().ok()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn me_reads_and_writes_permissions_as_strings() {
        let me: Me = serde_json::from_str(
            r#"{"kind":"application","id":"a1","name":"Sync","permissions":["engage:view","engage:create","billing:view"],"client_id":"cb_1"}"#,
        )
        .unwrap();
        assert_eq!(me.permissions.to_scope(), "engage:view engage:create");
        let json = serde_json::to_value(&me).unwrap();
        assert_eq!(json["permissions"], serde_json::json!(["engage:view", "engage:create"]));
        assert_eq!(json["kind"], "application");
    }

    #[test]
    fn a_revealed_secret_is_redacted_in_debug() {
        let revealed: RevealedSecret =
            serde_json::from_str(r#"{"client_id":"cb_1","client_secret":"cbs_very-secret"}"#).unwrap();
        assert_eq!(revealed.client_secret.expose(), "cbs_very-secret");
        assert!(!format!("{revealed:?}").contains("very-secret"));
    }

    #[test]
    fn unknown_fields_from_a_newer_server_are_accepted() {
        let role: Role = serde_json::from_str(
            r#"{"id":"r","name":"R","permissions":["intake:view"],"created_at":"t","updated_at":"t","color":"red"}"#,
        )
        .unwrap();
        assert_eq!(role.permissions.len(), 1);
    }
}
