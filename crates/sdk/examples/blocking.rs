//! The blocking client, for code that is not async: a small command-line
//! tool that lists the engage cases, with no `async` anywhere.
//!
//! ```text
//! CASEBOOK_URL=https://casebook.example.org \
//! CASEBOOK_CLIENT_ID=cb_0123456789abcdef0123456789abcdef \
//! CASEBOOK_CLIENT_SECRET=cbs_... \
//!     cargo run -p casebook-sdk --features blocking --example blocking
//! ```

use casebook_sdk::{Client, ClientSecret, blocking};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("set {name}"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = blocking::Client::new(Client::builder(env("CASEBOOK_URL")).client_credentials(
        env("CASEBOOK_CLIENT_ID"),
        ClientSecret::from_presented(env("CASEBOOK_CLIENT_SECRET")),
    ))?;
    let me = client.me()?;
    println!("{} may {}", me.name, me.permissions.to_scope());
    for case in client.cases().all()? {
        println!("{} {} ({:?})", case.id, case.title, case.status);
    }
    Ok(())
}
