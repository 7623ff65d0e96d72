//! Bounded free text: the shape shared by names, titles and descriptions.

use crate::validation::{ErrorCode, FieldError};

/// How a free-text field is checked.
#[derive(Debug, Clone, Copy)]
pub struct TextRule {
    pub field: &'static str,
    pub max_chars: usize,
    /// Single-line values (names, titles) refuse every control character;
    /// multi-line values (descriptions) accept newlines and tabs.
    pub multiline: bool,
}

impl TextRule {
    /// A required value: trimmed, at least one character, at most `max_chars`.
    pub fn required(&self, raw: &str) -> Result<String, FieldError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(FieldError::new(
                self.field,
                ErrorCode::Required,
                format!("{} is required", self.field),
            ));
        }
        self.bounded(value)
    }

    /// An optional value: blank counts as absent.
    pub fn optional(&self, raw: Option<&str>) -> Result<Option<String>, FieldError> {
        match raw.map(str::trim) {
            None | Some("") => Ok(None),
            Some(value) => self.bounded(value).map(Some),
        }
    }

    fn bounded(&self, value: &str) -> Result<String, FieldError> {
        // Count characters, not bytes: limits are what a person sees.
        let chars = value.chars().count();
        if chars > self.max_chars {
            return Err(FieldError::new(
                self.field,
                ErrorCode::TooLong,
                format!(
                    "{} must be at most {} characters (got {chars})",
                    self.field, self.max_chars
                ),
            ));
        }
        let allowed = |c: char| !c.is_control() || (self.multiline && matches!(c, '\n' | '\r' | '\t'));
        if !value.chars().all(allowed) {
            return Err(FieldError::new(
                self.field,
                ErrorCode::InvalidCharacters,
                format!("{} must not contain control characters", self.field),
            ));
        }
        Ok(value.to_owned())
    }
}
/// The form names are compared and searched in: unique role and application
/// names ignore case, and so do the list filters.
pub fn fold(name: &str) -> String {
    name.to_lowercase()
}
