//! What the API client and the token source share: transport settings and
//! the rule for which URLs credentials may be sent to.

use crate::error::Error;
use reqwest::header::{self, HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder, Response};
use std::time::Duration;
use url::Url;

const DEFAULT_USER_AGENT: &str = concat!("casebook-sdk/", env!("CARGO_PKG_VERSION"));

/// Names one request, for the server's logs and the caller's errors; the
/// server answers every request with one (its own, or the one sent).
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Names one call of a POST, the same on every attempt of it: the server
/// does the call once and answers a repeat with the first answer.
pub(crate) const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// On an answer the server gave before, to an earlier attempt with the same key.
pub(crate) const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// 128 random bits as 32 lowercase hex digits: a request id or an
/// idempotency key, unguessable and unique.
pub(crate) fn random_id() -> Result<String, Error> {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Config("the system's random source failed".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Transport settings shared by [`ClientBuilder`](crate::ClientBuilder) and
/// the token source builder.
#[derive(Debug, Clone)]
pub(crate) struct HttpSettings {
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    /// Set by the caller; otherwise ours on our own client, and the
    /// caller's own client keeps whatever it sends.
    pub(crate) user_agent: Option<String>,
    pub(crate) allow_insecure_http: bool,
    /// The caller's own client (proxies, middleware, TLS of their choice).
    pub(crate) client: Option<reqwest::Client>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: None,
            allow_insecure_http: false,
            client: None,
        }
    }
}

impl HttpSettings {
    pub(crate) fn http(&self) -> Result<Http, Error> {
        let user_agent = self
            .user_agent
            .as_deref()
            .map(|ua| {
                HeaderValue::from_str(ua)
                    .map_err(|_| Error::Config("the user agent is not a valid header value".into()))
            })
            .transpose()?;
        let client = match &self.client {
            Some(client) => client.clone(),
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout)
                .user_agent(
                    user_agent
                        .clone()
                        .unwrap_or(HeaderValue::from_static(DEFAULT_USER_AGENT)),
                )
                // Never follow redirects: a redirected token request could carry
                // the client secret, and an API request its bearer token, to a
                // host the caller did not choose (SSRF). Casebook never redirects.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| Error::Config(format!("could not build the HTTP client: {e}")))?,
        };
        Ok(Http {
            user_agent: user_agent.filter(|_| self.client.is_some()),
            client,
            timeout: self.timeout,
        })
    }
}

/// The HTTP client every request of a client or token source goes through.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    /// Per request, so that it holds on a client the caller brought too.
    timeout: Duration,
    /// Sent per request on the caller's own client, when they set one.
    user_agent: Option<HeaderValue>,
}

impl Http {
    pub(crate) fn request(&self, method: Method, url: Url, timeout: Option<Duration>) -> RequestBuilder {
        let mut request = self
            .client
            .request(method, url)
            .timeout(timeout.unwrap_or(self.timeout));
        if let Some(user_agent) = &self.user_agent {
            request = request.header(header::USER_AGENT, user_agent.clone());
        }
        request
    }
}

/// A client the caller brought may follow redirects; the answer of a
/// followed one is refused, and an answer from another URL never read as
/// Casebook's. (Configure yours with `redirect::Policy::none()`, so that the
/// request is not sent on at all: reqwest drops credentials on a redirect to
/// another host, but a 307 or 308 resends a token request's form body.)
pub(crate) fn refuse_redirected(response: &Response, sent_to: &Url) -> Result<(), Error> {
    if response.url() == sent_to {
        return Ok(());
    }
    Err(Error::unexpected(
        response.status().as_u16(),
        "the HTTP client followed a redirect; Casebook never redirects, so the answer is refused \
         (build the reqwest::Client with redirect::Policy::none())",
    ))
}

/// An absolute `https` URL, or `http` on a loopback host (or anywhere, when
/// allowed), with no credentials, query or fragment of its own.
pub(crate) fn checked_url(raw: &str, allow_insecure_http: bool) -> Result<Url, Error> {
    let url = Url::parse(raw.trim()).map_err(|e| Error::Config(format!("{raw:?} is not an absolute URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure_http || is_loopback(&url) => {}
        "http" => {
            return Err(Error::Config(format!(
                "{url} is plain http on a non-loopback host: credentials would cross the network unencrypted; \
                 use https (or allow_insecure_http for a closed test network)"
            )));
        }
        other => return Err(Error::Config(format!("{url}: scheme {other:?} is not http or https"))),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::Config(format!("{url} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(
            "the URL must not carry credentials; pass them to the builder".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!("{url} must not have a query or fragment")));
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => {
            name.eq_ignore_ascii_case("localhost") || name.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
