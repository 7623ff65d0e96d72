//! Typed ids: one type per thing an id names, so a role's id cannot be
//! passed where an application's is wanted. On the wire each is the plain
//! string the server writes; nothing about its form is promised beyond that,
//! so reading one never fails on a newer server's ids.
//!
//! The public Client ID has a promised form and its own type,
//! [`ClientId`](crate::ClientId).

use serde::{Deserialize, Serialize};

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id the server gave, e.g. one kept in a partner's own storage.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        text_impls!($name);

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&String> for $name {
            fn from(id: &String) -> Self {
                Self(id.clone())
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<&$name> for $name {
            fn from(id: &$name) -> Self {
                id.clone()
            }
        }
    )*};
}

ids! {
    /// An external application's id: what the admin API's paths take. Not
    /// its public [`ClientId`](crate::ClientId).
    ApplicationId;
    /// A role's id, e.g. `engage-worker`; what an application's or user's
    /// `roles` hold.
    RoleId;
    /// A user account's id.
    UserId;
    /// An engage case's id.
    CaseId;
    /// An intake report's id.
    ReportId;
    /// The id of one of an application's client secrets (not the secret).
    SecretId;
    /// The id of one of an application's federated credentials.
    FederatedCredentialId;
    /// The id of an account of either kind: who made a record, who holds a
    /// role, who the caller is. Its [`AccountKind`](crate::AccountKind)
    /// travels beside it; [`Actor::application_id`](crate::wire::Actor::application_id)
    /// and its kin give the typed id.
    AccountId;
}

impl From<ApplicationId> for AccountId {
    fn from(id: ApplicationId) -> Self {
        Self(id.0)
    }
}

impl From<UserId> for AccountId {
    fn from(id: UserId) -> Self {
        Self(id.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn an_id_is_a_plain_string_on_the_wire() {
        let id = RoleId::new("engage-worker");
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""engage-worker""#);
        let read: RoleId = serde_json::from_str(r#""engage-worker""#).unwrap();
        assert_eq!(read, id);
        assert_eq!(read, "engage-worker");
        assert_eq!(read.to_string(), "engage-worker");
    }

    #[test]
    fn a_map_keyed_by_ids_is_searched_by_text() {
        let map = HashMap::from([(CaseId::new("c1"), 1)]);
        assert_eq!(map.get("c1"), Some(&1));
    }

    #[test]
    fn an_application_or_user_id_names_an_account() {
        assert_eq!(AccountId::from(ApplicationId::new("a1")), AccountId::new("a1"));
        assert_eq!(AccountId::from(UserId::new("u1")).as_str(), "u1");
    }
}
