//! The bodies of signing in strongly: the second step, enrolment, links
//! that set a password, and the tenant's setting.

use crate::shape::{Field, Kind, Shaped};
use crate::user::Password;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// A code a person types: a TOTP code or a recovery code. `Debug` never
/// shows it; serde writes it as it is, since only request bodies carry one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OneTimeCode(String);

impl OneTimeCode {
    pub fn new(code: impl Into<String>) -> Self {
        Self(code.into())
    }

    /// The code as typed. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode([redacted])")
    }
}

/// What a person offers as their second factor, from a body's
/// `totp_code` and `recovery_code`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SecondFactor<'a> {
    None,
    Totp(&'a str),
    Recovery(&'a str),
    /// An authenticator's answer to a ceremony the server began.
    Passkey(&'a PasskeyProof),
}

impl<'a> SecondFactor<'a> {
    /// A TOTP code when both are sent: the code in hand is the one meant,
    /// and a recovery code is not spent for nothing.
    pub fn of(totp_code: Option<&'a OneTimeCode>, recovery_code: Option<&'a OneTimeCode>) -> Self {
        match (totp_code, recovery_code) {
            (Some(code), _) => Self::Totp(code.expose()),
            (None, Some(code)) => Self::Recovery(code.expose()),
            (None, None) => Self::None,
        }
    }

    /// A passkey's answer, when one was sent: it is the factor the person
    /// just used, so it goes before any code.
    pub fn or_passkey(self, passkey: Option<&'a PasskeyProof>) -> Self {
        passkey.map_or(self, Self::Passkey)
    }
}

/// The authenticator's answer to a ceremony: the `PublicKeyCredential` as
/// JSON (binary members in base64url), with the ceremony it answers.
///
/// Inside a body it is read whole as an object, like a JWK Set: members it
/// lacks read as empty and what it holds is the ceremony's to judge, so a
/// malformed answer is refused as a wrong factor, not as a malformed body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyProof {
    #[serde(default)]
    pub ceremony_id: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: Value,
}

/// `POST /admin/v1/sessions/mfa`: the second step of a sign-in.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MfaSignIn {
    /// From the 401 that asked for the second step; 5 minutes, single use.
    pub mfa_token: String,
    /// Six digits from the authenticator app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "123456"))]
    pub totp_code: Option<OneTimeCode>,
    /// One of the recovery codes given at enrolment; each works once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "abcde-fghij"))]
    pub recovery_code: Option<OneTimeCode>,
    /// With a passkey enrolled: its answer to the options of
    /// `/admin/v1/users/me/passkeys/challenge` (or, signing in, of
    /// `/admin/v1/sessions/mfa/passkey`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyProof>,
}

impl fmt::Debug for MfaSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MfaSignIn { .. }")
    }
}

impl Shaped for MfaSignIn {
    const FIELDS: &'static [Field] = &[
        Field::required("mfa_token", Kind::Text),
        Field::optional("totp_code", Kind::Text),
        Field::optional("recovery_code", Kind::Text),
        Field::optional("passkey", Kind::Object),
    ];
}

/// `POST /admin/v1/users/me/totp`: the person's password, to begin.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TotpEnrolmentRequest {
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

impl Shaped for TotpEnrolmentRequest {
    const FIELDS: &'static [Field] = &[
        Field::required("password", Kind::Text),
        Field::optional("totp_code", Kind::Text),
        Field::optional("recovery_code", Kind::Text),
        Field::optional("passkey", Kind::Object),
    ];
}

/// A TOTP secret to put in an authenticator app, until a code confirms it.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TotpEnrolment {
    /// The secret in base32 (RFC 4648), for typing into an app.
    pub secret: String,
    /// `otpauth://totp/…` with SHA1, 6 digits and a 30-second period.
    pub otpauth_uri: String,
    /// The same URI as a QR code, an SVG image made by the server.
    #[serde(default)]
    pub qr_svg: String,
}

impl fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpEnrolment { .. }")
    }
}

/// `POST /admin/v1/users/me/totp/confirm`: a code from the app.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TotpConfirmation {
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "123456"))]
    pub code: OneTimeCode,
}

impl Shaped for TotpConfirmation {
    const FIELDS: &'static [Field] = &[Field::required("code", Kind::Text)];
}

/// Ten codes, each good for one sign-in without the app; shown once.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryCodes([{} redacted])", self.recovery_codes.len())
    }
}

/// `DELETE /admin/v1/users/me/totp`: the password and a code.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TotpRemoval {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Password))]
    #[serde(serialize_with = "crate::user::expose_password")]
    pub password: Password,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub totp_code: Option<OneTimeCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub recovery_code: Option<OneTimeCode>,
    /// With a passkey enrolled: its answer to the options of
    /// `/admin/v1/users/me/passkeys/challenge` (or, signing in, of
    /// `/admin/v1/sessions/mfa/passkey`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyProof>,
}

impl Shaped for TotpRemoval {
    const FIELDS: &'static [Field] = &[
        Field::required("password", Kind::Text),
        Field::optional("totp_code", Kind::Text),
        Field::optional("recovery_code", Kind::Text),
        Field::optional("passkey", Kind::Object),
    ];
}

/// `POST /admin/v1/password-resets`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub email: String,
}

impl Shaped for PasswordResetRequest {
    const FIELDS: &'static [Field] = &[Field::required("email", Kind::Text)];
}

/// `POST /admin/v1/set-password`: the token from an invitation or reset
/// link, and the new password.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetPasswordRequest {
    pub token: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Password, min_length = 12))]
    #[serde(serialize_with = "crate::user::expose_password")]
    pub password: Password,
}

impl fmt::Debug for SetPasswordRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SetPasswordRequest { .. }")
    }
}

impl Shaped for SetPasswordRequest {
    const FIELDS: &'static [Field] = &[
        Field::required("token", Kind::Text),
        Field::required("password", Kind::Text),
    ];
}

/// A tenant's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Settings {
    /// Everyone holding an `admin:` permission must enrol a second factor
    /// before doing anything else.
    pub require_mfa_for_admins: bool,
}

/// `PATCH /admin/v1/settings`: absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_mfa_for_admins: Option<bool>,
}

impl Shaped for SettingsChange {
    const FIELDS: &'static [Field] = &[Field::optional("require_mfa_for_admins", Kind::Boolean)];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_tokens_never_reach_debug() {
        let body = MfaSignIn {
            mfa_token: "t".into(),
            totp_code: Some(OneTimeCode::new("123456")),
            recovery_code: Some(OneTimeCode::new("abcde-fghij")),
            passkey: None,
        };
        let shown = format!("{body:?}");
        assert!(!shown.contains("123456") && !shown.contains("abcde"), "{shown}");
        let set = SetPasswordRequest {
            token: "link-token".into(),
            password: Password::new("a fine long password"),
        };
        assert!(!format!("{set:?}").contains("link-token"));
        let codes = RecoveryCodes {
            recovery_codes: vec!["abcde-fghij".into()],
        };
        assert!(!format!("{codes:?}").contains("abcde"));
        // The body itself carries them, as a request must.
        assert_eq!(serde_json::to_value(&body).unwrap()["totp_code"], "123456");
    }

    #[test]
    fn a_totp_code_is_preferred_to_a_recovery_code() {
        let totp = OneTimeCode::new("123456");
        let recovery = OneTimeCode::new("abcde-fghij");
        assert_eq!(
            SecondFactor::of(Some(&totp), Some(&recovery)),
            SecondFactor::Totp("123456")
        );
        assert_eq!(
            SecondFactor::of(None, Some(&recovery)),
            SecondFactor::Recovery("abcde-fghij")
        );
        assert_eq!(SecondFactor::of(None, None), SecondFactor::None);
    }
}
