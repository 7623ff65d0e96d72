//! What the server answers with: the wire types of
//! [`casebook_domain::wire`], the very types the server writes, so the
//! shapes cannot drift between server and SDK. Requests use the domain's own
//! forms ([`ApplicationForm`](casebook_domain::ApplicationForm), …) for the
//! same reason.
//!
//! Reading is forgiving: fields a newer server adds are ignored, and so are
//! permissions this SDK does not know yet. Timestamps are
//! [`Timestamp`](casebook_domain::Timestamp)s, RFC 3339 text on the wire.

pub use casebook_domain::AuthMethod;
/// A signed-in admin session, as the server answers it.
pub(crate) use casebook_domain::wire::Session;
pub use casebook_domain::wire::{
    Actor, Application, AuditEvent, Case, ClientSecretInfo, ClientSecretValue, Me, OneTimeCode, Page, RecoveryCodes,
    Report, RevealedSecret, Role, SecretState, Settings, SettingsChange, TotpEnrolment, User,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn me_reads_and_writes_permissions_as_strings() {
        let me: Me = serde_json::from_str(
            r#"{"kind":"application","id":"a1","name":"Sync","permissions":["engage:view","engage:create","billing:view"],"client_id":"cb_0123456789abcdef0123456789abcdef"}"#,
        )
        .unwrap();
        assert_eq!(me.permissions.to_scope(), "engage:view engage:create");
        let json = serde_json::to_value(&me).unwrap();
        assert_eq!(json["permissions"], serde_json::json!(["engage:view", "engage:create"]));
        assert_eq!(json["kind"], "application");
    }

    #[test]
    fn a_revealed_secret_is_redacted_in_debug() {
        let revealed: RevealedSecret = serde_json::from_str(
            r#"{"client_id":"cb_0123456789abcdef0123456789abcdef","client_secret":"cbs_very-secret"}"#,
        )
        .unwrap();
        assert_eq!(revealed.client_secret.expose(), "cbs_very-secret");
        assert!(!format!("{revealed:?}").contains("very-secret"));
    }

    #[test]
    fn enrolment_secrets_and_recovery_codes_are_redacted_in_debug() {
        let enrolment: TotpEnrolment = serde_json::from_str(
            r#"{"secret":"JBSWY3DPEHPK3PXP","otpauth_uri":"otpauth://totp/Casebook:jo?secret=JBSWY3DPEHPK3PXP","qr_svg":"<svg/>"}"#,
        )
        .unwrap();
        let codes: RecoveryCodes = serde_json::from_str(r#"{"recovery_codes":["abcde-fghjk"]}"#).unwrap();
        let shown = format!("{enrolment:?} {codes:?} {:?}", OneTimeCode::new("123456"));
        for secret in ["JBSWY3DP", "abcde", "123456"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        // A user from an older server, without the newer fields, reads as enabled.
        let user: User = serde_json::from_str(
            r#"{"id":"u","email":"jo@agency.org","name":"Jo","roles":[],"created_at":"2026-03-02T14:05:09Z","updated_at":"2026-03-02T14:05:09Z"}"#,
        )
        .unwrap();
        assert!(user.enabled && user.second_factors.is_empty() && !user.invitation_pending);
    }

    #[test]
    fn unknown_fields_from_a_newer_server_are_accepted() {
        let role: Role = serde_json::from_str(
            r#"{"id":"r","name":"R","permissions":["intake:view"],"created_at":"2026-03-02T14:05:09Z","updated_at":"2026-03-02T14:05:09.5Z","color":"red"}"#,
        )
        .unwrap();
        assert_eq!(role.permissions.len(), 1);
    }
}
