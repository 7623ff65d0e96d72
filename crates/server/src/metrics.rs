//! Prometheus metrics: requests by route and status, latencies, tokens issued.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
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

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
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
        Self {
            registry,
            requests,
            latency,
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
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
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
