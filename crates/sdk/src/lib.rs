//! The Rust client for Casebook's APIs.
//!
//! An admin registers your software in cb Admin → Global → External
//! applications and gives you three things: the **Callback URL** of the
//! Casebook install, a **Client ID** and a **Client secret**. With them a
//! [`Client`] gets OAuth 2.0 access tokens by the client credentials grant
//! (RFC 6749 §4.4), keeps them fresh, and calls the Casebook API with
//! exactly the permissions of the roles the admin assigned.
//!
//! ```no_run
//! use casebook_sdk::records::{CaseChange, CaseForm};
//! use casebook_sdk::{Client, ClientSecret, Error};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     let client = Client::builder("https://casebook.example.org")
//!         .client_credentials(
//!             "cb_0123456789abcdef0123456789abcdef",
//!             ClientSecret::from_presented(std::env::var("CASEBOOK_CLIENT_SECRET").unwrap_or_default()),
//!         )
//!         .user_agent("partner-sync/2.1")
//!         .build()?;
//!
//!     // Who am I, and what may I do?
//!     let me = client.me().await?;
//!     println!("{} may {}", me.name, me.permissions.to_scope());
//!
//!     // Open a case; the form is checked against the server's rules first.
//!     let case = client
//!         .cases()
//!         .create(&CaseForm {
//!             title: "Family of four, housing".into(),
//!             description: Some("Referred by school".into()),
//!             status: None,
//!         })
//!         .await?;
//!
//!     // Every case, page by page as they are consumed.
//!     let mut cases = client.cases().list().limit(100).items();
//!     while let Some(case) = cases.next_item().await {
//!         let case = case?;
//!         println!("{} {} (created by {})", case.id, case.title, case.created_by.name);
//!     }
//!
//!     // Errors are values to match on.
//!     let close = CaseChange { status: Some("closed".into()), ..Default::default() };
//!     match client.cases().change(&case.id, &close).await {
//!         Ok(case) => println!("closed {}", case.id),
//!         Err(Error::Api { status: 403, detail, .. }) => eprintln!("not allowed: {detail}"),
//!         Err(Error::OAuth { code, description, .. }) => {
//!             eprintln!("credentials refused ({code}): {description:?}")
//!         }
//!         Err(e) if e.is_transient() => eprintln!("Casebook is unavailable, try later: {e}"),
//!         Err(e) => return Err(e),
//!     }
//!     Ok(())
//! }
//! ```
//!
//! # Tokens
//!
//! The client asks for a token on its first call and shares it among every
//! clone and task; however many calls start at once, one token request is
//! made. The token is replaced ahead of expiry (see [`TokenSource`]), and
//! when the API refuses it (401 `invalid_token`: revoked, say) the call gets
//! a new one and is retried once. [`TokenSource`] also works on its own,
//! against any RFC 6749 server.
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
//!     .register(&ApplicationForm {
//!         name: "Partner Sync".into(),
//!         email: "sync@partner.org".into(),
//!         application_url: Some("https://partner.org".into()),
//!         roles: vec!["engage-worker".into()],
//!         description: None,
//!         ..Default::default()
//!     })
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
//! Client secrets, private keys, passwords, access and session tokens never appear in a
//! `Debug` output, a log line or an error, and authorization headers are
//! marked sensitive. Plain `http` is refused except to loopback, so a secret
//! does not cross a network unencrypted by accident; redirects are never
//! followed, so it cannot be sent anywhere else either.

#![warn(missing_docs)]

mod admin;
mod api;
mod client;
mod error;
mod key;
mod model;
mod options;
mod pagination;
mod retry;
mod token;
mod transport;

pub use admin::{Admin, Applications, NewClientSecret, Roles, Users};
pub use api::{Cases, Reports};
pub use client::{Client, ClientBuilder};
pub use error::{Cause, Error};
pub use key::{KeyKind, PrivateKey};
pub use model::{
    Actor, Application, AuditEvent, Case, ClientSecretInfo, ClientSecretValue, Me, Page, Report, RevealedSecret, Role,
    SecretState, User,
};
pub use pagination::{Items, List, Pages};
pub use retry::RetryPolicy;
pub use token::{AccessToken, ClientAuthMethod, DEFAULT_REFRESH_AHEAD, TokenSource, TokenSourceBuilder};

/// The domain crate the server runs: forms, rules and types shared by server and SDK.
pub use casebook_domain as domain;
pub use casebook_domain::client_keys::AssertionAlg;
pub use casebook_domain::records;
pub use casebook_domain::role::{RoleChange, RoleForm};
pub use casebook_domain::user::{Password, UserChange, UserForm};
pub use casebook_domain::{
    AccountKind, ApplicationChange, ApplicationForm, ClientSecret, ErrorCode, FieldError, OAuthErrorCode, Permission,
    PermissionSet, ValidationErrors,
};
