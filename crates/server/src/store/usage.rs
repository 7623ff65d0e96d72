//! Usage at a glance (migration 0025): counts per application, hour and
//! counter, added to by every replica. See `crate::usage` for the counting.

use super::*;
use casebook_domain::usage::Counter;

/// Rows per statement: five parameters each, well inside every backend's limit.
const ROWS_PER_STATEMENT: usize = 200;

/// What one replica counted: `(tenant_id, client_id, hour, counter, count)`.
/// A Client ID that names no application of the tenant (a guess) is dropped
/// when written.
pub type UsageRow = (String, String, i64, Counter, i64);

fn upsert(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| {
            let p = 5 * i;
            format!("(${}, ${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4, p + 5)
        })
        .collect();
    // `WHERE true` keeps SQLite from reading ON CONFLICT as the join's.
    format!(
        "WITH v (tenant_id, client_id, hour, counter, n) AS (VALUES {}) \
         INSERT INTO usage_counts (tenant_id, application_id, hour, counter, n) \
         SELECT a.tenant_id, a.id, v.hour, v.counter, v.n FROM v \
         JOIN applications a ON a.tenant_id = v.tenant_id AND a.client_id = v.client_id WHERE true \
         ON CONFLICT (tenant_id, application_id, hour, counter) DO UPDATE SET n = usage_counts.n + excluded.n",
        values.join(", ")
    )
}

/// Adds what a replica counted, in one transaction: all or none, so a
/// failed flush can be tried again whole. Rows go in key order, the order
/// every writer uses, so two replicas' flushes never deadlock.
#[tracing::instrument(name = "db add_usage", level = "debug", skip_all)]
pub async fn add_usage(db: &Db, rows: &mut [UsageRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    rows.sort_by(|a, b| (&a.0, &a.1, a.2, a.3).cmp(&(&b.0, &b.1, b.2, b.3)));
    let mut tx = db.begin().await?;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut query = sqlx::query(AssertSqlSafe(upsert(chunk.len())));
        for (tenant_id, client_id, hour, counter, n) in chunk {
            query = query
                .bind(tenant_id)
                .bind(client_id)
                .bind(*hour)
                .bind(counter.as_str())
                .bind(*n);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await
}

fn counted(row: &AnyRow) -> Result<Option<(i64, Counter, i64)>, sqlx::Error> {
    let name: String = col(row, "counter")?;
    // A counter a newer release writes is left out, not an error.
    match Counter::parse(&name) {
        Some(counter) => Ok(Some((col(row, "hour")?, counter, col(row, "n")?))),
        None => Ok(None),
    }
}

/// One application's counts from `since_hour` to before `until`.
#[tracing::instrument(name = "db application_usage", level = "debug", skip_all)]
pub async fn application_usage(
    at: &Scope,
    application_id: &str,
    since_hour: i64,
    until: i64,
) -> Result<Vec<(i64, Counter, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT hour, counter, n FROM usage_counts \
         WHERE tenant_id = $1 AND application_id = $2 AND hour >= $3 AND hour < $4",
    )
    .bind(at.tenant())
    .bind(application_id)
    .bind(since_hour)
    .bind(until)
    .fetch_all(at.pool())
    .await?;
    Ok(rows
        .iter()
        .map(counted)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect())
}

/// Every application's counts in the tenant from `since_hour` to before
/// `until`, with the application's id.
#[tracing::instrument(name = "db tenant_usage", level = "debug", skip_all)]
pub async fn tenant_usage(
    at: &Scope,
    since_hour: i64,
    until: i64,
) -> Result<Vec<(String, i64, Counter, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT application_id, hour, counter, n FROM usage_counts \
         WHERE tenant_id = $1 AND hour >= $2 AND hour < $3",
    )
    .bind(at.tenant())
    .bind(since_hour)
    .bind(until)
    .fetch_all(at.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some((hour, counter, n)) = counted(row)? {
            out.push((col(row, "application_id")?, hour, counter, n));
        }
    }
    Ok(out)
}

/// The latest hour with anything counted, per application of the tenant.
#[tracing::instrument(name = "db last_activity", level = "debug", skip_all)]
pub async fn last_activity(at: &Scope) -> Result<HashMap<String, i64>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT application_id, MAX(hour) AS last FROM usage_counts WHERE tenant_id = $1 GROUP BY application_id",
    )
    .bind(at.tenant())
    .fetch_all(at.pool())
    .await?;
    rows.iter()
        .map(|row| Ok((col(row, "application_id")?, col(row, "last")?)))
        .collect()
}

/// Drops counts of hours before `before_hour`, of every tenant.
#[tracing::instrument(name = "db purge_usage", level = "debug", skip_all)]
pub async fn purge_usage(db: &Db, before_hour: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM usage_counts /* UNSCOPED: counts are kept 30 days in every tenant */ WHERE hour < $1")
        .bind(before_hour)
        .execute(db.pool())
        .await?;
    Ok(())
}
