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
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Client IDs counted between two flushes that no lookup vouched for (a
/// mistyped secret, an assertion naming any client). Past this many (a
/// flood of guessed Client IDs), further new ones are not counted until the
/// next flush; those already counted still are, and so is every client a
/// lookup found, whose number the tenant's applications bound.
const UNVERIFIED_REMEMBERED: usize = 20_000;

/// A client's counts, by hour: usually one hour, two across its turn.
type Hours = Vec<(i64, [i64; Counter::ALL.len()])>;

#[derive(Debug, Default)]
struct Client {
    /// A lookup found this Client ID in the tenant at least once.
    verified: bool,
    hours: Hours,
}

#[derive(Debug, Default)]
struct Counts {
    /// Tenant, then Client ID: looked up by `&str`, so a count allocates
    /// only for a client's first count since the last flush.
    tenants: HashMap<String, HashMap<String, Client>>,
    /// Entries made by `count_unverified`, against `UNVERIFIED_REMEMBERED`.
    unverified: usize,
}

impl Counts {
    /// The client's entry, made if there is room: always for a verified
    /// client, within the bound for another.
    fn client(&mut self, tenant_id: &str, client_id: &str, verified: bool) -> Option<&mut Client> {
        if !self.tenants.contains_key(tenant_id) {
            self.tenants.insert(tenant_id.to_owned(), HashMap::new());
        }
        let clients = self.tenants.get_mut(tenant_id)?;
        if !clients.contains_key(client_id) {
            if !verified {
                if self.unverified >= UNVERIFIED_REMEMBERED {
                    return None;
                }
                self.unverified += 1;
            }
            clients.insert(client_id.to_owned(), Client::default());
        }
        let client = clients.get_mut(client_id)?;
        client.verified |= verified;
        Some(client)
    }
}

fn add(hours: &mut Hours, hour: i64, counter: Counter, count: i64) {
    match hours.iter_mut().find(|(h, _)| *h == hour) {
        Some((_, n)) => n[counter as usize] += count,
        None => {
            let mut n = [0; Counter::ALL.len()];
            n[counter as usize] = count;
            hours.push((hour, n));
        }
    }
}

/// What one flush takes: the rows to add, and which clients no lookup vouched for.
#[derive(Debug, Default)]
struct Taken {
    rows: Vec<UsageRow>,
    unverified: HashSet<(String, String)>,
}

#[derive(Debug)]
pub struct UsageCounts {
    enabled: bool,
    counts: Mutex<Counts>,
}

impl UsageCounts {
    /// `enabled` false (`CASEBOOK_USAGE_COUNTING=false`) counts nothing.
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            counts: Mutex::default(),
        }
    }

    /// Counts one event of `client_id`, an application of `tenant_id` that
    /// a lookup found, at `at`.
    pub fn count(&self, tenant_id: &str, client_id: &str, counter: Counter, at: Timestamp) {
        self.count_as(tenant_id, client_id, counter, at, true);
    }

    /// Counts one event of a Client ID no lookup has vouched for: bounded,
    /// so that guessed IDs cannot crowd out real ones. Storage keeps only
    /// those naming an application of the tenant.
    pub fn count_unverified(&self, tenant_id: &str, client_id: &str, counter: Counter, at: Timestamp) {
        self.count_as(tenant_id, client_id, counter, at, false);
    }

    fn count_as(&self, tenant_id: &str, client_id: &str, counter: Counter, at: Timestamp, verified: bool) {
        if !self.enabled {
            return;
        }
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = counts.client(tenant_id, client_id, verified) {
            add(&mut client.hours, hour_of(at), counter, 1);
        }
    }

    fn take(&self) -> Taken {
        let taken = {
            let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            std::mem::take(&mut *counts)
        };
        let mut out = Taken::default();
        for (tenant_id, clients) in taken.tenants {
            for (client_id, client) in clients {
                if !client.verified {
                    out.unverified.insert((tenant_id.clone(), client_id.clone()));
                }
                for (hour, n) in client.hours {
                    for counter in Counter::ALL {
                        let count = n[counter as usize];
                        if count > 0 {
                            out.rows
                                .push((tenant_id.clone(), client_id.clone(), hour, counter, count));
                        }
                    }
                }
            }
        }
        out
    }

    /// Keeps a failed flush's counts for the next, within the same bound:
    /// while storage is down, guessed IDs do not pile up.
    fn put_back(&self, taken: Taken) {
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (tenant_id, client_id, hour, counter, count) in taken.rows {
            let verified = !taken.unverified.contains(&(tenant_id.clone(), client_id.clone()));
            if let Some(client) = counts.client(&tenant_id, &client_id, verified) {
                add(&mut client.hours, hour, counter, count);
            }
        }
    }

    /// Adds everything counted since the last flush to the shared counts,
    /// in one transaction. On failure the counts are kept for the next round.
    pub async fn flush(&self, db: &Db) -> Result<(), sqlx::Error> {
        let mut taken = self.take();
        if taken.rows.is_empty() {
            return Ok(());
        }
        if let Err(e) = store::add_usage(db, &mut taken.rows).await {
            self.put_back(taken);
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
        let mut rows = usage.take().rows;
        rows.sort_by(|a, b| (&a.0, &a.1, a.2, a.3).cmp(&(&b.0, &b.1, b.2, b.3)));
        let h = hour_of(at);
        let expected: Vec<UsageRow> = vec![
            ("t".into(), "cb_a".into(), h, Counter::Issued, 3),
            ("t".into(), "cb_a".into(), h, Counter::InvalidSecret, 1),
            ("t".into(), "cb_a".into(), hour_of(next_hour), Counter::Issued, 1),
            ("u".into(), "cb_a".into(), h, Counter::Issued, 1),
        ];
        assert_eq!(rows, expected);
        assert!(usage.take().rows.is_empty(), "taken once");
        usage.put_back(Taken {
            rows: rows.clone(),
            unverified: HashSet::new(),
        });
        assert_eq!(usage.take().rows.len(), rows.len(), "a failed flush keeps its counts");
    }

    #[test]
    fn switched_off_it_counts_nothing() {
        let usage = UsageCounts::new(false);
        usage.count("t", "cb_a", Counter::Issued, Timestamp::UNIX_EPOCH);
        assert!(usage.take().rows.is_empty());
    }

    #[test]
    fn a_flood_of_guessed_client_ids_is_bounded_and_crowds_out_no_real_one() {
        let usage = UsageCounts::new(true);
        let at = Timestamp::UNIX_EPOCH;
        for n in 0..UNVERIFIED_REMEMBERED + 10 {
            usage.count_unverified("t", &format!("cb_{n}"), Counter::InvalidSecret, at);
        }
        // One already counted still is, and a client a lookup found always is.
        usage.count_unverified("t", "cb_0", Counter::InvalidSecret, at);
        usage.count("t", "cb_real", Counter::Issued, at);
        usage.count_unverified("t", "cb_real", Counter::InvalidSecret, at);
        let taken = usage.take();
        assert_eq!(taken.rows.len(), UNVERIFIED_REMEMBERED + 2);
        assert!(taken.rows.iter().any(|r| r.1 == "cb_0" && r.4 == 2));
        let real: Vec<_> = taken.rows.iter().filter(|r| r.1 == "cb_real").collect();
        assert_eq!(real.len(), 2, "{real:?}");
        assert!(!taken.unverified.contains(&("t".to_owned(), "cb_real".to_owned())));

        // A failed flush keeps no more guessed IDs than one round may hold,
        // however many rounds fail, and keeps every real one.
        usage.put_back(taken);
        for n in 0..UNVERIFIED_REMEMBERED {
            usage.count_unverified("t", &format!("cb_more_{n}"), Counter::InvalidSecret, at);
        }
        let taken = usage.take();
        assert_eq!(taken.unverified.len(), UNVERIFIED_REMEMBERED);
        assert!(taken.rows.iter().any(|r| r.1 == "cb_real"));
    }
}
