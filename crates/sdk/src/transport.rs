//! What the API client and the token source share: transport settings and
//! the rule for which URLs credentials may be sent to.

use crate::error::Error;
use std::time::Duration;
use url::Url;

/// Transport settings shared by [`ClientBuilder`] and the token source builder.
#[derive(Debug, Clone)]
pub(crate) struct HttpSettings {
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) user_agent: String,
    pub(crate) allow_insecure_http: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("casebook-sdk/", env!("CARGO_PKG_VERSION")).to_owned(),
            allow_insecure_http: false,
        }
    }
}

impl HttpSettings {
    pub(crate) fn client(&self) -> Result<reqwest::Client, Error> {
        reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent.as_str())
            // Never follow redirects: a redirected token request could carry
            // the client secret, and an API request its bearer token, to a
            // host the caller did not choose (SSRF). Casebook never redirects.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("could not build the HTTP client: {e}")))
    }
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
