//! An application's client secrets as the admin API lists, issues and shows
//! them (the contract's "Client secrets": "Several at once").

use super::sign_in::OneTimeCode;
use super::sign_in::PasskeyProof;
use crate::Timestamp;
use crate::ids::SecretId;
use crate::secret_lifecycle::{SECRET_LABEL, SecretStatus};
use crate::shape::{Field, Kind, Shaped};
use crate::user::Password;
use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use crate::{ClientId, ClientSecret};
use serde::{Deserialize, Serialize};

/// One secret, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(as = ClientSecretView, description = "One of an application's client secrets, without its value.")
)]
pub struct ClientSecretInfo {
    /// The secret's id, for reveal and removal.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: SecretId,
    /// What the admin who added it called it.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub label: Option<String>,
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub created_at: Timestamp,
    /// RFC 3339, UTC: when it stops working (its own expiry or the install's most, whichever is first); null if never.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, required = true))]
    pub expires_at: Option<Timestamp>,
    /// RFC 3339, UTC, to the minute: when a token was last issued with it; null if never.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, required = true))]
    pub last_used_at: Option<Timestamp>,
    pub status: SecretState,
}

/// `active` (it opens the token endpoint) or `expired` (it no longer does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SecretState {
    Active,
    Expired,
}

impl From<SecretStatus> for SecretState {
    fn from(status: SecretStatus) -> Self {
        match status {
            SecretStatus::Active => Self::Active,
            SecretStatus::Expired => Self::Expired,
        }
    }
}

/// `GET …/client-secrets`: every secret of the application, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = ClientSecretList))]
pub struct ClientSecrets {
    pub items: Vec<ClientSecretInfo>,
    /// The most recent secrets that ended (by an admin, a rotation, a leak
    /// report, a move to private_key_jwt or the purge of long-expired ones),
    /// newest end first, at most 20; the audit trail has every one.
    #[serde(default)]
    pub ended: Vec<EndedSecretInfo>,
}

/// A secret that no longer exists: what it was, and when it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = EndedClientSecretView))]
pub struct EndedSecretInfo {
    /// The id it was listed under.
    pub id: String,
    /// What the admin who added it called it.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub label: Option<String>,
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, required = true))]
    pub created_at: Option<Timestamp>,
    /// RFC 3339, UTC: when it stopped working.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub ended_at: Timestamp,
}

/// A secret with its value: just issued, or revealed on purpose.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(as = ClientSecretValueView, description = "A client secret with its value, shown on purpose.")
)]
pub struct ClientSecretValue {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: SecretId,
    /// The application's Client ID.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub client_id: ClientId,
    /// At least 256 random bits; treat it as a password.
    #[serde(
        serialize_with = "super::admin::expose",
        deserialize_with = "super::admin::presented"
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, example = "cbs_Jc0k2m1Xw7pR5tYbN3eJhL6aGfU9sKoIiCxMvEq8Vd0aB3xYz")
    )]
    pub client_secret: ClientSecret,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub label: Option<String>,
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub created_at: Timestamp,
    /// RFC 3339, UTC; null if it never expires.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, required = true))]
    pub expires_at: Option<Timestamp>,
}

/// `POST …/client-secrets`: the admin's password, and what to call the new
/// secret and when it should stop working.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSecretRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Password))]
    #[serde(serialize_with = "crate::user::expose_password")]
    pub password: Password,
    /// Up to 100 characters, one line.
    #[serde(default)]
    pub label: Option<String>,
    /// RFC 3339: when it stops working. Within `CASEBOOK_SECRET_MAX_AGE_DAYS`
    /// of now when the install sets one, which is also the default then.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub expires_at: Option<String>,
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

impl NewSecretRequest {
    /// The label, trimmed (blank is none), and the requested expiry, read.
    /// Whether the expiry lies ahead and within the install's most only the
    /// server can say: it knows the time and the install's settings.
    pub fn fields(&self) -> Result<(Option<String>, Option<Timestamp>), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let label = errors.check(SECRET_LABEL.optional(self.label.as_deref())).flatten();
        let expires_at = match self.expires_at.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(text) => Timestamp::parse_rfc3339(text).or_else(|| {
                errors.push(FieldError::new(
                    "expires_at",
                    ErrorCode::InvalidValue,
                    "expires_at must be an RFC 3339 date-time with an offset, like 2027-01-31T12:00:00Z",
                ));
                None
            }),
        };
        errors.finish(|| (label, expires_at))
    }
}

impl Shaped for NewSecretRequest {
    const FIELDS: &'static [Field] = &[
        Field::required("password", Kind::Text),
        Field::optional("label", Kind::Text),
        Field::optional("expires_at", Kind::Text),
        Field::optional("totp_code", Kind::Text),
        Field::optional("recovery_code", Kind::Text),
        Field::optional("passkey", Kind::Object),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        self.fields().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(label: Option<&str>, expires_at: Option<&str>) -> NewSecretRequest {
        NewSecretRequest {
            password: Password::new("pw"),
            label: label.map(str::to_owned),
            expires_at: expires_at.map(str::to_owned),
            totp_code: None,
            recovery_code: None,
            passkey: None,
        }
    }

    #[test]
    fn labels_and_expiries_are_read_or_refused_together() {
        let (label, at) = request(Some("  prod  "), Some("2027-01-31T12:00:00Z"))
            .fields()
            .unwrap();
        assert_eq!(label.as_deref(), Some("prod"));
        assert_eq!(at, Timestamp::parse_rfc3339("2027-01-31T12:00:00Z"));
        assert_eq!(request(Some(" "), Some("")).fields().unwrap(), (None, None));
        let long = "x".repeat(101);
        let errors = request(Some(&long), Some("next week")).fields().unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["label", "expires_at"]);
    }
}
