//! A partner's key host: HTTPS on loopback under a CA made once per test
//! run, answering each path as the test says and counting what it is asked,
//! so a test can tell a cached answer from a fetch.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    file: PathBuf,
}

fn ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "Casebook test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
        let file = std::env::temp_dir().join(format!("casebook-test-ca-{}.pem", std::process::id()));
        std::fs::write(&file, issuer.pem()).expect("CA file");
        TestCa { issuer, file }
    })
}

/// The PEM file of the CA every key host's certificate chains to: what a
/// server under test is given as `CASEBOOK_EXTRA_CA_FILE`.
pub fn ca_file() -> &'static Path {
    &ca().file
}

/// A TLS acceptor presenting a certificate for `127.0.0.1` and `localhost`
/// under the test CA: for any loopback HTTPS server a test runs.
pub fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    let key = KeyPair::generate().expect("key");
    let params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).expect("params");
    let cert = params.signed_by(&key, &ca().issuer).expect("certificate");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// How the host answers one path.
#[derive(Debug, Clone)]
pub enum Answer {
    Jwks(Value),
    /// A 302 to another URL.
    Redirect(String),
    /// `200` with this many bytes of JSON-looking filler and no length
    /// header, so that only the reader decides where to stop.
    Huge(usize),
    /// Accept and never answer.
    Stall,
}

#[derive(Default)]
struct Paths {
    answers: HashMap<String, Answer>,
    asked: HashMap<String, usize>,
}

pub struct KeyHost {
    pub addr: SocketAddr,
    paths: Arc<Mutex<Paths>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for KeyHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl KeyHost {
    /// Serves on 127.0.0.1 with a certificate for `127.0.0.1` and `localhost`.
    pub async fn start() -> Self {
        let acceptor = tls_acceptor();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let paths = Arc::new(Mutex::new(Paths::default()));
        let shared = paths.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, paths) = (acceptor.clone(), shared.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        serve(tls, paths).await;
                    }
                });
            }
        });
        Self { addr, paths, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }

    pub fn answer(&self, path: &str, answer: Answer) {
        self.paths.lock().unwrap().answers.insert(path.to_owned(), answer);
    }

    /// How many requests for `path` arrived.
    pub fn asked(&self, path: &str) -> usize {
        self.paths.lock().unwrap().asked.get(path).copied().unwrap_or(0)
    }
}

async fn serve(mut tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>, paths: Arc<Mutex<Paths>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match tls.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let answer = {
        let mut paths = paths.lock().unwrap();
        *paths.asked.entry(path.clone()).or_default() += 1;
        paths.answers.get(&path).cloned()
    };
    let response = match answer {
        Some(Answer::Jwks(set)) => {
            let body = set.to_string();
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/jwk-set+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        }
        Some(Answer::Redirect(to)) => {
            format!("HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .into_bytes()
        }
        Some(Answer::Huge(size)) => {
            let mut out =
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{\"keys\":[],\"x\":\""
                    .to_vec();
            out.resize(out.len() + size, b'a');
            out.extend_from_slice(b"\"}");
            out
        }
        Some(Answer::Stall) => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return;
        }
        None => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
    };
    // The reader may hang up part way (a body over its limit): that is fine.
    let _ = tls.write_all(&response).await;
    let _ = tls.shutdown().await;
}
