//! Access tokens by the client credentials grant (RFC 6749 §4.4): fetched
//! once, shared by every caller, refreshed ahead of expiry.
//!
//! The cache is one token behind a plain mutex (the fast path never awaits)
//! plus an async mutex that admits one token request at a time. A caller that
//! finds no usable token waits on the async mutex; when it gets in, it first
//! looks whether the request it waited for already produced a token, or
//! failed, and shares that outcome instead of asking again. That is what
//! makes a thousand callers on a cold cache cost one token request.

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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

mod assertion;
mod builder;
mod endpoint;
pub(crate) use builder::Credential;
pub use builder::TokenSourceBuilder;
#[cfg(test)]
use endpoint::*;

/// How long before expiry a token is replaced, unless the token is short-lived
/// (see [`TokenSourceBuilder::refresh_ahead`]).
pub const DEFAULT_REFRESH_AHEAD: Duration = Duration::from_secs(120);

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

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuthMethod {
    /// HTTP Basic with the form-urlencoded Client ID and secret (`client_secret_basic`),
    /// which every RFC 6749 server must support.
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    ClientSecretPost,
}

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

    /// The token itself, for an `Authorization: Bearer` header. Handle with care.
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
/// grant, not only Casebook:
///
/// ```no_run
/// # async fn run() -> Result<(), casebook_sdk::Error> {
/// use casebook_sdk::{ClientAuthMethod, ClientSecret, TokenSource};
///
/// let tokens = TokenSource::builder(
///     "https://auth.example.org/oauth2/token",
///     "my-client-id",
///     ClientSecret::from_presented(std::env::var("CASEBOOK_CLIENT_SECRET").unwrap_or_default()),
/// )
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
///   minutes), or a quarter of its lifetime for short-lived tokens. During
///   that window one caller refreshes while the others keep using the
///   current token; if the refresh fails, the current token is used until
///   it expires;
/// - transient failures (timeouts, connection failures, 408, 429, 5xx) are
///   retried per the [`RetryPolicy`]; OAuth errors such as `invalid_client`
///   and `invalid_scope` are returned at once, and handed to callers of the
///   next five seconds too instead of asking again.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<SourceInner>,
}

struct SourceInner {
    fetcher: Box<dyn Fetch>,
    describe: Describe,
    retry: RetryPolicy,
    refresh_ahead: Duration,
    cache: Mutex<Cache>,
    flight: tokio::sync::Mutex<Flight>,
    /// Token requests finished (with either outcome); waiters compare it to
    /// tell "the request I waited for is done" from "nobody has asked yet".
    completed: AtomicU64,
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
        retry: RetryPolicy,
        refresh_ahead: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(SourceInner {
                fetcher,
                describe,
                retry,
                refresh_ahead,
                cache: Mutex::new(Cache::default()),
                flight: tokio::sync::Mutex::new(Flight::default()),
                completed: AtomicU64::new(0),
            }),
        }
    }

    /// The Client ID this source asks tokens for.
    pub fn client_id(&self) -> &str {
        &self.inner.describe.client_id
    }

    /// A token valid for a while yet: the cached one, or a new one.
    pub async fn token(&self) -> Result<AccessToken, Error> {
        let seen = self.inner.completed.load(Ordering::Acquire);
        let now = Instant::now();
        let (cached, quiet_until) = {
            let cache = self.cache();
            (cache.token.clone(), cache.quiet_until)
        };
        if let Some(current) = cached.filter(|t| t.usable(now)) {
            if current.fresh(now) || quiet_until.is_some_and(|q| now < q) {
                return Ok(current);
            }
            // Ahead of expiry: whoever gets the lock refreshes; everyone else
            // keeps using the current token rather than queueing.
            let Ok(flight) = self.inner.flight.try_lock() else {
                return Ok(current);
            };
            if let Some(fresh) = self.cached(Instant::now(), AccessToken::fresh) {
                return Ok(fresh);
            }
            return self.refresh(flight, Some(current)).await;
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
        // Ahead of expiry a caller already holds a working token: one attempt,
        // no backoff sleeps on its time; the next caller tries again.
        let retry = current.is_none();
        let result = self.fetch(retry).await;
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

    async fn fetch(&self, retry: bool) -> Result<AccessToken, Error> {
        let d = &self.inner.describe;
        let mut retries = 0;
        loop {
            let requested_at = Instant::now();
            tracing::debug!(client_id = %d.client_id, token_url = %d.token_url, "requesting an access token");
            let error = match self.inner.fetcher.fetch().await {
                Ok(grant) => return Ok(AccessToken::new(grant, requested_at, self.inner.refresh_ahead)),
                Err(error) => error,
            };
            let delay = match retry && error.is_transient() {
                true => self.inner.retry.delay(retries, error.retry_after()),
                false => None,
            };
            let Some(delay) = delay else {
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use casebook_domain::OAuthErrorCode;

    #[test]
    fn absurd_lifetimes_are_clamped_not_panicked_on() {
        for raw in ["1e300", "9223372036854775807", "\"18446744073709551615\"", "-5", "3600"] {
            let body = format!(r#"{{"access_token":"t","token_type":"Bearer","expires_in":{raw}}}"#);
            let lifetime = read_token_response(200, None, body.as_bytes())
                .unwrap()
                .expires_in
                .unwrap();
            assert!(lifetime <= MAX_LIFETIME, "{raw}");
            let _ = Instant::now() + lifetime;
        }
    }
    use futures_util::FutureExt;
    use std::sync::atomic::AtomicUsize;

    type Script = Box<dyn Fn(usize) -> Result<TokenGrant, Error> + Send + Sync>;

    /// A token endpoint as a function of the call number, taking `latency` of
    /// (virtual) time to answer, counting its calls.
    struct Fake {
        calls: Arc<AtomicUsize>,
        latency: Duration,
        script: Script,
    }

    impl Fetch for Fake {
        fn fetch(&self) -> BoxFuture<'_, Result<TokenGrant, Error>> {
            Box::pin(async move {
                let n = self.calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(self.latency).await;
                (self.script)(n)
            })
        }
    }

    fn grant(n: usize, lifetime_secs: u64) -> Result<TokenGrant, Error> {
        Ok(TokenGrant {
            access_token: format!("token-{n}"),
            expires_in: Some(Duration::from_secs(lifetime_secs)),
            scope: Some("engage:view".into()),
        })
    }

    fn oauth(code: OAuthErrorCode) -> Error {
        Error::OAuth {
            code,
            description: Some("client authentication failed".into()),
            status: code.http_status(),
            retry_after: None,
        }
    }

    fn unavailable(retry_after: Option<Duration>) -> Error {
        Error::UnexpectedResponse {
            status: 503,
            message: "overloaded".into(),
            retry_after,
            source: None,
        }
    }

    fn source_with(
        latency: Duration,
        script: impl Fn(usize) -> Result<TokenGrant, Error> + Send + Sync + 'static,
    ) -> (TokenSource, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let fake = Fake {
            calls: calls.clone(),
            latency,
            script: Box::new(script),
        };
        let describe = Describe {
            token_url: "https://auth.example.org/oauth2/token".into(),
            client_id: "cb_test".into(),
            auth: "client_secret_basic".into(),
            scope: None,
        };
        let source = TokenSource::from_fetcher(Box::new(fake), describe, RetryPolicy::default(), DEFAULT_REFRESH_AHEAD);
        (source, calls)
    }

    async fn ask_concurrently(source: &TokenSource, n: usize) -> Vec<Result<AccessToken, Error>> {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let source = source.clone();
                tokio::spawn(async move { source.token().await })
            })
            .collect();
        let mut results = Vec::with_capacity(n);
        for task in tasks {
            results.push(task.await.expect("task"));
        }
        results
    }

    #[tokio::test(start_paused = true)]
    async fn a_thousand_callers_on_a_cold_cache_cause_one_token_request() {
        let (source, calls) = source_with(Duration::from_millis(50), |n| grant(n, 3600));
        let results = ask_concurrently(&source, 1000).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(results.iter().all(|r| r.as_ref().unwrap().secret() == "token-0"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_thousand_callers_on_an_expired_cache_cause_one_token_request() {
        let (source, calls) = source_with(Duration::from_millis(50), |n| grant(n, 60));
        assert_eq!(source.token().await.unwrap().secret(), "token-0");
        tokio::time::advance(Duration::from_secs(61)).await;
        let results = ask_concurrently(&source, 1000).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(results.iter().all(|r| r.as_ref().unwrap().secret() == "token-1"));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_failure() {
        let (source, calls) = source_with(Duration::from_millis(50), |_| Err(oauth(OAuthErrorCode::InvalidClient)));
        let results = ask_concurrently(&source, 1000).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(
            results
                .iter()
                .all(|r| r.as_ref().unwrap_err().oauth_code() == Some(OAuthErrorCode::InvalidClient))
        );
        // A caller soon after is handed the same answer without a request…
        tokio::time::advance(Duration::from_millis(4_900)).await;
        assert!(source.token().await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // …and a later one asks again.
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(source.token().await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_lived_token_is_refreshed_two_minutes_ahead() {
        let (source, calls) = source_with(Duration::ZERO, |n| grant(n, 3600));
        assert_eq!(source.token().await.unwrap().secret(), "token-0");
        tokio::time::advance(Duration::from_secs(3600 - 121)).await;
        assert_eq!(source.token().await.unwrap().secret(), "token-0");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(source.token().await.unwrap().secret(), "token-1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // The new token is good for another hour less the slack.
        tokio::time::advance(Duration::from_secs(3600 - 121)).await;
        assert_eq!(source.token().await.unwrap().secret(), "token-1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_lived_token_is_refreshed_a_quarter_of_its_life_ahead() {
        let (source, calls) = source_with(Duration::ZERO, |n| grant(n, 8));
        assert_eq!(source.token().await.unwrap().secret(), "token-0");
        tokio::time::advance(Duration::from_millis(5_900)).await;
        assert_eq!(source.token().await.unwrap().secret(), "token-0");
        tokio::time::advance(Duration::from_millis(200)).await;
        assert_eq!(source.token().await.unwrap().secret(), "token-1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn ahead_of_expiry_other_callers_do_not_wait_for_the_refresh() {
        let (source, calls) = source_with(Duration::from_secs(1), |n| grant(n, 3600));
        source.token().await.unwrap();
        tokio::time::advance(Duration::from_secs(3600 - 60)).await;
        let refresher = {
            let source = source.clone();
            tokio::spawn(async move { source.token().await })
        };
        // Let the refresher take the lock and start its (one second) request.
        tokio::task::yield_now().await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        let meanwhile = source.token().now_or_never().expect("does not wait").unwrap();
        assert_eq!(meanwhile.secret(), "token-0");
        assert_eq!(refresher.await.unwrap().unwrap().secret(), "token-1");
        assert_eq!(source.token().await.unwrap().secret(), "token-1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_refresh_ahead_keeps_the_current_token_until_it_expires() {
        let (source, calls) = source_with(Duration::ZERO, |n| match n {
            0 => grant(n, 3600),
            _ => Err(oauth(OAuthErrorCode::InvalidClient)),
        });
        source.token().await.unwrap();
        tokio::time::advance(Duration::from_secs(3600 - 100)).await;
        assert_eq!(source.token().await.unwrap().secret(), "token-0");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // Quiet for a while after the failure: no request per call.
        assert_eq!(source.token().await.unwrap().secret(), "token-0");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        tokio::time::advance(Duration::from_secs(100)).await;
        let error = source.token().await.unwrap_err();
        assert_eq!(error.oauth_code(), Some(OAuthErrorCode::InvalidClient));
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_with_backoff() {
        let (source, calls) = source_with(Duration::ZERO, |n| match n {
            0 | 1 => Err(unavailable(None)),
            _ => grant(n, 3600),
        });
        let started = Instant::now();
        assert_eq!(source.token().await.unwrap().secret(), "token-2");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // 250 ms then 500 ms, each with equal jitter: at least half of each.
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(375) && waited <= Duration::from_millis(750),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured() {
        let (source, calls) = source_with(Duration::ZERO, |n| match n {
            0 => Err(Error::UnexpectedResponse {
                status: 429,
                message: "slow down".into(),
                retry_after: Some(Duration::from_secs(7)),
                source: None,
            }),
            _ => grant(n, 3600),
        });
        let started = Instant::now();
        source.token().await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(7));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_are_bounded() {
        let (source, calls) = source_with(Duration::ZERO, |_| Err(unavailable(None)));
        let error = source.token().await.unwrap_err();
        assert!(error.is_transient());
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failures_are_returned_at_once() {
        for code in [
            OAuthErrorCode::InvalidClient,
            OAuthErrorCode::InvalidScope,
            OAuthErrorCode::UnauthorizedClient,
        ] {
            let (source, calls) = source_with(Duration::ZERO, move |_| Err(oauth(code)));
            let started = Instant::now();
            assert_eq!(source.token().await.unwrap_err().oauth_code(), Some(code));
            assert_eq!(calls.load(Ordering::SeqCst), 1);
            assert_eq!(started.elapsed(), Duration::ZERO);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn invalidating_the_current_token_forces_one_new_request() {
        let (source, calls) = source_with(Duration::ZERO, |n| grant(n, 3600));
        let first = source.token().await.unwrap();
        source.invalidate(&first);
        let second = source.token().await.unwrap();
        assert_eq!(second.secret(), "token-1");
        // A second report of the same refusal must not discard the new token.
        source.invalidate(&first);
        assert_eq!(source.token().await.unwrap().secret(), "token-1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn token_responses_are_classified() {
        let ok = read_token_response(
            200,
            None,
            br#"{"access_token":"abc","token_type":"Bearer","expires_in":3600,"scope":"engage:view"}"#,
        )
        .unwrap();
        assert_eq!(ok.expires_in, Some(Duration::from_secs(3600)));
        assert_eq!(ok.scope.as_deref(), Some("engage:view"));
        let lenient = read_token_response(
            200,
            None,
            br#"{"access_token":"abc","token_type":"bearer","expires_in":"60"}"#,
        )
        .unwrap();
        assert_eq!(lenient.expires_in, Some(Duration::from_secs(60)));
        assert_eq!(lenient.scope, None);

        let check = |status: u16, body: &str, expect: &dyn Fn(&Error) -> bool| {
            let error = read_token_response(status, Some(Duration::from_secs(2)), body.as_bytes()).unwrap_err();
            assert!(expect(&error), "{status} {body}: {error:?}");
        };
        check(200, r#"{"access_token":"abc","token_type":"mac"}"#, &|e| {
            matches!(e, Error::UnexpectedResponse { .. }) && !e.is_transient()
        });
        check(200, "<html>", &|e| matches!(e, Error::UnexpectedResponse { .. }));
        check(
            401,
            r#"{"error":"invalid_client","error_description":"client authentication failed"}"#,
            &|e| {
                matches!(e, Error::OAuth { code: OAuthErrorCode::InvalidClient, description: Some(d), status: 401, .. } if d == "client authentication failed")
                    && !e.is_transient()
            },
        );
        // Throttled, but the code says the credentials are wrong: not transient.
        check(429, r#"{"error":"invalid_client"}"#, &|e| {
            e.oauth_code() == Some(OAuthErrorCode::InvalidClient) && !e.is_transient()
        });
        check(400, r#"{"error":"invalid_scope"}"#, &|e| {
            e.oauth_code() == Some(OAuthErrorCode::InvalidScope)
        });
        check(503, "Service Unavailable", &|e| {
            e.is_transient() && e.retry_after() == Some(Duration::from_secs(2))
        });
        check(429, "", &|e| e.is_transient());
        check(400, r#"{"error":"slow_down"}"#, &|e| {
            matches!(e, Error::UnexpectedResponse { status: 400, .. }) && !e.is_transient()
        });
        check(302, "", &|e| matches!(e, Error::UnexpectedResponse { status: 302, .. }));
    }

    /// A token endpoint on a loopback socket: answers `(status, body)` in
    /// order, one connection each, and records every request it read.
    pub(super) async fn endpoint(answers: Vec<(u16, &'static str)>) -> (String, Arc<Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/oauth2/token", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            for (status, body) in answers {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = socket.read(&mut chunk).await.unwrap();
                    request.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some((head, sent)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if sent.len() >= length || n == 0 {
                            record.lock().unwrap().push(text);
                            break;
                        }
                    }
                }
                let location = if status == 302 {
                    "Location: http://elsewhere.example/\r\n"
                } else {
                    ""
                };
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{location}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                socket.write_all(response.as_bytes()).await.unwrap();
                socket.shutdown().await.unwrap();
            }
        });
        (url, seen)
    }

    pub(super) const ISSUED: &str =
        r#"{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"scope":"engage:view"}"#;

    /// A secret of the scannable format: the SDK sends no other.
    fn wire_secret() -> ClientSecret {
        ClientSecret::from_random([9; casebook_domain::credentials::CLIENT_SECRET_BYTES])
    }

    fn http_source(url: &str, method: ClientAuthMethod) -> TokenSource {
        TokenSource::builder(url, "cb_1", wire_secret())
            .auth_method(method)
            .scope("engage:view")
            .retry_policy(RetryPolicy::default().initial_backoff(Duration::from_millis(10)))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn basic_authentication_on_the_wire() {
        let (url, seen) = endpoint(vec![(200, ISSUED)]).await;
        let token = http_source(&url, ClientAuthMethod::ClientSecretBasic)
            .token()
            .await
            .unwrap();
        assert_eq!((token.secret(), token.scope()), ("at-1", Some("engage:view")));
        let request = seen.lock().unwrap()[0].to_ascii_lowercase();
        let expected = format!(
            "authorization: basic {}",
            STANDARD.encode(format!("cb_1:{}", wire_secret().expose()))
        )
        .to_ascii_lowercase();
        assert!(request.starts_with("post /oauth2/token "), "{request}");
        assert!(request.contains(&expected), "{request}");
        assert!(request.contains("content-type: application/x-www-form-urlencoded"));
        assert!(
            request.ends_with("\r\n\r\ngrant_type=client_credentials&scope=engage%3aview"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn body_authentication_on_the_wire() {
        let (url, seen) = endpoint(vec![(200, ISSUED)]).await;
        http_source(&url, ClientAuthMethod::ClientSecretPost)
            .token()
            .await
            .unwrap();
        let request = seen.lock().unwrap()[0].clone();
        assert!(!request.to_ascii_lowercase().contains("authorization:"), "{request}");
        assert!(
            request.ends_with(&format!(
                "grant_type=client_credentials&scope=engage%3Aview&client_id=cb_1&client_secret={}",
                wire_secret().expose()
            )),
            "{request}"
        );
    }

    #[tokio::test]
    async fn over_http_a_503_is_retried_and_invalid_client_is_not() {
        let (url, seen) = endpoint(vec![(503, "{}"), (200, ISSUED)]).await;
        assert!(
            http_source(&url, ClientAuthMethod::ClientSecretBasic)
                .token()
                .await
                .is_ok()
        );
        assert_eq!(seen.lock().unwrap().len(), 2);

        let (url, seen) = endpoint(vec![(401, r#"{"error":"invalid_client"}"#), (200, ISSUED)]).await;
        let error = http_source(&url, ClientAuthMethod::ClientSecretBasic)
            .token()
            .await
            .unwrap_err();
        assert_eq!(error.oauth_code(), Some(OAuthErrorCode::InvalidClient));
        assert_eq!(seen.lock().unwrap().len(), 1);
        assert!(!format!("{error:?} {error}").contains(wire_secret().expose()));
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed() {
        let (url, seen) = endpoint(vec![(302, "")]).await;
        let error = http_source(&url, ClientAuthMethod::ClientSecretBasic)
            .token()
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::UnexpectedResponse { status: 302, .. }),
            "{error:?}"
        );
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_silent_endpoint_is_a_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let holder = tokio::spawn(async move {
            let (_socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let source = TokenSource::builder(url, "cb_1", wire_secret())
            .timeout(Duration::from_millis(200))
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        let error = source.token().await.unwrap_err();
        assert!(matches!(error, Error::Timeout(_)), "{error:?}");
        assert!(error.is_transient());
        assert!(std::error::Error::source(&error).is_some());
        holder.abort();
    }

    #[test]
    fn plain_http_is_refused_beyond_loopback() {
        let remote = TokenSource::builder("http://auth.example.org/token", "id", wire_secret());
        assert!(matches!(remote.build(), Err(Error::Config(_))));
        let allowed =
            TokenSource::builder("http://auth.example.org/token", "id", wire_secret()).allow_insecure_http(true);
        assert!(allowed.build().is_ok());
    }

    #[test]
    fn basic_credentials_are_form_encoded_then_base64_and_sensitive() {
        let value = basic_authorization("cb_1", &ClientSecret::from_presented("a b:c/d")).unwrap();
        assert!(value.is_sensitive());
        let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "cb_1:a+b%3Ac%2Fd");
    }

    #[tokio::test(start_paused = true)]
    async fn debug_output_never_shows_a_token_or_secret() {
        let (source, _) = source_with(Duration::ZERO, |n| grant(n, 3600));
        let token = source.token().await.unwrap();
        let shown = format!("{token:?} {source:?}");
        assert!(!shown.contains("token-0"), "{shown}");
        assert!(shown.contains("[redacted]"));
        let builder = TokenSource::builder("https://auth.example.org/token", "id", wire_secret());
        assert!(!format!("{builder:?}").contains(wire_secret().expose()));
    }
}
