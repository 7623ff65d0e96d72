//! Usage at a glance: an application's, or the tenant's, tokens issued and
//! refusals per hour (`admin:view`).

use super::{APPLICATIONS, Admin, Applications, with};
use crate::error::Error;
use casebook_domain::{ApplicationId, Timestamp};
use reqwest::Method;

pub use casebook_domain::wire::{ApplicationUsage, TenantUsage, Usage, UsageBucket, UsageRefusals};

/// `?since=&until=`. Whether `since` is within the 30 days kept is the
/// server's to judge, by its clock.
fn window_query(since: Option<Timestamp>, until: Option<Timestamp>) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    if let Some(since) = since {
        query.push(("since", since.to_rfc3339()));
    }
    if let Some(until) = until {
        query.push(("until", until.to_rfc3339()));
    }
    query
}

impl Applications<'_> {
    /// The application's counts per hour from `since` (default 7 days
    /// before `until`, at most 30 days back) to `until` (default now):
    /// tokens issued, refusals by reason, API calls refused; hours with
    /// nothing counted left out (`admin:view`).
    pub async fn usage(
        &self,
        id: &ApplicationId,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Usage, Error> {
        let query = window_query(since, until);
        let path = with(&APPLICATIONS, &[id.as_str(), "usage"]);
        self.client.send(Method::GET, &path, &query, None::<&()>).await
    }
}

impl Admin<'_> {
    /// The tenant's counts per hour, every application summed, and each
    /// application's totals and last activity (`admin:view`).
    pub async fn usage(&self, since: Option<Timestamp>, until: Option<Timestamp>) -> Result<TenantUsage, Error> {
        let query = window_query(since, until);
        self.client
            .send(Method::GET, &["admin", "v1", "usage"], &query, None::<&()>)
            .await
    }
}
