//! The token endpoint on the wire: the request a token source sends and
//! how its answer is read (RFC 6749 §2.3.1, §5.1, §5.2).

use super::*;
use crate::dpop::Prover;
use crate::options::ClientAuthMethod;
use crate::transport::{REQUEST_ID, random_id};
use casebook_domain::SecretShape as Shape;
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

/// A secret as it is sent: without the spaces and line breaks around it
/// (a file's last newline, a copy's stray space), and, with `check`, of a
/// shape Casebook issues.
pub(super) fn presented(secret: &str, check: bool) -> Result<ClientSecret, Error> {
    let secret = ClientSecret::from_presented(secret.trim());
    if check && secret.shape() == Shape::Mistyped {
        return Err(Error::MistypedSecret);
    }
    if secret.expose().is_empty() {
        return Err(Error::Config("the client secret is empty".into()));
    }
    Ok(secret)
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
    /// A client secret kept in a file, presented as `client_secret_basic`
    /// or `client_secret_post`.
    SecretFile(SecretFile),
}

/// A client secret in a file, such as a mounted Kubernetes Secret: read at
/// the first token request and kept; read again when the token endpoint
/// refuses it (`invalid_client`), so that a secret rotated in the file is
/// taken up without rebuilding the client.
pub(super) struct SecretFile {
    path: PathBuf,
    method: ClientAuthMethod,
    check_format: bool,
    current: Mutex<Option<ClientSecret>>,
}

impl SecretFile {
    pub(super) fn new(path: PathBuf, method: ClientAuthMethod, check_format: bool) -> Self {
        Self {
            path,
            method,
            check_format,
            current: Mutex::new(None),
        }
    }

    fn kept(&self) -> MutexGuard<'_, Option<ClientSecret>> {
        // A plain value, whole at every step.
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The secret last read, or the file's now when none was.
    async fn current(&self) -> Result<ClientSecret, Error> {
        let kept = self.kept().clone();
        match kept {
            Some(secret) => Ok(secret),
            None => self.read().await,
        }
    }

    /// The file's secret now, kept for the next requests.
    async fn read(&self) -> Result<ClientSecret, Error> {
        let text = read_small_file(&self.path)
            .await
            .map_err(|(message, source)| Error::SecretFile {
                path: self.path.clone(),
                message: message.to_owned(),
                source: source.map(crate::error::Cause::new),
            })?;
        let secret = presented(&text, self.check_format)?;
        *self.kept() = Some(secret.clone());
        Ok(secret)
    }
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

/// What went wrong reading a credential's file: for people, and the I/O
/// error when there was one. Never the file's contents.
type FileProblem = (&'static str, Option<std::io::Error>);

/// The text in `path`, read now and trimmed: never empty, at most 64 KiB.
async fn read_small_file(path: &Path) -> Result<String, FileProblem> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| ("it cannot be opened", Some(e)))?;
    let mut raw = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(
        &mut tokio::io::AsyncReadExt::take(&mut file, MAX_TOKEN_FILE_BYTES + 1),
        &mut raw,
    )
    .await
    .map_err(|e| ("it cannot be read", Some(e)))?;
    if raw.len() as u64 > MAX_TOKEN_FILE_BYTES {
        return Err(("it is larger than 64 KiB, too large for a credential", None));
    }
    let text = String::from_utf8(raw).map_err(|_| ("it is not UTF-8 text", None))?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(("it is empty", None));
    }
    Ok(trimmed.to_owned())
}

/// The outside token in `path`, read now: the platform may have rotated it.
pub(super) async fn read_token_file(path: &Path) -> Result<String, Error> {
    let failed = |message: &str, source: Option<std::io::Error>| Error::TokenFile {
        path: path.to_owned(),
        message: message.to_owned(),
        source: source.map(crate::error::Cause::new),
    };
    let token = read_small_file(path)
        .await
        .map_err(|(message, source)| failed(message, source))?;
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(failed("it holds more than one token", None));
    }
    Ok(token)
}

impl HttpFetcher {
    /// The form of one token request; `from_file` is the secret of a
    /// [`Proof::SecretFile`], read for this request.
    async fn form(&self, from_file: Option<&ClientSecret>) -> Result<String, Error> {
        // Made before the serializer exists, which is not Send across an await.
        let assertion = match &self.proof {
            Proof::Basic(_) | Proof::Post(_) | Proof::SecretFile(_) => None,
            Proof::Assertion(signer) => Some(signer.sign_now()?),
            Proof::TokenFile(path) => Some(read_token_file(path).await?),
        };
        let posted = match (&self.proof, from_file) {
            (Proof::Post(secret), _) => Some(secret),
            (Proof::SecretFile(file), Some(secret)) if file.method == ClientAuthMethod::ClientSecretPost => {
                Some(secret)
            }
            _ => None,
        };
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        if let Some(scope) = &self.scope {
            form.append_pair("scope", scope);
        }
        if let Some(secret) = posted {
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
            let mut read_again = false;
            loop {
                let from_file = match &self.proof {
                    Proof::SecretFile(file) => Some(file.current().await?),
                    _ => None,
                };
                let sent_id = random_id()?;
                let mut request = self
                    .http
                    .request(reqwest::Method::POST, self.token_url.clone(), None)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::ACCEPT, "application/json")
                    .header(REQUEST_ID, sent_id.as_str());
                match (&self.proof, &from_file) {
                    (Proof::Basic(authorization), _) => {
                        request = request.header(header::AUTHORIZATION, authorization.clone());
                    }
                    (Proof::SecretFile(file), Some(secret)) if file.method == ClientAuthMethod::ClientSecretBasic => {
                        request = request.header(header::AUTHORIZATION, basic_authorization(&self.client_id, secret)?);
                    }
                    _ => {}
                }
                let proof = match &self.dpop {
                    Some(prover) => Some(prover.prove("POST", &self.token_url, None)?),
                    None => None,
                };
                if let Some(proof) = &proof {
                    request = request.header(crate::dpop::HEADER, proof.header.clone());
                }
                let form = self.form(from_file.as_ref()).await?;
                let response = request
                    .body(form)
                    .send()
                    .await
                    .map_err(|e| Error::from_reqwest(e).naming_request(None, Some(&sent_id)))?;
                crate::transport::refuse_redirected(&response, &self.token_url)?;
                let answered = crate::error::request_id_of(response.headers());
                let span = tracing::Span::current();
                span.record("status", response.status().as_u16());
                if let Some(id) = &answered {
                    span.record("request_id", id.as_str());
                }
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
                let body = response
                    .bytes()
                    .await
                    .map_err(|e| Error::from_reqwest(e).naming_request(answered.as_deref(), Some(&sent_id)))?;
                let read = read_token_response(status, retry_after, &body, self.dpop.is_some())
                    .map_err(|e| e.naming_request(answered.as_deref(), None));
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
                // A secret rotated in its file: the refused one may be the
                // one kept from before. Read once more; a different secret
                // is tried at once, the same one is the answer.
                if let (Err(Error::OAuth { code, .. }), Proof::SecretFile(file), Some(sent)) =
                    (&read, &self.proof, &from_file)
                    && *code == OAuthErrorCode::InvalidClient
                    && !read_again
                {
                    read_again = true;
                    if file.read().await.is_ok_and(|now| now != *sent) {
                        tracing::info!(
                            client_id = %self.client_id,
                            path = %file.path.display(),
                            "the client secret was refused and its file holds another; asking with that one"
                        );
                        continue;
                    }
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
            request_id: None,
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
                request_id: None,
            })
        }
        Ok(failure) => Err(Error::OAuth {
            code: failure.error,
            description: failure.error_description,
            status,
            retry_after,
            request_id: None,
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
