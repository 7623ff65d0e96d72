//! `Idempotency-Key` claims (the contract's "Partner experience"): one row
//! per tenant, account and key, claimed by the first request with the
//! fingerprint of what it asked, completed with its answer. A primary key
//! in the shared database decides which of two concurrent duplicates runs,
//! on whichever replicas they land.

use super::Scope;
use crate::db::{Tx, col};
use sqlx::AssertSqlSafe;
use std::collections::HashSet;

/// A claim still running after this long belonged to a replica that stopped.
pub const LEASE_MICROS: i64 = 60 * 1_000_000;

/// What a request holding a key may do.
#[derive(Debug)]
pub enum Claim {
    /// It is the first (or the key's earlier claim had lapsed): run it.
    /// `claimed_at` identifies this claim for [`complete`] and [`release`].
    Claimed { claimed_at: i64 },
    /// The first request with this key and this fingerprint was answered.
    Replay(Stored),
    /// The key was used with another method, path or body.
    Mismatch,
    /// The first request with this key is still running.
    Running,
}

/// A kept answer; its body is sealed.
#[derive(Debug)]
pub struct Stored {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body_sealed: Vec<u8>,
}

/// Who holds a key, and which.
#[derive(Debug, Clone, Copy)]
pub struct KeyRef<'a> {
    pub account: &'a str,
    pub key: &'a str,
}

/// Whose key: tenant, account, key.
#[derive(Debug, Clone)]
pub struct Held {
    pub tenant: String,
    pub account: String,
    pub key: String,
}

impl Held {
    pub fn key_ref(&self) -> KeyRef<'_> {
        KeyRef {
            account: &self.account,
            key: &self.key,
        }
    }
}

/// A claim as written: whose key, for which request, since when, until when.
#[derive(Debug, Clone)]
pub struct ClaimRow {
    pub held: Held,
    pub fingerprint: Vec<u8>,
    pub claimed_at: i64,
    pub expires_at: i64,
}

/// Whose key, as a set member.
pub type KeyId = (String, String, String);

impl Held {
    pub fn id(&self) -> KeyId {
        (self.tenant.clone(), self.account.clone(), self.key.clone())
    }
}

/// Inserts claims in one statement; answers the keys it inserted. A key
/// missing from the answer had a row already (see [`settle_existing`]).
/// The keys must be distinct.
pub async fn insert_claims(tx: &mut Tx, claims: &[&ClaimRow]) -> Result<HashSet<KeyId>, sqlx::Error> {
    if claims.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = format!(
        "INSERT INTO idempotency_keys (tenant_id, account_id, idem_key, fingerprint, done, claimed_at, expires_at) \
         VALUES {} ON CONFLICT (tenant_id, account_id, idem_key) DO NOTHING \
         RETURNING tenant_id, account_id, idem_key",
        placeholders(claims.len(), 6, |n| format!(
            "(${}, ${}, ${}, ${}, 0, ${}, ${})",
            n,
            n + 1,
            n + 2,
            n + 3,
            n + 4,
            n + 5
        ))
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for claim in claims {
        query = bind_claim(query, claim);
    }
    query
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|row| Ok((col(row, "tenant_id")?, col(row, "account_id")?, col(row, "idem_key")?)))
        .collect()
}

/// Keeps answers, each on the claim it answers, in one statement. A claim
/// taken over meanwhile (its `claimed_at` changed) keeps the newer one's
/// place; a row gone altogether (released, or purged a day later) is
/// written anew, which records what was done. The keys must be distinct.
pub async fn write_answers(tx: &mut Tx, answers: &[(&ClaimRow, &Stored)]) -> Result<(), sqlx::Error> {
    if answers.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO idempotency_keys (tenant_id, account_id, idem_key, fingerprint, claimed_at, expires_at, \
         done, status, content_type, location, body_sealed) VALUES {} \
         ON CONFLICT (tenant_id, account_id, idem_key) DO UPDATE SET done = 1, status = excluded.status, \
         content_type = excluded.content_type, location = excluded.location, body_sealed = excluded.body_sealed \
         WHERE idempotency_keys.claimed_at = excluded.claimed_at",
        placeholders(answers.len(), 10, answer_row)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (claim, answer) in answers {
        query = bind_answer(bind_claim(query, claim), answer);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// A claim's six columns, in the order both statements name them.
fn bind_claim<'q>(query: AnyQuery<'q>, claim: &'q ClaimRow) -> AnyQuery<'q> {
    query
        .bind(&claim.held.tenant)
        .bind(&claim.held.account)
        .bind(&claim.held.key)
        .bind(claim.fingerprint.as_slice())
        .bind(claim.claimed_at)
        .bind(claim.expires_at)
}

/// An answered claim's ten columns, `done` set between them, from `$n`.
fn answer_row(n: usize) -> String {
    format!(
        "(${}, ${}, ${}, ${}, ${}, ${}, 1, ${}, ${}, ${}, ${})",
        n,
        n + 1,
        n + 2,
        n + 3,
        n + 4,
        n + 5,
        n + 6,
        n + 7,
        n + 8,
        n + 9
    )
}

/// An answer's four columns, after its claim's six.
fn bind_answer<'q>(query: AnyQuery<'q>, answer: &'q Stored) -> AnyQuery<'q> {
    query
        .bind(i64::from(answer.status))
        .bind(answer.content_type.as_deref())
        .bind(answer.location.as_deref())
        .bind(answer.body_sealed.as_slice())
}

/// `rows` groups of `width` numbered placeholders, joined by commas;
/// `group` writes one, given its first number.
fn placeholders(rows: usize, width: usize, group: impl Fn(usize) -> String) -> String {
    (0..rows).map(|i| group(i * width + 1)).collect::<Vec<_>>().join(", ")
}

/// What a request may do with a key whose row already exists: replay, a
/// mismatch, still running, or (a lapsed claim taken over) run. A claim
/// still running `lease_micros` after it was made belonged to a replica
/// that stopped. `Claimed` may come back when the row went away meanwhile:
/// the caller claims again.
#[tracing::instrument(name = "db settle_idempotency_key", level = "debug", skip_all)]
pub async fn settle_existing(
    at: &Scope,
    key: KeyRef<'_>,
    fingerprint: &[u8],
    lease_micros: i64,
    ttl_micros: i64,
) -> Result<Option<Claim>, sqlx::Error> {
    let now = at.now_micros();
    match existing(at, key, fingerprint, lease_micros).await? {
        None => Ok(None),
        Some(Existing::Lapsed { claimed_at }) => take_over(at, key, fingerprint, claimed_at, now, ttl_micros)
            .await
            .map(Some),
        Some(Existing::Live(claim)) => Ok(Some(claim)),
    }
}

/// What a row found for a key says, before anyone acts on it.
#[derive(Debug)]
pub enum Existing {
    /// Answered, mismatched or still running: [`Claim::Replay`],
    /// [`Claim::Mismatch`] or [`Claim::Running`].
    Live(Claim),
    /// Past its day, or a claim abandoned past its lease.
    Lapsed { claimed_at: i64 },
}

/// Reads the key's row, if any, and judges it; writes nothing.
pub async fn existing(
    at: &Scope,
    key: KeyRef<'_>,
    fingerprint: &[u8],
    lease_micros: i64,
) -> Result<Option<Existing>, sqlx::Error> {
    let now = at.now_micros();
    let Some(row) = sqlx::query(
        "SELECT fingerprint, done, status, content_type, location, body_sealed, claimed_at, expires_at \
         FROM idempotency_keys WHERE tenant_id = $1 AND account_id = $2 AND idem_key = $3",
    )
    .bind(at.tenant())
    .bind(key.account)
    .bind(key.key)
    .fetch_optional(at.pool())
    .await?
    else {
        return Ok(None);
    };
    let done = col::<i64>(&row, "done")? != 0;
    let claimed_at: i64 = col(&row, "claimed_at")?;
    let expired = col::<i64>(&row, "expires_at")? <= now;
    let abandoned = !done && claimed_at.saturating_add(lease_micros) <= now;
    if expired || abandoned {
        return Ok(Some(Existing::Lapsed { claimed_at }));
    }
    if col::<Vec<u8>>(&row, "fingerprint")? != fingerprint {
        return Ok(Some(Existing::Live(Claim::Mismatch)));
    }
    if !done {
        return Ok(Some(Existing::Live(Claim::Running)));
    }
    Ok(Some(Existing::Live(Claim::Replay(Stored {
        status: u16::try_from(col::<i64>(&row, "status")?).unwrap_or(500),
        content_type: col(&row, "content_type")?,
        location: col(&row, "location")?,
        body_sealed: col::<Option<Vec<u8>>>(&row, "body_sealed")?.unwrap_or_default(),
    }))))
}

/// Writes keys already answered, claim and answer in one row each, in one
/// statement; answers the keys written. A key whose row is live (answered,
/// or claimed within `lease_micros`) keeps it and is left out; a lapsed
/// row is replaced. On PostgreSQL a duplicate still being committed makes
/// this wait for it, then see it; on SQLite the write lock orders them.
/// The keys must be distinct.
pub async fn insert_answered(
    conn: &mut sqlx::AnyConnection,
    answered: &[(&ClaimRow, &Stored)],
    lease_micros: i64,
) -> Result<HashSet<KeyId>, sqlx::Error> {
    if answered.is_empty() {
        return Ok(HashSet::new());
    }
    let lease = answered.len() * 10 + 1;
    let sql = format!(
        "INSERT INTO idempotency_keys (tenant_id, account_id, idem_key, fingerprint, claimed_at, expires_at, \
         done, status, content_type, location, body_sealed) VALUES {} \
         ON CONFLICT (tenant_id, account_id, idem_key) DO UPDATE SET fingerprint = excluded.fingerprint, \
         claimed_at = excluded.claimed_at, expires_at = excluded.expires_at, done = 1, \
         status = excluded.status, content_type = excluded.content_type, location = excluded.location, \
         body_sealed = excluded.body_sealed \
         WHERE idempotency_keys.expires_at <= excluded.claimed_at \
         OR (idempotency_keys.done = 0 AND idempotency_keys.claimed_at <= excluded.claimed_at - ${lease}) \
         RETURNING tenant_id, account_id, idem_key",
        placeholders(answered.len(), 10, answer_row)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (claim, answer) in answered {
        query = bind_answer(bind_claim(query, claim), answer);
    }
    query
        .bind(lease_micros)
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| Ok((col(row, "tenant_id")?, col(row, "account_id")?, col(row, "idem_key")?)))
        .collect()
}

/// Replaces a lapsed claim, if no one else replaced it first.
async fn take_over(
    at: &Scope,
    key: KeyRef<'_>,
    fingerprint: &[u8],
    seen_claimed_at: i64,
    now: i64,
    ttl_micros: i64,
) -> Result<Claim, sqlx::Error> {
    let replaced = sqlx::query(
        "UPDATE idempotency_keys SET fingerprint = $1, done = 0, status = NULL, content_type = NULL, \
         location = NULL, body_sealed = NULL, claimed_at = $2, expires_at = $3 \
         WHERE tenant_id = $4 AND account_id = $5 AND idem_key = $6 AND claimed_at = $7",
    )
    .bind(fingerprint)
    .bind(now)
    .bind(now.saturating_add(ttl_micros))
    .bind(at.tenant())
    .bind(key.account)
    .bind(key.key)
    .bind(seen_claimed_at)
    .execute(at.pool())
    .await?
    .rows_affected();
    Ok(if replaced == 1 {
        Claim::Claimed { claimed_at: now }
    } else {
        Claim::Running
    })
}

/// Gives the key back: the request failed in a way a retry should redo.
#[tracing::instrument(name = "db release_idempotency_key", level = "debug", skip_all)]
pub async fn release(at: &Scope, key: KeyRef<'_>, claimed_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND account_id = $2 AND idem_key = $3 AND claimed_at = $4",
    )
    .bind(at.tenant())
    .bind(key.account)
    .bind(key.key)
    .bind(claimed_at)
    .execute(at.pool())
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: i64 = 60;

    fn claim(claimed_at: i64) -> ClaimRow {
        ClaimRow {
            held: Held {
                tenant: "root".into(),
                account: "application:app-1".into(),
                key: "k".into(),
            },
            fingerprint: vec![7; 32],
            claimed_at,
            expires_at: claimed_at + 1_000,
        }
    }

    fn answer(status: u16) -> Stored {
        Stored {
            status,
            content_type: Some("application/json".into()),
            location: None,
            body_sealed: vec![status as u8],
        }
    }

    async fn status_of(db: &crate::db::Db) -> Option<i64> {
        sqlx::query("SELECT status FROM idempotency_keys WHERE tenant_id = 'root'")
            .fetch_one(db.pool())
            .await
            .and_then(|row| col(&row, "status"))
            .unwrap()
    }

    async fn written(conn: &mut sqlx::AnyConnection, claimed_at: i64, status: u16) -> bool {
        let (claim, answer) = (claim(claimed_at), answer(status));
        !insert_answered(conn, &[(&claim, &answer)], LEASE)
            .await
            .unwrap()
            .is_empty()
    }

    #[tokio::test]
    async fn an_answered_key_is_written_once_and_a_lapsed_one_replaced() {
        let (db, _dir) = crate::db::scratch_sqlite().await;
        let mut conn = db.pool().acquire().await.unwrap();
        assert!(written(&mut conn, 100, 201).await);
        // Answered and within its day: stays, whoever asks.
        assert!(!written(&mut conn, 500, 202).await);
        assert_eq!(status_of(&db).await, Some(201));
        // Past its day: replaced.
        assert!(written(&mut conn, 1_100, 203).await);
        assert_eq!(status_of(&db).await, Some(203));

        // A claim still running (the other way of keeping a key) holds it
        // within its lease, and not after.
        sqlx::query(
            "UPDATE idempotency_keys SET done = 0, status = NULL, claimed_at = 2000, expires_at = 3000 \
             WHERE tenant_id = 'root'",
        )
        .execute(db.pool())
        .await
        .unwrap();
        assert!(!written(&mut conn, 2_000 + LEASE - 1, 204).await);
        assert_eq!(status_of(&db).await, None);
        assert!(written(&mut conn, 2_000 + LEASE, 205).await);
        assert_eq!(status_of(&db).await, Some(205));
    }
}
