//! Email addresses of Casebook accounts (users and applications alike).

use crate::validation::{ErrorCode, FieldError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The contract ("Applications"): at most 254 characters (RFC 5321's path limit less the brackets).
pub const MAX_EMAIL_CHARS: usize = 254;

/// The first administrator's address when `CASEBOOK_ADMIN_EMAIL` is unset.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@localhost";

/// A syntactically valid address. Displays as entered (trimmed); compares,
/// hashes and is stored for uniqueness by its normalised form, because the
/// contract compares addresses case-insensitively.
#[derive(Clone)]
pub struct Email {
    display: String,
    normalized: String,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::parse_field("email", raw)
    }

    pub fn parse_field(field: &str, raw: &str) -> Result<Self, FieldError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(FieldError::new(field, ErrorCode::Required, "email is required"));
        }
        if value.chars().count() > MAX_EMAIL_CHARS {
            return Err(FieldError::new(
                field,
                ErrorCode::TooLong,
                format!("email must be at most {MAX_EMAIL_CHARS} characters"),
            ));
        }
        if !is_valid_address(value) {
            return Err(FieldError::new(
                field,
                ErrorCode::InvalidEmail,
                "email must be an address like name@example.org",
            ));
        }
        Ok(Self {
            display: value.to_owned(),
            normalized: value.to_lowercase(),
        })
    }

    /// The contract's first administrator ("Running the service") when none is configured. `localhost` has
    /// no dot, so the account rule would refuse it; it is the one exception,
    /// made only by the server's first start, never from user input.
    pub(crate) fn default_admin() -> Self {
        Self {
            display: DEFAULT_ADMIN_EMAIL.to_owned(),
            normalized: DEFAULT_ADMIN_EMAIL.to_owned(),
        }
    }

    /// An address as typed at sign-in: normalised, not validated. A lookup
    /// with it can only find addresses that were valid when stored (or the
    /// default administrator), so there is nothing to refuse up front.
    pub fn for_lookup(raw: &str) -> Self {
        let display = raw.trim().to_owned();
        Self {
            normalized: display.to_lowercase(),
            display,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The form two addresses are compared by.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

fn is_valid_address(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.normalized == other.normalized
    }
}
impl Eq for Email {}

impl std::hash::Hash for Email {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.normalized.hash(state);
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.display
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({:?})", self.display)
    }
}

impl TryFrom<&str> for Email {
    type Error = FieldError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.display)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Email::parse(&raw).map_err(|e| serde::de::Error::custom(e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(input: &str, expected: Result<&str, ErrorCode>) {
        let got = Email::parse(input)
            .map(|e| e.normalized().to_owned())
            .map_err(|e| e.code);
        assert_eq!(got, expected.map(str::to_owned), "input {input:?}");
    }

    #[test]
    fn address_rules() {
        check("ops@agency.org", Ok("ops@agency.org"));
        check("  Ops+Casebook@Agency.ORG ", Ok("ops+casebook@agency.org"));
        check("first.last@sub.agency.gov", Ok("first.last@sub.agency.gov"));
        check("", Err(ErrorCode::Required));
        check("   ", Err(ErrorCode::Required));
        check("no-at-sign", Err(ErrorCode::InvalidEmail));
        check("a@localhost", Err(ErrorCode::InvalidEmail));
        check("@agency.org", Err(ErrorCode::InvalidEmail));
        check("a@agency.", Err(ErrorCode::InvalidEmail));
        check("a@.agency.org", Err(ErrorCode::InvalidEmail));
        check("a b@agency.org", Err(ErrorCode::InvalidEmail));
        check("a..b@agency.org", Err(ErrorCode::InvalidEmail));
        check("a@-agency.org", Err(ErrorCode::InvalidEmail));
        check("a@agency.org\n", Ok("a@agency.org"));
        check("a\u{0}@agency.org", Err(ErrorCode::InvalidEmail));
        check(
            &format!("{}@{}.org", "a".repeat(60), "b".repeat(200)),
            Err(ErrorCode::TooLong),
        );
    }

    #[test]
    fn comparison_ignores_case() {
        assert_eq!(Email::parse("A@B.org").unwrap(), Email::parse("a@b.ORG").unwrap());
        assert_eq!(Email::parse("A@B.org").unwrap().as_str(), "A@B.org");
    }

    proptest! {
        #[test]
        fn parsing_never_panics(raw in ".{0,300}") {
            let _ = Email::parse(&raw);
        }

        #[test]
        fn normalisation_is_idempotent(local in "[A-Za-z0-9+._-]{1,20}", domain in "[A-Za-z0-9]{1,10}\\.[A-Za-z]{2,5}") {
            let raw = format!(" {local}@{domain} ");
            if let Ok(once) = Email::parse(&raw) {
                let twice = Email::parse(once.normalized()).unwrap();
                prop_assert_eq!(once.normalized(), twice.normalized());
                let again = Email::parse(once.as_str()).unwrap();
                prop_assert_eq!(once.as_str(), again.as_str());
            }
        }
    }
}
