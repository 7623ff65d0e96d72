//! Sends every request through the caller's own `reqwest::Client` (here a
//! proxy from `HTTPS_PROXY`, extra root certificates from a file, a
//! default header), shares one token source between two clients, and reads
//! an answer's headers with per-call options.
//!
//! ```text
//! CASEBOOK_URL=https://casebook.example.org \
//! CASEBOOK_CLIENT_ID=cb_0123456789abcdef0123456789abcdef \
//! CASEBOOK_CLIENT_SECRET=cbs_... \
//! HTTPS_PROXY=http://proxy.internal:3128 \
//!     cargo run -p casebook-sdk --example own_http_stack
//! ```

use casebook_sdk::reqwest;
use casebook_sdk::{Client, ClientSecret, Error, Me, Method, RequestOptions, TokenSource};
use std::time::Duration;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("set {name}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "x-integration",
        reqwest::header::HeaderValue::from_static("partner-sync"),
    );
    let mut http = reqwest::Client::builder()
        .default_headers(headers)
        .connect_timeout(Duration::from_secs(5))
        // Casebook never redirects; a token request must not follow one.
        .redirect(reqwest::redirect::Policy::none());
    if let Ok(proxy) = std::env::var("HTTPS_PROXY") {
        http = http.proxy(reqwest::Proxy::https(proxy).map_err(|e| Error::Config(e.to_string()))?);
    }
    let http = http.build().map_err(|e| Error::Config(e.to_string()))?;

    let base = env("CASEBOOK_URL");
    let tokens = TokenSource::builder(
        format!("{}/oauth2/token", base.trim_end_matches('/')),
        env("CASEBOOK_CLIENT_ID"),
        ClientSecret::from_presented(env("CASEBOOK_CLIENT_SECRET")),
    )
    .http_client(http.clone())
    .build()?;
    // Two clients, one token: neither asks for its own.
    let first = Client::builder(&base)
        .http_client(http.clone())
        .token_source(tokens.clone())
        .build()?;
    let second = Client::builder(&base).http_client(http).token_source(tokens).build()?;

    let me = first.me().await?;
    let answer = second
        .with_options(
            RequestOptions::new()
                .timeout(Duration::from_secs(5))
                .header("x-correlation-id", "example-1")?,
        )
        .call::<Me>(Method::GET, &["api", "v1", "me"], None::<&()>)
        .await?;
    println!("{} / {} (HTTP {})", me.name, answer.body.name, answer.status);
    for (name, value) in &answer.headers {
        println!("  {name}: {value:?}");
    }
    Ok(())
}
