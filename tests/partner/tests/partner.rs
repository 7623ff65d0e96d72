//! A partner's code against the real `casebook` binary: its own
//! `reqwest::Client`, one token source shared by clients, the blocking
//! client, and a thousand concurrent callers costing one token, counted by
//! the server's own `/metrics`.
//!
//! The binary is `$CASEBOOK_BIN`, else `$CARGO_TARGET_DIR/debug/casebook`.

use casebook_sdk::records::{CaseForm, CaseStatus};
use casebook_sdk::{ApplicationForm, Client, ClientSecret, Error, Password, TokenSource, blocking, reqwest};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN_EMAIL: &str = "partner-check@agency.example.org";
const ADMIN_PASSWORD: &str = "partner check admin password";

/// The server, stopped and its files removed when dropped.
struct Server {
    url: String,
    child: Child,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("CASEBOOK_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("debug").join("casebook")
}

async fn start() -> Server {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = std::env::temp_dir().join(format!("casebook-partner-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let child = Command::new(binary())
        .arg("serve")
        .env("CASEBOOK_ADDR", format!("127.0.0.1:{port}"))
        .env("CASEBOOK_PUBLIC_URL", &url)
        .env(
            "CASEBOOK_DATABASE_URL",
            format!("sqlite://{}/casebook.db", dir.display()),
        )
        .env("CASEBOOK_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("CASEBOOK_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CASEBOOK_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary().display()));
    let server = Server { url, child, dir };
    let probe = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = probe.get(format!("{}/readyz", server.url)).send().await
            && r.status().is_success()
        {
            return server;
        }
        assert!(Instant::now() < deadline, "the server was not ready within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn tokens_issued(server: &Server) -> u64 {
    let text = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(name, _)| name.starts_with("casebook_access_tokens_issued_total"))
        .map(|(_, v)| v.parse::<f64>().unwrap() as u64)
        .sum()
}

/// The partner's own HTTP client: a default header of theirs, no redirects.
fn own_http() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-partner", reqwest::header::HeaderValue::from_static("check"));
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_uses_the_sdk_with_its_own_http_client_and_from_blocking_code() {
    let server = start().await;
    let http = own_http();

    // An admin registers the application and reveals its secret.
    let password = Password::new(ADMIN_PASSWORD);
    let admin = Client::builder(&server.url)
        .http_client(http.clone())
        .build()
        .unwrap()
        .sign_in(ADMIN_EMAIL, &password)
        .await
        .unwrap();
    let apps = admin.admin().applications();
    let app = apps
        .register(&ApplicationForm::new("Partner Check", "check@partner.example.org").roles(["engage-supervisor"]))
        .await
        .unwrap();
    let secret = apps.reveal_secret(&app.id, &password).await.unwrap().client_secret;
    assert_eq!(app.callback_url, server.url);

    // One token source, the partner's HTTP client, shared by two clients.
    let tokens = TokenSource::builder(format!("{}/oauth2/token", server.url), &app.client_id, secret.clone())
        .http_client(http.clone())
        .build()
        .unwrap();
    let before = tokens_issued(&server).await;
    let callers: Vec<_> = (0..1000)
        .map(|_| {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.token().await.map(|t| t.secret().to_owned()) })
        })
        .collect();
    let mut first = None;
    for caller in callers {
        let token = caller.await.unwrap().unwrap();
        assert_eq!(first.get_or_insert_with(|| token.clone()), &token);
    }
    assert_eq!(
        tokens_issued(&server).await - before,
        1,
        "1000 callers, one token request"
    );

    let one = Client::builder(&server.url)
        .http_client(http.clone())
        .token_source(tokens.clone())
        .build()
        .unwrap();
    let two = Client::builder(&server.url)
        .http_client(http)
        .token_source(tokens)
        .build()
        .unwrap();
    let me = one.me().await.unwrap();
    assert_eq!(me.name, "Partner Check");
    let case = two
        .cases()
        .create(&CaseForm::new("From the partner's async code"))
        .await
        .unwrap();
    assert_eq!(case.status, CaseStatus::Open);
    assert_eq!(
        tokens_issued(&server).await - before,
        1,
        "both clients used the shared token"
    );

    // An offline refusal: nothing reaches the server.
    let refused = two.cases().create(&CaseForm::new("")).await.unwrap_err();
    assert!(matches!(refused, Error::Validation(_)), "{refused:?}");

    // Blocking code: no async anywhere, on a plain thread.
    let url = server.url.clone();
    let client_id = app.client_id.clone();
    let from_blocking = std::thread::spawn(move || {
        let client = blocking::Client::new(
            Client::builder(&url).client_credentials(client_id, ClientSecret::from_presented(secret.expose())),
        )?;
        let me = client.me()?;
        let case = client
            .cases()
            .create(&CaseForm::new("From the partner's blocking code"))?;
        let all = client.cases().all()?;
        Ok::<_, Error>((me.name, case.id, all.len()))
    })
    .join()
    .unwrap()
    .unwrap();
    assert_eq!(from_blocking.0, "Partner Check");
    assert_eq!(from_blocking.2, 2);

    // The blocking client refuses to run inside async code instead of
    // blocking (or panicking in) the runtime.
    let inside = blocking::Client::new(Client::builder(&server.url)).unwrap_err();
    assert!(matches!(inside, Error::Runtime(_)), "{inside:?}");
}
