//! When each client secret was last used, kept to the minute in memory and
//! written in batches (the contract, "Client secrets": "kept to the minute, without a
//! database write per token"). A secret used a thousand times in a minute
//! costs one stamp in one batched statement; the housekeeping loop writes
//! what moved every few seconds, and the admin list reads this replica's
//! unwritten stamps beside the stored ones.
//!
//! It also decides which uses of an expired secret reach the audit trail:
//! one row a minute per secret and source address, written in the
//! background. A deployment still holding the secret retries in a loop, and
//! a row per try would flood the trail and make an expired secret cost the
//! database a write that a wrong secret does not.

use crate::db::Db;
use crate::store;
use casebook_domain::Timestamp;
use prometheus_client::metrics::counter::Counter;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MINUTE_MICROS: i64 = 60_000_000;

/// At most one audit row per secret and source address in this long.
const EXPIRED_AUDIT_EVERY: Duration = Duration::from_secs(60);
/// Pairs remembered at once. Past this many within a minute (a flood from
/// many addresses), further uses are refused as ever but not audited row
/// by row; `casebook_expired_secrets_total` still counts each.
const EXPIRED_AUDIT_REMEMBERED: usize = 10_000;

type ExpiredUseKey = (String, Option<IpAddr>);

#[derive(Debug, Default)]
pub struct SecretUse {
    stamps: Mutex<HashMap<String, Stamp>>,
    /// Statements written, for the test that counts them.
    writes: Counter,
    /// When each (expired secret, source) pair was last audited, on the
    /// monotonic clock: a wall-clock jump must not reopen or close the gate.
    expired_audited: Mutex<HashMap<ExpiredUseKey, Instant>>,
}

#[derive(Debug, Clone, Copy)]
struct Stamp {
    minute: i64,
    written: bool,
}

impl SecretUse {
    pub fn new(writes: Counter) -> Self {
        Self {
            stamps: Mutex::default(),
            writes,
            expired_audited: Mutex::default(),
        }
    }

    /// Whether this use of an expired secret is the first from `peer` in
    /// [`EXPIRED_AUDIT_EVERY`]: the one to audit.
    pub fn first_expired_use_in_a_while(&self, secret_id: &str, peer: Option<IpAddr>, now: Instant) -> bool {
        let key = (secret_id.to_owned(), peer.map(|a| a.to_canonical()));
        let mut last = self.expired_audited.lock().unwrap_or_else(|e| e.into_inner());
        if last
            .get(&key)
            .is_some_and(|at| now.duration_since(*at) < EXPIRED_AUDIT_EVERY)
        {
            return false;
        }
        if last.len() >= EXPIRED_AUDIT_REMEMBERED && !last.contains_key(&key) {
            last.retain(|_, at| now.duration_since(*at) < EXPIRED_AUDIT_EVERY);
            if last.len() >= EXPIRED_AUDIT_REMEMBERED {
                return false;
            }
        }
        last.insert(key, now);
        true
    }

    /// Notes a use; the lock is held for one lookup, and a `String` is made
    /// only for a secret's first use in this process.
    pub fn note(&self, secret_id: &str, at: Timestamp) {
        let minute = at.unix_micros().div_euclid(MINUTE_MICROS) * MINUTE_MICROS;
        let mut stamps = self.stamps.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match stamps.get_mut(secret_id) {
            Some(stamp) if stamp.minute >= minute => {}
            Some(stamp) => *stamp = Stamp { minute, written: false },
            None => {
                stamps.insert(secret_id.to_owned(), Stamp { minute, written: false });
            }
        }
    }

    /// This process's latest stamp of a secret, written or not.
    pub fn last_used(&self, secret_id: &str) -> Option<Timestamp> {
        let stamps = self.stamps.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        stamps.get(secret_id).map(|s| Timestamp::from_unix_micros(s.minute))
    }

    /// Writes every stamp that moved since the last flush, in one statement.
    /// On failure they stay unwritten for the next round.
    pub async fn flush(&self, db: &Db) -> Result<(), sqlx::Error> {
        let pending: Vec<(String, i64)> = {
            let mut stamps = self.stamps.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // Written stamps older than an hour are stored and no longer
            // needed here; dropping them keeps ended secrets from piling up.
            let stale = db.now_micros() - 60 * MINUTE_MICROS;
            stamps.retain(|_, s| !s.written || s.minute > stale);
            stamps
                .iter_mut()
                .filter(|(_, s)| !s.written)
                .map(|(id, s)| {
                    s.written = true;
                    (id.clone(), s.minute)
                })
                .collect()
        };
        if pending.is_empty() {
            return Ok(());
        }
        // Statements stay well inside every backend's bind-parameter limit.
        for batch in pending.chunks(1000) {
            if let Err(e) = store::record_secret_use(db, batch).await {
                self.unmark(batch);
                return Err(e);
            }
            self.writes.inc();
        }
        Ok(())
    }

    fn unmark(&self, batch: &[(String, i64)]) {
        let mut stamps = self.stamps.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (id, minute) in batch {
            if let Some(stamp) = stamps.get_mut(id)
                && stamp.minute == *minute
            {
                stamp.written = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_within_a_minute_make_one_stamp() {
        let uses = SecretUse::new(Counter::default());
        let at = Timestamp::from_unix_secs(1_800_000_030);
        for s in 0..30 {
            uses.note("s1", Timestamp::from_unix_secs(1_800_000_030 + s));
        }
        assert_eq!(uses.last_used("s1"), Some(Timestamp::from_unix_secs(1_800_000_000)));
        let pending = uses.stamps.lock().unwrap().values().filter(|s| !s.written).count();
        assert_eq!(pending, 1);
        // An older use never moves the stamp back.
        uses.note("s1", Timestamp::from_unix_secs(1_700_000_000));
        assert_eq!(uses.last_used("s1"), Some(Timestamp::from_unix_secs(1_800_000_000)));
        uses.note("s1", at.saturating_add(std::time::Duration::from_secs(60)));
        assert_eq!(uses.last_used("s1"), Some(Timestamp::from_unix_secs(1_800_000_060)));
        assert_eq!(uses.last_used("s2"), None);
    }

    #[test]
    fn an_expired_secret_is_audited_once_a_minute_per_source() {
        let uses = SecretUse::new(Counter::default());
        let start = Instant::now();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        assert!(uses.first_expired_use_in_a_while("s1", Some(a), start));
        for s in 1..60 {
            let at = start + Duration::from_secs(s);
            assert!(!uses.first_expired_use_in_a_while("s1", Some(a), at), "{s} s later");
        }
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert!(
            !uses.first_expired_use_in_a_while("s1", Some(mapped), start),
            "one address, two spellings"
        );
        assert!(uses.first_expired_use_in_a_while("s1", Some(b), start));
        assert!(uses.first_expired_use_in_a_while("s2", Some(a), start));
        assert!(uses.first_expired_use_in_a_while("s1", None, start));
        assert!(uses.first_expired_use_in_a_while("s1", Some(a), start + EXPIRED_AUDIT_EVERY));
    }

    #[test]
    fn the_gate_stays_bounded_under_a_flood_of_addresses() {
        let uses = SecretUse::new(Counter::default());
        let start = Instant::now();
        let audited = (0..EXPIRED_AUDIT_REMEMBERED as u32 + 100)
            .filter(|n| {
                let address = IpAddr::from(std::net::Ipv6Addr::from(u128::from(*n)));
                uses.first_expired_use_in_a_while("s1", Some(address), start)
            })
            .count();
        assert_eq!(audited, EXPIRED_AUDIT_REMEMBERED);
        assert_eq!(uses.expired_audited.lock().unwrap().len(), EXPIRED_AUDIT_REMEMBERED);
        // A minute on, the old pairs make room.
        let later = start + EXPIRED_AUDIT_EVERY;
        assert!(uses.first_expired_use_in_a_while("s1", Some(IpAddr::from([192, 0, 2, 9])), later));
        assert_eq!(uses.expired_audited.lock().unwrap().len(), 1);
    }
}
