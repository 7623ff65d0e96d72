//! The token cache against a scripted endpoint in virtual time, and the
//! token request on the wire against a loopback socket.

use super::*;
use crate::options::{ClientAuthMethod, DEFAULT_REFRESH_AHEAD};
use casebook_domain::OAuthErrorCode;

#[test]
fn absurd_lifetimes_are_clamped_not_panicked_on() {
    for raw in ["1e300", "9223372036854775807", "\"18446744073709551615\"", "-5", "3600"] {
        let body = format!(r#"{{"access_token":"t","token_type":"Bearer","expires_in":{raw}}}"#);
        let lifetime = read_token_response(200, None, body.as_bytes(), false)
            .unwrap()
            .expires_in
            .unwrap();
        assert!(lifetime <= MAX_LIFETIME, "{raw}");
        let _ = Instant::now() + lifetime;
    }
}
use futures_util::FutureExt;
use std::sync::atomic::AtomicUsize;

type Script = Box<dyn Fn(usize) -> Result<TokenGrant, Error> + Send + Sync>;

/// A token endpoint as a function of the call number, taking `latency` of
/// (virtual) time to answer, counting its calls.
struct Fake {
    calls: Arc<AtomicUsize>,
    latency: Duration,
    script: Script,
}

impl Fetch for Fake {
    fn fetch(&self) -> BoxFuture<'_, Result<TokenGrant, Error>> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.latency).await;
            (self.script)(n)
        })
    }
}

fn grant(n: usize, lifetime_secs: u64) -> Result<TokenGrant, Error> {
    Ok(TokenGrant {
        access_token: format!("token-{n}"),
        expires_in: Some(Duration::from_secs(lifetime_secs)),
        scope: Some("engage:view".into()),
    })
}

fn oauth(code: OAuthErrorCode) -> Error {
    Error::OAuth {
        code,
        description: Some("client authentication failed".into()),
        status: code.http_status(),
        retry_after: None,
        request_id: None,
    }
}

/// What Casebook's token endpoint answers when it cannot reach its
/// database: the server's own word that it did nothing.
fn unavailable(retry_after: Option<Duration>) -> Error {
    Error::OAuth {
        code: OAuthErrorCode::TemporarilyUnavailable,
        description: Some("the database could not be reached".into()),
        status: 503,
        retry_after,
        request_id: None,
    }
}

fn source_with(
    latency: Duration,
    script: impl Fn(usize) -> Result<TokenGrant, Error> + Send + Sync + 'static,
) -> (TokenSource, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let fake = Fake {
        calls: calls.clone(),
        latency,
        script: Box::new(script),
    };
    let describe = Describe {
        token_url: "https://auth.example.org/oauth2/token".into(),
        client_id: "cb_test".into(),
        auth: "client_secret_basic".into(),
        scope: None,
    };
    let source = TokenSource::from_fetcher(
        Box::new(fake),
        describe,
        None,
        RetryPolicy::default(),
        DEFAULT_REFRESH_AHEAD,
    );
    (source, calls)
}

async fn ask_concurrently(source: &TokenSource, n: usize) -> Vec<Result<AccessToken, Error>> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let source = source.clone();
            tokio::spawn(async move { source.token().await })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    results
}

#[tokio::test(start_paused = true)]
async fn a_thousand_callers_on_a_cold_cache_cause_one_token_request() {
    let (source, calls) = source_with(Duration::from_millis(50), |n| grant(n, 3600));
    let results = ask_concurrently(&source, 1000).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(results.iter().all(|r| r.as_ref().unwrap().secret() == "token-0"));
}

#[tokio::test(start_paused = true)]
async fn a_thousand_callers_on_an_expired_cache_cause_one_token_request() {
    let (source, calls) = source_with(Duration::from_millis(50), |n| grant(n, 60));
    assert_eq!(source.token().await.unwrap().secret(), "token-0");
    tokio::time::advance(Duration::from_secs(61)).await;
    let results = ask_concurrently(&source, 1000).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(results.iter().all(|r| r.as_ref().unwrap().secret() == "token-1"));
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_share_one_failure() {
    let (source, calls) = source_with(Duration::from_millis(50), |_| Err(oauth(OAuthErrorCode::InvalidClient)));
    let results = ask_concurrently(&source, 1000).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().unwrap_err().oauth_code() == Some(OAuthErrorCode::InvalidClient))
    );
    // A caller soon after is handed the same answer without a request…
    tokio::time::advance(Duration::from_millis(4_900)).await;
    assert!(source.token().await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // …and a later one asks again.
    tokio::time::advance(Duration::from_millis(100)).await;
    assert!(source.token().await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// Lets a background refresh run to its end in virtual time.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_long_lived_token_is_refreshed_two_minutes_ahead() {
    let (source, calls) = source_with(Duration::ZERO, |n| grant(n, 3600));
    assert_eq!(source.token().await.unwrap().secret(), "token-0");
    tokio::time::advance(Duration::from_secs(3600 - 121)).await;
    assert_eq!(source.token().await.unwrap().secret(), "token-0");
    settle().await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    // The caller that notices gets the current token; the new one follows.
    assert_eq!(source.token().await.unwrap().secret(), "token-0");
    settle().await;
    assert_eq!(source.token().await.unwrap().secret(), "token-1");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // The new token is good for another hour less the slack.
    tokio::time::advance(Duration::from_secs(3600 - 122)).await;
    assert_eq!(source.token().await.unwrap().secret(), "token-1");
    settle().await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_short_lived_token_is_refreshed_a_quarter_of_its_life_ahead() {
    let (source, calls) = source_with(Duration::ZERO, |n| grant(n, 8));
    assert_eq!(source.token().await.unwrap().secret(), "token-0");
    tokio::time::advance(Duration::from_millis(5_900)).await;
    assert_eq!(source.token().await.unwrap().secret(), "token-0");
    settle().await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    tokio::time::advance(Duration::from_millis(200)).await;
    source.token().await.unwrap();
    settle().await;
    assert_eq!(source.token().await.unwrap().secret(), "token-1");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn during_a_background_refresh_no_caller_waits() {
    let (source, calls) = source_with(Duration::from_secs(1), |n| grant(n, 3600));
    source.token().await.unwrap();
    tokio::time::advance(Duration::from_secs(3600 - 60)).await;
    // Every caller while the (one second) refresh runs is answered at once
    // with the current token, the one that started the refresh included.
    for _ in 0..1000 {
        let token = source.token().now_or_never().expect("does not wait").unwrap();
        assert_eq!(token.secret(), "token-0");
    }
    tokio::task::yield_now().await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    tokio::time::advance(Duration::from_millis(500)).await;
    let halfway = source.token().now_or_never().expect("does not wait").unwrap();
    assert_eq!(halfway.secret(), "token-0");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(source.token().now_or_never().unwrap().unwrap().secret(), "token-1");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_background_refresh_retries_what_the_server_did_not_act_on() {
    let (source, calls) = source_with(Duration::ZERO, |n| match n {
        0 => grant(n, 3600),
        1 => Err(unavailable(None)),
        _ => grant(n, 3600),
    });
    source.token().await.unwrap();
    tokio::time::advance(Duration::from_secs(3600 - 100)).await;
    assert_eq!(source.token().await.unwrap().secret(), "token-0");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(source.token().await.unwrap().secret(), "token-2");
}

#[tokio::test(start_paused = true)]
async fn a_token_request_that_timed_out_is_not_sent_again() {
    let (source, calls) = source_with(Duration::ZERO, |n| match n {
        0 => Err(Error::Timeout(crate::error::Cause::new(std::io::Error::from(
            std::io::ErrorKind::TimedOut,
        )))),
        _ => grant(n, 3600),
    });
    let error = source.token().await.unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // 500 may have followed an issued token too, and so may a proxy's bare
    // 503; only the server's own 503 says nothing was done.
    for answer in [Error::unexpected(500, "oops"), Error::unexpected(503, "upstream reset")] {
        let answer = std::sync::Mutex::new(Some(answer));
        let (source, calls) = source_with(Duration::ZERO, move |n| match n {
            0 => Err(answer.lock().unwrap().take().expect("asked once")),
            _ => grant(n, 3600),
        });
        assert!(source.token().await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_ahead_keeps_the_current_token_until_it_expires() {
    let (source, calls) = source_with(Duration::ZERO, |n| match n {
        0 => grant(n, 3600),
        _ => Err(oauth(OAuthErrorCode::InvalidClient)),
    });
    source.token().await.unwrap();
    tokio::time::advance(Duration::from_secs(3600 - 100)).await;
    assert_eq!(source.token().await.unwrap().secret(), "token-0");
    settle().await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Quiet for a while after the failure: no request per call.
    assert_eq!(source.token().await.unwrap().secret(), "token-0");
    settle().await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    tokio::time::advance(Duration::from_secs(100)).await;
    let error = source.token().await.unwrap_err();
    assert_eq!(error.oauth_code(), Some(OAuthErrorCode::InvalidClient));
}

#[test]
fn outside_a_tokio_runtime_a_token_is_an_error_not_a_panic() {
    let (source, _) = source_with(Duration::ZERO, |n| grant(n, 3600));
    let error = source.token().now_or_never().expect("answers at once").unwrap_err();
    assert!(matches!(error, Error::Runtime(_)), "{error:?}");
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_with_backoff() {
    let (source, calls) = source_with(Duration::ZERO, |n| match n {
        0 | 1 => Err(unavailable(None)),
        _ => grant(n, 3600),
    });
    let started = Instant::now();
    assert_eq!(source.token().await.unwrap().secret(), "token-2");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // 250 ms then 500 ms, each with equal jitter: at least half of each.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(375) && waited <= Duration::from_millis(750),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let (source, calls) = source_with(Duration::ZERO, |n| match n {
        0 => Err(Error::UnexpectedResponse {
            status: 429,
            message: "slow down".into(),
            retry_after: Some(Duration::from_secs(7)),
            source: None,
            request_id: None,
        }),
        _ => grant(n, 3600),
    });
    let started = Instant::now();
    source.token().await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(7));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn retries_are_bounded() {
    let (source, calls) = source_with(Duration::ZERO, |_| Err(unavailable(None)));
    let error = source.token().await.unwrap_err();
    assert!(error.is_transient());
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn permanent_failures_are_returned_at_once() {
    for code in [
        OAuthErrorCode::InvalidClient,
        OAuthErrorCode::InvalidScope,
        OAuthErrorCode::UnauthorizedClient,
    ] {
        let (source, calls) = source_with(Duration::ZERO, move |_| Err(oauth(code)));
        let started = Instant::now();
        assert_eq!(source.token().await.unwrap_err().oauth_code(), Some(code));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }
}

#[tokio::test(start_paused = true)]
async fn invalidating_the_current_token_forces_one_new_request() {
    let (source, calls) = source_with(Duration::ZERO, |n| grant(n, 3600));
    let first = source.token().await.unwrap();
    source.invalidate(&first);
    let second = source.token().await.unwrap();
    assert_eq!(second.secret(), "token-1");
    // A second report of the same refusal must not discard the new token.
    source.invalidate(&first);
    assert_eq!(source.token().await.unwrap().secret(), "token-1");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn token_responses_are_classified() {
    let ok = read_token_response(
        200,
        None,
        br#"{"access_token":"abc","token_type":"Bearer","expires_in":3600,"scope":"engage:view"}"#,
        false,
    )
    .unwrap();
    assert_eq!(ok.expires_in, Some(Duration::from_secs(3600)));
    assert_eq!(ok.scope.as_deref(), Some("engage:view"));
    let lenient = read_token_response(
        200,
        None,
        br#"{"access_token":"abc","token_type":"bearer","expires_in":"60"}"#,
        false,
    )
    .unwrap();
    assert_eq!(lenient.expires_in, Some(Duration::from_secs(60)));
    assert_eq!(lenient.scope, None);

    let check = |status: u16, body: &str, expect: &dyn Fn(&Error) -> bool| {
        let error = read_token_response(status, Some(Duration::from_secs(2)), body.as_bytes(), false).unwrap_err();
        assert!(expect(&error), "{status} {body}: {error:?}");
    };
    check(200, r#"{"access_token":"abc","token_type":"mac"}"#, &|e| {
        matches!(e, Error::UnexpectedResponse { .. }) && !e.is_transient()
    });
    check(200, "<html>", &|e| matches!(e, Error::UnexpectedResponse { .. }));
    check(
        401,
        r#"{"error":"invalid_client","error_description":"client authentication failed"}"#,
        &|e| {
            matches!(e, Error::OAuth { code: OAuthErrorCode::InvalidClient, description: Some(d), status: 401, .. } if d == "client authentication failed")
                && !e.is_transient()
        },
    );
    // Throttled, but the code says the credentials are wrong: not transient.
    check(429, r#"{"error":"invalid_client"}"#, &|e| {
        e.oauth_code() == Some(OAuthErrorCode::InvalidClient) && !e.is_transient()
    });
    check(400, r#"{"error":"invalid_scope"}"#, &|e| {
        e.oauth_code() == Some(OAuthErrorCode::InvalidScope)
    });
    check(503, "Service Unavailable", &|e| {
        e.is_transient() && e.retry_after() == Some(Duration::from_secs(2))
    });
    check(429, "", &|e| e.is_transient());
    check(400, r#"{"error":"slow_down"}"#, &|e| {
        matches!(e, Error::UnexpectedResponse { status: 400, .. }) && !e.is_transient()
    });
    check(302, "", &|e| matches!(e, Error::UnexpectedResponse { status: 302, .. }));
}

/// A token endpoint on a loopback socket: answers `(status, body)` in
/// order, one connection each, and records every request it read.
pub(super) async fn endpoint(answers: Vec<(u16, &'static str)>) -> (String, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/oauth2/token", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        for (status, body) in answers {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut chunk = [0u8; 4096];
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
            let location = if status == 302 {
                "Location: http://elsewhere.example/\r\n"
            } else {
                ""
            };
            let response = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{location}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(response.as_bytes()).await.unwrap();
            socket.shutdown().await.unwrap();
        }
    });
    (url, seen)
}

pub(super) const ISSUED: &str =
    r#"{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"scope":"engage:view"}"#;

/// A secret of the scannable format: the SDK sends no other.
fn wire_secret() -> ClientSecret {
    ClientSecret::from_random([9; casebook_domain::credentials::CLIENT_SECRET_BYTES])
}

fn http_source(url: &str, method: ClientAuthMethod) -> TokenSource {
    TokenSource::builder(url, "cb_1", wire_secret())
        .auth_method(method)
        .scope("engage:view")
        .retry_policy(RetryPolicy::default().initial_backoff(Duration::from_millis(10)))
        .build()
        .unwrap()
}

#[tokio::test]
async fn basic_authentication_on_the_wire() {
    let (url, seen) = endpoint(vec![(200, ISSUED)]).await;
    let token = http_source(&url, ClientAuthMethod::ClientSecretBasic)
        .token()
        .await
        .unwrap();
    assert_eq!((token.secret(), token.scope()), ("at-1", Some("engage:view")));
    let request = seen.lock().unwrap()[0].to_ascii_lowercase();
    let expected = format!(
        "authorization: basic {}",
        STANDARD.encode(format!("cb_1:{}", wire_secret().expose()))
    )
    .to_ascii_lowercase();
    assert!(request.starts_with("post /oauth2/token "), "{request}");
    assert!(request.contains(&expected), "{request}");
    assert!(request.contains("content-type: application/x-www-form-urlencoded"));
    assert!(
        request.ends_with("\r\n\r\ngrant_type=client_credentials&scope=engage%3aview"),
        "{request}"
    );
}

#[tokio::test]
async fn body_authentication_on_the_wire() {
    let (url, seen) = endpoint(vec![(200, ISSUED)]).await;
    http_source(&url, ClientAuthMethod::ClientSecretPost)
        .token()
        .await
        .unwrap();
    let request = seen.lock().unwrap()[0].clone();
    assert!(!request.to_ascii_lowercase().contains("authorization:"), "{request}");
    assert!(
        request.ends_with(&format!(
            "grant_type=client_credentials&scope=engage%3Aview&client_id=cb_1&client_secret={}",
            wire_secret().expose()
        )),
        "{request}"
    );
}

#[tokio::test]
async fn over_http_a_503_is_retried_and_invalid_client_is_not() {
    let (url, seen) = endpoint(vec![(503, r#"{"error":"temporarily_unavailable"}"#), (200, ISSUED)]).await;
    assert!(
        http_source(&url, ClientAuthMethod::ClientSecretBasic)
            .token()
            .await
            .is_ok()
    );
    assert_eq!(seen.lock().unwrap().len(), 2);

    let (url, seen) = endpoint(vec![(401, r#"{"error":"invalid_client"}"#), (200, ISSUED)]).await;
    let error = http_source(&url, ClientAuthMethod::ClientSecretBasic)
        .token()
        .await
        .unwrap_err();
    assert_eq!(error.oauth_code(), Some(OAuthErrorCode::InvalidClient));
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(!format!("{error:?} {error}").contains(wire_secret().expose()));
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let (url, seen) = endpoint(vec![(302, "")]).await;
    let error = http_source(&url, ClientAuthMethod::ClientSecretBasic)
        .token()
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::UnexpectedResponse { status: 302, .. }),
        "{error:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_silent_endpoint_is_a_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let (_socket, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let source = TokenSource::builder(url, "cb_1", wire_secret())
        .timeout(Duration::from_millis(200))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let error = source.token().await.unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
    assert!(error.is_transient());
    assert!(std::error::Error::source(&error).is_some());
    holder.abort();
}

#[test]
fn plain_http_is_refused_beyond_loopback() {
    let remote = TokenSource::builder("http://auth.example.org/token", "id", wire_secret());
    assert!(matches!(remote.build(), Err(Error::Config(_))));
    let allowed = TokenSource::builder("http://auth.example.org/token", "id", wire_secret()).allow_insecure_http(true);
    assert!(allowed.build().is_ok());
}

#[test]
fn basic_credentials_are_form_encoded_then_base64_and_sensitive() {
    let value = basic_authorization("cb_1", &ClientSecret::from_presented("a b:c/d")).unwrap();
    assert!(value.is_sensitive());
    let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
    let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
    assert_eq!(decoded, "cb_1:a+b%3Ac%2Fd");
}

#[tokio::test(start_paused = true)]
async fn debug_output_never_shows_a_token_or_secret() {
    let (source, _) = source_with(Duration::ZERO, |n| grant(n, 3600));
    let token = source.token().await.unwrap();
    let shown = format!("{token:?} {source:?}");
    assert!(!shown.contains("token-0"), "{shown}");
    assert!(shown.contains("[redacted]"));
    let builder = TokenSource::builder("https://auth.example.org/token", "id", wire_secret());
    assert!(!format!("{builder:?}").contains(wire_secret().expose()));
}
