//! The settings [`ClientBuilder`](crate::ClientBuilder) and
//! [`TokenSourceBuilder`](crate::TokenSourceBuilder) share, and their
//! setters, written once: a client passes them on to its token source whole.

use crate::dpop::DpopKey;
use crate::retry::RetryPolicy;
use crate::transport::HttpSettings;
use std::time::Duration;

/// How long before expiry a token is replaced, unless the token is short-lived
/// (see [`TokenSourceBuilder::refresh_ahead`](crate::TokenSourceBuilder::refresh_ahead)).
pub const DEFAULT_REFRESH_AHEAD: Duration = Duration::from_secs(120);

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

/// How tokens are asked for, how failures are retried, how requests travel.
#[derive(Debug, Clone)]
pub(crate) struct SharedOptions {
    pub(crate) auth_method: ClientAuthMethod,
    pub(crate) scope: Option<String>,
    /// For a private key: the assertion's `alg`, when not the key's default.
    pub(crate) signing_alg: Option<casebook_domain::AssertionAlg>,
    /// For a private key: the assertion's `aud`, when not told from the token URL.
    pub(crate) audience: Option<String>,
    /// The key tokens are bound to (DPoP), when asked for.
    pub(crate) dpop: Option<DpopKey>,
    pub(crate) refresh_ahead: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) http: HttpSettings,
    /// Whether a client secret must have a shape Casebook issues.
    pub(crate) check_secret_format: bool,
}

impl Default for SharedOptions {
    fn default() -> Self {
        Self {
            auth_method: ClientAuthMethod::default(),
            scope: None,
            signing_alg: None,
            audience: None,
            dpop: None,
            refresh_ahead: DEFAULT_REFRESH_AHEAD,
            retry: RetryPolicy::default(),
            http: HttpSettings::default(),
            check_secret_format: true,
        }
    }
}

/// The shared setters, for the `impl` of a builder with an `options:
/// SharedOptions` field. A macro rather than a trait, so that callers need
/// no import and the builders' API stays plain methods.
macro_rules! shared_setters {
    () => {
        /// How a client secret is presented at the token endpoint (RFC 6749
        /// §2.3.1); HTTP Basic unless set. Keys and federated tokens always
        /// go in the form body.
        pub fn auth_method(mut self, method: $crate::ClientAuthMethod) -> Self {
            self.options.auth_method = method;
            self
        }

        /// Asks for tokens narrowed to these space-separated permissions
        /// (RFC 6749 §3.3), e.g. `"engage:view intake:view"`. Without a scope,
        /// or with an empty one, a token carries everything the application's
        /// roles grant.
        pub fn scope(mut self, scope: impl Into<String>) -> Self {
            self.options.scope = Some(scope.into()).filter(|s| !s.trim().is_empty());
            self
        }

        /// Whether a client secret must have the shape of one Casebook issues
        /// (`cbs_…`, whose checksum catches a secret mistyped in copying
        /// before anything is sent, as
        /// [`Error::MistypedSecret`](crate::Error::MistypedSecret)). On
        /// unless set; `false` for another RFC 6749 server's secrets, which
        /// are sent as given. Either way, spaces and line breaks around a
        /// secret are trimmed.
        pub fn check_secret_format(mut self, check: bool) -> Self {
            self.options.check_secret_format = check;
            self
        }

        /// For a private key (`private_key_jwt`): the algorithm assertions are
        /// signed with. Unless set, the key's JWK `alg`, else RS256 for RSA,
        /// ES256 for P-256 and EdDSA for Ed25519; RSA keys may use PS256.
        /// One the key cannot sign with fails
        /// [`build`](Self::build) with [`Error::KeyAlgorithmMismatch`](crate::Error::KeyAlgorithmMismatch).
        pub fn signing_alg(mut self, alg: $crate::AssertionAlg) -> Self {
            self.options.signing_alg = Some(alg);
            self
        }

        /// For a private key (`private_key_jwt`): the `aud` of assertions,
        /// which must be the server's issuer identifier (the `issuer` of its
        /// `/.well-known/oauth-authorization-server` metadata). Unless set,
        /// the token URL less `/oauth2/token`, which is that identifier for
        /// every Casebook install.
        pub fn audience(mut self, issuer: impl Into<String>) -> Self {
            self.options.audience = Some(issuer.into());
            self
        }

        /// Binds every access token to `key` (DPoP, RFC 9449): each token
        /// request carries a proof signed with it and expects `token_type`
        /// `DPoP`, and each call sends `Authorization: DPoP <token>` with a
        /// new proof for its method and URL. A token so bound is refused
        /// without a proof, so one copied elsewhere is useless. A server
        /// that asks for its nonce (`use_dpop_nonce`) is answered by sending
        /// the request once more with it; the latest nonce is kept for the
        /// next proofs. See [`DpopKey`](crate::DpopKey).
        pub fn dpop(mut self, key: $crate::DpopKey) -> Self {
            self.options.dpop = Some(key);
            self
        }

        /// How long before expiry a token is replaced: two minutes unless set,
        /// and never more than a quarter of the token's lifetime.
        pub fn refresh_ahead(mut self, slack: ::std::time::Duration) -> Self {
            self.options.refresh_ahead = slack;
            self
        }

        /// How transient failures are retried: token requests, and for a
        /// [`Client`](crate::Client) its API calls too.
        pub fn retry_policy(mut self, policy: $crate::RetryPolicy) -> Self {
            self.options.retry = policy;
            self
        }

        /// Sends every request through this `reqwest::Client`: your proxies,
        /// middleware-free tracing, TLS roots or connection pool. Timeouts set
        /// here still apply per request; [`connect_timeout`](Self::connect_timeout)
        /// is then yours to set on it. Build it with
        /// `.redirect(reqwest::redirect::Policy::none())`: a token request
        /// must not follow a redirect, and an answer that did is refused.
        pub fn http_client(mut self, client: ::reqwest::Client) -> Self {
            self.options.http.client = Some(client);
            self
        }

        /// The longest one HTTP request may take, from sending to the last byte; 30 s unless set.
        pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.options.http.timeout = timeout;
            self
        }

        /// The longest opening a connection may take; 10 s unless set. Not
        /// applied to a client given with [`http_client`](Self::http_client).
        pub fn connect_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.options.http.connect_timeout = timeout;
            self
        }

        /// The `User-Agent` header; `casebook-sdk/<version>` unless set. Naming
        /// your integration here helps Casebook's operators help you.
        pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
            self.options.http.user_agent = Some(user_agent.into());
            self
        }

        /// Allows a plain `http` URL on a host other than loopback. The client
        /// secret and tokens then cross the network unencrypted, which RFC 6749
        /// §2.3.1 forbids; meant for closed test networks only. Loopback
        /// (`localhost`, `127.0.0.1`, `::1`) is always allowed.
        pub fn allow_insecure_http(mut self, allow: bool) -> Self {
            self.options.http.allow_insecure_http = allow;
            self
        }
    };
}

pub(crate) use shared_setters;
