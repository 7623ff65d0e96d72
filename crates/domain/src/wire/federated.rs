//! The admin API's view of a federated credential.

use super::Actor;
use crate::Timestamp;
use crate::ids::FederatedCredentialId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An outside identity an application trusts, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(
        as = FederatedCredentialView,
        description = "An outside identity (issuer and subject) whose tokens the application accepts in place of a secret."
    )
)]
pub struct FederatedCredential {
    /// The credential's id, for removal.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: FederatedCredentialId,
    pub name: String,
    /// The outside issuer, exactly as its tokens' `iss` carry it.
    pub issuer: String,
    /// The issuer's public keys, when registered inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub jwks: Option<Value>,
    /// Where the issuer's keys are fetched from, when registered so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The exact `sub` of the workload's tokens.
    pub subject: String,
    /// The `aud` the tokens must carry: the one given, or this server's issuer identifier.
    pub audience: String,
    /// Further claims the tokens must carry: equal values, or for an
    /// object, at least its members.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub claims: Map<String, Value>,
    /// The longest a token may have been issued for (`exp` − `iat`), when bounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_token_lifetime_seconds: Option<i64>,
    /// Whether each token's `jti` is accepted once.
    #[serde(default)]
    pub single_use: bool,
    /// RFC 3339.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub created_at: Timestamp,
    pub created_by: Actor,
}

/// `GET …/federated-credentials`: all of them (at most 20), oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FederatedCredentialList))]
pub struct FederatedCredentials {
    pub items: Vec<FederatedCredential>,
}
