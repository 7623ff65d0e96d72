//! User accounts: the people who sign in to cb Admin.

use crate::account::AccountRef;
use crate::application::{email_rule, role_ids};
use crate::email::Email;
use crate::text::TextRule;
use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

const USER_NAME: TextRule = TextRule {
    field: "name",
    max_chars: 100,
    multiline: false,
};

/// NIST SP 800-63B: at least 8; we ask 12 for administrators' accounts, and
/// cap the length so hashing cost stays bounded.
pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A password as submitted. `Debug` never prints it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The strength rule for a new password.
    pub fn check_new(&self) -> Result<(), FieldError> {
        let chars = self.0.chars().count();
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
        Ok(())
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// A new user account.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UserForm {
    pub email: String,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Password, min_length = 12))]
    pub password: Password,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// A change to a user: absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Password))]
    pub password: Option<Password>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

/// What storage knows that the user rules need.
#[derive(Debug, Clone, Default)]
pub struct UserFacts {
    pub existing_roles: HashSet<String>,
    pub email_holder: Option<AccountRef>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub name: String,
    pub password: Password,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ValidUserChange {
    pub email: Option<Email>,
    pub name: Option<String>,
    pub password: Option<Password>,
    pub roles: Option<Vec<String>>,
}

/// Users may hold no role (they can still sign in and see themselves); the
/// listed ones must exist and appear once.
fn user_roles(raw: &[String], facts: &UserFacts, errors: &mut ValidationErrors) -> Option<Vec<String>> {
    if raw.is_empty() {
        return Some(vec![]);
    }
    match role_ids(raw, Some(&facts.existing_roles)) {
        Ok(roles) => Some(roles),
        Err(e) => {
            e.into_errors().into_iter().for_each(|e| errors.push(e));
            None
        }
    }
}

impl UserForm {
    pub fn validate(&self, facts: &UserFacts) -> Result<NewUser, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let email = errors.check(Email::parse(&self.email));
        if email.is_some() {
            errors.check(email_rule(facts.email_holder.as_ref(), None));
        }
        let name = errors.check(USER_NAME.required(&self.name));
        errors.check(self.password.check_new());
        let roles = user_roles(&self.roles, facts, &mut errors);
        match (email, name, roles) {
            (Some(email), Some(name), Some(roles)) if errors.is_empty() => Ok(NewUser {
                email,
                name,
                password: self.password.clone(),
                roles,
            }),
            _ => Err(errors),
        }
    }
}

impl UserChange {
    pub fn validate(&self, facts: &UserFacts, me: &AccountRef) -> Result<ValidUserChange, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let email = self.email.as_deref().and_then(|e| errors.check(Email::parse(e)));
        if email.is_some() {
            errors.check(email_rule(facts.email_holder.as_ref(), Some(me)));
        }
        let name = self.name.as_deref().and_then(|n| errors.check(USER_NAME.required(n)));
        if let Some(p) = &self.password {
            errors.check(p.check_new());
        }
        let roles = self.roles.as_deref().and_then(|r| user_roles(r, facts, &mut errors));
        errors.finish(|| ValidUserChange {
            email,
            name,
            password: self.password.clone(),
            roles,
        })
    }
}

/// How long an admin session lasts: a working day.
pub const SESSION_LIFETIME_SECS: i64 = 8 * 3600;

/// People may not remove their own account: an install must not lose its
/// last administrator to a slip, and a removal is for another admin to make.
pub fn may_remove(caller: &AccountRef, target: &AccountRef) -> bool {
    caller != target
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_do_not_remove_themselves() {
        use crate::account::AccountKind::{Application, User};
        assert!(!may_remove(&AccountRef::new(User, "u1"), &AccountRef::new(User, "u1")));
        assert!(may_remove(&AccountRef::new(User, "u1"), &AccountRef::new(User, "u2")));
        assert!(may_remove(
            &AccountRef::new(Application, "u1"),
            &AccountRef::new(User, "u1")
        ));
    }
    use crate::account::AccountKind;

    #[test]
    fn user_rules() {
        let facts = UserFacts {
            existing_roles: ["r1".to_string()].into(),
            email_holder: None,
        };
        let ok = UserForm {
            email: "jo@agency.org".into(),
            name: "Jo".into(),
            password: Password::new("correct horse battery"),
            roles: vec!["r1".into()],
        };
        assert!(ok.validate(&facts).is_ok());
        let bad = UserForm {
            email: "jo".into(),
            name: " ".into(),
            password: Password::new("short"),
            roles: vec!["zz".into()],
        };
        let e = bad.validate(&facts).unwrap_err();
        for (f, c) in [
            ("email", ErrorCode::InvalidEmail),
            ("name", ErrorCode::Required),
            ("password", ErrorCode::TooShort),
            ("roles", ErrorCode::UnknownRole),
        ] {
            assert!(e.has(f, c), "{f} {c}");
        }
        let held = UserFacts {
            email_holder: Some(AccountRef::new(AccountKind::Application, "a1")),
            ..facts
        };
        assert!(ok.validate(&held).unwrap_err().has("email", ErrorCode::EmailInUse));
    }

    #[test]
    fn password_debug_is_redacted() {
        assert_eq!(format!("{:?}", Password::new("hunter2hunter2")), "Password([redacted])");
    }
}
