//! The Casebook API's answers: the caller, cases and reports.

use super::{Actor, permissions};
use crate::Timestamp;
use crate::ids::{AccountId, CaseId, ReportId};
use crate::records::CaseStatus;
use crate::{AccountKind, ClientId, PermissionSet};
use serde::{Deserialize, Serialize};

/// `GET /api/v1/me`: who the caller is and what it may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = MeView, description = "`GET /api/v1/me`."))]
pub struct Me {
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "`application` for a token from the client credentials grant, `user` for a session."
    )]
    pub kind: AccountKind,
    #[cfg_attr(not(feature = "openapi"), doc = "The account's id.")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: AccountId,
    #[cfg_attr(not(feature = "openapi"), doc = "The application's or user's name.")]
    pub name: String,
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "What the caller may do: its roles' permissions, narrowed by the token's scope."
    )]
    /// `module:action`, in a fixed order.
    #[serde(with = "permissions")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>, example = json!(["engage:view", "engage:create"])))]
    pub permissions: PermissionSet,
    /// The application's Client ID, for an application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub client_id: Option<ClientId>,
}

/// An engage case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = CaseView))]
pub struct Case {
    #[cfg_attr(not(feature = "openapi"), doc = "The case's id.")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: CaseId,
    #[cfg_attr(not(feature = "openapi"), doc = "1 to 200 characters.")]
    pub title: String,
    #[cfg_attr(not(feature = "openapi"), doc = "Free text, if any.")]
    /// Always present; `null` when none was given.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub description: Option<String>,
    #[cfg_attr(not(feature = "openapi"), doc = "Open or closed.")]
    pub status: CaseStatus,
    #[cfg_attr(not(feature = "openapi"), doc = "Who created the case.")]
    pub created_by: Actor,
    #[cfg_attr(not(feature = "openapi"), doc = "Who changed it last.")]
    pub updated_by: Actor,
    #[cfg_attr(not(feature = "openapi"), doc = "When it was created.")]
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-03-02T14:05:09.123456Z"))]
    pub created_at: Timestamp,
    #[cfg_attr(not(feature = "openapi"), doc = "When it was changed last.")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-03-02T14:05:09.123456Z"))]
    pub updated_at: Timestamp,
}

/// An intake report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = ReportView))]
pub struct Report {
    #[cfg_attr(not(feature = "openapi"), doc = "The report's id.")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: ReportId,
    #[cfg_attr(not(feature = "openapi"), doc = "1 to 200 characters.")]
    pub summary: String,
    #[cfg_attr(not(feature = "openapi"), doc = "Free text, if any.")]
    /// Always present; `null` when none was given.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub details: Option<String>,
    #[cfg_attr(not(feature = "openapi"), doc = "Who created the report.")]
    pub created_by: Actor,
    #[cfg_attr(not(feature = "openapi"), doc = "Who changed it last.")]
    pub updated_by: Actor,
    #[cfg_attr(not(feature = "openapi"), doc = "When it was created.")]
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-03-02T14:05:09.123456Z"))]
    pub created_at: Timestamp,
    #[cfg_attr(not(feature = "openapi"), doc = "When it was changed last.")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-03-02T14:05:09.123456Z"))]
    pub updated_at: Timestamp,
}
