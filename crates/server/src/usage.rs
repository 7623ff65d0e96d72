//! Usage at a glance, counted (the contract, "Usage at a glance"): each
//! replica counts tokens issued and refusals per application and hour in
//! memory, and the housekeeping loop adds what it counted to the shared
//! rows every few seconds, so a count is visible well within the
//! contract's 15 s and a token costs no database write. Counts are keyed
//! by Client ID, which every refusal knows even when no lookup was made (a
//! mistyped secret); storage keeps only those naming an application of the
//! tenant. What a counter means and how counts become hourly buckets is
//! `casebook_domain::usage`.

use crate::db::Db;
use crate::store::{self, UsageRow};
use casebook_domain::Timestamp;
use casebook_domain::usage::{Counter, hour_of};
use std::collections::HashMap;
use std::sync::Mutex;

/// Clients counted between two flushes. Past this many (a flood of guessed
/// Client IDs), further new ones are not counted until the next flush;
/// those already counted still are.
const CLIENTS_REMEMBERED: usize = 20_000;

/// A client's counts, by hour: usually one hour, two across its turn.
type Hours = Vec<(i64, [i64; Counter::ALL.len()])>;

#[derive(Debug)]
pub struct UsageCounts {
    enabled: bool,
    /// Tenant, then Client ID: looked up by `&str`, so a count allocates
    /// only for a client's first count since the last flush.
    counts: Mutex<HashMap<String, HashMap<String, Hours>>>,
    remembered: std::sync::atomic::AtomicUsize,
}

impl UsageCounts {
    /// `enabled` false (`CASEBOOK_USAGE_COUNTING=false`) counts nothing.
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            counts: Mutex::default(),
            remembered: Default::default(),
        }
    }

    /// Counts one event of `client_id` in `tenant_id` at `at`.
    pub fn count(&self, tenant_id: &str, client_id: &str, counter: Counter, at: Timestamp) {
        if !self.enabled {
            return;
        }
        let hour = hour_of(at);
        let index = counter as usize;
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let clients = match counts.get_mut(tenant_id) {
            Some(clients) => clients,
            None => counts.entry(tenant_id.to_owned()).or_default(),
        };
        let hours = match clients.get_mut(client_id) {
            Some(hours) => hours,
            None => {
                if self.remembered.load(std::sync::atomic::Ordering::Relaxed) >= CLIENTS_REMEMBERED {
                    return;
                }
                self.remembered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                clients.entry(client_id.to_owned()).or_default()
            }
        };
        match hours.iter_mut().find(|(h, _)| *h == hour) {
            Some((_, n)) => n[index] += 1,
            None => {
                let mut n = [0; Counter::ALL.len()];
                n[index] = 1;
                hours.push((hour, n));
            }
        }
    }

    fn take(&self) -> Vec<UsageRow> {
        let taken = {
            let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            self.remembered.store(0, std::sync::atomic::Ordering::Relaxed);
            std::mem::take(&mut *counts)
        };
        let mut rows = Vec::new();
        for (tenant_id, clients) in taken {
            for (client_id, hours) in clients {
                for (hour, n) in hours {
                    for counter in Counter::ALL {
                        let count = n[counter as usize];
                        if count > 0 {
                            rows.push((tenant_id.clone(), client_id.clone(), hour, counter, count));
                        }
                    }
                }
            }
        }
        rows
    }

    fn put_back(&self, rows: Vec<UsageRow>) {
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (tenant_id, client_id, hour, counter, count) in rows {
            let hours = counts.entry(tenant_id).or_default().entry(client_id).or_default();
            match hours.iter_mut().find(|(h, _)| *h == hour) {
                Some((_, n)) => n[counter as usize] += count,
                None => {
                    let mut n = [0; Counter::ALL.len()];
                    n[counter as usize] = count;
                    hours.push((hour, n));
                }
            }
        }
    }

    /// Adds everything counted since the last flush to the shared counts,
    /// in one transaction. On failure the counts are kept for the next round.
    pub async fn flush(&self, db: &Db) -> Result<(), sqlx::Error> {
        let mut rows = self.take();
        if rows.is_empty() {
            return Ok(());
        }
        if let Err(e) = store::add_usage(db, &mut rows).await {
            self.put_back(rows);
            return Err(e);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sum_per_client_hour_and_counter() {
        let usage = UsageCounts::new(true);
        let at = Timestamp::from_unix_secs(1_800_000_000);
        let next_hour = Timestamp::from_unix_secs(1_800_003_600);
        for _ in 0..3 {
            usage.count("t", "cb_a", Counter::Issued, at);
        }
        usage.count("t", "cb_a", Counter::InvalidSecret, at);
        usage.count("t", "cb_a", Counter::Issued, next_hour);
        usage.count("u", "cb_a", Counter::Issued, at);
        let mut rows = usage.take();
        rows.sort_by(|a, b| (&a.0, &a.1, a.2, a.3).cmp(&(&b.0, &b.1, b.2, b.3)));
        let h = hour_of(at);
        let expected: Vec<UsageRow> = vec![
            ("t".into(), "cb_a".into(), h, Counter::Issued, 3),
            ("t".into(), "cb_a".into(), h, Counter::InvalidSecret, 1),
            ("t".into(), "cb_a".into(), hour_of(next_hour), Counter::Issued, 1),
            ("u".into(), "cb_a".into(), h, Counter::Issued, 1),
        ];
        assert_eq!(rows, expected);
        assert!(usage.take().is_empty(), "taken once");
        usage.put_back(rows.clone());
        assert_eq!(usage.take().len(), rows.len(), "a failed flush keeps its counts");
    }

    #[test]
    fn switched_off_it_counts_nothing() {
        let usage = UsageCounts::new(false);
        usage.count("t", "cb_a", Counter::Issued, Timestamp::UNIX_EPOCH);
        assert!(usage.take().is_empty());
    }

    #[test]
    fn a_flood_of_client_ids_is_bounded() {
        let usage = UsageCounts::new(true);
        for n in 0..CLIENTS_REMEMBERED + 10 {
            usage.count("t", &format!("cb_{n}"), Counter::InvalidSecret, Timestamp::UNIX_EPOCH);
        }
        // One already counted still is.
        usage.count("t", "cb_0", Counter::InvalidSecret, Timestamp::UNIX_EPOCH);
        let rows = usage.take();
        assert_eq!(rows.len(), CLIENTS_REMEMBERED);
        assert!(rows.iter().any(|r| r.1 == "cb_0" && r.4 == 2));
    }
}
