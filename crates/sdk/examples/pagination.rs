//! Walks every engage case three ways: one page at a time (keeping the
//! cursor, as a resumable export would), item by item as a stream, and all
//! at once.
//!
//! ```text
//! CASEBOOK_URL=https://casebook.example.org \
//! CASEBOOK_CLIENT_ID=cb_0123456789abcdef0123456789abcdef \
//! CASEBOOK_CLIENT_SECRET=cbs_... \
//!     cargo run -p casebook-sdk --example pagination
//! ```

use casebook_sdk::{Client, ClientSecret};
use futures_util::StreamExt;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("set {name}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::builder(env("CASEBOOK_URL"))
        .client_credentials(
            env("CASEBOOK_CLIENT_ID"),
            ClientSecret::from_presented(env("CASEBOOK_CLIENT_SECRET")),
        )
        .build()?;

    // Page by page: stop anywhere and resume later from the saved cursor.
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut list = client.cases().list().limit(25);
        if let Some(at) = cursor.take() {
            list = list.cursor(at);
        }
        let page = list.send().await?;
        pages += 1;
        println!("page {pages}: {} cases", page.items.len());
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }

    // Item by item, pages fetched as they are consumed; a `Stream` too.
    let mut open = 0;
    let mut items = client.cases().list().limit(100).items();
    while let Some(case) = items.next().await {
        if case?.status == casebook_sdk::records::CaseStatus::Open {
            open += 1;
        }
    }

    // Everything, collected.
    let all = client.reports().list().all().await?;
    println!("{open} open cases; {} reports", all.len());
    Ok(())
}
