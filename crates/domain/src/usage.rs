//! Usage at a glance (the contract, "Usage at a glance"): what each
//! application's requests came to, hour by hour. The counters, the hour a
//! moment falls in, the window a request may ask for, and how stored counts
//! become the answer's buckets. The server counts and stores; the rules are
//! here once.

use crate::Timestamp;
use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use crate::wire::{UsageBucket, UsageRefusals};
use std::collections::BTreeMap;

/// One hour in microseconds: a bucket's width.
pub const HOUR_MICROS: i64 = 3_600 * 1_000_000;
/// How long counts are kept, and so the furthest back a request may ask.
pub const KEPT_DAYS: i64 = 30;
/// The window when a request names none.
pub const DEFAULT_DAYS: i64 = 7;
const DAY_MICROS: i64 = 24 * HOUR_MICROS;

/// What is counted: a token issued, a token request refused (by reason), or
/// an API call refused with one of the application's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Counter {
    Issued,
    /// A wrong secret, or one whose checksum shows it mistyped.
    InvalidSecret,
    ExpiredSecret,
    SourceNotAllowed,
    QuotaExceeded,
    /// A client assertion or a federated token refused.
    AssertionRefused,
    /// An API call answered 401 or 403 though it carried the application's token.
    ApiRefused,
}

impl Counter {
    pub const ALL: [Self; 7] = [
        Self::Issued,
        Self::InvalidSecret,
        Self::ExpiredSecret,
        Self::SourceNotAllowed,
        Self::QuotaExceeded,
        Self::AssertionRefused,
        Self::ApiRefused,
    ];

    /// The name storage keeps and the wire uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::InvalidSecret => "invalid_secret",
            Self::ExpiredSecret => "expired_secret",
            Self::SourceNotAllowed => "source_not_allowed",
            Self::QuotaExceeded => "quota_exceeded",
            Self::AssertionRefused => "assertion_refused",
            Self::ApiRefused => "api_refused",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// The start of the hour `at` falls in, in microseconds.
pub const fn hour_of(at: Timestamp) -> i64 {
    at.unix_micros().div_euclid(HOUR_MICROS) * HOUR_MICROS
}

/// The first hour still kept at `now`: older buckets are purged.
pub const fn oldest_kept_hour(now: Timestamp) -> i64 {
    hour_of(Timestamp::from_unix_micros(
        now.unix_micros().saturating_sub(KEPT_DAYS * DAY_MICROS),
    ))
}

/// The hours a request asks for: `since_hour` (on the hour) up to, not
/// including, `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageWindow {
    since_hour: i64,
    until: i64,
}

impl UsageWindow {
    /// Reads `?since=&until=` (RFC 3339, both optional) at `now`: `until`
    /// defaults to now, `since` to [`DEFAULT_DAYS`] before `until`; `since`
    /// is taken back to its hour, and may reach at most [`KEPT_DAYS`] back.
    pub fn parse(since: Option<&str>, until: Option<&str>, now: Timestamp) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let instant = |field: &'static str, text: Option<&str>| match text {
            None => Ok(None),
            Some(text) => Timestamp::parse_rfc3339(text).map(Some).ok_or_else(|| {
                FieldError::new(
                    field,
                    ErrorCode::InvalidValue,
                    format!("{field} must be an RFC 3339 instant, e.g. 2026-12-01T00:00:00Z"),
                )
            }),
        };
        let since = errors.check(instant("since", since)).flatten();
        let until = errors.check(instant("until", until)).flatten();
        if !errors.is_empty() {
            return Err(errors);
        }
        let until = until.map_or(now.unix_micros(), Timestamp::unix_micros);
        let since = since.map_or(until.saturating_sub(DEFAULT_DAYS * DAY_MICROS), Timestamp::unix_micros);
        let since_hour = hour_of(Timestamp::from_unix_micros(since));
        if since_hour < oldest_kept_hour(now) {
            errors.push(FieldError::new(
                "since",
                ErrorCode::InvalidValue,
                format!("since may be at most {KEPT_DAYS} days back: counts are kept that long"),
            ));
        } else if since >= until {
            errors.push(FieldError::new(
                "until",
                ErrorCode::InvalidValue,
                "until must be later than since",
            ));
        }
        errors.finish(|| Self { since_hour, until })
    }

    /// The first hour asked for, in microseconds.
    pub const fn since_hour(&self) -> i64 {
        self.since_hour
    }

    /// The end of the window, exclusive, in microseconds.
    pub const fn until(&self) -> i64 {
        self.until
    }
}

/// Stored counts, `(hour, counter, count)` in any order and possibly with
/// several rows for one pair, summed into the answer's buckets: one per
/// hour with anything counted, oldest first.
pub fn buckets(rows: impl IntoIterator<Item = (i64, Counter, i64)>) -> Vec<UsageBucket> {
    let mut hours: BTreeMap<i64, UsageBucket> = BTreeMap::new();
    for (hour, counter, count) in rows {
        let bucket = hours.entry(hour).or_insert_with(|| UsageBucket {
            start: Timestamp::from_unix_micros(hour),
            issued: 0,
            refused: UsageRefusals::default(),
            api_refused: 0,
        });
        let slot = match counter {
            Counter::Issued => &mut bucket.issued,
            Counter::InvalidSecret => &mut bucket.refused.invalid_secret,
            Counter::ExpiredSecret => &mut bucket.refused.expired_secret,
            Counter::SourceNotAllowed => &mut bucket.refused.source_not_allowed,
            Counter::QuotaExceeded => &mut bucket.refused.quota_exceeded,
            Counter::AssertionRefused => &mut bucket.refused.assertion_refused,
            Counter::ApiRefused => &mut bucket.api_refused,
        };
        *slot = slot.saturating_add(count);
    }
    hours.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: &str = "2026-12-05T10:20:30Z";

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339(NOW).unwrap()
    }

    fn at(text: &str) -> i64 {
        Timestamp::parse_rfc3339(text).unwrap().unix_micros()
    }

    fn check(since: Option<&str>, until: Option<&str>, expected: Result<(&str, &str), &str>) {
        let got = UsageWindow::parse(since, until, now());
        match (got, expected) {
            (Ok(w), Ok((s, u))) => assert_eq!((w.since_hour(), w.until()), (at(s), at(u)), "{since:?} {until:?}"),
            (Err(e), Err(field)) => assert_eq!(e.errors()[0].field, field, "{since:?} {until:?}"),
            (got, expected) => panic!("{since:?} {until:?}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn windows_default_align_and_stay_within_thirty_days() {
        check(None, None, Ok(("2026-11-28T10:00:00Z", NOW)));
        check(Some("2026-12-05T09:59:59Z"), None, Ok(("2026-12-05T09:00:00Z", NOW)));
        check(
            Some("2026-12-01T00:00:00+02:00"),
            Some("2026-12-02T00:00:00Z"),
            Ok(("2026-11-30T22:00:00Z", "2026-12-02T00:00:00Z")),
        );
        check(
            None,
            Some("2026-12-01T00:00:00Z"),
            Ok(("2026-11-24T00:00:00Z", "2026-12-01T00:00:00Z")),
        );
        check(Some("2026-11-05T10:00:00Z"), None, Ok(("2026-11-05T10:00:00Z", NOW)));
        check(Some("2026-11-05T09:59:59Z"), None, Err("since"));
        check(None, Some("2026-11-06T00:00:00Z"), Err("since"));
        check(Some("2026-12-05T10:00:00Z"), Some("2026-12-05T10:00:00Z"), Err("until"));
        check(Some("yesterday"), None, Err("since"));
        check(None, Some("2026-12-05"), Err("until"));
    }

    #[test]
    fn counters_round_trip_their_names() {
        for counter in Counter::ALL {
            assert_eq!(Counter::parse(counter.as_str()), Some(counter));
        }
        assert_eq!(Counter::parse("refused"), None);
    }

    #[test]
    fn rows_sum_into_hourly_buckets_oldest_first() {
        let h = HOUR_MICROS;
        let got = buckets([
            (2 * h, Counter::Issued, 3),
            (h, Counter::InvalidSecret, 1),
            (2 * h, Counter::Issued, 4),
            (2 * h, Counter::ApiRefused, 2),
            (h, Counter::QuotaExceeded, 5),
        ]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].start, Timestamp::from_unix_micros(h));
        assert_eq!((got[0].refused.invalid_secret, got[0].refused.quota_exceeded), (1, 5));
        assert_eq!((got[1].issued, got[1].api_refused), (7, 2));
    }

    proptest! {
        #[test]
        fn every_moment_falls_in_the_hour_it_starts(micros in -1_000_000_000_000_000i64..4_000_000_000_000_000) {
            let hour = hour_of(Timestamp::from_unix_micros(micros));
            prop_assert_eq!(hour.rem_euclid(HOUR_MICROS), 0);
            prop_assert!(hour <= micros && micros < hour + HOUR_MICROS);
        }

        #[test]
        fn an_accepted_window_is_aligned_and_kept(back in 0i64..40 * DAY_MICROS, len in 1i64..40 * DAY_MICROS) {
            let since = Timestamp::from_unix_micros(now().unix_micros() - back);
            let until = Timestamp::from_unix_micros(since.unix_micros() + len);
            if let Ok(w) = UsageWindow::parse(Some(&since.to_rfc3339()), Some(&until.to_rfc3339()), now()) {
                prop_assert_eq!(w.since_hour().rem_euclid(HOUR_MICROS), 0);
                prop_assert!(w.since_hour() >= oldest_kept_hour(now()));
                prop_assert!(w.since_hour() < w.until());
            }
        }

        #[test]
        fn buckets_keep_every_count(rows in proptest::collection::vec((0i64..48, 0usize..7, 0i64..1000), 0..50)) {
            let total: i64 = rows.iter().map(|r| r.2).sum();
            let got = buckets(rows.iter().map(|&(h, c, n)| (h * HOUR_MICROS, Counter::ALL[c], n)));
            let summed: i64 = got.iter().map(|b| {
                let r = &b.refused;
                b.issued + b.api_refused + r.invalid_secret + r.expired_secret + r.source_not_allowed
                    + r.quota_exceeded + r.assertion_refused
            }).sum();
            prop_assert_eq!(summed, total);
            prop_assert!(got.windows(2).all(|w| w[0].start < w[1].start));
        }
    }
}
