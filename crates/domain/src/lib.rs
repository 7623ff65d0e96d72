//! The rules of Casebook's external applications, and nothing else.
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

pub mod account;
pub mod application;
pub mod client_assertion;
pub mod client_auth;
pub mod client_keys;
pub mod credentials;
pub mod email;
pub mod federated;
pub mod form;
pub mod grant;
pub mod jws;
pub mod lockout;
pub mod notice;
pub mod oauth;
pub mod pagination;
pub mod permission;
pub mod quota;
pub mod records;
pub mod role;
pub mod secret_format;
pub mod secret_lifecycle;
pub mod shape;
pub mod signing;
pub mod sources;
pub mod text;
pub mod time;
pub mod token_request;
pub mod user;
pub mod validation;
pub mod wire;

pub use account::{AccountKind, AccountRef};
pub use application::{ApplicationChange, ApplicationFacts, ApplicationForm, NewApplication};
pub use credentials::{ClientId, ClientSecret};
pub use email::Email;
pub use grant::{GrantChange, MissingPermissions, authorize_change};
pub use oauth::{ACCESS_TOKEN_LIFETIME_SECS, OAuthErrorCode, ScopeError, narrow_scope};
pub use permission::{Action, Module, Permission, PermissionSet};
pub use role::{RoleForm, RoleName, SeedRole, seeded_roles};
pub use signing::SigningAlgorithm;
pub use time::Timestamp;
pub use validation::{ErrorCode, FieldError, ValidationErrors};
