//! The SDK's cached-token path: `TokenSource::token` with a fresh token in
//! its cache, what every call after the first costs.
//! `cargo bench -p casebook-sdk --bench token_cache`.
//!
//! The one token request that fills the cache is answered by a stub on
//! loopback, in this process; the measured calls never reach it.

use casebook_sdk::{ClientSecret, TokenSource};
use criterion::{Criterion, criterion_group, criterion_main};
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Well formed (its checksum holds); the stub never checks it.
const SECRET: &str = "cbs_Jc0k2m1Xw7pR5tYbN3eJhL6aGfU9sKoIiCxMvEq8Vd0a0xjF3P";

/// Polls a future that must not wait (a cache hit) to completion, with no
/// runtime in the measurement.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the cached path waited"),
    }
}

/// A token endpoint that answers one request with an hour-long token.
async fn stub_token_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("loopback");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("the token request");
        // The request's head and form body are small: read until the form's end.
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        while !request.ends_with(b"grant_type=client_credentials") {
            let read = socket.read(&mut buffer).await.expect("read");
            if read == 0 {
                break;
            }
            request.extend_from_slice(&buffer[..read]);
        }
        let body = r#"{"access_token":"bench-token","token_type":"Bearer","expires_in":3600,"scope":"engage:view"}"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(answer.as_bytes()).await.expect("write");
        socket.shutdown().await.ok();
    });
    format!("http://{addr}/oauth2/token")
}

fn token_cache(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let source = runtime.block_on(async {
        let url = stub_token_endpoint().await;
        let source = TokenSource::builder(url, "cb_bench", ClientSecret::from_presented(SECRET))
            .build()
            .expect("token source");
        source.token().await.expect("first token");
        source
    });
    // The background refresh task is spawned on this runtime; entered, so a
    // cache hit could reach it, though a fresh token never asks.
    let _entered = runtime.enter();
    c.bench_function("SDK TokenSource::token, cached", |b| {
        b.iter(|| ready(black_box(&source).token()).expect("cached token"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = token_cache
}
criterion_main!(benches);
