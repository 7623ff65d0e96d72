//! The token endpoint on the wire: the request a token source sends and
//! how its answer is read (RFC 6749 §2.3.1, §5.1, §5.2).

use super::*;
use crate::dpop::Prover;
use casebook_domain::{ASSERTION_TYPE, OAuthErrorCode};
use std::path::{Path, PathBuf};

/// RFC 6749 §2.3.1: both parts are form-urlencoded, then joined and base64ed.
pub(super) fn basic_authorization(client_id: &str, secret: &ClientSecret) -> Result<HeaderValue, Error> {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let credentials = format!("{}:{}", encode(client_id), encode(secret.expose()));
    let mut value = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(credentials)))
        .map_err(|_| Error::Config("the client credentials cannot form an Authorization header".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// How a request proves the client, ready to go on the wire.
pub(super) enum Proof {
    /// `client_secret_basic`: built once, the credentials never change for
    /// the life of the source.
    Basic(HeaderValue),
    /// `client_secret_post`.
    Post(ClientSecret),
    /// `private_key_jwt`: a new assertion per request.
    Assertion(assertion::Signer),
    /// A federated credential: the outside token, read per request.
    TokenFile(PathBuf),
}

pub(super) struct HttpFetcher {
    pub(super) http: crate::transport::Http,
    /// Signs a proof for each request, when tokens are DPoP-bound.
    pub(super) dpop: Option<Arc<Prover>>,
    pub(super) token_url: reqwest::Url,
    pub(super) client_id: String,
    pub(super) proof: Proof,
    pub(super) scope: Option<String>,
}

/// A projected service-account token is a few kilobytes; anything far
/// larger is the wrong file, not a token.
const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// The outside token in `path`, read now: the platform may have rotated it.
pub(super) async fn read_token_file(path: &Path) -> Result<String, Error> {
    let failed = |message: &str, source: Option<std::io::Error>| Error::TokenFile {
        path: path.to_owned(),
        message: message.to_owned(),
        source: source.map(crate::error::Cause::new),
    };
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| failed("it cannot be opened", Some(e)))?;
    let mut raw = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(
        &mut tokio::io::AsyncReadExt::take(&mut file, MAX_TOKEN_FILE_BYTES + 1),
        &mut raw,
    )
    .await
    .map_err(|e| failed("it cannot be read", Some(e)))?;
    if raw.len() as u64 > MAX_TOKEN_FILE_BYTES {
        return Err(failed("it is larger than 64 KiB, too large for a token", None));
    }
    let text = String::from_utf8(raw).map_err(|_| failed("it is not UTF-8 text", None))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(failed("it is empty", None));
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(failed("it holds more than one token", None));
    }
    Ok(token.to_owned())
}

impl HttpFetcher {
    async fn form(&self) -> Result<String, Error> {
        // Made before the serializer exists, which is not Send across an await.
        let assertion = match &self.proof {
            Proof::Basic(_) | Proof::Post(_) => None,
            Proof::Assertion(signer) => Some(signer.sign_now()?),
            Proof::TokenFile(path) => Some(read_token_file(path).await?),
        };
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        if let Some(scope) = &self.scope {
            form.append_pair("scope", scope);
        }
        if let Proof::Post(secret) = &self.proof {
            form.append_pair("client_id", &self.client_id);
            form.append_pair("client_secret", secret.expose());
        }
        if let Some(assertion) = &assertion {
            // RFC 7521 §4.2 makes client_id optional beside an assertion; a
            // federated token names no Casebook client, so it is always sent.
            form.append_pair("client_id", &self.client_id);
            form.append_pair("client_assertion_type", ASSERTION_TYPE);
            form.append_pair("client_assertion", assertion);
        }
        Ok(form.finish())
    }
}

impl Fetch for HttpFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<TokenGrant, Error>> {
        Box::pin(async move {
            let mut sent_with_nonce = false;
            loop {
                let mut request = self
                    .http
                    .request(reqwest::Method::POST, self.token_url.clone(), None)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::ACCEPT, "application/json");
                if let Proof::Basic(authorization) = &self.proof {
                    request = request.header(header::AUTHORIZATION, authorization.clone());
                }
                let proof = match &self.dpop {
                    Some(prover) => Some(prover.prove("POST", &self.token_url, None)?),
                    None => None,
                };
                if let Some(proof) = &proof {
                    request = request.header(crate::dpop::HEADER, proof.header.clone());
                }
                let form = self.form().await?;
                let response = request.body(form).send().await.map_err(Error::from_reqwest)?;
                crate::transport::refuse_redirected(&response, &self.token_url)?;
                if let Some(prover) = &self.dpop {
                    prover.remember_nonce(response.headers());
                }
                let status = response.status().as_u16();
                let retry_after = parse_retry_after(
                    response
                        .headers()
                        .get(header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok()),
                );
                let body = response.bytes().await.map_err(Error::from_reqwest)?;
                let read = read_token_response(status, retry_after, &body, self.dpop.is_some());
                // RFC 9449 §8: the server issued nothing and named the nonce
                // it wants, so the request goes once more with it; a second
                // refusal is the answer, so that a server that never takes
                // its own nonce cannot keep the client asking.
                if let (Err(Error::DpopProof { code, .. }), Some(prover), Some(proof)) = (&read, &self.dpop, &proof)
                    && *code == OAuthErrorCode::UseDpopNonce
                    && !sent_with_nonce
                    && prover.has_newer_nonce_than(proof)
                {
                    tracing::debug!(
                        client_id = %self.client_id,
                        "the token endpoint asked for its DPoP nonce; asking again with it"
                    );
                    sent_with_nonce = true;
                    continue;
                }
                return read;
            }
        })
    }
}

/// The longest lifetime believed from a server: one announcing more cannot
/// overflow the clock arithmetic, and a token is re-requested daily at worst.
pub(super) const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Reads a token endpoint's answer (RFC 6749 §5.1 and §5.2).
/// With `dpop`, the token request carried a proof, and only a token bound
/// to its key is taken (RFC 9449 §5): a bearer token would not be the
/// sender-constrained token the caller asked for.
pub(crate) fn read_token_response(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    dpop: bool,
) -> Result<TokenGrant, Error> {
    if (200..300).contains(&status) {
        let success: TokenResponse =
            serde_json::from_slice(body).map_err(|e| Error::undecodable(status, "an RFC 6749 token response", e))?;
        let expected = if dpop { "DPoP" } else { "Bearer" };
        if !success.token_type.eq_ignore_ascii_case(expected) {
            return Err(Error::unexpected(
                status,
                format!(
                    "token_type {:?} is not {expected}{}",
                    success.token_type.chars().take(32).collect::<String>(),
                    if dpop {
                        ": the server did not bind the token to the DPoP key"
                    } else {
                        ""
                    }
                ),
            ));
        }
        if success.access_token.is_empty() {
            return Err(Error::unexpected(status, "the access_token is empty"));
        }
        return Ok(TokenGrant {
            access_token: success.access_token,
            expires_in: success
                .expires_in
                .map(|secs| Duration::from_secs(u64::try_from(secs).unwrap_or(0)).min(MAX_LIFETIME)),
            scope: success.scope,
        });
    }
    if (300..400).contains(&status) {
        return Err(Error::unexpected(
            status,
            "the token endpoint redirected; redirects are not followed, so credentials never go elsewhere",
        ));
    }
    let unexpected = |message: String, source: Option<serde_json::Error>| match source {
        Some(source) => {
            let mut error = Error::undecodable(status, "an RFC 6749 error response", source);
            if let Error::UnexpectedResponse { retry_after: r, .. } = &mut error {
                *r = retry_after;
            }
            error
        }
        None => Error::UnexpectedResponse {
            status,
            message,
            retry_after,
            source: None,
        },
    };
    match serde_json::from_slice::<OAuthErrorBody>(body) {
        Ok(failure)
            if matches!(
                failure.error,
                OAuthErrorCode::InvalidDpopProof | OAuthErrorCode::UseDpopNonce
            ) =>
        {
            Err(Error::DpopProof {
                code: failure.error,
                description: failure.error_description,
                status,
            })
        }
        Ok(failure) => Err(Error::OAuth {
            code: failure.error,
            description: failure.error_description,
            status,
            retry_after,
        }),
        Err(e) => {
            // The shared body knows only this SDK's codes; a newer or
            // another server's code is named rather than called unreadable.
            // The description is read only so that a malformed one stays
            // a malformed body, whatever the code.
            #[derive(Deserialize)]
            struct OtherCode {
                error: String,
                #[serde(default, rename = "error_description")]
                _description: Option<String>,
            }
            match serde_json::from_slice::<OtherCode>(body) {
                Ok(other) => Err(unexpected(
                    format!(
                        "unknown OAuth error code {:?}",
                        other.error.chars().take(64).collect::<String>()
                    ),
                    None,
                )),
                Err(_) => Err(unexpected(String::new(), Some(e))),
            }
        }
    }
}
