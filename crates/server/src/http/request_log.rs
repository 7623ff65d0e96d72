//! One log line per request, written when its response is ready: method,
//! route template, status, latency, client address, the principal when the
//! auth layer found one, and a request id that is also returned to the
//! client in `X-Request-Id`.
//!
//! What is never logged: the raw path (it carries ids, and a route template
//! is what operators aggregate on), the query string (where a misbehaving
//! client puts its secret), headers and bodies.

use crate::state::AppState;
use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use casebook_domain::AccountKind;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::task::{Context, Poll};
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a client; longer ones are replaced.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Who made a request, as the auth layer established it: put on the
/// response, where this layer reads it (the request, and the `Principal`
/// in it, went to the handler).
#[derive(Debug, Clone)]
pub struct LoggedPrincipal {
    pub kind: AccountKind,
    pub id: String,
}

/// The whole router, logged. A service around the router rather than one
/// of its layers: `Router::layer` wraps every route, and each request then
/// clones the route's whole stack of layers, which for `from_fn` layers
/// cost more than everything this one does. Around the router, a request
/// costs one clone of the router (an `Arc`) and one boxed future.
///
/// The route template is only known inside the router; `metrics::track`
/// leaves it on the response, as `auth::authorize` leaves the principal.
#[derive(Debug, Clone)]
pub struct RequestLog {
    state: AppState,
    router: Router,
}

impl RequestLog {
    pub fn new(state: AppState, router: Router) -> Self {
        Self { state, router }
    }
}

impl tower::Service<Request> for RequestLog {
    type Response = Response;
    type Error = Infallible;
    type Future = futures_util::future::BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let id = request_id(&request);
        let client = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| {
            self.state
                .config()
                .trusted_proxies
                .client_address(c.0.ip(), request.headers())
        });
        let parent = incoming_trace(request.headers());
        // The slug the path names (a bounded word of `a-z0-9-`, never the
        // path itself): logs name the tenant, metrics do not.
        let tenant = match casebook_domain::tenant::split_tenant_path(request.uri().path()).0 {
            Some(slug) => std::borrow::Cow::Owned(slug.to_owned()),
            None => std::borrow::Cow::Borrowed(casebook_domain::tenant::ROOT),
        };
        let mut line = Line {
            start: Instant::now(),
            tenant,
            method: request.method().clone(),
            client,
            id,
            trace_id: parent.as_ref().map(trace_id_of),
            done: false,
        };
        // Lines the handler writes carry the id too, so that an error can
        // be matched to its request.
        let span = if crate::telemetry::enabled() {
            // The kind only takes at creation; the name and the rest once
            // the router has matched a route (`trace_fields`).
            tracing::info_span!(
                "request",
                request_id = %line.id.to_str().unwrap_or_default(),
                otel.kind = "server",
                http.request.method = %line.method,
                http.route = tracing::field::Empty,
                http.response.status_code = tracing::field::Empty,
            )
        } else {
            tracing::info_span!("request", request_id = %line.id.to_str().unwrap_or_default())
        };
        if let Some(parent) = parent.filter(|_| crate::telemetry::enabled()) {
            use tracing_opentelemetry::OpenTelemetrySpanExt as _;
            // The caller's trace goes on through this request's spans.
            if let Err(e) = span.set_parent(parent) {
                tracing::debug!(error = ?e, "could not continue the caller's trace");
            }
        }
        let context = crate::request_context::RequestContext {
            source: line.client,
            request_id: Some(line.id.clone()),
        };
        let answer = context.scope(tower::ServiceExt::oneshot(self.router.clone(), request).instrument(span.clone()));
        Box::pin(async move {
            let mut response = answer.await?;
            if crate::telemetry::enabled() {
                trace_fields(&span, &line.method, &response);
            }
            drop(span);
            line.finish(&response);
            response.headers_mut().insert(REQUEST_ID, line.id.clone());
            Ok(response)
        })
    }
}

/// What OpenTelemetry's HTTP conventions want on a server span: named by
/// method and route template, never by the raw path. Only when traces are
/// exported: recording fields costs a format and an allocation each.
fn trace_fields(span: &tracing::Span, method: &axum::http::Method, response: &Response) {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let route = response.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    if let Some(route) = route {
        span.record("http.route", route);
    }
    span.record("http.response.status_code", i64::from(response.status().as_u16()));
    // The OpenTelemetry span started when its first child (a database
    // call) did, under the static name; renaming takes on the span itself.
    let name = format!("{method} {}", route.unwrap_or("unmatched"));
    span.context().span().update_name(name);
}

/// A W3C `traceparent` (and `tracestate`) the caller sent, read by
/// OpenTelemetry's own propagator; `None` when there is none or it does
/// not parse, and then the request starts a trace of its own.
fn incoming_trace(headers: &axum::http::HeaderMap) -> Option<opentelemetry::Context> {
    use opentelemetry::propagation::TextMapPropagator as _;
    use opentelemetry::trace::TraceContextExt as _;
    headers.get("traceparent")?;
    let context = opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&Headers(headers));
    context.span().span_context().is_valid().then_some(context)
}

fn trace_id_of(context: &opentelemetry::Context) -> String {
    use opentelemetry::trace::TraceContextExt as _;
    context.span().span_context().trace_id().to_string()
}

/// Request headers as OpenTelemetry's propagators read them.
struct Headers<'a>(&'a axum::http::HeaderMap);

impl opentelemetry::propagation::Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// The client's id when it is one a log can carry safely: bounded, and
/// visible ASCII only (no spaces, no control characters that would forge
/// lines in a text log).
fn sane(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_REQUEST_ID_LEN && bytes.iter().all(|b| b.is_ascii_graphic())
}

fn request_id(request: &Request) -> HeaderValue {
    let mut sent = request.headers().get_all(&REQUEST_ID).iter();
    // Two ids are no id: which one the client meant is a guess.
    match (sent.next(), sent.next()) {
        (Some(value), None) if sane(value) => value.clone(),
        _ => {
            // 128 random bits from the thread's generator: no system call
            // per request, as a UUIDv7 would make.
            let id = u128::from_be_bytes(crate::crypto::random_bytes::<16>());
            HeaderValue::try_from(format!("{id:032x}")).unwrap_or(HeaderValue::from_static("unknown"))
        }
    }
}

/// The line of one request; a request whose future is dropped before it
/// answered (the client went away, the server shut down) is logged as
/// cancelled when the guard goes.
struct Line {
    start: Instant,
    tenant: std::borrow::Cow<'static, str>,
    method: axum::http::Method,
    client: Option<IpAddr>,
    id: HeaderValue,
    /// The trace the caller's `traceparent` names, continued here.
    trace_id: Option<String>,
    done: bool,
}

impl Line {
    fn latency_ms(&self) -> f64 {
        // Microsecond resolution is plenty, and keeps lines short.
        (self.start.elapsed().as_micros() as f64) / 1000.0
    }

    fn finish(&mut self, response: &Response) {
        self.done = true;
        let route = response.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
        let principal = response.extensions().get::<LoggedPrincipal>();
        // Text fields as `Display`: none of them can hold a quote, a space
        // or a control character (the id is checked, the rest are ours), so
        // the text format's escaping, most of the cost of a line, is not
        // needed. JSON escapes them regardless.
        tracing::info!(
            tenant = %self.tenant,
            method = %self.method,
            route = %route.unwrap_or("unmatched"),
            status = response.status().as_u16(),
            latency_ms = self.latency_ms(),
            client = self.client.map(tracing::field::display),
            principal_kind = principal.map(|p| tracing::field::display(p.kind.as_str())),
            principal_id = principal.map(|p| tracing::field::display(&p.id)),
            request_id = %self.id.to_str().unwrap_or_default(),
            trace_id = self.trace_id.as_deref(),
            "request"
        );
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if !self.done {
            tracing::info!(
                tenant = %self.tenant,
                method = %self.method,
                latency_ms = self.latency_ms(),
                client = self.client.map(tracing::field::display),
                request_id = %self.id.to_str().unwrap_or_default(),
                outcome = "cancelled",
                "request"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: &[u8], kept: bool) {
        let value = HeaderValue::from_bytes(value).unwrap();
        assert_eq!(sane(&value), kept, "{value:?}");
    }

    #[test]
    fn only_bounded_visible_ascii_ids_are_kept() {
        check(b"abc-123", true);
        check(b"0190a0c2-7d2e-7c3a-9d1e-2f7b8e3c4d5a", true);
        check("x".repeat(MAX_REQUEST_ID_LEN).as_bytes(), true);
        check("x".repeat(MAX_REQUEST_ID_LEN + 1).as_bytes(), false);
        check(b"", false);
        check(b"two words", false);
        check(b"tab\there", false);
        check(b"caf\xc3\xa9", false);
    }

    #[test]
    fn a_valid_traceparent_names_the_trace_and_a_broken_one_nothing() {
        let headers = |value: &str| {
            let mut map = axum::http::HeaderMap::new();
            map.insert("traceparent", HeaderValue::from_str(value).unwrap());
            map
        };
        let good = headers("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let context = incoming_trace(&good).expect("a trace");
        assert_eq!(trace_id_of(&context), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(incoming_trace(&headers("00-00000000000000000000000000000000-00f067aa0ba902b7-01")).is_none());
        assert!(incoming_trace(&headers("not a traceparent")).is_none());
        assert!(incoming_trace(&axum::http::HeaderMap::new()).is_none());
    }
}
