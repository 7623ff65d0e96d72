//! OpenTelemetry traces: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, `casebook
//! serve` exports a span per request over OTLP/HTTP, named by method and
//! route template, with the database calls it made as child spans. The
//! receiver here is a small OTLP/HTTP endpoint on loopback that decodes what
//! arrives with the OpenTelemetry protobuf definitions.

use super::served::Served;
use casebook_server::config::Backend;
use casebook_tests::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Spans as they arrive, and what the exporter sent them to.
#[derive(Clone, Default)]
struct Received {
    spans: Arc<Mutex<Vec<Span>>>,
    paths: Arc<Mutex<Vec<String>>>,
}

/// An OTLP/HTTP endpoint: HTTP/1.1 with `Content-Length` bodies (what the
/// exporter sends), each decoded as an `ExportTraceServiceRequest`.
async fn receiver() -> (String, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let received = Received::default();
    let sink = received.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let _ = serve_exports(socket, sink).await;
            });
        }
    });
    (endpoint, received)
}

async fn serve_exports(socket: tokio::net::TcpStream, sink: Received) -> std::io::Result<()> {
    let mut reader = BufReader::new(socket);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        let export = ExportTraceServiceRequest::decode(body.as_slice()).expect("an OTLP trace export");
        let spans = export
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans);
        sink.spans.lock().unwrap().extend(spans);
        sink.paths.lock().unwrap().push(path);
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
            .await?;
    }
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a AnyValue> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn string_attribute<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attribute(span, key) {
        Some(AnyValue::StringValue(s)) => Some(s),
        _ => None,
    }
}

async fn traces(backend: Backend) {
    let Some(binary) = casebook_binary() else {
        return;
    };
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let (endpoint, received) = receiver().await;
    let served = Served::start(
        &binary,
        db,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_SERVICE_NAME", "casebook-under-test"),
            // Export every 100 ms rather than every 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let mut sent = Vec::new();
    let id_of_answer = |r: &reqwest::Response| header(r, reqwest::header::HeaderName::from_static("x-request-id"));

    let r = http
        .post(served.url("/admin/v1/sessions"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    sent.push(("POST /admin/v1/sessions", id_of_answer(&r)));
    let session = expect(r, 201).await["token"].as_str().unwrap().to_owned();
    let r = http
        .post(served.url(APPS))
        .bearer_auth(&session)
        .json(&json!({"name": "Traced Partner", "email": "traced@partner.example.org", "roles": ["engage-worker"]}))
        .send()
        .await
        .unwrap();
    sent.push(("POST /admin/v1/external-applications", id_of_answer(&r)));
    let app = expect(r, 201).await;
    let r = http
        .post(served.url(&format!("{APPS}/{}/client-secret/reveal", id_of(&app))))
        .bearer_auth(&session)
        .json(&json!({"password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    sent.push((
        "POST /admin/v1/external-applications/{id}/client-secret/reveal",
        id_of_answer(&r),
    ));
    let secret = expect(r, 200).await["client_secret"].as_str().unwrap().to_owned();
    let r = http
        .post(served.url("/oauth2/token"))
        .basic_auth(app["client_id"].as_str().unwrap(), Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    sent.push(("POST /oauth2/token", id_of_answer(&r)));
    let token = expect(r, 200).await["access_token"].as_str().unwrap().to_owned();
    let r = http
        .get(served.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    sent.push(("GET /api/v1/me", id_of_answer(&r)));
    assert_eq!(r.status(), 200);

    // Every request's span, found by the request id it carries.
    let deadline = Instant::now() + Duration::from_secs(15);
    let request_spans = loop {
        let spans = received.spans.lock().unwrap().clone();
        let found: Vec<Option<Span>> = sent
            .iter()
            .map(|(_, id)| {
                spans
                    .iter()
                    .find(|s| string_attribute(s, "request_id") == Some(id.as_str()))
                    .cloned()
            })
            .collect();
        if found.iter().all(Option::is_some) {
            break found.into_iter().flatten().collect::<Vec<_>>();
        }
        assert!(
            Instant::now() < deadline,
            "not every request's span arrived within 15 s; {} spans arrived:\n{}\n--- server ---\n{}",
            spans.len(),
            spans.iter().map(|s| s.name.clone()).collect::<Vec<_>>().join("\n"),
            served.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let spans = received.spans.lock().unwrap().clone();
    assert!(
        received.paths.lock().unwrap().iter().all(|p| p == "/v1/traces"),
        "OTLP/HTTP sends traces to /v1/traces under the endpoint"
    );

    for ((name, _), span) in sent.iter().zip(&request_spans) {
        assert_eq!(
            &span.name, name,
            "a request's span is named by method and route template: {:?}",
            span.attributes
        );
        assert_eq!(span.kind, SpanKind::Server as i32, "{name}");
        assert!(span.parent_span_id.is_empty(), "{name}: a request's span is a root");
        assert!(string_attribute(span, "http.route").is_some(), "{name}");
        assert!(
            matches!(
                attribute(span, "http.response.status_code"),
                Some(AnyValue::IntValue(200 | 201))
            ),
            "{name}: {:?}",
            attribute(span, "http.response.status_code")
        );
        let children: Vec<&Span> = spans
            .iter()
            .filter(|s| s.parent_span_id == span.span_id && s.trace_id == span.trace_id)
            .collect();
        assert!(
            children.iter().any(|c| c.name.starts_with("db ")),
            "{name}: the request's database calls are its children; children: {:?}",
            children.iter().map(|c| &c.name).collect::<Vec<_>>()
        );
    }
    // A registration writes: its children say what it stored.
    let registration = &request_spans[1];
    assert!(
        spans
            .iter()
            .any(|s| s.parent_span_id == registration.span_id && s.name == "db create_application"),
        "{:?}",
        spans
            .iter()
            .filter(|s| s.parent_span_id == registration.span_id)
            .map(|s| &s.name)
            .collect::<Vec<_>>()
    );
    // Nothing a span carries is a credential.
    let exported = format!("{spans:?}");
    for credential in [&secret, &token, &session, &ADMIN_PASSWORD.to_owned()] {
        assert!(!exported.contains(credential.as_str()), "a credential reached a span");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_on_sqlite() {
    traces(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_on_postgres() {
    traces(Backend::Postgres).await;
}

/// An idle server exports nothing (its housekeeping's database calls are
/// no trace of anything), a caller's `traceparent` is continued, and a
/// collector that is not there is said in the log, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_work_exports_nothing_and_a_callers_trace_goes_on() {
    let Some(binary) = casebook_binary() else {
        return;
    };
    let Some(db) = TestDatabase::create(Backend::Sqlite).await else {
        return;
    };
    let (endpoint, received) = receiver().await;
    let served = Served::start(
        &binary,
        db,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    // The start's own health checks are requests: let them arrive, then
    // several rounds of housekeeping (one a second) and no request.
    tokio::time::sleep(Duration::from_millis(500)).await;
    received.spans.lock().unwrap().clear();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let idle: Vec<String> = received.spans.lock().unwrap().iter().map(|s| s.name.clone()).collect();
    assert!(idle.is_empty(), "spans from an idle server: {idle:?}");

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let r = reqwest::Client::new()
        .get(served.url("/readyz"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let request_id = header(&r, reqwest::header::HeaderName::from_static("x-request-id"));
    let deadline = Instant::now() + Duration::from_secs(15);
    let span = loop {
        let found = received
            .spans
            .lock()
            .unwrap()
            .iter()
            .find(|s| string_attribute(s, "request_id") == Some(request_id.as_str()))
            .cloned();
        if let Some(span) = found {
            break span;
        }
        assert!(Instant::now() < deadline, "the request's span did not arrive");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!(hex(&span.trace_id), trace_id, "the caller's trace goes on");
    assert_eq!(hex(&span.parent_span_id), "00f067aa0ba902b7", "under the caller's span");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_collector_is_said_in_the_log_once() {
    let Some(binary) = casebook_binary() else {
        return;
    };
    let Some(db) = TestDatabase::create(Backend::Sqlite).await else {
        return;
    };
    // A port nothing listens on.
    let endpoint = format!("http://{}", free_addr());
    let served = Served::start(
        &binary,
        db,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let said = |output: &str| output.matches("could not export spans").count();
    while said(&served.output()) == 0 {
        assert!(
            Instant::now() < deadline,
            "no word of the failed export:\n{}",
            served.output()
        );
        http.get(served.url("/readyz")).send().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // More failed batches within the minute: still one line.
    for _ in 0..10 {
        http.get(served.url("/readyz")).send().await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(said(&served.output()), 1, "{}", served.output());
}
