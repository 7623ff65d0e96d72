//! Errors as HTTP answers: RFC 9457 problem+json for the admin and Casebook
//! APIs, RFC 6749 §5.2 JSON at the OAuth endpoints.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use casebook_domain::{FieldError, OAuthErrorCode, ValidationErrors};

pub const PROBLEM_JSON: &str = "application/problem+json";

pub use casebook_domain::wire::{Holder, OAuthErrorBody, Problem};

/// Every way a non-OAuth request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request could not be read (malformed JSON or query, bad UTF-8, wrong shape).
    #[error("{0}")]
    BadRequest(String),
    /// 401 with a Bearer challenge; `invalid_token` when a credential was presented.
    #[error("{detail}")]
    Unauthorized { invalid_token: bool, detail: String },
    /// 401 with a DPoP challenge (RFC 9449 §7.1): the proof beside a
    /// DPoP-bound token is missing or refused; `use_dpop_nonce` carries a
    /// fresh nonce (§9).
    #[error("{detail}")]
    DpopRefused {
        error: &'static str,
        detail: String,
        nonce: Option<String>,
    },
    /// 401 from signing in: the password was right; the second step is
    /// next, with this token.
    #[error("{detail}")]
    MfaRequired { detail: String, mfa_token: String },
    /// 403: the tenant requires a second factor of this administrator,
    /// who has none yet.
    #[error(
        "your agency requires a second factor of everyone with admin permissions: enrol an authenticator app (POST /admin/v1/users/me/totp) before anything else"
    )]
    MfaEnrolmentRequired,
    /// 403; `insufficient_scope` names the permission the caller lacks.
    #[error("{detail}")]
    Forbidden {
        detail: String,
        insufficient_scope: Option<String>,
    },
    /// 403 from the grant rule: the caller may not hand out, change or take
    /// away permissions it does not hold itself.
    #[error("{0}")]
    MissingPermissions(casebook_domain::MissingPermissions),
    /// 404.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 405 with `Allow`: the path exists, the method does not.
    #[error("this path does not serve {method}; it serves {allow}")]
    MethodNotAllowed { method: String, allow: String },
    /// 409: the change conflicts with what is stored.
    #[error("{detail}")]
    Conflict {
        detail: String,
        holders: Option<Vec<Holder>>,
    },
    /// 408: the request body stopped arriving.
    #[error("the request body stalled: nothing arrived for {} s; send the request again", .0.as_secs())]
    RequestTimeout(std::time::Duration),
    /// 413.
    #[error("the request body is larger than this endpoint accepts")]
    PayloadTooLarge,
    /// 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422 with every refused field.
    #[error("{0}")]
    Validation(#[from] ValidationErrors),
    /// 429 with `Retry-After`.
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after_secs: u64 },
    /// 503 with `Retry-After`: the database could not be reached. Logged
    /// with its cause; the client is told to come back, not that it erred.
    #[error("the database could not be reached: {0}")]
    Unavailable(sqlx::Error),
    /// 500: logged with its cause; the client sees nothing of it.
    #[error("internal error: {0}")]
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

/// Whether a database error says the database is out of reach (down,
/// restarting, or no connection free in time) rather than that a statement
/// failed: the first is worth a retry, the second is a bug to log.
pub fn database_unreachable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::WorkerCrashed | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(e) => match e.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
            Some(_) => e
                .code()
                .and_then(|code| code.parse::<i32>().ok())
                .is_some_and(sqlite_cannot_write_now),
            // SQLSTATE class 08 (connection exception), 57P01-57P03
            // (administrator shutdown, crash shutdown, cannot connect now):
            // a restarting PostgreSQL ends sessions with these; 53100 (disk
            // full) and 25006 (a read-only standby) pass when the operator acts.
            None => e.code().is_some_and(|code| {
                code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53100" | "25006")
            }),
        },
        _ => false,
    }
}

/// SQLite's primary result codes (the low byte of an extended one) for a
/// database that cannot be written just now and may be again without a
/// restart: SQLITE_READONLY (8), SQLITE_IOERR (10), SQLITE_FULL (13),
/// SQLITE_CANTOPEN (14). Answered 503 with `Retry-After`, not 500.
fn sqlite_cannot_write_now(code: i32) -> bool {
    matches!(code & 0xff, 8 | 10 | 13 | 14)
}

/// How long a client should wait before retrying after a 503: the pool's
/// acquire timeout is 2 s, and the database is usually back sooner.
const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 1;

impl ApiError {
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(error.into())
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::Forbidden {
            detail: detail.into(),
            insufficient_scope: None,
        }
    }

    pub fn field(error: FieldError) -> Self {
        Self::Validation(error.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } | Self::DpopRefused { .. } | Self::MfaRequired { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } | Self::MissingPermissions(_) | Self::MfaEnrolmentRequired => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match error {
            StoreError::NotFound(noun) => Self::NotFound(noun),
            StoreError::Conflict { detail, holders } => Self::Conflict { detail, holders },
            StoreError::Refused(errors) => Self::Validation(errors),
            StoreError::MissingPermissions(missing) => Self::MissingPermissions(missing),
            StoreError::Corrupt(error) => Self::Internal(error),
            StoreError::Database(error) => error.into(),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if database_unreachable(&error) {
            Self::Unavailable(error)
        } else {
            Self::internal(error)
        }
    }
}

pub const REALM: &str = "casebook";

/// A `DPoP` challenge (RFC 9449 §7.1) naming the proof algorithms, and the
/// error when there is one.
fn dpop_challenge(error: Option<(&str, &str)>) -> HeaderValue {
    let algs = casebook_domain::dpop::algs();
    let challenge = match error {
        Some((code, description)) => format!(
            "DPoP error=\"{code}\", error_description=\"{}\", algs=\"{algs}\"",
            description.replace(['"', '\\'], "'")
        ),
        None => format!("DPoP algs=\"{algs}\""),
    };
    HeaderValue::from_str(&challenge).unwrap_or_else(|_| HeaderValue::from_static("DPoP"))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut headers = HeaderMap::new();
        let detail = match &self {
            Self::Internal(cause) => {
                tracing::error!(error = %cause, source = ?cause.source(), "request failed");
                "the server could not complete the request; it has been logged".to_owned()
            }
            Self::Unavailable(cause) => {
                tracing::warn!(error = %cause, "request failed: database unreachable");
                "the server cannot reach its database just now; try again shortly".to_owned()
            }
            other => other.to_string(),
        };
        let mut missing_permissions = None;
        let (mut mfa_required, mut mfa_token, mut mfa_enrolment_required) = (None, None, None);
        let (errors, holders) = match self {
            Self::Validation(errors) => (Some(errors.listed().0), None),
            Self::MissingPermissions(missing) => {
                missing_permissions = Some(missing.permissions().to_strings());
                (None, None)
            }
            Self::Conflict { holders, .. } => (None, holders),
            Self::MfaRequired { mfa_token: token, .. } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"casebook\""),
                );
                mfa_required = Some(true);
                mfa_token = Some(casebook_domain::wire::OneTimeCode::new(token));
                (None, None)
            }
            Self::MfaEnrolmentRequired => {
                mfa_enrolment_required = Some(true);
                (None, None)
            }
            Self::Unauthorized { invalid_token, .. } => {
                let challenge = if invalid_token {
                    format!(
                        "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{}\"",
                        detail.replace('"', "'")
                    )
                } else {
                    format!("Bearer realm=\"{REALM}\"")
                };
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    headers.insert(header::WWW_AUTHENTICATE, value);
                }
                // RFC 9449 §7.2: a resource that takes both schemes names both.
                headers.append(header::WWW_AUTHENTICATE, dpop_challenge(None));
                (None, None)
            }
            Self::DpopRefused { error, nonce, .. } => {
                headers.insert(header::WWW_AUTHENTICATE, dpop_challenge(Some((error, &detail))));
                if let Some(nonce) = nonce.as_deref().and_then(|n| HeaderValue::from_str(n).ok()) {
                    headers.insert(casebook_domain::dpop::NONCE_HEADER, nonce);
                }
                (None, None)
            }
            Self::Forbidden {
                insufficient_scope: Some(scope),
                ..
            } => {
                let challenge = format!("Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{scope}\"");
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    headers.insert(header::WWW_AUTHENTICATE, value);
                }
                (None, None)
            }
            Self::MethodNotAllowed { allow, .. } => {
                if let Ok(value) = HeaderValue::from_str(&allow) {
                    headers.insert(header::ALLOW, value);
                }
                (None, None)
            }
            Self::TooManyRequests { retry_after_secs, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
                (None, None)
            }
            Self::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(UNAVAILABLE_RETRY_AFTER_SECS));
                (None, None)
            }
            _ => (None, None),
        };
        let problem = Problem {
            kind: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            errors,
            holders,
            missing_permissions,
            mfa_required,
            mfa_token,
            mfa_enrolment_required,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        (status, headers, body).into_response()
    }
}

/// An error at an OAuth endpoint.
#[derive(Debug)]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    pub description: String,
    /// RFC 6749 §10.10 throttling: 429 with `Retry-After` instead of the code's status.
    pub retry_after_secs: Option<u64>,
    /// RFC 9449 §8: a fresh server nonce, sent as `DPoP-Nonce`.
    pub dpop_nonce: Option<String>,
}

impl OAuthError {
    pub fn new(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after_secs: None,
            dpop_nonce: None,
        }
    }

    /// Storage failed: 503 `temporarily_unavailable`, which clients retry,
    /// rather than a 4xx that would blame the client for the server's fault.
    pub fn unavailable(description: impl Into<String>) -> Self {
        Self {
            retry_after_secs: None,
            ..Self::new(OAuthErrorCode::TemporarilyUnavailable, description)
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    /// One answer for every failure of client authentication, so that nothing
    /// tells an unknown client from a disabled one or a wrong secret.
    pub fn invalid_client() -> Self {
        Self::new(OAuthErrorCode::InvalidClient, "client authentication failed")
    }
}

impl From<casebook_domain::token_request::ProtocolError> for OAuthError {
    fn from(error: casebook_domain::token_request::ProtocolError) -> Self {
        Self::new(error.code, error.description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = if self.retry_after_secs.is_some() {
            StatusCode::TOO_MANY_REQUESTS
        } else {
            StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if let Some(nonce) = self.dpop_nonce.as_deref().and_then(|n| HeaderValue::from_str(n).ok()) {
            headers.insert(casebook_domain::dpop::NONCE_HEADER, nonce);
        }
        if self.code == OAuthErrorCode::InvalidClient {
            // §5.2 requires the challenge when Basic was tried, and allows it
            // otherwise; always naming the scheme tells clients what works.
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"casebook\""),
            );
        }
        let body = OAuthErrorBody {
            error: self.code,
            error_description: Some(self.description),
        };
        (status, headers, axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_a_503_to_retry_and_a_failed_statement_a_500() {
        for unreachable in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        ] {
            let response = ApiError::from(unreachable).into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        }
        for failed in [
            sqlx::Error::RowNotFound,
            sqlx::Error::Protocol("unexpected message".into()),
        ] {
            let response = ApiError::from(crate::store::StoreError::Database(failed)).into_response();
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        }
    }
}
