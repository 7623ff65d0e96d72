//! The bodies of passkeys (WebAuthn): a ceremony's options out, the
//! authenticator's answer back.

use super::sign_in::{OneTimeCode, PasskeyProof};
use crate::Timestamp;
use crate::shape::{Field, Kind, Shaped};
use crate::user::Password;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The options of a ceremony, for `navigator.credentials.create` or `.get`
/// (`{"publicKey": …}`, binary members in base64url), and the id to send
/// back with the authenticator's answer within 5 minutes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyOptions {
    pub ceremony_id: String,
    /// WebAuthn's `CredentialCreationOptions` or `CredentialRequestOptions`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub options: Value,
}

/// `POST /admin/v1/users/me/passkeys/options`: the password, to begin
/// registering a passkey.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasskeyRegistrationStart {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Password))]
    #[serde(serialize_with = "crate::user::expose_password")]
    pub password: Password,
    /// With a second factor enrolled: a code from the authenticator app,
    /// a recovery code or a passkey's answer, as for secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub totp_code: Option<OneTimeCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub recovery_code: Option<OneTimeCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyProof>,
}

impl Shaped for PasskeyRegistrationStart {
    const FIELDS: &'static [Field] = &[
        Field::required("password", Kind::Text),
        Field::optional("totp_code", Kind::Text),
        Field::optional("recovery_code", Kind::Text),
        Field::optional("passkey", Kind::Object),
    ];
}

/// `POST /admin/v1/users/me/passkeys`: what to call it, and the answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasskeyRegistration {
    pub ceremony_id: String,
    /// Up to 100 characters, such as "Work laptop".
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: Value,
}

impl Shaped for PasskeyRegistration {
    const FIELDS: &'static [Field] = &[
        Field::required("ceremony_id", Kind::Text),
        Field::required("name", Kind::Text),
        Field::required("credential", Kind::Object),
    ];
}

/// `POST /admin/v1/sessions/mfa/passkey`: options for the second step.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MfaPasskeyStart {
    pub mfa_token: String,
}

impl std::fmt::Debug for MfaPasskeyStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaPasskeyStart { .. }")
    }
}

impl Shaped for MfaPasskeyStart {
    const FIELDS: &'static [Field] = &[Field::required("mfa_token", Kind::Text)];
}

/// `DELETE /admin/v1/users/me/passkeys/{id}`: the password.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasskeyRemoval {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Password))]
    #[serde(serialize_with = "crate::user::expose_password")]
    pub password: Password,
    /// With a second factor enrolled: a code from the authenticator app,
    /// a recovery code or a passkey's answer, as for secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub totp_code: Option<OneTimeCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub recovery_code: Option<OneTimeCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyProof>,
}

impl Shaped for PasskeyRemoval {
    const FIELDS: &'static [Field] = &[
        Field::required("password", Kind::Text),
        Field::optional("totp_code", Kind::Text),
        Field::optional("recovery_code", Kind::Text),
        Field::optional("passkey", Kind::Object),
    ];
}

/// One of a person's passkeys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = PasskeyView))]
pub struct Passkey {
    pub id: String,
    pub name: String,
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// RFC 3339, UTC; null if never used.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_used_at: Option<Timestamp>,
}

/// The person's passkeys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Passkeys {
    pub items: Vec<Passkey>,
}
