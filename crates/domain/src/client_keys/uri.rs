//! Keys held elsewhere: a `jwks_uri` the server fetches a JWK Set from, and
//! [`KeySource`], the choice between that and an inline `jwks`. Whoever else
//! trusts outside keys (federated credentials) takes the same two types, so
//! one rule says what a fetchable URL is.

use super::ClientKeySet;
use super::address::is_public;
use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use serde_json::Value;
use std::net::IpAddr;

pub const MAX_JWKS_URI_CHARS: usize = 2048;

/// An absolute `https` URL with a host, no user name or password and no
/// fragment, of at most [`MAX_JWKS_URI_CHARS`] characters. Its only
/// constructor checks that; a host written as an IP address must be a public
/// one unless private addresses are allowed. A host *name* is not resolved
/// here (the domain does no I/O): the fetcher refuses what it resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksUri(url::Url);

impl JwksUri {
    /// `field` names the field in the error; `allow_private` is the
    /// operator's `CASEBOOK_ALLOW_PRIVATE_JWKS_URI`.
    pub fn parse(field: &str, raw: &str, allow_private: bool) -> Result<Self, FieldError> {
        outgoing_https_url(
            field,
            raw,
            allow_private,
            "keys fetched in the clear could be anyone's",
        )
        .map(Self)
    }

    /// The URL as fetched and stored (normalized: `https://Host` reads back
    /// as `https://host/`).
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &url::Url {
        &self.0
    }

    /// The address the host names, when it is written as one.
    pub fn ip_literal(&self) -> Option<IpAddr> {
        match self.0.host()? {
            url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
            url::Host::Domain(_) => None,
        }
    }
}

/// The rule every URL the server sends a request to keeps (a `jwks_uri`, a
/// webhook): an absolute `https` URL with a host, no user name or password
/// and no fragment, of at most [`MAX_JWKS_URI_CHARS`] characters, whose host,
/// when written as an IP address, is a public one unless `allow_private`.
/// `why_https` ends the message that refuses another scheme.
pub fn outgoing_https_url(
field: &str,
raw: &str,
allow_private: bool,
why_https: &str,
) -> Result<url::Url, FieldError> {
    let invalid = |message: &str| FieldError::new(field, ErrorCode::InvalidUrl, format!("{field} {message}"));
    if raw.trim().is_empty() {
        return Err(FieldError::new(
            field,
            ErrorCode::Required,
            format!("{field} must be an https URL"),
        ));
    }
    if raw.chars().count() > MAX_JWKS_URI_CHARS {
        return Err(FieldError::new(
            field,
            ErrorCode::TooLong,
            format!("{field} must be at most {MAX_JWKS_URI_CHARS} characters"),
        ));
    }
    let url = url::Url::parse(raw).map_err(|_| invalid("must be an absolute https URL"))?;
    if url.scheme() != "https" {
        return Err(invalid(&format!("must be an https URL: {why_https}")));
    }
    let Some(host) = url.host() else {
        return Err(invalid("must name a host"));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry a user name or password"));
    }
    if url.fragment().is_some() {
        return Err(invalid("must not have a #fragment"));
    }
    let literal = match host {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    };
    if let Some(ip) = literal
        && !allow_private
        && !is_public(ip)
    {
        return Err(FieldError::new(
            field,
            ErrorCode::PrivateAddress,
            format!(
                "{field} names {ip}, a loopback, private or otherwise non-public address; the server reaches public addresses only"
            ),
        ));
    }
    Ok(url)
}


impl AsRef<str> for JwksUri {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for JwksUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the public keys that verify a signature come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A JWK Set registered with the application (`jwks`).
    Inline(ClientKeySet),
    /// A JWK Set the server fetches and caches (`jwks_uri`).
    Uri(JwksUri),
}

impl KeySource {
    /// The rule of a `"jwks" | "jwks_uri"` pair: at most one of the two,
    /// each checked by its own rule. `None` when neither is given: whether
    /// one is required is the caller's rule.
    pub fn from_fields(
        jwks: Option<&Value>,
        jwks_uri: Option<&str>,
        allow_private: bool,
    ) -> Result<Option<Self>, ValidationErrors> {
        match (jwks, jwks_uri) {
            (None, None) => Ok(None),
            (Some(jwks), None) => ClientKeySet::parse(jwks).map(|set| Some(Self::Inline(set))),
            (None, Some(uri)) => JwksUri::parse("jwks_uri", uri, allow_private)
                .map(|uri| Some(Self::Uri(uri)))
                .map_err(ValidationErrors::from),
            (Some(_), Some(_)) => Err(FieldError::new(
                "jwks_uri",
                ErrorCode::InvalidValue,
                "give jwks or jwks_uri, not both: keys are registered inline or fetched, not both",
            )
            .into()),
        }
    }

    /// The inline set, if the keys are registered inline.
    pub fn inline(&self) -> Option<&ClientKeySet> {
        match self {
            Self::Inline(set) => Some(set),
            Self::Uri(_) => None,
        }
    }

    /// The URL, if the keys are fetched.
    pub fn uri(&self) -> Option<&JwksUri> {
        match self {
            Self::Inline(_) => None,
            Self::Uri(uri) => Some(uri),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, allow_private: bool, expected: Result<&str, ErrorCode>) {
        let got = JwksUri::parse("jwks_uri", raw, allow_private);
        match (got, expected) {
            (Ok(uri), Ok(shown)) => assert_eq!(uri.as_str(), shown, "{raw}"),
            (Err(e), Err(code)) => {
                assert_eq!((e.field.as_str(), e.code), ("jwks_uri", code), "{raw}: {}", e.message)
            }
            (got, expected) => panic!("{raw}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn what_a_jwks_uri_may_be() {
        use ErrorCode::*;
        let long = format!("https://keys.example.org/{}", "a".repeat(MAX_JWKS_URI_CHARS));
        for (raw, allow, expected) in [
            (
                "https://keys.example.org/jwks.json",
                false,
                Ok("https://keys.example.org/jwks.json"),
            ),
            ("https://Keys.Example.org", false, Ok("https://keys.example.org/")),
            (
                "https://keys.example.org:8443/a?v=1",
                false,
                Ok("https://keys.example.org:8443/a?v=1"),
            ),
            ("https://localhost/jwks", false, Ok("https://localhost/jwks")),
            ("https://8.8.8.8/jwks", false, Ok("https://8.8.8.8/jwks")),
            ("https://127.0.0.1:9443/jwks", true, Ok("https://127.0.0.1:9443/jwks")),
            ("", false, Err(Required)),
            ("  ", false, Err(Required)),
            (long.as_str(), false, Err(TooLong)),
            ("keys.example.org/jwks", false, Err(InvalidUrl)),
            ("http://keys.example.org/jwks", false, Err(InvalidUrl)),
            ("ftp://keys.example.org/jwks", false, Err(InvalidUrl)),
            ("https://user:pw@keys.example.org/jwks", false, Err(InvalidUrl)),
            ("https://user@keys.example.org/jwks", false, Err(InvalidUrl)),
            ("https://keys.example.org/jwks#k", false, Err(InvalidUrl)),
            ("https://", false, Err(InvalidUrl)),
            ("https://127.0.0.1/jwks", false, Err(PrivateAddress)),
            ("https://10.0.0.8/jwks", false, Err(PrivateAddress)),
            ("https://169.254.169.254/latest/meta-data", false, Err(PrivateAddress)),
            ("https://100.64.1.1/jwks", false, Err(PrivateAddress)),
            ("https://[::1]/jwks", false, Err(PrivateAddress)),
            ("https://[fd00::1]/jwks", false, Err(PrivateAddress)),
            ("https://[::ffff:127.0.0.1]/jwks", false, Err(PrivateAddress)),
            ("https://0.0.0.0/jwks", false, Err(PrivateAddress)),
            // Other spellings of 127.0.0.1 are read as the address they are.
            ("https://2130706433/jwks", false, Err(PrivateAddress)),
            ("https://0x7f.1/jwks", false, Err(PrivateAddress)),
        ] {
            check(raw, allow, expected);
        }
    }

    #[test]
    fn at_most_one_of_jwks_and_jwks_uri() {
        let jwks = serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "a",
            "x": "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM"}]});
        let uri = "https://keys.example.org/jwks.json";
        assert_eq!(KeySource::from_fields(None, None, false), Ok(None));
        assert!(matches!(
            KeySource::from_fields(Some(&jwks), None, false),
            Ok(Some(KeySource::Inline(_)))
        ));
        let by_uri = KeySource::from_fields(None, Some(uri), false).unwrap().unwrap();
        assert_eq!(by_uri.uri().map(JwksUri::as_str), Some(uri));
        let both = KeySource::from_fields(Some(&jwks), Some(uri), false).unwrap_err();
        assert_eq!(both.errors()[0].field, "jwks_uri");
        let private = KeySource::from_fields(None, Some("https://192.168.0.1/k"), false).unwrap_err();
        assert_eq!(private.errors()[0].code, ErrorCode::PrivateAddress);
    }
}
