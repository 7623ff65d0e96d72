//! Usage at a glance: an application's, or the whole tenant's, counts per hour.

use crate::Timestamp;
use crate::ids::ApplicationId;
use serde::{Deserialize, Serialize};

/// Token requests refused in one hour, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageRefusals {
    /// A wrong client secret, or one whose checksum shows it mistyped.
    #[serde(default)]
    pub invalid_secret: i64,
    /// A client secret past its expiry.
    #[serde(default)]
    pub expired_secret: i64,
    /// Right credentials from an address outside `allowed_sources`.
    #[serde(default)]
    pub source_not_allowed: i64,
    /// The application's `token_quota_per_hour` was spent.
    #[serde(default)]
    pub quota_exceeded: i64,
    /// A client assertion or a federated token refused.
    #[serde(default)]
    pub assertion_refused: i64,
}

/// One hour of counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageBucket {
    /// The hour's start, on the hour, UTC (RFC 3339).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub start: Timestamp,
    /// Access tokens issued.
    #[serde(default)]
    pub issued: i64,
    pub refused: UsageRefusals,
    /// API calls answered 401 or 403 though they carried one of the application's tokens.
    #[serde(default)]
    pub api_refused: i64,
}

/// `GET …/external-applications/{id}/usage`: one bucket per hour with
/// anything counted, oldest first, summed over every replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Usage {
    pub buckets: Vec<UsageBucket>,
}

/// One application's totals over a tenant's usage window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApplicationUsage {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: ApplicationId,
    /// Access tokens issued in the window.
    pub issued: i64,
    /// Token requests refused in the window, for any reason.
    pub refused: i64,
    /// API calls refused in the window.
    pub api_refused: i64,
    /// The start of the latest hour with anything counted (RFC 3339), within the last 30 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_activity: Option<Timestamp>,
}

/// `GET /admin/v1/usage`: the tenant's counts per hour, every application
/// summed, and each application with anything counted in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantUsage {
    pub buckets: Vec<UsageBucket>,
    /// Most active first.
    pub applications: Vec<ApplicationUsage>,
}
