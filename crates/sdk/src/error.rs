//! The one error type of the SDK: every way a call can fail, as values a caller can match.

use crate::key_kind::KeyKind;
use casebook_domain::AssertionAlg;
use casebook_domain::wire::OneTimeCode;
use casebook_domain::{FieldError, OAuthErrorCode, PermissionSet, ValidationErrors};
use std::any::Any;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What went wrong with a call.
///
/// Match on the variant to decide what to do: [`Error::OAuth`] and
/// [`Error::Validation`] need a change of credentials or input,
/// [`Error::Api`] carries the server's RFC 9457 problem (with every refused
/// field on 422), and [`Error::is_transient`] says whether trying again later
/// could help. The SDK has already retried transient failures as far as its
/// [`RetryPolicy`](crate::RetryPolicy) allows before it returns one.
///
/// No variant ever holds a client secret, password or code, and none shows
/// a token: the second step of a sign-in keeps its own out of `Debug`.
///
/// Every error that followed a request names it: [`Error::request_id`] is
/// the server's `X-Request-Id` (or, when no answer came, the one the SDK
/// sent), and `Display` ends with it, `(request id …)`. Quote it to
/// Casebook's operators: it finds the request in their logs.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token endpoint refused the client (RFC 6749 §5.2): for instance
    /// `invalid_client` (wrong Client ID or secret, disabled application) or
    /// `invalid_scope` (a permission the application's roles do not grant).
    #[error("the token endpoint answered {code}{}{}", describe(description), naming(request_id))]
    #[non_exhaustive]
    OAuth {
        /// The RFC 6749 error code.
        code: OAuthErrorCode,
        /// The server's `error_description`, when it sent one.
        description: Option<String>,
        /// The HTTP status of the answer (400, 401, or 429 when throttled).
        status: u16,
        /// How long the server asked the client to wait, from `Retry-After`.
        retry_after: Option<Duration>,
        /// The answer's `X-Request-Id`, when it had one.
        request_id: Option<String>,
    },

    /// The server refused the request's DPoP proof (RFC 9449): the token
    /// endpoint with 400, an API with 401 and a `DPoP` challenge.
    ///
    /// `invalid_dpop_proof` is the proof itself: signed by another key than
    /// the token is bound to, for another method or URL, too far from the
    /// server's clock (check the system clock), or missing. An application
    /// registered with `dpop_bound_access_tokens` gets it for a token request
    /// without a proof: build the client with
    /// [`ClientBuilder::dpop`](crate::ClientBuilder::dpop). `use_dpop_nonce`
    /// here means the server still wanted a nonce after the request was sent
    /// once more with the one it gave, or gave none to send (the SDK answers
    /// the first such challenge of every request itself). A code a newer
    /// server sends in a `DPoP` challenge is no such refusal: that answer is
    /// the [`Error::Api`] (or, at the token endpoint,
    /// [`Error::UnexpectedResponse`]) it would be without DPoP.
    #[error(
        "the server refused the DPoP proof with {code}{}{}",
        describe(description),
        naming(request_id)
    )]
    #[non_exhaustive]
    DpopProof {
        /// [`OAuthErrorCode::InvalidDpopProof`] or [`OAuthErrorCode::UseDpopNonce`].
        code: OAuthErrorCode,
        /// The server's `error_description`, when it sent one.
        description: Option<String>,
        /// 400 from the token endpoint, 401 from an API.
        status: u16,
        /// The answer's `X-Request-Id`, when it had one.
        request_id: Option<String>,
    },

    /// The API answered with an RFC 9457 problem: 401, 403, 404, 409, 422, …
    #[error("HTTP {status} {title}: {detail}{}", naming(request_id))]
    #[non_exhaustive]
    Api {
        /// The HTTP status.
        status: u16,
        /// The problem's `type`, a URI naming the kind of problem; empty or
        /// `about:blank` when the status says it all.
        problem_type: String,
        /// The status's phrase, e.g. `Unprocessable Entity`.
        title: String,
        /// What went wrong, for people.
        detail: String,
        /// Every refused field with its stable code; empty unless the status is 422.
        errors: Vec<FieldError>,
        /// On a 403 from the grant rule (a change touching permissions the
        /// caller does not hold itself): those permissions; empty otherwise.
        missing_permissions: PermissionSet,
        /// On a 403 `insufficient_scope` (RFC 6750 §3.1): the scope the call
        /// needs, from the `WWW-Authenticate` challenge, e.g. `engage:delete`.
        required_scope: Option<String>,
        /// On a 403: the tenant requires a second factor of everyone holding
        /// an `admin:` permission, and this person has none yet. Until they
        /// enrol ([`Totp::begin`](crate::Totp::begin)), that is all they can do.
        second_factor_enrolment_required: bool,
        /// How long the server asked the client to wait, from `Retry-After`.
        retry_after: Option<Duration>,
        /// The answer's `X-Request-Id`, when it had one.
        request_id: Option<String>,
    },

    /// The password was right and the person has a second factor: signing
    /// in takes a code too (a 401 with `mfa_required`). Finish within 5
    /// minutes with [`SecondStep::complete`]. Also the answer to a code the
    /// server did not accept, with a new step to try again.
    #[error("a second factor is needed to finish signing in: {}", .0.detail())]
    SecondFactorRequired(SecondStep),

    /// The input breaks a rule the server would enforce, so it was not sent.
    /// The errors are exactly those the server would have answered with.
    #[error("the request was not sent: {0}")]
    Validation(ValidationErrors),

    /// The server did not answer in time (see [`ClientBuilder::timeout`](crate::ClientBuilder::timeout)).
    #[error("the request to the server timed out{}", naming(&.0.request_id))]
    Timeout(#[source] Cause),

    /// The server could not be reached, or the connection failed mid-way.
    #[error("could not reach the server{}", naming(&.0.request_id))]
    Transport(#[source] Cause),

    /// The server answered with something this SDK does not understand: a
    /// body that is not the documented JSON, a redirect, an unknown error code.
    #[error("unexpected answer from the server (HTTP {status}): {message}{}", naming(request_id))]
    #[non_exhaustive]
    UnexpectedResponse {
        /// The HTTP status.
        status: u16,
        /// What was unexpected.
        message: String,
        /// How long the server asked the client to wait, from `Retry-After`.
        retry_after: Option<Duration>,
        /// The parse error, when there was one.
        #[source]
        source: Option<Cause>,
        /// The answer's `X-Request-Id`, when it had one.
        request_id: Option<String>,
    },

    /// The client was configured with something unusable, e.g. a base URL that
    /// is not an absolute `http` or `https` URL.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// An async call was made outside a Tokio runtime (from another
    /// executor, or plain code), or a blocking call from inside one. The
    /// async API runs on Tokio; code that is not async uses the `blocking`
    /// feature's client instead.
    #[error("{0}")]
    Runtime(&'static str),

    /// The client secret is neither of the formats Casebook issues: its
    /// checksum fails, or it was cut short or copied with extra characters.
    /// Caught before anything is sent; the secret is never quoted. Spaces
    /// and line breaks around it (a secret read from a file) are trimmed
    /// first, never called a mistake. A secret of another RFC 6749 server
    /// is not checked at all once the builder is told
    /// [`check_secret_format(false)`](crate::TokenSourceBuilder::check_secret_format).
    #[error(
        "the client secret is not one Casebook issued (its format or checksum is wrong): copy it again, whole, from cb Admin"
    )]
    MistypedSecret,

    /// A private key could not be read: not PEM or a JWK, encrypted, of an
    /// unsupported kind, or with members that do not form a key. The reason
    /// never quotes the key.
    #[error("the private key cannot be used: {reason}")]
    #[non_exhaustive]
    InvalidKey {
        /// What is wrong with it, for people.
        reason: String,
    },

    /// The signing algorithm chosen is not one the key signs with (RS256 or
    /// PS256 for RSA, ES256 for P-256, EdDSA for Ed25519).
    #[error("{} cannot be signed with {key} key", alg.as_str())]
    #[non_exhaustive]
    KeyAlgorithmMismatch {
        /// The kind of key.
        key: KeyKind,
        /// The algorithm asked for.
        alg: AssertionAlg,
    },

    /// The federated token file could not be read, or held no token. It is
    /// read again at the next token request.
    #[error("the federated token file {} cannot be used: {message}", path.display())]
    #[non_exhaustive]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// What went wrong; never the file's contents.
        message: String,
        /// The I/O error, when there was one.
        #[source]
        source: Option<Cause>,
    },

    /// The client secret file could not be read, or held no secret. It is
    /// read again at the next token request; the secret is never quoted.
    #[error("the client secret file {} cannot be used: {message}", path.display())]
    #[non_exhaustive]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// What went wrong; never the file's contents.
        message: String,
        /// The I/O error, when there was one.
        #[source]
        source: Option<Cause>,
    },
}

fn describe(description: &Option<String>) -> String {
    description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
}

/// The end of a message that names its request.
fn naming(request_id: &Option<String>) -> String {
    request_id
        .as_deref()
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

/// The longest request id kept from an answer: the server takes ids up to
/// this long, and one far longer is not an id worth printing.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The `X-Request-Id` of an answer, when it has one that reads as text.
pub(crate) fn request_id_of(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let id = headers.get("x-request-id")?.to_str().ok()?.trim();
    (!id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN).then(|| id.to_owned())
}

impl Error {
    /// Whether trying again later could succeed: timeouts, connection
    /// failures, 408, 429 and 5xx answers. An OAuth error code is never
    /// transient, even when throttled with 429: the credentials must change.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout(_) | Self::Transport(_) => true,
            Self::Api { status, .. } | Self::UnexpectedResponse { status, .. } => transient_status(*status),
            // A server fault reported in OAuth form (503 `temporarily_unavailable`)
            // passes; every other OAuth code is the client's to fix.
            Self::OAuth { code, status, .. } => *code == OAuthErrorCode::TemporarilyUnavailable || *status >= 500,
            // A projected token file is written by the platform, not the
            // caller: missing at start-up or mid-swap, it will be back soon.
            Self::TokenFile { .. } => true,
            // A mounted Secret is swapped by the kubelet as a whole; missing
            // for a moment, it is back soon.
            Self::SecretFile { .. } => true,
            Self::Validation(_)
            | Self::DpopProof { .. }
            | Self::SecondFactorRequired(_)
            | Self::Config(_)
            | Self::Runtime(_)
            | Self::MistypedSecret
            | Self::InvalidKey { .. }
            | Self::KeyAlgorithmMismatch { .. } => false,
        }
    }

    /// The HTTP status of the server's answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::OAuth { status, .. }
            | Self::DpopProof { status, .. }
            | Self::Api { status, .. }
            | Self::UnexpectedResponse { status, .. } => Some(*status),
            Self::SecondFactorRequired(_) => Some(401),
            _ => None,
        }
    }

    /// The id of the request that failed, to quote to Casebook's
    /// operators: the `X-Request-Id` the server answered with (it sends one
    /// on every answer), or, when no answer came (a timeout, a connection
    /// that broke), the one the SDK sent. `None` when nothing was sent: an
    /// error found offline, or a connection never made.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::OAuth { request_id, .. }
            | Self::DpopProof { request_id, .. }
            | Self::Api { request_id, .. }
            | Self::UnexpectedResponse { request_id, .. } => request_id.as_deref(),
            Self::Timeout(cause) | Self::Transport(cause) => cause.request_id.as_deref(),
            Self::SecondFactorRequired(step) => step.request_id(),
            _ => None,
        }
    }

    /// Names the request an error came from, unless it names one already:
    /// `answered` is the answer's `X-Request-Id`, `sent` the id the request
    /// carried (kept only where no answer came, and the request left).
    pub(crate) fn naming_request(mut self, answered: Option<&str>, sent: Option<&str>) -> Self {
        let slot = match &mut self {
            Self::OAuth { request_id, .. }
            | Self::DpopProof { request_id, .. }
            | Self::Api { request_id, .. }
            | Self::UnexpectedResponse { request_id, .. } => request_id,
            Self::Timeout(cause) => &mut cause.request_id,
            Self::Transport(cause) if !cause.not_sent => &mut cause.request_id,
            Self::SecondFactorRequired(step) => &mut step.request_id,
            _ => return self,
        };
        if slot.is_none() {
            *slot = answered.or(sent).map(str::to_owned);
        }
        self
    }

    /// The OAuth error code, for [`Error::OAuth`] and [`Error::DpopProof`].
    pub fn oauth_code(&self) -> Option<OAuthErrorCode> {
        match self {
            Self::OAuth { code, .. } | Self::DpopProof { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Every refused field, whether found before sending ([`Error::Validation`])
    /// or by the server (a 422 [`Error::Api`]); empty otherwise.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Validation(errors) => errors.errors(),
            Self::Api { errors, .. } => errors,
            _ => &[],
        }
    }

    /// The permissions a refused admin change needed and the caller lacks
    /// (the problem's `missing_permissions`); empty for any other error.
    pub fn missing_permissions(&self) -> PermissionSet {
        match self {
            Self::Api {
                missing_permissions, ..
            } => *missing_permissions,
            _ => PermissionSet::EMPTY,
        }
    }

    /// How long the server asked the client to wait before trying again.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::OAuth { retry_after, .. }
            | Self::Api { retry_after, .. }
            | Self::UnexpectedResponse { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// On a 403 `insufficient_scope`: the scope the call needed, as the
    /// server's `WWW-Authenticate` challenge named it.
    pub fn required_scope(&self) -> Option<&str> {
        match self {
            Self::Api { required_scope, .. } => required_scope.as_deref(),
            _ => None,
        }
    }

    /// The sign-in waiting for a second factor, for
    /// [`Error::SecondFactorRequired`].
    pub fn second_step(&self) -> Option<&SecondStep> {
        match self {
            Self::SecondFactorRequired(step) => Some(step),
            _ => None,
        }
    }

    /// Whether the person must enrol a second factor before anything else
    /// (a 403 with `mfa_enrolment_required`): their tenant requires one of
    /// everyone holding an `admin:` permission.
    pub fn second_factor_enrolment_required(&self) -> bool {
        matches!(
            self,
            Self::Api {
                second_factor_enrolment_required: true,
                ..
            }
        )
    }

    /// Whether the server certainly did not act on the request: the
    /// connection was never made, nothing was sent (a token file could not
    /// be read), or the answer says so. Only then is a request that may
    /// change something, such as a POST, sent again.
    ///
    /// A 429 says so. A bare 503 does not: some proxies answer it after
    /// forwarding the request to an upstream that then reset, so it counts
    /// only with the server's own word that it is unavailable, a
    /// `Retry-After` (RFC 9110 §10.2.3) or the token endpoint's
    /// `temporarily_unavailable` (RFC 6749 §5.2).
    pub(crate) fn certainly_not_acted(&self) -> bool {
        match self {
            Self::Transport(cause) => cause.not_sent,
            Self::TokenFile { .. } | Self::SecretFile { .. } => true,
            Self::Api {
                status, retry_after, ..
            }
            | Self::UnexpectedResponse {
                status, retry_after, ..
            } => *status == 429 || (*status == 503 && retry_after.is_some()),
            Self::OAuth {
                status,
                code,
                retry_after,
                ..
            } => {
                *status == 429
                    || (*status == 503 && (retry_after.is_some() || *code == OAuthErrorCode::TemporarilyUnavailable))
            }
            _ => false,
        }
    }

    pub(crate) fn unexpected(status: u16, message: impl Into<String>) -> Self {
        Self::UnexpectedResponse {
            status,
            message: message.into(),
            retry_after: None,
            source: None,
            request_id: None,
        }
    }

    pub(crate) fn undecodable(status: u16, what: &str, source: serde_json::Error) -> Self {
        Self::UnexpectedResponse {
            status,
            message: format!("the body is not {what}"),
            retry_after: None,
            source: Some(Cause::new(source)),
            request_id: None,
        }
    }

    /// Sorts a reqwest failure into timeout, configuration or transport.
    pub(crate) fn from_reqwest(error: reqwest::Error) -> Self {
        // A URL reqwest refuses or a header it cannot build is the caller's
        // configuration; nothing on the network would change it.
        if error.is_builder() {
            return Self::Config(error.to_string());
        }
        if error.is_timeout() {
            Self::Timeout(Cause::new(error))
        } else {
            let not_sent = error.is_connect();
            Self::Transport(Cause {
                not_sent,
                ..Cause::new(error)
            })
        }
    }
}

impl From<ValidationErrors> for Error {
    fn from(errors: ValidationErrors) -> Self {
        Self::Validation(errors)
    }
}

pub(crate) fn transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// A sign-in whose password was right, waiting for the person's second
/// factor: [`Error::SecondFactorRequired`] carries it. Finish it with
/// [`complete`](Self::complete) within 5 minutes; its token works once.
/// `Debug` never shows the token.
///
/// ```no_run
/// # async fn run(code_from_the_app: impl Fn() -> String) -> Result<(), casebook_sdk::Error> {
/// use casebook_sdk::{Client, Error, Password, SecondFactor};
///
/// let client = Client::builder("https://casebook.example.org").build()?;
/// let password = Password::new("correct horse battery staple");
/// let admin = match client.sign_in("admin@agency.org", &password).await {
///     Ok(admin) => admin,
///     Err(Error::SecondFactorRequired(step)) => step.complete(&SecondFactor::totp(code_from_the_app())).await?,
///     Err(other) => return Err(other),
/// };
/// # let _ = admin; Ok(()) }
/// ```
#[derive(Clone)]
pub struct SecondStep {
    /// The client the step is finished through: anonymous, on the pool and
    /// settings of the one that signed in. Held opaque so that the error
    /// type stays below the client among the modules; `sign_in.rs` reads it.
    via: Arc<dyn Any + Send + Sync>,
    mfa_token: OneTimeCode,
    detail: String,
    request_id: Option<String>,
}

impl SecondStep {
    pub(crate) fn new(via: impl Any + Send + Sync, mfa_token: OneTimeCode, detail: String) -> Self {
        Self {
            via: Arc::new(via),
            mfa_token,
            detail,
            request_id: None,
        }
    }

    /// The server's words for people: asking for a code, or saying that the
    /// one offered was not accepted.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The `X-Request-Id` of the answer that asked for the second factor.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    pub(crate) fn via(&self) -> &(dyn Any + Send + Sync) {
        self.via.as_ref()
    }

    pub(crate) fn mfa_token(&self) -> &OneTimeCode {
        &self.mfa_token
    }
}

impl fmt::Debug for SecondStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecondStep")
            .field("mfa_token", &"[redacted]")
            .field("detail", &self.detail)
            .field("request_id", &self.request_id)
            .finish()
    }
}

impl PartialEq for SecondStep {
    fn eq(&self, other: &Self) -> bool {
        self.mfa_token == other.mfa_token
    }
}

/// The underlying cause of an [`Error`], reachable through
/// [`std::error::Error::source`]. Deliberately opaque: the HTTP and JSON
/// libraries beneath the SDK are not part of its API.
#[derive(Clone)]
pub struct Cause {
    error: Arc<dyn std::error::Error + Send + Sync>,
    /// The connection was never made, so the server cannot have acted.
    not_sent: bool,
    /// The `X-Request-Id` the failed request carried, when it left.
    request_id: Option<String>,
}

impl Cause {
    pub(crate) fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            error: Arc::new(error),
            not_sent: false,
            request_id: None,
        }
    }

    /// A transport failure's cause as a test states it.
    #[cfg(test)]
    pub(crate) fn transport(not_sent: bool) -> Self {
        Self {
            not_sent,
            ..Self::new(std::io::Error::other("connection failed"))
        }
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.error, f)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// The error of a call made where it cannot run, instead of a panic.
pub(crate) fn require_runtime() -> Result<(), Error> {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => Ok(()),
        Err(_) => Err(Error::Runtime(
            "casebook-sdk's async API must run on a Tokio runtime (e.g. under #[tokio::main]); \
             from other executors or plain code, use casebook_sdk::blocking (feature \"blocking\")",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use casebook_domain::ErrorCode;

    fn api(status: u16) -> Error {
        api_waiting(status, None)
    }

    fn api_waiting(status: u16, retry_after: Option<Duration>) -> Error {
        Error::Api {
            status,
            problem_type: String::new(),
            title: String::new(),
            detail: String::new(),
            errors: vec![],
            missing_permissions: PermissionSet::EMPTY,
            required_scope: None,
            second_factor_enrolment_required: false,
            retry_after,
            request_id: None,
        }
    }

    #[test]
    fn transient_is_timeouts_transport_and_overload_statuses() {
        for (error, transient) in [
            (api(408), true),
            (api(429), true),
            (api(500), true),
            (api(503), true),
            (api(400), false),
            (api(401), false),
            (api(404), false),
            (api(422), false),
            (Error::unexpected(502, "html"), true),
            (Error::unexpected(200, "not json"), false),
            (
                Error::OAuth {
                    code: OAuthErrorCode::InvalidClient,
                    description: None,
                    status: 429,
                    retry_after: Some(Duration::from_secs(3)),
                    request_id: None,
                },
                false,
            ),
            (
                Error::OAuth {
                    code: OAuthErrorCode::TemporarilyUnavailable,
                    description: None,
                    status: 503,
                    retry_after: None,
                    request_id: None,
                },
                true,
            ),
            (Error::Config("x".into()), false),
            (Error::Validation(ValidationErrors::new()), false),
        ] {
            assert_eq!(error.is_transient(), transient, "{error:?}");
        }
    }

    #[test]
    fn only_a_429_or_a_503_the_server_vouches_for_says_nothing_was_done() {
        let unavailable = |retry_after| api_waiting(503, retry_after);
        let oauth = |code, status| Error::OAuth {
            code,
            description: None,
            status,
            retry_after: None,
            request_id: None,
        };
        for (error, not_acted) in [
            (api(429), true),
            (unavailable(Some(Duration::from_secs(1))), true),
            (unavailable(None), false),
            (api(500), false),
            (api(502), false),
            (Error::unexpected(503, "a proxy's page"), false),
            (oauth(OAuthErrorCode::TemporarilyUnavailable, 503), true),
            (oauth(OAuthErrorCode::InvalidRequest, 503), false),
            (oauth(OAuthErrorCode::InvalidClient, 429), true),
        ] {
            assert_eq!(error.certainly_not_acted(), not_acted, "{error:?}");
        }
    }

    #[test]
    fn field_errors_come_from_either_side_of_the_wire() {
        let offline: ValidationErrors = FieldError::new("name", ErrorCode::Required, "name is required").into();
        assert_eq!(Error::from(offline).field_errors()[0].code, ErrorCode::Required);
        let server = Error::Api {
            status: 422,
            problem_type: String::new(),
            title: "Unprocessable Entity".into(),
            detail: "roles: there is no role".into(),
            errors: vec![FieldError::new("roles", ErrorCode::UnknownRole, "there is no role")],
            missing_permissions: PermissionSet::EMPTY,
            required_scope: None,
            second_factor_enrolment_required: false,
            retry_after: None,
            request_id: None,
        };
        assert_eq!(server.field_errors()[0].code, ErrorCode::UnknownRole);
        assert!(api(404).field_errors().is_empty());
    }

    #[test]
    fn errors_cross_threads_even_with_a_second_step_in_them() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<Error>();
        shareable::<SecondStep>();
    }

    #[test]
    fn display_names_the_oauth_code_and_description() {
        let e = Error::OAuth {
            code: OAuthErrorCode::InvalidScope,
            description: Some("scope asks for engage:delete".into()),
            status: 400,
            retry_after: None,
            request_id: None,
        };
        assert_eq!(
            e.to_string(),
            "the token endpoint answered invalid_scope: scope asks for engage:delete"
        );
        assert_eq!(e.oauth_code(), Some(OAuthErrorCode::InvalidScope));
        assert_eq!(e.status(), Some(400));
    }

    #[test]
    fn a_refused_dpop_proof_is_its_own_error_and_never_transient() {
        let e = Error::DpopProof {
            code: OAuthErrorCode::InvalidDpopProof,
            description: Some("the proof's htu is not this request's URL".into()),
            status: 401,
            request_id: None,
        };
        assert_eq!(
            e.to_string(),
            "the server refused the DPoP proof with invalid_dpop_proof: the proof's htu is not this request's URL"
        );
        assert_eq!(e.oauth_code(), Some(OAuthErrorCode::InvalidDpopProof));
        assert_eq!(e.status(), Some(401));
        assert!(!e.is_transient());
        assert!(!e.certainly_not_acted());
    }
}
