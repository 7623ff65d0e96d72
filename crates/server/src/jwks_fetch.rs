//! Fetching the JWK Set at a `jwks_uri`, for whoever verifies with outside
//! keys (`private_key_jwt` applications today, federated credentials too).
//!
//! The URL is chosen by whoever registers it, so the fetch is bounded every
//! way the contract names (its "Limits"): a 5 s total timeout, at most 64 KiB read (the body is
//! streamed and the read stops there), no redirects, a set cached up to
//! 5 minutes and fetched again for an unknown `kid` at most once a minute,
//! and concurrent misses for one URL waiting on one fetch. Against
//! server-side request forgery, every address a host name resolves to must
//! be public (a custom resolver drops the rest, so a name that rebinds to an
//! internal address finds nothing to connect to), and so must an address
//! written in the URL, unless the operator allows private addresses.

use crate::config::{ConfigError, JwksFetchConfig};
use crate::metrics::Metrics;
use casebook_domain::client_keys::{ClientKeySet, FetchedSetError, JwksUri, is_public};
use prometheus_client::metrics::counter::Counter;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

#[cfg(test)]
mod tests;

/// The bounds of a fetch and of the cache. [`Limits::default`] is the contract's ("Limits");
/// only tests shorten them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// From the first byte sent to the last byte read.
    pub timeout: Duration,
    pub max_bytes: usize,
    /// How long a fetched set is trusted.
    pub max_age: Duration,
    /// How long after one fetch for an unknown `kid` the next may be made.
    pub refetch_after: Duration,
    /// How long a failed fetch is answered from memory, so that requests
    /// for a client whose key host is down do not each wait for it.
    pub failure_backoff: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            max_bytes: 64 * 1024,
            max_age: Duration::from_secs(5 * 60),
            refetch_after: Duration::from_secs(60),
            failure_backoff: Duration::from_secs(10),
        }
    }
}

/// Why no keys came from a URL. The text names no secret: a `jwks_uri`
/// carries no credentials (the domain refuses user info), and neither does
/// a key set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("{0} is not a public address")]
    PrivateAddress(IpAddr),
    #[error("could not fetch: {0}")]
    Transport(String),
    #[error("no answer within the time allowed")]
    Timeout,
    #[error("answered with status {0} (redirects are not followed)")]
    Status(u16),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the answer is not JSON")]
    NotJson,
    #[error(transparent)]
    Set(#[from] FetchedSetError),
}

/// What is known of one URL.
#[derive(Debug, Default)]
struct Entry {
    keys: Option<(Arc<ClientKeySet>, Instant)>,
    /// When a fetch for an unknown `kid` was last made.
    kid_refetch: Option<Instant>,
    failure: Option<(FetchError, Instant)>,
}

/// What to do for one request, decided from the entry alone.
#[derive(Debug)]
enum Plan {
    Use(Arc<ClientKeySet>),
    Fetch { for_unknown_kid: bool },
    Fail(FetchError),
}

impl Entry {
    fn plan(&self, kid: Option<&str>, now: Instant, limits: &Limits) -> Plan {
        let age = |at: Instant| now.saturating_duration_since(at);
        if let Some((keys, fetched)) = &self.keys
            && age(*fetched) < limits.max_age
        {
            let known = kid.is_none_or(|kid| keys.select(Some(kid)).is_some());
            let may_refetch = self.kid_refetch.is_none_or(|at| age(at) >= limits.refetch_after);
            return if known || !may_refetch {
                // An unknown kid inside the minute is the caller's to refuse.
                Plan::Use(keys.clone())
            } else {
                Plan::Fetch { for_unknown_kid: true }
            };
        }
        match &self.failure {
            Some((error, at)) if age(*at) < limits.failure_backoff => Plan::Fail(error.clone()),
            _ => Plan::Fetch { for_unknown_kid: false },
        }
    }

    /// Keeps what a fetch brought and answers with what is to be used.
    fn record(
        &mut self,
        outcome: Result<ClientKeySet, FetchError>,
        now: Instant,
        limits: &Limits,
    ) -> Result<Arc<ClientKeySet>, FetchError> {
        match outcome {
            Ok(keys) => {
                let keys = Arc::new(keys);
                self.keys = Some((keys.clone(), now));
                self.failure = None;
                Ok(keys)
            }
            Err(error) => {
                self.failure = Some((error.clone(), now));
                match &self.keys {
                    // A failed refetch leaves the set in hand, still fresh, to use.
                    Some((keys, fetched)) if now.saturating_duration_since(*fetched) < limits.max_age => {
                        Ok(keys.clone())
                    }
                    _ => Err(error),
                }
            }
        }
    }
}

/// A memory of many URLs is emptied when full, like the other caches: each
/// application has one URL, so this is reached only by churn.
const MAX_ENTRIES: usize = 10_000;

/// Fetches and caches JWK Sets; one per process, in [`crate::state::AppState`].
pub struct JwksFetcher {
    client: reqwest::Client,
    allow_private: bool,
    limits: Limits,
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Entry>>>>,
    fetches: Counter,
    failures: Counter,
}

impl std::fmt::Debug for JwksFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksFetcher")
            .field("allow_private", &self.allow_private)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl JwksFetcher {
    /// Reads the extra CA bundle, if any, and builds the HTTPS client.
    pub fn new(config: &JwksFetchConfig, limits: Limits, metrics: &Metrics) -> Result<Self, ConfigError> {
        let client = https_client(
            config.allow_private,
            config.extra_ca_file.as_deref(),
            limits.timeout,
            "jwks fetch",
        )?;
        Ok(Self {
            client,
            allow_private: config.allow_private,
            limits,
            entries: Mutex::new(HashMap::new()),
            fetches: metrics.jwks_fetches.clone(),
            failures: metrics.jwks_fetch_failures.clone(),
        })
    }

    /// The keys at `uri`, for an assertion naming `kid` (or none): from the
    /// cache while it is fresh and knows the `kid`, else fetched.
    pub async fn keys(&self, uri: &JwksUri, kid: Option<&str>) -> Result<Arc<ClientKeySet>, FetchError> {
        let slot = self.entry(uri.as_str());
        let mut entry = slot.lock().await;
        let for_unknown_kid = match entry.plan(kid, Instant::now(), &self.limits) {
            Plan::Use(keys) => return Ok(keys),
            Plan::Fail(error) => return Err(error),
            Plan::Fetch { for_unknown_kid } => for_unknown_kid,
        };
        if for_unknown_kid {
            // A set is in hand: requests naming its keys keep using it while
            // this one looks for the new kid, instead of waiting up to the
            // fetch timeout behind it. Marked first, so no one else refetches.
            entry.kid_refetch = Some(Instant::now());
            drop(entry);
            let outcome = self.logged_fetch(uri).await;
            return slot.lock().await.record(outcome, Instant::now(), &self.limits);
        }
        // No set yet: held across the fetch, so concurrent callers for this
        // URL wait here and then find the set the first one fetched.
        let outcome = self.logged_fetch(uri).await;
        entry.record(outcome, Instant::now(), &self.limits)
    }

    async fn logged_fetch(&self, uri: &JwksUri) -> Result<ClientKeySet, FetchError> {
        let outcome = self.fetch(uri).await;
        if let Err(error) = &outcome {
            self.failures.inc();
            tracing::warn!(jwks_uri = %uri, %error, "could not fetch a JWK Set");
        }
        outcome
    }

    fn entry(&self, uri: &str) -> Arc<tokio::sync::Mutex<Entry>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(uri) {
            entries.clear();
        }
        entries.entry(uri.to_owned()).or_default().clone()
    }

    async fn fetch(&self, uri: &JwksUri) -> Result<ClientKeySet, FetchError> {
        if let Some(ip) = uri.ip_literal()
            && !self.allow_private
            && !is_public(ip)
        {
            return Err(FetchError::PrivateAddress(ip));
        }
        self.fetches.inc();
        // The client's own timeout covers this too; this one also bounds
        // the loop below, whatever the client does.
        tokio::time::timeout(self.limits.timeout, self.read(uri))
            .await
            .unwrap_or(Err(FetchError::Timeout))
    }

    async fn read(&self, uri: &JwksUri) -> Result<ClientKeySet, FetchError> {
        let max = self.limits.max_bytes;
        let mut response = self
            .client
            .get(uri.url().clone())
            .header(reqwest::header::ACCEPT, "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(transport)?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(FetchError::TooLarge(max));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > max {
                return Err(FetchError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        let value: serde_json::Value = serde_json::from_slice(&body).map_err(|_| FetchError::NotJson)?;
        let fetched = ClientKeySet::parse_fetched(&value)?;
        for why in &fetched.dropped_weak {
            // The publisher's mistake or an attack on it: either way the
            // operator should know which key is not being trusted.
            tracing::warn!(jwks_uri = %uri, key = %why, "a fetched key set published a degenerate key; it was dropped");
        }
        Ok(fetched.keys)
    }
}

/// The HTTPS client of every request the server sends to a URL someone
/// registered (a `jwks_uri`, a webhook): `https` only, no redirects, no
/// proxy, `timeout` from connect to the last byte, the platform's roots and
/// the PEM bundle at `extra_ca_file` (`CASEBOOK_EXTRA_CA_FILE`), and a
/// resolver that keeps only public addresses unless `allow_private`.
pub fn https_client(
    allow_private: bool,
    extra_ca_file: Option<&std::path::Path>,
    timeout: Duration,
    purpose: &str,
) -> Result<reqwest::Client, ConfigError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would resolve the name itself, past the resolver below.
        .no_proxy()
        .https_only(true)
        .connect_timeout(timeout)
        .timeout(timeout)
        .user_agent(format!("casebook/{} ({purpose})", env!("CARGO_PKG_VERSION")))
        .dns_resolver(PublicOnly { allow_private });
    if let Some(path) = extra_ca_file {
        let failed = |reason: String| ConfigError::ExtraCaFile {
            path: path.to_owned(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| failed(e.to_string()))?;
        if certs.is_empty() {
            return Err(failed("holds no PEM certificate".into()));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| ConfigError::JwksClient(error_chain(&e)))
}

fn transport(error: reqwest::Error) -> FetchError {
    if error.is_timeout() {
        return FetchError::Timeout;
    }
    FetchError::Transport(error_chain(&error.without_url()))
}

/// An error and its causes on one line: reqwest's own text alone says only
/// "error sending request", and the cause (the resolver's refusal, a
/// certificate problem) is what an operator needs.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Resolves with the system resolver and keeps only public addresses.
#[derive(Debug, Clone, Copy)]
struct PublicOnly {
    allow_private: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("{0} resolves to no public address")]
struct NoPublicAddress(String);

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| allow_private || is_public(addr.ip()))
                .collect();
            if kept.is_empty() {
                return Err(Box::new(NoPublicAddress(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}
