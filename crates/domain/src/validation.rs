//! Field errors with stable machine codes, collected rather than returned one by one.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A stable, machine-readable reason a field was refused. The wire form is the
/// snake_case name; clients match on it, so variants are only ever added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    Required,
    TooShort,
    TooLong,
    InvalidCharacters,
    InvalidEmail,
    EmailInUse,
    InvalidUrl,
    UnknownRole,
    DuplicateRole,
    InvalidPermission,
    DuplicatePermission,
    NameInUse,
    InvalidValue,
    // The JSON value is not of the field's type: a number where text goes,
    // a list of something other than strings, ….
    InvalidType,
    // The body names a field the form does not have.
    UnknownField,
    // A registered key carries private members (`d`, `p`, …, or a symmetric `k`).
    PrivateKeyMaterial,
    // Two registered keys share a `kid`.
    DuplicateKid,
    // An RSA key of fewer than 2048 bits.
    WeakKey,
    // A key type, curve, size or algorithm this server does not verify with.
    UnsupportedKey,
    // A URL the server would fetch names a loopback, private or otherwise
    // non-public address.
    PrivateAddress,
    // A new password a guesser would try early: commonly used, a repetition
    // or a sequence, invisible, or the account's own address.
    WeakPassword,
    /// A code this version does not know, from a newer server: never sent by
    /// this one. [`FieldError::code_str`] gives the server's code.
    #[serde(skip)]
    Unrecognized,
}

impl ErrorCode {
    pub const ALL: [Self; 21] = [
        Self::Required,
        Self::TooShort,
        Self::TooLong,
        Self::InvalidCharacters,
        Self::InvalidEmail,
        Self::EmailInUse,
        Self::InvalidUrl,
        Self::UnknownRole,
        Self::DuplicateRole,
        Self::InvalidPermission,
        Self::DuplicatePermission,
        Self::NameInUse,
        Self::InvalidValue,
        Self::InvalidType,
        Self::UnknownField,
        Self::PrivateKeyMaterial,
        Self::DuplicateKid,
        Self::WeakKey,
        Self::UnsupportedKey,
        Self::PrivateAddress,
        Self::WeakPassword,
    ];

    /// The code whose wire form is `value`.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::InvalidCharacters => "invalid_characters",
            Self::InvalidEmail => "invalid_email",
            Self::EmailInUse => "email_in_use",
            Self::InvalidUrl => "invalid_url",
            Self::UnknownRole => "unknown_role",
            Self::DuplicateRole => "duplicate_role",
            Self::InvalidPermission => "invalid_permission",
            Self::DuplicatePermission => "duplicate_permission",
            Self::NameInUse => "name_in_use",
            Self::InvalidValue => "invalid_value",
            Self::InvalidType => "invalid_type",
            Self::UnknownField => "unknown_field",
            Self::PrivateKeyMaterial => "private_key_material",
            Self::DuplicateKid => "duplicate_kid",
            Self::WeakKey => "weak_key",
            Self::UnsupportedKey => "unsupported_key",
            Self::PrivateAddress => "private_address",
            Self::WeakPassword => "weak_password",
            Self::Unrecognized => "unrecognized",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One refused field: which, why (stable code) and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    #[cfg_attr(
        not(feature = "openapi"),
        doc = "The field's name, or its JSON pointer for a nested one; `\"\"` for the whole body."
    )]
    pub field: String,
    #[cfg_attr(not(feature = "openapi"), doc = "Why it was refused.")]
    pub code: ErrorCode,
    #[cfg_attr(not(feature = "openapi"), doc = "The reason, for people.")]
    pub message: String,
    /// The server's code when [`ErrorCode::Unrecognized`].
    #[serde(skip)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    unrecognized: Option<Box<str>>,
}

impl Serialize for FieldError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("FieldError", 3)?;
        s.serialize_field("field", &self.field)?;
        s.serialize_field("code", self.code_str())?;
        s.serialize_field("message", &self.message)?;
        s.end()
    }
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
            unrecognized: None,
        }
    }

    /// A refusal whose code this version does not know, kept as the server sent it.
    pub fn unrecognized(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            unrecognized: Some(code.into().into_boxed_str()),
            ..Self::new(field, ErrorCode::Unrecognized, message)
        }
    }

    /// The code as the server wrote it, known to this version or not.
    pub fn code_str(&self) -> &str {
        self.unrecognized.as_deref().unwrap_or(self.code.as_str())
    }

    /// The refusal of an address another account holds. Storage answers it
    /// too, when a concurrent claim wins a race the facts could not see.
    pub fn email_in_use() -> Self {
        Self::new(
            "email",
            ErrorCode::EmailInUse,
            "this address belongs to an existing Casebook account; use another (a group mailbox or a +tag sub-address serves)",
        )
    }
}

/// The most errors one answer lists: a body of a few kilobytes naming
/// thousands of unknown roles must not become an answer of megabytes.
pub const MAX_LISTED_ERRORS: usize = 100;

/// Every violation found in one input. Never empty when returned as an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors {
    errors: Vec<FieldError>,
}

impl ValidationErrors {
    /// The first [`MAX_LISTED_ERRORS`] violations, in order, and how many
    /// more there were: what an answer shows.
    pub fn listed(self) -> (Vec<FieldError>, usize) {
        let mut errors = self.errors;
        let more = errors.len().saturating_sub(MAX_LISTED_ERRORS);
        errors.truncate(MAX_LISTED_ERRORS);
        (errors, more)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let more = self.errors.len().saturating_sub(MAX_LISTED_ERRORS);
        for e in self.errors.iter().take(MAX_LISTED_ERRORS) {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            // `""` is the whole body (RFC 6901): its message stands alone.
            if e.field.is_empty() {
                f.write_str(&e.message)?;
            } else {
                write!(f, "{}: {}", e.field, e.message)?;
            }
        }
        if more > 0 {
            write!(f, "; and {more} more, not listed")?;
        }
        Ok(())
    }
}

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// Records the error of a field check and keeps its value when it passed.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.errors.push(error);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    pub fn has(&self, field: &str, code: ErrorCode) -> bool {
        self.errors.iter().any(|e| e.field == field && e.code == code)
    }

    /// `Ok(value)` when nothing was recorded, else every recorded error.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, ValidationErrors> {
        if self.errors.is_empty() { Ok(value()) } else { Err(self) }
    }
}

impl From<FieldError> for ValidationErrors {
    fn from(error: FieldError) -> Self {
        Self { errors: vec![error] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_lists_at_most_a_hundred_errors_and_counts_the_rest() {
        let mut errors = ValidationErrors::new();
        for n in 0..150 {
            errors.push(FieldError::new(
                "roles",
                ErrorCode::UnknownRole,
                format!("role r{n} does not exist"),
            ));
        }
        let detail = errors.to_string();
        assert!(detail.ends_with("; and 50 more, not listed"), "{detail}");
        assert!(detail.contains("r99") && !detail.contains("r100"));
        let (listed, more) = errors.listed();
        assert_eq!((listed.len(), more), (MAX_LISTED_ERRORS, 50));
        assert_eq!(listed[0].message, "role r0 does not exist");
    }

    #[test]
    fn every_code_parses_back_from_its_wire_form() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
        assert_eq!(ErrorCode::parse("length"), None);
        // A new variant stops this match compiling: add it here and to `ALL`.
        let listed = |code: ErrorCode| match code {
            ErrorCode::Required
            | ErrorCode::TooShort
            | ErrorCode::TooLong
            | ErrorCode::InvalidCharacters
            | ErrorCode::InvalidEmail
            | ErrorCode::EmailInUse
            | ErrorCode::InvalidUrl
            | ErrorCode::UnknownRole
            | ErrorCode::DuplicateRole
            | ErrorCode::InvalidPermission
            | ErrorCode::DuplicatePermission
            | ErrorCode::NameInUse
            | ErrorCode::InvalidValue
            | ErrorCode::InvalidType
            | ErrorCode::UnknownField
            | ErrorCode::PrivateKeyMaterial
            | ErrorCode::DuplicateKid
            | ErrorCode::WeakKey
            | ErrorCode::UnsupportedKey
            | ErrorCode::PrivateAddress
            | ErrorCode::WeakPassword => ErrorCode::ALL.contains(&code),
            // Never sent: a reader's stand-in for a newer server's code.
            ErrorCode::Unrecognized => !ErrorCode::ALL.contains(&code),
        };
        assert!(ErrorCode::ALL.into_iter().all(listed));
        assert!(listed(ErrorCode::Unrecognized));
        assert_eq!(ErrorCode::parse("unrecognized"), None);
    }

    #[test]
    fn the_email_in_use_refusal_is_the_documented_one() {
        let e = FieldError::email_in_use();
        assert_eq!((e.field.as_str(), e.code), ("email", ErrorCode::EmailInUse));
        assert_eq!(
            e.message,
            "this address belongs to an existing Casebook account; use another (a group mailbox or a +tag sub-address serves)"
        );
    }
}
