//! How this replica learns of what others changed: the shared cache
//! generation (every committed change to an application or role moves it in
//! storage) and the tokens revoked since the last look, read together a few
//! times per cache TTL. A revoked token is refused on every replica within
//! a poll; a change elsewhere empties this replica's caches within one.

use super::AppState;
use crate::store;
use std::time::Duration;

/// Polls the shared cache generation four times per cache TTL, so that the
/// caches keep an entry for as long as nothing it depends on changed
/// anywhere, and drop everything within a TTL of a change made elsewhere.
/// While polls fail, entries fall back to expiring one TTL after they were
/// filled.
pub fn spawn_generation_poll(state: AppState) {
    tokio::spawn(async move {
        let period = (state.config().cache_ttl / 4).max(Duration::from_millis(10));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seen: Option<i64> = None;
        let mut failing = false;
        // Revocations are read by the time they were stamped, with a margin
        // for the writer's commit delay and for clocks between replicas.
        let mut revocations_after = state.db().now_micros() - REVOCATION_POLL_MARGIN_MICROS;
        loop {
            tick.tick().await;
            let sent = std::time::Instant::now();
            let sent_wall = state.db().now_micros();
            let polled = async {
                let generation = store::cache_generation(state.db()).await?;
                let revoked = store::revocations_since(state.db(), revocations_after).await?;
                Ok::<_, sqlx::Error>((generation, revoked))
            }
            .await;
            match polled {
                Ok((generation, revoked)) => {
                    // Before the confirmation: a confirmation vouches that
                    // every revocation committed before `sent` is known here.
                    state.caches().revoked_elsewhere(revoked);
                    state.caches().confirm(sent, seen, generation);
                    seen = Some(generation);
                    revocations_after = sent_wall - REVOCATION_POLL_MARGIN_MICROS;
                    if std::mem::take(&mut failing) {
                        tracing::info!("cache generation readable again");
                    }
                }
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "could not read the cache generation; caches fall back to their TTL");
                }
                Err(_) => {}
            }
        }
    });
}

/// How far before the last successful poll the next one looks for
/// revocations: a revocation is stamped by the clock of the replica that
/// wrote it, just before its commit.
const REVOCATION_POLL_MARGIN_MICROS: i64 = 10_000_000;
