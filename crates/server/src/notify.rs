//! Alerts to an application's address: registered, secret revealed, secret
//! rotated, disabled, deleted.
//!
//! A notice is written to the `outbox` in the transaction of the change it
//! describes, so it exists exactly when the change does. A background task
//! delivers due notices by SMTP when `CASEBOOK_SMTP_URL` is set, or writes them
//! to the log otherwise, retrying failures with backoff; a failed delivery
//! never fails or undoes the change.

use crate::db::{Db, Tx, col, new_id};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Deliveries attempted before a notice is given up on (about a day of backoff).
pub const MAX_ATTEMPTS: i64 = 12;
/// How long a replica holds a notice it is delivering before another may retry it.
const LEASE_MICROS: i64 = 60 * 1_000_000;

/// The wording is a product rule, so it lives with the rules.
pub use casebook_domain::notice::Notice;

/// Writes a notice in the caller's transaction.
pub async fn enqueue(tx: &mut Tx, recipient: &str, notice: &Notice<'_>) -> Result<(), sqlx::Error> {
    let now = tx.now_micros();
    sqlx::query(
        "INSERT INTO outbox (id, recipient, subject, body, created_at, attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, 0, $5)",
    )
    .bind(new_id())
    .bind(recipient)
    .bind(notice.subject())
    .bind(notice.body())
    .bind(now)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

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

/// Delivers what is due; returns how many were delivered.
pub async fn deliver_due(db: &Db, mailer: &Mailer) -> Result<usize, sqlx::Error> {
    let now = db.now_micros();
    let due = sqlx::query(
        "SELECT id, recipient, subject, body, attempts FROM outbox \
         WHERE delivered_at IS NULL AND attempts < $1 AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT 20",
    )
    .bind(MAX_ATTEMPTS)
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    let mut delivered = 0;
    for row in due {
        let id: String = col(&row, "id")?;
        // Each lease starts now: earlier sends in this loop may have been slow.
        let now = db.now_micros();
        // Lease the notice so that another replica does not send it too.
        let leased = sqlx::query(
            "UPDATE outbox SET next_attempt_at = $1 WHERE id = $2 AND next_attempt_at <= $3 AND delivered_at IS NULL",
        )
        .bind(now + LEASE_MICROS)
        .bind(&id)
        .bind(now)
        .execute(db.pool())
        .await?
        .rows_affected();
        if leased == 0 {
            continue;
        }
        let attempts: i64 = col(&row, "attempts")?;
        let recipient: String = col(&row, "recipient")?;
        let result = mailer
            .send(
                &recipient,
                &col::<String>(&row, "subject")?,
                &col::<String>(&row, "body")?,
            )
            .await;
        match result {
            Ok(()) => {
                sqlx::query("UPDATE outbox SET delivered_at = $1, attempts = $2, last_error = NULL WHERE id = $3")
                    .bind(db.now_micros())
                    .bind(attempts + 1)
                    .bind(&id)
                    .execute(db.pool())
                    .await?;
                delivered += 1;
            }
            Err(error) => {
                // 30 s, 1 min, 2 min … capped at 2 h.
                let backoff = (30_000_000i64 << attempts.min(8)).min(2 * 3600 * 1_000_000);
                tracing::warn!(notice = %id, attempt = attempts + 1, %error, "notification delivery failed; will retry");
                sqlx::query("UPDATE outbox SET attempts = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4")
                    .bind(attempts + 1)
                    .bind(db.now_micros() + backoff)
                    .bind(error.chars().take(500).collect::<String>())
                    .bind(&id)
                    .execute(db.pool())
                    .await?;
            }
        }
    }
    Ok(delivered)
}

#[cfg(test)]
mod tests {
    use super::*;

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
