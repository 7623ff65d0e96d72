//! A partner's own tests, as they run without a Casebook: the SDK's
//! `test-util` feature gives them a well-formed fake secret and a token
//! server on a loopback port, enabled only under `[dev-dependencies]`.

use casebook_sdk::test_util::{TokenServer, fake_client_secret};
use casebook_sdk::{Client, Error, OAuthErrorCode, RetryPolicy, TokenSource};

/// The partner's code under test: how many permissions its application has.
async fn permissions(client: &Client) -> Result<usize, Error> {
    Ok(client.me().await?.permissions.iter().count())
}

#[tokio::test]
async fn a_partners_code_runs_against_the_local_token_server() {
    let server = TokenServer::start().await.expect("a loopback port");
    server.respond(
        "GET",
        "/api/v1/me",
        200,
        r#"{"id":"0190f0e0-0000-7000-8000-000000000001","kind":"application","name":"Partner Sync",
            "permissions":["engage:view","engage:create"]}"#,
    );
    let client = Client::builder(server.base_url())
        .client_credentials(server.client_id(), server.client_secret())
        .build()
        .expect("a fake secret is well-formed");
    assert_eq!(permissions(&client).await.expect("me"), 2);
    assert_eq!(server.tokens_issued(), 1);
    let seen = server.requests();
    assert_eq!(seen[0].path, "/oauth2/token");
    assert_eq!(seen[1].header("authorization"), Some("[redacted]"));

    // A secret the server does not know is refused as Casebook refuses it.
    let stranger = TokenSource::builder(server.token_url(), server.client_id(), fake_client_secret())
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("well-formed");
    let refused = stranger.token().await.unwrap_err();
    assert_eq!(refused.oauth_code(), Some(OAuthErrorCode::InvalidClient));
    assert!(refused.request_id().is_some());
}
