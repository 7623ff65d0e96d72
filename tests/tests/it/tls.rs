//! `CASEBOOK_TLS_CERT` / `CASEBOOK_TLS_KEY`: `casebook serve` answers HTTPS
//! itself, and on SIGHUP new connections get the certificate now in the
//! files while a connection already open carries on with its own.

use casebook_server::config::Backend;
use casebook_server::crypto::MasterKey;
use casebook_tests::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

/// A certificate for 127.0.0.1, from a CA of its own.
struct Issued {
    ca: CertificateDer<'static>,
    leaf: CertificateDer<'static>,
    leaf_pem: String,
    key_pem: String,
}

fn issue(name: &str) -> Issued {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, format!("Casebook test CA {name}"));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
    let key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&key, &issuer)
        .expect("certificate");
    Issued {
        ca: CertificateDer::from_pem_slice(issuer.pem().as_bytes()).expect("CA PEM"),
        leaf: leaf.der().clone(),
        leaf_pem: leaf.pem(),
        key_pem: key.serialize_pem(),
    }
}

fn install(issued: &Issued, cert: &std::path::Path, key: &std::path::Path) {
    std::fs::write(cert, &issued.leaf_pem).expect("write the certificate");
    std::fs::write(key, &issued.key_pem).expect("write the key");
}

/// A client that trusts every CA in `trusted`, as one that follows the
/// server across a change of CA would.
fn connector(trusted: &[&Issued]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for issued in trusted {
        roots.add(issued.ca.clone()).expect("a CA");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    // A resumed session shows the certificate of the session it resumes:
    // every connection here makes a full handshake, to see what the server
    // presents now.
    config.resumption = rustls::client::Resumption::disabled();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn connect(connector: &tokio_rustls::TlsConnector, addr: SocketAddr) -> Tls {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    connector
        .connect(ServerName::from(addr.ip()), tcp)
        .await
        .expect("TLS handshake")
}

/// The leaf certificate the server showed on this connection.
fn shown(tls: &Tls) -> CertificateDer<'static> {
    tls.get_ref().1.peer_certificates().expect("the server's certificate")[0]
        .clone()
        .into_owned()
}

/// One GET on a connection kept alive: the status and the body.
async fn get(tls: &mut Tls, path: &str) -> (u16, String) {
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or_else(|| panic!("a Content-Length in {head}"));
            let start = end + 4;
            while received.len() < start + length {
                let n = tls.read(&mut chunk).await.expect("read");
                assert!(n > 0, "the connection closed mid-body");
                received.extend_from_slice(&chunk[..n]);
            }
            let status = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .expect("status");
            let body = String::from_utf8_lossy(&received[start..start + length]).into_owned();
            return (status, body);
        }
        let n = tls.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the connection closed: {}", String::from_utf8_lossy(&received));
        received.extend_from_slice(&chunk[..n]);
    }
}

fn hang_up(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -HUP {pid}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_gives_new_connections_the_new_certificate_and_drops_none() {
    let Some(binary) = casebook_binary() else {
        return;
    };
    let db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let dir = db.sqlite_file().expect("a file").parent().expect("a dir").to_owned();
    let (cert_file, key_file) = (dir.join("tls.crt"), dir.join("tls.key"));
    let (first, second) = (issue("one"), issue("two"));
    install(&first, &cert_file, &key_file);
    let mut served = ServeProcess::start(
        &binary,
        db,
        &[
            ("CASEBOOK_TLS_CERT", cert_file.display().to_string()),
            ("CASEBOOK_TLS_KEY", key_file.display().to_string()),
        ],
    )
    .await;
    let addr = served.addr;
    served.wait_for_log(&format!("listening on https://{addr}"), 0).await;
    let client = connector(&[&first, &second]);

    let mut open = connect(&client, addr).await;
    assert_eq!(shown(&open), first.leaf);
    assert_eq!(get(&mut open, "/healthz").await, (200, "ok".to_owned()));
    // Served over TLS, the default issuer is https.
    let (status, metadata) = get(&mut open, "/.well-known/oauth-authorization-server").await;
    assert_eq!(status, 200);
    let issuer = serde_json::from_str::<serde_json::Value>(&metadata).expect("JSON")["issuer"].clone();
    assert_eq!(issuer, format!("https://{addr}"));

    // The second pair written over the first, then SIGHUP.
    install(&second, &cert_file, &key_file);
    hang_up(served.pid());
    served.wait_for_log("TLS certificate reloaded", 0).await;

    // The open connection was not dropped: it goes on, with its session.
    assert_eq!(get(&mut open, "/healthz").await, (200, "ok".to_owned()));
    assert_eq!(shown(&open), first.leaf);
    // A new connection is shown the new certificate.
    let mut fresh = connect(&client, addr).await;
    assert_eq!(shown(&fresh), second.leaf);
    assert_eq!(get(&mut fresh, "/healthz").await, (200, "ok".to_owned()));

    // A pair that does not load is refused; the one in use stays.
    std::fs::write(&key_file, "not a key at all").expect("write");
    hang_up(served.pid());
    served.wait_for_log("TLS certificate not reloaded", 0).await;
    let mut after = connect(&client, addr).await;
    assert_eq!(shown(&after), second.leaf);
    assert_eq!(get(&mut after, "/healthz").await, (200, "ok".to_owned()));
    assert_eq!(get(&mut open, "/healthz").await.0, 200, "still open");
    let log = served.stderr();
    for issued in [&first, &second] {
        let key_line = issued.key_pem.lines().nth(1).expect("a line of the key");
        assert!(!log.contains(key_line), "a private key in the log");
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_without_its_key_stops_the_start() {
    let Some(binary) = casebook_binary() else {
        return;
    };
    let db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let dir = db.sqlite_file().expect("a file").parent().expect("a dir").to_owned();
    let issued = issue("alone");
    let (cert_file, key_file) = (dir.join("tls.crt"), dir.join("tls.key"));
    install(&issued, &cert_file, &key_file);
    let other = issue("other");
    let other_key = dir.join("other.key");
    std::fs::write(&other_key, &other.key_pem).expect("write");
    for (env, needle) in [
        (
            vec![("CASEBOOK_TLS_CERT", &cert_file)],
            "CASEBOOK_TLS_KEY (--tls-key) is not",
        ),
        (
            vec![("CASEBOOK_TLS_CERT", &cert_file), ("CASEBOOK_TLS_KEY", &other_key)],
            "is not the key of the certificate",
        ),
    ] {
        let mut command = casebook_command(&binary);
        command
            .arg("serve")
            .env("CASEBOOK_ADDR", free_addr().to_string())
            .env("CASEBOOK_DATABASE_URL", &db.url)
            .env("CASEBOOK_MASTER_KEY", MasterKey::generate_base64());
        for (name, path) in &env {
            command.env(name, path);
        }
        let output = command.output().expect("run casebook serve");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(stderr.contains(needle), "{needle:?} in {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
}
