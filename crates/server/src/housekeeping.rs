//! The housekeeping loop, every 5 s: signing keys reloaded (a rotation made
//! elsewhere), throttles trimmed, secrets' last uses written, expiry
//! reminders queued (every minute), expired revocations forgotten, the
//! outbox delivered, and expired rows purged (every hour). What other
//! replicas changed in applications and tokens is `state/replica_sync.rs`'s.

use crate::notify;
use crate::state::AppState;
use crate::store;
use std::time::Duration;

/// Keeps keys in step with other replicas and storage tidy.
pub(crate) fn spawn(state: AppState, deliver_notifications: bool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        let mut rounds: u64 = 0;
        loop {
            tick.tick().await;
            rounds += 1;
            if let Err(e) = state.keys().refresh().await {
                tracing::warn!(error = %e, "could not refresh signing keys");
            }
            state.throttle().housekeeping();
            if let Err(e) = state.secret_uses().flush(state.db()).await {
                tracing::warn!(error = %e, "could not record when client secrets were last used");
            }
            if rounds.is_multiple_of(12)
                && let Err(e) = store::send_expiry_reminders(state.db(), &state.config().secret_policy).await
            {
                tracing::warn!(error = %e, "could not queue client secret expiry reminders");
            }
            state.caches().forget_expired_revocations(state.now().unix_secs());
            if deliver_notifications
                && let Err(e) = notify::deliver_due(
                    state.db(),
                    &state.config().mailer,
                    &state.metrics().outbox_delivery_failures,
                )
                .await
            {
                tracing::warn!(error = %e, "could not deliver notifications");
            }
            if rounds.is_multiple_of(720) {
                if let Err(e) = store::purge_expired(state.db()).await {
                    tracing::warn!(error = %e, "could not purge expired rows");
                }
                if let Err(e) = store::purge_expired_secrets(state.db(), &state.config().secret_policy).await {
                    tracing::warn!(error = %e, "could not remove long-expired client secrets");
                }
            }
        }
    });
}
