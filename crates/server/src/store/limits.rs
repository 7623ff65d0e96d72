//! Where from and how many (the contract's "Allowed sources" and "Token quota"): an application's
//! `allowed_sources` and `token_quota_per_hour` as stored, as the token
//! endpoint and the token check read them, and the audit of refusals.

use super::*;
use casebook_domain::quota::TokenQuota;
use casebook_domain::sources::AllowedSources;
use std::sync::Arc;

/// The two columns as stored: the sources a JSON array of canonical CIDRs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitColumns {
    pub allowed_sources: Option<String>,
    pub token_quota_per_hour: Option<i64>,
}

/// What the token endpoint and the token check enforce.
#[derive(Debug, Clone, Default)]
pub struct ClientLimits {
    /// `None`: any address.
    pub allowed_sources: Option<Arc<AllowedSources>>,
    /// `None`: no quota.
    pub token_quota: Option<TokenQuota>,
}

impl LimitColumns {
    pub(super) fn read(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            allowed_sources: col(row, "allowed_sources")?,
            token_quota_per_hour: col(row, "token_quota_per_hour")?,
        })
    }

    /// The list as the admin API shows it.
    pub fn sources(&self) -> Option<Vec<String>> {
        self.allowed_sources
            .as_deref()
            .map(|text| serde_json::from_str(text).unwrap_or_default())
    }

    pub fn quota(&self) -> Option<u32> {
        self.token_quota_per_hour.and_then(|n| u32::try_from(n).ok())
    }

    /// The rules, read again through the domain. A stored list that no longer
    /// reads as one stands for no address at all, and a stored quota out of
    /// range for a quota of one: a damaged row must not open the door wider.
    pub fn enforced(&self, client_id: &str) -> ClientLimits {
        let allowed_sources = self.allowed_sources.as_deref().map(|text| {
            let read = serde_json::from_str::<Vec<String>>(text)
                .ok()
                .and_then(|list| AllowedSources::parse(&list).ok());
            Arc::new(read.unwrap_or_else(|| {
                tracing::error!(
                    client_id,
                    "the stored allowed_sources of a client do not read as a list of CIDRs"
                );
                AllowedSources::default()
            }))
        });
        let token_quota = self.token_quota_per_hour.map(|n| {
            TokenQuota::parse(n).unwrap_or_else(|_| {
                tracing::error!(client_id, "the stored token_quota_per_hour of a client is out of range");
                TokenQuota::LEAST
            })
        });
        ClientLimits {
            allowed_sources,
            token_quota,
        }
    }
}

/// Writes the limits a registration or change sets (`None` leaves a column
/// as it is, `Some(None)` clears it); answers what the audit trail says.
pub(super) async fn set_limits(
    tx: &mut Tx,
    at: &Scope,
    id: &str,
    sources: Option<Option<&AllowedSources>>,
    quota: Option<Option<TokenQuota>>,
) -> Result<Option<String>, sqlx::Error> {
    let mut said = Vec::new();
    if let Some(sources) = sources {
        let list = sources.map(AllowedSources::to_strings);
        let stored = list.as_ref().map(|l| serde_json::Value::from(l.clone()).to_string());
        sqlx::query("UPDATE applications SET allowed_sources = $1 WHERE id = $2 AND tenant_id = $3")
            .bind(stored)
            .bind(id)
            .bind(at.tenant())
            .execute(&mut **tx)
            .await?;
        said.push(match list {
            Some(list) => format!("allowed_sources: {}", list.join(", ")),
            None => "allowed_sources removed: any address".to_owned(),
        });
    }
    if let Some(quota) = quota {
        sqlx::query("UPDATE applications SET token_quota_per_hour = $1 WHERE id = $2 AND tenant_id = $3")
            .bind(quota.map(|q| i64::from(q.per_hour())))
            .bind(id)
            .bind(at.tenant())
            .execute(&mut **tx)
            .await?;
        said.push(match quota {
            Some(q) => format!("token_quota_per_hour: {}", q.per_hour()),
            None => "token_quota_per_hour removed".to_owned(),
        });
    }
    Ok((!said.is_empty()).then(|| said.join("; ")))
}

/// One refusal of an application's request for where it came from, with the
/// application as actor, in the application's tenant.
#[tracing::instrument(name = "db record_refusal", level = "debug", skip_all)]
pub async fn record_refusal(
    at: &Scope,
    application: &ActorRef,
    action: &str,
    detail: String,
) -> Result<(), sqlx::Error> {
    record(
        at,
        application,
        Event::new(action, "application", &application.id).detail(detail),
    )
    .await
}
