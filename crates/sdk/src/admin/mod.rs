//! The admin API under `/admin/v1`: roles, users, external applications and
//! the audit trail. The caller is a person signed in with
//! [`Client::sign_in`], or an application whose roles grant the `admin:*`
//! permission each call names.

use crate::client::Client;
use crate::error::Error;
use crate::model::{Application, AuditEvent, RevealedSecret, Role, User};
use crate::pagination::List;
use casebook_domain::role::{RoleChange, RoleForm};
use casebook_domain::user::{Password, UserChange, UserForm};
use casebook_domain::wire::{RevealRequest, RotateRequest};
use casebook_domain::{ApplicationChange, ApplicationForm, ApplicationId, RoleId, UserId};
use reqwest::Method;
use std::time::Duration;

mod federated;
mod secrets;

pub use secrets::NewClientSecret;

const ROLES: [&str; 3] = ["admin", "v1", "roles"];
const USERS: [&str; 3] = ["admin", "v1", "users"];
const APPLICATIONS: [&str; 3] = ["admin", "v1", "external-applications"];
const AUDIT: [&str; 3] = ["admin", "v1", "audit-events"];

fn with<'a>(base: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(tail).copied().collect()
}

/// `…/external-applications/{id}/{collection}/{tail…}`: an application's
/// client secrets or federated credentials.
fn application_path<'a>(id: &'a ApplicationId, collection: &'a str, tail: &[&'a str]) -> Vec<&'a str> {
    let mut path = with(&APPLICATIONS, &[id.as_str(), collection]);
    path.extend_from_slice(tail);
    path
}

impl Client {
    /// The admin API (cb Admin).
    pub fn admin(&self) -> Admin<'_> {
        Admin { client: self }
    }
}

/// The admin API; from [`Client::admin`].
#[derive(Debug, Clone, Copy)]
pub struct Admin<'a> {
    client: &'a Client,
}

impl<'a> Admin<'a> {
    /// The role catalog.
    pub fn roles(&self) -> Roles<'a> {
        Roles { client: self.client }
    }

    /// User accounts.
    pub fn users(&self) -> Users<'a> {
        Users { client: self.client }
    }

    /// Registered external applications and their credentials.
    pub fn applications(&self) -> Applications<'a> {
        Applications { client: self.client }
    }

    /// The audit trail, newest first (`admin:view`). No secret is ever in it.
    pub fn audit_events(&self) -> List<AuditEvent> {
        List::new(self.client, &AUDIT)
    }
}

/// The role catalog; from [`Admin::roles`].
#[derive(Debug, Clone, Copy)]
pub struct Roles<'a> {
    client: &'a Client,
}

impl Roles<'_> {
    /// Lists roles (`admin:view`).
    pub fn list(&self) -> List<Role> {
        List::new(self.client, &ROLES)
    }

    /// One role (`admin:view`).
    pub async fn get(&self, id: &RoleId) -> Result<Role, Error> {
        self.client
            .send(Method::GET, &with(&ROLES, &[id.as_str()]), &[], None::<&()>)
            .await
    }

    /// Adds a role (`admin:create`), after checking the form against the server's rules.
    pub async fn create(&self, form: &RoleForm) -> Result<Role, Error> {
        form.validate()?;
        self.client.send(Method::POST, &ROLES, &[], Some(form)).await
    }

    /// Changes a role's name or permissions (`admin:edit`), checked first.
    /// A permission taken away stops working on live tokens within 5 seconds;
    /// one added reaches tokens issued from then on.
    pub async fn change(&self, id: &RoleId, change: &RoleChange) -> Result<Role, Error> {
        change.validate()?;
        self.client
            .send(Method::PATCH, &with(&ROLES, &[id.as_str()]), &[], Some(change))
            .await
    }

    /// Removes a role no account holds (`admin:delete`); one still assigned is a 409.
    pub async fn remove(&self, id: &RoleId) -> Result<(), Error> {
        self.client
            .send_empty(Method::DELETE, &with(&ROLES, &[id.as_str()]), None::<&()>)
            .await
    }
}

/// User accounts; from [`Admin::users`].
#[derive(Debug, Clone, Copy)]
pub struct Users<'a> {
    client: &'a Client,
}

impl Users<'_> {
    /// Lists users (`admin:view`).
    pub fn list(&self) -> List<User> {
        List::new(self.client, &USERS)
    }

    /// One user (`admin:view`).
    pub async fn get(&self, id: &UserId) -> Result<User, Error> {
        self.client
            .send(Method::GET, &with(&USERS, &[id.as_str()]), &[], None::<&()>)
            .await
    }

    /// Creates a user (`admin:create`). Every rule that needs no storage
    /// (the address's form, the name, the password's strength, duplicate
    /// roles) is checked first: a bad form fails with [`Error::Validation`]
    /// unsent. Whether the address is free and the roles exist only the
    /// server knows: those come back as a 422 [`Error::Api`].
    pub async fn create(&self, form: &UserForm) -> Result<User, Error> {
        form.validate_offline()?;
        self.client.send(Method::POST, &USERS, &[], Some(form)).await
    }

    /// Changes a user (`admin:edit`), checked first like [`create`](Self::create).
    pub async fn change(&self, id: &UserId, change: &UserChange) -> Result<User, Error> {
        change.validate_offline()?;
        self.client
            .send(Method::PATCH, &with(&USERS, &[id.as_str()]), &[], Some(change))
            .await
    }

    /// Removes a user (`admin:delete`); nobody can remove their own account.
    pub async fn remove(&self, id: &UserId) -> Result<(), Error> {
        self.client
            .send_empty(Method::DELETE, &with(&USERS, &[id.as_str()]), None::<&()>)
            .await
    }
}

/// Registered external applications; from [`Admin::applications`].
#[derive(Debug, Clone, Copy)]
pub struct Applications<'a> {
    client: &'a Client,
}

impl List<Application> {
    /// Only applications whose name contains this text, ignoring case.
    pub fn name_contains(self, text: impl Into<String>) -> Self {
        self.filter("name", text)
    }

    /// Only applications whose email contains this text, ignoring case.
    pub fn email_contains(self, text: impl Into<String>) -> Self {
        self.filter("email", text)
    }

    /// Only the application with this Client ID.
    pub fn client_id(self, client_id: impl Into<String>) -> Self {
        self.filter("client_id", client_id)
    }
}

impl List<AuditEvent> {
    /// Only this action (`application.disabled`), or a family of them
    /// ending in a dot (`application.`).
    pub fn action(self, action: impl Into<String>) -> Self {
        self.filter("action", action)
    }

    /// Only events about this record (an application, user or role id).
    pub fn target_id(self, id: impl Into<String>) -> Self {
        self.filter("target_id", id)
    }

    /// Only events by this account.
    pub fn actor_id(self, id: impl Into<String>) -> Self {
        self.filter("actor_id", id)
    }

    /// Only events at or after this instant.
    pub fn since(self, at: casebook_domain::Timestamp) -> Self {
        self.filter("since", at.to_rfc3339())
    }

    /// Only events before this instant.
    pub fn until(self, at: casebook_domain::Timestamp) -> Self {
        self.filter("until", at.to_rfc3339())
    }

    /// Text in the target's or the actor's name, ignoring case, or a
    /// Client ID.
    pub fn search(self, text: impl Into<String>) -> Self {
        self.filter("search", text)
    }
}

impl Applications<'_> {
    /// Lists applications (`admin:view`); filter with
    /// [`name_contains`](List::name_contains) and [`email_contains`](List::email_contains).
    pub fn list(&self) -> List<Application> {
        List::new(self.client, &APPLICATIONS)
    }

    /// The expanded view of one application (`admin:view`): Client ID,
    /// description, application URL, Callback URL, roles, status.
    pub async fn get(&self, id: &ApplicationId) -> Result<Application, Error> {
        self.client
            .send(Method::GET, &with(&APPLICATIONS, &[id.as_str()]), &[], None::<&()>)
            .await
    }

    /// Registers an application (`admin:create`): the "New Application" form.
    ///
    /// Every rule that needs no storage is checked first, with the server's
    /// own code, so a bad form fails with [`Error::Validation`] carrying the
    /// same field errors the server would give, and is not sent. Whether the
    /// roles exist and the address is free only the server knows: those come
    /// back as a 422 [`Error::Api`] with field errors (`unknown_role`,
    /// `email_in_use`). The answer never holds the secret: see
    /// [`reveal_secret`](Self::reveal_secret).
    ///
    /// `allowed_sources` (1 to 50 CIDRs) and `token_quota_per_hour` (1 to
    /// 1,000,000) are checked here too, by the rules the server runs.
    pub async fn register(&self, form: &ApplicationForm) -> Result<Application, Error> {
        form.validate_offline()?;
        self.client.send(Method::POST, &APPLICATIONS, &[], Some(form)).await
    }

    /// Changes the fields set in `change` (`admin:edit`); `enabled: Some(false)`
    /// refuses the application's tokens everywhere from then on, and
    /// `allowed_sources: Some(None)` or `token_quota_per_hour: Some(None)`
    /// removes a limit.
    ///
    /// Like [`register`](Self::register), every rule that needs nothing
    /// from the server is checked first (a bad CIDR, a quota out of range,
    /// a name too long): such a change fails with [`Error::Validation`] and
    /// is not sent.
    pub async fn change(&self, id: &ApplicationId, change: &ApplicationChange) -> Result<Application, Error> {
        change.validate_offline()?;
        self.client
            .send(Method::PATCH, &with(&APPLICATIONS, &[id.as_str()]), &[], Some(change))
            .await
    }

    /// Removes an application (`admin:delete`); its tokens are refused from then on.
    pub async fn remove(&self, id: &ApplicationId) -> Result<(), Error> {
        self.client
            .send_empty(Method::DELETE, &with(&APPLICATIONS, &[id.as_str()]), None::<&()>)
            .await
    }

    /// Shows the client secret. Only a signed-in person can, re-entering
    /// their own `password`: a wrong one is a 403 and counts toward a lockout (429).
    pub async fn reveal_secret(&self, id: &ApplicationId, password: &Password) -> Result<RevealedSecret, Error> {
        let body = RevealRequest {
            password: password.clone(),
            totp_code: None,
            recovery_code: None,
        };
        self.client
            .send(
                Method::POST,
                &with(&APPLICATIONS, &[id.as_str(), "client-secret", "reveal"]),
                &[],
                Some(&body),
            )
            .await
    }

    /// Issues a new client secret. The old one keeps working for
    /// `grace_period` (whole seconds, up to 7 days; zero stops it at once):
    /// a longer one fails with [`Error::Validation`], unsent. Like
    /// [`reveal_secret`](Self::reveal_secret), only for a signed-in person.
    pub async fn rotate_secret(
        &self,
        id: &ApplicationId,
        password: &Password,
        grace_period: Duration,
    ) -> Result<RevealedSecret, Error> {
        // Past i64 is past the week either way: the rule refuses both.
        let seconds = i64::try_from(grace_period.as_secs()).unwrap_or(i64::MAX);
        casebook_domain::credentials::grace_period(Some(seconds)).map_err(|e| Error::Validation(e.into()))?;
        let body = RotateRequest {
            password: password.clone(),
            grace_period_seconds: Some(seconds),
            totp_code: None,
            recovery_code: None,
        };
        self.client
            .send(
                Method::POST,
                &with(&APPLICATIONS, &[id.as_str(), "client-secret", "rotate"]),
                &[],
                Some(&body),
            )
            .await
    }
}
