//! The Rust SDK's quickstart example (`crates/sdk/examples/quickstart.rs`)
//! run as the README tells a new partner to: three variables, one command.
//! The README's own program makes the same call and is compiled as a
//! doctest.

use casebook_tests::casebook_server::config::Backend;
use casebook_tests::{TestApp, casebook_command, sdk_example};
use std::process::Output;

async fn quickstart(env: &[(&str, &str)]) -> Option<Output> {
    let binary = sdk_example("quickstart")?;
    let mut command = casebook_command(&binary);
    command.envs(env.iter().copied());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("the quickstart runs");
    Some(output)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_prints_who_the_application_is_and_what_it_may_do() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (view, client_id, secret) = app.partner(&admin, "Quick Start", &["engage-worker"]).await;
    let env = [
        ("CASEBOOK_URL", app.base_url.as_str()),
        ("CASEBOOK_CLIENT_ID", client_id.as_str()),
        ("CASEBOOK_CLIENT_SECRET", secret.as_str()),
    ];
    let Some(output) = quickstart(&env).await else { return };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json_end = stdout.find("\n\n").expect("the JSON, then the permissions");
    let me: serde_json::Value = serde_json::from_str(&stdout[..json_end]).expect("`GET /api/v1/me` as JSON");
    assert_eq!(me["id"], view["id"]);
    assert_eq!(me["client_id"], client_id.as_str());
    assert!(
        stdout.contains("Quick Start (application) may:\n  engage:view\n"),
        "{stdout}"
    );
    assert!(!stdout.contains(&secret), "the secret is never printed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_explains_a_refused_secret_a_mistyped_one_and_a_missing_variable() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, client_id, secret) = app.partner(&admin, "Quick Typo", &["engage-worker"]).await;
    let (_, _, stranger) = app.partner(&admin, "Someone Else", &["engage-worker"]).await;
    // The last character changed to one it is not, so the checksum no longer fits.
    let last = if secret.ends_with('x') { 'y' } else { 'x' };
    let typo = format!("{}{last}", &secret[..secret.len() - 1]);
    for (presented, explained) in [
        (stranger.as_str(), "the Client ID or secret was refused"),
        (typo.as_str(), "copy it again, whole"),
    ] {
        let env = [
            ("CASEBOOK_URL", app.base_url.as_str()),
            ("CASEBOOK_CLIENT_ID", client_id.as_str()),
            ("CASEBOOK_CLIENT_SECRET", presented),
        ];
        let Some(output) = quickstart(&env).await else { return };
        let (stdout, stderr) = (
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        assert!(!output.status.success());
        assert!(stderr.contains(explained), "{stderr}");
        assert!(
            !stderr.contains(presented) && !stdout.contains(presented),
            "never printed"
        );
    }

    let env = [
        ("CASEBOOK_URL", app.base_url.as_str()),
        ("CASEBOOK_CLIENT_ID", client_id.as_str()),
    ];
    let Some(output) = quickstart(&env).await else { return };
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("set CASEBOOK_CLIENT_SECRET"));
}
