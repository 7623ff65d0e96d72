//! When each client secret was last used, kept to the minute in memory and
//! written in batches (SPEC: "`last_used_at` is kept to the minute without a
//! database write per token"). A secret used a thousand times in a minute
//! costs one stamp in one batched statement; the housekeeping loop writes
//! what moved every few seconds, and the admin list reads this replica's
//! unwritten stamps beside the stored ones.

use crate::db::Db;
use crate::store;
use casebook_domain::Timestamp;
use prometheus_client::metrics::counter::Counter;
use std::collections::HashMap;
use std::sync::Mutex;

const MINUTE_MICROS: i64 = 60_000_000;

#[derive(Debug, Default)]
pub struct SecretUse {
    stamps: Mutex<HashMap<String, Stamp>>,
    /// Statements written, for the test that counts them.
    writes: Counter,
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
        }
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
}
