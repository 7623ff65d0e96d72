//! Client secrets that stopped existing, as the list of an application's
//! secrets shows them: what each was called, when it was made and when it
//! ended. The rows are written by a trigger on every delete of a secret
//! (migrations 0014 and 0020), whatever deleted it.

use super::*;
use casebook_domain::Timestamp;

/// How many ended secrets the list shows: the most recent, enough to tell
/// what a rotation or an end just did; the audit trail keeps them all.
pub const ENDED_SECRETS_LISTED: i64 = 20;

#[derive(Debug, Clone)]
pub struct EndedSecretRecord {
    pub id: String,
    pub label: Option<String>,
    pub created_at: Option<Timestamp>,
    pub ended_at: Timestamp,
}

/// The most recent ended secrets of `application_id`, newest end first.
/// Secrets ended before release 0.3 were remembered by MAC alone and are
/// not listed. The caller has checked that the application is the tenant's.
#[tracing::instrument(name = "db ended_secrets", level = "debug", skip_all)]
pub async fn ended_secrets(at: &Scope, application_id: &str) -> Result<Vec<EndedSecretRecord>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT e.secret_id, e.label, e.created_at, e.ended_at FROM ended_secrets e \
         JOIN applications a ON a.id = e.application_id AND a.tenant_id = $2 \
         WHERE e.application_id = $1 AND e.secret_id IS NOT NULL ORDER BY e.ended_at DESC, e.secret_id DESC LIMIT $3",
    )
    .bind(application_id)
    .bind(at.tenant())
    .bind(ENDED_SECRETS_LISTED)
    .fetch_all(at.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(EndedSecretRecord {
                id: col(r, "secret_id")?,
                label: col(r, "label")?,
                created_at: col::<Option<i64>>(r, "created_at")?.map(Timestamp::from_unix_micros),
                ended_at: Timestamp::from_unix_micros(col(r, "ended_at")?),
            })
        })
        .collect()
}
