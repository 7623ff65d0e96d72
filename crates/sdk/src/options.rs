//! The settings [`ClientBuilder`](crate::ClientBuilder) and
//! [`TokenSourceBuilder`](crate::TokenSourceBuilder) share, and their
//! setters, written once: a client passes them on to its token source whole.

use crate::retry::RetryPolicy;
use crate::token::{ClientAuthMethod, DEFAULT_REFRESH_AHEAD};
use crate::transport::HttpSettings;
use std::time::Duration;

/// How tokens are asked for, how failures are retried, how requests travel.
#[derive(Debug, Clone)]
pub(crate) struct SharedOptions {
    pub(crate) auth_method: ClientAuthMethod,
    pub(crate) scope: Option<String>,
    pub(crate) refresh_ahead: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) http: HttpSettings,
}

impl Default for SharedOptions {
    fn default() -> Self {
        Self {
            auth_method: ClientAuthMethod::default(),
            scope: None,
            refresh_ahead: DEFAULT_REFRESH_AHEAD,
            retry: RetryPolicy::default(),
            http: HttpSettings::default(),
        }
    }
}

/// The shared setters, for the `impl` of a builder with an `options:
/// SharedOptions` field. A macro rather than a trait, so that callers need
/// no import and the builders' API stays plain methods.
macro_rules! shared_setters {
    () => {
        /// How the client authenticates at the token endpoint (RFC 6749
        /// §2.3.1); HTTP Basic unless set.
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

        /// The longest one HTTP request may take, from sending to the last byte; 30 s unless set.
        pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.options.http.timeout = timeout;
            self
        }

        /// The longest opening a connection may take; 10 s unless set.
        pub fn connect_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.options.http.connect_timeout = timeout;
            self
        }

        /// The `User-Agent` header; `casebook-sdk/<version>` unless set. Naming
        /// your integration here helps Casebook's operators help you.
        pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
            self.options.http.user_agent = user_agent.into();
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
