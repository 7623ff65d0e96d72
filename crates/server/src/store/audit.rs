//! The audit trail: written in the transaction of each change it records.

use super::*;

#[tracing::instrument(name = "db audit", level = "debug", skip_all)]
pub async fn audit(
    tx: &mut Tx,
    at: &Scope,
    actor: &ActorRef,
    action: &str,
    target_kind: &str,
    target_id: &str,
    detail: Option<String>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, detail, tenant_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
    .bind(at.tenant())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Which events a page of the trail holds; every part given must match.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditFilter<'a> {
    /// One action (`user.created`), or a family of them (`user.`).
    pub action: Option<&'a str>,
    /// The record acted on.
    pub target_id: Option<&'a str>,
    /// The account that acted.
    pub actor_id: Option<&'a str>,
}

#[tracing::instrument(name = "db list_audit", level = "debug", skip_all)]
pub async fn list_audit(
    at: &Scope,
    cursor: Option<&str>,
    limit: u32,
    filter: AuditFilter<'_>,
) -> Result<Listed<AuditRecord>, sqlx::Error> {
    let mut clauses = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    let mut with = |clause: &str, value: String| {
        binds.push(value);
        clauses.push(clause.replace('?', &format!("${}", binds.len())));
    };
    with("tenant_id = ?", at.tenant().to_owned());
    if let Some(c) = cursor {
        with("id < ?", c.to_owned());
    }
    match filter.action {
        // Actions are `kind.verb` of lowercase letters and `_`: no LIKE
        // metacharacter to escape but `_`, which a family never ends in.
        Some(family) if family.ends_with('.') => {
            with("action LIKE ? ESCAPE '\\'", format!("{}%", family.replace('_', "\\_")))
        }
        Some(action) => with("action = ?", action.to_owned()),
        None => {}
    }
    if let Some(target) = filter.target_id {
        with("target_id = ?", target.to_owned());
    }
    if let Some(actor) = filter.actor_id {
        with("actor_id = ?", actor.to_owned());
    }
    let filter = format!("WHERE {}", clauses.join(" AND "));
    // Newest first: ids are time-ordered (UUIDv7).
    let sql = format!(
        "SELECT id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, detail FROM audit_events \
         {filter} /* tenant_id is the first condition */ ORDER BY id DESC LIMIT ${}",
        binds.len() + 1
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for value in &binds {
        query = query.bind(value);
    }
    let rows = query.bind(i64::from(limit) + 1).fetch_all(at.pool()).await?;
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
