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
            .with_batch_exporter(exporter)
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
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_tracked_inactivity(false)
            .with_filter(span_filter())
    }

    /// Flushes queued spans and stops the exporter.
    pub fn shutdown(self) {
        ENABLED.store(false, Ordering::Relaxed);
        if let Err(e) = self.provider.shutdown() {
            eprintln!("casebook: OpenTelemetry: could not flush the last spans: {e}");
        }
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
    fn the_filter_takes_store_spans_at_debug_and_the_rest_of_the_server_at_info() {
        let filter = span_filter();
        assert!(filter.would_enable("casebook_server::store::clients", &Level::DEBUG));
        assert!(filter.would_enable("casebook_server::http::request_log", &Level::INFO));
        assert!(!filter.would_enable("casebook_server::http::request_log", &Level::DEBUG));
        assert!(!filter.would_enable("hyper::proto", &Level::INFO));
        assert!(filter.would_enable("sqlx::query", &Level::WARN));
    }
}
