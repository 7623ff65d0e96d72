//! Helpers for your own tests (feature `test-util`): a well-formed fake
//! client secret and Client ID, and a token endpoint on a loopback port
//! that issues tokens to them, so code built on the SDK is tested without
//! a Casebook and without a real secret.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use casebook_sdk::Client;
//! use casebook_sdk::test_util::TokenServer;
//!
//! let server = TokenServer::start().await?;
//! server.respond("GET", "/api/v1/me", 200, r#"{"id":"0190f0e0-0000-7000-8000-000000000001",
//!     "kind":"application","name":"Partner Sync","permissions":["engage:view"]}"#);
//! let client = Client::builder(server.base_url())
//!     .client_credentials(server.client_id(), server.client_secret())
//!     .build()?;
//! let me = client.me().await?;
//! assert_eq!(me.name, "Partner Sync");
//! assert_eq!(server.tokens_issued(), 1);
//! # Ok(()) }
//! ```
//!
//! The server speaks plain HTTP/1.1 on `127.0.0.1`, which the SDK accepts
//! on loopback only; it is for tests, never for anything else.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use casebook_domain::{ClientId, ClientSecret, SecretShape};
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// 44 base-62 characters after `cbs_`, then 6 of checksum: the format
/// Casebook issues (`casebook_domain::secret_format`, the server's side).
const RANDOM_CHARS: usize = 44;
const CHECKSUM_CHARS: usize = 6;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A client secret of the shape Casebook issues (`cbs_`, 44 random
/// characters, a checksum that holds), made of fresh random bytes: it
/// passes the SDK's offline check, and no Casebook knows it. Each call
/// gives another.
///
/// ```
/// let secret = casebook_sdk::test_util::fake_client_secret();
/// assert!(secret.is_well_formed());
/// assert_ne!(secret, casebook_sdk::test_util::fake_client_secret());
/// ```
pub fn fake_client_secret() -> ClientSecret {
    let mut digits = String::with_capacity(4 + RANDOM_CHARS + CHECKSUM_CHARS);
    digits.push_str("cbs_");
    for byte in random_bytes::<RANDOM_CHARS>() {
        // 62 × 4 = 248: bytes at or above it are folded unevenly, which a
        // test secret can afford.
        digits.push(char::from(ALPHABET[usize::from(byte) % ALPHABET.len()]));
    }
    let mut sum = crc32(digits.as_bytes());
    let mut checksum = [b'0'; CHECKSUM_CHARS];
    for digit in checksum.iter_mut().rev() {
        *digit = ALPHABET[(sum % 62) as usize];
        sum /= 62;
    }
    digits.extend(checksum.iter().map(|&d| char::from(d)));
    let secret = ClientSecret::from_presented(digits);
    debug_assert_eq!(secret.shape(), SecretShape::Scannable);
    secret
}

/// A Client ID of the shape Casebook issues (`cb_` and 32 hex digits),
/// random; no Casebook knows it.
pub fn fake_client_id() -> ClientId {
    let hex: String = random_bytes::<16>().iter().map(|b| format!("{b:02x}")).collect();
    ClientId::parse(&format!("cb_{hex}")).unwrap_or_else(|| unreachable!("cb_ and 32 hex digits is a Client ID"))
}

fn random_bytes<const N: usize>() -> [u8; N] {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; N];
    // A test helper: a machine without randomness cannot run the tests anyway.
    SystemRandom::new()
        .fill(&mut bytes)
        .unwrap_or_else(|_| panic!("the system's random source failed"));
    bytes
}

/// CRC-32 (IEEE 802.3), bit by bit: a few dozen bytes per secret.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A token endpoint on a loopback port, for tests: it issues bearer tokens
/// by the client credentials grant to one Client ID and secret (fake ones,
/// [`client_id`](Self::client_id) and [`client_secret`](Self::client_secret)),
/// presented as `client_secret_basic` or `client_secret_post`, and refuses
/// anything else as Casebook does (`invalid_client`, 401). It can also
/// answer API paths with canned JSON ([`respond`](Self::respond)) for a
/// request carrying a token it issued, and records every request
/// ([`requests`](Self::requests)).
///
/// Every answer carries an `X-Request-Id` (the one the request sent, or its
/// own), as Casebook's do. The server stops when dropped.
pub struct TokenServer {
    base_url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

struct State {
    client_id: String,
    secret: ClientSecret,
    lifetime: Duration,
    issued: Vec<String>,
    scripted: VecDeque<(u16, String)>,
    routes: Vec<Route>,
    requests: Vec<SeenRequest>,
}

struct Route {
    method: String,
    path: String,
    status: u16,
    body: String,
}

/// One request a [`TokenServer`] was sent, as it read it. The
/// `Authorization` header and a form's `client_secret` show as
/// `[redacted]`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SeenRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Every header, names in lowercase, in the order sent.
    pub headers: Vec<(String, String)>,
    /// A form body's fields, in the order sent (empty for other bodies).
    pub form: Vec<(String, String)>,
    /// The status the server answered with.
    pub status: u16,
}

impl SeenRequest {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of form field `name`.
    pub fn form_field(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for TokenServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("TokenServer")
            .field("base_url", &self.base_url)
            .field("client_id", &state.client_id)
            .field("client_secret", &state.secret)
            .field("tokens_issued", &state.issued.len())
            .finish()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TokenServer {
    /// Starts a server on a free loopback port, on the current Tokio
    /// runtime, with a fresh fake Client ID and secret and tokens of an
    /// hour.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State {
            client_id: fake_client_id().into_string(),
            secret: fake_client_secret(),
            lifetime: Duration::from_secs(3600),
            issued: Vec::new(),
            scripted: VecDeque::new(),
            routes: Vec::new(),
            requests: Vec::new(),
        }));
        let serving = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(answer(socket, serving.clone()));
            }
        });
        Ok(Self { base_url, state, task })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// `http://127.0.0.1:{port}`: the base URL for [`Client::builder`](crate::Client::builder).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `{base_url}/oauth2/token`: the token URL for [`TokenSource::builder`](crate::TokenSource::builder).
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.base_url)
    }

    /// The Client ID tokens are issued to.
    pub fn client_id(&self) -> String {
        self.state().client_id.clone()
    }

    /// The secret tokens are issued for.
    pub fn client_secret(&self) -> ClientSecret {
        self.state().secret.clone()
    }

    /// Replaces the secret with a new fake one, which it returns: the old
    /// one is refused from now on (`invalid_client`), as after a rotation
    /// without a grace period.
    pub fn rotate_secret(&self) -> ClientSecret {
        let secret = fake_client_secret();
        self.state().secret = secret.clone();
        secret
    }

    /// How long the tokens issued from now on live (`expires_in`).
    pub fn token_lifetime(&self, lifetime: Duration) {
        self.state().lifetime = lifetime;
    }

    /// Answers the next token request with `status` and `body` (JSON)
    /// instead of judging it: `503` with
    /// `{"error":"temporarily_unavailable"}`, say. Calls queue up.
    pub fn fail_next_token_request(&self, status: u16, body: &str) {
        self.state().scripted.push_back((status, body.to_owned()));
    }

    /// Answers `method` on `path` (exactly, the query aside) with `status`
    /// and the JSON `body`, for a request whose bearer token this server
    /// issued; one without is answered 401 `invalid_token`. A path with no
    /// answer set is 404.
    pub fn respond(&self, method: &str, path: &str, status: u16, body: &str) {
        let mut state = self.state();
        state
            .routes
            .retain(|r| !(r.method.eq_ignore_ascii_case(method) && r.path == path));
        state.routes.push(Route {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            status,
            body: body.to_owned(),
        });
    }

    /// How many tokens it has issued.
    pub fn tokens_issued(&self) -> usize {
        self.state().issued.len()
    }

    /// Every request it was sent, oldest first.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state().requests.clone()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // Plain values, whole at every step.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The most a request may bring: the head and a body.
const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Reads one request from `socket`, answers it, and closes the connection.
async fn answer(mut socket: TcpStream, state: Arc<Mutex<State>>) {
    let Some((head, body)) = read_request(&mut socket).await else {
        return;
    };
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let is_form = header("content-type").is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let form: Vec<(String, String)> = if is_form {
        url::form_urlencoded::parse(&body).into_owned().collect()
    } else {
        Vec::new()
    };
    let request_id = header("x-request-id").map(str::to_owned);
    let (status, extra, reply) = {
        let mut state = lock(&state);
        let request_id = request_id.unwrap_or_else(|| format!("token-server-{}", state.requests.len()));
        let (status, extra, reply) = if path == "/oauth2/token" && method == "POST" {
            token_answer(&mut state, header("authorization"), &form)
        } else {
            api_answer(&state, &method, &path, header("authorization"))
        };
        let redacted = |name: &str, value: &str| {
            if matches!(name, "authorization" | "client_secret" | "dpop") {
                "[redacted]".to_owned()
            } else {
                value.to_owned()
            }
        };
        state.requests.push(SeenRequest {
            method,
            path,
            headers: headers.iter().map(|(n, v)| (n.clone(), redacted(n, v))).collect(),
            form: form.iter().map(|(n, v)| (n.clone(), redacted(n, v))).collect(),
            status,
        });
        (status, format!("{extra}X-Request-Id: {request_id}\r\n"), reply)
    };
    let content_type = if status >= 400 && !reply.contains("\"error\"") {
        "application/problem+json"
    } else {
        "application/json"
    };
    let response = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nCache-Control: no-store\r\n{extra}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reason(status),
        reply.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// The head (request line and headers, as text) and the body of one request.
async fn read_request(socket: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&chunk[..n]);
        if raw.len() > MAX_REQUEST_BYTES {
            return None;
        }
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let length = head
            .split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if raw.len() - (end + 4) >= length {
            let body = raw[end + 4..end + 4 + length].to_vec();
            return Some((head, body));
        }
    }
}

/// The token endpoint: a scripted answer, or the grant judged as Casebook
/// judges it.
fn token_answer(state: &mut State, authorization: Option<&str>, form: &[(String, String)]) -> (u16, String, String) {
    if let Some((status, body)) = state.scripted.pop_front() {
        return (status, String::new(), body);
    }
    let field = |name: &str| form.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let oauth = |status: u16, code: &str, description: &str| {
        let challenge = if status == 401 {
            "WWW-Authenticate: Basic realm=\"token-server\"\r\n".to_owned()
        } else {
            String::new()
        };
        let body = serde_json::json!({"error": code, "error_description": description}).to_string();
        (status, challenge, body)
    };
    if field("grant_type") != Some("client_credentials") {
        return oauth(400, "unsupported_grant_type", "only client_credentials is issued here");
    }
    let basic = authorization
        .and_then(|a| a.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    let posted = match (field("client_id"), field("client_secret")) {
        (Some(id), Some(secret)) => Some((id.to_owned(), secret.to_owned())),
        _ => None,
    };
    let (client_id, secret) = match (basic, posted) {
        (Some(_), Some(_)) => return oauth(400, "invalid_request", "the client authenticated twice"),
        (Some(pair), None) | (None, Some(pair)) => pair,
        (None, None) => return oauth(401, "invalid_client", "client authentication failed"),
    };
    if client_id != state.client_id || ClientSecret::from_presented(secret) != state.secret {
        return oauth(401, "invalid_client", "client authentication failed");
    }
    let token = format!("token-server-at-{}-{}", state.issued.len(), fake_client_id().as_str());
    state.issued.push(token.clone());
    let mut grant = serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": state.lifetime.as_secs(),
    });
    if let Some(scope) = field("scope") {
        grant["scope"] = scope.into();
    }
    (200, String::new(), grant.to_string())
}

/// An API path: its canned answer for a token this server issued.
fn api_answer(state: &State, method: &str, path: &str, authorization: Option<&str>) -> (u16, String, String) {
    let problem = |status: u16, detail: &str| {
        serde_json::json!({"type": "about:blank", "title": reason(status), "status": status, "detail": detail})
            .to_string()
    };
    let Some(route) = state
        .routes
        .iter()
        .find(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
    else {
        return (
            404,
            String::new(),
            problem(404, "the token server has no answer for this path"),
        );
    };
    let issued = authorization
        .and_then(|a| a.strip_prefix("Bearer "))
        .is_some_and(|token| state.issued.iter().any(|t| t == token.trim()));
    if !issued {
        return (
            401,
            "WWW-Authenticate: Bearer realm=\"token-server\", error=\"invalid_token\"\r\n".to_owned(),
            problem(401, "the access token is not one this server issued"),
        );
    }
    (route.status, String::new(), route.body.clone())
}

fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Status")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Client, ClientAuthMethod, Error, OAuthErrorCode, RetryPolicy, TokenSource};

    #[test]
    fn the_crc_is_ieee_and_every_fake_secret_is_one_casebook_could_issue() {
        // The check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        for _ in 0..200 {
            let secret = fake_client_secret();
            assert_eq!(secret.shape(), SecretShape::Scannable, "{}", secret.expose());
            assert_eq!(secret.expose().len(), 54);
        }
        assert_ne!(fake_client_secret(), fake_client_secret());
        assert!(ClientId::parse(fake_client_id().as_str()).is_some());
    }

    #[tokio::test]
    async fn it_issues_to_its_client_either_way_and_refuses_anyone_else() {
        let server = TokenServer::start().await.unwrap();
        for method in [ClientAuthMethod::ClientSecretBasic, ClientAuthMethod::ClientSecretPost] {
            let tokens = TokenSource::builder(server.token_url(), server.client_id(), server.client_secret())
                .auth_method(method)
                .scope("engage:view")
                .build()
                .unwrap();
            let token = tokens.token().await.unwrap();
            assert!(token.secret().starts_with("token-server-at-"));
            assert_eq!(token.scope(), Some("engage:view"));
        }
        assert_eq!(server.tokens_issued(), 2);
        let stranger = TokenSource::builder(server.token_url(), server.client_id(), fake_client_secret())
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        let error = stranger.token().await.unwrap_err();
        assert_eq!(error.oauth_code(), Some(OAuthErrorCode::InvalidClient));
        assert!(error.request_id().is_some(), "{error}");
        let seen = server.requests();
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[1].form_field("client_secret"), Some("[redacted]"));
        assert_eq!(seen[0].header("authorization"), Some("[redacted]"));
        assert_eq!(seen[2].status, 401);
        assert!(!format!("{server:?} {seen:?}").contains(server.client_secret().expose()));
    }

    #[tokio::test]
    async fn a_client_calls_canned_answers_with_its_tokens() {
        let server = TokenServer::start().await.unwrap();
        server.respond(
            "GET",
            "/api/v1/me",
            200,
            r#"{"id":"0190f0e0-0000-7000-8000-000000000001","kind":"application","name":"Partner Sync","permissions":["engage:view"]}"#,
        );
        let client = Client::builder(server.base_url())
            .client_credentials(server.client_id(), server.client_secret())
            .build()
            .unwrap();
        assert_eq!(client.me().await.unwrap().name, "Partner Sync");
        let missing = client.cases().list().send().await.unwrap_err();
        assert_eq!(missing.status(), Some(404));
        // A rotation: the client's secret is refused from now on.
        server.rotate_secret();
        let fresh = Client::builder(server.base_url())
            .client_credentials(server.client_id(), fake_client_secret())
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        assert!(matches!(
            fresh.me().await,
            Err(Error::OAuth {
                code: OAuthErrorCode::InvalidClient,
                ..
            })
        ));
        // Scripted: the next token request is answered as told.
        server.fail_next_token_request(503, r#"{"error":"temporarily_unavailable"}"#);
        let tokens = TokenSource::builder(server.token_url(), server.client_id(), server.client_secret())
            .retry_policy(RetryPolicy::default().initial_backoff(Duration::from_millis(5)))
            .build()
            .unwrap();
        tokens.token().await.unwrap();
    }
}
