//! The audit trail: written in the transaction of each change it records.

use super::*;

pub async fn audit(
    tx: &mut Tx,
    actor: &ActorRef,
    action: &str,
    target_kind: &str,
    target_id: &str,
    detail: Option<String>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id())
    .bind(tx.now_micros())
    .bind(actor.kind.as_str())
    .bind(&actor.id)
    .bind(&actor.name)
    .bind(action)
    .bind(target_kind)
    .bind(target_id)
    .bind(detail)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn list_audit(db: &Db, cursor: Option<&str>, limit: u32) -> Result<Listed<AuditRecord>, sqlx::Error> {
    // Newest first: ids are time-ordered (UUIDv7).
    let (sql, bind_cursor) = match cursor {
        Some(_) => (
            "SELECT id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, detail FROM audit_events WHERE id < $1 ORDER BY id DESC LIMIT $2",
            true,
        ),
        None => (
            "SELECT id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, detail FROM audit_events ORDER BY id DESC LIMIT $1",
            false,
        ),
    };
    let mut query = sqlx::query(sql);
    if bind_cursor {
        query = query.bind(cursor);
    }
    let rows = query.bind(i64::from(limit) + 1).fetch_all(db.pool()).await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(AuditRecord {
                id: col(r, "id")?,
                at: stamp(r, "at")?,
                actor: actor_from(r, "actor")?,
                action: col(r, "action")?,
                target_kind: col(r, "target_kind")?,
                target_id: col(r, "target_id")?,
                detail: col(r, "detail")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(paginate(items, limit, |e| &e.id))
}

pub(super) fn actor_from(row: &AnyRow, prefix: &str) -> Result<ActorRef, sqlx::Error> {
    let kind: String = col(row, &format!("{prefix}_kind"))?;
    Ok(ActorRef {
        kind: AccountKind::parse(&kind).unwrap_or(AccountKind::User),
        id: col(row, &format!("{prefix}_id"))?,
        name: col(row, &format!("{prefix}_name"))?,
    })
}
