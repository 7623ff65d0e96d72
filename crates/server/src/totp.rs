//! RFC 6238 codes through `totp-rs`, with the parameters the domain fixes
//! (SHA-1, 6 digits, 30 seconds, one step of skew); which matched step may
//! be accepted is `casebook_domain::mfa::accepts_step`.

use casebook_domain::mfa::{TOTP_DIGITS, TOTP_SECRET_BYTES, TOTP_SKEW_STEPS, TOTP_STEP_SECS};
use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Algorithm, Builder, Totp};

/// A new secret from the server's random source.
pub fn new_secret() -> [u8; TOTP_SECRET_BYTES] {
    crate::crypto::random_bytes()
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Result<Totp, String> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(TOTP_DIGITS as u8)
        .with_skew(TOTP_SKEW_STEPS)
        .with_step_duration(TOTP_STEP_SECS)
        .with_secret(secret)
        // The URI's label is `issuer:account`; a colon inside either would
        // split it elsewhere, so it becomes a space.
        .with_issuer(Some(issuer.replace(':', " ")))
        .with_account_name(account.replace(':', " "))
        .build()
        .map_err(|e| format!("a TOTP secret could not be used: {e}"))
}

/// What a person needs to add the secret to an app: the base32 secret, the
/// `otpauth://` URI, and that URI as an SVG QR code drawn here, so that the
/// console shows it without fetching anything.
pub struct Enrolment {
    pub secret_base32: String,
    pub uri: String,
    pub qr_svg: String,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrolment([redacted])")
    }
}

pub fn enrolment(secret: &[u8], issuer: &str, account: &str) -> Result<Enrolment, String> {
    let totp = totp(secret, issuer, account)?;
    let uri = totp
        .to_url()
        .map_err(|e| format!("the otpauth URI could not be written: {e}"))?;
    let qr_svg = QrCode::new(uri.as_bytes())
        .map_err(|e| format!("the QR code could not be drawn: {e}"))?
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(Enrolment {
        secret_base32: totp.secret().to_base32(),
        uri,
        qr_svg,
    })
}

/// The time step `code` matches at `now_secs`, within the skew; `None` when
/// it matches none. The comparison is of whole codes, so its time says
/// nothing of how many digits were right.
pub fn matched_step(secret: &[u8], code: &str, now_secs: u64) -> Option<u64> {
    totp(secret, "casebook", "").ok()?.check(code, now_secs)
}

/// The code for `at_secs`: what an authenticator app shows then. For tests
/// and the SDK's examples; the server never sends one.
pub fn code_at(secret: &[u8], at_secs: u64) -> Option<String> {
    Some(totp(secret, "casebook", "").ok()?.generate(at_secs).to_string())
}

/// [`code_at`] for a secret as enrolment shows it (base32): what a person's
/// app computes, for tests that sign in as one.
pub fn code_for_base32(secret_base32: &str, at_secs: u64) -> Option<String> {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).ok()?;
    code_at(secret.as_ref(), at_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B's SHA-1 vectors, as 6 digits (the last six of
    /// the eight printed there).
    #[test]
    fn rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(secret, time).as_deref(), Some(code), "at {time}");
            assert_eq!(matched_step(secret, code, time), Some(time / 30));
        }
    }

    #[test]
    fn a_code_counts_one_step_either_side_and_no_further() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let code = code_at(&secret, now).unwrap();
        assert_eq!(matched_step(&secret, &code, now + 30), Some(now / 30));
        assert_eq!(matched_step(&secret, &code, now - 30), Some(now / 30));
        assert_eq!(matched_step(&secret, &code, now + 60), None);
        assert_eq!(matched_step(&secret, "not a code", now), None);
    }

    #[test]
    fn enrolment_names_the_parameters_and_draws_the_uri() {
        let secret = new_secret();
        let e = enrolment(&secret, "Casebook: County", "jo@agency.org").unwrap();
        assert!(e.uri.starts_with("otpauth://totp/"), "{}", e.uri);
        assert!(e.uri.contains(&format!("secret={}", e.secret_base32)), "{}", e.uri);
        // SHA-1, 6 digits and 30 s are the URI format's defaults, which
        // totp-rs leaves out; anything else would have to be written.
        for other in ["algorithm=", "digits=", "period="] {
            assert!(!e.uri.contains(other), "{}", e.uri);
        }
        assert!(e.uri.contains("issuer=Casebook%20%20County"), "{}", e.uri);
        assert!(e.qr_svg.starts_with("<?xml") && e.qr_svg.contains("<svg"));
    }
}
