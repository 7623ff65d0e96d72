//! Casebook records reachable through the API: engage cases and intake reports.

use crate::form::{self, rule};
use crate::shape::{Field, Kind, Shaped};
use crate::text::TextRule;
use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use validator::Validate;

const TITLE: TextRule = TextRule {
    field: "title",
    max_chars: 200,
    multiline: false,
};
const SUMMARY: TextRule = TextRule {
    field: "summary",
    max_chars: 200,
    multiline: false,
};
const CASE_DESCRIPTION: TextRule = TextRule {
    field: "description",
    max_chars: 10_000,
    multiline: true,
};
const DETAILS: TextRule = TextRule {
    field: "details",
    max_chars: 10_000,
    multiline: true,
};

/// A case is open until someone closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CaseStatus {
    #[default]
    Open,
    Closed,
    /// A status this version does not know yet, read from a newer server,
    /// so that one new status does not fail a whole listing. It is never
    /// written: a form holding it is refused before it is sent.
    #[serde(other, skip_serializing)]
    Unrecognized,
}

/// The wire forms of [`CaseStatus`], which a body's shape is checked against
/// before serde reads the status.
const STATUSES: &[&str] = &["open", "closed"];

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Unrecognized => "unrecognized",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "open" => Some(Self::Open),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// A status read from a newer server is not one to send back: refused with
/// the very error the server gives for a status it does not offer. Checked
/// apart from validator's rules, which would serialize the value, and a
/// status that is never written cannot be.
fn known_status(status: Option<CaseStatus>) -> Result<(), FieldError> {
    match status {
        Some(CaseStatus::Unrecognized) => Err(FieldError::new(
            "status",
            ErrorCode::InvalidValue,
            format!("status must be {}", crate::shape::one_of(STATUSES)),
        )),
        _ => Ok(()),
    }
}

/// Validator's rules and the status rule, reported together in the fields'
/// order: the status is the last field of both case forms.
fn case_rules<F: Validate>(form: &F, fields: &[Field], status: Option<CaseStatus>) -> Result<(), ValidationErrors> {
    let mut errors = Validate::validate(form)
        .err()
        .map_or_else(ValidationErrors::new, |e| form::report(e, fields));
    errors.check(known_status(status));
    errors.finish(|| ())
}

fn title_rule(raw: &str) -> Result<(), validator::ValidationError> {
    rule(TITLE.required(raw))
}

fn case_description_rule(raw: &str) -> Result<(), validator::ValidationError> {
    rule(CASE_DESCRIPTION.optional(Some(raw)))
}

fn summary_rule(raw: &str) -> Result<(), validator::ValidationError> {
    rule(SUMMARY.required(raw))
}

fn details_rule(raw: &str) -> Result<(), validator::ValidationError> {
    rule(DETAILS.optional(Some(raw)))
}

/// A new engage case.
#[cfg_attr(not(feature = "openapi"), doc = "\n\nBuild one with [`CaseForm::new`].")]
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CaseForm {
    /// 1 to 200 characters.
    #[validate(custom(function = "title_rule"))]
    pub title: String,
    #[serde(default)]
    #[validate(custom(function = "case_description_rule"))]
    pub description: Option<String>,
    /// `open` (default) or `closed`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub status: Option<CaseStatus>,
}

/// A change to a case: absent fields stay as they are.
#[cfg_attr(not(feature = "openapi"), doc = "\n\nBuild one with [`CaseChange::new`].")]
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CaseChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "title_rule"))]
    pub title: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::application::double_option"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    #[validate(custom(function = "case_description_rule"))]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub status: Option<CaseStatus>,
}

impl Shaped for CaseForm {
    const FIELDS: &'static [Field] = &[
        Field::required("title", Kind::Text),
        Field::optional("description", Kind::Text),
        Field::optional("status", Kind::Choice(STATUSES)),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        self.validate().map(drop)
    }
}

impl Shaped for CaseChange {
    const FIELDS: &'static [Field] = &[
        Field::optional("title", Kind::Text),
        Field::clearable("description", Kind::Text),
        Field::optional("status", Kind::Choice(STATUSES)),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        self.validate().map(drop)
    }
}

/// A case that passed every rule; only [`CaseForm::validate`] makes one.
#[derive(Debug, Clone)]
pub struct ValidCase {
    title: String,
    description: Option<String>,
    status: CaseStatus,
}

impl ValidCase {
    pub fn title(&self) -> &str {
        &self.title
    }

    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    pub fn status(&self) -> CaseStatus {
        self.status
    }
}

/// A case change that passed every rule; only [`CaseChange::validate`] makes one.
#[derive(Debug, Clone)]
pub struct ValidCaseChange {
    title: Option<String>,
    description: Option<Option<String>>,
    status: Option<CaseStatus>,
}

impl ValidCaseChange {
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// `Some(None)` clears the description.
    pub fn description(&self) -> Option<Option<&str>> {
        self.description.as_ref().map(Option::as_deref)
    }

    pub fn status(&self) -> Option<CaseStatus> {
        self.status
    }
}

impl CaseForm {
    pub fn validate(&self) -> Result<ValidCase, ValidationErrors> {
        case_rules(self, Self::FIELDS, self.status)?;
        // Each rule passed above; parsing again keeps the values they vouch for.
        Ok(ValidCase {
            title: TITLE.required(&self.title)?,
            description: CASE_DESCRIPTION.optional(self.description.as_deref())?,
            status: self.status.unwrap_or_default(),
        })
    }
}

impl CaseChange {
    pub fn validate(&self) -> Result<ValidCaseChange, ValidationErrors> {
        case_rules(self, Self::FIELDS, self.status)?;
        Ok(ValidCaseChange {
            title: self.title.as_deref().map(|t| TITLE.required(t)).transpose()?,
            description: self
                .description
                .as_ref()
                .map(|d| CASE_DESCRIPTION.optional(d.as_deref()))
                .transpose()?,
            status: self.status,
        })
    }
}

/// A new intake report.
#[cfg_attr(not(feature = "openapi"), doc = "\n\nBuild one with [`ReportForm::new`].")]
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ReportForm {
    /// 1 to 200 characters.
    #[validate(custom(function = "summary_rule"))]
    pub summary: String,
    #[serde(default)]
    #[validate(custom(function = "details_rule"))]
    pub details: Option<String>,
}

/// A change to a report: absent fields stay as they are.
#[cfg_attr(not(feature = "openapi"), doc = "\n\nBuild one with [`ReportChange::new`].")]
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ReportChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "summary_rule"))]
    pub summary: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::application::double_option"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    #[validate(custom(function = "details_rule"))]
    pub details: Option<Option<String>>,
}

impl Shaped for ReportForm {
    const FIELDS: &'static [Field] = &[
        Field::required("summary", Kind::Text),
        Field::optional("details", Kind::Text),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        self.validate().map(drop)
    }
}

impl Shaped for ReportChange {
    const FIELDS: &'static [Field] = &[
        Field::optional("summary", Kind::Text),
        Field::clearable("details", Kind::Text),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        self.validate().map(drop)
    }
}

/// A report that passed every rule; only [`ReportForm::validate`] makes one.
#[derive(Debug, Clone)]
pub struct ValidReport {
    summary: String,
    details: Option<String>,
}

impl ValidReport {
    pub fn summary(&self) -> &str {
        &self.summary
    }

    pub fn details(&self) -> Option<&str> {
        self.details.as_deref()
    }
}

/// A report change that passed every rule; only [`ReportChange::validate`] makes one.
#[derive(Debug, Clone)]
pub struct ValidReportChange {
    summary: Option<String>,
    details: Option<Option<String>>,
}

impl ValidReportChange {
    pub fn summary(&self) -> Option<&str> {
        self.summary.as_deref()
    }

    /// `Some(None)` clears the details.
    pub fn details(&self) -> Option<Option<&str>> {
        self.details.as_ref().map(Option::as_deref)
    }
}

impl ReportForm {
    pub fn validate(&self) -> Result<ValidReport, ValidationErrors> {
        Validate::validate(self).map_err(|e| form::report(e, Self::FIELDS))?;
        Ok(ValidReport {
            summary: SUMMARY.required(&self.summary)?,
            details: DETAILS.optional(self.details.as_deref())?,
        })
    }
}

impl ReportChange {
    pub fn validate(&self) -> Result<ValidReportChange, ValidationErrors> {
        Validate::validate(self).map_err(|e| form::report(e, Self::FIELDS))?;
        Ok(ValidReportChange {
            summary: self.summary.as_deref().map(|s| SUMMARY.required(s)).transpose()?,
            details: self
                .details
                .as_ref()
                .map(|d| DETAILS.optional(d.as_deref()))
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::ErrorCode;

    #[test]
    fn case_rules() {
        let ok = CaseForm {
            title: "Family of four".into(),
            ..Default::default()
        };
        assert_eq!(ok.validate().unwrap().status(), CaseStatus::Open);
        let bad = CaseForm::new("t".repeat(201)).status(CaseStatus::Closed);
        let e = bad.validate().unwrap_err();
        assert!(e.has("title", ErrorCode::TooLong));
        // A status other than open or closed is refused with the body's shape.
        let body = crate::shape::Body::parse(br#"{"title":"","status":"pending"}"#).unwrap();
        let Err(crate::shape::Refusal::Invalid(e)) = body.read::<CaseForm>() else {
            panic!("a pending case must be refused")
        };
        assert!(e.has("title", ErrorCode::Required) && e.has("status", ErrorCode::InvalidValue));
        assert_eq!(e.errors()[1].message, "status must be \"open\" or \"closed\"");
        assert!(
            CaseForm::default()
                .validate()
                .unwrap_err()
                .has("title", ErrorCode::Required)
        );
        let closed = CaseChange::new().status(CaseStatus::Closed);
        assert_eq!(closed.validate().unwrap().status(), Some(CaseStatus::Closed));
    }

    #[test]
    fn a_status_from_a_newer_server_is_read_but_never_sent() {
        let read: CaseStatus = serde_json::from_str(r#""archived""#).unwrap();
        assert_eq!(read, CaseStatus::Unrecognized);
        assert!(serde_json::to_string(&CaseStatus::Unrecognized).is_err());
        let shape = crate::shape::Body::parse(br#"{"title":"t","status":"pending"}"#).unwrap();
        let Err(crate::shape::Refusal::Invalid(server)) = shape.read::<CaseForm>() else {
            panic!("refused by the body's shape")
        };
        let offline = CaseForm::new("t").status(read).validate().unwrap_err();
        assert_eq!(offline, server, "the server's own error, offline");
        let change = CaseChange::new().status(read).validate().unwrap_err();
        assert_eq!(change, server);
    }

    #[test]
    fn report_rules() {
        assert!(
            ReportForm::default()
                .validate()
                .unwrap_err()
                .has("summary", ErrorCode::Required)
        );
        let ok = ReportForm {
            summary: "Call from school".into(),
            details: Some("…".into()),
        };
        assert!(ok.validate().is_ok());
        let e = ReportChange {
            summary: Some("".into()),
            details: Some(Some("d".repeat(10_001))),
        }
        .validate()
        .unwrap_err();
        assert!(e.has("summary", ErrorCode::Required) && e.has("details", ErrorCode::TooLong));
    }
}
