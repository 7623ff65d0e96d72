//! What one call may change of its client's settings, and an answer with
//! its status and headers for callers who need more than the body.

use crate::retry::RetryPolicy;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::time::Duration;

/// Settings for the calls of one [`Client::with_options`](crate::Client::with_options)
/// view of a client: a timeout, a retry policy or headers of their own.
/// Whatever is not set keeps the client's setting.
///
/// ```no_run
/// # async fn run(client: casebook_sdk::Client) -> Result<(), casebook_sdk::Error> {
/// use casebook_sdk::{RequestOptions, RetryPolicy};
/// use std::time::Duration;
///
/// let patient = client.with_options(
///     RequestOptions::new()
///         .timeout(Duration::from_secs(120))
///         .retry_policy(RetryPolicy::none())
///         .header("x-correlation-id", "nightly-export-7")?,
/// );
/// let everything = patient.cases().list().all().await?;
/// # let _ = everything; Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RequestOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) headers: HeaderMap,
}

impl RequestOptions {
    /// Nothing changed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The longest one HTTP request of these calls may take.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How these calls' transient failures are retried.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// A header sent with each of these calls, e.g. a correlation id for your
    /// logs. `Authorization`, `DPoP`, `Content-Type` and `Accept` are the
    /// SDK's own and cannot be set here. An `X-Request-Id` set here is sent
    /// instead of the one the SDK makes for each attempt, and an
    /// `Idempotency-Key` instead of the one it makes for each POST: the
    /// server answers every POST under one key with its first answer, so
    /// a view holding a key is for one call (an order number, say), and
    /// another body under it is refused with 422.
    pub fn header(mut self, name: &str, value: &str) -> Result<Self, crate::Error> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| crate::Error::Config(format!("{name:?} is not a header name")))?;
        if [
            reqwest::header::AUTHORIZATION,
            HeaderName::from_static("dpop"),
            reqwest::header::CONTENT_TYPE,
            reqwest::header::ACCEPT,
        ]
        .contains(&name)
        {
            return Err(crate::Error::Config(format!("the {name} header is the SDK's own")));
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| crate::Error::Config(format!("the value of {name} is not a header value")))?;
        self.headers.append(name, value);
        Ok(self)
    }
}

/// An answer with its status and headers, from [`Client::call`](crate::Client::call).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Response<T> {
    /// The HTTP status, 2xx.
    pub status: u16,
    /// Every header of the answer (rate limits, request ids, caching, …).
    pub headers: HeaderMap,
    /// The body, read as the documented JSON.
    pub body: T,
}

impl<T> Response<T> {
    /// The server's `X-Request-Id` for this answer.
    pub fn request_id(&self) -> Option<&str> {
        self.headers.get("x-request-id").and_then(|v| v.to_str().ok())
    }

    /// Whether this is the first answer to an earlier attempt with the same
    /// `Idempotency-Key`, given again (`Idempotent-Replayed: true`): the
    /// call was done once, by that attempt.
    pub fn replayed(&self) -> bool {
        self.headers
            .get("idempotent-replayed")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"))
    }
}
