//! The admin API under `/admin/v1`: roles, users, external applications and
//! the audit trail. The caller is a person signed in with
//! [`Client::sign_in`], or an application whose roles grant the `admin:*`
//! permission each call names.

use crate::client::Client;
use crate::error::Error;
use crate::model::{Application, AuditEvent, RevealedSecret, Role, User};
use crate::pagination::List;
use crate::sign_in::Reauthentication;
use casebook_domain::role::{RoleChange, RoleForm};
use casebook_domain::user::{Password, UserChange, UserForm};
use casebook_domain::wire::{
    OneTimeCode, RecoveryCodes, RevealRequest, RotateRequest, Settings, SettingsChange, TotpConfirmation,
    TotpEnrolment, TotpEnrolmentRequest, TotpRemoval,
};
use casebook_domain::{ApplicationChange, ApplicationForm, ApplicationId, RoleId, UserId};
use reqwest::Method;
use std::time::Duration;

mod federated;
mod secrets;
mod usage;

pub use secrets::NewClientSecret;
pub use usage::{ApplicationUsage, TenantUsage, Usage, UsageBucket, UsageRefusals};

const ROLES: [&str; 3] = ["admin", "v1", "roles"];
const USERS: [&str; 3] = ["admin", "v1", "users"];
const APPLICATIONS: [&str; 3] = ["admin", "v1", "external-applications"];
const AUDIT: [&str; 3] = ["admin", "v1", "audit-events"];
const SETTINGS: [&str; 3] = ["admin", "v1", "settings"];
const MY_TOTP: [&str; 5] = ["admin", "v1", "users", "me", "totp"];

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

    /// The tenant's settings: whether administrators must have a second factor.
    pub fn settings(&self) -> TenantSettings<'a> {
        TenantSettings { client: self.client }
    }

    /// The signed-in person's own authenticator app: enrol, confirm, remove.
    pub fn totp(&self) -> Totp<'a> {
        Totp { client: self.client }
    }
}

/// The tenant's settings; from [`Admin::settings`].
#[derive(Debug, Clone, Copy)]
pub struct TenantSettings<'a> {
    client: &'a Client,
}

impl TenantSettings<'_> {
    /// The settings (`admin:view`).
    pub async fn get(&self) -> Result<Settings, Error> {
        self.client.send(Method::GET, &SETTINGS, &[], None::<&()>).await
    }

    /// Changes the fields set in `change` (`admin:edit`); the others stay.
    ///
    /// With `require_mfa_for_admins`, everyone holding an `admin:`
    /// permission must enrol a second factor before doing anything else:
    /// until they do, every other call of theirs is a 403 whose
    /// [`Error::second_factor_enrolment_required`] is true. A person who
    /// has no second factor themselves cannot require one of others (409).
    pub async fn change(&self, change: &SettingsChange) -> Result<Settings, Error> {
        self.client.send(Method::PATCH, &SETTINGS, &[], Some(change)).await
    }

    /// Requires a second factor of administrators, or stops requiring it:
    /// [`change`](Self::change) with that one field.
    pub async fn require_mfa_for_admins(&self, required: bool) -> Result<Settings, Error> {
        self.change(&SettingsChange {
            require_mfa_for_admins: Some(required),
        })
        .await
    }
}

/// The signed-in person's authenticator app (TOTP, RFC 6238); from
/// [`Admin::totp`]. Only a person signed in with [`Client::sign_in`] has one.
///
/// Enrolling takes two calls: [`begin`](Self::begin) answers a secret to add
/// to the app (as text, an `otpauth://` URI, or a QR code), and
/// [`confirm`](Self::confirm) with the code the app then shows turns it on
/// and answers ten recovery codes, shown this once. From then on signing
/// in, and revealing, rotating or adding a client secret, take a code too
/// (see [`SecondFactor`](crate::SecondFactor)).
///
/// ```no_run
/// # async fn run(admin: casebook_sdk::Client, code_from_the_app: impl Fn(&str) -> String) -> Result<(), casebook_sdk::Error> {
/// use casebook_sdk::Password;
///
/// let totp = admin.admin().totp();
/// let enrolment = totp.begin(&Password::new("correct horse battery staple")).await?;
/// // Show enrolment.qr_svg, or enrolment.secret to type into the app.
/// let recovery = totp.confirm(&code_from_the_app(&enrolment.secret)).await?;
/// // Keep recovery.recovery_codes somewhere safe: each signs in once without the app.
/// # let _ = recovery; Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Totp<'a> {
    client: &'a Client,
}

impl Totp<'_> {
    /// Begins enrolling an app (`POST /admin/v1/users/me/totp`), re-entering
    /// the person's `password`: a new secret, which works once
    /// [`confirm`](Self::confirm)ed within 15 minutes. A wrong password is a
    /// 403; an app already enrolled a 409 (remove it first). The answer's
    /// `Debug` shows nothing of the secret.
    pub async fn begin(&self, password: &Password) -> Result<TotpEnrolment, Error> {
        self.begin_with(&Reauthentication::new(password.clone())).await
    }

    /// [`begin`](Self::begin) for a person who has a second factor already
    /// (a passkey, or a TOTP app being replaced after removal): adding a
    /// factor asks for one they hold, so that a stolen session and password
    /// cannot enrol an attacker's.
    pub async fn begin_with(&self, again: &Reauthentication) -> Result<TotpEnrolment, Error> {
        let (totp_code, recovery_code) = again.codes();
        let body = TotpEnrolmentRequest {
            password: again.password().clone(),
            totp_code,
            recovery_code,
            passkey: None,
        };
        self.client.send(Method::POST, &MY_TOTP, &[], Some(&body)).await
    }

    /// Confirms the enrolment with the code the app shows
    /// (`POST /admin/v1/users/me/totp/confirm`) and answers the ten
    /// recovery codes, shown this once. A code that is not the app's
    /// current one is a 422 [`Error::Api`] on the field `code`; nothing to
    /// confirm (none begun, or begun over 15 minutes ago) a 409.
    pub async fn confirm(&self, code: &str) -> Result<RecoveryCodes, Error> {
        let body = TotpConfirmation {
            code: OneTimeCode::new(code),
        };
        let path = with(&MY_TOTP, &["confirm"]);
        self.client.send(Method::POST, &path, &[], Some(&body)).await
    }

    /// Removes the app and its recovery codes (`DELETE /admin/v1/users/me/totp`):
    /// the password and a code from the app or a recovery code. A wrong one
    /// is a 403; while the tenant requires a second factor of this person,
    /// a 409.
    pub async fn remove(&self, again: &Reauthentication) -> Result<(), Error> {
        let (totp_code, recovery_code) = again.codes();
        let body = TotpRemoval {
            password: again.password().clone(),
            totp_code,
            recovery_code,
            passkey: None,
        };
        self.client.send_empty(Method::DELETE, &MY_TOTP, Some(&body)).await
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
    ///
    /// A form without a password ([`UserForm::invitation`]) invites the
    /// person: they get an email with a link (48 hours) to choose one, and
    /// the user's `invitation_pending` is true until they have.
    pub async fn create(&self, form: &UserForm) -> Result<User, Error> {
        form.validate_offline()?;
        self.client.send(Method::POST, &USERS, &[], Some(form)).await
    }

    /// Changes a user (`admin:edit`), checked first like [`create`](Self::create).
    ///
    /// `UserChange::new().enabled(false)` disables the person: they cannot
    /// sign in, and their sessions end at once; `enabled(true)` lets them
    /// sign in again. Nobody disables themselves (409).
    ///
    /// ```no_run
    /// # async fn run(admin: casebook_sdk::Client, id: casebook_sdk::UserId) -> Result<(), casebook_sdk::Error> {
    /// use casebook_sdk::UserChange;
    ///
    /// let user = admin.admin().users().change(&id, &UserChange::new().enabled(false)).await?;
    /// assert!(!user.enabled);
    /// # Ok(()) }
    /// ```
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
    /// Someone with a second factor needs a code too: see
    /// [`reveal_secret_with`](Self::reveal_secret_with).
    pub async fn reveal_secret(&self, id: &ApplicationId, password: &Password) -> Result<RevealedSecret, Error> {
        self.reveal_secret_with(id, &Reauthentication::from(password)).await
    }

    /// [`reveal_secret`](Self::reveal_secret) with the password and, for a
    /// person with a second factor, a code. Enrolled, a call without a code
    /// is a 403 that costs no attempt; a wrong or reused code is a 403 that
    /// counts toward the lockout.
    pub async fn reveal_secret_with(
        &self,
        id: &ApplicationId,
        again: &Reauthentication,
    ) -> Result<RevealedSecret, Error> {
        let (totp_code, recovery_code) = again.codes();
        let body = RevealRequest {
            password: again.password().clone(),
            totp_code,
            recovery_code,
            passkey: None,
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
    /// [`reveal_secret`](Self::reveal_secret), only for a signed-in person;
    /// with a second factor, use [`rotate_secret_with`](Self::rotate_secret_with).
    pub async fn rotate_secret(
        &self,
        id: &ApplicationId,
        password: &Password,
        grace_period: Duration,
    ) -> Result<RevealedSecret, Error> {
        self.rotate_secret_with(id, &Reauthentication::from(password), grace_period)
            .await
    }

    /// [`rotate_secret`](Self::rotate_secret) with the password and, for a
    /// person with a second factor, a code.
    pub async fn rotate_secret_with(
        &self,
        id: &ApplicationId,
        again: &Reauthentication,
        grace_period: Duration,
    ) -> Result<RevealedSecret, Error> {
        // Past i64 is past the week either way: the rule refuses both.
        let seconds = i64::try_from(grace_period.as_secs()).unwrap_or(i64::MAX);
        casebook_domain::credentials::grace_period(Some(seconds)).map_err(|e| Error::Validation(e.into()))?;
        let (totp_code, recovery_code) = again.codes();
        let body = RotateRequest {
            password: again.password().clone(),
            grace_period_seconds: Some(seconds),
            totp_code,
            recovery_code,
            passkey: None,
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
