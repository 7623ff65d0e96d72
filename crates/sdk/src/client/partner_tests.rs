//! What a partner meets on the wire: one `Idempotency-Key` per POST, kept
//! through its retries; the server's request id on every error; spans
//! that name the call and never its secrets; secrets trimmed, checked only
//! when asked, and read again from their file after a rotation.

use super::*;
use crate::test_util::{TokenServer, fake_client_secret};
use crate::{RetryPolicy, TokenSource};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// What a scripted server does with one request.
enum Step {
    /// Answers with a status, extra headers and a JSON body.
    Answer(u16, Vec<(&'static str, &'static str)>, &'static str),
    /// Reads the request and says nothing for this long: the client times out.
    Hang(Duration),
}

const TOKEN: &str = r#"{"access_token":"at-hush","token_type":"Bearer","expires_in":3600}"#;

fn token() -> Step {
    Step::Answer(200, vec![], TOKEN)
}

/// A server on a loopback socket taking `steps` in order, one connection
/// each, that records every request it read (head and body, as text).
async fn scripted(steps: Vec<Step>) -> (String, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        for step in steps {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut chunk = [0u8; 8192];
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
            match step {
                Step::Hang(long) => {
                    tokio::spawn(async move {
                        tokio::time::sleep(long).await;
                        drop(socket);
                    });
                }
                Step::Answer(status, headers, body) => {
                    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
                    let response = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\
                         Connection: close\r\n\r\n{body}",
                        body.len()
                    );
                    socket.write_all(response.as_bytes()).await.unwrap();
                    socket.shutdown().await.unwrap();
                }
            }
        }
    });
    (base, seen)
}

/// A request's header, by its name in any case.
fn header_of(request: &str, name: &str) -> Option<String> {
    let head = request.split("\r\n\r\n").next().unwrap();
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

fn request_line(request: &str) -> &str {
    request.lines().next().unwrap()
}

/// A partner's client at `base` whose requests give up after 300 ms and
/// are retried quickly.
fn partner(base: &str) -> Client {
    Client::builder(base)
        .client_credentials("cb_1", fake_client_secret())
        .timeout(Duration::from_millis(300))
        .retry_policy(RetryPolicy::default().initial_backoff(Duration::from_millis(10)))
        .build()
        .unwrap()
}

async fn open_case(client: &Client) -> Result<Response<serde_json::Value>, Error> {
    client
        .call::<serde_json::Value>(
            Method::POST,
            &["api", "v1", "engage", "cases"],
            Some(&serde_json::json!({"title": "Family of four"})),
        )
        .await
}

#[tokio::test]
async fn a_post_keeps_one_idempotency_key_through_its_retries_and_is_retried_after_a_timeout() {
    let (base, seen) = scripted(vec![
        token(),
        Step::Hang(Duration::from_secs(5)),
        Step::Answer(201, vec![], r#"{"id":"c1"}"#),
        Step::Answer(201, vec![], r#"{"id":"c2"}"#),
        Step::Answer(200, vec![], r#"{"items":[],"next_cursor":null}"#),
    ])
    .await;
    let client = partner(&base);
    let first = open_case(&client)
        .await
        .expect("retried after the timeout, with the same key");
    assert_eq!(first.body["id"], "c1");
    let second = open_case(&client).await.unwrap();
    assert_eq!(second.body["id"], "c2");
    client
        .call::<serde_json::Value>(Method::GET, &["api", "v1", "engage", "cases"], None::<&()>)
        .await
        .unwrap();

    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 5);
    let key = |i: usize| header_of(&requests[i], "idempotency-key");
    let id = |i: usize| header_of(&requests[i], "x-request-id");
    assert!(request_line(&requests[1]).starts_with("POST /api/v1/engage/cases "));
    let first_key = key(1).expect("a POST carries an Idempotency-Key");
    assert!((1..=255).contains(&first_key.len()) && first_key.bytes().all(|b| b.is_ascii_graphic()));
    assert_eq!(
        key(2).as_deref(),
        Some(first_key.as_str()),
        "the retry carries the same key"
    );
    assert_ne!(id(1), id(2), "each attempt is its own request");
    let second_key = key(3).expect("the next call's key");
    assert_ne!(second_key, first_key, "a new call, a new key");
    assert_eq!(key(4), None, "a GET carries none");
    // The token request is RFC 6749's, not the API's: no key.
    assert_eq!(key(0), None);
}

#[tokio::test]
async fn a_409_while_the_first_attempt_runs_is_waited_out_and_the_replay_is_the_answer() {
    let (base, seen) = scripted(vec![
        token(),
        Step::Hang(Duration::from_secs(5)),
        Step::Answer(
            409,
            vec![("Retry-After", "0")],
            r#"{"type":"about:blank","title":"Conflict","status":409,"detail":"a request with this Idempotency-Key is still running"}"#,
        ),
        Step::Answer(201, vec![("Idempotent-Replayed", "true")], r#"{"id":"c1"}"#),
    ])
    .await;
    let answer = open_case(&partner(&base)).await.expect("the first attempt's answer");
    assert_eq!(answer.body["id"], "c1");
    assert!(answer.replayed());
    let requests = seen.lock().unwrap().clone();
    let keys: Vec<_> = requests[1..].iter().map(|r| header_of(r, "idempotency-key")).collect();
    assert_eq!(keys.len(), 3);
    assert!(keys[0].is_some() && keys.iter().all(|k| *k == keys[0]), "{keys:?}");
}

#[tokio::test]
async fn a_409_to_the_first_attempt_is_the_answer() {
    let (base, seen) = scripted(vec![
        token(),
        Step::Answer(
            409,
            vec![("X-Request-Id", "req-conflict")],
            r#"{"type":"about:blank","title":"Conflict","status":409,"detail":"a role of that name exists"}"#,
        ),
    ])
    .await;
    let error = open_case(&partner(&base)).await.unwrap_err();
    assert_eq!(error.status(), Some(409));
    assert_eq!(error.request_id(), Some("req-conflict"));
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_post_the_server_keeps_no_key_for_is_not_repeated_after_a_timeout() {
    // Outside /api/v1 and /admin/v1, and anonymous calls: a key there
    // promises nothing, so the old rule holds. The key is sent all the same.
    let (base, seen) = scripted(vec![token(), Step::Hang(Duration::from_secs(5))]).await;
    let error = partner(&base)
        .call::<serde_json::Value>(Method::POST, &["oauth2", "revoke"], Some(&serde_json::json!({})))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "not sent again");
    assert!(header_of(&requests[1], "idempotency-key").is_some());

    let (base, seen) = scripted(vec![Step::Hang(Duration::from_secs(5))]).await;
    let anonymous = Client::builder(&base)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = anonymous
        .call::<serde_json::Value>(
            Method::POST,
            &["admin", "v1", "password-resets"],
            Some(&serde_json::json!({})),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
    assert_eq!(seen.lock().unwrap().len(), 1, "not sent again");
}

#[tokio::test]
async fn a_key_of_the_callers_own_is_sent_instead_and_kept_through_retries() {
    let (base, seen) = scripted(vec![
        token(),
        Step::Hang(Duration::from_secs(5)),
        Step::Answer(201, vec![], r#"{"id":"c1"}"#),
    ])
    .await;
    let client = partner(&base).with_options(
        crate::RequestOptions::new()
            .header("Idempotency-Key", "order-7781")
            .unwrap(),
    );
    open_case(&client).await.unwrap();
    let requests = seen.lock().unwrap().clone();
    for request in &requests[1..] {
        let head = request.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
        assert_eq!(head.matches("idempotency-key:").count(), 1, "{head}");
        assert_eq!(header_of(request, "idempotency-key").as_deref(), Some("order-7781"));
    }
}

#[tokio::test]
async fn every_error_names_its_request() {
    let (base, _) = scripted(vec![
        token(),
        Step::Answer(
            404,
            vec![("X-Request-Id", "req-404")],
            r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"no such case"}"#,
        ),
        Step::Answer(200, vec![("X-Request-Id", "req-garbled")], "<html>"),
        Step::Hang(Duration::from_secs(5)),
    ])
    .await;
    let client = partner(&base).with_options(crate::RequestOptions::new().retry_policy(RetryPolicy::none()));
    let missing = client
        .call::<serde_json::Value>(Method::GET, &["api", "v1", "engage", "cases", "c9"], None::<&()>)
        .await
        .unwrap_err();
    assert_eq!(missing.request_id(), Some("req-404"));
    assert_eq!(
        missing.to_string(),
        "HTTP 404 Not Found: no such case (request id req-404)"
    );
    let garbled = client.me().await.unwrap_err();
    assert!(matches!(garbled, Error::UnexpectedResponse { .. }), "{garbled:?}");
    assert_eq!(garbled.request_id(), Some("req-garbled"));
    // No answer: the id the request went with, which the server logs.
    let timed_out = client.me().await.unwrap_err();
    assert!(matches!(timed_out, Error::Timeout(_)), "{timed_out:?}");
    let sent = timed_out.request_id().expect("the id sent").to_owned();
    assert_eq!(sent.len(), 32);
    assert!(timed_out.to_string().ends_with(&format!("(request id {sent})")));

    // The token endpoint's refusals too.
    let (base, _) = scripted(vec![Step::Answer(
        401,
        vec![("X-Request-Id", "req-token")],
        r#"{"error":"invalid_client","error_description":"client authentication failed"}"#,
    )])
    .await;
    let refused = partner(&base).me().await.unwrap_err();
    assert_eq!(
        refused.oauth_code(),
        Some(casebook_domain::OAuthErrorCode::InvalidClient)
    );
    assert_eq!(refused.request_id(), Some("req-token"));
    assert!(refused.to_string().ends_with("(request id req-token)"), "{refused}");
    // Found offline: nothing was sent, nothing to name.
    assert_eq!(Error::MistypedSecret.request_id(), None);
}

/// Every span and event the SDK emitted, with its fields as text.
#[derive(Clone, Default)]
struct Recorded(Arc<Mutex<Recording>>);

#[derive(Default)]
struct Recording {
    spans: BTreeMap<u64, (String, BTreeMap<String, String>)>,
    events: Vec<BTreeMap<String, String>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Recorded {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut recording = self.0.lock().unwrap();
        recording
            .spans
            .insert(id.into_u64(), (attrs.metadata().name().to_owned(), fields));
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some((_, fields)) = self.0.lock().unwrap().spans.get_mut(&id.into_u64()) {
            values.record(&mut Fields(fields));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().events.push(fields);
    }
}

#[tokio::test]
async fn each_call_is_a_span_naming_its_route_status_and_request_id_and_never_a_secret() {
    use tracing_subscriber::layer::SubscriberExt;
    let recorded = Recorded::default();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorded.clone()));
    let (base, _) = scripted(vec![
        Step::Answer(200, vec![("X-Request-Id", "req-token-1")], TOKEN),
        Step::Answer(
            404,
            vec![("X-Request-Id", "req-404")],
            r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"no such case"}"#,
        ),
        Step::Answer(503, vec![("X-Request-Id", "req-busy")], ""),
        Step::Answer(
            200,
            vec![("X-Request-Id", "req-me")],
            r#"{"id":"a1","kind":"application","name":"Sync","permissions":[]}"#,
        ),
    ])
    .await;
    let secret = fake_client_secret();
    let client = Client::builder(&base)
        .client_credentials("cb_1", secret.clone())
        .retry_policy(RetryPolicy::default().initial_backoff(Duration::from_millis(10)))
        .build()
        .unwrap();
    let case = crate::CaseId::new("0190f0e0-0000-7000-8000-00000000abcd");
    client.cases().get(&case).await.unwrap_err();
    client.me().await.unwrap();

    let recording = recorded.0.lock().unwrap();
    let spans: Vec<_> = recording.spans.values().collect();
    let named = |name: &str| {
        spans
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, f)| f)
            .collect::<Vec<_>>()
    };
    let token = named("casebook.token");
    assert_eq!(token.len(), 1, "{spans:?}");
    assert_eq!(token[0]["client_id"], "cb_1");
    assert_eq!(token[0]["status"], "200");
    assert_eq!(token[0]["request_id"], "req-token-1");
    let calls = named("casebook.request");
    assert_eq!(calls.len(), 2, "{spans:?}");
    assert_eq!(calls[0]["method"], "GET");
    assert_eq!(
        calls[0]["path"], "/api/v1/engage/cases/{id}",
        "the template, not the id"
    );
    assert_eq!(calls[0]["status"], "404");
    assert_eq!(calls[0]["request_id"], "req-404");
    assert_eq!(calls[1]["path"], "/api/v1/me");
    assert_eq!(calls[1]["status"], "200");
    assert_eq!(calls[1]["request_id"], "req-me");
    assert_eq!(calls[1]["retries"], "1");
    let everything = format!("{spans:?} {:?}", recording.events);
    assert!(!everything.contains(secret.expose()), "{everything}");
    assert!(!everything.contains("at-hush"), "no token: {everything}");
    assert!(!everything.contains(case.as_str()), "no id: {everything}");
}

#[tokio::test]
async fn a_secret_read_with_a_newline_or_spaces_is_trimmed_not_mistyped() {
    let server = TokenServer::start().await.unwrap();
    for padded in [
        format!("{}\n", server.client_secret().expose()),
        format!("  {}\r\n", server.client_secret().expose()),
        format!("{}\t", server.client_secret().expose()),
    ] {
        let client = Client::builder(server.base_url())
            .client_credentials(server.client_id(), ClientSecret::from_presented(padded))
            .build()
            .expect("trimmed, not MistypedSecret");
        client
            .token_source()
            .unwrap()
            .token()
            .await
            .expect("the trimmed secret is accepted");
    }
    assert_eq!(server.tokens_issued(), 3);
    // A real typo is still caught before anything is sent.
    let mut typo = server.client_secret().expose().to_owned();
    typo.replace_range(10..11, if &typo[10..11] == "x" { "y" } else { "x" });
    let built = Client::builder(server.base_url())
        .client_credentials(server.client_id(), ClientSecret::from_presented(format!("{typo}\n")))
        .build();
    assert!(matches!(built, Err(Error::MistypedSecret)), "{built:?}");
}

#[tokio::test]
async fn another_servers_secret_is_sent_as_given_once_the_format_check_is_off() {
    let (base, seen) = scripted(vec![token()]).await;
    let other = || ClientSecret::from_presented("s3cr3t-from-another-idp\n");
    let checked = TokenSource::builder(format!("{base}/oauth2/token"), "my-client", other()).build();
    assert!(matches!(checked, Err(Error::MistypedSecret)), "{checked:?}");
    let tokens = TokenSource::builder(format!("{base}/token"), "my-client", other())
        .check_secret_format(false)
        .build()
        .unwrap();
    assert_eq!(tokens.token().await.unwrap().secret(), "at-hush");
    let sent = header_of(&seen.lock().unwrap()[0], "authorization").unwrap();
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(sent.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(decoded, b"my-client:s3cr3t-from-another-idp");
    // An empty one is still refused, checked or not.
    let empty = TokenSource::builder(
        format!("{base}/token"),
        "my-client",
        ClientSecret::from_presented(" \n"),
    )
    .check_secret_format(false)
    .build();
    assert!(matches!(empty, Err(Error::Config(_))), "{empty:?}");
}

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("casebook-sdk-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn a_secret_rotated_in_its_file_is_read_again_after_invalid_client() {
    let dir = TempDir::new("secret-file");
    let path = dir.0.join("client-secret");
    let server = TokenServer::start().await.unwrap();
    // As a Kubernetes Secret is mounted: the value and a newline.
    std::fs::write(&path, format!("{}\n", server.client_secret().expose())).unwrap();
    let client = Client::builder(server.base_url())
        .client_secret_file(server.client_id(), &path)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let tokens = client.token_source().unwrap();
    let first = tokens.token().await.unwrap();
    assert!(format!("{tokens:?}").contains("client-secret"));

    // Rotated without grace, and the mounted file updated.
    let rotated = server.rotate_secret();
    std::fs::write(&path, format!("{}\n", rotated.expose())).unwrap();
    tokens.invalidate(&first);
    tokens.token().await.expect("the new secret, read from the file");
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [200, 401, 200],
        "the kept secret refused once, then the file's"
    );

    // Refused, and the file holds the same: read once, asked once more never.
    server.rotate_secret();
    tokens.invalidate(&tokens.token().await.unwrap());
    let error = tokens.token().await.unwrap_err();
    assert_eq!(error.oauth_code(), Some(casebook_domain::OAuthErrorCode::InvalidClient));
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn an_unusable_secret_file_is_its_own_error_and_nothing_is_sent() {
    let dir = TempDir::new("secret-file-unusable");
    let server = TokenServer::start().await.unwrap();
    for (name, contents, says) in [("missing", None, "cannot be opened"), ("empty", Some("\n"), "empty")] {
        let path = dir.0.join(name);
        if let Some(contents) = contents {
            std::fs::write(&path, contents).unwrap();
        }
        let error = TokenSource::with_client_secret_file(server.token_url(), server.client_id(), &path)
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap()
            .token()
            .await
            .unwrap_err();
        let Error::SecretFile { message, .. } = &error else {
            panic!("{error:?}")
        };
        assert!(message.contains(says), "{message}");
        assert!(error.is_transient());
    }
    let typo = dir.0.join("typo");
    std::fs::write(&typo, "cbs_not-a-secret\n").unwrap();
    let error = TokenSource::with_client_secret_file(server.token_url(), server.client_id(), &typo)
        .build()
        .unwrap()
        .token()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::MistypedSecret), "{error:?}");
    assert!(server.requests().is_empty());
}

#[test]
fn path_templates_keep_words_and_hide_ids() {
    for (segments, template) in [
        (&["api", "v1", "me"][..], "/api/v1/me"),
        (
            &[
                "admin",
                "v1",
                "external-applications",
                "0190f0e0-aaaa-7bbb-8ccc-ddddeeeeffff",
                "secrets",
            ][..],
            "/admin/v1/external-applications/{id}/secrets",
        ),
        (
            &["api", "v1", "engage", "cases", "../../admin"][..],
            "/api/v1/engage/cases/{id}",
        ),
        (&["admin", "v1", "users", "me", "totp"][..], "/admin/v1/users/me/totp"),
    ] {
        assert_eq!(path_template(segments), template);
    }
}

/// The README is what a partner reads first: its install lines must work
/// before the crate is on crates.io, and its quickstart must print what an
/// error says rather than its `Debug` (`Error: MistypedSecret`).
#[test]
fn the_readmes_install_without_a_registry_and_the_quickstart_prints_errors_for_people() {
    let sdk = include_str!("../../README.md");
    let root = include_str!("../../../../README.md");
    let section = |text: &'static str, heading: &str| -> &'static str {
        let start = text.find(heading).unwrap_or_else(|| panic!("{heading}"));
        let rest = &text[start + heading.len()..];
        &rest[..rest.find("\n## ").unwrap_or(rest.len())]
    };
    for install in [section(sdk, "## Install"), section(root, "## The Rust SDK")] {
        assert!(install.contains("cargo add casebook-sdk --git "), "{install}");
        assert!(
            install.contains("cargo add casebook-sdk --path ../casebook/crates/sdk"),
            "{install}"
        );
        assert!(install.contains("casebook-sdk = { git = "), "{install}");
        assert!(
            install.contains("casebook-sdk = { path = \"../casebook/crates/sdk\" }"),
            "{install}"
        );
    }
    let quickstart = section(sdk, "## Quickstart");
    assert!(
        !quickstart.contains("cargo add casebook-sdk\n"),
        "a registry line alone fails today"
    );
    let program = &quickstart[quickstart.find("```rust").unwrap()..];
    assert!(program.contains("async fn main() -> ExitCode"), "{program}");
    assert!(program.contains("eprintln!(\"partner-sync: {error}\")"), "{program}");
    assert!(!program.contains("fn main() -> Result"), "{program}");
    for promised in ["## Compatibility", "Semantic Versioning", "Breaking", "CHANGELOG.md"] {
        assert!(sdk.contains(promised), "{promised}");
    }
    assert!(include_str!("../../CHANGELOG.md").contains("Idempotency-Key"));
}
