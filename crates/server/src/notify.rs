//! Alerts to an application's address: registered, secret revealed, secret
//! rotated, disabled, deleted.
//!
//! A notice is written to the `outbox` in the transaction of the change it
//! describes, so it exists exactly when the change does. A background task
//! delivers due notices by SMTP when `CASEBOOK_SMTP_URL` is set, or writes them
//! to the log otherwise, retrying failures with backoff; a failed delivery
//! never fails or undoes the change.

use crate::db::Db;
use crate::store;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use prometheus_client::metrics::counter::Counter;
use std::time::Duration;

/// Deliveries attempted before a notice is given up on (about a day of backoff).
pub const MAX_ATTEMPTS: i64 = 12;
/// How long a replica holds a notice it is delivering before another may retry it.
const LEASE: Duration = Duration::from_secs(60);

/// The wording is a product rule, so it lives with the rules.
pub use casebook_domain::notice::Notice;

/// Where notices go.
#[derive(Clone)]
pub enum Mailer {
    /// No SMTP relay configured: notices are written to the log.
    Log,
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Log => f.write_str("Mailer::Log"),
            // The URL may hold relay credentials: never printed.
            Self::Smtp { from, .. } => write!(f, "Mailer::Smtp {{ from: {from} }}"),
        }
    }
}

impl Mailer {
    /// `smtp://[user:password@]host[:port]`, a plain-text relay (a local MTA
    /// or a sidecar that does TLS onwards).
    pub fn from_url(url: Option<&str>, from: Option<&str>) -> Result<Self, String> {
        let Some(url) = url.filter(|u| !u.is_empty()) else {
            return Ok(Self::Log);
        };
        if !url.starts_with("smtp://") {
            return Err("CASEBOOK_SMTP_URL must be smtp://[user:password@]host[:port] (a plain relay)".into());
        }
        let invalid = || "CASEBOOK_SMTP_URL is not a valid smtp://[user:password@]host[:port] URL".to_owned();
        let parsed = url::Url::parse(url).map_err(|_| invalid())?;
        let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(invalid)?;
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(parsed.port().unwrap_or(25));
        if !parsed.username().is_empty() {
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            let user = decode(parsed.username()).unwrap_or_default();
            let password = parsed.password().and_then(decode).unwrap_or_default();
            builder = builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
                user, password,
            ));
        }
        let transport = builder.build();
        let from = from
            .unwrap_or("Casebook <no-reply@casebook.invalid>")
            .parse::<Mailbox>()
            .map_err(|e| format!("CASEBOOK_SMTP_FROM is not a valid mailbox: {e}"))?;
        Ok(Self::Smtp { transport, from })
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
            Self::Smtp { transport, from } => {
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

/// Delivers what is due, of every tenant; returns how many were delivered.
/// Each failed attempt is counted in `failures`.
pub async fn deliver_due(db: &Db, mailer: &Mailer, failures: &Counter) -> Result<usize, sqlx::Error> {
    let mut delivered = 0;
    for notice in store::due_notices(db, MAX_ATTEMPTS, 20).await? {
        // Each lease starts now: earlier sends in this loop may have been slow.
        if !store::lease_notice(db, &notice.id, LEASE).await? {
            continue;
        }
        let attempts = notice.attempts + 1;
        match mailer.send(&notice.recipient, &notice.subject, &notice.body).await {
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

    #[test]
    fn smtp_urls() {
        assert!(matches!(Mailer::from_url(None, None), Ok(Mailer::Log)));
        assert!(matches!(
            Mailer::from_url(Some("smtp://127.0.0.1:2525"), None),
            Ok(Mailer::Smtp { .. })
        ));
        assert!(Mailer::from_url(Some("https://example.org"), None).is_err());
        assert!(Mailer::from_url(Some("smtp://127.0.0.1:2525"), Some("not a mailbox")).is_err());
    }
}
