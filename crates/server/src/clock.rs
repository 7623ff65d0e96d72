//! The wall clock every time-dependent rule reads. Production reads the
//! system time; tests hold a [`ManualClock`] and move it forward instead of
//! sleeping, so an hour-long token or a day-long key notice costs nothing.
//!
//! Only wall-clock facts go through here: token `iat`/`exp`, sessions, grace
//! windows, key activation, lockouts, stored timestamps. Timeouts and cache
//! freshness measure elapsed time with the monotonic `Instant`, which a
//! wall-clock jump must not disturb.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use casebook_domain::Timestamp;

pub trait Clock: Debug + Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system's real-time clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        Timestamp::from_unix_micros(i64::try_from(nanos / 1000).unwrap_or(i64::MAX))
    }
}

/// A clock that starts at the real time and then moves only when told to.
/// Clones share one time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn starting_now() -> Self {
        Self(Arc::new(AtomicI64::new(SystemClock.now().unix_micros())))
    }

    pub fn advance(&self, by: Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.0.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_micros(self.0.load(Ordering::SeqCst))
    }
}

/// What the server holds: cheap to clone, shared by every task.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced_and_clones_share_it() {
        let clock = ManualClock::starting_now();
        let copy = clock.clone();
        let start = clock.now();
        assert_eq!(clock.now(), start);
        copy.advance(Duration::from_secs(3600));
        assert_eq!(clock.now(), start.saturating_add(Duration::from_secs(3600)));
    }

    #[test]
    fn the_system_clock_is_after_2020() {
        assert!(SystemClock.now() > Timestamp::from_unix_secs(1_577_836_800));
    }
}
