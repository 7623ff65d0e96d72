//! Alerts to an application's address: registered, secret revealed, secret
//! rotated, disabled, deleted.
//!
//! A notice is written to the `outbox` in the transaction of the change it
//! describes, so it exists exactly when the change does. A background task
//! delivers due notices by SMTP when `CASEBOOK_SMTP_URL` is set, or writes them
//! to the log otherwise, retrying failures with backoff; a failed delivery
//! never fails or undoes the change.
//!
//! The relay is reached one of three ways, chosen by the URL's scheme:
//! `smtp://` in plain text (a local MTA or a sidecar), `smtp+starttls://`
//! with STARTTLS required before anything else is sent (a relay that does
//! not offer it gets no credentials and no mail), or `smtps://` with TLS
//! from the first byte. TLS is rustls on aws-lc-rs; the relay's certificate
//! must verify against the platform's roots plus `CASEBOOK_EXTRA_CA_FILE`,
//! the bundle `jwks_uri` fetches trust too, and must name the host in the URL.

use crate::crypto::MasterKey;
use crate::db::Db;
use crate::store;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use prometheus_client::metrics::counter::Counter;
use std::path::Path;
use std::time::Duration;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

#[cfg(test)]
mod tls_tests;

/// Deliveries attempted before a notice is given up on (about a day of backoff).
pub const MAX_ATTEMPTS: i64 = 12;
/// How long a replica holds a notice it is delivering before another may retry it.
const LEASE: Duration = Duration::from_secs(60);

/// The wording is a product rule, so it lives with the rules.
pub use casebook_domain::notice::Notice;

/// Every form `CASEBOOK_SMTP_URL` takes, for the errors that refuse one.
const FORMS: &str = "smtp://[user:password@]host[:port] (a plain relay, port 25 by default), \
    smtp+starttls://[user:password@]host[:port] (STARTTLS required, port 587 by default) or \
    smtps://[user:password@]host[:port] (TLS from the start, port 465 by default)";

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    Plain,
    StartTls,
    Implicit,
}

impl Security {
    fn of_scheme(scheme: &str) -> Option<Self> {
        match scheme {
            "smtp" => Some(Self::Plain),
            "smtp+starttls" => Some(Self::StartTls),
            "smtps" => Some(Self::Implicit),
            _ => None,
        }
    }

    fn scheme(self) -> &'static str {
        match self {
            Self::Plain => "smtp",
            Self::StartTls => "smtp+starttls",
            Self::Implicit => "smtps",
        }
    }

    /// RFC 5321's relay port, RFC 6409's submission port, RFC 8314's
    /// submissions port.
    fn default_port(self) -> u16 {
        match self {
            Self::Plain => 25,
            Self::StartTls => 587,
            Self::Implicit => 465,
        }
    }
}

/// Where notices go.
#[derive(Clone)]
pub enum Mailer {
    /// No SMTP relay configured: notices are written to the log.
    Log,
    Smtp {
        /// Boxed: with its TLS settings it is hundreds of bytes, which every
        /// `Config` would carry even when notices are only logged.
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        from: Mailbox,
        /// `scheme://host:port`, without credentials: what may be shown.
        relay: String,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Log => f.write_str("Mailer::Log"),
            // The transport holds the relay's credentials: never printed.
            Self::Smtp { from, relay, .. } => write!(f, "Mailer::Smtp {{ relay: {relay}, from: {from} }}"),
        }
    }
}

/// The certificates of the PEM bundle at `path` (`CASEBOOK_EXTRA_CA_FILE`),
/// for [`Mailer::from_url`] to trust beside the platform's roots. The error
/// reads as `config::ConfigError::ExtraCaFile` does, whose module this one
/// may not name (`config` names this one).
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let failed = |reason: String| format!("CASEBOOK_EXTRA_CA_FILE {}: {reason}", path.display());
    let pem = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(format!("not a PEM bundle of certificates: {e}")))?;
    if certs.is_empty() {
        return Err(failed("holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// `CASEBOOK_SMTP_URL` taken apart.
struct RelayUrl {
    security: Security,
    /// Without the brackets of an IPv6 literal, which neither the resolver
    /// nor the certificate check wants.
    host: String,
    port: u16,
    /// User and password, percent-decoded.
    credentials: Option<(String, String)>,
}

impl RelayUrl {
    /// No error names the URL or any part of it: it may hold the relay's
    /// password, and a URL without a scheme parses with its user as one.
    fn parse(url: &str) -> Result<Self, String> {
        let invalid = || format!("CASEBOOK_SMTP_URL is not a valid URL: it must be {FORMS}");
        let parsed = url::Url::parse(url).map_err(|_| invalid())?;
        let security =
            Security::of_scheme(parsed.scheme()).ok_or_else(|| format!("CASEBOOK_SMTP_URL must be {FORMS}"))?;
        if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() || parsed.fragment().is_some() {
            // lettre's own URLs choose TLS with `?tls=`; ignoring it here
            // would send in plain text what the operator meant to protect.
            return Err(format!(
                "CASEBOOK_SMTP_URL takes no path, query or fragment: it must be {FORMS}"
            ));
        }
        let host = match parsed.host() {
            // Only `http`-like schemes have their host lowercased by the parser.
            Some(url::Host::Domain(name)) if !name.is_empty() => name.to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(invalid()),
        };
        let credentials = (!parsed.username().is_empty()).then(|| {
            (
                percent_decoded(parsed.username()),
                parsed.password().map(percent_decoded).unwrap_or_default(),
            )
        });
        Ok(Self {
            security,
            port: parsed.port().unwrap_or(security.default_port()),
            host,
            credentials,
        })
    }

    /// `scheme://host:port`: the relay as logs and `Debug` may show it.
    fn shown(&self) -> String {
        let scheme = self.security.scheme();
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl Mailer {
    /// `CASEBOOK_SMTP_URL` in one of the three forms of the module's doc;
    /// unset or empty, notices are logged. A TLS relay's certificate must
    /// chain to the platform's roots or to one of `extra_roots` (see
    /// [`read_ca_file`]); a plain relay ignores them.
    pub fn from_url(
        url: Option<&str>,
        from: Option<&str>,
        extra_roots: &[CertificateDer<'static>],
    ) -> Result<Self, String> {
        let Some(url) = url.filter(|u| !u.is_empty()) else {
            return Ok(Self::Log);
        };
        let relay = RelayUrl::parse(url)?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&relay.host).port(relay.port);
        if relay.security != Security::Plain {
            let mut tls = TlsParameters::builder(relay.host.clone());
            for root in extra_roots {
                let root = Certificate::from_der(root.to_vec())
                    .map_err(|e| format!("CASEBOOK_EXTRA_CA_FILE holds a certificate TLS cannot use: {e}"))?;
                tls = tls.add_root_certificate(root);
            }
            let tls = tls
                .build()
                .map_err(|e| format!("could not set up TLS for the CASEBOOK_SMTP_URL relay: {e}"))?;
            builder = builder.tls(match relay.security {
                // Required, never Opportunistic: a relay (or someone between)
                // that does not offer STARTTLS gets no credentials and no mail.
                Security::StartTls => Tls::Required(tls),
                _ => Tls::Wrapper(tls),
            });
        }
        let shown = relay.shown();
        if let Some((user, password)) = relay.credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        let from = from
            .unwrap_or("Casebook <no-reply@casebook.invalid>")
            .parse::<Mailbox>()
            .map_err(|e| format!("CASEBOOK_SMTP_FROM is not a valid mailbox: {e}"))?;
        Ok(Self::Smtp {
            transport: Box::new(builder.build()),
            from,
            relay: shown,
        })
    }

    async fn send(&self, recipient: &str, subject: &str, body: &str) -> Result<(), String> {
        match self {
            Self::Log => {
                tracing::info!(
                    to = recipient,
                    subject,
                    "notification (no CASEBOOK_SMTP_URL set, logged instead of sent)"
                );
                Ok(())
            }
            Self::Smtp { transport, from, .. } => {
                let to: Mailbox = recipient.parse().map_err(|e| format!("bad recipient: {e}"))?;
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(subject)
                    .body(body.to_owned())
                    .map_err(|e| format!("could not build the message: {e}"))?;
                transport.send(message).await.map(|_| ()).map_err(|e| e.to_string())
            }
        }
    }
}

/// A URL's user or password with its `%XX` escapes decoded, and nothing
/// else changed: a form decoder would turn `+` into a space and stop at `&`,
/// both of which a password may hold.
fn percent_decoded(encoded: &str) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        let escaped = match tail {
            [hi, lo, ..] if first == b'%' => hex(*hi).zip(hex(*lo)).map(|(h, l)| (h * 16 + l) as u8),
            _ => None,
        };
        match escaped {
            Some(byte) => {
                bytes.push(byte);
                rest = &tail[2..];
            }
            None => {
                bytes.push(first);
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Delivers what is due, of every tenant; returns how many were delivered.
/// Each failed attempt is counted in `failures`.
pub async fn deliver_due(
    db: &Db,
    master: &MasterKey,
    mailer: &Mailer,
    failures: &Counter,
) -> Result<usize, sqlx::Error> {
    let mut delivered = 0;
    for notice in store::due_notices(db, MAX_ATTEMPTS, 20).await? {
        // Each lease starts now: earlier sends in this loop may have been slow.
        if !store::lease_notice(db, &notice.id, LEASE).await? {
            continue;
        }
        let attempts = notice.attempts + 1;
        // A notice with a one-time link keeps it sealed until this moment.
        let body = match &notice.sealed_body {
            None => notice.body.clone(),
            Some(sealed) => match master.open(sealed, &notice.id) {
                Ok(plain) => String::from_utf8_lossy(&plain).into_owned(),
                Err(error) => {
                    failures.inc();
                    let error = format!("its sealed body could not be opened: {error}");
                    tracing::error!(notice = %notice.id, tenant = %notice.tenant_id, %error, "notification not sent");
                    store::mark_failed(db, &notice.id, attempts, backoff(notice.attempts), &error).await?;
                    continue;
                }
            },
        };
        match mailer.send(&notice.recipient, &notice.subject, &body).await {
            Ok(()) => {
                store::mark_delivered(db, &notice.id, attempts).await?;
                delivered += 1;
            }
            Err(error) => {
                failures.inc();
                tracing::warn!(
                    notice = %notice.id,
                    tenant = %notice.tenant_id,
                    attempt = attempts,
                    %error,
                    "notification delivery failed; will retry"
                );
                store::mark_failed(db, &notice.id, attempts, backoff(notice.attempts), &error).await?;
            }
        }
    }
    Ok(delivered)
}

/// 30 s, 1 min, 2 min … capped at 2 h, after `failed` earlier attempts.
fn backoff(failed: i64) -> Duration {
    let secs = 30u64 << failed.clamp(0, 8);
    Duration::from_secs(secs.min(2 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_thirty_seconds_to_two_hours() {
        assert_eq!(backoff(0), Duration::from_secs(30));
        assert_eq!(backoff(1), Duration::from_secs(60));
        assert_eq!(backoff(7), Duration::from_secs(3840));
        assert_eq!(backoff(8), Duration::from_secs(7200));
        assert_eq!(backoff(40), Duration::from_secs(7200));
    }

    fn relay(url: &str) -> RelayUrl {
        match RelayUrl::parse(url) {
            Ok(relay) => relay,
            Err(e) => panic!("{url}: {e}"),
        }
    }

    fn refusal(url: &str) -> String {
        match Mailer::from_url(Some(url), None, &[]) {
            Ok(mailer) => panic!("{url} was taken: {mailer:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn unset_or_empty_logs_instead() {
        assert!(matches!(Mailer::from_url(None, None, &[]), Ok(Mailer::Log)));
        assert!(matches!(Mailer::from_url(Some(""), None, &[]), Ok(Mailer::Log)));
    }

    #[test]
    fn each_scheme_has_its_security_and_default_port() {
        for (url, security, port) in [
            ("smtp://mail.example.org", Security::Plain, 25),
            ("smtp+starttls://mail.example.org", Security::StartTls, 587),
            ("smtps://mail.example.org", Security::Implicit, 465),
            ("SMTPS://mail.example.org/", Security::Implicit, 465),
            ("smtp://127.0.0.1:2525", Security::Plain, 2525),
            ("smtp+starttls://mail.example.org:2587", Security::StartTls, 2587),
            ("smtps://mail.example.org:4650", Security::Implicit, 4650),
        ] {
            let parsed = relay(url);
            assert_eq!((parsed.security, parsed.port), (security, port), "{url}");
            assert!(parsed.credentials.is_none(), "{url}");
        }
        let v6 = relay("smtps://[::1]:4650");
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.shown(), "smtps://[::1]:4650");
        assert_eq!(
            relay("smtp+starttls://Mail.Example.org").shown(),
            "smtp+starttls://mail.example.org:587"
        );
    }

    #[test]
    fn credentials_are_percent_decoded_and_nothing_else() {
        let parsed = relay("smtp+starttls://relay%40agency.example:p%40ss+w%3Ard&x%25@mail.example.org");
        assert_eq!(
            parsed.credentials,
            Some(("relay@agency.example".to_owned(), "p@ss+w:rd&x%".to_owned()))
        );
        assert_eq!(
            relay("smtps://user@mail.example.org").credentials,
            Some(("user".to_owned(), String::new()))
        );
        // A stray `%` is kept as written rather than refused.
        assert_eq!(percent_decoded("100%"), "100%");
        assert_eq!(percent_decoded("%zz%4"), "%zz%4");
        assert_eq!(percent_decoded("%C3%A9"), "é");
    }

    #[test]
    fn every_form_builds_a_mailer() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp+starttls://user:secret@127.0.0.1",
            "smtps://user:secret@mail.example.org:465",
        ] {
            assert!(
                matches!(Mailer::from_url(Some(url), None, &[]), Ok(Mailer::Smtp { .. })),
                "{url}"
            );
        }
        assert!(Mailer::from_url(Some("smtp://127.0.0.1:2525"), Some("not a mailbox"), &[]).is_err());
    }

    #[test]
    fn another_scheme_is_refused_naming_the_three_forms() {
        for url in [
            "https://example.org",
            "smtp+tls://mail.example.org",
            "submissions://mail.example.org",
            "mail.example.org:25",
        ] {
            let error = refusal(url);
            for form in ["smtp://", "smtp+starttls://", "smtps://", "587", "465"] {
                assert!(error.contains(form), "{url}: {error}");
            }
        }
    }

    #[test]
    fn a_query_path_or_missing_host_is_refused() {
        for url in [
            "smtp://mail.example.org?tls=required",
            "smtp://mail.example.org/ehlo-name",
            "smtps://mail.example.org#x",
            "smtps://:465",
            "smtp+starttls:mail.example.org",
            "not a url",
        ] {
            let error = refusal(url);
            assert!(error.starts_with("CASEBOOK_SMTP_URL"), "{url}: {error}");
            assert!(error.contains("smtp+starttls://"), "{url}: {error}");
        }
    }

    #[test]
    fn credentials_are_never_shown() {
        // Without a scheme, the user parses as one: it must not be echoed either.
        for url in [
            "alice:s3cret-pw@mail.example.org",
            "imap://alice:s3cret-pw@mail.example.org",
            "smtps://alice:s3cret-pw@mail.example.org/path",
            "smtps://alice:s3cret-pw@mail.example.org?tls=required",
            "smtps://alice:s3cret-pw@[not-an-ip]",
        ] {
            let error = refusal(url);
            assert!(!error.contains("alice") && !error.contains("s3cret"), "{url}: {error}");
        }
        let mailer = Mailer::from_url(Some("smtps://alice:s3cret-pw@mail.example.org"), None, &[]).unwrap();
        let shown = format!("{mailer:?}");
        assert_eq!(
            shown,
            "Mailer::Smtp { relay: smtps://mail.example.org:465, from: Casebook <no-reply@casebook.invalid> }"
        );
    }

    #[test]
    fn a_ca_file_is_read_or_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("casebook-notify-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = rcgen::generate_simple_self_signed(vec!["ca.example".to_owned()]).unwrap();
        let good = dir.join("good.pem");
        std::fs::write(&good, format!("{}{}", ca.cert.pem(), ca.cert.pem())).unwrap();
        assert_eq!(read_ca_file(&good).unwrap().len(), 2);
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        for path in [empty.as_path(), Path::new("/nonexistent/ca.pem")] {
            let error = read_ca_file(path).unwrap_err();
            assert!(error.starts_with("CASEBOOK_EXTRA_CA_FILE"), "{error}");
        }
        let roots = read_ca_file(&good).unwrap();
        assert!(matches!(
            Mailer::from_url(Some("smtps://127.0.0.1"), None, &roots),
            Ok(Mailer::Smtp { .. })
        ));
        std::fs::remove_dir_all(&dir).ok();
    }
}
