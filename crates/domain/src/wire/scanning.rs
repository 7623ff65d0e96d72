//! GitHub's secret-scanning partner program, as `POST /secret-scanning/github`
//! reads and answers it (the contract's "Leaked secrets").

use serde::{Deserialize, Serialize};

/// One match GitHub found in public.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = LeakAlert))]
pub struct LeakAlert {
    /// The string that matched `cbs_[0-9A-Za-z]{50}`.
    pub token: String,
    /// The secret type registered with GitHub.
    #[serde(rename = "type")]
    pub token_type: String,
    /// Where it was found.
    pub url: String,
    /// What GitHub scanned: `content`, `commit`, `pull_request_description`, ….
    pub source: String,
}

/// What became of one reported match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = LeakVerdict))]
pub struct LeakVerdict {
    /// SHA-256 of the token, lowercase hex.
    pub token_hash: String,
    /// The reported `type`, echoed.
    pub token_type: String,
    pub label: LeakLabel,
}

/// `true_positive`: a live secret of this install, now ended;
/// `false_positive`: nothing this install would accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LeakLabel {
    TruePositive,
    FalsePositive,
}
