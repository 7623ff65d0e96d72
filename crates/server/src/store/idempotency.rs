//! `Idempotency-Key` claims (the contract's "Partner experience"): one row
//! per tenant, account and key, claimed by the first request with the
//! fingerprint of what it asked, completed with its answer. A primary key
//! in the shared database decides which of two concurrent duplicates runs,
//! on whichever replicas they land.

use super::Scope;
use crate::db::{Tx, col};

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

/// Inserts a claim made at `claimed_at`: `true` if it is this request's,
/// `false` if a row for the key was there already (see [`settle_existing`]).
pub async fn insert_claim(
    tx: &mut Tx,
    held: &Held,
    fingerprint: &[u8],
    claimed_at: i64,
    expires_at: i64,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, account_id, idem_key, fingerprint, done, claimed_at, expires_at) \
         VALUES ($1, $2, $3, $4, 0, $5, $6) ON CONFLICT (tenant_id, account_id, idem_key) DO NOTHING",
    )
    .bind(&held.tenant)
    .bind(&held.account)
    .bind(&held.key)
    .bind(fingerprint)
    .bind(claimed_at)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Keeps the answer of the claim made at `claimed_at`.
pub async fn write_answer(tx: &mut Tx, held: &Held, claimed_at: i64, answer: &Stored) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE idempotency_keys SET done = 1, status = $1, content_type = $2, location = $3, body_sealed = $4 \
         WHERE tenant_id = $5 AND account_id = $6 AND idem_key = $7 AND claimed_at = $8",
    )
    .bind(i64::from(answer.status))
    .bind(answer.content_type.as_deref())
    .bind(answer.location.as_deref())
    .bind(answer.body_sealed.as_slice())
    .bind(&held.tenant)
    .bind(&held.account)
    .bind(&held.key)
    .bind(claimed_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
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
