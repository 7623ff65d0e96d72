//! The glue between `validator`'s derive and our report.
//!
//! Forms declare their rules with `#[derive(Validate)]`. Our rules keep their
//! own wording (messages name the limit, the count, the offending role), so a
//! `custom` rule hands validator a `ValidationError` carrying our code and
//! message, and `report` turns validator's errors back into ours in the
//! form's field order: validator keeps fields in a `HashMap`, while the
//! problem's `detail` lists them in the order people read the form.

use crate::account::{AccountRef, email_available};
use crate::email::Email;
use crate::shape::{self, Field};
use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use std::borrow::Cow;
use std::collections::HashSet;

/// The parameter under which a rule that finds several violations in one
/// field (each duplicate or unknown role) carries those after the first:
/// validator keeps one error per rule and field.
const ALSO: &str = "also";

/// What storage knows, as validator's context. Offline (the SDK checking a
/// form before sending it) nothing is known, and the rules that need storage
/// are skipped.
#[derive(Debug, Clone, Copy, Default)]
pub struct Storage<'a> {
    known: Option<Known<'a>>,
}

#[derive(Debug, Clone, Copy)]
struct Known<'a> {
    existing_roles: &'a HashSet<String>,
    email_holder: Option<&'a AccountRef>,
    claimant: Option<&'a AccountRef>,
}

impl<'a> Storage<'a> {
    pub fn offline() -> Self {
        Self::default()
    }

    server_pub! {
        /// `claimant` is the account being changed, which may keep its own address.
        pub fn new(
            existing_roles: &'a HashSet<String>,
            email_holder: Option<&'a AccountRef>,
            claimant: Option<&'a AccountRef>,
        ) -> Self {
            Self {
                known: Some(Known {
                    existing_roles,
                    email_holder,
                    claimant,
                }),
            }
        }
    }

    fn existing_roles(&self) -> Option<&'a HashSet<String>> {
        self.known.map(|k| k.existing_roles)
    }
}

/// One of our field checks as a validator rule.
pub(crate) fn rule<T>(result: Result<T, FieldError>) -> Result<(), validator::ValidationError> {
    result.map(drop).map_err(to_validator)
}

/// A check that may find several violations in one field, as one validator
/// rule: the first is the error, the rest ride along under [`ALSO`].
pub(crate) fn rules<T>(result: Result<T, ValidationErrors>) -> Result<(), validator::ValidationError> {
    let errors = match result {
        Ok(_) => return Ok(()),
        Err(errors) => errors.into_errors(),
    };
    let mut errors = errors.into_iter();
    let Some(first) = errors.next() else {
        return Ok(());
    };
    let mut error = to_validator(first);
    let rest: Vec<FieldError> = errors.collect();
    if !rest.is_empty() {
        error.add_param(Cow::Borrowed(ALSO), &rest);
    }
    Err(error)
}

pub(crate) fn to_validator(error: FieldError) -> validator::ValidationError {
    validator::ValidationError::new(error.code.as_str()).with_message(Cow::Owned(error.message))
}

/// Our report from validator's: fields in the order of the form's table,
/// each field's errors in the order its rules are declared. A field missing
/// from the table comes last, so nothing is ever dropped.
pub(crate) fn report(errors: validator::ValidationErrors, order: &[Field]) -> ValidationErrors {
    let mut fields: Vec<_> = errors.into_errors().into_iter().collect();
    fields.sort_by_cached_key(|(field, _)| (shape::position(order, field), field.clone()));
    let mut report = ValidationErrors::new();
    for (field, kind) in fields {
        collect(&field, kind, &mut report);
    }
    report
}

fn collect(field: &str, kind: validator::ValidationErrorsKind, report: &mut ValidationErrors) {
    match kind {
        validator::ValidationErrorsKind::Field(errors) => {
            for error in errors {
                from_validator(field, error, report);
            }
        }
        // Our forms nest nothing; were one to, its errors still reach the report.
        validator::ValidationErrorsKind::Struct(inner) => {
            report_into(*inner, report);
        }
        validator::ValidationErrorsKind::List(items) => {
            for (_, inner) in items {
                report_into(*inner, report);
            }
        }
    }
}

fn report_into(inner: validator::ValidationErrors, report: &mut ValidationErrors) {
    for error in self::report(inner, &[]).into_errors() {
        report.push(error);
    }
}

fn from_validator(field: &str, mut error: validator::ValidationError, report: &mut ValidationErrors) {
    let also = error
        .params
        .remove(ALSO)
        .and_then(|also| serde_json::from_value::<Vec<FieldError>>(also).ok())
        .unwrap_or_default();
    // Every rule sets one of our codes; validator's own names, should a rule
    // ever lack one, are not ours to send.
    let (code, message) = match ErrorCode::parse(&error.code) {
        Some(code) => (code, error.message.map(Cow::into_owned)),
        None => (ErrorCode::InvalidValue, None),
    };
    let message = message.unwrap_or_else(|| format!("{field} is not valid"));
    report.push(FieldError::new(field, code, message));
    for extra in also {
        report.push(FieldError::new(field, extra.code, extra.message));
    }
}

/// The address rule (syntax and length).
pub(crate) fn email_address(raw: &str) -> Result<(), validator::ValidationError> {
    rule(Email::parse(raw))
}

/// The email rule with storage's answer: in use unless free or the
/// claimant's own. Only an address that parses can be in use.
pub(crate) fn email_free(raw: &str, storage: &Storage<'_>) -> Result<(), validator::ValidationError> {
    match storage.known {
        Some(known) if Email::parse(raw).is_ok() && !email_available(known.email_holder, known.claimant) => {
            Err(to_validator(FieldError::email_in_use()))
        }
        _ => Ok(()),
    }
}

server_pub! {
    /// The contract's role rule ("Applications"): at least one, no duplicates, and (given facts) each exists.
    pub fn role_ids(raw: &[String], existing: Option<&HashSet<String>>) -> Result<Vec<String>, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if raw.is_empty() {
            errors.push(FieldError::new(
                "roles",
                ErrorCode::Required,
                "select at least one role",
            ));
        }
        let mut seen = HashSet::new();
        for id in raw {
            if !seen.insert(id.as_str()) {
                errors.push(FieldError::new(
                    "roles",
                    ErrorCode::DuplicateRole,
                    format!("role {id:?} is listed twice"),
                ));
            } else if existing.is_some_and(|known| !known.contains(id)) {
                errors.push(FieldError::new(
                    "roles",
                    ErrorCode::UnknownRole,
                    format!("there is no role {id:?}"),
                ));
            }
        }
        errors.finish(|| raw.to_vec())
    }
}

/// The contract's role rule for applications ("Applications"): at least one, no duplicates, and
/// (when storage is known) each exists.
pub(crate) fn application_roles(raw: &[String], storage: &Storage<'_>) -> Result<(), validator::ValidationError> {
    rules(role_ids(raw, storage.existing_roles()))
}

/// Users may hold no role (they can still sign in and see themselves); the
/// listed ones must exist and appear once.
pub(crate) fn user_roles(raw: &[String], storage: &Storage<'_>) -> Result<(), validator::ValidationError> {
    if raw.is_empty() {
        return Ok(());
    }
    rules(role_ids(raw, storage.existing_roles()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::ApplicationForm;
    use crate::shape::Kind;
    use proptest::prelude::*;

    fn errors_of(field: &'static str, errors: Vec<validator::ValidationError>, into: &mut validator::ValidationErrors) {
        for e in errors {
            into.add(field, e);
        }
    }

    #[test]
    fn the_report_follows_the_form_not_the_map() {
        let mut errors = validator::ValidationErrors::new();
        errors_of(
            "zeta",
            vec![to_validator(FieldError::new("zeta", ErrorCode::TooLong, "z"))],
            &mut errors,
        );
        errors_of(
            "b",
            vec![
                to_validator(FieldError::new("b", ErrorCode::Required, "b1")),
                to_validator(FieldError::new("b", ErrorCode::InvalidValue, "b2")),
            ],
            &mut errors,
        );
        errors_of(
            "a",
            vec![to_validator(FieldError::new("a", ErrorCode::TooShort, "a"))],
            &mut errors,
        );
        let order = [Field::required("b", Kind::Text), Field::required("a", Kind::Text)];
        let got: Vec<(String, ErrorCode, String)> = report(errors, &order)
            .into_errors()
            .into_iter()
            .map(|e| (e.field, e.code, e.message))
            .collect();
        let want = [
            ("b", ErrorCode::Required, "b1"),
            ("b", ErrorCode::InvalidValue, "b2"),
            ("a", ErrorCode::TooShort, "a"),
            // Not in the order given: last, never dropped.
            ("zeta", ErrorCode::TooLong, "z"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(f, c, m)| (f.to_string(), *c, m.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn several_violations_of_one_rule_all_reach_the_report() {
        let roles = ["r9".to_owned(), "r9".to_owned(), "r8".to_owned()];
        let existing = HashSet::new();
        let error = application_roles(&roles, &Storage::new(&existing, None, None)).unwrap_err();
        let mut errors = validator::ValidationErrors::new();
        errors.add("roles", error);
        let got: Vec<(ErrorCode, String)> = report(errors, &[Field::required("roles", Kind::TextList)])
            .into_errors()
            .into_iter()
            .map(|e| (e.code, e.message))
            .collect();
        assert_eq!(
            got,
            [
                (ErrorCode::UnknownRole, "there is no role \"r9\"".to_owned()),
                (ErrorCode::DuplicateRole, "role \"r9\" is listed twice".to_owned()),
                (ErrorCode::UnknownRole, "there is no role \"r8\"".to_owned()),
            ]
        );
    }

    #[test]
    fn a_code_that_is_not_ours_is_reported_as_an_invalid_value() {
        let mut errors = validator::ValidationErrors::new();
        errors.add("name", validator::ValidationError::new("length"));
        let report = report(errors, &[Field::required("name", Kind::Text)]);
        assert_eq!(
            report.errors(),
            [FieldError::new("name", ErrorCode::InvalidValue, "name is not valid")]
        );
    }

    #[test]
    fn storage_rules_are_skipped_offline_only() {
        let holder = AccountRef::new(crate::account::AccountKind::User, "u1");
        let existing = HashSet::new();
        assert!(email_free("a@b.org", &Storage::offline()).is_ok());
        assert!(email_free("a@b.org", &Storage::new(&existing, None, None)).is_ok());
        assert!(email_free("a@b.org", &Storage::new(&existing, Some(&holder), Some(&holder))).is_ok());
        let taken = email_free("a@b.org", &Storage::new(&existing, Some(&holder), None)).unwrap_err();
        assert_eq!(taken.code, "email_in_use");
        // An address that does not parse is refused for that, not for being taken.
        assert!(email_free("nope", &Storage::new(&existing, Some(&holder), None)).is_ok());
        assert!(application_roles(&["x".to_owned()], &Storage::offline()).is_ok());
        assert!(user_roles(&[], &Storage::new(&existing, None, None)).is_ok());
        assert!(application_roles(&[], &Storage::offline()).is_err());
    }

    proptest! {
        /// Whatever is wrong, errors come grouped by field in the form's order.
        #[test]
        fn errors_keep_the_form_order(
            name in ".{0,110}",
            email in ".{0,30}",
            url in proptest::option::of(".{0,20}"),
            roles in proptest::collection::vec("r[0-9]", 0..4),
            description in proptest::option::of(".{0,20}"),
        ) {
            let form = ApplicationForm { name, email, application_url: url, roles, description, ..Default::default() };
            if let Err(errors) = form.validate_offline() {
                let order = ["name", "email", "application_url", "roles", "description"];
                let positions: Vec<usize> = errors
                    .errors()
                    .iter()
                    .map(|e| order.iter().position(|f| *f == e.field).unwrap_or(usize::MAX))
                    .collect();
                prop_assert!(positions.windows(2).all(|w| w[0] <= w[1]), "{:?}", errors);
                prop_assert!(positions.iter().all(|p| *p < order.len()));
            }
        }
    }
}
