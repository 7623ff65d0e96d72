//! When wrong attempts lock a person out: five wrong passwords within 15
//! minutes lock reveal and rotate for that user for 15 minutes, and five
//! wrong second-factor codes within 15 minutes lock the second step of
//! signing in the same way, from every source at once.

/// Times are microseconds since the Unix epoch, as storage keeps them.
pub const WINDOW_MICROS: i64 = 15 * 60 * 1_000_000;
pub const MAX_FAILURES: usize = 5;

/// Until when the user is locked out, given the times of their failed
/// attempts (any order), or `None` when they are not locked at `now`.
///
/// The lock starts at the attempt that makes five within one window and
/// lasts a full window from there, however the older attempts age out.
pub fn locked_until(failures: &[i64], now: i64) -> Option<i64> {
    let mut times = failures.to_vec();
    times.sort_unstable();
    times
        .windows(MAX_FAILURES)
        .filter(|w| w[MAX_FAILURES - 1] - w[0] <= WINDOW_MICROS)
        .map(|w| w[MAX_FAILURES - 1] + WINDOW_MICROS)
        .max()
        .filter(|until| *until > now)
}

/// How far back storage must look for [`locked_until`] to see every attempt
/// that can still matter.
pub const LOOKBACK_MICROS: i64 = 2 * WINDOW_MICROS;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIN: i64 = 60 * 1_000_000;

    #[test]
    fn five_in_a_window_lock_for_a_full_window() {
        let failures = [0, MIN, 2 * MIN, 3 * MIN, 14 * MIN];
        assert_eq!(locked_until(&failures, 14 * MIN), Some(29 * MIN));
        // Still locked after the first attempts leave the window.
        assert_eq!(locked_until(&failures, 16 * MIN), Some(29 * MIN));
        assert_eq!(locked_until(&failures, 29 * MIN), None);
    }

    #[test]
    fn four_never_lock_and_spread_attempts_do_not_either() {
        assert_eq!(locked_until(&[0, MIN, 2 * MIN, 3 * MIN], 3 * MIN), None);
        let spread = [0, 4 * MIN, 8 * MIN, 12 * MIN, 16 * MIN];
        assert_eq!(locked_until(&spread, 16 * MIN), None);
    }

    proptest! {
        #[test]
        fn a_lock_always_follows_a_fifth_attempt_and_never_outlasts_a_window(
            mut failures in proptest::collection::vec(0i64..(60 * MIN), 0..12),
            now in 0i64..(90 * MIN),
        ) {
            failures.sort_unstable();
            if let Some(until) = locked_until(&failures, now) {
                prop_assert!(until > now);
                prop_assert!(failures.len() >= MAX_FAILURES);
                prop_assert!(failures.iter().any(|f| *f + WINDOW_MICROS == until));
            }
        }
    }
}
