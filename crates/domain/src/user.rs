//! User accounts: the people who sign in to cb Admin.

use crate::account::AccountRef;
use crate::email::Email;
use crate::form::{self, Storage, rule};
use crate::password_policy::judge_new_password;
use crate::role::seed_role_id;
use crate::shape::{Field, Kind, Shaped};
use crate::text::TextRule;
use crate::validation::ValidationErrors;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use validator::{Validate, ValidateArgs};

const USER_NAME: TextRule = TextRule {
    field: "name",
    max_chars: 100,
    multiline: false,
};

pub use crate::password_policy::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, Password};

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
    /// Absent, the person is invited to choose one. Judged in `check`, not
    /// here: the policy needs the form's email too.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Password, min_length = 12))]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::user::expose_optional_password"
    )]
    pub password: Option<Password>,
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
    /// Judged in `check`, against the address the account will have.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Password))]
    pub password: Option<Password>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "form::user_roles", use_context))]
    pub roles: Option<Vec<String>>,
    /// A disabled person cannot sign in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl Shaped for UserForm {
    const FIELDS: &'static [Field] = &[
        Field::required("email", Kind::Text),
        Field::required("name", Kind::Text),
        Field::optional("password", Kind::Text),
        Field::optional("roles", Kind::TextList),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        self.validate_offline()
    }
}

impl Shaped for UserChange {
    const FIELDS: &'static [Field] = &[
        Field::optional("email", Kind::Text),
        Field::optional("name", Kind::Text),
        Field::optional("password", Kind::Text),
        Field::optional("roles", Kind::TextList),
        Field::optional("enabled", Kind::Boolean),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        self.validate_offline()
    }
}

server_pub! {
    /// What storage knows that the user rules need.
    #[derive(Debug, Clone, Default)]
    pub struct UserFacts {
        pub existing_roles: HashSet<String>,
        pub email_holder: Option<AccountRef>,
        /// The stored account a change is to; `None` when creating one.
        pub current: Option<CurrentUser>,
    }
}

server_pub! {
    /// What a change is compared with: a field sent back as stored is no
    /// change, and the stored address is what a new password must not be.
    #[derive(Debug, Clone, Default)]
    pub struct CurrentUser {
        pub email: String,
        pub name: String,
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
        password: Option<Password>,
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
    /// a configured address must be valid and the password strong, judged
    /// against the address the account gets. Nobody could accept an
    /// invitation to it, so a password is required.
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
            password: Some(password),
            roles: vec![role.clone()],
        };
        let facts = UserFacts {
            existing_roles: [role].into(),
            ..UserFacts::default()
        };
        let user = form.validate_judging_against(&facts, email)?;
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

    /// `None` for a person invited to choose their own.
    pub fn password(&self) -> Option<&Password> {
        self.password.as_ref()
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
        enabled: Option<bool>,
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

    pub fn enabled(&self) -> Option<bool> {
        self.enabled
    }
}

impl UserForm {
    /// Every rule that needs no storage: what the SDK checks before sending.
    /// Whether the address is free and the roles exist is the server's to say.
    pub fn validate_offline(&self) -> Result<(), ValidationErrors> {
        self.check(&Storage::offline(), &self.email)
    }

    server_pub! {
        pub fn validate(&self, facts: &UserFacts) -> Result<NewUser, ValidationErrors> {
            self.validate_judging_against(facts, &self.email)
        }
    }

    /// [`validate`](Self::validate) with the password judged against
    /// `email`, which differs from the form's only for the first
    /// administrator's stand-in address.
    fn validate_judging_against(&self, facts: &UserFacts, email: &str) -> Result<NewUser, ValidationErrors> {
        self.check(&facts.storage(None), email)?;
        // Each rule passed above; parsing again keeps the values they vouch for.
        Ok(NewUser {
            email: Email::parse(&self.email)?,
            name: USER_NAME.required(&self.name)?,
            password: self.password.clone(),
            roles: self.roles.clone(),
        })
    }

    fn check(&self, storage: &Storage<'_>, email: &str) -> Result<(), ValidationErrors> {
        with_password_policy(
            self.validate_with_args(storage),
            self.password.as_ref(),
            Some(email),
            Self::FIELDS,
        )
    }
}

impl UserChange {
    /// Every rule that needs no storage, as [`UserForm::validate_offline`].
    /// Offline the stored address is unknown: a new password is judged
    /// against the address the change carries, if any.
    pub fn validate_offline(&self) -> Result<(), ValidationErrors> {
        self.check(&Storage::offline(), self.email.as_deref())
    }

    server_pub! {
        pub fn validate(&self, facts: &UserFacts, me: &AccountRef) -> Result<ValidUserChange, ValidationErrors> {
            let change = self.without_what_is_stored(facts, me);
            // The address the account will have: the one sent (new, or the
            // stored one sent back), else the stored one.
            let email = self
                .email
                .as_deref()
                .or(facts.current.as_ref().map(|c| c.email.as_str()));
            change.check(&facts.storage(Some(me)), email)?;
            Ok(ValidUserChange {
                email: change.email.as_deref().map(Email::parse).transpose()?,
                name: change.name.as_deref().map(|n| USER_NAME.required(n)).transpose()?,
                password: change.password.clone(),
                roles: change.roles.clone(),
                enabled: change.enabled,
            })
        }
    }

    /// A form sends every field back. A field sent as it is stored is no
    /// change, and is not judged again: a rule tightened since it was stored
    /// (a shorter name limit, an address rule the default first
    /// administrator's `admin@localhost` never met) must not stop the
    /// account changing anything else, its password first of all. An
    /// address is "as stored" as lookups compare it (trimmed, any case) or
    /// when the account sending it already holds it.
    fn without_what_is_stored(&self, facts: &UserFacts, me: &AccountRef) -> Self {
        let current = facts.current.as_ref();
        let mut change = self.clone();
        // The address as stored, character for character, is no change; a
        // new casing of it is (it is stored as typed), and is judged.
        // Its own address the rule would refuse (`admin@localhost`) is
        // never a change the account can be making.
        if let Some(email) = &self.email
            && (current.is_some_and(|c| email.trim() == c.email.trim())
                || (facts.email_holder.as_ref() == Some(me) && Email::parse(email).is_err()))
        {
            change.email = None;
        }
        if let Some(name) = &self.name
            && current.is_some_and(|c| name.trim() == c.name.trim())
        {
            change.name = None;
        }
        change
    }

    fn check(&self, storage: &Storage<'_>, email: Option<&str>) -> Result<(), ValidationErrors> {
        with_password_policy(
            self.validate_with_args(storage),
            self.password.as_ref(),
            email,
            Self::FIELDS,
        )
    }
}

/// validator's findings and the password policy's, in the form's order. The
/// policy is not a field rule of its own: it needs another field, the
/// address, which validator hands a field's rule no way to see. A password
/// that fails the length rule is refused for that alone.
fn with_password_policy(
    found: Result<(), validator::ValidationErrors>,
    password: Option<&Password>,
    email: Option<&str>,
    fields: &[Field],
) -> Result<(), ValidationErrors> {
    let mut found = found.err().unwrap_or_default();
    if let Some(password) = password
        && let Err(refused) = judge_new_password(password, email)
    {
        found.add("password", form::to_validator(refused));
    }
    if found.is_empty() {
        Ok(())
    } else {
        Err(form::report(found, fields))
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
    use crate::validation::{ErrorCode, FieldError};

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
            ..UserFacts::default()
        };
        let ok = UserForm {
            email: "jo@agency.org".into(),
            name: "Jo".into(),
            password: Some(Password::new("correct horse battery")),
            roles: vec!["r1".into()],
        };
        assert!(ok.validate(&facts).is_ok());
        let bad = UserForm {
            email: "jo".into(),
            name: " ".into(),
            password: Some(Password::new("short")),
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
        assert_eq!(admin.password().map(Password::expose), Some("a long enough password"));
        // Anyone else with that address is refused.
        let form = UserForm {
            email: "admin@localhost".into(),
            name: "Jo".into(),
            password: Some(Password::new("a long enough password")),
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
        assert!(
            Password::new("é".repeat(MIN_PASSWORD_CHARS - 5) + "üàöß!")
                .check_new()
                .is_ok()
        );
        let short = Password::new("é".repeat(MIN_PASSWORD_CHARS - 1))
            .check_new()
            .unwrap_err();
        assert_eq!(
            short.message,
            format!("password must be at least {MIN_PASSWORD_CHARS} characters")
        );
        let long = Password::new("p".repeat(MAX_PASSWORD_CHARS + 1))
            .check_new()
            .unwrap_err();
        assert_eq!((long.field.as_str(), long.code), ("password", ErrorCode::TooLong));
        assert_eq!(long.message, "password must be at most 1024 characters");
    }

    proptest::proptest! {
        #[test]
        fn a_password_is_accepted_only_within_its_bounds(len in 0usize..1100) {
            // Twelve letters that neither run nor are listed; repeated whole,
            // a group as long as the minimum is no weakness, so only the
            // length decides.
            let password: String = "qzwhxmvkfjpb".chars().cycle().take(len).collect();
            let result = Password::new(password).check_new();
            proptest::prop_assert_eq!(result.is_ok(), (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&len));
        }
    }

    fn me() -> AccountRef {
        AccountRef::new(AccountKind::User, "u1")
    }

    fn stored(email: &str, name: &str) -> UserFacts {
        UserFacts {
            email_holder: Some(me()),
            current: Some(CurrentUser {
                email: email.into(),
                name: name.into(),
            }),
            ..UserFacts::default()
        }
    }

    #[test]
    fn a_new_user_is_refused_a_weak_password_with_the_reason() {
        let facts = UserFacts::default();
        for (password, why) in [
            (
                "aaaaaaaaaaaa",
                "password repeats one character or a short group of characters",
            ),
            (
                "123456789012",
                "password is a run of consecutive letters, digits or neighbouring keys",
            ),
            (
                "passwordpassword",
                "password repeats one character or a short group of characters",
            ),
            ("password1234", "password is one of the most commonly used passwords"),
            (
                "qwertyuiopas",
                "password is a run of consecutive letters, digits or neighbouring keys",
            ),
            (
                "Jo.Lee@Agency.org",
                "password must not be your email address or its first part",
            ),
            (
                "jo.lee-1234!",
                "password must not be your email address or its first part",
            ),
            (
                &"\u{200B}".repeat(12),
                "password is only spaces or invisible characters",
            ),
        ] {
            let form = UserForm::new("jo.lee@agency.org", "Jo", Password::new(password));
            let refused = form.validate(&facts).unwrap_err();
            assert_eq!(
                refused.errors(),
                [FieldError::new("password", ErrorCode::WeakPassword, why)],
                "{password:?}"
            );
            assert_eq!(form.validate_offline().unwrap_err(), refused);
        }
    }

    #[test]
    fn a_weak_password_is_reported_in_the_forms_order() {
        let form = UserForm::new("nope", "", Password::new("qwerty123456")).roles(["r1", "r1"]);
        let refused = form.validate_offline().unwrap_err();
        let codes: Vec<(&str, ErrorCode)> = refused.errors().iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            codes,
            [
                ("email", ErrorCode::InvalidEmail),
                ("name", ErrorCode::Required),
                ("password", ErrorCode::WeakPassword),
                ("roles", ErrorCode::DuplicateRole),
            ]
        );
    }

    #[test]
    fn a_user_may_be_created_without_a_password() {
        let form = UserForm::invitation("jo@agency.org", "Jo");
        assert!(form.password.is_none());
        let user = form
            .validate(&UserFacts::default())
            .expect("an invitation is a valid form");
        assert!(user.password().is_none());
        let body = serde_json::to_value(&form).unwrap();
        assert!(body.get("password").is_none(), "{body}");
        let read: UserForm =
            serde_json::from_value(serde_json::json!({"email": "jo@agency.org", "name": "Jo"})).unwrap();
        assert!(read.password.is_none());
    }

    #[test]
    fn the_first_administrator_is_judged_against_its_real_address() {
        let refused = NewUser::first_administrator(crate::email::DEFAULT_ADMIN_EMAIL, Password::new("admin@localhost"))
            .unwrap_err();
        assert!(refused.has("password", ErrorCode::WeakPassword));
        let refused = NewUser::first_administrator("ops.team@agency.org", Password::new("OpsTeam2024!")).unwrap_err();
        assert!(refused.has("password", ErrorCode::WeakPassword));
        assert!(
            NewUser::first_administrator("ops@agency.org", Password::new("aaaaaaaaaaaa"))
                .unwrap_err()
                .has("password", ErrorCode::WeakPassword)
        );
    }

    #[test]
    fn a_new_password_is_judged_against_the_new_address_else_the_stored_one() {
        let facts = stored("sam.ray@agency.org", "Sam");
        let change = UserChange::new().password(Password::new("SamRay!2024!"));
        assert!(
            change
                .validate(&facts, &me())
                .unwrap_err()
                .has("password", ErrorCode::WeakPassword)
        );
        // Moving to another address, the password is judged against that one.
        let moving = change.clone().email("jo.lee@agency.org");
        let other = UserFacts {
            email_holder: None,
            ..facts.clone()
        };
        let valid = moving.validate(&other, &me()).expect("not like the new address");
        assert_eq!(valid.email().map(Email::as_str), Some("jo.lee@agency.org"));
        let like_new = UserChange::new()
            .email("jo.lee@agency.org")
            .password(Password::new("JoLee-2024!!"));
        assert!(
            like_new
                .validate(&other, &me())
                .unwrap_err()
                .has("password", ErrorCode::WeakPassword)
        );
        // Offline the stored address is unknown; the one sent is used.
        assert!(change.validate_offline().is_ok());
        assert!(like_new.validate_offline().is_err());
    }

    #[test]
    fn a_field_sent_back_as_stored_is_no_change_and_not_judged_again() {
        // A name stored before today's limit of 100 characters.
        let long_name = "N".repeat(150);
        let facts = stored("Sam.Ray@Agency.org", &long_name);
        let change = UserChange::new()
            .name(long_name.clone())
            .email(" Sam.Ray@Agency.org ")
            .password(Password::new("a new long enough password"));
        let valid = change.validate(&facts, &me()).expect("nothing sent back is judged");
        assert!(valid.name().is_none());
        assert!(valid.email().is_none(), "the stored address sent back is no change");
        // A new casing of it is a change, stored as typed.
        let recased = UserChange::new()
            .email("sam.ray@agency.org")
            .validate(&facts, &me())
            .unwrap();
        assert_eq!(recased.email().map(|e| e.as_str()), Some("sam.ray@agency.org"));
        assert!(valid.password().is_some());
        // The same name is judged when it is a change.
        let elsewhere = stored("sam.ray@agency.org", "Sam");
        assert!(
            change
                .validate(&elsewhere, &me())
                .unwrap_err()
                .has("name", ErrorCode::TooLong)
        );
        // A new name is a change.
        let renamed = UserChange::new().name("Samuel Ray").validate(&facts, &me()).unwrap();
        assert_eq!(renamed.name(), Some("Samuel Ray"));
    }

    #[test]
    fn the_first_administrator_changes_its_password_sending_its_address_back() {
        let facts = stored(crate::email::DEFAULT_ADMIN_EMAIL, FIRST_ADMINISTRATOR_NAME);
        let change = UserChange::new()
            .email("admin@localhost")
            .name("Administrator")
            .password(Password::new("a new long enough password"));
        let valid = change.validate(&facts, &me()).expect("its own address and name");
        assert!(valid.email().is_none() && valid.name().is_none());
        assert!(valid.password().is_some());
        // Its own address is still what the new password must not be.
        let like_it = UserChange::new().password(Password::new("admin@localhost"));
        assert!(
            like_it
                .validate(&facts, &me())
                .unwrap_err()
                .has("password", ErrorCode::WeakPassword)
        );
    }

    #[test]
    fn a_change_may_enable_or_disable_the_account() {
        let facts = stored("sam@agency.org", "Sam");
        for enabled in [true, false] {
            let change = UserChange::new().enabled(enabled);
            assert_eq!(change.validate(&facts, &me()).unwrap().enabled(), Some(enabled));
            assert_eq!(serde_json::to_value(&change).unwrap()["enabled"], enabled);
        }
        assert_eq!(UserChange::new().validate(&facts, &me()).unwrap().enabled(), None);
        let read: UserChange = serde_json::from_value(serde_json::json!({"enabled": false})).unwrap();
        assert_eq!(read.enabled, Some(false));
    }

    #[test]
    fn password_debug_is_redacted() {
        assert_eq!(format!("{:?}", Password::new("hunter2hunter2")), "Password([redacted])");
    }
}
