//! Registers an external application as an admin, the way cb Admin's "New
//! Application" form does, then reveals its Client secret.
//!
//! ```text
//! CASEBOOK_URL=https://casebook.example.org \
//! CASEBOOK_ADMIN_EMAIL=admin@agency.org \
//! CASEBOOK_ADMIN_PASSWORD=... \
//!     cargo run -p casebook-sdk --example register_application -- "Partner Sync" sync@partner.org engage-worker
//! ```
//!
//! Arguments: the application name, its email, and one or more role ids
//! (default: "SDK Example", sdk-example@partner.example.org, engage-worker).
//! The form is checked with the server's own rules before it is sent, so a
//! bad one prints every field error without a request.

use casebook_sdk::{ApplicationForm, Client, Error, Password};
use std::process::ExitCode;

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("register_application: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "SDK Example".into());
    let email = args.next().unwrap_or_else(|| "sdk-example@partner.example.org".into());
    let mut roles: Vec<String> = args.collect();
    if roles.is_empty() {
        roles.push("engage-worker".into());
    }

    let password = Password::new(env("CASEBOOK_ADMIN_PASSWORD")?);
    let admin = Client::builder(env("CASEBOOK_URL")?)
        .user_agent("casebook-sdk-register-example")
        .build()
        .map_err(|e| e.to_string())?
        .sign_in(&env("CASEBOOK_ADMIN_EMAIL")?, &password)
        .await
        .map_err(|e| format!("could not sign in: {e}"))?;

    let form = ApplicationForm::new(name, email)
        .roles(roles)
        .description("Registered with the casebook-sdk example");
    let applications = admin.admin().applications();
    let registered = match applications.register(&form).await {
        Ok(application) => application,
        Err(e @ (Error::Validation(_) | Error::Api { status: 422, .. })) => {
            let mut message = String::from("the form was refused:");
            for field in e.field_errors() {
                message.push_str(&format!(
                    "\n  {}: {} ({})",
                    field.field,
                    field.message,
                    field.code_str()
                ));
            }
            return Err(message);
        }
        Err(e) => return Err(e.to_string()),
    };
    let revealed = applications
        .reveal_secret(&registered.id, &password)
        .await
        .map_err(|e| format!("registered {}, but could not reveal its secret: {e}", registered.id))?;
    admin.sign_out().await.map_err(|e| e.to_string())?;

    println!("Registered {} ({})", registered.name, registered.id);
    println!("  Callback URL: {}", registered.callback_url);
    println!("  Client ID:    {}", registered.client_id);
    // Showing the secret is this program's purpose, as the key icon's is;
    // keep it somewhere safe and out of shell history and logs.
    println!("  Client secret: {}", revealed.client_secret.expose());
    Ok(())
}
