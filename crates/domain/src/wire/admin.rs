//! The admin API's answers, and the bodies of sign-in and of a secret's
//! reveal and rotation.

use super::sign_in::OneTimeCode;
use super::sign_in::PasskeyProof;
use super::{Actor, permissions};
use crate::Timestamp;
use crate::ids::{ApplicationId, RoleId, UserId};
use crate::shape::{Field, Kind, Shaped};
use crate::user::Password;
use crate::validation::ValidationErrors;
use crate::{ClientId, ClientSecret, PermissionSet};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A role of the catalog: a named set of permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = RoleView, description = "A role of the catalog."))]
pub struct Role {
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "The role's id, used in an application's or user's `roles`."
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: RoleId,
    #[cfg_attr(not(feature = "openapi"), doc = "The role's name, e.g. `Engage Worker`.")]
    pub name: String,
    #[cfg_attr(not(feature = "openapi"), doc = "What the role grants.")]
    /// `module:action`, in a fixed order.
    #[serde(with = "permissions")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>, example = json!(["engage:view", "engage:create"])))]
    pub permissions: PermissionSet,
    #[cfg_attr(not(feature = "openapi"), doc = "When it was created.")]
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-03-02T14:05:09.123456Z"))]
    pub created_at: Timestamp,
    #[cfg_attr(not(feature = "openapi"), doc = "When it was changed last.")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-03-02T14:05:09.123456Z"))]
    pub updated_at: Timestamp,
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(as = UserView, description = "A user account. Never its password.")
)]
pub struct User {
    #[cfg_attr(not(feature = "openapi"), doc = "The user's id.")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: UserId,
    #[cfg_attr(not(feature = "openapi"), doc = "The sign-in address.")]
    pub email: String,
    #[cfg_attr(not(feature = "openapi"), doc = "The display name.")]
    pub name: String,
    /// Role ids.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub roles: Vec<RoleId>,
    #[cfg_attr(not(feature = "openapi"), doc = "When it was created.")]
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-03-02T14:05:09.123456Z"))]
    pub created_at: Timestamp,
    #[cfg_attr(not(feature = "openapi"), doc = "When it was changed last.")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-03-02T14:05:09.123456Z"))]
    pub updated_at: Timestamp,
    /// False while disabled: the user cannot sign in and has no session.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// RFC 3339, UTC: when the user last signed in; null if never.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_sign_in_at: Option<Timestamp>,
    /// The second factors the user has enrolled: `totp`, `passkey`.
    #[serde(default)]
    pub second_factors: Vec<String>,
    /// True until an invited user sets a first password.
    #[serde(default)]
    pub invitation_pending: bool,
}

/// A user an older server describes is enabled: it had no other kind.
fn enabled_by_default() -> bool {
    true
}

/// A registered external application: the expanded view of cb Admin. Never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(
        as = ApplicationView,
        description = "A registered external application, expanded. Never its secret."
    )
)]
pub struct Application {
    #[cfg_attr(not(feature = "openapi"), doc = "The application's id (not its Client ID).")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "0195a0c4-7a3e-7d2c-9a51-2f4b8c1d9e07"))]
    pub id: ApplicationId,
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "The application name, shown as \"Created by\" on its records."
    )]
    #[cfg_attr(feature = "openapi", schema(example = "Acme Intake Bridge"))]
    pub name: String,
    #[cfg_attr(not(feature = "openapi"), doc = "Where alerts about the integration go.")]
    #[cfg_attr(feature = "openapi", schema(example = "integrations+intake@acme.example"))]
    pub email: String,
    #[cfg_attr(not(feature = "openapi"), doc = "The partner's URL, if given.")]
    /// Always present; `null` when none was given.
    #[cfg_attr(
        feature = "openapi",
        schema(required = true, example = "https://acme.example/casebook")
    )]
    pub application_url: Option<String>,
    #[cfg_attr(not(feature = "openapi"), doc = "Free text, if given.")]
    /// Always present; `null` when none was given.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub description: Option<String>,
    /// Role ids.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>, example = json!(["engage-worker"])))]
    pub roles: Vec<RoleId>,
    #[cfg_attr(not(feature = "openapi"), doc = "The public Client ID.")]
    /// Public, never changes.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "cb_3f9a1c2e7b4d8e6f0a1b2c3d4e5f6a7b"))]
    pub client_id: ClientId,
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "The Casebook URL the application talks to, and the base URL of an SDK `Client`."
    )]
    /// Where the application asks for tokens: POST `{callback_url}/oauth2/token`.
    #[cfg_attr(feature = "openapi", schema(example = "https://casebook.agency.example"))]
    pub callback_url: String,
    #[cfg_attr(not(feature = "openapi"), doc = "Whether the application may get tokens.")]
    pub enabled: bool,
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "How the application authenticates at the token endpoint."
    )]
    /// `client_secret_basic` or `private_key_jwt`.
    #[serde(default)]
    pub token_endpoint_auth_method: crate::client_keys::AuthMethod,
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "The public keys of a `private_key_jwt` application."
    )]
    /// The registered public JWK Set of a `private_key_jwt` application;
    /// `null` for one with a client secret.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>, required = true))]
    pub jwks: Option<serde_json::Value>,
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "Where a `private_key_jwt` application's public keys are fetched from."
    )]
    /// The URL the JWK Set of a `private_key_jwt` application is fetched
    /// from; `null` when its keys are registered inline or it has a secret.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(format = "uri", required = true))]
    pub jwks_uri: Option<String>,
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "The networks the application may ask for and use tokens from; `None`: any."
    )]
    /// The CIDRs the application's token requests and tokens are accepted
    /// from, in canonical form (`127.0.0.1/32`); `null`: any address.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(required = true, example = json!(["203.0.113.0/24"]))
    )]
    pub allowed_sources: Option<Vec<String>>,
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "The most tokens the application may get in any sliding hour; `None`: no quota."
    )]
    /// The most tokens granted in any sliding hour; `null`: no quota.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true, minimum = 1, maximum = 1_000_000))]
    pub token_quota_per_hour: Option<u32>,
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "Whether the application's tokens must be DPoP-bound (RFC 9449)."
    )]
    /// True: a token request without a DPoP proof is refused, and every
    /// token is bound to the proof's key (RFC 9449). False: bearer tokens.
    // An older server does not send it, and it had no such requirement.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub dpop_bound_access_tokens: bool,
    #[cfg_attr(not(feature = "openapi"), doc = "When it was registered.")]
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-03-02T14:05:09.123456Z"))]
    pub created_at: Timestamp,
    #[cfg_attr(not(feature = "openapi"), doc = "When it was changed last.")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-03-02T14:05:09.123456Z"))]
    pub updated_at: Timestamp,
}

/// A client secret shown on purpose, by reveal or rotation. Its `Debug`
/// never shows the secret; [`ClientSecret::expose`] does, and so does
/// serializing it: that is what the wire carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(as = SecretView, description = "A client secret, shown on purpose.")
)]
pub struct RevealedSecret {
    #[cfg_attr(not(feature = "openapi"), doc = "The application's Client ID.")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub client_id: ClientId,
    #[cfg_attr(not(feature = "openapi"), doc = "The secret.")]
    /// At least 256 random bits; treat it as a password.
    #[serde(serialize_with = "expose", deserialize_with = "presented")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, example = "cbs_Jc0k2m1Xw7pR5tYbN3eJhL6aGfU9sKoIiCxMvEq8Vd0")
    )]
    pub client_secret: ClientSecret,
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "On rotation with a grace period: until when the previous secret still works."
    )]
    /// On rotation: until when the previous secret is still accepted, if at all.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_valid_until: Option<Timestamp>,
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "Which of the application's secrets was shown: its id in the list of secrets."
    )]
    /// On reveal; the id `GET …/client-secrets` lists it under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_id: Option<String>,
    #[cfg_attr(not(feature = "openapi"), doc = "That secret's label, if it has one.")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_label: Option<String>,
}

pub(super) fn expose<S: Serializer>(secret: &ClientSecret, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose())
}

pub(super) fn presented<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ClientSecret, D::Error> {
    String::deserialize(deserializer).map(ClientSecret::from_presented)
}

/// A signed-in admin session. Its `Debug` never shows the token.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(as = SessionView, description = "A signed-in admin session.")
)]
pub struct Session {
    /// Send as `Authorization: Bearer <token>`; valid for 8 hours or until signed out.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "cbsess_q8Vd0c4kz2m1Xw7pR5tYbN3eJhL6aGfU9sKoIiCxMvE")
    )]
    pub token: String,
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-03-02T22:05:09.123456Z"))]
    pub expires_at: Timestamp,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = AuditEventView))]
pub struct AuditEvent {
    #[cfg_attr(not(feature = "openapi"), doc = "The event's id.")]
    pub id: String,
    #[cfg_attr(not(feature = "openapi"), doc = "When it happened.")]
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    #[cfg_attr(not(feature = "openapi"), doc = "Who did it.")]
    pub actor: Actor,
    #[cfg_attr(not(feature = "openapi"), doc = "What was done.")]
    /// e.g. `application.registered`, `application.secret_revealed`.
    pub action: String,
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "What kind of thing it was done to, e.g. `application`."
    )]
    pub target_kind: String,
    #[cfg_attr(not(feature = "openapi"), doc = "The id of what it was done to.")]
    pub target_id: String,
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "What the target was called at the time: an application's name, a user's email, a role's name."
    )]
    /// `null` for events written before release 0.3.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub target_name: Option<String>,
    #[cfg_attr(not(feature = "openapi"), doc = "More about it, if anything.")]
    /// Always present; `null` when there is nothing to add.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub detail: Option<String>,
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "The client address the request came from, as the server judged it (trusted proxies applied)."
    )]
    /// `null` for what no request caused (the command line, housekeeping).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub source: Option<String>,
    #[cfg_attr(not(feature = "openapi"), doc = "The request's `X-Request-Id`.")]
    /// Matches the request's log line; `null` outside a request.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub request_id: Option<String>,
    #[cfg_attr(not(feature = "openapi"), doc = "The tenant's slug (`root` for the root tenant).")]
    #[serde(default)]
    pub tenant: String,
    #[cfg_attr(not(feature = "openapi"), doc = "What a change changed.")]
    /// `{"field": {"from": …, "to": …}}`; a role's permissions as
    /// `{"permissions": {"added": […], "removed": […]}}`; a password or
    /// secret only as `{"password": {"changed": true}}`. `null` for what is
    /// not a change (a creation, a removal, a sign-in).
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<Object>))]
    #[serde(default)]
    pub changes: Option<serde_json::Value>,
}

/// Sign-in form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub email: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Password))]
    #[serde(serialize_with = "crate::user::expose_password")]
    pub password: Password,
    /// With a second factor enrolled: six digits from the authenticator app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub totp_code: Option<OneTimeCode>,
    /// With a second factor enrolled: one of the recovery codes instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub recovery_code: Option<OneTimeCode>,
}

/// Re-entered password of the calling admin.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Password))]
    #[serde(serialize_with = "crate::user::expose_password")]
    pub password: Password,
    /// With a second factor enrolled: six digits from the authenticator app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub totp_code: Option<OneTimeCode>,
    /// With a second factor enrolled: one of the recovery codes instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub recovery_code: Option<OneTimeCode>,
    /// With a passkey enrolled: its answer to the options of
    /// `/admin/v1/users/me/passkeys/challenge` (or, signing in, of
    /// `/admin/v1/sessions/mfa/passkey`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyProof>,
}

/// Rotation: the admin's password and how long the old secret keeps working.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Password))]
    #[serde(serialize_with = "crate::user::expose_password")]
    pub password: Password,
    /// 0 (default) to 604800 (7 days).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 604800))]
    pub grace_period_seconds: Option<i64>,
    /// With a second factor enrolled: six digits from the authenticator app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub totp_code: Option<OneTimeCode>,
    /// With a second factor enrolled: one of the recovery codes instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub recovery_code: Option<OneTimeCode>,
    /// With a passkey enrolled: its answer to the options of
    /// `/admin/v1/users/me/passkeys/challenge` (or, signing in, of
    /// `/admin/v1/sessions/mfa/passkey`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyProof>,
}

// Sign-in has no rules of its own: a 422 for its shape says only what the
// body lacks, never whether the account exists.
impl Shaped for SignIn {
    const FIELDS: &'static [Field] = &[
        Field::required("email", Kind::Text),
        Field::required("password", Kind::Text),
        Field::optional("totp_code", Kind::Text),
        Field::optional("recovery_code", Kind::Text),
    ];
}

impl Shaped for RevealRequest {
    const FIELDS: &'static [Field] = &[
        Field::required("password", Kind::Text),
        Field::optional("totp_code", Kind::Text),
        Field::optional("recovery_code", Kind::Text),
        Field::optional("passkey", Kind::Object),
    ];
}

impl Shaped for RotateRequest {
    const FIELDS: &'static [Field] = &[
        Field::required("password", Kind::Text),
        Field::optional("grace_period_seconds", Kind::Integer),
        Field::optional("totp_code", Kind::Text),
        Field::optional("recovery_code", Kind::Text),
        Field::optional("passkey", Kind::Object),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        crate::credentials::grace_period(self.grace_period_seconds)
            .map(drop)
            .map_err(Into::into)
    }
}

/// A tenant of the install (the contract, "Tenants"), as the root's admin API
/// and `casebook tenants … --json` write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = TenantView))]
pub struct Tenant {
    /// 2 to 40 of `a-z`, `0-9` and `-`; never changes.
    pub slug: String,
    pub name: String,
    /// A disabled tenant keeps its data; its tokens and sessions are refused.
    pub enabled: bool,
    /// `{public URL}/t/{slug}`: the tenant's issuer and Callback URL.
    pub base_url: String,
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// The first Administrator's password, when the server generated it:
    /// in the answer to the create only, shown this once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_password: Option<String>,
}
