//! What each kind of failure looks like, and what to do about it: a form
//! refused before sending, a permission the roles do not grant, credentials
//! refused, and a server that is briefly unavailable.
//!
//! ```text
//! CASEBOOK_URL=https://casebook.example.org \
//! CASEBOOK_CLIENT_ID=cb_0123456789abcdef0123456789abcdef \
//! CASEBOOK_CLIENT_SECRET=cbs_... \
//!     cargo run -p casebook-sdk --example error_handling
//! ```

use casebook_sdk::records::CaseForm;
use casebook_sdk::{CaseId, Client, ClientSecret, Error, OAuthErrorCode};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("set {name}"))
}

fn explain(error: &Error) -> String {
    match error {
        // Found offline with the server's own rules: nothing was sent.
        Error::Validation(errors) => {
            let fields: Vec<String> = errors
                .errors()
                .iter()
                .map(|e| format!("{} ({})", e.field, e.code_str()))
                .collect();
            format!("fix the form: {}", fields.join(", "))
        }
        Error::Api { status: 403, .. } => match error.required_scope() {
            Some(scope) => format!("ask an admin for a role granting {scope}"),
            None => format!("refused: {error}"),
        },
        Error::Api { status: 422, .. } => format!("the server refused fields: {:?}", error.field_errors()),
        Error::OAuth {
            code: OAuthErrorCode::InvalidClient,
            ..
        } => "the Client ID or secret was refused, or the application is disabled".into(),
        Error::MistypedSecret => "the secret was copied wrong: copy it again from cb Admin".into(),
        // Already retried as far as the retry policy allows.
        e if e.is_transient() => format!("Casebook is unavailable, try later (wait {:?}): {e}", e.retry_after()),
        e => format!("unexpected: {e}"),
    }
}

#[tokio::main]
async fn main() {
    let client = match Client::builder(env("CASEBOOK_URL"))
        .client_credentials(
            env("CASEBOOK_CLIENT_ID"),
            ClientSecret::from_presented(env("CASEBOOK_CLIENT_SECRET")),
        )
        .build()
    {
        Ok(client) => client,
        Err(e) => return eprintln!("{}", explain(&e)),
    };
    let too_long = CaseForm::new("x".repeat(201));
    if let Err(e) = client.cases().create(&too_long).await {
        println!("create: {}", explain(&e));
    }
    if let Err(e) = client.cases().remove(&CaseId::new("no-such-case")).await {
        println!("remove: {}", explain(&e));
    }
    match client.me().await {
        Ok(me) => println!("signed in as {}", me.name),
        Err(e) => println!("me: {}", explain(&e)),
    }
}
