//! Real deliveries over TLS: a small SMTP relay on 127.0.0.1, its
//! certificate issued at test time by a CA that only the extra-CA file
//! (`CASEBOOK_EXTRA_CA_FILE`) makes trusted.

use super::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

const USER: &str = "relay@agency.example";
const PASSWORD: &str = "p@ss+w:rd&more";
/// `USER` and `PASSWORD` as a URL's user information carries them.
const USERINFO: &str = "relay%40agency.example:p%40ss+w%3Ard&more";
/// Long enough for a handshake on a loaded machine, short enough that a
/// dialogue gone wrong fails the test rather than hanging it.
const PATIENCE: Duration = Duration::from_secs(20);

/// What the relay saw, in order, with whether the connection was under TLS
/// at the time.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Auth { user: String, password: String, tls: bool },
    Mail { tls: bool },
    Data { message: String, tls: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Plain until the client sends STARTTLS; `offer` is whether EHLO
    /// advertises it (a relay that does not, or someone who strips it).
    StartTls { offer: bool },
    /// TLS from the first byte.
    Implicit,
}

/// A CA and the PEM file that holds it, removed when dropped.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    file: PathBuf,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Casebook relay test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
        let file = std::env::temp_dir().join(format!("casebook-relay-ca-{}-{name}.pem", std::process::id()));
        std::fs::write(&file, issuer.pem()).expect("CA file");
        Self { issuer, file }
    }

    /// What `serve` does with `CASEBOOK_EXTRA_CA_FILE`.
    fn roots(&self) -> Vec<CertificateDer<'static>> {
        read_ca_file(&self.file).expect("the CA file reads")
    }

    /// A TLS server configuration for a certificate naming `names`.
    fn acceptor(&self, names: &[&str]) -> TlsAcceptor {
        let key = KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let params = CertificateParams::new(names).expect("params");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .expect("certificate and key");
        TlsAcceptor::from(Arc::new(config))
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        std::fs::remove_file(&self.file).ok();
    }
}

struct Relay {
    port: u16,
    events: mpsc::UnboundedReceiver<Event>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    async fn start(mode: Mode, acceptor: TlsAcceptor) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let (tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (tx, acceptor) = (tx.clone(), acceptor.clone());
                tokio::spawn(async move {
                    // A refused handshake or a dropped connection ends this
                    // connection only; the test judges by the events.
                    let _ = serve(socket, mode, acceptor, tx).await;
                });
            }
        });
        Self { port, events, task }
    }

    fn seen(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.events.try_recv().ok()).collect()
    }
}

async fn serve(
    socket: tokio::net::TcpStream,
    mode: Mode,
    acceptor: TlsAcceptor,
    tx: mpsc::UnboundedSender<Event>,
) -> std::io::Result<()> {
    match mode {
        Mode::Implicit => {
            let tls = acceptor.accept(socket).await?;
            converse(tls, Phase::Tls { greet: true }, &tx).await?;
        }
        Mode::StartTls { offer } => {
            if let Some(socket) = converse(socket, Phase::Plain { offer }, &tx).await? {
                let tls = acceptor.accept(socket).await?;
                // RFC 3207: after STARTTLS the client speaks first.
                converse(tls, Phase::Tls { greet: false }, &tx).await?;
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Before TLS: STARTTLS is accepted when `offer`ed.
    Plain { offer: bool },
    /// Under TLS: a greeting first unless it follows STARTTLS.
    Tls { greet: bool },
}

/// One SMTP dialogue on `stream`; the stream back when the client asked for
/// STARTTLS and was told to go ahead.
async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    phase: Phase,
    tx: &mpsc::UnboundedSender<Event>,
) -> std::io::Result<Option<S>> {
    let mut stream = BufReader::new(stream);
    let (tls, offer_starttls) = match phase {
        Phase::Plain { offer } => (false, offer),
        Phase::Tls { .. } => (true, false),
    };
    if !matches!(phase, Phase::Tls { greet: false }) {
        stream.write_all(b"220 relay.test ESMTP\r\n").await?;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let command = line.trim_end().to_owned();
        let verb = command.split(' ').next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => {
                let reply = if offer_starttls {
                    "250-relay.test\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"
                } else {
                    "250-relay.test\r\n250 AUTH PLAIN LOGIN\r\n"
                };
                stream.write_all(reply.as_bytes()).await?;
            }
            "STARTTLS" if offer_starttls => {
                stream.write_all(b"220 go ahead\r\n").await?;
                stream.flush().await?;
                return Ok(Some(stream.into_inner()));
            }
            "AUTH" => {
                let (user, password) = authenticate(&mut stream, &command).await?;
                let accepted = user == USER && password == PASSWORD;
                tx.send(Event::Auth { user, password, tls }).ok();
                let reply: &[u8] = if accepted {
                    b"235 accepted\r\n"
                } else {
                    b"535 bad credentials\r\n"
                };
                stream.write_all(reply).await?;
            }
            "MAIL" => {
                tx.send(Event::Mail { tls }).ok();
                stream.write_all(b"250 ok\r\n").await?;
            }
            "DATA" => {
                stream.write_all(b"354 go ahead\r\n").await?;
                let mut message = String::new();
                loop {
                    line.clear();
                    if stream.read_line(&mut line).await? == 0 {
                        return Ok(None);
                    }
                    if line.trim_end() == "." {
                        break;
                    }
                    message.push_str(&line);
                }
                tx.send(Event::Data { message, tls }).ok();
                stream.write_all(b"250 queued\r\n").await?;
            }
            "QUIT" => {
                stream.write_all(b"221 bye\r\n").await?;
                return Ok(None);
            }
            "RCPT" | "RSET" | "NOOP" => stream.write_all(b"250 ok\r\n").await?,
            _ => stream.write_all(b"500 unknown command\r\n").await?,
        }
    }
}

/// The user and password of an `AUTH PLAIN` (initial response or not) or
/// `AUTH LOGIN` exchange.
async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    command: &str,
) -> std::io::Result<(String, String)> {
    let decode = |text: &str| {
        BASE64
            .decode(text.trim())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    };
    let mut words = command.split(' ').skip(1);
    let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
    let initial = words.next().map(str::to_owned);
    let mut ask = async |prompt: &[u8]| -> std::io::Result<String> {
        stream.write_all(prompt).await?;
        let mut answer = String::new();
        stream.read_line(&mut answer).await?;
        Ok(answer)
    };
    if mechanism == "LOGIN" {
        let user = decode(&ask(b"334 VXNlcm5hbWU6\r\n").await?);
        let password = decode(&ask(b"334 UGFzc3dvcmQ6\r\n").await?);
        return Ok((user, password));
    }
    let response = match initial {
        Some(response) => response,
        None => ask(b"334 \r\n").await?,
    };
    // authzid NUL authcid NUL password
    let plain = decode(&response);
    let mut parts = plain.split('\0').skip(1);
    let user = parts.next().unwrap_or("").to_owned();
    let password = parts.next().unwrap_or("").to_owned();
    Ok((user, password))
}

fn mailer(scheme: &str, port: u16, roots: &[CertificateDer<'static>]) -> Mailer {
    let url = format!("{scheme}://{USERINFO}@127.0.0.1:{port}");
    Mailer::from_url(Some(&url), Some("Casebook <casebook@agency.example>"), roots).expect("a valid URL")
}

async fn send(mailer: &Mailer) -> Result<(), String> {
    let sent = mailer.send(
        "partner@partner.example.org",
        "Casebook: over TLS",
        "The body of the notice.",
    );
    tokio::time::timeout(PATIENCE, sent)
        .await
        .unwrap_or_else(|_| Err("no answer in time".into()))
}

async fn delivered_under_tls(mode: Mode, scheme: &str) {
    let ca = TestCa::new(scheme);
    let mut relay = Relay::start(mode, ca.acceptor(&["127.0.0.1", "localhost"])).await;
    send(&mailer(scheme, relay.port, &ca.roots())).await.expect("delivered");
    let seen = relay.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(
        seen[0],
        Event::Auth {
            user: USER.into(),
            password: PASSWORD.into(),
            tls: true
        }
    );
    assert_eq!(seen[1], Event::Mail { tls: true });
    match &seen[2] {
        Event::Data { message, tls: true } => {
            assert!(message.contains("Subject: Casebook: over TLS"), "{message}");
            assert!(message.contains("The body of the notice."), "{message}");
        }
        other => panic!("not a message under TLS: {other:?}"),
    }
}

#[tokio::test]
async fn starttls_delivers_under_tls_to_a_relay_trusted_through_the_extra_ca_file() {
    delivered_under_tls(Mode::StartTls { offer: true }, "smtp+starttls").await;
}

#[tokio::test]
async fn smtps_delivers_under_tls_to_a_relay_trusted_through_the_extra_ca_file() {
    delivered_under_tls(Mode::Implicit, "smtps").await;
}

/// A failed delivery sent nothing, and its error shows no credential.
fn refused(outcome: Result<(), String>, relay: &mut Relay) -> String {
    let error = outcome.expect_err("must not be delivered");
    assert_eq!(relay.seen(), [], "{error}");
    assert!(!error.contains("p@ss") && !error.contains(USER), "{error}");
    error
}

#[tokio::test]
async fn an_untrusted_certificate_gets_neither_credentials_nor_mail() {
    for (mode, scheme) in [
        (Mode::StartTls { offer: true }, "smtp+starttls"),
        (Mode::Implicit, "smtps"),
    ] {
        let ca = TestCa::new(&format!("untrusted-{scheme}"));
        let mut relay = Relay::start(mode, ca.acceptor(&["127.0.0.1"])).await;
        // The platform's roots alone: the test CA is not among them.
        let error = refused(send(&mailer(scheme, relay.port, &[])).await, &mut relay);
        assert!(error.to_lowercase().contains("certificate"), "{scheme}: {error}");
        // Another CA in the extra file is no better.
        let other = TestCa::new(&format!("other-{scheme}"));
        refused(send(&mailer(scheme, relay.port, &other.roots())).await, &mut relay);
    }
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let ca = TestCa::new("another-name");
    let mut relay = Relay::start(Mode::Implicit, ca.acceptor(&["relay.agency.example"])).await;
    refused(send(&mailer("smtps", relay.port, &ca.roots())).await, &mut relay);
}

#[tokio::test]
async fn starttls_never_falls_back_to_plain_text() {
    let ca = TestCa::new("no-starttls");
    let mut relay = Relay::start(Mode::StartTls { offer: false }, ca.acceptor(&["127.0.0.1"])).await;
    let error = refused(
        send(&mailer("smtp+starttls", relay.port, &ca.roots())).await,
        &mut relay,
    );
    assert!(error.contains("STARTTLS"), "{error}");
}

#[tokio::test]
async fn a_plain_relay_stays_plain() {
    let ca = TestCa::new("plain");
    let mut relay = Relay::start(Mode::StartTls { offer: true }, ca.acceptor(&["127.0.0.1"])).await;
    send(&mailer("smtp", relay.port, &[])).await.expect("delivered");
    let seen = relay.seen();
    assert!(
        seen.iter().all(|e| matches!(
            e,
            Event::Auth { tls: false, .. } | Event::Mail { tls: false } | Event::Data { tls: false, .. }
        )),
        "{seen:?}"
    );
    assert_eq!(seen.len(), 3, "{seen:?}");
}
