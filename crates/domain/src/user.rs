//! User accounts: the people who sign in to cb Admin.

use crate::account::AccountRef;
use crate::email::Email;
use crate::form::{self, Storage, rule};
use crate::role::seed_role_id;
use crate::shape::{Field, Kind, Shaped};
use crate::text::TextRule;
use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use validator::{Validate, ValidateArgs};

const USER_NAME: TextRule = TextRule {
    field: "name",
    max_chars: 100,
    multiline: false,
};

/// NIST SP 800-63B: at least 8; we ask 12 for administrators' accounts, and
/// cap the length so hashing cost stays bounded.
pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A password as submitted. `Debug` never prints it, and neither does
/// `Serialize`, which writes `"[redacted]"`: only the request bodies that
/// carry a password write it, each naming this crate's `expose_password`
/// for that field, so a password never reaches a log, a cache or a
/// validation error's parameters through a derived `Serialize`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Serialize for Password {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

server_pub! {
    /// Writes a password into a request body; for `#[serde(serialize_with)]`
    /// on the fields that carry one.
    pub fn expose_password<S: serde::Serializer>(password: &Password, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(password.expose())
    }
}

server_pub! {
    /// [`expose_password`] for an optional password.
    pub fn expose_optional_password<S: serde::Serializer>(
        password: &Option<Password>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match password {
            Some(password) => serializer.serialize_some(password.expose()),
            None => serializer.serialize_none(),
        }
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

    /// The strength rule for a new password.
    pub fn check_new(&self) -> Result<(), FieldError> {
        NewPassword { password: self }
            .validate()
            .map_err(|e| first(form::report(e, &[Field::required("password", Kind::Text)])))
    }
}

/// The one error a single-field check reports.
fn first(errors: ValidationErrors) -> FieldError {
    errors
        .into_errors()
        .into_iter()
        .next()
        .unwrap_or_else(|| FieldError::new("password", ErrorCode::InvalidValue, "password is not valid"))
}

/// Validator counts what [`Password`] holds in characters, as a person does.
impl validator::ValidateLength<u64> for Password {
    fn length(&self) -> Option<u64> {
        Some(self.0.chars().count() as u64)
    }
}

/// [`MIN_PASSWORD_CHARS`] as validator counts.
const MIN_PASSWORD_LEN: u64 = MIN_PASSWORD_CHARS as u64;

/// The strength rule, declared once; [`Password::check_new`] applies it.
#[derive(Validate)]
struct NewPassword<'a> {
    #[validate(
        length(
            min = MIN_PASSWORD_LEN,
            code = "too_short",
            message = "password must be at least 12 characters"
        ),
        custom(function = "password_not_too_long")
    )]
    password: &'a Password,
}

/// validator has one `length` rule per field, and ours has two codes.
fn password_not_too_long(password: &Password) -> Result<(), validator::ValidationError> {
    if password.0.chars().count() > MAX_PASSWORD_CHARS {
        return Err(form::to_validator(FieldError::new(
            "password",
            ErrorCode::TooLong,
            format!("password must be at most {MAX_PASSWORD_CHARS} characters"),
        )));
    }
    Ok(())
}

fn password_rule(password: &Password) -> Result<(), validator::ValidationError> {
    rule(password.check_new())
}

fn name_rule(raw: &str) -> Result<(), validator::ValidationError> {
    rule(USER_NAME.required(raw))
}

#[cfg(test)]
#[test]
fn a_password_is_written_only_where_a_body_carries_it() {
    let password = Password::new("correct horse battery staple");
    assert_eq!(serde_json::to_string(&password).unwrap(), r#""[redacted]""#);
    let form = UserForm::new("jo@agency.org", "Jo", password.clone());
    let body = serde_json::to_value(&form).unwrap();
    assert_eq!(body["password"], "correct horse battery staple");
    let change = serde_json::to_value(UserChange::new().password(password)).unwrap();
    assert_eq!(change["password"], "correct horse battery staple");
    assert!(
        serde_json::to_value(UserChange::new())
            .unwrap()
            .get("password")
            .is_none()
    );
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// A new user account.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[validate(context = "Storage<'v_a>")]
#[non_exhaustive]
pub struct UserForm {
    #[validate(
        custom(function = "form::email_address"),
        custom(function = "form::email_free", use_context)
    )]
    pub email: String,
    #[validate(custom(function = "name_rule"))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Password, min_length = 12))]
    #[serde(serialize_with = "crate::user::expose_password")]
    #[validate(custom(function = "password_rule"))]
    pub password: Password,
    #[serde(default)]
    #[validate(custom(function = "form::user_roles", use_context))]
    pub roles: Vec<String>,
}

/// A change to a user: absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[validate(context = "Storage<'v_a>")]
#[non_exhaustive]
pub struct UserChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(
        custom(function = "form::email_address"),
        custom(function = "form::email_free", use_context)
    )]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "name_rule"))]
    pub name: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::user::expose_optional_password"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Password))]
    #[validate(custom(function = "password_rule"))]
    pub password: Option<Password>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "form::user_roles", use_context))]
    pub roles: Option<Vec<String>>,
}

impl Shaped for UserForm {
    const FIELDS: &'static [Field] = &[
        Field::required("email", Kind::Text),
        Field::required("name", Kind::Text),
        Field::required("password", Kind::Text),
        Field::optional("roles", Kind::TextList),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        self.check(&Storage::offline())
    }
}

impl Shaped for UserChange {
    const FIELDS: &'static [Field] = &[
        Field::optional("email", Kind::Text),
        Field::optional("name", Kind::Text),
        Field::optional("password", Kind::Text),
        Field::optional("roles", Kind::TextList),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        self.check(&Storage::offline())
    }
}

server_pub! {
    /// What storage knows that the user rules need.
    #[derive(Debug, Clone, Default)]
    pub struct UserFacts {
        pub existing_roles: HashSet<String>,
        pub email_holder: Option<AccountRef>,
    }
}

impl UserFacts {
    fn storage<'a>(&'a self, claimant: Option<&'a AccountRef>) -> Storage<'a> {
        Storage::new(&self.existing_roles, self.email_holder.as_ref(), claimant)
    }
}

server_pub! {
    /// A user that passed every rule; only [`UserForm::validate`] and
    /// [`NewUser::first_administrator`] make one.
    #[derive(Debug, Clone)]
    pub struct NewUser {
        email: Email,
        name: String,
        password: Password,
        roles: Vec<String>,
    }
}

server_pub! {
    /// The name and role of the account a new install starts with.
    pub const FIRST_ADMINISTRATOR_NAME: &str = "Administrator";
}

impl NewUser {
    /// The account a new install starts with: named "Administrator", holding
    /// the seeded Administrator role, at `email` (the configured address,
    /// else [`DEFAULT_ADMIN_EMAIL`](crate::email::DEFAULT_ADMIN_EMAIL)). The
    /// default address has no dotted domain, so the account rule would refuse
    /// it; it is accepted here and nowhere else. Every other rule applies:
    /// a configured address must be valid and the password strong.
    pub fn first_administrator(email: &str, password: Password) -> Result<Self, ValidationErrors> {
        let role = seed_role_id(FIRST_ADMINISTRATOR_NAME);
        let default_address = email == crate::email::DEFAULT_ADMIN_EMAIL;
        let form = UserForm {
            // Any valid address stands in while the rest is checked.
            email: if default_address {
                "admin@localhost.invalid".to_owned()
            } else {
                email.to_owned()
            },
            name: FIRST_ADMINISTRATOR_NAME.to_owned(),
            password,
            roles: vec![role.clone()],
        };
        let facts = UserFacts {
            existing_roles: [role].into(),
            email_holder: None,
        };
        let user = form.validate(&facts)?;
        Ok(if default_address {
            Self {
                email: Email::default_admin(),
                ..user
            }
        } else {
            user
        })
    }

    pub fn email(&self) -> &Email {
        &self.email
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn password(&self) -> &Password {
        &self.password
    }

    pub fn roles(&self) -> &[String] {
        &self.roles
    }
}

server_pub! {
    /// A change that passed every rule; `None` leaves a field as it is. Only
    /// [`UserChange::validate`] makes one.
    #[derive(Debug, Clone)]
    pub struct ValidUserChange {
        email: Option<Email>,
        name: Option<String>,
        password: Option<Password>,
        roles: Option<Vec<String>>,
    }
}

impl ValidUserChange {
    pub fn email(&self) -> Option<&Email> {
        self.email.as_ref()
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub fn password(&self) -> Option<&Password> {
        self.password.as_ref()
    }

    pub fn roles(&self) -> Option<&[String]> {
        self.roles.as_deref()
    }
}

impl UserForm {
    /// Every rule that needs no storage: what the SDK checks before sending.
    /// Whether the address is free and the roles exist is the server's to say.
    pub fn validate_offline(&self) -> Result<(), ValidationErrors> {
        self.check(&Storage::offline())
    }

    server_pub! {
        pub fn validate(&self, facts: &UserFacts) -> Result<NewUser, ValidationErrors> {
            self.check(&facts.storage(None))?;
            // Each rule passed above; parsing again keeps the values they vouch for.
            Ok(NewUser {
                email: Email::parse(&self.email)?,
                name: USER_NAME.required(&self.name)?,
                password: self.password.clone(),
                roles: self.roles.clone(),
            })
        }
    }

    fn check(&self, storage: &Storage<'_>) -> Result<(), ValidationErrors> {
        self.validate_with_args(storage)
            .map_err(|e| form::report(e, Self::FIELDS))
    }
}

impl UserChange {
    /// Every rule that needs no storage, as [`UserForm::validate_offline`].
    pub fn validate_offline(&self) -> Result<(), ValidationErrors> {
        self.check(&Storage::offline())
    }

    server_pub! {
        pub fn validate(&self, facts: &UserFacts, me: &AccountRef) -> Result<ValidUserChange, ValidationErrors> {
            // A form sends every field back. The account's own address,
            // sent back as it is stored, is no change even where today's
            // rule would refuse it: the default first administrator's
            // `admin@localhost` must not stop it changing its password.
            if let Some(email) = &self.email
                && facts.email_holder.as_ref() == Some(me)
                && Email::parse(email).is_err()
            {
                return Self { email: None, ..self.clone() }.validate(facts, me);
            }
            self.check(&facts.storage(Some(me)))?;
            Ok(ValidUserChange {
                email: self.email.as_deref().map(Email::parse).transpose()?,
                name: self.name.as_deref().map(|n| USER_NAME.required(n)).transpose()?,
                password: self.password.clone(),
                roles: self.roles.clone(),
            })
        }
    }

    fn check(&self, storage: &Storage<'_>) -> Result<(), ValidationErrors> {
        self.validate_with_args(storage)
            .map_err(|e| form::report(e, Self::FIELDS))
    }
}

server_pub! {
    /// How long an admin session lasts: a working day.
    pub const SESSION_LIFETIME_SECS: i64 = 8 * 3600;
}

server_pub! {
    /// People may not remove their own account: an install must not lose its
    /// last administrator to a slip, and a removal is for another admin to make.
    pub fn may_remove(caller: &AccountRef, target: &AccountRef) -> bool {
        caller != target
    }
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
    fn the_default_administrator_sends_its_own_address_back_with_a_new_password() {
        let me = AccountRef::new(AccountKind::User, "u1");
        let change = UserChange {
            email: Some(crate::email::DEFAULT_ADMIN_EMAIL.into()),
            password: Some(Password::new("a new long enough password")),
            ..UserChange::default()
        };
        let own = UserFacts {
            email_holder: Some(me.clone()),
            ..UserFacts::default()
        };
        let valid = change.validate(&own, &me).expect("its own address is no change");
        assert!(valid.email().is_none());
        assert!(valid.password().is_some());
        // Anyone else's address, or none at all, is still judged by the rule.
        let nobodys = UserFacts::default();
        assert!(
            change
                .validate(&nobodys, &me)
                .unwrap_err()
                .has("email", ErrorCode::InvalidEmail)
        );
    }

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
    fn the_first_administrator_may_have_the_default_address_and_no_other_exception() {
        let admin = NewUser::first_administrator(
            crate::email::DEFAULT_ADMIN_EMAIL,
            Password::new("a long enough password"),
        )
        .unwrap();
        assert_eq!(admin.email().as_str(), "admin@localhost");
        assert_eq!(admin.name(), "Administrator");
        assert_eq!(admin.roles(), ["administrator"]);
        assert_eq!(admin.password().expose(), "a long enough password");
        // Anyone else with that address is refused.
        let form = UserForm {
            email: "admin@localhost".into(),
            name: "Jo".into(),
            password: Password::new("a long enough password"),
            roles: vec![],
        };
        assert!(
            form.validate(&UserFacts::default())
                .unwrap_err()
                .has("email", ErrorCode::InvalidEmail)
        );
        let configured =
            NewUser::first_administrator(" Ops@Agency.org ", Password::new("a long enough password")).unwrap();
        assert_eq!(configured.email().as_str(), "Ops@Agency.org");
        let bad = NewUser::first_administrator("ops@localhost", Password::new("short")).unwrap_err();
        assert!(bad.has("email", ErrorCode::InvalidEmail) && bad.has("password", ErrorCode::TooShort));
        let weak = NewUser::first_administrator(crate::email::DEFAULT_ADMIN_EMAIL, Password::new("short")).unwrap_err();
        assert_eq!(
            weak.errors(),
            [FieldError::new(
                "password",
                ErrorCode::TooShort,
                "password must be at least 12 characters"
            )]
        );
    }

    #[test]
    fn the_password_rule_counts_characters() {
        assert!(Password::new("é".repeat(MIN_PASSWORD_CHARS)).check_new().is_ok());
        let short = Password::new("é".repeat(MIN_PASSWORD_CHARS - 1))
            .check_new()
            .unwrap_err();
        assert_eq!(
            short.message,
            format!("password must be at least {MIN_PASSWORD_CHARS} characters")
        );
        assert!(Password::new("p".repeat(MAX_PASSWORD_CHARS)).check_new().is_ok());
        let long = Password::new("p".repeat(MAX_PASSWORD_CHARS + 1))
            .check_new()
            .unwrap_err();
        assert_eq!((long.field.as_str(), long.code), ("password", ErrorCode::TooLong));
        assert_eq!(long.message, "password must be at most 1024 characters");
    }

    proptest::proptest! {
        #[test]
        fn a_password_is_accepted_exactly_within_its_bounds(len in 0usize..1100) {
            let result = Password::new("x".repeat(len)).check_new();
            proptest::prop_assert_eq!(result.is_ok(), (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&len));
        }
    }

    #[test]
    fn password_debug_is_redacted() {
        assert_eq!(format!("{:?}", Password::new("hunter2hunter2")), "Password([redacted])");
    }
}
