//! Casebook records reachable through the API: engage cases and intake reports.

use crate::text::TextRule;
use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};

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

/// A new engage case.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CaseForm {
    /// 1 to 200 characters.
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `open` (default) or `closed`.
    #[serde(default)]
    pub status: Option<String>,
}

/// A change to a case: absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CaseChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::application::double_option"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ValidCase {
    pub title: String,
    pub description: Option<String>,
    pub status: CaseStatus,
}

#[derive(Debug, Clone, Default)]
pub struct ValidCaseChange {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<CaseStatus>,
}

impl CaseForm {
    pub fn validate(&self) -> Result<ValidCase, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let title = errors.check(TITLE.required(&self.title));
        let description = errors.check(CASE_DESCRIPTION.optional(self.description.as_deref()));
        let status = match &self.status {
            None => Some(CaseStatus::Open),
            Some(s) => errors.check(status_rule(s)),
        };
        match (title, description, status) {
            (Some(title), Some(description), Some(status)) if errors.is_empty() => Ok(ValidCase {
                title,
                description,
                status,
            }),
            _ => Err(errors),
        }
    }
}

impl CaseChange {
    pub fn validate(&self) -> Result<ValidCaseChange, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let title = self.title.as_deref().and_then(|t| errors.check(TITLE.required(t)));
        let description = self
            .description
            .as_ref()
            .and_then(|d| errors.check(CASE_DESCRIPTION.optional(d.as_deref())));
        let status = self.status.as_deref().and_then(|s| errors.check(status_rule(s)));
        errors.finish(|| ValidCaseChange {
            title,
            description,
            status,
        })
    }
}

/// A new intake report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReportForm {
    /// 1 to 200 characters.
    pub summary: String,
    #[serde(default)]
    pub details: Option<String>,
}

/// A change to a report: absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReportChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::application::double_option"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub details: Option<Option<String>>,
}

#[derive(Debug, Clone)]
pub struct ValidReport {
    pub summary: String,
    pub details: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ValidReportChange {
    pub summary: Option<String>,
    pub details: Option<Option<String>>,
}

impl ReportForm {
    pub fn validate(&self) -> Result<ValidReport, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let summary = errors.check(SUMMARY.required(&self.summary));
        let details = errors.check(DETAILS.optional(self.details.as_deref()));
        match (summary, details) {
            (Some(summary), Some(details)) if errors.is_empty() => Ok(ValidReport { summary, details }),
            _ => Err(errors),
        }
    }
}

impl ReportChange {
    pub fn validate(&self) -> Result<ValidReportChange, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let summary = self.summary.as_deref().and_then(|s| errors.check(SUMMARY.required(s)));
        let details = self
            .details
            .as_ref()
            .and_then(|d| errors.check(DETAILS.optional(d.as_deref())));
        errors.finish(|| ValidReportChange { summary, details })
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
        assert_eq!(ok.validate().unwrap().status, CaseStatus::Open);
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
        assert_eq!(closed.validate().unwrap().status, Some(CaseStatus::Closed));
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
