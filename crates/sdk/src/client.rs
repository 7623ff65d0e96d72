//! The client: one connection pool, one credential, and the request loop
//! every call goes through (authorization, retries, error mapping).

use crate::call::{RequestOptions, Response};
use crate::dpop::Prover;
use crate::error::{Error, SecondStep};
use crate::key::PrivateKey;
use crate::options::{SharedOptions, shared_setters};
use crate::retry::{RetryPolicy, parse_retry_after};
use crate::token::{AccessToken, Credential, TokenSource, TokenSourceBuilder};
use crate::transport::{
    Http, IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, REQUEST_ID, checked_url, random_id, refuse_redirected,
};
use casebook_domain::wire::Problem;
use casebook_domain::{ClientSecret, OAuthErrorCode};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;
use tracing::Instrument;

/// A Casebook client. Cheap to clone: clones share the connection pool and
/// the cached access token, so make one and pass it around.
///
/// Build one with [`Client::builder`]; see the [crate documentation](crate)
/// for a complete example. Its calls run on a Tokio runtime; from code that
/// is not async, use the `blocking` feature's client.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    /// Set by [`Client::with_options`] for the calls of that view.
    call: Option<Arc<RequestOptions>>,
}

pub(crate) struct Inner {
    http: Http,
    base: Url,
    auth: Auth,
    retry: RetryPolicy,
}

enum Auth {
    Anonymous,
    Application(TokenSource),
    Session(SessionToken),
}

/// An admin session token; its `Debug` never shows it.
struct SessionToken(Box<str>);

/// A 2xx answer, before its body is read.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
    /// Its `X-Request-Id`, for an error reading the body.
    request_id: Option<String>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Client");
        d.field("base_url", &self.inner.base.as_str());
        match &self.inner.auth {
            Auth::Anonymous => d.field("auth", &"none"),
            Auth::Application(source) => d.field("auth", source),
            Auth::Session(_) => d.field("auth", &"admin session [redacted]"),
        };
        if let Some(call) = &self.call {
            d.field("options", call);
        }
        d.finish()
    }
}

impl Client {
    /// Starts a client for the Casebook at `base_url`: the **Callback URL**
    /// that cb Admin shows for every application, e.g.
    /// `https://casebook.example.org`.
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            credentials: None,
            options: SharedOptions::default(),
        }
    }

    /// The base URL every path is joined to.
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// The token source of a client acting as an application (built with
    /// [`client_credentials`](ClientBuilder::client_credentials), a key, a
    /// federated token file or [`token_source`](ClientBuilder::token_source)),
    /// e.g. to hand its access tokens to another tool.
    pub fn token_source(&self) -> Option<&TokenSource> {
        match &self.inner.auth {
            Auth::Application(source) => Some(source),
            _ => None,
        }
    }

    /// A view of this client whose calls use `options` (a timeout, a retry
    /// policy, headers) over the client's own settings. It shares the
    /// connection pool and token; the client itself is unchanged.
    pub fn with_options(&self, options: RequestOptions) -> Client {
        Client {
            inner: self.inner.clone(),
            call: Some(Arc::new(options)),
        }
    }

    /// This client's pool and settings, acting as nobody: the second step
    /// of a sign-in is sent without the credential of whoever began it.
    pub(crate) fn anonymous(&self) -> Client {
        self.acting(Auth::Anonymous)
    }

    /// This client's pool and settings, acting as the person whose session
    /// `token` is.
    pub(crate) fn as_session(&self, token: String) -> Client {
        self.acting(Auth::Session(SessionToken(token.into_boxed_str())))
    }

    fn acting(&self, auth: Auth) -> Client {
        Client {
            inner: Arc::new(Inner {
                http: self.inner.http.clone(),
                base: self.inner.base.clone(),
                auth,
                retry: self.inner.retry.clone(),
            }),
            call: self.call.clone(),
        }
    }

    /// Signs the session out (`DELETE /admin/v1/sessions/current`): its token
    /// stops working, for this client and every clone of it.
    pub async fn sign_out(&self) -> Result<(), Error> {
        self.send_empty(Method::DELETE, &["admin", "v1", "sessions", "current"], None::<&()>)
            .await
    }

    /// Any call of the API, by its path segments under the base URL, with
    /// the answer's status and headers beside its body: for a header the
    /// typed calls do not surface, or an endpoint newer than this SDK. It is
    /// authorized, retried and mapped to [`Error`] like every other call.
    ///
    /// ```no_run
    /// # async fn run(client: casebook_sdk::Client) -> Result<(), casebook_sdk::Error> {
    /// use casebook_sdk::{Me, Method};
    ///
    /// let answer = client.call::<Me>(Method::GET, &["api", "v1", "me"], None::<&()>).await?;
    /// println!("{} ({:?})", answer.body.name, answer.headers.get("x-request-id"));
    /// # Ok(()) }
    /// ```
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<Response<T>, Error> {
        let answer = self.execute(method, segments, &[], body).await?;
        let body = decode(&answer)?;
        Ok(Response {
            status: answer.status,
            headers: answer.headers,
            body,
        })
    }

    pub(crate) fn endpoint(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.inner.base.clone();
        // Segments are percent-encoded one by one, so an id can never climb
        // out of its path ("../"). Every checked http(s) URL has segments.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// A call whose answer is JSON.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, Error> {
        let answer = self.execute(method, segments, query, body).await?;
        decode(&answer)
    }

    /// A call whose answer has no body worth reading (204).
    pub(crate) async fn send_empty(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<(), Error> {
        self.execute(method, segments, &[], body).await.map(drop)
    }

    async fn authorization(&self) -> Result<(Option<HeaderValue>, Option<AccessToken>), Error> {
        match &self.inner.auth {
            Auth::Anonymous => Ok((None, None)),
            Auth::Session(session) => Ok((Some(bearer(&session.0)?), None)),
            Auth::Application(source) => {
                let token = source.token().await?;
                let value = match source.prover() {
                    Some(_) => authorization("DPoP", token.secret())?,
                    None => bearer(token.secret())?,
                };
                Ok((Some(value), Some(token)))
            }
        }
    }

    /// What signs this client's DPoP proofs, when its tokens are bound to a key.
    fn prover(&self) -> Option<&Prover> {
        match &self.inner.auth {
            Auth::Application(source) => source.prover(),
            _ => None,
        }
    }

    /// One call: a span named `casebook.request` around every attempt of
    /// it, with the method, the path as a template (ids as `{id}`), and,
    /// once answered, the status and the server's request id. Never a
    /// token, a secret or a body.
    async fn execute(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<Answer, Error> {
        crate::error::require_runtime()?;
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| Error::Config(format!("the request body cannot be written as JSON: {e}")))?;
        let span = tracing::info_span!(
            "casebook.request",
            method = %method,
            path = %path_template(segments),
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
            retries = tracing::field::Empty,
            replayed = tracing::field::Empty,
        );
        // The server keeps an Idempotency-Key for the calls of an account
        // on its APIs; elsewhere, or unsigned, a key promises nothing.
        let keyed = method == Method::POST
            && !matches!(self.inner.auth, Auth::Anonymous)
            && matches!(segments, ["api" | "admin", "v1", ..]);
        let url = self.endpoint(segments, query);
        self.attempts(method, url, body, keyed, &span)
            .instrument(span.clone())
            .await
    }

    /// Every attempt of one call, until an answer or the retry rule says stop.
    async fn attempts(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        keyed: bool,
        span: &tracing::Span,
    ) -> Result<Answer, Error> {
        let call = self.call.as_deref();
        let own = |name: &str| call.and_then(|c| c.headers.get(name)).is_some();
        let retry = call.and_then(|c| c.retry.as_ref()).unwrap_or(&self.inner.retry);
        // One key per call, the same on every attempt of it: the server does
        // the call once and answers a repeat with the first answer. A key of
        // the caller's own (`RequestOptions::header`) is sent instead.
        let idempotency_key = if method == Method::POST && !own(IDEMPOTENCY_KEY.as_str()) {
            Some(random_id()?)
        } else {
            None
        };
        let mut retries = 0;
        let mut renewed_token = false;
        let mut sent_with_nonce = false;
        // An attempt of this call may have reached the server and still be
        // running there: its answer to a repeat is then 409.
        let mut may_be_running = false;
        let prover = self.prover();
        loop {
            let (authorization, token) = self.authorization().await?;
            let proof = match (prover, &token) {
                (Some(prover), Some(token)) => Some(prover.prove(method.as_str(), &url, Some(token.secret()))?),
                _ => None,
            };
            let mut request = self
                .inner
                .http
                .request(method.clone(), url.clone(), call.and_then(|c| c.timeout));
            if let Some(call) = call {
                request = request.headers(call.headers.clone());
            }
            // Each attempt is its own request, named for the server's logs,
            // unless the caller names its requests itself.
            let sent_id = if own(REQUEST_ID.as_str()) {
                None
            } else {
                Some(random_id()?)
            };
            if let Some(id) = &sent_id {
                request = request.header(REQUEST_ID, id.as_str());
            }
            if let Some(key) = &idempotency_key {
                request = request.header(IDEMPOTENCY_KEY, key.as_str());
            }
            request = request.header(header::ACCEPT, "application/json, application/problem+json");
            if let Some(authorization) = authorization {
                request = request.header(header::AUTHORIZATION, authorization);
            }
            if let Some(proof) = &proof {
                request = request.header(crate::dpop::HEADER, proof.header.clone());
            }
            if let Some(body) = &body {
                request = request
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let mut replayed = false;
            let error = match request.send().await {
                Err(e) => Error::from_reqwest(e).naming_request(None, sent_id.as_deref()),
                Ok(response) => {
                    refuse_redirected(&response, &url)?;
                    if let Some(prover) = prover {
                        prover.remember_nonce(response.headers());
                    }
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let answered = crate::error::request_id_of(&headers);
                    replayed = headers
                        .get(IDEMPOTENT_REPLAYED)
                        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
                    span.record("status", status);
                    if let Some(id) = &answered {
                        span.record("request_id", id.as_str());
                    }
                    if replayed {
                        span.record("replayed", true);
                    }
                    let invalid_token = status == 401
                        && headers
                            .get_all(header::WWW_AUTHENTICATE)
                            .iter()
                            .filter_map(|v| v.to_str().ok())
                            .any(|challenge| auth_param(challenge, "error").as_deref() == Some("invalid_token"));
                    match response.bytes().await {
                        Err(e) => Error::from_reqwest(e).naming_request(answered.as_deref(), sent_id.as_deref()),
                        Ok(bytes) if (200..300).contains(&status) => {
                            if retries > 0 {
                                span.record("retries", retries);
                            }
                            return Ok(Answer {
                                status,
                                headers,
                                body: bytes.to_vec(),
                                request_id: answered,
                            });
                        }
                        Ok(bytes) => {
                            // RFC 6750 §3.1: the token was refused (revoked,
                            // expired early, signing key rotated). Once per
                            // call, forget it and try with a new one.
                            if let (true, false, Auth::Application(source), Some(token)) =
                                (invalid_token, renewed_token, &self.inner.auth, &token)
                            {
                                tracing::debug!(
                                    path = url.path(),
                                    "access token refused; renewing it and retrying once"
                                );
                                source.invalidate(token);
                                renewed_token = true;
                                continue;
                            }
                            // RFC 9449 §9: the API did nothing and named the
                            // nonce it wants; the call goes once more with
                            // it, and a second refusal is the answer.
                            if let (Some(prover), Some(proof)) = (prover, &proof)
                                && status == 401
                                && !sent_with_nonce
                                && dpop_challenge(&headers).is_some_and(|(code, _)| code == "use_dpop_nonce")
                                && prover.has_newer_nonce_than(proof)
                            {
                                tracing::debug!(
                                    path = url.path(),
                                    "the API asked for its DPoP nonce; retrying once with it"
                                );
                                sent_with_nonce = true;
                                continue;
                            }
                            problem(status, &headers, &bytes, self).naming_request(answered.as_deref(), None)
                        }
                    }
                }
            };
            // Sent again only as the one retry rule allows (`retry::verdict`);
            // a keyed POST as `retry::keyed_verdict` allows.
            let verdict = if keyed {
                crate::retry::keyed_verdict(retry, &error, retries, may_be_running && !replayed)
            } else {
                crate::retry::verdict(retry, &method, &error, retries)
            };
            let Ok((delay, why)) = verdict else {
                if retries > 0 {
                    span.record("retries", retries);
                }
                return Err(error);
            };
            may_be_running |= error.is_transient() && !error.certainly_not_acted();
            tracing::warn!(
                method = %method,
                path = url.path(),
                error = %error,
                why = why.as_str(),
                retry = retries + 1,
                delay_ms = delay.as_millis() as u64,
                "request failed; retrying"
            );
            tokio::time::sleep(delay).await;
            retries += 1;
        }
    }
}

/// A call's path under the base URL as a template, for spans and logs:
/// a segment that is a plain word (`cases`, `v1`, `me`) as it is, any other
/// (an id) as `{id}`. Casebook's ids always hold a digit or an underscore.
fn path_template(segments: &[&str]) -> String {
    let word = |s: &str| {
        let version = s
            .strip_prefix('v')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        version || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
    };
    let mut template = String::new();
    for segment in segments {
        template.push('/');
        template.push_str(if word(segment) { segment } else { "{id}" });
    }
    template
}

fn decode<T: DeserializeOwned>(answer: &Answer) -> Result<T, Error> {
    // A 204 has no body; `()` and other unit-like answers read it as null.
    let body: &[u8] = if answer.body.is_empty() { b"null" } else { &answer.body };
    serde_json::from_slice(body).map_err(|e| {
        Error::undecodable(answer.status, "the documented JSON", e).naming_request(answer.request_id.as_deref(), None)
    })
}

fn bearer(token: &str) -> Result<HeaderValue, Error> {
    authorization("Bearer", token)
}

fn authorization(scheme: &str, token: &str) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::from_str(&format!("{scheme} {token}"))
        .map_err(|_| Error::unexpected(200, "the token holds characters that cannot go in an HTTP header"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// The `error` and `error_description` of a `DPoP` challenge (RFC 9449
/// §7.1), from `DPoP error="invalid_dpop_proof", error_description="…",
/// algs="…"`; a challenge naming no error (`DPoP algs="…"`) is none.
fn dpop_challenge(headers: &HeaderMap) -> Option<(String, Option<String>)> {
    headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|challenge| {
            let scheme = challenge.trim_start().split([' ', ',']).next().unwrap_or_default();
            scheme.eq_ignore_ascii_case("dpop")
        })
        .find_map(|challenge| {
            let error = auth_param(challenge, "error")?;
            Some((error, auth_param(challenge, "error_description")))
        })
}

/// The `scope` of an RFC 6750 `insufficient_scope` challenge, e.g. from
/// `Bearer realm="casebook", error="insufficient_scope", scope="engage:delete"`.
fn required_scope(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|challenge| challenge.contains("insufficient_scope"))
        .find_map(|challenge| auth_param(challenge, "scope"))
}

/// One parameter of an HTTP authentication challenge (RFC 9110 §11.2),
/// quoted or not.
fn auth_param(challenge: &str, name: &str) -> Option<String> {
    let mut rest = challenge;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + name.len()..].trim_start();
        rest = &rest[at + name.len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let Some(value) = after.strip_prefix('=') else {
            continue;
        };
        let value = value.trim_start();
        return Some(match value.strip_prefix('"') {
            Some(quoted) => {
                let mut out = String::new();
                let mut chars = quoted.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => out.extend(chars.next()),
                        c => out.push(c),
                    }
                }
                out
            }
            None => value.split([',', ' ']).next().unwrap_or_default().to_owned(),
        });
    }
    None
}

/// An RFC 9457 problem, read as leniently as [`Problem`] reads; an empty
/// body is the status alone. A 401 asking for the second step of a sign-in
/// becomes [`Error::SecondFactorRequired`], finished through `from`'s pool.
fn problem(status: u16, headers: &HeaderMap, body: &[u8], from: &Client) -> Error {
    let retry_after = parse_retry_after(headers.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()));
    let reason = || {
        reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error")
            .to_owned()
    };
    // A refused proof is its own error. A code a newer server puts in its
    // challenge is not one this SDK can name, so that answer is read as the
    // problem it carries, as it would be without DPoP.
    if status == 401
        && let Some((code, description)) = dpop_challenge(headers)
        && let Some(code @ (OAuthErrorCode::InvalidDpopProof | OAuthErrorCode::UseDpopNonce)) =
            OAuthErrorCode::parse(&code)
    {
        return Error::DpopProof {
            code,
            description,
            status,
            request_id: None,
        };
    }
    let parsed = match body {
        [] => Ok(Problem::default()),
        _ => serde_json::from_slice::<Problem>(body),
    };
    match parsed {
        Ok(Problem {
            mfa_required: Some(true),
            mfa_token: Some(token),
            detail,
            ..
        }) if status == 401 => Error::SecondFactorRequired(SecondStep::new(from.anonymous(), token, detail)),
        Ok(p) => Error::Api {
            status,
            problem_type: p.kind,
            title: Some(p.title).filter(|t| !t.is_empty()).unwrap_or_else(reason),
            detail: p.detail,
            errors: p.errors.unwrap_or_default(),
            // A permission this SDK does not know yet is left out rather
            // than failing the whole answer.
            missing_permissions: p
                .missing_permissions
                .unwrap_or_default()
                .iter()
                .filter_map(|p| p.parse().ok())
                .collect(),
            required_scope: (status == 403).then(|| required_scope(headers)).flatten(),
            second_factor_enrolment_required: status == 403 && p.mfa_enrolment_required == Some(true),
            retry_after,
            request_id: None,
        },
        Err(source) => {
            let mut error = Error::undecodable(status, "an RFC 9457 problem", source);
            if let Error::UnexpectedResponse { retry_after: r, .. } = &mut error {
                *r = retry_after;
            }
            error
        }
    }
}

/// Who a [`Client`] acts as.
#[derive(Debug)]
enum Acting {
    Credential(String, Credential),
    Tokens(TokenSource),
}

/// Settings of a [`Client`]; finish with [`build`](Self::build).
#[derive(Debug)]
pub struct ClientBuilder {
    base_url: String,
    credentials: Option<Acting>,
    options: SharedOptions,
}

impl ClientBuilder {
    /// Acts as a registered external application: its Client ID and secret
    /// buy access tokens at `{base_url}/oauth2/token`, cached and renewed as
    /// [`TokenSource`] describes. Spaces and line breaks around the secret
    /// (one read from a file or an environment variable) are trimmed.
    pub fn client_credentials(mut self, client_id: impl Into<String>, client_secret: ClientSecret) -> Self {
        self.credentials = Some(Acting::Credential(client_id.into(), Credential::Secret(client_secret)));
        self
    }

    /// Acts as a registered external application whose secret is kept in
    /// the file at `path` (a Kubernetes Secret mounted as a volume, say):
    /// read at the first token request and read again when the secret is
    /// refused, so a secret rotated in the file is taken up without a
    /// restart, as [`TokenSource::with_client_secret_file`] describes.
    pub fn client_secret_file(mut self, client_id: impl Into<String>, path: impl Into<std::path::PathBuf>) -> Self {
        self.credentials = Some(Acting::Credential(
            client_id.into(),
            Credential::SecretFile(path.into()),
        ));
        self
    }

    /// Acts as an application registered for `private_key_jwt`: tokens are
    /// bought with assertions signed by `key`, as
    /// [`TokenSource::with_private_key`] describes, addressed to this
    /// client's base URL as the issuer (see [`audience`](Self::audience)).
    pub fn private_key_jwt(mut self, client_id: impl Into<String>, key: PrivateKey) -> Self {
        self.credentials = Some(Acting::Credential(client_id.into(), Credential::PrivateKey(key)));
        self
    }

    /// Acts as an application through one of its federated credentials:
    /// the outside token in `path` (a Kubernetes projected service-account
    /// token, say) is read for every token request, as
    /// [`TokenSource::with_federated_token_file`] describes.
    pub fn federated_token_file(mut self, client_id: impl Into<String>, path: impl Into<std::path::PathBuf>) -> Self {
        self.credentials = Some(Acting::Credential(
            client_id.into(),
            Credential::FederatedTokenFile(path.into()),
        ));
        self
    }

    /// Acts with the tokens of a [`TokenSource`] built elsewhere: one shared
    /// by several clients, or built against another token endpoint, with
    /// its own HTTP client and settings. The token settings of this builder
    /// ([`scope`](Self::scope), [`auth_method`](Self::auth_method), …) are
    /// then the source's, not these.
    pub fn token_source(mut self, source: TokenSource) -> Self {
        self.credentials = Some(Acting::Tokens(source));
        self
    }

    shared_setters!();

    /// Checks the settings and builds the client. Nothing is sent yet: the
    /// first call fetches the first token.
    pub fn build(self) -> Result<Client, Error> {
        let mut base = checked_url(&self.base_url, self.options.http.allow_insecure_http)?;
        if let Ok(mut path) = base.path_segments_mut() {
            path.pop_if_empty();
        }
        let http = self.options.http.http()?;
        // A key silently left unused would send bearer tokens where the
        // caller asked for bound ones.
        match (&self.credentials, &self.options.dpop) {
            (None, Some(_)) => {
                return Err(Error::Config(
                    "dpop binds an application's tokens: give the client its credentials too".into(),
                ));
            }
            (Some(Acting::Tokens(_)), Some(_)) => {
                return Err(Error::Config(
                    "with token_source, set dpop on the token source's builder: its tokens are the ones bound".into(),
                ));
            }
            _ => {}
        }
        let auth = match self.credentials {
            None => Auth::Anonymous,
            Some(Acting::Tokens(source)) => Auth::Application(source),
            Some(Acting::Credential(client_id, credential)) => {
                let mut token_url = base.clone();
                if let Ok(mut path) = token_url.path_segments_mut() {
                    path.extend(["oauth2", "token"]);
                }
                let tokens = TokenSourceBuilder::new(token_url.to_string(), client_id, credential)
                    .with_options(self.options.clone())
                    .build_with(http.clone())?;
                Auth::Application(tokens)
            }
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                auth,
                retry: self.options.retry,
            }),
            call: None,
        })
    }
}

#[cfg(test)]
mod partner_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use casebook_domain::{ErrorCode, FieldError};
    use std::time::Duration;

    /// [`problem`] as a client at a fixed address reads it.
    fn read(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
        problem(
            status,
            headers,
            body,
            &Client::builder("https://casebook.example.org").build().unwrap(),
        )
    }

    #[test]
    fn a_second_step_is_its_own_error_and_its_token_stays_hidden() {
        let body = br#"{"type":"about:blank","title":"Unauthorized","status":401,
            "detail":"enter the code from your authenticator app, or a recovery code",
            "mfa_required":true,"mfa_token":"cbmfa_hush"}"#;
        let error = read(401, &HeaderMap::new(), body);
        let Error::SecondFactorRequired(step) = &error else {
            panic!("{error:?}")
        };
        assert!(step.detail().contains("authenticator"));
        assert_eq!(error.status(), Some(401));
        assert!(!error.is_transient());
        assert!(!format!("{error:?} {error}").contains("cbmfa_hush"));
        // Without a token (expired, used) it is the plain 401 it says.
        let spent =
            br#"{"type":"about:blank","title":"Unauthorized","status":401,"detail":"this sign-in has expired"}"#;
        assert!(matches!(
            read(401, &HeaderMap::new(), spent),
            Error::Api { status: 401, .. }
        ));
        let enrol = br#"{"type":"about:blank","title":"Forbidden","status":403,"detail":"enrol","mfa_enrolment_required":true}"#;
        assert!(read(403, &HeaderMap::new(), enrol).second_factor_enrolment_required());
        assert!(!read(403, &HeaderMap::new(), b"").second_factor_enrolment_required());
    }

    #[test]
    fn base_urls_are_checked() {
        for (raw, ok) in [
            ("https://casebook.example.org", true),
            ("https://casebook.example.org/tenant/", true),
            ("http://127.0.0.1:8080", true),
            ("http://localhost:8080", true),
            ("http://[::1]:8080", true),
            ("http://casebook.example.org", false),
            ("ftp://casebook.example.org", false),
            ("casebook.example.org", false),
            ("https://user:pass@casebook.example.org", false),
            ("https://casebook.example.org/?x=1", false),
        ] {
            assert_eq!(checked_url(raw, false).is_ok(), ok, "{raw}");
        }
        assert!(checked_url("http://casebook.internal", true).is_ok());
    }

    #[test]
    fn paths_are_joined_segment_by_segment() {
        let client = Client::builder("https://casebook.example.org/tenant/").build().unwrap();
        assert_eq!(
            client
                .endpoint(&["api", "v1", "engage", "cases", "../../admin"], &[])
                .as_str(),
            "https://casebook.example.org/tenant/api/v1/engage/cases/..%2F..%2Fadmin"
        );
        assert_eq!(
            client
                .endpoint(&["api", "v1", "me"], &[("cursor", "a b&c".into())])
                .as_str(),
            "https://casebook.example.org/tenant/api/v1/me?cursor=a+b%26c"
        );
    }

    #[test]
    fn a_refused_grant_names_the_missing_permissions() {
        let body =
            br#"{"type":"about:blank","title":"Forbidden","status":403,"detail":"you can only grant what you hold",
            "missing_permissions":["admin:delete","engage:view","billing:view"]}"#;
        let error = read(403, &HeaderMap::new(), body);
        assert_eq!(error.missing_permissions().to_scope(), "engage:view admin:delete");
        assert!(read(404, &HeaderMap::new(), b"").missing_permissions().is_empty());
    }

    #[test]
    fn a_403_keeps_the_problem_type_and_the_scope_it_needed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="casebook", error="insufficient_scope", scope="engage:delete""#),
        );
        let body =
            br#"{"type":"https://casebook.example/problems/forbidden","title":"Forbidden","status":403,"detail":"no"}"#;
        let error = read(403, &headers, body);
        assert_eq!(error.required_scope(), Some("engage:delete"));
        let Error::Api { problem_type, .. } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(problem_type, "https://casebook.example/problems/forbidden");
        for (challenge, scope) in [
            (r#"Bearer error="insufficient_scope", scope="a:b c:d""#, Some("a:b c:d")),
            (r#"Bearer error="insufficient_scope",scope=x:y"#, Some("x:y")),
            (r#"Bearer error="insufficient_scope", myscope="no""#, None),
            (r#"Bearer error="invalid_token", scope="a:b""#, None),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_str(challenge).unwrap());
            assert_eq!(required_scope(&headers).as_deref(), scope, "{challenge}");
        }
    }

    #[test]
    fn problems_keep_status_detail_and_every_field_error() {
        let body = br#"{"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"name: required",
            "errors":[{"field":"name","code":"required","message":"name is required"},
                      {"field":"roles","code":"some_future_code","message":"no"}]}"#;
        let Error::Api {
            status,
            title,
            detail,
            errors,
            ..
        } = read(422, &HeaderMap::new(), body)
        else {
            panic!("not an API problem")
        };
        assert_eq!(
            (status, title.as_str(), detail.as_str()),
            (422, "Unprocessable Entity", "name: required")
        );
        assert_eq!(
            errors[0],
            FieldError::new("name", ErrorCode::Required, "name is required")
        );
        assert_eq!(
            (errors[1].code, errors[1].code_str()),
            (ErrorCode::Unrecognized, "some_future_code")
        );

        assert!(
            matches!(read(404, &HeaderMap::new(), b""), Error::Api { status: 404, ref title, .. } if title == "Not Found")
        );
        let mut slow = HeaderMap::new();
        slow.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        let html = read(502, &slow, b"<html>bad gateway</html>");
        assert!(matches!(html, Error::UnexpectedResponse { status: 502, .. }));
        assert!(html.is_transient());
        assert_eq!(html.retry_after(), Some(Duration::from_secs(1)));
    }

    #[test]
    fn bearer_headers_are_sensitive() {
        assert!(bearer("abc").unwrap().is_sensitive());
    }

    #[test]
    fn debug_shows_no_secret() {
        let secret = ClientSecret::from_random([5; casebook_domain::credentials::CLIENT_SECRET_BYTES]);
        let hush = secret.expose().to_owned();
        let builder = Client::builder("https://casebook.example.org").client_credentials("cb_1", secret);
        assert!(!format!("{builder:?}").contains(&hush));
        let client = builder.build().unwrap();
        let shown = format!("{client:?}");
        assert!(shown.contains("cb_1") && !shown.contains(&hush), "{shown}");
    }

    #[test]
    fn a_mistyped_secret_is_refused_before_anything_is_sent() {
        let secret = ClientSecret::from_random([5; casebook_domain::credentials::CLIENT_SECRET_BYTES]);
        let mut typo = secret.expose().to_owned();
        typo.replace_range(10..11, if &typo[10..11] == "x" { "y" } else { "x" });
        let built = Client::builder("https://casebook.example.org")
            .client_credentials("cb_1", ClientSecret::from_presented(typo.clone()))
            .build();
        let Err(error) = built else {
            panic!("a mistyped secret must be refused");
        };
        assert!(matches!(error, Error::MistypedSecret), "{error:?}");
        assert!(!error.is_transient());
        assert!(!format!("{error:?} {error}").contains(&typo));
    }
}
