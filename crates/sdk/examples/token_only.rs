//! Gets an access token and prints it for another tool (curl, a gateway):
//! the token alone, without the rest of the SDK. Works against any RFC 6749
//! token endpoint that supports the client credentials grant.
//!
//! ```text
//! CASEBOOK_TOKEN_URL=https://casebook.example.org/oauth2/token \
//! CASEBOOK_CLIENT_ID=cb_0123456789abcdef0123456789abcdef \
//! CASEBOOK_CLIENT_SECRET=cbs_... \
//!     cargo run -p casebook-sdk --example token_only -- "engage:view"
//! ```

use casebook_sdk::{ClientSecret, TokenSource};
use std::process::ExitCode;

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("token_only: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let mut builder = TokenSource::builder(
        env("CASEBOOK_TOKEN_URL")?,
        env("CASEBOOK_CLIENT_ID")?,
        ClientSecret::from_presented(env("CASEBOOK_CLIENT_SECRET")?),
    );
    if let Some(scope) = std::env::args().nth(1) {
        builder = builder.scope(scope);
    }
    let tokens = builder.build().map_err(|e| e.to_string())?;
    let token = tokens.token().await.map_err(|e| e.to_string())?;
    eprintln!(
        "scope {:?}, valid for {} s more",
        token.scope().unwrap_or("(all the roles grant)"),
        token.expires_in().as_secs()
    );
    // Printing the token is this program's purpose; it lives an hour at most.
    println!("{}", token.secret());
    Ok(())
}
