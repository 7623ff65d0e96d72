//! Constructors and setters for the forms, so that code outside this crate
//! builds them without naming every field: the forms are
//! `#[non_exhaustive]`, and a field added in a later version breaks nobody.
//! Each setter takes the typed value where there is one (a [`CaseStatus`],
//! an [`AuthMethod`], a [`Permission`]) and writes the wire form the server
//! reads; the forms are still checked by their rules before anything is sent.

use crate::application::{ApplicationChange, ApplicationForm};
use crate::client_keys::AuthMethod;
use crate::ids::RoleId;
use crate::permission::Permission;
use crate::records::{CaseChange, CaseForm, CaseStatus, ReportChange, ReportForm};
use crate::role::{RoleChange, RoleForm};
use crate::user::{Password, UserChange, UserForm};

fn strings<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

/// Role ids as the wire carries them. Taking `Into<RoleId>` rather than text
/// lets a role's id in, as text or typed, and keeps an application's out.
fn role_ids<R: Into<RoleId>>(roles: impl IntoIterator<Item = R>) -> Vec<String> {
    roles.into_iter().map(|r| r.into().into_string()).collect()
}

impl ApplicationForm {
    /// A registration with the two required fields: the application's name
    /// and the address alerts about it go to. Add roles with
    /// [`roles`](Self::roles): without one it may do nothing.
    pub fn new(name: impl Into<String>, email: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            email: email.into(),
            ..Self::default()
        }
    }

    /// The partner's URL.
    pub fn application_url(mut self, url: impl Into<String>) -> Self {
        self.application_url = Some(url.into());
        self
    }

    /// The role ids the application holds, e.g. `engage-worker`.
    pub fn roles<R: Into<RoleId>>(mut self, roles: impl IntoIterator<Item = R>) -> Self {
        self.roles = role_ids(roles);
        self
    }

    /// Free text about the integration.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// The networks (CIDRs, 1 to 50) its tokens may be asked for and used from.
    pub fn allowed_sources<S: Into<String>>(mut self, cidrs: impl IntoIterator<Item = S>) -> Self {
        self.allowed_sources = Some(strings(cidrs));
        self
    }

    /// The most tokens it may get in any sliding hour (1 to 1,000,000).
    pub fn token_quota_per_hour(mut self, quota: u32) -> Self {
        self.token_quota_per_hour = Some(i64::from(quota));
        self
    }

    /// Whether its tokens must be DPoP-bound (RFC 9449); bearer tokens unless set.
    pub fn dpop_bound_access_tokens(mut self, required: bool) -> Self {
        self.dpop_bound_access_tokens = Some(required);
        self
    }

    /// How it authenticates at the token endpoint; a client secret unless set.
    pub fn auth_method(mut self, method: AuthMethod) -> Self {
        self.token_endpoint_auth_method = Some(method.as_str().to_owned());
        self
    }

    /// Its public keys, inline, for `private_key_jwt`: a JWK Set.
    pub fn jwks(mut self, jwks: serde_json::Value) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// Where its public keys are fetched from, for `private_key_jwt`.
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }
}

impl ApplicationChange {
    /// A change of nothing yet; each setter adds one field to it.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A new alert address.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// A new partner URL.
    pub fn application_url(mut self, url: impl Into<String>) -> Self {
        self.application_url = Some(Some(url.into()));
        self
    }

    /// Removes the partner URL.
    pub fn clear_application_url(mut self) -> Self {
        self.application_url = Some(None);
        self
    }

    /// Replaces the roles.
    pub fn roles<R: Into<RoleId>>(mut self, roles: impl IntoIterator<Item = R>) -> Self {
        self.roles = Some(role_ids(roles));
        self
    }

    /// A new description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(Some(text.into()));
        self
    }

    /// Removes the description.
    pub fn clear_description(mut self) -> Self {
        self.description = Some(None);
        self
    }

    /// Enables the application, or disables it: its tokens are then refused everywhere.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = Some(enabled);
        self
    }

    /// Replaces the networks its tokens are accepted from.
    pub fn allowed_sources<S: Into<String>>(mut self, cidrs: impl IntoIterator<Item = S>) -> Self {
        self.allowed_sources = Some(Some(strings(cidrs)));
        self
    }

    /// Accepts its tokens from any address again.
    pub fn clear_allowed_sources(mut self) -> Self {
        self.allowed_sources = Some(None);
        self
    }

    /// A new hourly token quota.
    pub fn token_quota_per_hour(mut self, quota: u32) -> Self {
        self.token_quota_per_hour = Some(Some(i64::from(quota)));
        self
    }

    /// Removes the hourly token quota.
    pub fn clear_token_quota(mut self) -> Self {
        self.token_quota_per_hour = Some(None);
        self
    }

    /// Requires DPoP-bound tokens (RFC 9449) from now on, or bearer tokens again.
    pub fn dpop_bound_access_tokens(mut self, required: bool) -> Self {
        self.dpop_bound_access_tokens = Some(required);
        self
    }

    /// A new way to authenticate at the token endpoint.
    pub fn auth_method(mut self, method: AuthMethod) -> Self {
        self.token_endpoint_auth_method = Some(method.as_str().to_owned());
        self
    }

    /// New inline public keys.
    pub fn jwks(mut self, jwks: serde_json::Value) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// A new address for the public keys.
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }
}

impl CaseForm {
    /// A new case with its title; open unless [`status`](Self::status) says otherwise.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            ..Self::default()
        }
    }

    /// Free text about the case.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Open or closed from the start.
    pub fn status(mut self, status: CaseStatus) -> Self {
        self.status = Some(status);
        self
    }
}

impl CaseChange {
    /// A change of nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// A new description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(Some(text.into()));
        self
    }

    /// Removes the description.
    pub fn clear_description(mut self) -> Self {
        self.description = Some(None);
        self
    }

    /// Opens or closes the case.
    pub fn status(mut self, status: CaseStatus) -> Self {
        self.status = Some(status);
        self
    }
}

impl ReportForm {
    /// A new report with its summary.
    pub fn new(summary: impl Into<String>) -> Self {
        Self {
            summary: summary.into(),
            ..Self::default()
        }
    }

    /// Free text: what was reported.
    pub fn details(mut self, text: impl Into<String>) -> Self {
        self.details = Some(text.into());
        self
    }
}

impl ReportChange {
    /// A change of nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new summary.
    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = Some(summary.into());
        self
    }

    /// New details.
    pub fn details(mut self, text: impl Into<String>) -> Self {
        self.details = Some(Some(text.into()));
        self
    }

    /// Removes the details.
    pub fn clear_details(mut self) -> Self {
        self.details = Some(None);
        self
    }
}

impl RoleForm {
    /// A new role: its name and what it grants.
    pub fn new(name: impl Into<String>, permissions: impl IntoIterator<Item = Permission>) -> Self {
        Self {
            name: name.into(),
            permissions: permissions.into_iter().map(|p| p.to_string()).collect(),
        }
    }
}

impl RoleChange {
    /// A change of nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Replaces what the role grants.
    pub fn permissions(mut self, permissions: impl IntoIterator<Item = Permission>) -> Self {
        self.permissions = Some(permissions.into_iter().map(|p| p.to_string()).collect());
        self
    }
}

impl UserForm {
    /// A new user: sign-in address, display name and first password.
    pub fn new(email: impl Into<String>, name: impl Into<String>, password: Password) -> Self {
        Self {
            password: Some(password),
            ..Self::invitation(email, name)
        }
    }

    /// A new user with no password: the person is invited to choose one.
    pub fn invitation(email: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            name: name.into(),
            password: None,
            roles: Vec::new(),
        }
    }

    /// The role ids the user holds.
    pub fn roles<R: Into<RoleId>>(mut self, roles: impl IntoIterator<Item = R>) -> Self {
        self.roles = role_ids(roles);
        self
    }
}

impl UserChange {
    /// A change of nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new sign-in address.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// A new display name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A new password.
    pub fn password(mut self, password: Password) -> Self {
        self.password = Some(password);
        self
    }

    /// Replaces the roles.
    pub fn roles<R: Into<RoleId>>(mut self, roles: impl IntoIterator<Item = R>) -> Self {
        self.roles = Some(role_ids(roles));
        self
    }

    /// Enables the account, or disables it: a disabled person cannot sign in.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = Some(enabled);
        self
    }
}
