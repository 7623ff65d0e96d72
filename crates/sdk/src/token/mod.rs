//! Access tokens by the client credentials grant (RFC 6749 §4.4): fetched
//! once, shared by every caller, refreshed ahead of expiry.
//!
//! The cache is one token behind a plain mutex (the fast path never awaits)
//! plus an async mutex that admits one token request at a time. A caller that
//! finds no usable token waits on the async mutex; when it gets in, it first
//! looks whether the request it waited for already produced a token, or
//! failed, and shares that outcome instead of asking again. That is what
//! makes a thousand callers on a cold cache cost one token request.

use crate::dpop::{DpopKey, Prover};
use crate::error::Error;
use crate::key::PrivateKey;
use crate::retry::{RetryPolicy, parse_retry_after};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use casebook_domain::ClientSecret;
use casebook_domain::wire::{OAuthErrorBody, TokenResponse};
use reqwest::header::{self, HeaderValue};
use serde::Deserialize;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

mod assertion;
mod builder;
mod endpoint;
pub(crate) use builder::Credential;
pub use builder::TokenSourceBuilder;
#[cfg(test)]
use endpoint::*;

/// The refresh-ahead slack never exceeds this fraction (1/4) of a token's
/// lifetime, so short-lived tokens are still used for most of their life.
const REFRESH_AHEAD_DIVISOR: u32 = 4;

/// A token this close to expiry is not handed out: a request carrying it
/// could arrive after it expired. Bounded by a tenth of the lifetime.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5);

/// RFC 6749 §5.1 makes `expires_in` optional; without it the token is
/// treated as living this long, and a 401 replaces it sooner if need be.
const ASSUMED_LIFETIME: Duration = Duration::from_secs(300);

/// How long a permanent failure of the token request is handed to new
/// callers before the endpoint is asked again.
const FAILURE_MEMORY: Duration = Duration::from_secs(5);

/// An access token. Cheap to clone. Its `Debug` never shows the token.
#[derive(Clone)]
pub struct AccessToken(Arc<TokenInner>);

struct TokenInner {
    value: Box<str>,
    scope: Option<Box<str>>,
    refresh_at: Instant,
    usable_until: Instant,
    expires_at: Instant,
}

impl AccessToken {
    fn new(grant: TokenGrant, requested_at: Instant, refresh_ahead: Duration) -> Self {
        let lifetime = grant.expires_in.unwrap_or(ASSUMED_LIFETIME);
        // Measured from when the request left, not when the answer came: the
        // server's clock started no earlier than that.
        let expires_at = requested_at + lifetime;
        let margin = EXPIRY_MARGIN.min(lifetime / 10);
        let slack = refresh_ahead.min(lifetime / REFRESH_AHEAD_DIVISOR).max(margin);
        Self(Arc::new(TokenInner {
            value: grant.access_token.into_boxed_str(),
            scope: grant.scope.map(String::into_boxed_str),
            refresh_at: expires_at - slack,
            usable_until: expires_at - margin,
            expires_at,
        }))
    }

    /// The token itself, for an `Authorization: Bearer` header (or, from a
    /// source with a DPoP key, `Authorization: DPoP` beside a proof: see
    /// [`TokenSource::dpop_proof`]). Handle with care.
    pub fn secret(&self) -> &str {
        &self.0.value
    }

    /// The granted scope (space-separated permissions), when the server said.
    pub fn scope(&self) -> Option<&str> {
        self.0.scope.as_deref()
    }

    /// How long until the token expires.
    pub fn expires_in(&self) -> Duration {
        self.0.expires_at.saturating_duration_since(Instant::now())
    }

    fn fresh(&self, now: Instant) -> bool {
        now < self.0.refresh_at
    }

    fn usable(&self, now: Instant) -> bool {
        now < self.0.usable_until
    }

    fn same(&self, other: &AccessToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"[redacted]")
            .field("scope", &self.scope())
            .field("expires_in", &self.expires_in())
            .finish()
    }
}

/// A successful token response, before it is cached.
pub(crate) struct TokenGrant {
    pub(crate) access_token: String,
    pub(crate) expires_in: Option<Duration>,
    pub(crate) scope: Option<String>,
}

impl fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenGrant")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One token request, without retries: the seam between the cache and HTTP.
pub(crate) trait Fetch: Send + Sync + 'static {
    fn fetch(&self) -> BoxFuture<'_, Result<TokenGrant, Error>>;
}

/// Access tokens for one client from one RFC 6749 token endpoint, cached and
/// refreshed ahead of expiry. Cheap to clone; clones share the cache.
///
/// Works against any OAuth 2.0 server that supports the client credentials
/// grant, not only Casebook. Casebook's secrets (`cbs_…`) carry a checksum
/// that catches a secret mistyped in copying before anything is sent;
/// another server's secrets have shapes of their own, so turn that check
/// off for them with [`check_secret_format(false)`](TokenSourceBuilder::check_secret_format):
///
/// ```no_run
/// # async fn run() -> Result<(), casebook_sdk::Error> {
/// use casebook_sdk::{ClientAuthMethod, ClientSecret, TokenSource};
///
/// let tokens = TokenSource::builder(
///     "https://auth.example.org/oauth2/token",
///     "my-client-id",
///     ClientSecret::from_presented(std::env::var("OTHER_CLIENT_SECRET").unwrap_or_default()),
/// )
/// .check_secret_format(false)
/// .auth_method(ClientAuthMethod::ClientSecretPost)
/// .scope("engage:view")
/// .build()?;
/// let token = tokens.token().await?;
/// println!("Bearer token valid for {:?}", token.expires_in());
/// # Ok(()) }
/// ```
///
/// Guarantees:
/// - however many tasks ask at once, an empty or expired cache causes one
///   token request, whose token (or error) they all share;
/// - a token is replaced ahead of expiry: by
///   [`refresh_ahead`](TokenSourceBuilder::refresh_ahead) (default two
///   minutes), or a quarter of its lifetime for short-lived tokens. The
///   refresh runs in a background task (on the Tokio runtime of the caller
///   that noticed), with retries, while every caller keeps getting the
///   current token at once; if the refresh fails, the current token is used
///   until it expires;
/// - a token request is a POST, so it is sent again only when the server
///   certainly did not act on it (the connection could not be opened, or
///   it answered 429 or 503 `temporarily_unavailable`), per the
///   [`RetryPolicy`]; after a timeout the
///   error is returned. OAuth errors such as `invalid_client` and
///   `invalid_scope` are returned at once, and handed to callers of the
///   next five seconds too instead of asking again.
///
/// It runs on Tokio: [`token`](Self::token) called outside a Tokio runtime
/// returns [`Error::Runtime`] (see the `blocking` feature for code that is
/// not async).
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<SourceInner>,
}

struct SourceInner {
    fetcher: Box<dyn Fetch>,
    describe: Describe,
    /// The key tokens are bound to, shared with the fetcher and with every
    /// client using these tokens, so that all keep one latest nonce.
    dpop: Option<Arc<Prover>>,
    retry: RetryPolicy,
    refresh_ahead: Duration,
    cache: Mutex<Cache>,
    flight: tokio::sync::Mutex<Flight>,
    /// Token requests finished (with either outcome); waiters compare it to
    /// tell "the request I waited for is done" from "nobody has asked yet".
    completed: AtomicU64,
    /// A background refresh is running.
    refreshing: AtomicBool,
}

/// Clears [`SourceInner::refreshing`] when the background refresh ends.
struct Refreshing(Arc<SourceInner>);

impl Drop for Refreshing {
    fn drop(&mut self) {
        self.0.refreshing.store(false, Ordering::Release);
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Describe {
    token_url: String,
    client_id: String,
    /// How the client authenticates, for people: never the credential.
    auth: String,
    scope: Option<String>,
}

#[derive(Default)]
struct Cache {
    token: Option<AccessToken>,
    /// After a failed refresh ahead of expiry, no new attempt before this.
    quiet_until: Option<Instant>,
}

#[derive(Default)]
struct Flight {
    failure: Option<Failure>,
}

struct Failure {
    /// The `completed` count the failure was recorded under.
    completed: u64,
    error: Error,
    /// A permanent failure (`invalid_client`, …) is handed to later callers
    /// too until then, rather than asked again: with fixed credentials the
    /// answer will not change within seconds, and the server throttles
    /// failed client authentication per client and per address.
    remembered_until: Option<Instant>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.inner.describe;
        f.debug_struct("TokenSource")
            .field("token_url", &d.token_url)
            .field("client_id", &d.client_id)
            .field("auth", &d.auth)
            .field("scope", &d.scope)
            .field("dpop", &self.dpop_key())
            .field("cached", &self.cache().token)
            .finish()
    }
}

impl TokenSource {
    /// Starts a token source for `client_id` at `token_url`, e.g.
    /// `https://casebook.example.org/oauth2/token`, authenticating with a
    /// client secret.
    pub fn builder(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: ClientSecret,
    ) -> TokenSourceBuilder {
        TokenSourceBuilder::new(token_url.into(), client_id.into(), Credential::Secret(client_secret))
    }

    /// Starts a token source whose client secret is kept in the file at
    /// `path`, such as a Kubernetes Secret mounted as a volume: read at the
    /// first token request (spaces and line breaks around it trimmed) and
    /// kept. When the token endpoint refuses it (`invalid_client`), the
    /// file is read once more and, if it holds another secret (rotated in
    /// the meantime), the request is made again with that one, so a
    /// rotation needs no restart. A file missing or empty is a transient
    /// [`Error::SecretFile`].
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), casebook_sdk::Error> {
    /// use casebook_sdk::TokenSource;
    ///
    /// let tokens = TokenSource::with_client_secret_file(
    ///     "https://casebook.example.org/oauth2/token",
    ///     "cb_0123456789abcdef0123456789abcdef",
    ///     "/var/run/secrets/casebook/client-secret",
    /// )
    /// .build()?;
    /// let token = tokens.token().await?;
    /// # let _ = token; Ok(()) }
    /// ```
    pub fn with_client_secret_file(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        path: impl Into<std::path::PathBuf>,
    ) -> TokenSourceBuilder {
        TokenSourceBuilder::new(token_url.into(), client_id.into(), Credential::SecretFile(path.into()))
    }

    /// Starts a token source for an application registered for
    /// `private_key_jwt` (RFC 7523 §2.2): each token request carries a new
    /// assertion signed with `key`, valid for 60 seconds, with a random
    /// `jti`, `iss` and `sub` the Client ID and `aud` the server's issuer
    /// identifier. That identifier is the token URL less its
    /// `/oauth2/token`, as for every Casebook install; for a server whose
    /// token URL is shaped otherwise, set
    /// [`audience`](TokenSourceBuilder::audience) to its metadata's `issuer`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), casebook_sdk::Error> {
    /// use casebook_sdk::{AssertionAlg, PrivateKey, TokenSource};
    ///
    /// let pem = std::fs::read_to_string("partner-sync.key").unwrap_or_default();
    /// let tokens = TokenSource::with_private_key(
    ///     "https://casebook.example.org/oauth2/token",
    ///     "cb_0123456789abcdef0123456789abcdef",
    ///     PrivateKey::from_pem(&pem, "partner-sync-2025")?,
    /// )
    /// .signing_alg(AssertionAlg::Ps256) // RSA signs RS256 unless told
    /// .build()?;
    /// let token = tokens.token().await?;
    /// # let _ = token; Ok(()) }
    /// ```
    pub fn with_private_key(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        key: PrivateKey,
    ) -> TokenSourceBuilder {
        TokenSourceBuilder::new(token_url.into(), client_id.into(), Credential::PrivateKey(key))
    }

    /// Starts a token source for a workload that trades a token it already
    /// has, such as a Kubernetes projected service-account token, for a
    /// Casebook token (a federated credential of the application). The file
    /// is read afresh for every token request, since the platform rotates
    /// it, and its contents are sent as `client_assertion` beside
    /// `client_id`. A file missing or empty is a transient
    /// [`Error::TokenFile`], retried like a timeout.
    ///
    /// ```no_run
    /// # fn run() -> Result<(), casebook_sdk::Error> {
    /// use casebook_sdk::TokenSource;
    ///
    /// let tokens = TokenSource::with_federated_token_file(
    ///     "https://casebook.example.org/oauth2/token",
    ///     "cb_0123456789abcdef0123456789abcdef",
    ///     "/var/run/secrets/casebook/token",
    /// )
    /// .build()?;
    /// # let _ = tokens; Ok(()) }
    /// ```
    pub fn with_federated_token_file(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        path: impl Into<std::path::PathBuf>,
    ) -> TokenSourceBuilder {
        TokenSourceBuilder::new(
            token_url.into(),
            client_id.into(),
            Credential::FederatedTokenFile(path.into()),
        )
    }

    pub(crate) fn from_fetcher(
        fetcher: Box<dyn Fetch>,
        describe: Describe,
        dpop: Option<Arc<Prover>>,
        retry: RetryPolicy,
        refresh_ahead: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(SourceInner {
                fetcher,
                describe,
                dpop,
                retry,
                refresh_ahead,
                cache: Mutex::new(Cache::default()),
                flight: tokio::sync::Mutex::new(Flight::default()),
                completed: AtomicU64::new(0),
                refreshing: AtomicBool::new(false),
            }),
        }
    }

    /// The Client ID this source asks tokens for.
    pub fn client_id(&self) -> &str {
        &self.inner.describe.client_id
    }

    /// The key this source's tokens are bound to, when it has one
    /// ([`dpop`](TokenSourceBuilder::dpop)).
    pub fn dpop_key(&self) -> Option<&DpopKey> {
        self.inner.dpop.as_deref().map(Prover::key)
    }

    pub(crate) fn prover(&self) -> Option<&Prover> {
        self.inner.dpop.as_deref()
    }

    /// For a source with a DPoP key: the `DPoP` header of one request of
    /// your own that sends `token` as `Authorization: DPoP <token>`, made
    /// for its `method` and `url` (the query is no part of it) and carrying
    /// the latest nonce this source was given. A proof is good for one
    /// request. `None` when the source has no DPoP key; a [`Client`](crate::Client)
    /// makes its proofs itself.
    ///
    /// ```no_run
    /// # async fn run(tokens: casebook_sdk::TokenSource) -> Result<(), casebook_sdk::Error> {
    /// let url = "https://casebook.example.org/api/v1/me";
    /// let token = tokens.token().await?;
    /// if let Some(proof) = tokens.dpop_proof("GET", url, &token)? {
    ///     let me = casebook_sdk::reqwest::Client::new()
    ///         .get(url)
    ///         .header("Authorization", format!("DPoP {}", token.secret()))
    ///         .header("DPoP", proof)
    ///         .send()
    ///         .await;
    /// #   let _ = me;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn dpop_proof(&self, method: &str, url: &str, token: &AccessToken) -> Result<Option<String>, Error> {
        let Some(prover) = self.prover() else {
            return Ok(None);
        };
        let url =
            reqwest::Url::parse(url).map_err(|e| Error::Config(format!("{url:?} is not an absolute URL: {e}")))?;
        let proof = prover.prove(method, &url, Some(token.secret()))?;
        // A proof is base64url and dots, which always reads as text.
        Ok(proof.header.to_str().ok().map(str::to_owned))
    }

    /// A token valid for a while yet: the cached one, or a new one.
    ///
    /// Only a caller that finds no usable token waits for a token request.
    /// Ahead of expiry the current token is returned at once and the new one
    /// is fetched by a background task on the caller's Tokio runtime.
    pub async fn token(&self) -> Result<AccessToken, Error> {
        crate::error::require_runtime()?;
        let seen = self.inner.completed.load(Ordering::Acquire);
        let now = Instant::now();
        let (cached, quiet_until) = {
            let cache = self.cache();
            (cache.token.clone(), cache.quiet_until)
        };
        if let Some(current) = cached.filter(|t| t.usable(now)) {
            if !current.fresh(now) && quiet_until.is_none_or(|q| now >= q) {
                self.refresh_in_background();
            }
            return Ok(current);
        }
        let flight = self.inner.flight.lock().await;
        if let Some(token) = self.cached(Instant::now(), AccessToken::usable) {
            return Ok(token);
        }
        if let Some(failure) = &flight.failure
            && (failure.completed > seen || failure.remembered_until.is_some_and(|until| Instant::now() < until))
        {
            return Err(failure.error.clone());
        }
        self.refresh(flight, None).await
    }

    /// Starts one background refresh, unless one is running. It waits its
    /// turn behind any token request in flight, and gives up when that one
    /// already brought a fresh token.
    fn refresh_in_background(&self) {
        if self.inner.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        // Owned by the task, so the flag clears however the task ends:
        // done, failed, or dropped with its runtime.
        let running = Refreshing(self.inner.clone());
        let source = self.clone();
        tokio::spawn(async move {
            let _running = running;
            let flight = source.inner.flight.lock().await;
            if source.cached(Instant::now(), AccessToken::fresh).is_some() {
                return;
            }
            let current = source.cache().token.clone();
            // The outcome is in the cache (or, failed, logged and remembered).
            let _ = source.refresh(flight, current).await;
        });
    }

    /// Forgets `token` if it is the cached one, so that the next
    /// [`token`](Self::token) asks for a new one. Call it when a resource
    /// server refused the token (401 `invalid_token`): it may have been
    /// revoked. A token that was already replaced is left alone, so many
    /// callers reporting the same refusal cause one new token request.
    pub fn invalidate(&self, token: &AccessToken) {
        let mut cache = self.cache();
        if cache.token.as_ref().is_some_and(|t| t.same(token)) {
            cache.token = None;
            cache.quiet_until = None;
        }
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        // The cache holds plain values, valid at every step: a panic while
        // it was locked cannot have left it half-written.
        self.inner.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cached(&self, now: Instant, good: fn(&AccessToken, Instant) -> bool) -> Option<AccessToken> {
        self.cache().token.clone().filter(|t| good(t, now))
    }

    async fn refresh(
        &self,
        mut flight: tokio::sync::MutexGuard<'_, Flight>,
        current: Option<AccessToken>,
    ) -> Result<AccessToken, Error> {
        let result = self.fetch().await;
        let completed = self.inner.completed.fetch_add(1, Ordering::AcqRel) + 1;
        match result {
            Ok(token) => {
                let mut cache = self.cache();
                cache.token = Some(token.clone());
                cache.quiet_until = None;
                flight.failure = None;
                Ok(token)
            }
            Err(error) => {
                let now = Instant::now();
                flight.failure = Some(Failure {
                    completed,
                    error: error.clone(),
                    remembered_until: (!error.is_transient()).then_some(now + FAILURE_MEMORY),
                });
                match current.filter(|t| t.usable(now)) {
                    Some(current) => {
                        let remaining = current.0.usable_until.saturating_duration_since(now);
                        self.cache().quiet_until = Some(now + (remaining / 4).min(Duration::from_secs(30)));
                        tracing::warn!(
                            client_id = %self.inner.describe.client_id,
                            error = %error,
                            remaining_secs = remaining.as_secs(),
                            "could not refresh the access token ahead of expiry; using the current one meanwhile"
                        );
                        Ok(current)
                    }
                    None => Err(error),
                }
            }
        }
    }

    /// One token, asked for with retries, in a span named `casebook.token`
    /// (the Client ID, the token URL, and once answered the status and the
    /// server's request id; never a secret, an assertion or a token).
    async fn fetch(&self) -> Result<AccessToken, Error> {
        let d = &self.inner.describe;
        let span = tracing::info_span!(
            "casebook.token",
            client_id = %d.client_id,
            token_url = %d.token_url,
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
            retries = tracing::field::Empty,
        );
        self.fetch_with_retries().instrument(span).await
    }

    async fn fetch_with_retries(&self) -> Result<AccessToken, Error> {
        let d = &self.inner.describe;
        let mut retries = 0;
        loop {
            let requested_at = Instant::now();
            tracing::debug!(client_id = %d.client_id, token_url = %d.token_url, "requesting an access token");
            let error = match self.inner.fetcher.fetch().await {
                Ok(grant) => return Ok(AccessToken::new(grant, requested_at, self.inner.refresh_ahead)),
                Err(error) => error,
            };
            // A token request is a POST: after a timeout or a dropped
            // connection the server may have issued a token (and counted it
            // against a quota), so only what it certainly did not act on is
            // asked again, per the retry policy.
            let Ok((delay, _)) = crate::retry::verdict(&self.inner.retry, &reqwest::Method::POST, &error, retries)
            else {
                tracing::warn!(client_id = %d.client_id, error = %error, "token request failed");
                return Err(error);
            };
            tracing::warn!(
                client_id = %d.client_id,
                error = %error,
                retry = retries + 1,
                delay_ms = delay.as_millis() as u64,
                "token request failed; retrying"
            );
            tokio::time::sleep(delay).await;
            retries += 1;
            tracing::Span::current().record("retries", retries);
        }
    }
}

#[cfg(test)]
mod tests;
