//! What a person's new password must be: the contract's password policy
//! ("Wire shapes", a user). It follows NIST SP 800-63B: a length, no
//! composition rules, and a refusal of what is known to be guessed first —
//! commonly used passwords, repetitions and sequences, and the account's own
//! address. Partners run it offline through the forms or
//! [`judge_new_password`], and see the server's answer before sending.

use crate::validation::{ErrorCode, FieldError};
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// NIST SP 800-63B: at least 8; we ask 12 for administrators' accounts, and
/// cap the length so hashing cost stays bounded.
pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A password as submitted. `Debug` never prints it, and neither does
/// `Serialize`, which writes `"[redacted]"`: only the request bodies that
/// carry a password write it, each naming `user::expose_password` for that
/// field, so a password never reaches a log, a cache or a validation
/// error's parameters through a derived `Serialize`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Serialize for Password {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl Password {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The password itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The policy for a new password where no address is known (a tenant's
    /// first administrator is judged by its form, a user by theirs).
    pub fn check_new(&self) -> Result<(), FieldError> {
        judge_new_password(self, None)
    }

    /// The policy for a new password of the account at `email`.
    pub fn check_new_for(&self, email: &str) -> Result<(), FieldError> {
        judge_new_password(self, Some(email))
    }
}

/// Whether `password` may be a person's new password, given the address of
/// their account when known. A refusal is one error on the field
/// `password`: `too_short` or `too_long` for the length, else
/// `weak_password`, its message saying why:
///
/// - only spaces or invisible characters;
/// - one of the 10,000 most commonly used passwords, or one of them with a
///   few digits or symbols around it (`password1234`, `iloveyou2024!`);
/// - one character or a group shorter than [`MIN_PASSWORD_CHARS`] repeated
///   (`aaaaaaaaaaaa`, `passwordpassword`), or a run of consecutive digits,
///   letters or neighbouring keys (`123456789012`, `qwertyuiopas`), either
///   possibly with a few digits or symbols around it (`qwerty123456`);
/// - the address itself or its part before the `@`, or a password whose
///   letters, once its digits, spaces and symbols are dropped, are exactly
///   those of that part (`Jo.Lee-2024` for `jo.lee@agency.org`).
///
/// Case and surrounding whitespace never matter.
pub fn judge_new_password(password: &Password, email: Option<&str>) -> Result<(), FieldError> {
    let chars = password.0.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(FieldError::new(
            "password",
            ErrorCode::TooShort,
            format!("password must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(FieldError::new(
            "password",
            ErrorCode::TooLong,
            format!("password must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    match weakness(&password.0, email) {
        Some(why) => Err(FieldError::new("password", ErrorCode::WeakPassword, why)),
        None => Ok(()),
    }
}

const ONLY_INVISIBLE: &str = "password is only spaces or invisible characters";
const COMMON: &str = "password is one of the most commonly used passwords";
const COMMON_DECORATED: &str = "password is a commonly used password with a few digits or symbols added";
const REPEATED: &str = "password repeats one character or a short group of characters";
const SEQUENCE: &str = "password is a run of consecutive letters, digits or neighbouring keys";
const LIKE_EMAIL: &str = "password must not be your email address or its first part";

fn weakness(password: &str, email: Option<&str>) -> Option<&'static str> {
    if password.chars().all(is_invisible) {
        return Some(ONLY_INVISIBLE);
    }
    let folded = fold(password);
    if let Some(email) = email
        && resembles_address(&folded, email)
    {
        return Some(LIKE_EMAIL);
    }
    let chars: Vec<char> = folded.chars().collect();
    // The same password spelt with look-alike symbols and digits
    // (`Pa$$w0rd`) is the same guess: symbols alone first, so that digits
    // added at the end stay a decoration, then digits too.
    let pattern = [chars.clone(), unleet(&chars, false), unleet(&chars, true)]
        .iter()
        .find_map(|spelling| predictable(spelling));
    let mut distinct = chars;
    distinct.sort_unstable();
    distinct.dedup();
    pattern.or((distinct.len() < MIN_DISTINCT_CHARS).then_some(FEW_CHARACTERS))
}

/// Fewer different characters than this is a pattern, whatever its order
/// (`aaaaaaaaaaab`, `00000000000x`): no person's passphrase has so few.
const MIN_DISTINCT_CHARS: usize = 5;
const FEW_CHARACTERS: &str = "password uses too few different characters";

/// `folded` with look-alike symbols (and, with `digits`, digits) read as
/// the letters they stand for.
fn unleet(folded: &[char], digits: bool) -> Vec<char> {
    folded
        .iter()
        .map(|c| match (c, digits) {
            ('$', _) => 's',
            ('@', _) => 'a',
            ('!', _) => 'i',
            ('0', true) => 'o',
            ('1', true) => 'i',
            ('3', true) => 'e',
            ('4', true) => 'a',
            ('5', true) => 's',
            ('7', true) => 't',
            (other, _) => *other,
        })
        .collect()
}

/// How two spellings of one password are made to compare equal: what a
/// person cannot see does not count wherever it stands (`pass\u{200b}word`),
/// nor do spaces between the letters (`p a s s w o r d`), nor case.
fn fold(password: &str) -> String {
    password
        .chars()
        .filter(|c| !is_invisible(*c))
        .collect::<String>()
        .to_lowercase()
}

/// A character that leaves no mark a person can see or tell apart from
/// none. A password of only these is what a slip of the clipboard or a
/// stuck key gives, and it cannot be read back or retyped reliably: other
/// systems strip or normalise them differently. Rust's standard library
/// knows White_Space (which holds all of Zs, the space separators) and Cc
/// (controls, tabs and newlines among them) but no general category, so the
/// format characters (Cf: zero-width spaces and joiners, U+2060, U+FEFF,
/// the soft hyphen, bidirectional marks, tags, …) are listed here from
/// Unicode 16, with the few letters and marks that fonts draw as blank.
fn is_invisible(c: char) -> bool {
    c.is_whitespace() || c.is_control() || is_format(c) || is_blank_glyph(c)
}

/// Unicode's general category Cf, as of Unicode 16; a new one is rare.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// Not Cf, yet drawn as nothing: the Hangul fillers (Lo), the blank braille
/// pattern (So), the combining grapheme joiner and the variation selectors
/// (Mn). Each is a known way to make a name or a password look empty.
fn is_blank_glyph(c: char) -> bool {
    matches!(
        c,
        '\u{115F}'
            | '\u{1160}'
            | '\u{3164}'
            | '\u{FFA0}'
            | '\u{2800}'
            | '\u{034F}'
            | '\u{180B}'..='\u{180D}'
            | '\u{180F}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

/// The list: the first 10,000 lines (most used first) of the common
/// passwords Django ships (`django/contrib/auth/common-passwords.txt.gz`,
/// Django 5.2.19, compiled by Royce Williams; lowercased and deduplicated),
/// under Django's BSD-3-Clause licence: see `common_passwords.LICENSE`.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

struct Listed {
    /// Sorted once for a binary search: unlike a `HashSet`, a sorted slice
    /// needs no random hash keys, and this crate takes no randomness.
    sorted: Vec<&'static str>,
    longest: usize,
}

static LISTED: LazyLock<Listed> = LazyLock::new(|| {
    let mut sorted: Vec<&'static str> = COMMON_PASSWORDS.lines().collect();
    sorted.sort_unstable();
    let longest = sorted.iter().map(|p| p.chars().count()).max().unwrap_or(0);
    Listed { sorted, longest }
});

fn is_listed(folded: &[char]) -> bool {
    let listed = &*LISTED;
    folded.len() <= listed.longest
        && listed
            .sorted
            .binary_search(&folded.iter().collect::<String>().as_str())
            .is_ok()
}

/// What a guesser tries early: strings a person walks along, not chooses.
/// Each is read both ways and round its end (`…7890`, `…9012`), the keyboard
/// rows also from one row into the next (`qwertyuiopas`), on QWERTY, QWERTZ
/// and AZERTY layouts.
const SEQUENCES: [&str; 10] = [
    "0123456789",
    "abcdefghijklmnopqrstuvwxyz",
    "qwertyuiopasdfghjklzxcvbnm",
    "qwertzuiopasdfghjklyxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "`1234567890-=",
    "~!@#$%^&*()_+",
    "qwertyuiop[]\\",
    "asdfghjkl;'",
    "zxcvbnm,./",
];

/// How far a decoration is looked for at either end: a longer one is only
/// ever a whole run or repetition, which the longest split still finds.
const DECORATION_SEARCH: usize = 16;

/// Why `folded` is predictable, if it is: a common password, a repetition
/// or a sequence, possibly with a predictable decoration before or after it
/// (`password1234`, `2024!qwerty`).
fn predictable(folded: &[char]) -> Option<&'static str> {
    let lead = folded.iter().take_while(|c| is_decoration_char(**c)).count();
    let trail = folded.iter().rev().take_while(|c| is_decoration_char(**c)).count();
    let lengths = |most: usize| (0..=most.min(DECORATION_SEARCH)).chain(std::iter::once(most));
    for before in lengths(lead) {
        for after in lengths(trail) {
            if before + after >= folded.len() {
                continue;
            }
            let (prefix, rest) = folded.split_at(before);
            let (core, suffix) = rest.split_at(rest.len() - after);
            if !(is_decoration(prefix) && is_decoration(suffix)) {
                continue;
            }
            let decorated = before + after > 0;
            if is_listed(core) {
                return Some(if decorated { COMMON_DECORATED } else { COMMON });
            }
            if repeats(core) {
                return Some(REPEATED);
            }
            if is_sequence(core) {
                return Some(SEQUENCE);
            }
        }
    }
    None
}

fn is_decoration_char(c: char) -> bool {
    c.is_ascii_digit() || c.is_ascii_punctuation() || c == ' '
}

/// What people add to a word to get past a rule: a few digits, a few
/// symbols, or both (`1234`, `!!`, `2024!`, `#1`), or digits or symbols
/// that are themselves a repetition or a run (`123456`, `!!!!!!`).
fn is_decoration(part: &[char]) -> bool {
    if !part.iter().all(|c| is_decoration_char(*c)) {
        return false;
    }
    // Spaces between a word and its digits (`dragon 2025!`) add nothing to guess.
    let part: Vec<char> = part.iter().copied().filter(|c| *c != ' ').collect();
    let short_or_patterned = |group: &[char], most: usize| group.len() <= most || repeats(group) || is_sequence(group);
    // Digits then symbols, or symbols then digits.
    let digits_first = part.iter().take_while(|c| c.is_ascii_digit()).count();
    let symbols_first = part.iter().take_while(|c| !c.is_ascii_digit()).count();
    let (digits, symbols) = part.split_at(digits_first);
    let (leading_symbols, trailing_digits) = part.split_at(symbols_first);
    (symbols.iter().all(|c| !c.is_ascii_digit()) && short_or_patterned(digits, 4) && short_or_patterned(symbols, 3))
        || (trailing_digits.iter().all(char::is_ascii_digit)
            && short_or_patterned(trailing_digits, 4)
            && short_or_patterned(leading_symbols, 3))
}

/// One character or group repeated: the whole is known from its first
/// group. A group as long as [`MIN_PASSWORD_CHARS`] would pass on its own,
/// so repeating it is no weakness.
fn repeats(s: &[char]) -> bool {
    s.len() >= 3
        && (1..=(s.len() / 2).min(MIN_PASSWORD_CHARS - 1))
            .any(|unit| s.iter().skip(unit).zip(s).all(|(later, earlier)| later == earlier))
}

fn is_sequence(s: &[char]) -> bool {
    s.len() >= 3 && SEQUENCES.iter().any(|sequence| runs_along(sequence, s))
}

/// Whether each character of `s` is the next (or each the previous) of
/// `sequence`, round its end.
fn runs_along(sequence: &str, s: &[char]) -> bool {
    let keys: Vec<char> = sequence.chars().collect();
    let position = |c: &char| keys.iter().position(|k| k == c);
    let step = |from: usize, to: usize| (to + keys.len() - from) % keys.len();
    let (Some(first), Some(second)) = (position(&s[0]), position(&s[1])) else {
        return false;
    };
    let direction = step(first, second);
    if direction != 1 && direction != keys.len() - 1 {
        return false;
    }
    let mut at = second;
    s[2..].iter().all(|c| match position(c) {
        Some(next) if step(at, next) == direction => {
            at = next;
            true
        }
        _ => false,
    })
}

/// The address itself, its part before the `@`, or a password whose
/// letters are exactly that part's letters: digits, spaces and symbols
/// added or dropped (`JoLee2024!` for `jo.lee@agency.org`) are what a
/// guesser who knows the address tries first. A part with no letters
/// (`1234@agency.org`) is only compared whole.
fn resembles_address(folded: &str, email: &str) -> bool {
    let email = email.trim().to_lowercase();
    if email.is_empty() {
        return false;
    }
    let local = email.rsplit_once('@').map_or(email.as_str(), |(local, _)| local);
    let letters = |s: &str| s.chars().filter(|c| c.is_alphabetic()).collect::<String>();
    let local_letters = letters(local);
    folded == email || folded == local || (!local_letters.is_empty() && letters(folded) == local_letters)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn refusal(password: &str, email: Option<&str>) -> Option<(ErrorCode, String)> {
        judge_new_password(&Password::new(password), email)
            .err()
            .map(|e| (e.code, e.message))
    }

    fn weak(password: &str, why: &str) {
        assert_eq!(
            refusal(password, None),
            Some((ErrorCode::WeakPassword, why.to_owned())),
            "{password:?}"
        );
    }

    #[test]
    fn the_length_rule_comes_first_and_counts_characters() {
        assert_eq!(
            refusal("short", None),
            Some((
                ErrorCode::TooShort,
                "password must be at least 12 characters".to_owned()
            ))
        );
        // Eleven spaces are too short before they are invisible.
        assert_eq!(refusal(&" ".repeat(11), None).unwrap().0, ErrorCode::TooShort);
        assert_eq!(
            refusal(&"x7".repeat(600), None),
            Some((
                ErrorCode::TooLong,
                "password must be at most 1024 characters".to_owned()
            ))
        );
        assert!(Password::new("é ü ø ß ç ñ å").check_new().is_ok());
    }

    #[test]
    fn only_spaces_or_invisible_characters_are_refused() {
        for password in [
            " ".repeat(12),
            "\u{200B}".repeat(12),
            "\u{2060}".repeat(12),
            "\u{FEFF}".repeat(12),
            "\u{00AD}".repeat(12),
            "\t".repeat(12),
            "\u{3000}\u{00A0}\u{2007}\u{202F}".repeat(3),
            "\u{200B}\u{200C}\u{200D} \t\n\r\u{2060}\u{FEFF}\u{00AD}\u{3164}\u{2800}".to_owned(),
            "\u{E0041}".repeat(12),
        ] {
            weak(&password, ONLY_INVISIBLE);
        }
        // Among visible characters they are part of the password like any other.
        assert!(Password::new("correct\u{200B}horse\u{FEFF}battery").check_new().is_ok());
    }

    #[test]
    fn commonly_used_passwords_are_refused() {
        for password in [
            "password1234",
            "qwerty123456",
            "1qaz2wsx3edc",
            "Q1W2E3R4T5Y6",
            "  1q2w3e4r5t6y  ",
        ] {
            weak(password, COMMON);
        }
        // A listed password with a few digits or symbols around it.
        for password in [
            "password2024!",
            "iloveyou1234",
            "Sunshine1234",
            "!!monkey1234",
            "dragon 2025!!",
        ] {
            weak(password, COMMON_DECORATED);
        }
        // Random digits are no decoration.
        assert!(Password::new("dragon849271").check_new().is_ok());
    }

    /// What a first attack on the policy got through: invisible characters
    /// or spaces inside a listed password, look-alike symbols, and a
    /// repetition with one character changed.
    #[test]
    fn disguised_passwords_are_refused() {
        for password in [
            "pass\u{200b}word1234",
            "p a s s w o r d",
            "Pa$$word1234",
            "P@ssw0rd1234!",
        ] {
            let refused = Password::new(password).check_new().unwrap_err();
            assert_eq!(refused.code, ErrorCode::WeakPassword, "{password:?}");
        }
        for password in ["aaaaaaaaaaab", "00000000000x", "abababababac"] {
            weak(password, FEW_CHARACTERS);
        }
        // A passphrase of few letters repeated across words still has five.
        assert!(Password::new("a sturdy passphrase for work").check_new().is_ok());
    }

    #[test]
    fn repetitions_are_refused() {
        for password in [
            "aaaaaaaaaaaa",
            "passwordpassword",
            "abcabcabcabc",
            "AbcAbcAbcAbca",
            "xy!xy!xy!xy!",
            "!!!!!!!!!!!!!!",
        ] {
            weak(password, REPEATED);
        }
        // A group long enough to pass alone may be said twice.
        assert!(Password::new("correct horse correct horse ").check_new().is_ok());
    }

    #[test]
    fn sequences_are_refused() {
        for password in [
            "123456789012",
            "098765432109",
            "qwertyuiopas",
            "ASDFGHJKLZXC",
            "mnbvcxzlkjhg",
            "abcdefghijkl",
            "azertyuiopqs",
            "qwertzuiopas",
            "1234567890-=",
            "qwertyuiop[]\\",
            "!@#$%^&*()_+",
        ] {
            weak(password, SEQUENCE);
        }
        // With a decoration; some of these cores are on the list too, which speaks first.
        for password in ["qwertyuiop12", "abcdefgh1234", "zyxwvutsrq!!", "2024 asdfghjkl"] {
            assert_eq!(
                refusal(password, None).unwrap().0,
                ErrorCode::WeakPassword,
                "{password:?}"
            );
        }
        assert!(Password::new("qwertyasdfgz").check_new().is_ok());
    }

    #[test]
    fn the_address_and_its_first_part_are_refused() {
        let email = Some("Jo.Lee@Agency.org");
        for password in [
            "jo.lee@agency.org",
            " JO.LEE@AGENCY.ORG ",
            "jo.lee",
            "JoLee2024!!!",
            "jo lee 12345678",
        ] {
            let padded = format!("{password:<12}");
            assert_eq!(
                refusal(&padded, email),
                Some((ErrorCode::WeakPassword, LIKE_EMAIL.to_owned())),
                "{padded:?}"
            );
        }
        // Without the address, or for someone else's, the same passwords are fine.
        assert!(Password::new("JoLee2024!!!").check_new().is_ok());
        assert!(Password::new("JoLee2024!!!").check_new_for("sam@agency.org").is_ok());
        // A part with no letters is compared whole.
        assert!(
            Password::new("!!!!1234@pw.org")
                .check_new_for("1234@agency.org")
                .is_ok()
        );
        assert!(Password::new("stand in text").check_new_for("").is_ok());
    }

    #[test]
    fn ordinary_passphrases_and_generated_passwords_pass() {
        for password in [
            "correct horse battery staple",
            "correct horse battery",
            "a long enough password",
            "second admin password",
            "Bench-Zq3_kT9vL0xRw2mNc8Yp",
            "tR0ub4dor&3xk",
            "ЖёлтыйЗаборчик",
        ] {
            assert_eq!(refusal(password, Some("jo@agency.org")), None, "{password:?}");
        }
    }

    #[test]
    fn the_list_is_sorted_once_lowercase_and_whole() {
        let listed = &*LISTED;
        assert_eq!(listed.sorted.len(), 10_000);
        assert!(listed.sorted.windows(2).all(|pair| pair[0] < pair[1]), "no duplicates");
        assert!(listed.sorted.iter().all(|p| *p == p.to_lowercase() && *p == p.trim()));
        assert!(is_listed(&"123456".chars().collect::<Vec<_>>()));
    }

    proptest! {
        #[test]
        fn what_the_policy_accepts_is_long_enough_and_visible(password in "(\\PC|[ \t\u{200B}\u{FEFF}]){0,40}") {
            if Password::new(password.clone()).check_new().is_ok() {
                prop_assert!(password.chars().count() >= MIN_PASSWORD_CHARS);
                prop_assert!(!password.chars().all(is_invisible));
                prop_assert!(!password.trim().is_empty());
            }
        }

        #[test]
        fn the_address_rule_ignores_case(local in "[a-z]{2,10}(\\.[a-z]{2,8})?", domain in "[a-z]{2,10}\\.org", upper in any::<bool>(), digits in "[0-9]{0,4}") {
            let email = format!("{local}@{domain}");
            let padded = format!("{local}{digits}{}", "!".repeat(MIN_PASSWORD_CHARS));
            for password in [email.clone(), padded] {
                let password = if upper { password.to_uppercase() } else { password };
                let written = if upper { email.clone() } else { email.to_uppercase() };
                let refused = Password::new(password).check_new_for(&written).unwrap_err();
                prop_assert!(refused.code == ErrorCode::TooShort || refused.message == LIKE_EMAIL, "{:?}", refused);
            }
        }

        #[test]
        fn judging_never_panics(password in ".{0,200}", email in proptest::option::of(".{0,40}")) {
            let _ = judge_new_password(&Password::new(password), email.as_deref());
        }
    }
}
