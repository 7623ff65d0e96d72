//! Instants as the product reasons about them. The domain never reads a clock:
//! the server passes `now` in, so every rule that depends on time is a plain
//! function of its inputs and tests choose the time they need.

use std::time::Duration;

/// A wall-clock instant: microseconds since the Unix epoch, UTC, the way
/// storage keeps every timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const UNIX_EPOCH: Self = Self(0);

    pub const fn from_unix_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub const fn from_unix_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1_000_000))
    }

    pub const fn unix_micros(self) -> i64 {
        self.0
    }

    /// Whole seconds, rounded down: what JWT `iat`/`exp` carry.
    pub const fn unix_secs(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// Saturates instead of overflowing: a far-future deadline is still a
    /// deadline, never a wrap into the past.
    pub fn saturating_add(self, by: Duration) -> Self {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(micros))
    }

    pub fn saturating_sub(self, by: Duration) -> Self {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        Self(self.0.saturating_sub(micros))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_down_even_before_the_epoch() {
        assert_eq!(Timestamp::from_unix_micros(1_999_999).unix_secs(), 1);
        assert_eq!(Timestamp::from_unix_micros(-1).unix_secs(), -1);
        assert_eq!(Timestamp::from_unix_secs(7).unix_micros(), 7_000_000);
    }

    #[test]
    fn adding_saturates_instead_of_wrapping() {
        let late = Timestamp::from_unix_micros(i64::MAX - 1);
        assert_eq!(late.saturating_add(Duration::from_secs(10)).unix_micros(), i64::MAX);
        assert_eq!(
            Timestamp::UNIX_EPOCH.saturating_add(Duration::MAX).unix_micros(),
            i64::MAX
        );
        assert!(Timestamp::UNIX_EPOCH.saturating_sub(Duration::from_secs(1)) < Timestamp::UNIX_EPOCH);
    }
}
