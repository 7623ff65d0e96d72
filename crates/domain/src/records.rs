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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    #[default]
    Open,
    Closed,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
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

fn status_rule(raw: &str) -> Result<CaseStatus, FieldError> {
    CaseStatus::parse(raw).ok_or_else(|| {
        FieldError::new(
            "status",
            ErrorCode::InvalidValue,
            "status must be \"open\" or \"closed\"",
        )
    })
}

fn title_rule(raw: &str) -> Result<(), validator::ValidationError> {
    rule(TITLE.required(raw))
}

fn case_description_rule(raw: &str) -> Result<(), validator::ValidationError> {
    rule(CASE_DESCRIPTION.optional(Some(raw)))
}

fn status_value(raw: &str) -> Result<(), validator::ValidationError> {
    rule(status_rule(raw))
}

fn summary_rule(raw: &str) -> Result<(), validator::ValidationError> {
    rule(SUMMARY.required(raw))
}

fn details_rule(raw: &str) -> Result<(), validator::ValidationError> {
    rule(DETAILS.optional(Some(raw)))
}

/// A new engage case.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CaseForm {
    /// 1 to 200 characters.
    #[validate(custom(function = "title_rule"))]
    pub title: String,
    #[serde(default)]
    #[validate(custom(function = "case_description_rule"))]
    pub description: Option<String>,
    /// `open` (default) or `closed`.
    #[serde(default)]
    #[validate(custom(function = "status_value"))]
    pub status: Option<String>,
}

/// A change to a case: absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
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
    #[validate(custom(function = "status_value"))]
    pub status: Option<String>,
}

impl Shaped for CaseForm {
    const FIELDS: &'static [Field] = &[
        Field::required("title", Kind::Text),
        Field::optional("description", Kind::Text),
        Field::optional("status", Kind::Text),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        self.validate().map(drop)
    }
}

impl Shaped for CaseChange {
    const FIELDS: &'static [Field] = &[
        Field::optional("title", Kind::Text),
        Field::clearable("description", Kind::Text),
        Field::optional("status", Kind::Text),
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
        Validate::validate(self).map_err(|e| form::report(e, Self::FIELDS))?;
        // Each rule passed above; parsing again keeps the values they vouch for.
        Ok(ValidCase {
            title: TITLE.required(&self.title)?,
            description: CASE_DESCRIPTION.optional(self.description.as_deref())?,
            status: self.status.as_deref().map(status_rule).transpose()?.unwrap_or_default(),
        })
    }
}

impl CaseChange {
    pub fn validate(&self) -> Result<ValidCaseChange, ValidationErrors> {
        Validate::validate(self).map_err(|e| form::report(e, Self::FIELDS))?;
        Ok(ValidCaseChange {
            title: self.title.as_deref().map(|t| TITLE.required(t)).transpose()?,
            description: self
                .description
                .as_ref()
                .map(|d| CASE_DESCRIPTION.optional(d.as_deref()))
                .transpose()?,
            status: self.status.as_deref().map(status_rule).transpose()?,
        })
    }
}

/// A new intake report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReportForm {
    /// 1 to 200 characters.
    #[validate(custom(function = "summary_rule"))]
    pub summary: String,
    #[serde(default)]
    #[validate(custom(function = "details_rule"))]
    pub details: Option<String>,
}

/// A change to a report: absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
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

    #[test]
    fn case_rules() {
        let ok = CaseForm {
            title: "Family of four".into(),
            ..Default::default()
        };
        assert_eq!(ok.validate().unwrap().status(), CaseStatus::Open);
        let bad = CaseForm {
            title: "t".repeat(201),
            description: None,
            status: Some("pending".into()),
        };
        let e = bad.validate().unwrap_err();
        assert!(e.has("title", ErrorCode::TooLong) && e.has("status", ErrorCode::InvalidValue));
        assert!(
            CaseForm::default()
                .validate()
                .unwrap_err()
                .has("title", ErrorCode::Required)
        );
        let closed = CaseChange {
            status: Some("closed".into()),
            ..Default::default()
        };
        assert_eq!(closed.validate().unwrap().status(), Some(CaseStatus::Closed));
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
