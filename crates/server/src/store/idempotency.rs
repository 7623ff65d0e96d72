//! `Idempotency-Key` claims (the contract's "Partner experience"): one row
//! per tenant, account and key, claimed by the first request with the
//! fingerprint of what it asked, completed with its answer. A primary key
//! in the shared database decides which of two concurrent duplicates runs,
//! on whichever replicas they land.

use super::Scope;
use crate::db::{Tx, col};
use sqlx::AssertSqlSafe;
use std::collections::HashSet;

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
        placeholders(answers.len(), 10, |n| {
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
        })
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (claim, answer) in answers {
        query = bind_claim(query, claim)
            .bind(i64::from(answer.status))
            .bind(answer.content_type.as_deref())
            .bind(answer.location.as_deref())
            .bind(answer.body_sealed.as_slice());
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
        return take_over(at, key, fingerprint, claimed_at, now, ttl_micros)
            .await
            .map(Some);
    }
    if col::<Vec<u8>>(&row, "fingerprint")? != fingerprint {
        return Ok(Some(Claim::Mismatch));
    }
    if !done {
        return Ok(Some(Claim::Running));
    }
    Ok(Some(Claim::Replay(Stored {
        status: u16::try_from(col::<i64>(&row, "status")?).unwrap_or(500),
        content_type: col(&row, "content_type")?,
        location: col(&row, "location")?,
        body_sealed: col::<Option<Vec<u8>>>(&row, "body_sealed")?.unwrap_or_default(),
    })))
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
