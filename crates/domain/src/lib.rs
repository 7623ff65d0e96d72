#![doc = include_str!("../README.md")]
//!
//! # Design
//!
//! This crate is pure: no I/O, no async, no HTTP, no SQL, no clock and no
//! randomness of its own. Storage answers questions ("which roles exist?",
//! "who holds this address?") and the rules here decide; the caller supplies
//! the current time and random bytes. The server and the SDK both call these
//! functions, so a partner sees exactly the error the server would give before
//! a request leaves their machine.
//!
//! Field rules are declared on the forms with `validator`'s derive; the rules
//! themselves (and their codes and wording) are ours, written as `custom`
//! functions, and facts only storage knows (existing roles, addresses in use)
//! reach them as validator's context (`form::Storage`). Every violation is
//! reported at once, each with its field and a stable code; so is a JSON
//! body's shape (a field missing, of the wrong type or unknown), checked
//! against each form's table of fields (`shape`) before serde reads it. URL
//! syntax is delegated to the `url` crate.

// Without the `server` feature the server's rules are still compiled (the
// forms' rules use parts of them) and the rest, with the re-exports that
// make it public, is unused by design; the server's build, with the
// feature, is where dead code and unused imports are looked for.
#![cfg_attr(not(feature = "server"), allow(dead_code, unused_imports))]

/// An item public with the `server` feature and crate-private without it:
/// the server's rules that live beside the partners' ones (the forms'
/// storage-aware `validate`, `NewApplication`, the seeded roles, …). The
/// item is written once; only one of the two expansions is compiled.
macro_rules! server_pub {
    ($(#[$meta:meta])* pub $($item:tt)*) => {
        #[cfg(feature = "server")]
        $(#[$meta])*
        pub $($item)*

        #[cfg(not(feature = "server"))]
        #[allow(dead_code)]
        $(#[$meta])*
        pub(crate) $($item)*
    };
}

/// What an id is as text, for the typed ids and the Client ID alike: shown,
/// compared and handed on as its string, and, since its `Hash` and `Eq` are
/// the string's, looked up in a map by `&str`. Each type has `as_str` and
/// `into_string`.
macro_rules! text_impls {
    ($($name:ty),* $(,)?) => {$(
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                self.as_str()
            }
        }

        /// So an id goes wherever a form or builder takes text.
        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.into_string()
            }
        }

        impl From<&$name> for String {
            fn from(id: &$name) -> Self {
                id.as_str().to_owned()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    )*};
}

mod builders;

// The modules partners use.
pub mod account;
pub mod application;
pub mod audit;
pub mod credentials;
pub mod dpop;
pub mod email;
pub mod ids;
pub mod jose;
pub mod oauth;
pub mod pagination;
pub mod password_policy;
pub mod permission;
pub mod records;
pub mod role;
pub mod tenant;
pub mod time;
pub mod usage;
pub mod user;
pub mod validation;
pub mod webhook;
pub mod wire;

/// Modules public only with the `server` feature. Without it they are still
/// compiled for the forms' rules, and what those do not use is dead code.
macro_rules! server_only {
    ($($name:ident),* $(,)?) => {$(
        server_pub! {
            pub mod $name;
        }
    )*};
}

server_only!(
    client_assertion,
    auth_method_form,
    client_auth,
    client_keys,
    federated,
    form,
    gateway,
    grant,
    jws,
    lockout,
    mfa,
    notice,
    quota,
    secret_format,
    secret_lifecycle,
    shape,
    signing,
    sources,
    text,
    token_request,
);

pub use account::AccountKind;
pub use application::{ApplicationChange, ApplicationForm};
/// The RFC 7521 `client_assertion_type` of a JWT assertion.
pub use client_assertion::ASSERTION_TYPE;
pub use client_keys::{AssertionAlg, AuthMethod};
pub use credentials::{ClientId, ClientSecret};
pub use email::Email;
pub use federated::FederatedCredentialForm;
pub use ids::{AccountId, ApplicationId, CaseId, FederatedCredentialId, ReportId, RoleId, SecretId, UserId};
pub use oauth::OAuthErrorCode;
pub use password_policy::judge_new_password;
pub use permission::{Action, Module, Permission, PermissionSet};
pub use role::{RoleChange, RoleForm};
pub use secret_format::Shape as SecretShape;
pub use time::Timestamp;
pub use user::{Password, UserChange, UserForm};
pub use validation::{ErrorCode, FieldError, ValidationErrors};

#[cfg(feature = "server")]
pub use account::AccountRef;
#[cfg(feature = "server")]
pub use application::{ApplicationFacts, NewApplication};
#[cfg(feature = "server")]
pub use grant::{GrantChange, MissingPermissions, authorize_change};
#[cfg(feature = "server")]
pub use oauth::{ACCESS_TOKEN_LIFETIME_SECS, ScopeError, narrow_scope};
#[cfg(feature = "server")]
pub use role::{RoleName, SeedRole, seeded_roles};
#[cfg(feature = "server")]
pub use signing::SigningAlgorithm;
