//! OpenTelemetry traces over OTLP/HTTP, on when the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
//! is set: a span per request, named by its route template, with a child
//! span per store call. The other standard variables apply as the
//! OpenTelemetry SDK reads them (`OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_BSP_*`); `OTEL_SDK_DISABLED=true`
//! turns it off.
//!
//! Unset, nothing is exported and nothing is paid: the store's spans are at
//! `debug`, which the log filter leaves out, so their call sites are
//! disabled once and skipped thereafter, and the request span records its
//! OpenTelemetry fields only when [`enabled`].

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::Level;
use tracing_subscriber::filter::Targets;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported: callers skip work only a trace would show.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The exporting pipeline; [`Traces::shutdown`] sends what is still queued.
#[derive(Debug)]
pub struct Traces {
    provider: SdkTracerProvider,
}

/// What turns traces on, read from the environment as the OpenTelemetry
/// specification names it.
pub fn requested(env: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| env(name).is_some_and(|v| !v.trim().is_empty());
    let disabled = env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

impl Traces {
    /// Builds the OTLP/HTTP (protobuf) exporter and a batching provider.
    /// Must be called outside the async runtime: the exporter's HTTP client
    /// runs on a thread of its own, so that exporting never takes a worker
    /// from requests.
    pub fn from_env() -> Result<Self, String> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .build()
            .map_err(|e| format!("OpenTelemetry: could not build the OTLP exporter: {e}"))?;
        let mut resource = Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name("casebook");
        }
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(Reported::new(exporter))
            .with_resource(resource.build())
            .build();
        ENABLED.store(true, Ordering::Relaxed);
        Ok(Self { provider })
    }

    /// The tracing layer that turns spans into OpenTelemetry spans, with the
    /// filter that picks them: requests and their store calls.
    pub fn layer<S>(&self) -> impl tracing_subscriber::Layer<S> + use<S>
    where
        S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    {
        use tracing_subscriber::Layer as _;
        let tracer = self.provider.tracer(env!("CARGO_PKG_NAME"));
        use tracing_subscriber::filter::FilterExt as _;
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_tracked_inactivity(false)
            .with_filter(span_filter().and(tracing_subscriber::filter::dynamic_filter_fn(in_a_request)))
    }

    /// Flushes queued spans and stops the exporter.
    pub fn shutdown(self) {
        ENABLED.store(false, Ordering::Relaxed);
        if let Err(e) = self.provider.shutdown() {
            eprintln!("casebook: OpenTelemetry: could not flush the last spans: {e}");
        }
    }
}

/// A store call is traced only inside a request: the housekeeping loop's
/// calls every second (outbox, quota flushes, last-used stamps) would
/// otherwise export a root span each while the service sits idle.
fn in_a_request<S>(meta: &tracing::Metadata<'_>, cx: &tracing_subscriber::layer::Context<'_, S>) -> bool
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    !(meta.is_span() && meta.target().starts_with("casebook_server::store")) || cx.lookup_current().is_some()
}

/// How often an exporter that keeps failing is said to in the log.
const FAILURE_REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The OTLP exporter, with its failures logged: the SDK alone drops a batch
/// it could not send without a word. A collector that stays away is said
/// once a minute, with how many batches were lost since, not once a batch.
#[derive(Debug)]
struct Reported<E> {
    inner: E,
    reported: std::sync::Mutex<Option<std::time::Instant>>,
    lost_batches: std::sync::atomic::AtomicU64,
}

impl<E> Reported<E> {
    fn new(inner: E) -> Self {
        Self {
            inner,
            reported: std::sync::Mutex::new(None),
            lost_batches: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Whether this failure is the one to log now: the first, or the first
    /// a minute after the last one logged.
    fn due(&self, now: std::time::Instant) -> Option<u64> {
        let lost = self.lost_batches.fetch_add(1, Ordering::Relaxed) + 1;
        let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        if reported.is_some_and(|at| now.duration_since(at) < FAILURE_REPORT_EVERY) {
            return None;
        }
        *reported = Some(now);
        self.lost_batches.store(0, Ordering::Relaxed);
        Some(lost)
    }
}

impl<E: opentelemetry_sdk::trace::SpanExporter> opentelemetry_sdk::trace::SpanExporter for Reported<E> {
    fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> impl std::future::Future<Output = opentelemetry_sdk::error::OTelSdkResult> + Send {
        let spans = batch.len();
        async move {
            let result = self.inner.export(batch).await;
            if let Err(e) = &result
                && let Some(lost) = self.due(std::time::Instant::now())
            {
                tracing::warn!(error = %e, spans, lost_batches = lost, "OpenTelemetry: could not export spans to the OTLP collector (said at most once a minute)");
            }
            result
        }
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Requests, and warnings and errors anywhere (as span events), at `info`;
/// the store's spans at `debug`.
fn span_filter() -> Targets {
    Targets::new()
        .with_target("casebook_server::store", Level::DEBUG)
        .with_target("casebook_server", Level::INFO)
        .with_default(Level::WARN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn traces_are_on_only_when_an_endpoint_is_set_and_the_sdk_is_not_disabled() {
        assert!(!requested(env(&[])));
        assert!(!requested(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])));
        assert!(requested(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://127.0.0.1:4318"
        )])));
        assert!(requested(env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://collector/v1/traces"
        )])));
        assert!(!requested(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_SDK_DISABLED", "TRUE"),
        ])));
    }

    #[test]
    fn a_failing_exporter_is_reported_once_a_minute_with_what_was_lost() {
        let reported = Reported::new(());
        let start = std::time::Instant::now();
        assert_eq!(reported.due(start), Some(1), "the first failure is said at once");
        for second in 1..60 {
            assert_eq!(reported.due(start + std::time::Duration::from_secs(second)), None);
        }
        assert_eq!(
            reported.due(start + FAILURE_REPORT_EVERY),
            Some(60),
            "then once a minute, with the count"
        );
    }

    #[test]
    fn the_filter_takes_store_spans_at_debug_and_the_rest_of_the_server_at_info() {
        let filter = span_filter();
        assert!(filter.would_enable("casebook_server::store::clients", &Level::DEBUG));
        assert!(filter.would_enable("casebook_server::http::request_log", &Level::INFO));
        assert!(!filter.would_enable("casebook_server::http::request_log", &Level::DEBUG));
        assert!(!filter.would_enable("hyper::proto", &Level::INFO));
        assert!(filter.would_enable("sqlx::query", &Level::WARN));
    }
}
