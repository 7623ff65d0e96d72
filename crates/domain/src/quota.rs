//! `token_quota_per_hour` (the contract's "Token quota"): how many
//! tokens an application may be granted in any sliding hour, and the
//! arithmetic of the per-minute counts the server keeps to hold it.
//!
//! Grants are counted in minute buckets. A grant counts in its own minute and
//! the 60 after it ([`WINDOW_MINUTES`] buckets), so it weighs on the quota for
//! at least an hour and at most 61 minutes: no sliding hour ever holds more
//! grants than the quota, at the price of a refused client waiting up to a
//! minute longer than the exact hour.
//!
//! Several replicas share one count. Each decides most grants from what it
//! last read of the shared count plus its own grants since ([`admits_locally`]),
//! and asks the database only near the limit; the rule here bounds how much
//! the replicas together can grant between two reads.

use crate::validation::{ErrorCode, FieldError};
use std::collections::BTreeMap;

pub const FIELD: &str = "token_quota_per_hour";
pub const MAX_PER_HOUR: u32 = 1_000_000;

/// Buckets a grant is counted in: its minute and the 60 after it.
pub const WINDOW_MINUTES: i64 = 61;

/// A quota of 1 to [`MAX_PER_HOUR`] grants in any sliding hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenQuota(u32);

impl TokenQuota {
    /// One grant an hour: what a stored quota that no longer reads stands for.
    pub const LEAST: Self = Self(1);

    /// The rule of the form field (`null` is no quota, and never reaches here).
    pub fn parse(raw: i64) -> Result<Self, FieldError> {
        u32::try_from(raw)
            .ok()
            .filter(|n| (1..=MAX_PER_HOUR).contains(n))
            .map(Self)
            .ok_or_else(|| {
                FieldError::new(
                    FIELD,
                    ErrorCode::InvalidValue,
                    format!(
                        "token_quota_per_hour must be a whole number from 1 to {MAX_PER_HOUR}, or null for no quota; got {raw}"
                    ),
                )
            })
    }

    pub fn per_hour(self) -> u32 {
        self.0
    }

    /// The last grants before the quota, which a replica decides with the
    /// database rather than alone: a tenth of the quota, and never fewer
    /// than 2.
    pub fn margin(self) -> i64 {
        (i64::from(self.0) / 10).max(2)
    }
}

/// The minute a Unix time falls in.
pub fn minute_of(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(60)
}

/// The oldest minute whose grants still count at `minute`.
pub fn window_start(minute: i64) -> i64 {
    minute - (WINDOW_MINUTES - 1)
}

/// Grants per minute (a count may be negative in a delta: a grant undone).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Buckets(BTreeMap<i64, i64>);

impl Buckets {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, minute: i64, grants: i64) {
        let entry = self.0.entry(minute).or_insert(0);
        *entry += grants;
        if *entry == 0 {
            self.0.remove(&minute);
        }
    }

    pub fn merge(&mut self, other: &Buckets) {
        for (&minute, &grants) in &other.0 {
            self.add(minute, grants);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `(minute, grants)` in time order.
    pub fn iter(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.0.iter().map(|(&m, &g)| (m, g))
    }

    /// The grants that count at `minute`.
    pub fn total_at(&self, minute: i64) -> i64 {
        self.0.range(window_start(minute)..=minute).map(|(_, &g)| g).sum()
    }

    /// Drops the minutes that no longer count at `minute`.
    pub fn forget_before_window(&mut self, minute: i64) {
        self.0 = self.0.split_off(&window_start(minute));
    }

    /// Seconds from `now_secs` until one more grant fits under `quota`, as
    /// the counted grants age out; 0 when one fits now. Grants yet to come
    /// can only make it later, which the next refusal then says.
    pub fn retry_after_secs(&self, quota: TokenQuota, now_secs: i64) -> u64 {
        let now = minute_of(now_secs);
        let room = i64::from(quota.per_hour()) - 1;
        let mut total = self.total_at(now);
        if total <= room {
            return 0;
        }
        for (minute, grants) in self.0.range(window_start(now)..=now) {
            total -= grants;
            if total <= room {
                // That minute stops counting when the window starts after it.
                let at = (minute + WINDOW_MINUTES) * 60;
                return u64::try_from(at - now_secs).unwrap_or(0).max(1);
            }
        }
        // Only what this count cannot hold (negative buckets) lands here.
        u64::try_from((now + WINDOW_MINUTES) * 60 - now_secs)
            .unwrap_or(1)
            .max(1)
    }
}

/// Whether a replica may grant once more from what it knows, without asking
/// the database. `shared` is the total of the shared count when this replica
/// last read it (its own grants until then included); `unsynced` its own
/// grants since, which no other replica has seen yet; `replicas` how many
/// serve the install.
///
/// Each replica may grant alone half of its share of the room left below
/// the margin. So all of them together, from one read, grant at most half
/// that room, even when a client's requests are spread over all of them in
/// one burst; and since the replicas read at different moments, what one
/// has not seen of the others' grants is bounded by what they granted alone
/// since, which is itself at most half of the room they saw. The room thus
/// shrinks by at least half a read, and the margin absorbs what the reads
/// missed; past it, every grant is decided by the database, exactly.
pub fn admits_locally(shared: i64, unsynced: i64, quota: TokenQuota, replicas: u32) -> bool {
    let room = i64::from(quota.per_hour()) - quota.margin() - shared;
    (unsynced + 1).saturating_mul(2 * i64::from(replicas.max(1))) <= room
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn quota(n: u32) -> TokenQuota {
        TokenQuota::parse(i64::from(n)).unwrap()
    }

    #[test]
    fn the_field_takes_1_to_a_million() {
        for ok in [1, 10, 1_000_000] {
            assert_eq!(TokenQuota::parse(ok).map(TokenQuota::per_hour), Ok(ok as u32));
        }
        for bad in [0, -1, 1_000_001, i64::MAX, i64::MIN] {
            let e = TokenQuota::parse(bad).unwrap_err();
            assert_eq!((e.field.as_str(), e.code), (FIELD, ErrorCode::InvalidValue), "{bad}");
        }
    }

    #[test]
    fn a_grant_counts_for_sixty_one_minute_buckets() {
        let mut b = Buckets::new();
        b.add(100, 3);
        assert_eq!(b.total_at(100), 3);
        assert_eq!(b.total_at(160), 3, "still counted an hour on");
        assert_eq!(b.total_at(161), 0);
        assert_eq!(b.total_at(99), 0, "not before it happened");
        b.add(100, -3);
        assert!(b.is_empty(), "a bucket that nets to nothing goes");
    }

    #[test]
    fn retry_after_names_when_the_oldest_grants_age_out() {
        let q = quota(10);
        let mut b = Buckets::new();
        // 6 grants at 10:00:30 and 4 at 10:20:10: full.
        let t0 = 36_000 * 60;
        b.add(minute_of(t0 + 30), 6);
        b.add(minute_of(t0 + 20 * 60 + 10), 4);
        let now = t0 + 30 * 60;
        // One more fits once the 10:00 minute stops counting, at 11:01:00.
        assert_eq!(b.retry_after_secs(q, now), (61 * 60 - 30 * 60) as u64);
        assert_eq!(b.retry_after_secs(quota(11), now), 0, "room under a larger quota");
        // After 11:01 only the 4 remain.
        assert_eq!(b.retry_after_secs(q, t0 + 61 * 60), 0);
        // Over by more: both minutes must age out.
        let mut over = b.clone();
        over.add(minute_of(t0 + 20 * 60 + 10), 6);
        assert_eq!(over.retry_after_secs(q, now), ((20 + 61) * 60 - 30 * 60) as u64);
    }

    #[test]
    fn the_margin_is_a_tenth_and_at_least_two() {
        assert_eq!(quota(1).margin(), 2);
        assert_eq!(quota(10).margin(), 2);
        assert_eq!(quota(100).margin(), 10);
        assert_eq!(quota(1_000_000).margin(), 100_000);
    }

    #[test]
    fn a_replica_grants_alone_only_its_share_of_the_room() {
        let q = quota(100);
        // Room below the margin: 90. One replica may use half of it alone.
        assert!(admits_locally(0, 44, q, 1));
        assert!(!admits_locally(0, 45, q, 1));
        // Two share that half: 22 each.
        assert!(admits_locally(0, 21, q, 2));
        assert!(!admits_locally(0, 22, q, 2));
        // What was read already counts.
        assert!(admits_locally(88, 0, q, 1));
        assert!(!admits_locally(89, 0, q, 1));
        // Small quotas are decided by the database from the first grant.
        assert!(!admits_locally(0, 0, quota(2), 1));
    }

    proptest! {
        /// However many replicas, each granting alone up to what the rule
        /// lets it from one shared read, together they stay below the
        /// quota's margin.
        #[test]
        fn replicas_granting_alone_never_pass_the_margin(
            n in 1u32..=1_000_000,
            replicas in 1u32..8,
            shared_frac in 0.0f64..1.0,
        ) {
            let q = quota(n);
            let shared = (f64::from(n) * shared_frac) as i64;
            let mut granted = 0i64;
            for _ in 0..replicas {
                // Each grants alone while the rule allows, from the same read.
                let mut mine = 0i64;
                let limit = i64::from(n) + 1;
                while mine < limit && admits_locally(shared, mine, q, replicas) {
                    mine += 1;
                }
                granted += mine;
            }
            let room = i64::from(n) - q.margin() - shared;
            prop_assert!(granted <= (room / 2).max(0), "{} granted alone with room {}", granted, room);
        }

        /// Waiting as long as `retry_after_secs` says leaves room for one.
        #[test]
        fn after_retry_after_one_more_fits(
            grants in proptest::collection::vec((0i64..61, 1i64..20), 0..30),
            n in 1u32..200,
            second in 0i64..60,
        ) {
            let q = quota(n);
            let now = 1_000 * 60 + 60 * 60 + second;
            let mut b = Buckets::new();
            for (ago, count) in grants {
                b.add(minute_of(now) - ago, count);
            }
            let wait = b.retry_after_secs(q, now) as i64;
            let later = minute_of(now + wait);
            prop_assert!(b.total_at(later) < i64::from(n));
            if wait > 0 {
                // And not a second less would do: one before, it was still full.
                prop_assert!(b.total_at(minute_of(now + wait - 1)) >= i64::from(n));
            }
        }
    }
}
