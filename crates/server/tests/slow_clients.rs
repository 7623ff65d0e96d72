//! The server holds up against slow and stalled clients (the contract's "Connections"): a connection
//! without a complete request head within 10 s is closed, a body that
//! stalls for 10 s ends the request with 408, a client that stops reading
//! responses is cut off, an idle keep-alive connection is closed after its
//! idle time, a full connection cap makes new
//! connections wait instead of starving the process, and SIGTERM ends a
//! `casebook serve` held by stalled clients within 15 s.
//!
//! Every connection goes to 127.0.0.1 only, each test opens a handful, and
//! every wait is bounded.

use casebook_server::config::Config;
use casebook_server::crypto::MasterKey;
use casebook_server::{Running, TestOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ADMIN_EMAIL: &str = "root@agency.org";
const ADMIN_PASSWORD: &str = "correct horse battery staple";
/// The contract's figure ("Connections") for a request head and for a stalled body.
const TEN_SECONDS: Duration = Duration::from_secs(10);
/// How late past a deadline a close may come on a busy 2-core machine.
const SLACK: Duration = Duration::from_millis(2500);
/// How early: timers never fire before their deadline, but the clock of a
/// test starts a little before the server's.
const EARLY: Duration = Duration::from_millis(500);

/// A server started in this process on a fresh SQLite database.
struct Server {
    addr: SocketAddr,
    running: Running,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.running.task.abort();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start(options: TestOptions) -> Server {
    start_with(options, None).await
}

async fn start_with(options: TestOptions, tls: Option<casebook_server::tls::TlsFiles>) -> Server {
    let dir = std::env::temp_dir().join(format!("casebook-slow-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = Config {
        public_url: "http://127.0.0.1".into(),
        admin_email: Some(ADMIN_EMAIL.into()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        tls,
        ..Config::local(
            format!("sqlite://{}/casebook.db", dir.display()),
            MasterKey::from_base64(&MasterKey::generate_base64()).expect("key"),
        )
    };
    let running = casebook_server::start(config, options).await.expect("server starts");
    Server {
        addr: running.addr,
        running,
        dir,
    }
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("connect")
}

/// Waits, at most `within`, for the server to close `stream`; returns when,
/// measured from `since`. Bytes the server sends first are read past.
async fn closed_at(mut stream: impl tokio::io::AsyncRead + Unpin, since: Instant, within: Duration) -> Duration {
    let mut buf = [0u8; 1024];
    let waited = tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(waited.is_ok(), "the connection was still open after {within:?}");
    since.elapsed()
}

/// A response read off a raw connection.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

/// Reads one response (a head and a `Content-Length` body), at most `within`.
async fn read_answer(stream: &mut TcpStream, within: Duration) -> Answer {
    tokio::time::timeout(within, async {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed before a response: {:?}", String::from_utf8_lossy(&bytes));
            bytes.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head:?}"));
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while bytes.len() < head_end + length {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed inside a response body");
            bytes.extend_from_slice(&buf[..n]);
        }
        let body = String::from_utf8_lossy(&bytes[head_end..head_end + length]).into_owned();
        Answer { status, head, body }
    })
    .await
    .unwrap_or_else(|_| panic!("no response within {within:?}"))
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// Sends a complete `GET /healthz` and expects `200 ok`.
async fn healthz(stream: &mut TcpStream) {
    stream.write_all(HEALTHZ).await.expect("write");
    let answer = read_answer(stream, Duration::from_secs(5)).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "ok"), "{answer:?}");
}

fn assert_near(what: &str, at: Duration, deadline: Duration) {
    assert!(
        at + EARLY >= deadline && at <= deadline + SLACK,
        "{what}: closed after {at:?}, expected about {deadline:?}"
    );
}

/// A request whose head is complete and whose body stops after `sent` bytes.
fn stalled_post(path: &str, content_type: &str, sent: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: 100\r\n\r\n{sent}"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_connections_are_closed_and_stalled_bodies_answered_408_within_ten_seconds() {
    let server = start(TestOptions::default()).await;
    let addr = server.addr;
    let within = TEN_SECONDS + Duration::from_secs(5);
    let mut checks = tokio::task::JoinSet::new();

    // Connections that send nothing at all.
    for n in 0..3 {
        checks.spawn(async move {
            let since = Instant::now();
            let at = closed_at(connect(addr).await, since, within).await;
            assert_near(&format!("silent connection {n}"), at, TEN_SECONDS);
        });
    }
    // A head cut off before its blank line.
    checks.spawn(async move {
        let since = Instant::now();
        let mut stream = connect(addr).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .expect("write");
        assert_near("half-sent head", closed_at(stream, since, within).await, TEN_SECONDS);
    });
    // A head trickled a line every 2 s: progress does not move the deadline.
    checks.spawn(async move {
        let since = Instant::now();
        let (reader, mut writer) = connect(addr).await.into_split();
        let trickle = tokio::spawn(async move {
            let _ = writer.write_all(b"GET /healthz HTTP/1.1\r\n").await;
            for n in 0..8 {
                tokio::time::sleep(Duration::from_secs(2)).await;
                if writer.write_all(format!("X-Slow-{n}: 1\r\n").as_bytes()).await.is_err() {
                    return;
                }
            }
        });
        assert_near("trickled head", closed_at(reader, since, within).await, TEN_SECONDS);
        trickle.abort();
    });
    // A form body that stalls at /oauth2/token: RFC 6749 JSON with 408.
    checks.spawn(async move {
        let mut stream = connect(addr).await;
        stream
            .write_all(&stalled_post(
                "/oauth2/token",
                "application/x-www-form-urlencoded",
                "grant_type=client_credentials&client_id=",
            ))
            .await
            .expect("write");
        let since = Instant::now();
        let answer = read_answer(&mut stream, within).await;
        assert_near("stalled form body", since.elapsed(), TEN_SECONDS);
        assert_eq!(answer.status, 408, "{answer:?}");
        let body: serde_json::Value = serde_json::from_str(&answer.body).expect("json");
        assert_eq!(body["error"], "invalid_request", "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| d.contains("stalled")),
            "{body}"
        );
        assert!(
            answer.head.to_ascii_lowercase().contains("connection: close"),
            "{answer:?}"
        );
        closed_at(stream, Instant::now(), Duration::from_secs(2)).await;
    });
    // A JSON body that stalls at sign-in: a problem document with 408.
    checks.spawn(async move {
        let mut stream = connect(addr).await;
        stream
            .write_all(&stalled_post(
                "/admin/v1/sessions",
                "application/json",
                "{\"email\": \"root@",
            ))
            .await
            .expect("write");
        let since = Instant::now();
        let answer = read_answer(&mut stream, within).await;
        assert_near("stalled JSON body", since.elapsed(), TEN_SECONDS);
        assert_eq!(answer.status, 408, "{answer:?}");
        assert!(
            answer.head.to_ascii_lowercase().contains("application/problem+json"),
            "{answer:?}"
        );
        let body: serde_json::Value = serde_json::from_str(&answer.body).expect("json");
        assert_eq!(
            (body["status"].as_u64(), body["title"].as_str()),
            (Some(408), Some("Request Timeout"))
        );
        closed_at(stream, Instant::now(), Duration::from_secs(2)).await;
    });
    // A client that asks for responses and never reads them is cut off once
    // it has taken nothing for 10 s. Its receive buffer is kept small so
    // that the responses cannot all fit in the kernel's buffers.
    checks.spawn(async move {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("receive buffer");
        let mut stream = socket.connect(addr).await.expect("connect");
        let requests = b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(64);
        stream.write_all(&requests).await.expect("write");
        tokio::time::sleep(TEN_SECONDS + SLACK + Duration::from_secs(1)).await;
        let mut received = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => received += n,
                }
            }
        })
        .await;
        assert!(
            ended.is_ok(),
            "still served after not reading for 10 s ({received} bytes read)"
        );
        // The document is over 100 kB: far from all 64 answers came.
        assert!(received < 64 * 100_000, "{received} bytes");
    });
    // A keep-alive connection idle past the head timeout is still served:
    // the contract ("Connections") keeps it 60 s.
    checks.spawn(async move {
        let mut stream = connect(addr).await;
        healthz(&mut stream).await;
        tokio::time::sleep(TEN_SECONDS + SLACK).await;
        healthz(&mut stream).await;
    });
    // Meanwhile the server answers everyone else at once.
    checks.spawn(async move {
        for _ in 0..5 {
            let mut stream = connect(addr).await;
            healthz(&mut stream).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    while let Some(check) = checks.join_next().await {
        if let Err(e) = check {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// A self-signed certificate for 127.0.0.1, in a directory of its own.
fn tls_files() -> (casebook_server::tls::TlsFiles, PathBuf) {
    let dir = std::env::temp_dir().join(format!("casebook-slow-tls-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let files = casebook_server::tls::TlsFiles {
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
    };
    std::fs::write(&files.cert, cert.pem()).expect("write");
    std::fs::write(&files.key, key.serialize_pem()).expect("write");
    (files, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_handshake_must_end_within_the_head_deadline() {
    let (files, dir) = tls_files();
    let server = start_with(TestOptions::default(), Some(files)).await;
    let addr = server.addr;
    let within = TEN_SECONDS + Duration::from_secs(5);
    let since = Instant::now();
    let silent = connect(addr).await;
    let mut started = connect(addr).await;
    // The first bytes of a ClientHello record, and no more.
    started
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .expect("write");
    let (silent_at, started_at) = tokio::join!(closed_at(silent, since, within), closed_at(started, since, within));
    assert_near("silent TLS connection", silent_at, TEN_SECONDS);
    assert_near("half-sent ClientHello", started_at, TEN_SECONDS);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_its_idle_time_but_not_one_sending_a_head() {
    let idle = Duration::from_secs(2);
    let server = start(TestOptions {
        keep_alive_idle: idle,
        ..TestOptions::default()
    })
    .await;
    let addr = server.addr;
    let idle_check = tokio::spawn(async move {
        let mut stream = connect(addr).await;
        healthz(&mut stream).await;
        let since = Instant::now();
        assert_near(
            "idle keep-alive",
            closed_at(stream, since, idle + SLACK * 2).await,
            idle,
        );
    });
    // Once the next head has started, it gets the head timeout from its
    // first byte, not the idle time.
    let head_check = tokio::spawn(async move {
        let mut stream = connect(addr).await;
        healthz(&mut stream).await;
        tokio::time::sleep(idle / 2).await;
        let since = Instant::now();
        stream.write_all(b"GET /healthz HTTP/1.1\r\n").await.expect("write");
        let at = closed_at(stream, since, TEN_SECONDS + SLACK * 2).await;
        assert_near("next head after idling", at, TEN_SECONDS);
    });
    for check in [idle_check, head_check] {
        if let Err(e) = check.await {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_a_new_connection_waits_for_a_free_slot() {
    let cap = 4;
    let server = start(TestOptions {
        max_connections: cap,
        ..TestOptions::default()
    })
    .await;
    let since = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..cap {
        silent.push(connect(server.addr).await);
    }
    // Let the server take all of them before the next one queues.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The kernel completes the handshake; the server reads nothing until a
    // slot frees, when the silent ones are closed at their head timeout.
    let mut waiting = connect(server.addr).await;
    waiting.write_all(HEALTHZ).await.expect("write");
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_secs(2), waiting.read(&mut byte)).await;
    assert!(early.is_err(), "an answer past a full cap: {early:?}");
    let answer = read_answer(&mut waiting, TEN_SECONDS + SLACK * 2).await;
    assert_eq!(answer.status, 200);
    assert_near("the wait for a slot", since.elapsed(), TEN_SECONDS);
    drop(silent);
}

/// A `casebook serve` process on its own SQLite database, killed if the
/// test ends while it still runs.
struct Process {
    child: Child,
    dir: PathBuf,
    log: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("--- log of casebook serve ---\n{log}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_addr() -> SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    probe.local_addr().expect("addr")
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_server_held_by_stalled_clients_within_fifteen_seconds() {
    let dir = std::env::temp_dir().join(format!("casebook-sigterm-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let addr = free_addr();
    let log = dir.join("serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_casebook"))
        .arg("serve")
        .env("CASEBOOK_ADDR", addr.to_string())
        .env(
            "CASEBOOK_DATABASE_URL",
            format!("sqlite://{}/casebook.db", dir.display()),
        )
        .env("CASEBOOK_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("CASEBOOK_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CASEBOOK_LOG", "info")
        .env_remove("CASEBOOK_MASTER_KEY")
        .env_remove("CASEBOOK_PUBLIC_URL")
        .env_remove("CASEBOOK_SMTP_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn casebook serve");
    let mut process = Process { child, dir, log };

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(format!("http://{addr}/healthz")).send().await
            && r.status() == 200
        {
            break;
        }
        if let Ok(Some(status)) = process.child.try_wait() {
            panic!("casebook serve exited with {status} before it was healthy");
        }
        assert!(Instant::now() < deadline, "casebook serve was not healthy within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Stalled clients of every kind.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(addr).await);
    }
    let mut half_head = connect(addr).await;
    half_head.write_all(b"GET /healthz HTTP/1.1\r\n").await.expect("write");
    held.push(half_head);
    let mut stalled_body = connect(addr).await;
    stalled_body
        .write_all(&stalled_post(
            "/oauth2/token",
            "application/x-www-form-urlencoded",
            "grant",
        ))
        .await
        .expect("write");
    held.push(stalled_body);
    let mut kept_alive = connect(addr).await;
    healthz(&mut kept_alive).await;
    held.push(kept_alive);
    // A body that trickles a byte a second never stalls long enough for the
    // body timeout: only the shutdown grace period ends it.
    let trickle = tokio::spawn(async move {
        let mut stream = connect(addr).await;
        let head = "POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                    Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 8000\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        for _ in 0..30 {
            if stream.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    // A request in flight when the signal comes is still answered.
    let mut in_flight = connect(addr).await;
    in_flight
        .write_all(&stalled_post(
            "/oauth2/token",
            "application/x-www-form-urlencoded",
            "grant_type=",
        ))
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let pid = process.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
    assert!(status.success(), "kill -TERM {pid}");
    let signalled = Instant::now();

    // No new connections once the signal is handled.
    let refused = async {
        loop {
            if TcpStream::connect(addr).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(3), refused).await.is_ok(),
        "still accepting connections 3 s after SIGTERM"
    );

    in_flight
        // The 89 bytes that complete the announced 100.
        .write_all(format!("{:<89}", "client_credentials").as_bytes())
        .await
        .expect("write the rest of the body");
    let answer = read_answer(&mut in_flight, Duration::from_secs(5)).await;
    assert_eq!(answer.status, 400, "the request in flight is answered: {answer:?}");

    let exited = loop {
        if let Some(status) = process.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(15),
            "casebook serve still running 15 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let took = signalled.elapsed();
    assert!(exited.success(), "casebook serve exited with {exited}");
    // The trickling body held its connection to the end of the grace period.
    assert!(
        took >= Duration::from_secs(9),
        "exited after {took:?}, before the grace period ended"
    );
    trickle.abort();
    drop(held);
}
