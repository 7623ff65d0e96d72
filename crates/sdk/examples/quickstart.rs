//! Calls Casebook as an external application and prints who it is
//! (`GET /api/v1/me`, as JSON) and what it may do.
//!
//! ```text
//! CASEBOOK_URL=https://casebook.example.org \
//! CASEBOOK_CLIENT_ID=cb_0123456789abcdef0123456789abcdef \
//! CASEBOOK_CLIENT_SECRET=cbs_... \
//!     cargo run -p casebook-sdk --example quickstart
//! ```
//!
//! `CASEBOOK_URL` is the Callback URL cb Admin shows for the application; the
//! Client ID and secret come from its expand and key icons.

use casebook_sdk::{Client, ClientSecret, Error, OAuthErrorCode};
use std::process::ExitCode;

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("quickstart: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let client = Client::builder(env("CASEBOOK_URL")?)
        .client_credentials(
            env("CASEBOOK_CLIENT_ID")?,
            ClientSecret::from_presented(env("CASEBOOK_CLIENT_SECRET")?),
        )
        .user_agent("casebook-sdk-quickstart")
        .build()
        .map_err(|e| e.to_string())?;

    let me = match client.me().await {
        Ok(me) => me,
        Err(Error::OAuth {
            code: OAuthErrorCode::InvalidClient,
            ..
        }) => {
            return Err("the Client ID or secret was refused: check both, and that the application is enabled".into());
        }
        Err(e) => return Err(e.to_string()),
    };

    let json = serde_json::to_string_pretty(&me).map_err(|e| e.to_string())?;
    println!("{json}");
    println!();
    println!("{} ({}) may:", me.name, me.kind);
    for permission in me.permissions.iter() {
        println!("  {permission}");
    }
    Ok(())
}
