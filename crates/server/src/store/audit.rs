//! The audit trail: written in the transaction of each change it records.

use super::*;
use crate::request_context::RequestContext;
use casebook_domain::audit::Changes;
use std::borrow::Cow;

/// One event as the code that makes a change describes it; where it came
/// from (source address, request id) is added from the request being
/// served.
#[derive(Debug)]
pub struct Event<'a> {
    action: Cow<'a, str>,
    target_kind: &'a str,
    target_id: &'a str,
    target_name: Option<&'a str>,
    detail: Option<String>,
    changes: Option<Changes>,
}

impl<'a> Event<'a> {
    pub fn new(action: impl Into<Cow<'a, str>>, target_kind: &'a str, target_id: &'a str) -> Self {
        Self {
            action: action.into(),
            target_kind,
            target_id,
            target_name: None,
            detail: None,
            changes: None,
        }
    }

    /// What the target is called now: an application's name, a user's
    /// email, a role's name.
    pub fn named(mut self, name: &'a str) -> Self {
        self.target_name = Some(name);
        self
    }

    pub fn detail(mut self, detail: impl Into<Option<String>>) -> Self {
        self.detail = detail.into();
        self
    }

    /// What a change changed: present (perhaps empty) on every change.
    pub fn changes(mut self, changes: Changes) -> Self {
        self.changes = Some(changes);
        self
    }
}

/// Writes `event`, in the transaction of the change it records. A target
/// not named by the caller is named from its row as the transaction sees
/// it: the name after a change, before a removal.
#[tracing::instrument(name = "db audit", level = "debug", skip_all)]
pub async fn audit(tx: &mut Tx, at: &Scope, actor: &ActorRef, event: Event<'_>) -> Result<(), sqlx::Error> {
    let request = RequestContext::current();
    let id = new_id();
    let now = tx.now_micros();
    sqlx::query(
        "INSERT INTO audit_events (id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, detail, \
         tenant_id, source, request_id, target_name, changes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         COALESCE($13, CASE $7 \
           WHEN 'application' THEN (SELECT name FROM applications WHERE id = $8 AND tenant_id = $10) \
           WHEN 'user' THEN (SELECT email FROM users WHERE id = $8 AND tenant_id = $10) \
           WHEN 'role' THEN (SELECT name FROM roles WHERE id = $8 AND tenant_id = $10) \
           WHEN 'tenant' THEN (SELECT name FROM tenants WHERE slug = $8) END), \
         $14)",
    )
    .bind(&id)
    .bind(now)
    .bind(actor.kind.as_str())
    .bind(&actor.id)
    .bind(&actor.name)
    .bind(event.action.as_ref())
    .bind(event.target_kind)
    .bind(event.target_id)
    .bind(event.detail)
    .bind(at.tenant())
    .bind(request.source.map(|ip| ip.to_string()))
    .bind(request.request_id().map(str::to_owned))
    .bind(event.target_name)
    .bind(event.changes.map(|c| c.into_value().to_string()))
    .execute(&mut **tx)
    .await?;
    // The webhooks' outbox, in the event's transaction: it is queued
    // exactly when the event exists.
    queue_deliveries(tx, at, &id, event.action.as_ref(), now).await
}

/// Queues `event_id` (an `action`) for every enabled endpoint of the tenant
/// that takes it, in the event's transaction: one statement, which queues
/// nothing when the tenant has no webhook.
async fn queue_deliveries(tx: &mut Tx, at: &Scope, event_id: &str, action: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, action, created_at, window_start, attempts, next_attempt_at) \
         SELECT w.tenant_id, w.id, $1, $2, $3, $3, 0, $3 FROM webhooks w \
         WHERE w.tenant_id = $4 AND w.enabled = 1 AND EXISTS (SELECT 1 FROM webhook_event_types t \
           WHERE t.tenant_id = w.tenant_id AND t.webhook_id = w.id \
           AND (t.exact = $2 OR substr($2, 1, length(t.prefix)) = t.prefix))",
    )
    .bind(event_id)
    .bind(action)
    .bind(now)
    .bind(at.tenant())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// An event that is the whole of what happened (a refused sign-in, a
/// refused request), in a transaction of its own.
pub async fn record(at: &Scope, actor: &ActorRef, event: Event<'_>) -> Result<(), sqlx::Error> {
    let mut tx = at.begin().await?;
    audit(&mut tx, at, actor, event).await?;
    tx.commit().await
}

/// Whether the same event (`action` on `target_id` with this `detail`) was
/// recorded within the last `window_micros`: for events an attacker could
/// repeat at will, which the trail records once a window.
pub async fn recorded_lately(
    tx: &mut Tx,
    at: &Scope,
    action: &str,
    target_id: &str,
    detail: &str,
    window_micros: i64,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM audit_events WHERE tenant_id = $1 AND target_id = $2 AND action = $3 \
         AND at > $4 AND detail = $5",
    )
    .bind(at.tenant())
    .bind(target_id)
    .bind(action)
    .bind(tx.now_micros() - window_micros)
    .bind(detail)
    .fetch_one(&mut **tx)
    .await?;
    Ok(col::<i64>(&row, "n")? > 0)
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
    /// At or after this instant (microseconds since the epoch).
    pub since: Option<i64>,
    /// Before this instant.
    pub until: Option<i64>,
    /// In the target's or the actor's name (any case), or a Client ID.
    pub search: Option<&'a str>,
}

/// `value` for a `LIKE` pattern, its metacharacters taken literally.
fn like_escaped(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[tracing::instrument(name = "db list_audit", level = "debug", skip_all)]
pub async fn list_audit(
    at: &Scope,
    cursor: Option<&str>,
    limit: u32,
    filter: AuditFilter<'_>,
) -> Result<Listed<AuditRecord>, sqlx::Error> {
    let mut clauses = Vec::new();
    let mut binds: Vec<Bound> = Vec::new();
    let mut with = |clause: &str, value: Bound| {
        binds.push(value);
        clauses.push(clause.replace('?', &format!("${}", binds.len())));
    };
    with("e.tenant_id = ?", Bound::Text(at.tenant().to_owned()));
    if let Some(c) = cursor {
        with("e.id < ?", Bound::Text(c.to_owned()));
    }
    match filter.action {
        // Actions are `kind.verb` of lowercase letters and `_`: no LIKE
        // metacharacter to escape but `_`, which a family never ends in.
        Some(family) if family.ends_with('.') => with(
            "e.action LIKE ? ESCAPE '\\'",
            Bound::Text(format!("{}%", like_escaped(family))),
        ),
        Some(action) => with("e.action = ?", Bound::Text(action.to_owned())),
        None => {}
    }
    if let Some(target) = filter.target_id {
        with("e.target_id = ?", Bound::Text(target.to_owned()));
    }
    if let Some(actor) = filter.actor_id {
        with("e.actor_id = ?", Bound::Text(actor.to_owned()));
    }
    if let Some(since) = filter.since {
        with("e.at >= ?", Bound::Number(since));
    }
    if let Some(until) = filter.until {
        with("e.at < ?", Bound::Number(until));
    }
    if let Some(search) = filter.search {
        binds.push(Bound::Text(format!("%{}%", like_escaped(&search.to_lowercase()))));
        let pattern = binds.len();
        binds.push(Bound::Text(search.to_owned()));
        let client_id = binds.len();
        clauses.push(format!(
            "(LOWER(e.target_name) LIKE ${pattern} ESCAPE '\\' OR LOWER(e.actor_name) LIKE ${pattern} ESCAPE '\\' \
             OR e.target_id IN (SELECT a.id FROM applications a WHERE a.tenant_id = e.tenant_id AND a.client_id = ${client_id}) \
             OR e.actor_id IN (SELECT a.id FROM applications a WHERE a.tenant_id = e.tenant_id AND a.client_id = ${client_id}))"
        ));
    }
    let filter = format!("WHERE {}", clauses.join(" AND "));
    // Newest first: ids are time-ordered (UUIDv7).
    let sql = format!(
        "SELECT e.id, e.at, e.actor_kind, e.actor_id, e.actor_name, e.action, e.target_kind, e.target_id, e.detail, \
         e.source, e.request_id, e.target_name, e.changes, t.slug AS tenant \
         FROM audit_events e LEFT JOIN tenants t ON t.id = e.tenant_id \
         {filter} /* tenant_id is the first condition */ ORDER BY e.id DESC LIMIT ${}",
        binds.len() + 1
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for value in binds {
        query = match value {
            Bound::Text(text) => query.bind(text),
            Bound::Number(number) => query.bind(number),
        };
    }
    let rows = query.bind(i64::from(limit) + 1).fetch_all(at.pool()).await?;
    let items = rows.iter().map(audit_record).collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(paginate(items, limit, |e| &e.id))
}

enum Bound {
    Text(String),
    Number(i64),
}

pub(super) fn audit_record(r: &AnyRow) -> Result<AuditRecord, sqlx::Error> {
    let changes: Option<String> = col(r, "changes")?;
    Ok(AuditRecord {
        id: col(r, "id")?,
        at: stamp(r, "at")?,
        actor: actor_from(r, "actor")?,
        action: col(r, "action")?,
        target_kind: col(r, "target_kind")?,
        target_id: col(r, "target_id")?,
        target_name: col(r, "target_name")?,
        detail: col(r, "detail")?,
        source: col(r, "source")?,
        request_id: col(r, "request_id")?,
        tenant: col::<Option<String>>(r, "tenant")?.unwrap_or_else(|| casebook_domain::tenant::ROOT.to_owned()),
        // Written by `audit` from a `Changes`; text that does not parse
        // (never written so) reads as nothing rather than failing the page.
        changes: changes.and_then(|text| serde_json::from_str(&text).ok()),
    })
}

pub(super) fn actor_from(row: &AnyRow, prefix: &str) -> Result<ActorRef, sqlx::Error> {
    let kind: String = col(row, &format!("{prefix}_kind"))?;
    Ok(ActorRef {
        kind: AccountKind::parse(&kind).unwrap_or(AccountKind::Unknown),
        id: col(row, &format!("{prefix}_id"))?,
        name: col(row, &format!("{prefix}_name"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::like_escaped;

    #[test]
    fn like_metacharacters_are_taken_literally() {
        assert_eq!(like_escaped("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(like_escaped("Intake"), "Intake");
    }
}
