//! What happens to client secrets outside an admin's hands: their use at
//! the token endpoint (when each was last used, an expired one presented),
//! a leak report that ends one, and the purge of long-expired ones.

use super::*;
use casebook_domain::Timestamp;
use casebook_domain::secret_lifecycle::SecretPolicy;

/// Writes when secrets were last used, in one statement. A stamp only
/// moves forward, so replicas writing the same secret in any order agree.
/// Every tenant's stamps go in one batch: a secret's id is unique in the
/// install, and each was taken from a secret its own tenant's client presented.
#[tracing::instrument(name = "db record_secret_use", level = "debug", skip_all)]
pub async fn record_secret_use(db: &Db, uses: &[(String, i64)]) -> Result<(), sqlx::Error> {
    if uses.is_empty() {
        return Ok(());
    }
    let cases: Vec<String> = (0..uses.len())
        .map(|i| format!("WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2))
        .collect();
    let ids = parameter_list(2 * uses.len() + 1, uses.len());
    let sql = format!(
        "UPDATE client_secrets /* UNSCOPED: ids unique in the install, batched across tenants */ \
         SET last_used_at = CASE id {} END \
         WHERE id IN ({ids}) AND (last_used_at IS NULL OR last_used_at < CASE id {} END)",
        cases.join(" "),
        cases.join(" ")
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (id, at) in uses {
        query = query.bind(id).bind(*at);
    }
    for (id, _) in uses {
        query = query.bind(id);
    }
    query.execute(db.pool()).await?;
    Ok(())
}

/// How often the trail records one expired secret presented from one
/// address.
const EXPIRED_SECRET_RECORD_EVERY_MICROS: i64 = 60 * 1_000_000;

/// The audit row of an expired secret presented at an OAuth endpoint: a
/// deployment still holding it is what an admin needs to find. At most one
/// a minute per secret and source address.
#[tracing::instrument(name = "db record_expired_secret_use", level = "debug", skip_all)]
pub async fn record_expired_secret_use(
    at: &Scope,
    application: &ActorRef,
    secret_id: &str,
    from: Option<std::net::IpAddr>,
) -> Result<(), StoreError> {
    const ACTION: &str = "application.expired_secret_refused";
    let mut tx = at.begin().await?;
    let source = from.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_canonical().to_string());
    let detail = format!("secret {secret_id} has expired; presented from {source}");
    // A deployment retrying with an expired secret, or someone replaying
    // one, would otherwise write a row a request: one a minute says it all.
    if recorded_lately(
        &mut tx,
        at,
        ACTION,
        &application.id,
        &detail,
        EXPIRED_SECRET_RECORD_EVERY_MICROS,
    )
    .await?
    {
        tx.rollback().await?;
        return Ok(());
    }
    audit(
        &mut tx,
        at,
        application,
        Event::new(ACTION, "application", &application.id).detail(detail),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A leaked secret, ended: which application it opened, for the caches.
#[derive(Debug, Clone)]
pub struct EndedLeak {
    pub client_id: String,
    pub application_id: String,
    pub tenant_id: String,
}

/// What a leak report of one MAC came to.
#[derive(Debug, Clone)]
pub enum LeakOutcome {
    /// A working secret of this install, ended now.
    Ended(EndedLeak),
    /// A secret of this install that had already ended (by a leak report,
    /// an admin, a rotation, its application's end or the purge after
    /// expiry): a real leak, with nothing left to do.
    AlreadyEnded,
    /// Not a secret this install issued, as far as it remembers.
    Unknown,
}

/// Ends the secret whose MAC this is, with every live token of its
/// application (a new token generation), and tells the application where it
/// was found. The other secrets keep working: a leak of one deployment's
/// secret stops only that one. A secret already ended is answered as such,
/// and nothing is written again: a replayed report adds no audit row and no
/// notice.
///
/// A report names no tenant: a MAC is unique in the install, so the secret
/// is found wherever it lives, and what is written (the audit row, the
/// notice) is its own tenant's.
#[tracing::instrument(name = "db end_leaked_secret", level = "debug", skip_all)]
pub async fn end_leaked_secret(db: &Db, mac: &[u8], url: &str, source: &str) -> Result<LeakOutcome, StoreError> {
    let mut tx = db.begin().await?;
    let Some(row) = sqlx::query(
        "SELECT s.tenant_id, s.id, s.label, a.id AS application_id, a.client_id, a.name, a.email \
         FROM client_secrets s JOIN applications a ON a.id = s.application_id AND a.tenant_id = s.tenant_id \
         WHERE s.secret_mac = $1 /* UNSCOPED: a MAC is unique in the install, and a report names no tenant */",
    )
    .bind(mac)
    .fetch_optional(&mut *tx)
    .await?
    else {
        let ended = sqlx::query("SELECT 1 AS one FROM ended_secrets WHERE secret_mac = $1")
            .bind(mac)
            .fetch_optional(&mut *tx)
            .await?;
        tx.rollback().await?;
        return Ok(if ended.is_some() {
            LeakOutcome::AlreadyEnded
        } else {
            LeakOutcome::Unknown
        });
    };
    let at = Scope::new(db.clone(), col::<String>(&row, "tenant_id")?);
    let (secret_id, label): (String, Option<String>) = (col(&row, "id")?, col(&row, "label")?);
    let application = ActorRef::application(&col::<String>(&row, "application_id")?, &col::<String>(&row, "name")?);
    // The delete claims the report: of two reports of one secret at once,
    // the one that finds the row gone reports it ended and writes nothing.
    let deleted = sqlx::query("DELETE FROM client_secrets WHERE id = $1 AND tenant_id = $2")
        .bind(&secret_id)
        .bind(at.tenant())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        tx.rollback().await?;
        return Ok(LeakOutcome::AlreadyEnded);
    }
    sqlx::query("UPDATE applications SET token_generation = token_generation + 1 WHERE id = $1 AND tenant_id = $2")
        .bind(&application.id)
        .bind(at.tenant())
        .execute(&mut *tx)
        .await?;
    // Recorded as the application's own event: no person acted, and the
    // reporter is named in the detail.
    audit(&mut tx, &at, &application, Event::new("application.secret_leaked", "application", &application.id).detail(format!(
            "secret {secret_id} reported public by GitHub secret scanning ({source}) at {url}; ended with every live token"
        )))
    .await?;
    let email: String = col(&row, "email")?;
    let notice = Notice::SecretLeaked {
        application: &application.name,
        secret: label.as_deref().unwrap_or(&secret_id),
        url,
        source,
    };
    outbox::enqueue(&mut tx, &at, &email, &notice).await?;
    tx.commit().await?;
    Ok(LeakOutcome::Ended(EndedLeak {
        client_id: col(&row, "client_id")?,
        application_id: application.id,
        tenant_id: at.tenant().to_owned(),
    }))
}

/// How long an expired secret stays listed (and recognised, so its use is
/// audited) before it is removed: every stored secret is compared at the
/// token endpoint, so they must not pile up.
pub const EXPIRED_SECRET_KEPT: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// Removes secrets that expired, by their own date or the install's most,
/// more than [`EXPIRED_SECRET_KEPT`] ago, in every tenant at once: the most
/// is the install's.
#[tracing::instrument(name = "db purge_expired_secrets", level = "debug", skip_all)]
pub async fn purge_expired_secrets(db: &Db, policy: &SecretPolicy) -> Result<u64, sqlx::Error> {
    let before = Timestamp::from_unix_micros(db.now_micros()).saturating_sub(EXPIRED_SECRET_KEPT);
    let issued_before = policy
        .max_age()
        .map_or(i64::MIN, |age| before.saturating_sub(age).unix_micros());
    let removed = sqlx::query(
        "DELETE FROM client_secrets /* UNSCOPED: housekeeping of the install, one rule for every tenant */ \
         WHERE expires_at < $1 OR created_at < $2",
    )
    .bind(before.unix_micros())
    .bind(issued_before)
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(removed)
}
