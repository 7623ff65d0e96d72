//! The second step of signing in: when it is asked for, which codes count,
//! and how long its one-time values last.
//!
//! The arithmetic of a TOTP code (HMAC over the time step) is the server's,
//! through a TOTP crate; what is decided here is everything around it: a
//! code is accepted once, a recovery code is read the way people type it,
//! and who must enrol before doing anything else.

use crate::permission::{Module, PermissionSet};

/// RFC 6238's recommended values, which every authenticator app supports.
pub const TOTP_DIGITS: usize = 6;
pub const TOTP_STEP_SECS: u64 = 30;
/// One step either side (RFC 6238 §5.2): a phone's clock a little off, or a
/// code typed as it turned over, still counts.
pub const TOTP_SKEW_STEPS: u16 = 1;
/// RFC 4226 §4 asks at least 128 bits and recommends 160.
pub const TOTP_SECRET_BYTES: usize = 20;

/// How long the token of a half-finished sign-in lasts: enough to open an
/// authenticator app, too short to keep.
pub const MFA_TOKEN_LIFETIME_SECS: i64 = 5 * 60;
/// An enrolment begun and never confirmed is forgotten after this.
pub const ENROLMENT_LIFETIME_SECS: i64 = 15 * 60;

/// How many recovery codes a person is given, each usable once.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code: 10 from a 32-letter alphabet, 50 bits,
/// shown as two groups of five.
pub const RECOVERY_CODE_CHARS: usize = 10;
/// RFC 4648's base32 letters in lower case: no 0 or 1 to mistake for o or
/// l, and 32 of them, so a random byte picks each equally often.
const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A TOTP code matched at `matched_step` is accepted only if no code at that
/// step or a later one was accepted before (RFC 6238 §5.2: "the verifier
/// MUST NOT accept the second attempt of the same OTP"). Keeping the last
/// step, rather than a set of used codes, also refuses a code older than
/// one already used.
pub fn accepts_step(last_accepted_step: Option<u64>, matched_step: u64) -> bool {
    last_accepted_step.is_none_or(|last| matched_step > last)
}

/// A TOTP code as typed: six digits, with any spaces people copy along.
/// `None` when it cannot be a code at all, so nothing is computed for it.
pub fn read_totp_code(typed: &str) -> Option<String> {
    let code: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    (code.len() == TOTP_DIGITS && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// A recovery code as typed (`abcde-fghjk`, upper or lower case, with or
/// without the hyphen or spaces) to the form it is stored under. `None`
/// when it cannot be one.
pub fn read_recovery_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == RECOVERY_CODE_CHARS && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))).then_some(code)
}

/// Recovery codes from the caller's random bytes (this crate draws none),
/// as they are shown: `abcde-fghjk`. Each byte picks one character; 32
/// divides 256, so every character is equally likely.
pub fn recovery_codes(random: &[u8; RECOVERY_CODES * RECOVERY_CODE_CHARS]) -> Vec<String> {
    random
        .chunks(RECOVERY_CODE_CHARS)
        .map(|chunk| {
            let chars: String = chunk
                .iter()
                .map(|b| char::from(RECOVERY_ALPHABET[usize::from(*b) % RECOVERY_ALPHABET.len()]))
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// Whether a person who proved their password must now give a second
/// factor: exactly when they have enrolled one.
pub fn second_step_required(enrolled: bool) -> bool {
    enrolled
}

/// Whether a signed-in person must enrol a second factor before anything
/// else: their tenant requires it of everyone holding an `admin:`
/// permission, they hold one (or a `tenants:` one, which administers more
/// than a tenant), and they have not enrolled.
pub fn must_enrol(tenant_requires: bool, permissions: PermissionSet, enrolled: bool) -> bool {
    tenant_requires
        && !enrolled
        && permissions
            .iter()
            .any(|p| matches!(p.module, Module::Admin | Module::Tenants))
}

/// How long the one-time link of each purpose lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// A new user sets a first password: 48 hours, time to read the mail.
    Invitation,
    /// Someone who forgot theirs: an hour, since the mailbox may be shared.
    Reset,
}

impl LinkPurpose {
    pub const fn lifetime_secs(self) -> i64 {
        match self {
            Self::Invitation => 48 * 3600,
            Self::Reset => 3600,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Invitation => "invitation",
            Self::Reset => "reset",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "invitation" => Some(Self::Invitation),
            "reset" => Some(Self::Reset),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permission::{Action, Permission};
    use proptest::prelude::*;

    #[test]
    fn a_code_is_accepted_once_and_never_an_older_one() {
        assert!(accepts_step(None, 100));
        assert!(!accepts_step(Some(100), 100));
        assert!(!accepts_step(Some(100), 99));
        assert!(accepts_step(Some(100), 101));
    }

    #[test]
    fn codes_are_read_as_people_type_them() {
        assert_eq!(read_totp_code(" 123 456 ").as_deref(), Some("123456"));
        for bad in ["12345", "1234567", "12345a", "", "１２３４５６"] {
            assert_eq!(read_totp_code(bad), None, "{bad}");
        }
        assert_eq!(read_recovery_code("ABCDE-FGHJK").as_deref(), Some("abcdefghjk"));
        assert_eq!(read_recovery_code("abcde fghjk").as_deref(), Some("abcdefghjk"));
        for bad in ["abcde-fghj", "abcde-fghjkm", "abcde-fghj1", "abcde-fghj0", "abcde-fghj8"] {
            assert_eq!(read_recovery_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn enrolment_is_required_only_of_administrators_who_have_none() {
        let mut admin = PermissionSet::EMPTY;
        admin.insert(Permission::new(Module::Admin, Action::View));
        let mut engage = PermissionSet::EMPTY;
        engage.insert(Permission::new(Module::Engage, Action::View));
        assert!(must_enrol(true, admin, false));
        assert!(!must_enrol(true, admin, true));
        assert!(!must_enrol(false, admin, false));
        assert!(!must_enrol(true, engage, false));
        let mut platform = PermissionSet::EMPTY;
        platform.insert(Permission::new(Module::Tenants, Action::Delete));
        assert!(must_enrol(true, platform, false));
    }

    #[test]
    fn links_last_as_the_contract_says() {
        assert_eq!(LinkPurpose::Invitation.lifetime_secs(), 172_800);
        assert_eq!(LinkPurpose::Reset.lifetime_secs(), 3_600);
        for purpose in [LinkPurpose::Invitation, LinkPurpose::Reset] {
            assert_eq!(LinkPurpose::parse(purpose.as_str()), Some(purpose));
        }
    }

    proptest! {
        #[test]
        fn every_recovery_code_made_reads_back(random in proptest::collection::vec(any::<u8>(), RECOVERY_CODES * RECOVERY_CODE_CHARS)) {
            let random: [u8; RECOVERY_CODES * RECOVERY_CODE_CHARS] = random.try_into().unwrap();
            let codes = recovery_codes(&random);
            prop_assert_eq!(codes.len(), RECOVERY_CODES);
            for code in &codes {
                let read = read_recovery_code(code).unwrap();
                prop_assert_eq!(read.len(), RECOVERY_CODE_CHARS);
                prop_assert_eq!(read_recovery_code(&code.to_uppercase()), Some(read));
            }
        }

        #[test]
        fn steps_are_accepted_in_strictly_increasing_order(steps in proptest::collection::vec(0u64..50, 1..30)) {
            let mut last = None;
            let mut accepted = Vec::new();
            for step in steps {
                if accepts_step(last, step) {
                    accepted.push(step);
                    last = Some(step);
                }
            }
            prop_assert!(accepted.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
