//! The token exchange as a pure decision (RFC 6749 §2.3.1, §3.1, §3.2, §4.4,
//! §5.2): what a request to an OAuth endpoint says, read strictly from its
//! header, query, content type and body; and, once the server has
//! authenticated the client, the claims of the token it gets.
//!
//! Nothing here reads a clock, draws random bytes or touches storage: the
//! server passes the time and the `jti` in, so every protocol edge case is a
//! one-line table test.

use crate::credentials::ClientSecret;
use crate::oauth::{OAuthErrorCode, narrow_scope};
use crate::permission::PermissionSet;
use crate::time::Timestamp;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Largest form the OAuth endpoints read.
pub const MAX_FORM_BYTES: usize = 8 * 1024;

/// An RFC 6749 §5.2 error answer: a code and a description for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    pub code: OAuthErrorCode,
    pub description: Cow<'static, str>,
}

impl ProtocolError {
    pub fn new(code: OAuthErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    /// One answer for every failure of client authentication, so that nothing
    /// tells an unknown client from a disabled one or a wrong secret.
    pub fn invalid_client() -> Self {
        Self::new(OAuthErrorCode::InvalidClient, "client authentication failed")
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for ProtocolError {}

/// Decodes one form-urlencoded component strictly: `+` is a space, `%` must
/// start two hex digits, and the result must be UTF-8 (a lossy decoder would
/// hand on U+FFFD as if the client had sent it).
pub fn decode_component(raw: &[u8]) -> Result<String, &'static str> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter().copied();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |d: Option<u8>| d.and_then(|d| (d as char).to_digit(16));
                match (hex(bytes.next()), hex(bytes.next())) {
                    (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                    _ => return Err("a % in the form is not followed by two hex digits"),
                }
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).map_err(|_| "the form is not valid UTF-8 once decoded")
}

/// An `application/x-www-form-urlencoded` request, read strictly: RFC 6749
/// §3.1 forbids repeated parameters and treats empty ones as absent, and
/// §2.3.1 forbids credentials in the URI.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Form {
    params: BTreeMap<String, String>,
    /// RFC 8707 §2 lets `resource` repeat, the one parameter that may; every
    /// value is kept so that several can be refused as such.
    resources: Vec<String>,
}

impl fmt::Debug for Form {
    /// The form may carry a client secret: only the parameter names print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.params.keys()).finish()
    }
}

impl Form {
    pub fn parse(query: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Result<Self, ProtocolError> {
        if let Some(query) = query {
            let credentials = query.split('&').any(|pair| {
                let name = pair.split('=').next().unwrap_or("");
                matches!(
                    decode_component(name.as_bytes()).as_deref(),
                    Ok("client_secret" | "client_id" | "client_assertion" | "client_assertion_type")
                )
            });
            if credentials {
                return Err(ProtocolError::invalid_request(
                    "client credentials must not be sent in the query string: send them in the form body (client_id, client_secret, or client_assertion) or with HTTP Basic authentication",
                ));
            }
        }
        let mime = content_type.unwrap_or("").split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(ProtocolError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        if body.len() > MAX_FORM_BYTES {
            return Err(ProtocolError::invalid_request(format!(
                "the form is larger than {MAX_FORM_BYTES} bytes"
            )));
        }
        let mut seen = BTreeSet::new();
        let mut form = BTreeMap::new();
        let mut resources = Vec::new();
        for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (key, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let key = decode_component(key).map_err(ProtocolError::invalid_request)?;
            let value = decode_component(value).map_err(ProtocolError::invalid_request)?;
            if key == "resource" {
                if !value.is_empty() {
                    resources.push(value);
                }
                continue;
            }
            if !seen.insert(key.clone()) {
                let shown: String = key.chars().take(64).collect();
                return Err(ProtocolError::invalid_request(format!(
                    "parameter {shown:?} appears more than once"
                )));
            }
            // §3.2: a parameter sent without a value is treated as omitted.
            if !value.is_empty() {
                form.insert(key, value);
            }
        }
        Ok(Self {
            params: form,
            resources,
        })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    fn has(&self, name: &str) -> bool {
        self.params.contains_key(name)
    }

    /// The `token` of an introspection or revocation request (RFC 7662 §2.1,
    /// RFC 7009 §2.1).
    pub fn token(&self) -> Result<&str, ProtocolError> {
        self.get("token")
            .ok_or_else(|| ProtocolError::invalid_request("the token parameter is required"))
    }
}

/// A client ID and secret as presented, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedClient {
    pub client_id: String,
    pub secret: ClientSecret,
}

/// Client authentication (RFC 6749 §2.3.1): HTTP Basic, or the form body,
/// never both. `authorization` holds every `Authorization` header value.
/// `Ok(None)` when the request names no client at all.
pub fn presented_client(authorization: &[&[u8]], form: &Form) -> Result<Option<PresentedClient>, ProtocolError> {
    let basic = match authorization {
        [] => None,
        [value] => Some(basic_credentials(value)?),
        _ => {
            return Err(ProtocolError::invalid_request(
                "the request carries more than one Authorization header; send exactly one",
            ));
        }
    };
    let in_body = form.has("client_id") || form.has("client_secret");
    match (basic, in_body) {
        (Some(_), true) => Err(ProtocolError::invalid_request(
            "the client authenticated twice (HTTP Basic and form parameters); use exactly one",
        )),
        (Some(client), false) => Ok(Some(client)),
        (None, true) => {
            let client_id = form.get("client_id").ok_or_else(ProtocolError::invalid_client)?;
            let secret = form.get("client_secret").ok_or_else(ProtocolError::invalid_client)?;
            Ok(Some(PresentedClient {
                client_id: client_id.to_owned(),
                secret: ClientSecret::from_presented(secret.to_owned()),
            }))
        }
        (None, false) => Ok(None),
    }
}

fn basic_credentials(value: &[u8]) -> Result<PresentedClient, ProtocolError> {
    let value = std::str::from_utf8(value).map_err(|_| ProtocolError::invalid_client())?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(ProtocolError::invalid_client)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ProtocolError::invalid_request(
            "use HTTP Basic or form parameters to authenticate the client",
        ));
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| ProtocolError::invalid_client())?;
    let colon = decoded
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(ProtocolError::invalid_client)?;
    // §2.3.1: both parts are form-urlencoded before base64.
    let client_id = decode_component(&decoded[..colon]).map_err(|_| ProtocolError::invalid_client())?;
    let secret = decode_component(&decoded[colon + 1..]).map_err(|_| ProtocolError::invalid_client())?;
    Ok(PresentedClient {
        client_id,
        secret: ClientSecret::from_presented(secret),
    })
}

/// A token request, by grant type. The client credentials grant (§4.4) is
/// the one this server issues tokens for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    ClientCredentials {
        /// §3.3: the permissions asked for; everything granted when absent.
        scope: Option<String>,
        /// RFC 8707: the resources the token is for; none means this
        /// install's API, the only resource there is.
        resources: Vec<String>,
    },
}

impl TokenRequest {
    /// §4.4.2: `grant_type` must be `client_credentials`.
    pub fn from_form(form: &Form) -> Result<Self, ProtocolError> {
        match form.get("grant_type") {
            None => Err(ProtocolError::invalid_request(
                "grant_type is required (client_credentials)",
            )),
            Some("client_credentials") => Ok(Self::ClientCredentials {
                scope: form.get("scope").map(str::to_owned),
                resources: form.resources.clone(),
            }),
            Some(_) => Err(ProtocolError::new(
                OAuthErrorCode::UnsupportedGrantType,
                "only grant_type=client_credentials is supported",
            )),
        }
    }

    /// Parses a whole request to the token endpoint: the form first, then the
    /// grant type, so a malformed body or an unsupported grant is refused
    /// before anything about the client is looked at.
    pub fn parse(query: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Result<(Self, Form), ProtocolError> {
        let form = Form::parse(query, content_type, body)?;
        Ok((Self::from_form(&form)?, form))
    }
}

/// RFC 8707 §2: the install's public URL is the one resource, and the
/// audience of every token; anything else, a relative URI or several
/// resources at once, is `invalid_target`.
fn check_resources(resources: &[String], issuer: &str) -> Result<(), ProtocolError> {
    match resources {
        [] => Ok(()),
        [one] if one == issuer => Ok(()),
        [one] => {
            let shown: String = one.chars().take(200).collect();
            Err(ProtocolError::new(
                OAuthErrorCode::InvalidTarget,
                format!("resource {shown:?} is not served here; the one resource is {issuer}"),
            ))
        }
        _ => Err(ProtocolError::new(
            OAuthErrorCode::InvalidTarget,
            format!("one resource at most: this server issues tokens for {issuer} only"),
        )),
    }
}

/// RFC 9068 §2.2 claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    /// The application's token generation at issue (private claim): a token
    /// of an earlier generation was issued before the application was last
    /// disabled or its secret rotated without grace, and is refused.
    #[serde(rename = "cb_gen", default)]
    pub generation: i64,
    /// RFC 9449 §6.1: the key a DPoP-bound token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<crate::wire::Confirmation>,
}

/// What the server knows of a client it has authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticatedClient<'a> {
    pub client_id: &'a str,
    /// What the application's roles grant now.
    pub permissions: PermissionSet,
    pub token_generation: i64,
}

/// The decision of the token endpoint once the client is authenticated:
/// the claims of its token, or why it gets none (§5.2 `invalid_scope`).
pub fn issue(
    client: &AuthenticatedClient<'_>,
    request: &TokenRequest,
    issuer: &str,
    now: Timestamp,
    lifetime_secs: i64,
    jti: String,
) -> Result<AccessClaims, ProtocolError> {
    let now_secs = now.unix_secs();
    let TokenRequest::ClientCredentials { scope, resources } = request;
    check_resources(resources, issuer)?;
    let granted = narrow_scope(scope.as_deref(), client.permissions)
        .map_err(|e| ProtocolError::new(OAuthErrorCode::InvalidScope, e.to_string()))?;
    Ok(AccessClaims {
        iss: issuer.to_owned(),
        sub: client.client_id.to_owned(),
        aud: issuer.to_owned(),
        exp: now_secs.saturating_add(lifetime_secs),
        iat: now_secs,
        jti,
        client_id: client.client_id.to_owned(),
        scope: granted.to_scope(),
        generation: client.token_generation,
        cnf: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ACCESS_TOKEN_LIFETIME_SECS;
    use proptest::prelude::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    /// The outcome of a token request, in one comparable word: the grant it
    /// parsed to, or the error code.
    fn outcome(query: Option<&str>, content_type: Option<&str>, body: &str) -> Result<TokenRequest, OAuthErrorCode> {
        TokenRequest::parse(query, content_type, body.as_bytes())
            .map(|(request, _)| request)
            .map_err(|e| e.code)
    }

    fn grant(scope: Option<&str>) -> Result<TokenRequest, OAuthErrorCode> {
        Ok(TokenRequest::ClientCredentials {
            scope: scope.map(str::to_owned),
            resources: Vec::new(),
        })
    }

    fn for_resources(resources: &[&str]) -> Result<TokenRequest, OAuthErrorCode> {
        Ok(TokenRequest::ClientCredentials {
            scope: None,
            resources: resources.iter().map(|r| r.to_string()).collect(),
        })
    }

    use OAuthErrorCode::{InvalidClient, InvalidRequest, InvalidScope, UnsupportedGrantType};

    #[test]
    fn token_requests() {
        for (query, content_type, body, expected) in [
            // §4.4.2
            (None, FORM, "grant_type=client_credentials", grant(None)),
            (
                None,
                FORM,
                "grant_type=client_credentials&scope=engage%3Aview",
                grant(Some("engage:view")),
            ),
            (
                None,
                FORM,
                "grant_type=client_credentials&scope=a+b",
                grant(Some("a b")),
            ),
            (None, FORM, "", Err(InvalidRequest)),
            (None, FORM, "grant_type=password", Err(UnsupportedGrantType)),
            (
                None,
                FORM,
                "grant_type=authorization_code&code=x",
                Err(UnsupportedGrantType),
            ),
            // RFC 8707 §2: `resource` alone may repeat; every value is kept.
            (
                None,
                FORM,
                "grant_type=client_credentials&resource=https%3A%2F%2Fcb.example.org",
                for_resources(&["https://cb.example.org"]),
            ),
            (
                None,
                FORM,
                "grant_type=client_credentials&resource=a&resource=b",
                for_resources(&["a", "b"]),
            ),
            (None, FORM, "grant_type=client_credentials&resource=", grant(None)),
            // §3.1: repeated parameters are an error, empty ones absent (§3.2).
            (
                None,
                FORM,
                "grant_type=client_credentials&grant_type=client_credentials",
                Err(InvalidRequest),
            ),
            (None, FORM, "grant_type=client_credentials&scope=", grant(None)),
            (None, FORM, "grant_type=", Err(InvalidRequest)),
            (None, FORM, "&&grant_type=client_credentials&", grant(None)),
            // §3.2: form-encoded only, UTF-8, well-formed escapes, bounded.
            (None, Some("application/json"), "{}", Err(InvalidRequest)),
            (None, None, "grant_type=client_credentials", Err(InvalidRequest)),
            (
                None,
                Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
                "grant_type=client_credentials",
                grant(None),
            ),
            (None, FORM, "grant_type=client%5", Err(InvalidRequest)),
            (None, FORM, "grant_type=client%ZZcredentials", Err(InvalidRequest)),
            (
                None,
                FORM,
                "grant_type=client_credentials&scope=%FF",
                Err(InvalidRequest),
            ),
            // §2.3.1: never credentials in the URI.
            (
                Some("client_id=cb_x"),
                FORM,
                "grant_type=client_credentials",
                Err(InvalidRequest),
            ),
            (
                Some("client%5Fsecret=s"),
                FORM,
                "grant_type=client_credentials",
                Err(InvalidRequest),
            ),
            (Some("foo=bar"), FORM, "grant_type=client_credentials", grant(None)),
        ] {
            assert_eq!(
                outcome(query, content_type, body),
                expected,
                "{query:?} {content_type:?} {body:?}"
            );
        }
        let big = format!("grant_type=client_credentials&scope={}", "a".repeat(MAX_FORM_BYTES));
        assert_eq!(outcome(None, FORM, &big), Err(InvalidRequest));
    }

    fn form(body: &str) -> Form {
        Form::parse(None, FORM, body.as_bytes()).unwrap()
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    /// The outcome of client authentication: `(client_id, secret)` or the code.
    fn client(authorization: &[&str], body: &str) -> Result<Option<(String, String)>, OAuthErrorCode> {
        let headers: Vec<&[u8]> = authorization.iter().map(|h| h.as_bytes()).collect();
        presented_client(&headers, &form(body))
            .map(|c| c.map(|c| (c.client_id, c.secret.expose().to_owned())))
            .map_err(|e| e.code)
    }

    fn pair(id: &str, secret: &str) -> Result<Option<(String, String)>, OAuthErrorCode> {
        Ok(Some((id.to_owned(), secret.to_owned())))
    }

    #[test]
    fn client_authentication() {
        for (authorization, body, expected) in [
            // §2.3.1: Basic, with both parts form-urlencoded first.
            (vec![basic("cb_a", "s3cret")], "", pair("cb_a", "s3cret")),
            (
                vec![basic("cb_a", "with%3Acolon+and%25")],
                "",
                pair("cb_a", "with:colon and%"),
            ),
            (vec![basic("cb_a", "")], "", pair("cb_a", "")),
            (
                vec![format!("basic {}", STANDARD.encode("cb_a:s"))],
                "",
                pair("cb_a", "s"),
            ),
            (vec!["Basic !!!not-base64".to_owned()], "", Err(InvalidClient)),
            (
                vec![format!("Basic {}", STANDARD.encode("no-colon"))],
                "",
                Err(InvalidClient),
            ),
            (vec!["Basic".to_owned()], "", Err(InvalidClient)),
            (vec!["Bearer abc".to_owned()], "", Err(InvalidRequest)),
            // ... or the body, never both, and one header only.
            (vec![], "client_id=cb_a&client_secret=s", pair("cb_a", "s")),
            (vec![], "client_id=cb_a", Err(InvalidClient)),
            (vec![], "client_secret=s", Err(InvalidClient)),
            (
                vec![basic("cb_a", "s")],
                "client_id=cb_a&client_secret=s",
                Err(InvalidRequest),
            ),
            (vec![basic("cb_a", "s"), basic("cb_b", "t")], "", Err(InvalidRequest)),
            (vec![], "grant_type=client_credentials", Ok(None)),
        ] {
            let headers: Vec<&str> = authorization.iter().map(String::as_str).collect();
            assert_eq!(client(&headers, body), expected, "{authorization:?} {body:?}");
        }
    }

    #[test]
    fn introspection_and_revocation_need_a_token() {
        assert_eq!(form("token=abc").token(), Ok("abc"));
        assert_eq!(form("token=").token().map_err(|e| e.code), Err(InvalidRequest));
        assert_eq!(
            form("token_type_hint=access_token").token().map_err(|e| e.code),
            Err(InvalidRequest)
        );
    }

    fn supervisor() -> AuthenticatedClient<'static> {
        AuthenticatedClient {
            client_id: "cb_partner",
            permissions: PermissionSet::parse_scope("engage:view engage:create engage:edit").unwrap(),
            token_generation: 3,
        }
    }

    fn claims(scope: Option<&str>) -> Result<AccessClaims, OAuthErrorCode> {
        claims_for(scope, &[])
    }

    fn claims_for(scope: Option<&str>, resources: &[&str]) -> Result<AccessClaims, OAuthErrorCode> {
        let request = TokenRequest::ClientCredentials {
            scope: scope.map(str::to_owned),
            resources: resources.iter().map(|r| r.to_string()).collect(),
        };
        issue(
            &supervisor(),
            &request,
            "https://cb.example.org",
            Timestamp::from_unix_secs(1_000),
            ACCESS_TOKEN_LIFETIME_SECS,
            "jti-1".into(),
        )
        .map_err(|e| e.code)
    }

    #[test]
    fn issued_claims_follow_rfc_9068_and_the_scope_rules() {
        let full = claims(None).unwrap();
        assert_eq!(
            full,
            AccessClaims {
                iss: "https://cb.example.org".into(),
                sub: "cb_partner".into(),
                aud: "https://cb.example.org".into(),
                exp: 1_000 + 3600,
                iat: 1_000,
                jti: "jti-1".into(),
                client_id: "cb_partner".into(),
                scope: "engage:view engage:create engage:edit".into(),
                generation: 3,
                cnf: None,
            }
        );
        for (scope, expected) in [
            (Some("engage:view"), Ok("engage:view")),
            (Some("engage:edit engage:view"), Ok("engage:view engage:edit")),
            (Some("  "), Ok("engage:view engage:create engage:edit")),
            (Some("engage:delete"), Err(InvalidScope)),
            (Some("openid"), Err(InvalidScope)),
        ] {
            assert_eq!(claims(scope).map(|c| c.scope), expected.map(str::to_owned), "{scope:?}");
        }
    }

    #[test]
    fn the_public_url_is_the_one_resource() {
        use OAuthErrorCode::InvalidTarget;
        for (resources, expected) in [
            (&[][..], Ok("https://cb.example.org")),
            (&["https://cb.example.org"][..], Ok("https://cb.example.org")),
            (&["https://other.example.org"][..], Err(InvalidTarget)),
            (&["https://cb.example.org/api/v1"][..], Err(InvalidTarget)),
            (&["https://cb.example.org#api"][..], Err(InvalidTarget)),
            (&["/api/v1"][..], Err(InvalidTarget)),
            (&["cb.example.org"][..], Err(InvalidTarget)),
            (
                &["https://cb.example.org", "https://cb.example.org"][..],
                Err(InvalidTarget),
            ),
        ] {
            assert_eq!(
                claims_for(None, resources).map(|c| c.aud),
                expected.map(str::to_owned),
                "{resources:?}"
            );
        }
        // The resource is checked before the scope: a wrong target is the
        // answer even when the scope is wrong too.
        assert_eq!(
            claims_for(Some("openid"), &["https://other.example.org"]).map(|c| c.aud),
            Err(InvalidTarget)
        );
    }

    #[test]
    fn a_form_never_prints_a_secret() {
        let printed = format!("{:?}", form("client_id=cb_a&client_secret=hunter2"));
        assert!(!printed.contains("hunter2"), "{printed}");
    }

    proptest! {
        #[test]
        fn no_body_or_header_panics(body in proptest::collection::vec(any::<u8>(), 0..300), header in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok((_, form)) = TokenRequest::parse(None, FORM, &body) {
                let _ = presented_client(&[&header], &form);
            }
            let _ = Form::parse(std::str::from_utf8(&header).ok(), FORM, &body);
        }
    }
}
