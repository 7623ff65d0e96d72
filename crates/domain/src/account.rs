//! Accounts: every principal that can hold an address, sign records and be granted roles.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Users and applications share one address space: each application is an
/// account of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AccountKind {
    User,
    Application,
    /// Someone at the command line (`casebook keys rotate`, …): an actor in
    /// the audit trail, never an account that holds roles.
    Operator,
    /// A kind a newer server sends that this build does not know: read, so
    /// that a client keeps working, and never sent.
    #[serde(other)]
    Unknown,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Application => "application",
            Self::Operator => "operator",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "user" => Some(Self::User),
            "application" => Some(Self::Application),
            "operator" => Some(Self::Operator),
            _ => None,
        }
    }

    /// The one of `user` and `application` this kind calls for, or `None`
    /// for a kind that is no account (an operator, an unknown kind). The
    /// enum is `#[non_exhaustive]` for readers of a newer server; code that
    /// must decide for every kind (the server's storage) decides through
    /// this exhaustive match, which a new kind stops compiling.
    pub fn pick<T>(self, user: T, application: T) -> Option<T> {
        match self {
            Self::User => Some(user),
            Self::Application => Some(application),
            Self::Operator | Self::Unknown => None,
        }
    }
}

impl fmt::Display for AccountKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

server_pub! {
    /// Which account: kind and id.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct AccountRef {
        pub kind: AccountKind,
        pub id: String,
    }
}

impl AccountRef {
    pub fn new(kind: AccountKind, id: impl Into<String>) -> Self {
        Self { kind, id: id.into() }
    }
}

server_pub! {
    /// The email rule, decided here for every caller: an address is available to
    /// `claimant` when nobody holds it, or when the claimant already does (an
    /// account keeping its own address on a change).
    pub fn email_available(holder: Option<&AccountRef>, claimant: Option<&AccountRef>) -> bool {
        match (holder, claimant) {
            (None, _) => true,
            (Some(holder), Some(claimant)) => holder == claimant,
            (Some(_), None) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_from_a_newer_server_is_read_as_unknown() {
        let kind: AccountKind = serde_json::from_str("\"webhook\"").expect("an unknown kind still reads");
        assert_eq!(kind, AccountKind::Unknown);
        let operator: AccountKind = serde_json::from_str("\"operator\"").expect("operator");
        assert_eq!(operator, AccountKind::Operator);
        assert_eq!(AccountKind::Operator.pick(1, 2), None);
        assert_eq!(AccountKind::Application.pick(1, 2), Some(2));
    }

    #[test]
    fn an_address_is_free_only_when_unheld_or_held_by_the_claimant() {
        let app = AccountRef::new(AccountKind::Application, "a1");
        let user = AccountRef::new(AccountKind::User, "a1");
        assert!(email_available(None, None));
        assert!(email_available(None, Some(&app)));
        assert!(email_available(Some(&app), Some(&app)));
        assert!(!email_available(Some(&app), None));
        // Same id, other kind: still someone else's account.
        assert!(!email_available(Some(&user), Some(&app)));
    }
}
