//! The housekeeping loop, every 5 s: the signing keys of each loaded tenant
//! whose keys changed reloaded (a rotation made elsewhere), throttles trimmed, secrets' last
//! uses and usage counts written, expiry reminders queued (every minute), expired
//! revocations forgotten, the outbox delivered, and expired rows purged
//! (every hour), of every tenant in one pass. What other replicas changed
//! in applications and tokens is `state/replica_sync.rs`'s.

use crate::keys::KeyError;
use crate::notify;
use crate::state::AppState;
use crate::store;
use std::time::Duration;

/// Keeps keys in step with other replicas and storage tidy.
pub(crate) fn spawn(state: AppState, deliver_notifications: bool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        let mut rounds: u64 = 0;
        let mut keys_seen = state.db().now_micros();
        loop {
            tick.tick().await;
            rounds += 1;
            keys_seen = refresh_keys(&state, keys_seen).await;
            state.throttle().housekeeping();
            if let Err(e) = state.secret_uses().flush(state.db()).await {
                tracing::warn!(error = %e, "could not record when client secrets were last used");
            }
            if let Err(e) = state.usage().flush(state.db()).await {
                tracing::warn!(error = %e, "could not record usage counts");
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
                    state.master(),
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
                let kept_from = casebook_domain::usage::oldest_kept_hour(state.now());
                if let Err(e) = store::purge_usage(state.db(), kept_from).await {
                    tracing::warn!(error = %e, "could not purge old usage counts");
                }
            }
        }
    });
}

/// How far back each look for changed keys reaches past the last one: a
/// key is stamped by its writer's clock, before its commit.
const KEY_LOOK_MARGIN_MICROS: i64 = 10_000_000;

/// A ring is read again at least this often even when nothing changed, so
/// that retired keys leave it once their grace is over.
const KEY_RING_MAX_AGE: Duration = Duration::from_secs(300);

/// Refreshes the loaded rings whose tenant's keys changed since `seen` (a
/// rotation made by another process, a key that began or stopped signing),
/// and those not read for [`KEY_RING_MAX_AGE`]: one query a round, not one
/// per tenant. A tenant not served since start reads its keys when it is.
/// Returns where the next look starts.
async fn refresh_keys(state: &AppState, seen: i64) -> i64 {
    let now = state.db().now_micros();
    let moved = match store::signing_keys_moved(state.db(), seen - KEY_LOOK_MARGIN_MICROS, now).await {
        Ok(moved) => moved,
        Err(e) => {
            tracing::warn!(error = %e, "could not look for changed signing keys");
            return seen;
        }
    };
    for ring in state.keys().all_loaded() {
        if !moved.iter().any(|id| id == ring.tenant()) && !ring.read_before(KEY_RING_MAX_AGE) {
            continue;
        }
        match ring.refresh().await {
            Ok(()) => {}
            // Deleted through another replica: its ring goes here too.
            Err(KeyError::TenantGone) => state.keys().forget(ring.tenant()),
            Err(e) => tracing::warn!(error = %e, tenant = ring.tenant(), "could not refresh signing keys"),
        }
    }
    now
}
