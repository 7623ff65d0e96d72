//! The shared count of token grants, per client and minute (migration
//! 0013), and the replicas that add to it. See `crate::quota` for how a
//! replica uses it.

use super::*;
use casebook_domain::quota::{Buckets, TokenQuota, window_start};

/// Rows per statement: three parameters each, well inside every backend's limit.
const ROWS_PER_STATEMENT: usize = 300;

/// Client IDs per `IN` list.
const IDS_PER_STATEMENT: usize = 500;

/// One `(client_id, minute, grants)` row to add to the count.
pub type GrantRow = (String, i64, i64);

/// The upsert of up to [`ROWS_PER_STATEMENT`] rows.
fn upsert(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
        .collect();
    format!(
        "INSERT INTO token_grant_buckets (client_id, minute, grants) VALUES {} \
         ON CONFLICT (client_id, minute) DO UPDATE SET grants = token_grant_buckets.grants + excluded.grants",
        values.join(", ")
    )
}

async fn add_in(tx: &mut Tx, rows: &[GrantRow]) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut query = sqlx::query(AssertSqlSafe(upsert(chunk.len())));
        for (client_id, minute, grants) in chunk {
            query = query.bind(client_id).bind(*minute).bind(*grants);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Adds grants (a negative count undoes some) in one transaction: all of
/// them or none, so a failed flush can be tried again whole. The rows are
/// written in `(client_id, minute)` order, the order every writer uses, so
/// two replicas' flushes lock rows in one order and never deadlock.
#[tracing::instrument(name = "db add_grants", level = "debug", skip_all)]
pub async fn add_grants(db: &Db, rows: &mut [GrantRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut tx = db.begin().await?;
    add_in(&mut tx, rows).await?;
    tx.commit().await
}

fn buckets_of(rows: &[AnyRow]) -> Result<HashMap<String, Buckets>, sqlx::Error> {
    let mut out: HashMap<String, Buckets> = HashMap::new();
    for row in rows {
        let client_id: String = col(row, "client_id")?;
        out.entry(client_id)
            .or_default()
            .add(col(row, "minute")?, col(row, "grants")?);
    }
    Ok(out)
}

/// Each client's counts from `since_minute` on, summed over every replica;
/// a client with none is absent from the answer.
#[tracing::instrument(name = "db grant_counts", level = "debug", skip_all)]
pub async fn grant_counts(
    db: &Db,
    client_ids: &[&str],
    since_minute: i64,
) -> Result<HashMap<String, Buckets>, sqlx::Error> {
    let mut out = HashMap::new();
    for chunk in client_ids.chunks(IDS_PER_STATEMENT) {
        let ids: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT client_id, minute, grants FROM token_grant_buckets WHERE minute >= $1 AND client_id IN ({})",
            ids.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(since_minute);
        for id in chunk {
            query = query.bind(*id);
        }
        out.extend(buckets_of(&query.fetch_all(db.pool()).await?)?);
    }
    Ok(out)
}

/// What the database decided about one grant near a client's quota.
#[derive(Debug, Clone)]
pub struct ExactGrant {
    pub granted: bool,
    /// The client's counts in the window after the decision.
    pub counts: Buckets,
}

/// One grant decided by the database: `unsynced` (this replica's grants the
/// count does not hold yet) and the grant are added, the window summed, and
/// the grant taken back if that passes the quota, in one transaction. Its
/// row lock orders the decisions of every replica about one client, so two
/// cannot both take the last grant.
#[tracing::instrument(name = "db grant_exactly", level = "debug", skip_all)]
pub async fn grant_exactly(
    db: &Db,
    client_id: &str,
    unsynced: &Buckets,
    minute: i64,
    quota: TokenQuota,
) -> Result<ExactGrant, sqlx::Error> {
    let mut rows = unsynced.clone();
    rows.add(minute, 1);
    let rows: Vec<GrantRow> = rows.iter().map(|(m, g)| (client_id.to_owned(), m, g)).collect();
    let mut tx = db.begin().await?;
    add_in(&mut tx, &rows).await?;
    let read =
        sqlx::query("SELECT client_id, minute, grants FROM token_grant_buckets WHERE client_id = $1 AND minute >= $2")
            .bind(client_id)
            .bind(window_start(minute))
            .fetch_all(&mut *tx)
            .await?;
    let mut counts = buckets_of(&read)?.remove(client_id).unwrap_or_default();
    let granted = counts.total_at(minute) <= i64::from(quota.per_hour());
    if !granted {
        sqlx::query("UPDATE token_grant_buckets SET grants = grants - 1 WHERE client_id = $1 AND minute = $2")
            .bind(client_id)
            .bind(minute)
            .execute(&mut *tx)
            .await?;
        counts.add(minute, -1);
    }
    tx.commit().await?;
    Ok(ExactGrant { granted, counts })
}

/// Stamps this replica as counting, with the release it runs, and answers
/// how many replicas stamped themselves since `live_since` (Unix
/// microseconds), this one included. A replica of the release before
/// tenants stamps only the first table: one there without a row in
/// `replica_releases` is what holds back the creation of tenants.
#[tracing::instrument(name = "db quota_heartbeat", level = "debug", skip_all)]
pub async fn quota_heartbeat(db: &Db, replica_id: &str, live_since: i64) -> Result<u32, sqlx::Error> {
    let now = db.now_micros();
    // The release first: a reader between the two writes never sees this
    // replica as one of a release before tenants.
    sqlx::query(
        "INSERT INTO replica_releases (replica_id, schema_version, seen_at) VALUES ($1, $2, $3) \
         ON CONFLICT (replica_id) DO UPDATE SET schema_version = excluded.schema_version, seen_at = excluded.seen_at",
    )
    .bind(replica_id)
    .bind(crate::db::newest_known(db.backend()))
    .bind(now)
    .execute(db.pool())
    .await?;
    sqlx::query(
        "INSERT INTO token_quota_replicas (replica_id, seen_at) VALUES ($1, $2) \
         ON CONFLICT (replica_id) DO UPDATE SET seen_at = excluded.seen_at",
    )
    .bind(replica_id)
    .bind(now)
    .execute(db.pool())
    .await?;
    let row = sqlx::query("SELECT COUNT(*) AS live FROM token_quota_replicas WHERE seen_at >= $1")
        .bind(live_since)
        .fetch_one(db.pool())
        .await?;
    Ok(u32::try_from(col::<i64>(&row, "live")?).unwrap_or(u32::MAX).max(1))
}

/// Forgets counts older than `before_minute` and replicas silent since
/// `replicas_before` (Unix microseconds), with the releases they ran.
#[tracing::instrument(name = "db purge_grant_counts", level = "debug", skip_all)]
pub async fn purge_grant_counts(db: &Db, before_minute: i64, replicas_before: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM token_grant_buckets WHERE minute < $1")
        .bind(before_minute)
        .execute(db.pool())
        .await?;
    sqlx::query("DELETE FROM token_quota_replicas WHERE seen_at < $1")
        .bind(replicas_before)
        .execute(db.pool())
        .await?;
    sqlx::query("DELETE FROM replica_releases WHERE seen_at < $1")
        .bind(replicas_before)
        .execute(db.pool())
        .await?;
    Ok(())
}
