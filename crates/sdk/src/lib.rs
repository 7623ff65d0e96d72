#![doc = include_str!("../README.md")]
//!
//! # Tokens
//!
//! The client asks for a token on its first call and shares it among every
//! clone and task; however many calls start at once, one token request is
//! made. The token is replaced ahead of expiry by a background task while
//! callers keep using the current one (see [`TokenSource`]), and when the
//! API refuses it (401 `invalid_token`: revoked, say) the call gets a new
//! one and is retried once. [`TokenSource`] also works on its own, against
//! any RFC 6749 server, and one source can serve several clients
//! ([`ClientBuilder::token_source`]).
//!
//! # Runtimes
//!
//! The async API runs on [Tokio](https://tokio.rs): call it under
//! `#[tokio::main]` or from a Tokio task. Called from another executor or
//! outside any runtime, a call returns [`Error::Runtime`] rather than
//! panicking. Code that is not async uses the blocking client of the
//! `blocking` feature (`casebook_sdk::blocking`), which owns a small runtime
//! of its own.
//!
//! # Your own HTTP stack
//!
//! [`ClientBuilder::http_client`] and [`TokenSourceBuilder::http_client`]
//! take a `reqwest::Client` you built (proxies, root certificates,
//! connection limits, default headers), re-exported as
//! [`reqwest`] so the versions match. Per call,
//! [`Client::with_options`] sets a timeout, a retry policy or headers, and
//! [`Client::call`] returns an answer's status and headers with its body.
//!
//! # Feature flags
//!
//! - `blocking`: the blocking client, `casebook_sdk::blocking`.
//! - `test-util`: helpers for your own tests, `casebook_sdk::test_util`: a
//!   well-formed fake client secret and a local token server.
//!
//! # Without a shared secret
//!
//! An application registered for `private_key_jwt` holds a private key
//! instead of a secret, and signs a short-lived assertion for every token
//! request ([`ClientBuilder::private_key_jwt`], [`PrivateKey`]; register
//! [`PrivateKey::public_jwk`]). A workload with a federated credential
//! trades a token its platform gives it, re-read from its file for every
//! token request ([`ClientBuilder::federated_token_file`]):
//!
//! ```no_run
//! # fn run() -> Result<(), casebook_sdk::Error> {
//! use casebook_sdk::{Client, PrivateKey};
//!
//! let pem = std::fs::read_to_string("partner-sync.key").unwrap_or_default();
//! let keyed = Client::builder("https://casebook.example.org")
//!     .private_key_jwt("cb_0123456789abcdef0123456789abcdef", PrivateKey::from_pem(&pem, "sync-2025")?)
//!     .build()?;
//! let workload = Client::builder("https://casebook.example.org")
//!     .federated_token_file("cb_0123456789abcdef0123456789abcdef", "/var/run/secrets/casebook/token")
//!     .build()?;
//! # let _ = (keyed, workload); Ok(()) }
//! ```
//!
//! # Administration
//!
//! The admin API is under [`Client::admin`]. A person signs in with
//! [`Client::sign_in`]; only they can reveal or rotate a secret:
//!
//! ```no_run
//! # async fn run() -> Result<(), casebook_sdk::Error> {
//! use casebook_sdk::{ApplicationForm, Client, Password};
//! use std::time::Duration;
//!
//! let admin = Client::builder("https://casebook.example.org")
//!     .build()?
//!     .sign_in("admin@agency.org", &Password::new("correct horse battery staple"))
//!     .await?;
//! let app = admin
//!     .admin()
//!     .applications()
//!     .register(
//!         &ApplicationForm::new("Partner Sync", "sync@partner.org")
//!             .application_url("https://partner.org")
//!             .roles(["engage-worker"]),
//!     )
//!     .await?;
//! let password = Password::new("correct horse battery staple");
//! let secret = admin.admin().applications().reveal_secret(&app.id, &password).await?;
//! let rotated = admin
//!     .admin()
//!     .applications()
//!     .rotate_secret(&app.id, &password, Duration::from_secs(3600))
//!     .await?;
//! admin.sign_out().await?;
//! # let _ = (secret, rotated); Ok(()) }
//! ```
//!
//! # Signing in strongly
//!
//! A person with a second factor (an authenticator app, with recovery
//! codes) signs in in two steps: the password alone is answered with
//! [`Error::SecondFactorRequired`], whose [`SecondStep`] finishes with a
//! [`SecondFactor`] within 5 minutes. [`Client::sign_in_with`] sends both
//! at once. Revealing, rotating and adding a secret then take a code beside
//! the password, given as a [`Reauthentication`] to the `*_with` calls; a
//! TOTP code is accepted once, so a second act takes the app's next code
//! (or a recovery code). No code or token shows in a `Debug` output.
//!
//! ```no_run
//! # async fn run(code_from_the_app: impl Fn() -> String, app: casebook_sdk::ApplicationId) -> Result<(), casebook_sdk::Error> {
//! use casebook_sdk::{Client, Error, Password, Reauthentication, SecondFactor};
//!
//! let client = Client::builder("https://casebook.example.org").build()?;
//! let password = Password::new("correct horse battery staple");
//! let admin = match client.sign_in("admin@agency.org", &password).await {
//!     Ok(admin) => admin,
//!     Err(Error::SecondFactorRequired(step)) => {
//!         step.complete(&SecondFactor::totp(code_from_the_app())).await?
//!     }
//!     Err(other) => return Err(other),
//! };
//! // Thirty seconds on, the app shows a new code.
//! let again = Reauthentication::new(password).second_factor(SecondFactor::totp(code_from_the_app()));
//! let secret = admin.admin().applications().reveal_secret_with(&app, &again).await?;
//! # let _ = secret; Ok(()) }
//! ```
//!
//! The person enrols with [`Admin::totp`] ([`Totp::begin`], then
//! [`Totp::confirm`] with the app's first code, which answers the recovery
//! codes). The tenant may require a second factor of everyone holding an
//! `admin:` permission ([`Admin::settings`],
//! [`TenantSettings::require_mfa_for_admins`]); until such a person enrols,
//! their other calls are refused with
//! [`Error::second_factor_enrolment_required`]. A user created without a
//! password ([`UserForm::invitation`]) is invited by email to choose one; a
//! person who forgot theirs asks [`Client::request_password_reset`], and
//! either link's token goes to [`Client::set_password`] (or the console's
//! page the link opens). `UserChange::new().enabled(false)` disables a
//! person: no sign-in, and their sessions end.
//!
//! # Ids
//!
//! Ids are typed ([`ids`]): [`Cases::get`] takes a [`CaseId`], the admin
//! API's application calls an [`ApplicationId`], and the answers carry them
//! typed. An id kept as text elsewhere becomes one with `new` or `From`, and
//! a role's id goes straight into a form's roles:
//!
//! ```no_run
//! # async fn run(admin: casebook_sdk::Client, stored: String) -> Result<(), casebook_sdk::Error> {
//! use casebook_sdk::{ApplicationChange, ApplicationId};
//!
//! let apps = admin.admin().applications();
//! let role = admin.admin().roles().list().all().await?.remove(0);
//! let app = apps.get(&ApplicationId::new(stored)).await?;
//! apps.change(&app.id, &ApplicationChange::new().roles([&role.id])).await?;
//! # Ok(()) }
//! ```
//!
//! Passing one kind of id where another is wanted does not compile:
//!
//! ```compile_fail,E0308
//! # async fn run(admin: casebook_sdk::Client, role: casebook_sdk::Role) -> Result<(), casebook_sdk::Error> {
//! admin.admin().applications().get(&role.id).await?;
//! # Ok(()) }
//! ```
//!
//! and neither does giving a user an application's id for a role:
//!
//! ```compile_fail,E0277
//! # fn form(app: casebook_sdk::Application) -> casebook_sdk::UserForm {
//! use casebook_sdk::{Password, UserForm};
//! UserForm::new("jo@agency.org", "Jo", Password::new("a long passphrase")).roles([&app.id])
//! # }
//! ```
//!
//! # Errors
//!
//! Every call returns [`Error`]: the OAuth error code, the API's problem
//! with its field errors, the field errors found before sending (the SDK
//! runs the server's own validation of forms, so a partner sees the same
//! error offline), a timeout, or a transport failure. Transient failures
//! are retried per the [`RetryPolicy`] before they are returned.
//!
//! # Secrets
//!
//! Client secrets, private keys, passwords, second-factor codes, access,
//! session and sign-in tokens never appear in a `Debug` output, a log line or an error, and authorization headers are
//! marked sensitive. Plain `http` is refused except to loopback, so a secret
//! does not cross a network unencrypted by accident; redirects are never
//! followed, so it cannot be sent anywhere else either.

#![warn(missing_docs)]
// `Error::Api` carries the server's whole problem (type, detail, every field
// error, the missing permissions and required scope) so that callers match
// on it directly; boxing it would cost every caller a deref in each match
// to save bytes on the failure path only.
#![allow(clippy::result_large_err)]

mod admin;
mod api;
#[cfg(feature = "blocking")]
pub mod blocking;
mod call;
mod client;
mod dpop;
mod error;
mod key;
mod key_kind;
mod model;
mod options;
mod pagination;
mod retry;
mod sign_in;
#[cfg(any(test, feature = "test-util"))]
pub mod test_util;
mod token;
mod transport;

pub use admin::{
    Admin, ApplicationUsage, Applications, NewClientSecret, Roles, TenantSettings, TenantUsage, Totp, Usage,
    UsageBucket, UsageRefusals, Users,
};
pub use api::{Cases, Reports};
pub use call::{RequestOptions, Response};
pub use client::{Client, ClientBuilder};
pub use dpop::DpopKey;
pub use error::{Cause, Error, SecondStep};
pub use key::{KeyKind, PrivateKey};
pub use model::{
    Actor, Application, AuditEvent, AuthMethod, Case, ClientSecretInfo, ClientSecretValue, Me, OneTimeCode, Page,
    RecoveryCodes, Report, RevealedSecret, Role, SecretState, Settings, SettingsChange, TotpEnrolment, User,
};
pub use options::{ClientAuthMethod, DEFAULT_REFRESH_AHEAD};
pub use pagination::{Items, List, Pages};
pub use retry::RetryPolicy;
pub use sign_in::{Reauthentication, SecondFactor};
pub use token::{AccessToken, TokenSource, TokenSourceBuilder};

/// The HTTP library underneath, for [`ClientBuilder::http_client`] and
/// [`Client::call`]: build your `reqwest::Client` from this one, and the
/// versions always match.
pub use reqwest;
pub use reqwest::Method;

pub use casebook_domain::wire::FederatedCredential;
pub use casebook_domain::{
    AccountKind, Action, ApplicationChange, ApplicationForm, AssertionAlg, ClientSecret, ErrorCode,
    FederatedCredentialForm, FieldError, Module, OAuthErrorCode, Password, Permission, PermissionSet, RoleChange,
    RoleForm, Timestamp, UserChange, UserForm, ValidationErrors,
};

/// Typed ids: each call takes the id of what it names, so a role's id cannot
/// reach a call that wants an application's. Every answer carries them typed
/// (`Application::id` is an [`ApplicationId`]), and an id
/// kept as text becomes one with `From`: `ApplicationId::from(stored)`.
pub mod ids {
    pub use casebook_domain::ClientId;
    pub use casebook_domain::ids::{
        AccountId, ApplicationId, CaseId, FederatedCredentialId, ReportId, RoleId, SecretId, UserId,
    };
}
pub use ids::{AccountId, ApplicationId, CaseId, ClientId, FederatedCredentialId, ReportId, RoleId, SecretId, UserId};

/// Cases and reports: the forms that create and change them, and a case's status.
pub mod records {
    pub use casebook_domain::records::{CaseChange, CaseForm, CaseStatus, ReportChange, ReportForm};
}
