//! Prometheus metrics: requests by route and status, latencies, token
//! requests by outcome, cache lookups, the outbox, the database pool.
//!
//! Names follow Prometheus conventions: base units, `_total` on counters.
//! No label ever carries a client ID or anything else a caller chooses:
//! every label value comes from a closed set. Counters on the token path
//! are made once, at start, so that counting a request is one atomic add.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

/// What a token request came to, as its client was told: the error code,
/// or one of the two refusals answered 429 (throttled authentication, spent
/// quota). A request refused for its `allowed_sources` is answered like a
/// wrong secret and counted as `invalid_client` here; it is counted apart in
/// `casebook_source_refusals_total`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum TokenOutcome {
    Issued,
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    InvalidTarget,
    UnsupportedTokenType,
    /// A DPoP proof refused, or missing where the application requires one.
    InvalidDpopProof,
    /// A DPoP proof without the server's nonce: the client signs again.
    UseDpopNonce,
    /// `invalid_client` with `Retry-After`: too many failed authentications.
    RateLimited,
    /// `temporarily_unavailable` with `Retry-After`: `token_quota_per_hour` spent.
    QuotaExceeded,
    /// `temporarily_unavailable` without: the server could not decide (storage).
    Unavailable,
    /// A code the domain gains later, until it is given an outcome here.
    Other,
}

impl TokenOutcome {
    pub const ALL: [Self; 15] = [
        Self::Issued,
        Self::InvalidRequest,
        Self::InvalidClient,
        Self::InvalidGrant,
        Self::UnauthorizedClient,
        Self::UnsupportedGrantType,
        Self::InvalidScope,
        Self::InvalidTarget,
        Self::UnsupportedTokenType,
        Self::InvalidDpopProof,
        Self::UseDpopNonce,
        Self::RateLimited,
        Self::QuotaExceeded,
        Self::Unavailable,
        Self::Other,
    ];

    /// The outcome of a refusal with this code, answered with or without
    /// `Retry-After`.
    pub fn refused(code: casebook_domain::OAuthErrorCode, retry_after: bool) -> Self {
        use casebook_domain::OAuthErrorCode as Code;
        match (code, retry_after) {
            (Code::InvalidClient, true) => Self::RateLimited,
            (Code::TemporarilyUnavailable, true) => Self::QuotaExceeded,
            (Code::TemporarilyUnavailable, false) => Self::Unavailable,
            (Code::InvalidRequest, _) => Self::InvalidRequest,
            (Code::InvalidClient, false) => Self::InvalidClient,
            (Code::InvalidGrant, _) => Self::InvalidGrant,
            (Code::UnauthorizedClient, _) => Self::UnauthorizedClient,
            (Code::UnsupportedGrantType, _) => Self::UnsupportedGrantType,
            (Code::InvalidScope, _) => Self::InvalidScope,
            (Code::InvalidTarget, _) => Self::InvalidTarget,
            (Code::UnsupportedTokenType, _) => Self::UnsupportedTokenType,
            (Code::InvalidDpopProof, _) => Self::InvalidDpopProof,
            (Code::UseDpopNonce, _) => Self::UseDpopNonce,
            // The domain's list of codes is open to additions.
            _ => Self::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::RateLimited => "rate_limited",
            Self::QuotaExceeded => "quota_exceeded",
            Self::Unavailable => "unavailable",
            Self::Other => "other",
        }
    }
}

impl EncodeLabelValue for TokenOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: TokenOutcome,
}

/// The in-memory caches on the hot path.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum CacheName {
    /// Client records by Client ID, and Client IDs storage does not know.
    Client,
    /// Access tokens already verified.
    AccessToken,
}

impl EncodeLabelValue for CacheName {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        let name = match self {
            Self::Client => "client",
            Self::AccessToken => "access_token",
        };
        std::fmt::Write::write_str(encoder, name)
    }
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum LookupResult {
    Hit,
    Miss,
}

impl EncodeLabelValue for LookupResult {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        std::fmt::Write::write_str(
            encoder,
            match self {
                Self::Hit => "hit",
                Self::Miss => "miss",
            },
        )
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: CacheName,
    result: LookupResult,
}

/// One cache's lookups: the reader computes the hit ratio.
#[derive(Clone, Debug, Default)]
pub struct CacheLookups {
    hits: Counter,
    misses: Counter,
}

impl CacheLookups {
    pub fn hit(&self) {
        self.hits.inc();
    }

    pub fn miss(&self) {
        self.misses.inc();
    }
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum PoolState {
    Idle,
    InUse,
}

impl EncodeLabelValue for PoolState {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        std::fmt::Write::write_str(
            encoder,
            match self {
                Self::Idle => "idle",
                Self::InUse => "in_use",
            },
        )
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: PoolState,
}

/// The database pool as it stands, read just before metrics are written.
#[derive(Debug, Clone, Copy)]
pub struct PoolUse {
    pub idle: u64,
    pub in_use: u64,
    pub max: u64,
}

pub struct Metrics {
    registry: Registry,
    /// The standard `process_*` metrics, named without our prefix.
    process: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// One counter per [`TokenOutcome`], in [`TokenOutcome::ALL`]'s order.
    token_requests: [Counter; TokenOutcome::ALL.len()],
    pub client_cache: CacheLookups,
    pub access_token_cache: CacheLookups,
    /// Notices in the outbox not yet delivered, with attempts left.
    outbox_depth: Gauge,
    /// Delivery attempts of notices that failed.
    pub outbox_delivery_failures: Counter,
    pool_idle: Gauge,
    pool_in_use: Gauge,
    pool_max: Gauge,
    pub tokens_issued: Counter,
    pub client_auth_failures: Counter,
    /// Secrets refused by their shape alone, before any lookup: typos and
    /// truncations, told apart from guesses of well-formed secrets.
    pub mistyped_secrets: Counter,
    /// JWK Sets fetched from a `jwks_uri`, and those fetches that failed.
    pub jwks_fetches: Counter,
    pub jwks_fetch_failures: Counter,
    /// Batched statements that wrote secrets' `last_used_at`.
    pub secret_use_writes: Counter,
    /// Presented secrets that matched one past its expiry.
    pub expired_secrets: Counter,
    /// Grants near a quota decided by the database, one statement each;
    /// every other grant is counted in memory.
    pub token_quota_exact_checks: Counter,
    /// Batched writes of the grants counted in memory.
    pub token_quota_flushes: Counter,
    /// Token requests refused for a spent `token_quota_per_hour`.
    pub token_quota_refusals: Counter,
    /// Token requests and tokens refused for coming from outside `allowed_sources`.
    pub source_refusals: Counter,
    pub webhooks: WebhookMetrics,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 1.6 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("casebook");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let tokens_issued = Counter::default();
        let client_auth_failures = Counter::default();
        let mistyped_secrets = Counter::default();
        let jwks_fetches = Counter::default();
        let jwks_fetch_failures = Counter::default();
        let secret_use_writes = Counter::default();
        let expired_secrets = Counter::default();
        let token_quota_exact_checks = Counter::default();
        let token_quota_flushes = Counter::default();
        let token_quota_refusals = Counter::default();
        let source_refusals = Counter::default();
        registry.register("http_requests", "HTTP requests by route and status", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register("access_tokens_issued", "Access tokens issued", tokens_issued.clone());
        let outcomes = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "token_requests",
            "Requests to the token endpoint by outcome: issued, an RFC 6749 error code, rate_limited, quota_exceeded or unavailable",
            outcomes.clone(),
        );
        let token_requests = TokenOutcome::ALL.map(|outcome| outcomes.get_or_create_owned(&OutcomeLabels { outcome }));
        let lookups = Family::<CacheLabels, Counter>::default();
        registry.register(
            "cache_lookups",
            "Lookups in the in-memory caches by cache and result (hit or miss); a miss reads storage",
            lookups.clone(),
        );
        let cache = |cache: CacheName| CacheLookups {
            hits: lookups.get_or_create_owned(&CacheLabels {
                cache,
                result: LookupResult::Hit,
            }),
            misses: lookups.get_or_create_owned(&CacheLabels {
                cache,
                result: LookupResult::Miss,
            }),
        };
        let client_cache = cache(CacheName::Client);
        let access_token_cache = cache(CacheName::AccessToken);
        let outbox_depth = Gauge::default();
        registry.register(
            "outbox_depth",
            "Notices to applications' addresses not yet delivered and still to be tried (the whole install's)",
            outbox_depth.clone(),
        );
        let outbox_delivery_failures = Counter::default();
        registry.register(
            "outbox_delivery_failures",
            "Delivery attempts of notices that failed; each is retried with backoff",
            outbox_delivery_failures.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Open database connections of this process by state (idle or in_use)",
            pool.clone(),
        );
        let pool_idle = pool.get_or_create_owned(&PoolLabels { state: PoolState::Idle });
        let pool_in_use = pool.get_or_create_owned(&PoolLabels {
            state: PoolState::InUse,
        });
        let pool_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "The most database connections this process opens",
            pool_max.clone(),
        );
        registry.register(
            "client_authentication_failures",
            "Failed client authentications at the OAuth endpoints",
            client_auth_failures.clone(),
        );
        registry.register(
            "mistyped_client_secrets",
            "Client secrets refused by their format and checksum alone, without a lookup",
            mistyped_secrets.clone(),
        );
        registry.register("jwks_fetches", "JWK Sets fetched from a jwks_uri", jwks_fetches.clone());
        registry.register(
            "jwks_fetch_failures",
            "Fetches of a jwks_uri that brought no keys",
            jwks_fetch_failures.clone(),
        );
        registry.register(
            "client_secret_use_writes",
            "Batched writes of client secrets' last use",
            secret_use_writes.clone(),
        );
        registry.register(
            "expired_client_secrets",
            "Client secrets refused because they had expired",
            expired_secrets.clone(),
        );
        registry.register(
            "token_quota_exact_checks",
            "Token grants near an application's quota decided by the database",
            token_quota_exact_checks.clone(),
        );
        registry.register(
            "token_quota_flushes",
            "Batched writes of the token grants counted in memory",
            token_quota_flushes.clone(),
        );
        registry.register(
            "token_quota_refusals",
            "Token requests refused for a spent token_quota_per_hour",
            token_quota_refusals.clone(),
        );
        registry.register(
            "source_refusals",
            "Token requests and tokens refused for coming from outside allowed_sources",
            source_refusals.clone(),
        );
        // `casebook_build_info{version,commit} 1`: which build each replica
        // runs, for dashboards that follow a rolling upgrade.
        registry.register(
            "build",
            "The version of this binary and the commit it was built from",
            prometheus_client::metrics::info::Info::new(vec![
                ("version".to_owned(), crate::build_info::VERSION.to_owned()),
                ("commit".to_owned(), crate::build_info::COMMIT.to_owned()),
            ]),
        );
        let webhooks = WebhookMetrics::register(&mut registry);
        let mut process = Registry::default();
        process.register_collector(Box::new(crate::process_metrics::ProcessCollector));
        Self {
            registry,
            process,
            requests,
            latency,
            token_requests,
            client_cache,
            access_token_cache,
            outbox_depth,
            outbox_delivery_failures,
            pool_idle,
            pool_in_use,
            pool_max,
            tokens_issued,
            client_auth_failures,
            mistyped_secrets,
            jwks_fetches,
            jwks_fetch_failures,
            secret_use_writes,
            expired_secrets,
            token_quota_exact_checks,
            token_quota_flushes,
            token_quota_refusals,
            source_refusals,
            webhooks,
        }
    }

    pub fn token_request(&self, outcome: TokenOutcome) {
        // `ALL` is in declaration order (a test holds it there), so the
        // discriminant is the counter's index.
        if let Some(counter) = self.token_requests.get(outcome as usize) {
            counter.inc();
        }
    }

    /// Sets what is read at scrape time rather than counted as it happens.
    pub fn observe(&self, pool: PoolUse, outbox_depth: Option<i64>) {
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.pool_idle.set(gauge(pool.idle));
        self.pool_in_use.set(gauge(pool.in_use));
        self.pool_max.set(gauge(pool.max));
        // Unread (storage did not answer in time): the last value stands.
        if let Some(depth) = outbox_depth {
            self.outbox_depth.set(depth);
        }
    }

    pub fn render(&self) -> String {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode_registry(&mut out, &self.registry);
        let _ = encode_registry(&mut out, &self.process);
        let _ = encode_eof(&mut out);
        out
    }
}

/// Records every request under its route template (never the raw path, which
/// would make a label per id), and leaves the template on the response for
/// the request log, which runs outside the router and cannot see it.
pub async fn track<S: AsRef<Metrics>>(State(state): State<S>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().as_str().to_owned();
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched
        .as_ref()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(matched);
    }
    let status = response.status().as_u16();
    let metrics = state.as_ref();
    metrics
        .latency
        .get_or_create(&RouteLabels { route: route.clone() })
        .observe(start.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels { method, route, status })
        .inc();
    response
}

/// Webhook deliveries: attempts by outcome, and what is still to be sent.
#[derive(Debug, Clone)]
pub struct WebhookMetrics {
    /// Attempts answered with a 2xx.
    pub delivered: Counter,
    /// Attempts that failed and will be tried again.
    pub failed: Counter,
    /// Deliveries given up after a day of retries.
    pub gave_up: Counter,
    /// Deliveries not yet delivered nor given up, of the whole install.
    pub queue_depth: Gauge,
}

impl WebhookMetrics {
    fn register(registry: &mut Registry) -> Self {
        let outcomes = Family::<Vec<(&'static str, &'static str)>, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts by outcome: delivered (a 2xx), failed (tried again later) or gave_up",
            outcomes.clone(),
        );
        let outcome = |name: &'static str| outcomes.get_or_create_owned(&vec![("outcome", name)]);
        let queue_depth = Gauge::default();
        registry.register(
            "webhook_queue_depth",
            "Webhook deliveries not yet delivered nor given up (the whole install's)",
            queue_depth.clone(),
        );
        Self {
            delivered: outcome("delivered"),
            failed: outcome("failed"),
            gave_up: outcome("gave_up"),
            queue_depth,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_counts_under_its_own_name() {
        for (i, outcome) in TokenOutcome::ALL.into_iter().enumerate() {
            assert_eq!(outcome as usize, i, "ALL is in declaration order");
        }
        let metrics = Metrics::new();
        metrics.token_request(TokenOutcome::Issued);
        metrics.token_request(TokenOutcome::Issued);
        metrics.token_request(TokenOutcome::QuotaExceeded);
        let text = metrics.render();
        assert!(
            text.contains("casebook_token_requests_total{outcome=\"issued\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("casebook_token_requests_total{outcome=\"quota_exceeded\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("casebook_token_requests_total{outcome=\"invalid_client\"} 0\n"),
            "{text}"
        );
    }

    #[test]
    fn refusals_are_told_apart_by_retry_after() {
        use casebook_domain::OAuthErrorCode as Code;
        for (code, retry_after, outcome) in [
            (Code::InvalidClient, false, "invalid_client"),
            (Code::InvalidClient, true, "rate_limited"),
            (Code::TemporarilyUnavailable, true, "quota_exceeded"),
            (Code::TemporarilyUnavailable, false, "unavailable"),
            (Code::InvalidScope, false, "invalid_scope"),
            (Code::UnsupportedGrantType, false, "unsupported_grant_type"),
            (Code::InvalidDpopProof, false, "invalid_dpop_proof"),
            (Code::UseDpopNonce, false, "use_dpop_nonce"),
        ] {
            assert_eq!(TokenOutcome::refused(code, retry_after).as_str(), outcome, "{code:?}");
        }
    }

    #[test]
    fn caches_pool_and_outbox_are_written_with_their_labels() {
        let metrics = Metrics::new();
        metrics.client_cache.hit();
        metrics.client_cache.miss();
        metrics.access_token_cache.hit();
        metrics.outbox_delivery_failures.inc();
        metrics.observe(
            PoolUse {
                idle: 3,
                in_use: 1,
                max: 8,
            },
            Some(5),
        );
        metrics.observe(
            PoolUse {
                idle: 2,
                in_use: 2,
                max: 8,
            },
            None,
        );
        let text = metrics.render();
        for line in [
            "casebook_cache_lookups_total{cache=\"client\",result=\"hit\"} 1",
            "casebook_cache_lookups_total{cache=\"client\",result=\"miss\"} 1",
            "casebook_cache_lookups_total{cache=\"access_token\",result=\"hit\"} 1",
            "casebook_cache_lookups_total{cache=\"access_token\",result=\"miss\"} 0",
            "casebook_db_pool_connections{state=\"idle\"} 2",
            "casebook_db_pool_connections{state=\"in_use\"} 2",
            "casebook_db_pool_max_connections 8",
            "casebook_outbox_depth 5",
            "casebook_outbox_delivery_failures_total 1",
            "casebook_access_tokens_issued_total 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in {text}");
        }
    }
}
