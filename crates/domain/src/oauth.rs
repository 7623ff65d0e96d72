//! OAuth 2.0 rules that do not depend on transport: error codes, token lifetime, scope.

use crate::permission::PermissionSet;
use serde::{Deserialize, Serialize};
use std::fmt;

server_pub! {
    /// The contract ("Tokens"): an access token lives exactly one hour.
    pub const ACCESS_TOKEN_LIFETIME_SECS: i64 = 3600;
}

/// RFC 6749 §5.2 error codes (plus RFC 7009's `unsupported_token_type` and RFC 8707's `invalid_target`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    UnsupportedTokenType,
    /// RFC 8707 §2: the `resource` asked for is not one this server issues
    /// tokens for.
    InvalidTarget,
    /// RFC 6749 §4.1.2.1's code for a passing server fault, used here at
    /// every endpoint with 503 so that clients retry instead of giving up.
    TemporarilyUnavailable,
    /// RFC 9449 §5: the DPoP proof is missing where required, or invalid.
    InvalidDpopProof,
    /// RFC 9449 §8: the proof needs the server's nonce, sent in `DPoP-Nonce`.
    UseDpopNonce,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidTarget => "invalid_target",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::InvalidRequest,
            Self::InvalidClient,
            Self::InvalidGrant,
            Self::UnauthorizedClient,
            Self::UnsupportedGrantType,
            Self::InvalidScope,
            Self::UnsupportedTokenType,
            Self::InvalidTarget,
            Self::TemporarilyUnavailable,
            Self::InvalidDpopProof,
            Self::UseDpopNonce,
        ]
        .into_iter()
        .find(|c| c.as_str() == value)
    }

    /// RFC 6749 §5.2: 400, except `invalid_client`, which is 401 (and a
    /// server fault, 503).
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidClient => 401,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

server_pub! {
    /// Why a requested scope cannot be granted; both are `invalid_scope`.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    pub enum ScopeError {
        #[error("scope {0:?} is not a permission (module:action)")]
        Unknown(String),
        #[error("scope asks for {0}, which the application's roles do not grant")]
        NotGranted(String),
    }
}

server_pub! {
    /// RFC 6749 §3.3: the token's scope is what was asked for, which must be a
    /// subset of what the roles grant; no `scope` at all means everything granted.
    pub fn narrow_scope(requested: Option<&str>, granted: PermissionSet) -> Result<PermissionSet, ScopeError> {
        let Some(requested) = requested.filter(|s| !s.trim().is_empty()) else {
            return Ok(granted);
        };
        let mut narrowed = PermissionSet::EMPTY;
        for token in requested.split(' ').filter(|s| !s.is_empty()) {
            let permission = token
                .parse()
                .map_err(|_| ScopeError::Unknown(token.chars().take(64).collect()))?;
            if !granted.contains(permission) {
                return Err(ScopeError::NotGranted(token.to_owned()));
            }
            narrowed.insert(permission);
        }
        Ok(narrowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permission::Permission;
    use proptest::prelude::*;

    fn granted() -> PermissionSet {
        PermissionSet::parse_scope("engage:view engage:create intake:view").unwrap()
    }

    #[test]
    fn narrowing() {
        assert_eq!(narrow_scope(None, granted()).unwrap(), granted());
        assert_eq!(narrow_scope(Some("  "), granted()).unwrap(), granted());
        assert_eq!(
            narrow_scope(Some("engage:view"), granted()).unwrap().to_scope(),
            "engage:view"
        );
        assert!(matches!(
            narrow_scope(Some("engage:delete"), granted()),
            Err(ScopeError::NotGranted(_))
        ));
        assert!(matches!(
            narrow_scope(Some("openid"), granted()),
            Err(ScopeError::Unknown(_))
        ));
    }

    #[test]
    fn error_codes_have_rfc_wire_strings_and_status() {
        assert_eq!(OAuthErrorCode::InvalidClient.as_str(), "invalid_client");
        assert_eq!(OAuthErrorCode::InvalidClient.http_status(), 401);
        assert_eq!(OAuthErrorCode::UnsupportedGrantType.http_status(), 400);
        assert_eq!(
            serde_json::to_string(&OAuthErrorCode::InvalidScope).unwrap(),
            "\"invalid_scope\""
        );
        assert_eq!(
            OAuthErrorCode::parse("invalid_grant"),
            Some(OAuthErrorCode::InvalidGrant)
        );
        assert_eq!(ACCESS_TOKEN_LIFETIME_SECS, 3600);
    }

    proptest! {
        #[test]
        fn a_narrowed_scope_is_always_a_subset(granted_bits in 0u32..(1 << 24), asked in proptest::collection::vec(0usize..24, 0..10)) {
            let all: Vec<Permission> = Permission::all().collect();
            let granted: PermissionSet = all.iter().copied().filter(|p| {
                let i = all.iter().position(|q| q == p).unwrap();
                granted_bits & (1 << i) != 0
            }).collect();
            let requested = asked.iter().map(|&i| all[i].to_string()).collect::<Vec<_>>().join(" ");
            if let Ok(narrowed) = narrow_scope(Some(&requested), granted) {
                prop_assert!(narrowed.is_subset(granted));
            }
        }

        #[test]
        fn narrowing_never_panics(requested in ".{0,200}") {
            let _ = narrow_scope(Some(&requested), granted());
        }
    }
}
