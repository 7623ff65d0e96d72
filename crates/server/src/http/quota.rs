//! `token_quota_per_hour` at the token endpoint: a grant past the quota is
//! 429 `temporarily_unavailable` with `Retry-After` (RFC 6749 §5.2, RFC 6585).

use crate::error::OAuthError;
use crate::quota::{Reservation, Verdict};
use crate::state::AppState;
use crate::store::ClientRecord;
use casebook_domain::OAuthErrorCode;

/// Counts the grant against the client's quota; `None` when it has none.
pub(super) async fn admit(
    state: &AppState,
    client_id: &str,
    client: &ClientRecord,
) -> Result<Option<Reservation>, OAuthError> {
    let Some(quota) = client.limits.token_quota else {
        return Ok(None);
    };
    let verdict = state
        .quotas()
        .admit(client_id, quota, state.now().unix_secs())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not check a token quota");
            OAuthError::unavailable("the server could not check the application's token quota; try again")
        })?;
    match verdict {
        Verdict::Granted(reservation) => Ok(Some(reservation)),
        Verdict::Refused { retry_after_secs } => {
            state.metrics().token_quota_refusals.inc();
            let counter = casebook_domain::usage::Counter::QuotaExceeded;
            state.usage().count(&client.tenant_id, client_id, counter, state.now());
            let mut error = OAuthError::new(
                OAuthErrorCode::TemporarilyUnavailable,
                format!(
                    "the application's token quota of {} an hour is spent; try again in {retry_after_secs} s",
                    quota.per_hour()
                ),
            );
            error.retry_after_secs = Some(retry_after_secs);
            Err(error)
        }
    }
}
