//! Opens an engage case, closes it, reads it back and removes it: the
//! Casebook API's typed calls, each checked offline before it is sent.
//!
//! ```text
//! CASEBOOK_URL=https://casebook.example.org \
//! CASEBOOK_CLIENT_ID=cb_0123456789abcdef0123456789abcdef \
//! CASEBOOK_CLIENT_SECRET=cbs_... \
//!     cargo run -p casebook-sdk --example api_calls
//! ```
//!
//! The application's roles must grant `engage:create`, `engage:edit`,
//! `engage:view` and `engage:delete`.

use casebook_sdk::records::{CaseChange, CaseForm, CaseStatus};
use casebook_sdk::{Client, ClientSecret};

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
        .user_agent("casebook-sdk-api-example")
        .build()?;

    let cases = client.cases();
    let case = cases
        .create(&CaseForm::new("Family of four, housing").description("Referred by the school"))
        .await?;
    println!("opened {} at {} by {}", case.id, case.created_at, case.created_by.name);

    let closed = cases
        .change(
            &case.id,
            &CaseChange::new().status(CaseStatus::Closed).clear_description(),
        )
        .await?;
    assert_eq!(closed.status, CaseStatus::Closed);
    println!("closed {} at {}", closed.id, closed.updated_at);

    let read = cases.get(&case.id).await?;
    println!("read back: {:?} {:?}", read.title, read.status);

    cases.remove(&case.id).await?;
    println!("removed {}", case.id);
    Ok(())
}
