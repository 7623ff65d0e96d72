//! The token cache over real HTTP, against a tiny token endpoint on a
//! loopback socket that counts its requests and can be made slow: a cold
//! cache under a thousand concurrent callers, a background refresh nobody
//! waits for, and a caller's own `reqwest::Client`.

use casebook_sdk::{Client, ClientSecret, RetryPolicy, TokenSource};
use futures_util::FutureExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How the endpoint answers its `n`th request (from 0): after how long, and
/// with a token of what lifetime in seconds.
type Plan = fn(usize) -> (Duration, u64);

struct TokenServer {
    url: String,
    requests: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
}

/// A token endpoint issuing `token-{n}`, one request per connection.
async fn token_server(plan: Plan) -> TokenServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/oauth2/token", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let (count, done, seen) = (requests.clone(), answered.clone(), heads.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (count, done, seen) = (count.clone(), done.clone(), seen.clone());
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                let head = loop {
                    let Ok(n) = socket.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break head.to_owned();
                        }
                    }
                };
                let n = count.fetch_add(1, Ordering::SeqCst);
                seen.lock().unwrap().push(head);
                let (delay, lifetime) = plan(n);
                tokio::time::sleep(delay).await;
                let body = format!(r#"{{"access_token":"token-{n}","token_type":"Bearer","expires_in":{lifetime}}}"#);
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    TokenServer {
        url,
        requests,
        answered,
        heads,
    }
}

fn secret() -> ClientSecret {
    ClientSecret::from_random([3; casebook_domain::credentials::CLIENT_SECRET_BYTES])
}

fn source(server: &TokenServer) -> TokenSource {
    TokenSource::builder(&server.url, "cb_partner", secret())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_callers_on_a_cold_cache_cause_one_token_request() {
    let server = token_server(|_| (Duration::from_millis(300), 3600)).await;
    let tokens = source(&server);
    let callers: Vec<_> = (0..1000)
        .map(|_| {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.token().await })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap().unwrap().secret(), "token-0");
    }
    assert_eq!(server.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_a_slow_refresh_runs_every_caller_gets_the_current_token_at_once() {
    // An 8 s token is refreshed 2 s ahead of expiry (a quarter of its life)
    // and handed out until 0.8 s before it; the refresh then takes 500 ms,
    // well inside the 1.2 s left.
    let server = token_server(|n| match n {
        0 => (Duration::ZERO, 8),
        _ => (Duration::from_millis(500), 3600),
    })
    .await;
    let tokens = source(&server);
    assert_eq!(tokens.token().await.unwrap().secret(), "token-0");
    tokio::time::sleep(Duration::from_millis(6_100)).await;

    let started = Instant::now();
    let mut calls = 0;
    let mut while_refreshing = 0;
    let fresh = loop {
        let token = tokens
            .token()
            .now_or_never()
            .expect("a caller ahead of expiry never waits for the refresh")
            .unwrap();
        calls += 1;
        if token.secret() != "token-0" {
            break token;
        }
        if server.requests.load(Ordering::SeqCst) == 2 && server.answered.load(Ordering::SeqCst) == 1 {
            while_refreshing += 1;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the refresh never landed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(fresh.secret(), "token-1");
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        2,
        "one refresh for {calls} calls"
    );
    assert!(
        while_refreshing >= 20,
        "only {while_refreshing} of {calls} calls came while the refresh was in flight"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_own_reqwest_client_carries_every_request() {
    let server = token_server(|_| (Duration::ZERO, 3600)).await;
    use casebook_sdk::reqwest;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-partner-proxy", "edge-7".parse().unwrap());
    let own = reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let tokens = TokenSource::builder(&server.url, "cb_partner", secret())
        .http_client(own.clone())
        .user_agent("partner-sync/3.0")
        .build()
        .unwrap();
    tokens.token().await.unwrap();
    let head = server.heads.lock().unwrap()[0].to_ascii_lowercase();
    assert!(head.contains("x-partner-proxy: edge-7"), "{head}");
    assert!(head.contains("user-agent: partner-sync/3.0"), "{head}");

    // A client can take that source as it is: its tokens, its HTTP client.
    let base = server.url.trim_end_matches("/oauth2/token").to_owned();
    let client = Client::builder(base)
        .http_client(own)
        .token_source(tokens.clone())
        .build()
        .unwrap();
    let shared = client.token_source().unwrap().token().await.unwrap();
    assert_eq!(shared.secret(), "token-0");
    assert_eq!(server.requests.load(Ordering::SeqCst), 1);
}
