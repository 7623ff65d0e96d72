//! `token_quota_per_hour` held across replicas, without a database write per
//! grant in the ordinary case.
//!
//! The count is shared: grants per client and minute in `token_grant_buckets`
//! (`store::quota`), summed over every replica. Each replica keeps, per
//! client with a quota: the counts as it last read them (`shared`), its own
//! grants not yet written (`pending`), and those being written (`in_flight`).
//! A grant is decided here, with no database work, while the domain's rule
//! (`domain::quota::admits_locally`) allows it: this replica's share of the
//! room left below the last tenth of the quota. Past that, the database
//! decides it exactly (`store::grant_exactly`: this replica's pending grants
//! and this one added, the window summed, the grant taken back if over). A
//! client known to be over is refused from memory until the moment its
//! oldest counted grants age out, so hammering at the limit costs nothing.
//!
//! A background task writes every client's pending grants in one batched
//! statement about once a second, reads back the counts of the clients it
//! wrote or served lately, stamps this replica as live (how many share the
//! room), and purges old rows. It stops with the server, writing once more.

use crate::db::Db;
use crate::metrics::Metrics;
use crate::store::{self, ExactGrant, GrantRow};
use casebook_domain::quota::{Buckets, TokenQuota, WINDOW_MINUTES, admits_locally, minute_of, window_start};
use prometheus_client::metrics::counter::Counter;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often pending grants are written and the shared counts read back.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Every this many flushes, the replica stamps itself live and counts the others.
const HEARTBEAT_EVERY: u64 = 5;
/// A replica not stamped for this long no longer shares the room.
const LIVE_FOR_MICROS: i64 = 30_000_000;
/// Every this many flushes, old rows are purged and idle clients forgotten.
const PURGE_EVERY: u64 = 60;
/// Clients served within this many minutes have their counts read back at
/// every flush, so what another replica granted them is known here within
/// about a second.
const ACTIVE_MINUTES: i64 = 2;

/// What a replica knows of one client's grants.
#[derive(Debug, Default)]
struct Tracked {
    shared: Buckets,
    pending: Buckets,
    in_flight: Buckets,
    refused: Option<Refused>,
    last_minute: i64,
    /// Set by a decision of the database: until then every grant is
    /// decided there. Near the limit, a read taken by one replica's exact
    /// decision may miss what the others granted alone and have not written
    /// yet; two flushes later they have.
    exact_until: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Refused {
    /// Unix seconds; the quota it was computed for, so that a changed quota
    /// is judged afresh.
    until: i64,
    quota: TokenQuota,
}

impl Tracked {
    fn unsynced(&self, minute: i64) -> i64 {
        self.pending.total_at(minute) + self.in_flight.total_at(minute)
    }

    fn known(&self) -> Buckets {
        let mut known = self.shared.clone();
        known.merge(&self.pending);
        known.merge(&self.in_flight);
        known
    }

    fn refuse(&mut self, quota: TokenQuota, now_secs: i64) -> Verdict {
        let wait = self.known().retry_after_secs(quota, now_secs).max(1);
        self.refused = Some(Refused {
            until: now_secs.saturating_add_unsigned(wait),
            quota,
        });
        Verdict::Refused { retry_after_secs: wait }
    }

    /// The verdict from memory, or `None` when the database must decide.
    fn decide(&mut self, client_id: &str, quota: TokenQuota, now_secs: i64, replicas: u32) -> Option<Verdict> {
        let minute = minute_of(now_secs);
        self.last_minute = self.last_minute.max(minute);
        if let Some(refused) = self.refused.filter(|r| r.quota == quota && r.until > now_secs) {
            let wait = u64::try_from(refused.until - now_secs).unwrap_or(1).max(1);
            return Some(Verdict::Refused { retry_after_secs: wait });
        }
        let (shared, unsynced) = (self.shared.total_at(minute), self.unsynced(minute));
        if shared + unsynced >= i64::from(quota.per_hour()) {
            return Some(self.refuse(quota, now_secs));
        }
        let exact = self.exact_until.is_some_and(|until| Instant::now() < until);
        if !exact && admits_locally(shared, unsynced, quota, replicas) {
            self.pending.add(minute, 1);
            return Some(Verdict::Granted(Reservation {
                client_id: client_id.to_owned(),
                minute,
            }));
        }
        None
    }

    fn forget_old(&mut self, minute: i64) {
        for buckets in [&mut self.shared, &mut self.pending, &mut self.in_flight] {
            buckets.forget_before_window(minute);
        }
    }
}

/// A grant counted against a quota; [`TokenQuotas::release`] takes it back
/// when the token is not handed out after all.
#[derive(Debug)]
#[must_use = "a grant that fails after the quota admitted it must be released"]
pub struct Reservation {
    client_id: String,
    minute: i64,
}

#[derive(Debug)]
pub enum Verdict {
    Granted(Reservation),
    Refused { retry_after_secs: u64 },
}

/// Every replica's view of the shared count; one per process.
#[derive(Debug)]
pub struct TokenQuotas {
    db: Db,
    replica_id: String,
    /// How many replicas share the room: 1 on SQLite, where one process
    /// serves; on PostgreSQL, the live stamps, 2 until the first is read.
    replicas: AtomicU32,
    clients: Mutex<HashMap<String, Tracked>>,
    /// One writer at a time, the flush or an exact decision: each moves a
    /// client's pending grants through `in_flight` and back on failure.
    writer: tokio::sync::Mutex<()>,
    exact_checks: Counter,
    flushes: Counter,
    stop: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl TokenQuotas {
    pub fn new(db: Db, metrics: &Metrics) -> Self {
        let replicas = match db.backend() {
            crate::db::Backend::Sqlite => 1,
            crate::db::Backend::Postgres => 2,
        };
        Self {
            db,
            replica_id: crate::db::new_id(),
            replicas: AtomicU32::new(replicas),
            clients: Mutex::new(HashMap::new()),
            writer: tokio::sync::Mutex::new(()),
            exact_checks: metrics.token_quota_exact_checks.clone(),
            flushes: metrics.token_quota_flushes.clone(),
            stop: watch::channel(false).0,
            task: Mutex::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Tracked>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn replicas(&self) -> u32 {
        self.replicas.load(Ordering::Relaxed)
    }

    /// Counts one grant to `client_id` at `now_secs` against `quota`, or
    /// refuses it with the seconds until one would fit.
    pub async fn admit(&self, client_id: &str, quota: TokenQuota, now_secs: i64) -> Result<Verdict, sqlx::Error> {
        let minute = minute_of(now_secs);
        let known = {
            let mut clients = self.lock();
            match clients.get_mut(client_id) {
                Some(tracked) => match tracked.decide(client_id, quota, now_secs, self.replicas()) {
                    Some(verdict) => return Ok(verdict),
                    None => true,
                },
                None => false,
            }
        };
        if !known {
            // First seen by this replica: what the others counted, read once.
            let mut counts = store::grant_counts(&self.db, &[client_id], window_start(minute)).await?;
            let mut clients = self.lock();
            let tracked = clients.entry(client_id.to_owned()).or_insert_with(|| Tracked {
                shared: counts.remove(client_id).unwrap_or_default(),
                last_minute: minute,
                ..Tracked::default()
            });
            if let Some(verdict) = tracked.decide(client_id, quota, now_secs, self.replicas()) {
                return Ok(verdict);
            }
        }
        self.exactly(client_id, quota, now_secs).await
    }

    /// A grant near the quota, decided by the database.
    async fn exactly(&self, client_id: &str, quota: TokenQuota, now_secs: i64) -> Result<Verdict, sqlx::Error> {
        let minute = minute_of(now_secs);
        let _writer = self.writer.lock().await;
        let unsynced = {
            let mut clients = self.lock();
            let tracked = clients.entry(client_id.to_owned()).or_default();
            // Decided while this waited for the writer (a refusal, or room
            // read back by a flush): no need to ask.
            if let Some(verdict) = tracked.decide(client_id, quota, now_secs, self.replicas()) {
                return Ok(verdict);
            }
            let taken = std::mem::take(&mut tracked.pending);
            tracked.in_flight.merge(&taken);
            taken
        };
        self.exact_checks.inc();
        let outcome = store::grant_exactly(&self.db, client_id, &unsynced, minute, quota).await;
        let mut clients = self.lock();
        let tracked = clients.entry(client_id.to_owned()).or_default();
        tracked.in_flight = Buckets::new();
        match outcome {
            Ok(ExactGrant { granted, counts }) => {
                tracked.shared = counts;
                tracked.exact_until = Some(Instant::now() + 2 * FLUSH_EVERY);
                if granted {
                    Ok(Verdict::Granted(Reservation {
                        client_id: client_id.to_owned(),
                        minute,
                    }))
                } else {
                    Ok(tracked.refuse(quota, now_secs))
                }
            }
            Err(e) => {
                tracked.pending.merge(&unsynced);
                Err(e)
            }
        }
    }

    /// Takes back a grant whose token was not handed out; the next flush
    /// writes it as one fewer.
    pub fn release(&self, reservation: Reservation) {
        if let Some(tracked) = self.lock().get_mut(&reservation.client_id) {
            tracked.pending.add(reservation.minute, -1);
        }
    }

    /// Writes every pending grant in one transaction and reads back the
    /// counts of the clients written or served lately.
    pub async fn flush(&self) -> Result<(), sqlx::Error> {
        let _writer = self.writer.lock().await;
        let minute = minute_of(self.db.clock().now().unix_secs());
        let mut rows: Vec<GrantRow> = Vec::new();
        let mut read: Vec<String> = Vec::new();
        for (client_id, tracked) in self.lock().iter_mut() {
            tracked.forget_old(minute);
            let taken = std::mem::take(&mut tracked.pending);
            rows.extend(taken.iter().map(|(m, g)| (client_id.clone(), m, g)));
            tracked.in_flight.merge(&taken);
            if !taken.is_empty() || tracked.last_minute >= minute - ACTIVE_MINUTES {
                read.push(client_id.clone());
            }
        }
        if !rows.is_empty() {
            if let Err(e) = store::add_grants(&self.db, &mut rows).await {
                for tracked in self.lock().values_mut() {
                    let back = std::mem::take(&mut tracked.in_flight);
                    tracked.pending.merge(&back);
                }
                return Err(e);
            }
            self.flushes.inc();
        }
        let ids: Vec<&str> = read.iter().map(String::as_str).collect();
        let counts = match ids.is_empty() {
            true => Ok(HashMap::new()),
            false => store::grant_counts(&self.db, &ids, window_start(minute)).await,
        };
        let mut clients = self.lock();
        match counts {
            Ok(mut counts) => {
                for client_id in &read {
                    if let Some(tracked) = clients.get_mut(client_id) {
                        tracked.shared = counts.remove(client_id).unwrap_or_default();
                    }
                }
                for tracked in clients.values_mut() {
                    tracked.in_flight = Buckets::new();
                }
                Ok(())
            }
            Err(e) => {
                // Written, so counted: what was in flight is shared now.
                for tracked in clients.values_mut() {
                    let written = std::mem::take(&mut tracked.in_flight);
                    tracked.shared.merge(&written);
                }
                Err(e)
            }
        }
    }

    /// Stamps this replica live and learns how many are (PostgreSQL only).
    async fn heartbeat(&self) -> Result<(), sqlx::Error> {
        if self.db.backend() == crate::db::Backend::Sqlite {
            return Ok(());
        }
        let live_since = self.db.now_micros() - LIVE_FOR_MICROS;
        let live = store::quota_heartbeat(&self.db, &self.replica_id, live_since).await?;
        self.replicas.store(live, Ordering::Relaxed);
        Ok(())
    }

    /// Drops rows no window counts any more, and clients idle for longer
    /// than a window with nothing left to write.
    async fn purge(&self) -> Result<(), sqlx::Error> {
        let minute = minute_of(self.db.clock().now().unix_secs());
        self.lock().retain(|_, t| {
            t.last_minute >= minute - WINDOW_MINUTES || !t.pending.is_empty() || !t.in_flight.is_empty()
        });
        let stale_replicas = self.db.now_micros() - 3_600_000_000;
        store::purge_grant_counts(&self.db, window_start(minute) - 1, stale_replicas).await
    }

    /// Starts the background task (once); [`Self::stop`] ends it.
    pub fn start(self: &Arc<Self>) {
        let mut slot = self.task.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return;
        }
        let quotas = Arc::downgrade(self);
        let mut stop = self.stop.subscribe();
        *slot = Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut rounds: u64 = 0;
            let mut failing = false;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.wait_for(|stopped| *stopped) => break,
                }
                let Some(quotas) = quotas.upgrade() else { return };
                let mut result = quotas.flush().await;
                if rounds.is_multiple_of(HEARTBEAT_EVERY) {
                    result = result.and(quotas.heartbeat().await);
                }
                if rounds.is_multiple_of(PURGE_EVERY) {
                    result = result.and(quotas.purge().await);
                }
                rounds += 1;
                match result {
                    Ok(()) if std::mem::take(&mut failing) => tracing::info!("token grant counts writable again"),
                    Ok(()) => {}
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(error = %e, "could not write or read token grant counts; trying again every second");
                    }
                    Err(_) => {}
                }
            }
            if let Some(quotas) = quotas.upgrade()
                && let Err(e) = quotas.flush().await
            {
                tracing::warn!(error = %e, "could not write the last token grant counts");
            }
        }));
    }

    /// Ends the background task after one last flush.
    pub async fn stop(&self) {
        self.stop.send_replace(true);
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

#[cfg(test)]
mod tests;
