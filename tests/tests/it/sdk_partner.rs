//! The Rust SDK as a partner meets it, against the real server on both
//! backends: a POST whose answer was lost is sent again with its
//! `Idempotency-Key` and done once; every error names the server's request
//! id; a secret read with its newline works; a secret rotated in its file
//! is read again; the `cbs_` check can be turned off for other servers.

use casebook_sdk::records::CaseForm;
use casebook_sdk::{
    ApplicationForm, ApplicationId, Case, CaseId, Client, ClientId, ClientSecret, Error, Method, OAuthErrorCode,
    Password, RequestOptions, RetryPolicy, TokenSource,
};
use casebook_tests::casebook_server::config::Backend;
use casebook_tests::{ADMIN_PASSWORD, TestApp, both_backends, casebook_command, sdk_example};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CASES: [&str; 4] = ["api", "v1", "engage", "cases"];

/// Registers an application through the SDK and reveals its secret.
async fn register(admin: &Client, name: &str) -> (ApplicationId, ClientId, String) {
    let apps = admin.admin().applications();
    let form = ApplicationForm::new(
        name,
        format!("{}@partner.example.org", name.to_lowercase().replace(' ', "-")),
    )
    .application_url("https://partner.example.org")
    .roles(["engage-supervisor"]);
    let app = apps.register(&form).await.expect("register");
    let revealed = apps
        .reveal_secret(&app.id, &Password::new(ADMIN_PASSWORD))
        .await
        .expect("reveal");
    (app.id, app.client_id, revealed.client_secret.expose().to_owned())
}

fn partner(base: &str, client_id: &ClientId, secret: &str) -> Client {
    Client::builder(base)
        .client_credentials(client_id, ClientSecret::from_presented(secret))
        .retry_policy(RetryPolicy::default().initial_backoff(Duration::from_millis(20)))
        .build()
        .expect("client")
}

async fn cases_titled(client: &Client, title: &str) -> Vec<Case> {
    let all = client.cases().list().all().await.expect("cases");
    all.into_iter().filter(|c| c.title == title).collect()
}

/// Reads one HTTP/1.1 message head and its `Content-Length` body, or
/// everything until the peer closes when it names no length.
async fn read_message(socket: &mut TcpStream, until_closed: bool) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = socket.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return raw;
        }
        raw.extend_from_slice(&chunk[..n]);
        if until_closed {
            continue;
        }
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap())
            })
            .unwrap_or(0);
        if raw.len() >= end + 4 + length {
            return raw;
        }
    }
}

/// A proxy in front of the server that loses the answer to the first
/// `POST {path}`: the server does the work and answers, and the client sees
/// its connection close with no answer, as when a load balancer drops it.
/// Counts the POSTs to `path` it forwarded.
async fn losing_the_first_answer(upstream: SocketAddr, path: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let posts = Arc::new(AtomicUsize::new(0));
    let counted = posts.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let request = read_message(&mut client, false).await;
                let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
                    return;
                };
                let head = String::from_utf8_lossy(&request[..end]).into_owned();
                // One request per connection, so the answer ends where the server closes.
                let mut lines = head.split("\r\n");
                let mut forwarded = format!("{}\r\nConnection: close\r\n", lines.next().unwrap());
                for line in lines.filter(|l| !l.to_ascii_lowercase().starts_with("connection:")) {
                    forwarded.push_str(line);
                    forwarded.push_str("\r\n");
                }
                forwarded.push_str("\r\n");
                let mut bytes = forwarded.into_bytes();
                bytes.extend_from_slice(&request[end + 4..]);
                let mut server = TcpStream::connect(upstream).await.unwrap();
                server.write_all(&bytes).await.unwrap();
                let answer = read_message(&mut server, true).await;
                let lost = head.starts_with(&format!("POST {path} ")) && counted.fetch_add(1, Ordering::SeqCst) == 0;
                if !lost {
                    let _ = client.write_all(&answer).await;
                }
                let _ = client.shutdown().await;
            });
        }
    });
    (base, posts)
}

both_backends!(
    a_post_whose_answer_was_lost_is_sent_again_with_its_key_and_done_once,
    |app: TestApp| async move {
        let admin = app.sdk_admin().await;
        let (_, client_id, secret) = register(&admin, "Lossy Network").await;
        let (proxy, posts) = losing_the_first_answer(app.addr, "/api/v1/engage/cases").await;
        let through_proxy = partner(&proxy, &client_id, &secret);

        let created = through_proxy
            .call::<Case>(
                Method::POST,
                &CASES,
                Some(&CaseForm::new("Family behind a flaky proxy")),
            )
            .await
            .expect("the retry, with the same Idempotency-Key, gets the first answer");
        assert_eq!(posts.load(Ordering::SeqCst), 2, "sent again once");
        assert_eq!(created.status, 201);
        assert_eq!(
            created.headers.get("idempotent-replayed").map(|v| v.as_bytes()),
            Some(&b"true"[..]),
            "the answer is the first one, replayed"
        );
        let direct = partner(&app.base_url, &client_id, &secret);
        let made = cases_titled(&direct, "Family behind a flaky proxy").await;
        assert_eq!(made.len(), 1, "done once: {made:?}");
        assert_eq!(made[0].id, created.body.id);
    }
);

both_backends!(
    the_same_key_gets_the_first_answer_and_another_body_is_refused,
    |app: TestApp| async move {
        let admin = app.sdk_admin().await;
        let (_, client_id, secret) = register(&admin, "Keyed Partner").await;
        let client = partner(&app.base_url, &client_id, &secret);
        let keyed = client.with_options(
            RequestOptions::new()
                .header("Idempotency-Key", "partner-order-7781")
                .unwrap(),
        );
        let form = CaseForm::new("Family keyed once");
        let first = keyed
            .call::<Case>(Method::POST, &CASES, Some(&form))
            .await
            .expect("first");
        assert_eq!(first.status, 201);
        assert!(first.headers.get("idempotent-replayed").is_none());
        let again = keyed
            .call::<Case>(Method::POST, &CASES, Some(&form))
            .await
            .expect("again");
        assert_eq!(again.status, 201);
        assert_eq!(again.headers["idempotent-replayed"], "true");
        assert_eq!(again.body.id, first.body.id);
        let other = keyed
            .call::<Case>(Method::POST, &CASES, Some(&CaseForm::new("Another family")))
            .await
            .unwrap_err();
        assert_eq!(other.status(), Some(422), "{other}");
        assert_eq!(cases_titled(&client, "Family keyed once").await.len(), 1);
        assert!(cases_titled(&client, "Another family").await.is_empty());
        // Without a key of the caller's own, each call is its own.
        client.cases().create(&form).await.expect("a second case");
        assert_eq!(cases_titled(&client, "Family keyed once").await.len(), 2);
    }
);

both_backends!(every_error_names_the_servers_request_id, |app: TestApp| async move {
    let admin = app.sdk_admin().await;
    let (_, client_id, secret) = register(&admin, "Traced Partner").await;
    let client = partner(&app.base_url, &client_id, &secret);
    let missing = client
        .cases()
        .get(&CaseId::new("0190f0e0-0000-7000-8000-000000000000"))
        .await
        .unwrap_err();
    assert_eq!(missing.status(), Some(404));
    let id = missing.request_id().expect("the server's X-Request-Id").to_owned();
    assert!(
        missing.to_string().ends_with(&format!("(request id {id})")),
        "{missing}"
    );
    // The id is the server's answer: one the caller named comes back.
    let named = client
        .with_options(
            RequestOptions::new()
                .header("X-Request-Id", "partner-trace-77")
                .unwrap(),
        )
        .cases()
        .get(&CaseId::new("0190f0e0-0000-7000-8000-000000000000"))
        .await
        .unwrap_err();
    assert_eq!(named.request_id(), Some("partner-trace-77"));
    // The token endpoint's refusals too.
    let wrong = casebook_domain::ClientSecret::from_random([3; casebook_domain::credentials::CLIENT_SECRET_BYTES])
        .expose()
        .to_owned();
    let refused = partner(&app.base_url, &client_id, &wrong).me().await.unwrap_err();
    assert_eq!(refused.oauth_code(), Some(OAuthErrorCode::InvalidClient));
    let id = refused.request_id().expect("the token endpoint's X-Request-Id");
    assert!(refused.to_string().contains(id), "{refused}");
});

both_backends!(
    a_secret_with_its_newline_works_and_one_rotated_in_its_file_is_read_again,
    |app: TestApp| async move {
        let admin = app.sdk_admin().await;
        let (app_id, client_id, secret) = register(&admin, "Mounted Secret").await;
        // As read from a file or a Kubernetes Secret: the value and a newline.
        let pasted = partner(&app.base_url, &client_id, &format!("{secret}\n"));
        assert_eq!(pasted.me().await.expect("trimmed, not mistyped").name, "Mounted Secret");

        let dir = std::env::temp_dir().join(format!(
            "casebook-sdk-partner-{}-{}",
            std::process::id(),
            app.addr.port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("client-secret");
        std::fs::write(&file, format!("{secret}\n")).unwrap();
        let mounted = Client::builder(&app.base_url)
            .client_secret_file(&client_id, &file)
            .build()
            .expect("client");
        assert_eq!(mounted.me().await.expect("the file's secret").name, "Mounted Secret");

        // Rotated with no grace: the old secret and its tokens end at once,
        // and the platform writes the new secret into the mounted file.
        let rotated = admin
            .admin()
            .applications()
            .rotate_secret(&app_id, &Password::new(ADMIN_PASSWORD), Duration::ZERO)
            .await
            .expect("rotate");
        std::fs::write(&file, format!("{}\n", rotated.client_secret.expose())).unwrap();
        assert_eq!(
            mounted
                .me()
                .await
                .expect("the rotated secret, read again from the file")
                .name,
            "Mounted Secret"
        );
        // The secret pasted before the rotation is refused, with no file to read again.
        let old = pasted.me().await;
        assert!(
            matches!(
                &old,
                Err(Error::OAuth {
                    code: OAuthErrorCode::InvalidClient,
                    ..
                })
            ),
            "{old:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
);

both_backends!(
    the_format_check_is_turned_off_for_another_servers_secrets,
    |app: TestApp| async move {
        let admin = app.sdk_admin().await;
        let (_, client_id, _) = register(&admin, "Other Format").await;
        let token_url = format!("{}/oauth2/token", app.base_url);
        let other = || ClientSecret::from_presented("an-opaque-secret-of-another-server");
        let checked = TokenSource::builder(&token_url, client_id.as_str(), other()).build();
        assert!(matches!(checked, Err(Error::MistypedSecret)), "{checked:?}");
        // Unchecked, it is sent, and this server's answer decides.
        let sent = TokenSource::builder(&token_url, client_id.as_str(), other())
            .check_secret_format(false)
            .build()
            .expect("built")
            .token()
            .await
            .unwrap_err();
        assert_eq!(sent.oauth_code(), Some(OAuthErrorCode::InvalidClient), "{sent}");
        assert!(sent.request_id().is_some());
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_takes_a_secret_pasted_with_its_newline() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let Some(binary) = sdk_example("quickstart") else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, client_id, secret) = app.partner(&admin, "Pasted Newline", &["engage-worker"]).await;
    let mut command = casebook_command(&binary);
    command.envs([
        ("CASEBOOK_URL", app.base_url.clone()),
        ("CASEBOOK_CLIENT_ID", client_id),
        ("CASEBOOK_CLIENT_SECRET", format!("{secret}\n")),
    ]);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("the quickstart runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Pasted Newline (application) may:"), "{stdout}");
}
