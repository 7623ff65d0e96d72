//! Cases and reports: the Casebook API's records, one shape of storage.

use super::*;

/// A table that lists in pages: its name and the columns a view reads,
/// named rather than `*`, so a column added later (a secret, say) is never
/// read by accident.
#[derive(Debug, Clone, Copy)]
pub struct Listing {
    pub table: &'static str,
    pub columns: &'static str,
}

pub(super) const USERS: Listing = Listing {
    table: "users",
    columns: "id, email, name, created_at, updated_at, enabled, last_sign_in_at, totp_confirmed_at, \
              length(password_hash) AS password_chars, \
              (SELECT COUNT(*) FROM passkeys p WHERE p.user_id = users.id AND p.tenant_id = users.tenant_id) AS passkey_count",
};
pub(super) const ROLES: Listing = Listing {
    table: "roles",
    columns: "id, name, permissions, platform_permissions, created_at, updated_at",
};

/// The two record kinds share one shape of storage; this names the differences.
#[derive(Debug, Clone, Copy)]
pub struct RecordTable {
    pub listing: Listing,
    pub noun: &'static str,
}

pub const CASES: RecordTable = RecordTable {
    listing: Listing {
        table: "cases",
        columns: "id, title, description, status, created_by_kind, created_by_id, created_by_name, updated_by_kind, updated_by_id, updated_by_name, created_at, updated_at",
    },
    noun: "case",
};
pub const REPORTS: RecordTable = RecordTable {
    listing: Listing {
        table: "reports",
        columns: "id, summary, details, created_by_kind, created_by_id, created_by_name, updated_by_kind, updated_by_id, updated_by_name, created_at, updated_at",
    },
    noun: "report",
};

fn case_from(row: &AnyRow) -> Result<CaseRecord, sqlx::Error> {
    let status: String = col(row, "status")?;
    Ok(CaseRecord {
        id: col(row, "id")?,
        title: col(row, "title")?,
        description: col(row, "description")?,
        status: CaseStatus::parse(&status).unwrap_or_default(),
        created_by: actor_from(row, "created_by")?,
        updated_by: actor_from(row, "updated_by")?,
        created_at: stamp(row, "created_at")?,
        updated_at: stamp(row, "updated_at")?,
    })
}

fn report_from(row: &AnyRow) -> Result<ReportRecord, sqlx::Error> {
    Ok(ReportRecord {
        id: col(row, "id")?,
        summary: col(row, "summary")?,
        details: col(row, "details")?,
        created_by: actor_from(row, "created_by")?,
        updated_by: actor_from(row, "updated_by")?,
        created_at: stamp(row, "created_at")?,
        updated_at: stamp(row, "updated_at")?,
    })
}

/// One page of `listing`'s rows in id order: ids are UUIDv7, so this is
/// creation order and the cursor is the last id.
pub(super) async fn page_rows(
    at: &Scope,
    listing: Listing,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Vec<AnyRow>, sqlx::Error> {
    let Listing { table, columns } = listing;
    match cursor {
        Some(c) => {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {columns} FROM {table} WHERE tenant_id = $3 AND id > $1 ORDER BY id LIMIT $2"
            )))
            .bind(c)
            .bind(i64::from(limit) + 1)
            .bind(at.tenant())
            .fetch_all(at.pool())
            .await
        }
        None => {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {columns} FROM {table} WHERE tenant_id = $2 ORDER BY id LIMIT $1"
            )))
            .bind(i64::from(limit) + 1)
            .bind(at.tenant())
            .fetch_all(at.pool())
            .await
        }
    }
}

async fn get_record(at: &Scope, table: RecordTable, id: &str) -> Result<AnyRow, StoreError> {
    let Listing { table: name, columns } = table.listing;
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {columns} FROM {name} WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id)
    .bind(at.tenant())
    .fetch_optional(at.pool())
    .await?
    .ok_or(StoreError::NotFound(table.noun))
}

async fn delete_record(at: &Scope, table: RecordTable, id: &str) -> Result<(), StoreError> {
    let removed = sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM {} WHERE id = $1 AND tenant_id = $2",
        table.listing.table
    )))
    .bind(id)
    .bind(at.tenant())
    .execute(at.pool())
    .await?
    .rows_affected();
    if removed == 0 {
        return Err(StoreError::NotFound(table.noun));
    }
    Ok(())
}

async fn touch_record(
    tx: &mut Tx,
    at: &Scope,
    table: RecordTable,
    id: &str,
    actor: &ActorRef,
) -> Result<(), StoreError> {
    let found = sqlx::query(AssertSqlSafe(format!(
        "UPDATE {} SET updated_by_kind = $1, updated_by_id = $2, updated_by_name = $3, updated_at = $4 \
         WHERE id = $5 AND tenant_id = $6",
        table.listing.table
    )))
    .bind(actor.kind.as_str())
    .bind(&actor.id)
    .bind(&actor.name)
    .bind(tx.now_micros())
    .bind(id)
    .bind(at.tenant())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if found == 0 {
        return Err(StoreError::NotFound(table.noun));
    }
    Ok(())
}

#[tracing::instrument(name = "db list_cases", level = "debug", skip_all)]
pub async fn list_cases(at: &Scope, cursor: Option<&str>, limit: u32) -> Result<Listed<CaseRecord>, sqlx::Error> {
    let rows = page_rows(at, CASES.listing, cursor, limit).await?;
    let items = rows.iter().map(case_from).collect::<Result<Vec<_>, _>>()?;
    Ok(paginate(items, limit, |c| &c.id))
}

#[tracing::instrument(name = "db get_case", level = "debug", skip_all)]
pub async fn get_case(at: &Scope, id: &str) -> Result<CaseRecord, StoreError> {
    Ok(case_from(&get_record(at, CASES, id).await?)?)
}

#[tracing::instrument(name = "db update_case", level = "debug", skip_all)]
pub async fn update_case(
    at: &Scope,
    actor: &ActorRef,
    id: &str,
    change: &ValidCaseChange,
) -> Result<CaseRecord, StoreError> {
    let mut tx = at.begin().await?;
    touch_record(&mut tx, at, CASES, id, actor).await?;
    if let Some(title) = change.title() {
        set_text(&mut tx, at, "cases", "title", id, Some(title)).await?;
    }
    if let Some(description) = change.description() {
        set_text(&mut tx, at, "cases", "description", id, description).await?;
    }
    if let Some(status) = change.status() {
        set_text(&mut tx, at, "cases", "status", id, Some(status.as_str())).await?;
    }
    tx.commit().await?;
    get_case(at, id).await
}

#[tracing::instrument(name = "db delete_case", level = "debug", skip_all)]
pub async fn delete_case(at: &Scope, id: &str) -> Result<(), StoreError> {
    delete_record(at, CASES, id).await
}

#[tracing::instrument(name = "db list_reports", level = "debug", skip_all)]
pub async fn list_reports(at: &Scope, cursor: Option<&str>, limit: u32) -> Result<Listed<ReportRecord>, sqlx::Error> {
    let rows = page_rows(at, REPORTS.listing, cursor, limit).await?;
    let items = rows.iter().map(report_from).collect::<Result<Vec<_>, _>>()?;
    Ok(paginate(items, limit, |c| &c.id))
}

#[tracing::instrument(name = "db get_report", level = "debug", skip_all)]
pub async fn get_report(at: &Scope, id: &str) -> Result<ReportRecord, StoreError> {
    Ok(report_from(&get_record(at, REPORTS, id).await?)?)
}

#[tracing::instrument(name = "db update_report", level = "debug", skip_all)]
pub async fn update_report(
    at: &Scope,
    actor: &ActorRef,
    id: &str,
    change: &ValidReportChange,
) -> Result<ReportRecord, StoreError> {
    let mut tx = at.begin().await?;
    touch_record(&mut tx, at, REPORTS, id, actor).await?;
    if let Some(summary) = change.summary() {
        set_text(&mut tx, at, "reports", "summary", id, Some(summary)).await?;
    }
    if let Some(details) = change.details() {
        set_text(&mut tx, at, "reports", "details", id, details).await?;
    }
    tx.commit().await?;
    get_report(at, id).await
}

#[tracing::instrument(name = "db delete_report", level = "debug", skip_all)]
pub async fn delete_report(at: &Scope, id: &str) -> Result<(), StoreError> {
    delete_record(at, REPORTS, id).await
}

/// A record about to be made, whole before it is written: its answer can
/// then be written with it (an `Idempotency-Key`'s), and the row is not
/// read back.
#[derive(Debug, Clone)]
pub enum NewRecord {
    Case(CaseRecord),
    Report(ReportRecord),
}

/// A new case by `actor`, made now; see [`create_record`].
pub fn new_case(at: &Scope, actor: &ActorRef, case: &ValidCase) -> CaseRecord {
    let now = casebook_domain::Timestamp::from_unix_micros(at.now_micros());
    CaseRecord {
        id: new_id(),
        title: case.title().to_owned(),
        description: case.description().map(str::to_owned),
        status: case.status(),
        created_by: actor.clone(),
        updated_by: actor.clone(),
        created_at: now,
        updated_at: now,
    }
}

/// A new report by `actor`, made now; see [`create_record`].
pub fn new_report(at: &Scope, actor: &ActorRef, report: &ValidReport) -> ReportRecord {
    let now = casebook_domain::Timestamp::from_unix_micros(at.now_micros());
    ReportRecord {
        id: new_id(),
        summary: report.summary().to_owned(),
        details: report.details().map(str::to_owned),
        created_by: actor.clone(),
        updated_by: actor.clone(),
        created_at: now,
        updated_at: now,
    }
}

#[tracing::instrument(name = "db create_record", level = "debug", skip_all)]
pub async fn create_record(at: &Scope, record: &NewRecord) -> Result<(), StoreError> {
    let mut conn = at.pool().acquire().await?;
    insert_record(&mut conn, at.tenant(), record).await?;
    Ok(())
}

/// A record to make under an answered key, in the key's tenant.
pub type KeyedRecord<'a> = (&'a idempotency::ClaimRow, &'a idempotency::Stored, &'a NewRecord);

/// Makes each record whose answered key is written (see
/// [`idempotency::insert_answered`]); answers those keys. Within the
/// caller's transaction, so a record and its key are made together or not
/// at all. The keys must be distinct.
pub async fn create_records_keyed(
    tx: &mut Tx,
    creates: &[KeyedRecord<'_>],
    lease_micros: i64,
) -> Result<HashSet<idempotency::KeyId>, sqlx::Error> {
    let answered: Vec<_> = creates.iter().map(|(claim, answer, _)| (*claim, *answer)).collect();
    let made = idempotency::insert_answered(tx, &answered, lease_micros).await?;
    for (claim, _, record) in creates {
        if made.contains(&claim.held.id()) {
            insert_record(tx, &claim.held.tenant, record).await?;
        }
    }
    Ok(made)
}

async fn insert_record(conn: &mut sqlx::AnyConnection, tenant: &str, record: &NewRecord) -> Result<(), sqlx::Error> {
    let query = match record {
        NewRecord::Case(case) => sqlx::query(
            "INSERT INTO cases (id, title, description, status, created_by_kind, created_by_id, created_by_name, \
             updated_by_kind, updated_by_id, updated_by_name, created_at, updated_at, tenant_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $5, $6, $7, $8, $8, $9)",
        )
        .bind(&case.id)
        .bind(&case.title)
        .bind(case.description.as_deref())
        .bind(case.status.as_str())
        .bind(case.created_by.kind.as_str())
        .bind(&case.created_by.id)
        .bind(&case.created_by.name)
        .bind(case.created_at.unix_micros()),
        NewRecord::Report(report) => sqlx::query(
            "INSERT INTO reports (id, summary, details, created_by_kind, created_by_id, created_by_name, \
             updated_by_kind, updated_by_id, updated_by_name, created_at, updated_at, tenant_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $4, $5, $6, $7, $7, $8)",
        )
        .bind(&report.id)
        .bind(&report.summary)
        .bind(report.details.as_deref())
        .bind(report.created_by.kind.as_str())
        .bind(&report.created_by.id)
        .bind(&report.created_by.name)
        .bind(report.created_at.unix_micros()),
    };
    query.bind(tenant).execute(conn).await?;
    Ok(())
}
