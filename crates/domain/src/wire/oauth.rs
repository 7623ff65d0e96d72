//! The OAuth endpoints' answers (RFC 6749 §5, RFC 7662, RFC 8414).

use crate::OAuthErrorCode;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// RFC 6749 §5.1 success. Casebook always sends every field; a reader also
/// accepts what other RFC 6749 servers send: no `expires_in` or `scope`,
/// `expires_in` as a string or a fraction. Its `Debug` never shows the token.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(description = "RFC 6749 §5.1 success."))]
pub struct TokenResponse {
    /// A JWT (RFC 9068) signed with the install's current key (RS256 by default); verify it against `/.well-known/jwks.json`.
    pub access_token: String,
    /// `Bearer`, or `DPoP` for a token bound to a DPoP proof's key (RFC 9449 §5).
    #[cfg_attr(feature = "openapi", schema(example = "Bearer"))]
    pub token_type: String,
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "Seconds the token lives, when the server says; never negative."
    )]
    /// Always 3600.
    #[serde(
        default,
        deserialize_with = "lenient_seconds",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = i64, required = true, example = 3600))]
    pub expires_in: Option<i64>,
    /// The granted permissions, space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, required = true, example = "engage:view engage:create")
    )]
    pub scope: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

/// `expires_in` as a number, or (as some servers send it) a numeric string;
/// negative is zero, too large saturates, unreadable text is absent.
fn lenient_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Seconds {
        Integer(i64),
        Float(f64),
        Text(String),
    }
    Ok(match Option::<Seconds>::deserialize(deserializer)? {
        None => None,
        Some(Seconds::Integer(n)) => Some(n.max(0)),
        // `as` saturates, so a huge fraction is i64::MAX rather than a panic.
        Some(Seconds::Float(f)) if f.is_finite() => Some(f.max(0.0) as i64),
        Some(Seconds::Float(_)) => None,
        Some(Seconds::Text(s)) => s
            .trim()
            .parse::<u64>()
            .ok()
            .map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
    })
}

/// RFC 7662 §2.2.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IntrospectionResponse {
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// RFC 9449 §6.2: the key a DPoP-bound token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// A token's confirmation claim (RFC 7800 §3.1): for a DPoP-bound token,
/// the RFC 7638 thumbprint of the key every proof must be signed with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Confirmation {
    /// The SHA-256 JWK thumbprint, base64url (RFC 9449 §6.1).
    pub jkt: String,
}

/// The media type (RFC 9701 §4) a resource server asks for to get a signed
/// introspection response; also the response's `typ`, less `application/`.
pub const TOKEN_INTROSPECTION_JWT: &str = "application/token-introspection+jwt";

/// RFC 9701 §5: the claims of a signed introspection response. Deliberately
/// no `sub` or `exp`: the response is a statement about a token, and must
/// never pass for an access token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IntrospectionJwtClaims {
    /// The issuer: this install's public URL.
    pub iss: String,
    /// The client that asked: the resource server the response is for.
    pub aud: String,
    /// When the response was made, in seconds since the Unix epoch.
    pub iat: i64,
    /// The RFC 7662 response, as the plain JSON answer would carry it.
    pub token_introspection: IntrospectionResponse,
}

/// RFC 8414 authorization server metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerMetadata {
    pub issuer: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub introspection_endpoint: String,
    pub revocation_endpoint: String,
    pub grant_types_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// RFC 8414 §2: the algorithms a `private_key_jwt` client assertion may
    /// use at each endpoint.
    #[serde(default)]
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub introspection_endpoint_auth_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub revocation_endpoint_auth_signing_alg_values_supported: Vec<String>,
    pub scopes_supported: Vec<String>,
    pub service_documentation: String,
    /// RFC 9701 §7: the algorithms a signed introspection response may carry,
    /// the one signing now first.
    #[serde(default)]
    pub introspection_signing_alg_values_supported: Vec<String>,
    /// RFC 9449 §5.1: the algorithms a DPoP proof may be signed with.
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Vec<String>,
}

/// RFC 9728 protected resource metadata of the Casebook API: which
/// authorization server issues its tokens and how to present them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProtectedResourceMetadata {
    /// The install's public URL: the resource, and every token's `aud`.
    pub resource: String,
    pub authorization_servers: Vec<String>,
    pub scopes_supported: Vec<String>,
    /// Tokens go in the `Authorization` header only.
    pub bearer_methods_supported: Vec<String>,
    /// RFC 9728 §2: the algorithms a DPoP proof may be signed with.
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Vec<String>,
    pub resource_documentation: String,
    pub resource_name: String,
}

/// RFC 6749 §5.2 error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OAuthErrorBody {
    pub error: OAuthErrorCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}
