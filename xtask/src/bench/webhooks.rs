//! Webhooks under load: a backlog of 10,000 audit events queued for one
//! endpoint (an HTTPS receiver on loopback under a CA made here) drains
//! while `/api/v1/me` is loaded. The figures are `/api/v1/me`'s rate during
//! the drain as a ratio of its rate without one, and how long the drain took.
//!
//! The backlog is queued while the server is stopped, through the store's
//! own `audit` (so each event's deliveries are queued as in a request), and
//! the drain starts with the server: the load runs from its first second.

use super::Bench;
use super::client::{JSON, expect, str_field};
use super::load::{Load, Script};
use super::server::{Backend, Database, Server, block_on};
use super::setup::{get_token, register, sign_in};
use casebook_server::crypto::MasterKey;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BACKLOG: usize = 10_000;

#[derive(Debug, Clone, Copy)]
pub(super) struct WebhooksPoint {
    pub(super) baseline: Load,
    pub(super) during: Load,
    pub(super) drain: Duration,
}

impl Bench {
    pub(super) fn webhooks(&self) -> Result<WebhooksPoint, String> {
        println!("\n== webhooks: a backlog of {BACKLOG} events drains under /api/v1/me load (SQLite) ==");
        let master_key = MasterKey::generate_base64();
        let database = Database::create(&Backend::Sqlite, "webhooks")?;
        let dir = &database.dir;
        let receiver = Receiver::start(dir.path())?;
        let settings = [
            ("CASEBOOK_ALLOW_PRIVATE_WEBHOOK_URLS", "true".to_owned()),
            ("CASEBOOK_EXTRA_CA_FILE", receiver.ca_file.display().to_string()),
        ];
        let server = Server::start_with(&self.binary, &database, &master_key, &settings)?;
        let session = sign_in(&server)?;
        let (client_id, secret) = register(&server, &session, 1)?;
        let token = get_token(server.addr, &client_id, &secret)?;
        let me = Script::Get { bearer: Some(token) };
        let baseline = self.measure(dir, &server, "/api/v1/me", &me, "GET /api/v1/me, no backlog")?;
        let body =
            serde_json::json!({"url": format!("https://127.0.0.1:{}/hook", receiver.port), "events": ["bench.*"]});
        let created = expect(
            server.addr,
            "POST",
            "/admin/v1/webhooks",
            Some(&session),
            Some((JSON, &body.to_string())),
            201,
        )?;
        str_field(&created, "secret")?;
        drop(server);
        queue_backlog(&database.url)?;
        let started = Instant::now();
        let server = Server::start_with(&self.binary, &database, &master_key, &settings)?;
        // A new port is a new issuer (no public URL is set): a new token.
        let me = Script::Get {
            bearer: Some(get_token(server.addr, &client_id, &secret)?),
        };
        let during = self.wrk_run(dir, &server, "/api/v1/me", &me, self.plan.phase, None)?;
        println!(
            "  {:<44} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
            "GET /api/v1/me, while draining",
            during.rps,
            during.p50_us / 1000.0,
            during.p99_us / 1000.0
        );
        let deadline = Instant::now() + Duration::from_secs(300);
        while receiver.count.load(Ordering::Relaxed) < BACKLOG {
            if Instant::now() > deadline {
                return Err(format!(
                    "the backlog did not drain within 5 minutes: {} of {BACKLOG} delivered",
                    receiver.count.load(Ordering::Relaxed)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let drain = started.elapsed();
        let point = WebhooksPoint {
            baseline,
            during,
            drain,
        };
        println!(
            "  drained {BACKLOG} deliveries in {:.1} s (from the server's start); /api/v1/me during/without {:.3}",
            point.drain.as_secs_f64(),
            point.during.rps / point.baseline.rps
        );
        Ok(point)
    }
}

/// Writes `BACKLOG` audit events, each queuing its delivery, in one transaction.
fn queue_backlog(url: &str) -> Result<(), String> {
    block_on(async {
        let db = casebook_server::db::Db::connect(url, casebook_server::config::Backend::Sqlite).await?;
        let at = casebook_server::store::Scope::root(db.clone());
        let actor = casebook_server::store::ActorRef::operator();
        let mut tx = at.begin().await?;
        for i in 0..BACKLOG {
            let target = format!("bench-{i}");
            let event = casebook_server::store::Event::new("bench.event", "bench", &target);
            casebook_server::store::audit(&mut tx, &at, &actor, event).await?;
        }
        tx.commit().await?;
        db.close().await;
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}

/// An HTTPS receiver answering 204 to every request, counting them.
struct Receiver {
    port: u16,
    ca_file: std::path::PathBuf,
    count: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    fn start(dir: &std::path::Path) -> Result<Self, String> {
        use tokio_rustls::rustls;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        let ca_file = dir.join("webhooks-ca.pem");
        std::fs::write(&ca_file, ca.pem()).map_err(|e| e.to_string())?;
        let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .map_err(|e| e.to_string())?
            .signed_by(&key, &ca)
            .map_err(|e| e.to_string())?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .map_err(|e| e.to_string())?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let count = Arc::new(AtomicUsize::new(0));
        let counted = count.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, count) = (acceptor.clone(), counted.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        answer(tls, count).await;
                    }
                });
            }
        });
        Ok(Self {
            port,
            ca_file,
            count,
            _runtime: runtime,
        })
    }
}

/// Answers 204 to each request on a kept-alive connection.
async fn answer(mut tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>, count: Arc<AtomicUsize>) {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let Some(head_end) = data.windows(4).position(|w| w == b"\r\n\r\n").map(|at| at + 4) else {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while data.len() < head_end + length {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
        data.drain(..head_end + length);
        count.fetch_add(1, Ordering::Relaxed);
        if tls
            .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
    }
}
