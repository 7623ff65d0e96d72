//! The life of an application's client secrets (the contract's "Client secrets"):
//! how many may be active at once, when each stops working, and which
//! reminder of its expiry is due. The server passes the time in.

use crate::Timestamp;
use crate::text::TextRule;
use crate::validation::{ErrorCode, FieldError};
use std::time::Duration;

/// Active secrets an application may hold at once: enough to roll one
/// deployment after another onto a new secret, few enough to keep track of.
pub const MAX_ACTIVE_SECRETS: usize = 5;

/// What an admin calls a secret ("prod cluster", "laptop of J."), to tell
/// them apart in the list.
pub const SECRET_LABEL: TextRule = TextRule {
    field: "label",
    max_chars: 100,
    multiline: false,
};

/// The most `CASEBOOK_SECRET_MAX_AGE_DAYS` may say: ten years.
pub const MAX_AGE_DAYS_LIMIT: u32 = 3650;

const DAY: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretStatus {
    Active,
    Expired,
}

impl SecretStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
        }
    }
}

/// The install's rule for how long a secret may live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecretPolicy {
    /// `CASEBOOK_SECRET_MAX_AGE_DAYS`: the longest any secret works after it
    /// was issued, whatever its own `expires_at` says; `None`, no most.
    max_age: Option<Duration>,
}

impl SecretPolicy {
    /// From the operator's setting: whole days, 1 to [`MAX_AGE_DAYS_LIMIT`].
    pub fn from_max_age_days(days: Option<u32>) -> Result<Self, String> {
        match days {
            None => Ok(Self::default()),
            Some(days @ 1..=MAX_AGE_DAYS_LIMIT) => Ok(Self {
                max_age: Some(DAY * days),
            }),
            Some(_) => Err(format!(
                "CASEBOOK_SECRET_MAX_AGE_DAYS must be a whole number of days from 1 to {MAX_AGE_DAYS_LIMIT}"
            )),
        }
    }

    pub fn max_age(&self) -> Option<Duration> {
        self.max_age
    }

    /// The `expires_at` a new secret is stored with: the one asked for, which
    /// must lie ahead and within the install's most, or the most itself.
    pub fn expiry_of_new_secret(
        &self,
        now: Timestamp,
        requested: Option<Timestamp>,
    ) -> Result<Option<Timestamp>, FieldError> {
        let latest = self.max_age.map(|age| now.saturating_add(age));
        match (requested, latest) {
            (Some(at), _) if at <= now => Err(FieldError::new(
                "expires_at",
                ErrorCode::InvalidValue,
                "expires_at must lie in the future",
            )),
            (Some(at), Some(latest)) if at > latest => Err(FieldError::new(
                "expires_at",
                ErrorCode::InvalidValue,
                format!(
                    "expires_at may be at most {} days ahead on this install (CASEBOOK_SECRET_MAX_AGE_DAYS)",
                    self.max_age.map_or(0, |age| age.as_secs() / DAY.as_secs())
                ),
            )),
            (Some(at), _) => Ok(Some(at)),
            (None, latest) => Ok(latest),
        }
    }

    /// When a stored secret stops working: its own expiry, or the install's
    /// most counted from its issue, whichever comes first. A most set after
    /// a secret was issued holds for it too.
    pub fn effective_expiry(&self, created_at: Timestamp, expires_at: Option<Timestamp>) -> Option<Timestamp> {
        let by_age = self.max_age.map(|age| created_at.saturating_add(age));
        match (expires_at, by_age) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn status(&self, now: Timestamp, created_at: Timestamp, expires_at: Option<Timestamp>) -> SecretStatus {
        match self.effective_expiry(created_at, expires_at) {
            Some(at) if at <= now => SecretStatus::Expired,
            _ => SecretStatus::Active,
        }
    }
}

/// A notice of a secret's coming or past expiry. Each is sent once per
/// secret; storage keeps the last [`Reminder::stage`] sent, so that replicas
/// agree on it by claiming the next stage in one conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reminder {
    /// The secret stops working within this many days (30, 7 or 1).
    ExpiresWithin {
        days: u32,
    },
    Expired,
}

/// Days before expiry at which a reminder goes out, farthest first.
pub const REMINDER_DAYS: [u32; 3] = [30, 7, 1];

impl Reminder {
    /// 1, 2, 3 for the 30-, 7- and 1-day reminders, 4 once expired; 0 is
    /// "nothing sent yet".
    pub fn stage(self) -> i64 {
        match self {
            Self::ExpiresWithin { days } => REMINDER_DAYS
                .iter()
                .position(|d| *d == days)
                .map_or(0, |i| i as i64 + 1),
            Self::Expired => REMINDER_DAYS.len() as i64 + 1,
        }
    }

    /// The most urgent reminder whose moment has come for a secret that
    /// stops working at `expiry`.
    pub fn reached(now: Timestamp, expiry: Timestamp) -> Option<Self> {
        if expiry <= now {
            return Some(Self::Expired);
        }
        REMINDER_DAYS
            .iter()
            .rev()
            .find(|days| expiry <= now.saturating_add(DAY * **days))
            .map(|days| Self::ExpiresWithin { days: *days })
    }

    /// The reminder to send now, given the last stage sent: only the most
    /// urgent of those reached, so a secret that skipped thresholds (a most
    /// set late, a server stopped for a week) gets one notice, not a burst.
    pub fn due(now: Timestamp, expiry: Timestamp, sent_stage: i64) -> Option<Self> {
        Self::reached(now, expiry).filter(|reminder| reminder.stage() > sent_stage)
    }

    /// The stage a new secret starts at: thresholds already passed when it
    /// was issued are not announced (whoever set a 3-day expiry knows).
    pub fn initial_stage(now: Timestamp, expiry: Option<Timestamp>) -> i64 {
        expiry.and_then(|at| Self::reached(now, at)).map_or(0, Self::stage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: Timestamp = Timestamp::from_unix_secs(1_800_000_000);

    fn days(n: u64) -> Duration {
        DAY * u32::try_from(n).unwrap()
    }

    #[test]
    fn a_new_secret_expires_when_asked_within_the_install_most() {
        let open = SecretPolicy::default();
        assert_eq!(open.expiry_of_new_secret(NOW, None), Ok(None));
        let later = NOW.saturating_add(days(400));
        assert_eq!(open.expiry_of_new_secret(NOW, Some(later)), Ok(Some(later)));
        assert_eq!(
            open.expiry_of_new_secret(NOW, Some(NOW)).unwrap_err().field,
            "expires_at"
        );

        let capped = SecretPolicy::from_max_age_days(Some(90)).unwrap();
        assert_eq!(
            capped.expiry_of_new_secret(NOW, None),
            Ok(Some(NOW.saturating_add(days(90))))
        );
        assert_eq!(
            capped.expiry_of_new_secret(NOW, Some(NOW.saturating_add(days(30)))),
            Ok(Some(NOW.saturating_add(days(30))))
        );
        let refused = capped.expiry_of_new_secret(NOW, Some(later)).unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidValue);
        assert!(refused.message.contains("90 days"), "{}", refused.message);
    }

    #[test]
    fn the_max_age_setting_is_bounded() {
        assert!(SecretPolicy::from_max_age_days(Some(0)).is_err());
        assert!(SecretPolicy::from_max_age_days(Some(MAX_AGE_DAYS_LIMIT + 1)).is_err());
        assert!(SecretPolicy::from_max_age_days(Some(MAX_AGE_DAYS_LIMIT)).is_ok());
    }

    #[test]
    fn a_most_set_later_ends_older_secrets_too() {
        let issued = NOW.saturating_sub(days(100));
        let capped = SecretPolicy::from_max_age_days(Some(90)).unwrap();
        assert_eq!(capped.status(NOW, issued, None), SecretStatus::Expired);
        assert_eq!(SecretPolicy::default().status(NOW, issued, None), SecretStatus::Active);
        let own = NOW.saturating_sub(Duration::from_secs(1));
        assert_eq!(
            SecretPolicy::default().status(NOW, issued, Some(own)),
            SecretStatus::Expired
        );
    }

    #[test]
    fn reminders_come_at_30_7_and_1_days_and_on_expiry() {
        let expiry = NOW.saturating_add(days(40));
        let at = |d: u64| expiry.saturating_sub(days(d));
        assert_eq!(Reminder::due(NOW, expiry, 0), None);
        assert_eq!(
            Reminder::due(at(30), expiry, 0),
            Some(Reminder::ExpiresWithin { days: 30 })
        );
        assert_eq!(Reminder::due(at(20), expiry, 1), None, "sent once");
        assert_eq!(
            Reminder::due(at(7), expiry, 1),
            Some(Reminder::ExpiresWithin { days: 7 })
        );
        assert_eq!(
            Reminder::due(at(1), expiry, 2),
            Some(Reminder::ExpiresWithin { days: 1 })
        );
        assert_eq!(Reminder::due(expiry, expiry, 3), Some(Reminder::Expired));
        assert_eq!(Reminder::due(expiry.saturating_add(days(5)), expiry, 4), None);
        // Skipped thresholds give the most urgent notice only.
        assert_eq!(Reminder::due(at(0), expiry, 0), Some(Reminder::Expired));
    }

    #[test]
    fn thresholds_passed_at_issue_are_not_announced() {
        assert_eq!(Reminder::initial_stage(NOW, None), 0);
        assert_eq!(Reminder::initial_stage(NOW, Some(NOW.saturating_add(days(60)))), 0);
        let soon = NOW.saturating_add(days(3));
        assert_eq!(Reminder::initial_stage(NOW, Some(soon)), 2);
        assert_eq!(
            Reminder::due(soon.saturating_sub(days(1)), soon, 2),
            Some(Reminder::ExpiresWithin { days: 1 })
        );
    }

    proptest! {
        /// Stages only grow as time passes, so one conditional write per stage
        /// sends each notice at most once however the checks interleave.
        #[test]
        fn stages_grow_with_time(expiry in 0i64..10_000_000, a in 0i64..10_000_000, b in 0i64..10_000_000) {
            let expiry = Timestamp::from_unix_secs(expiry);
            let (early, late) = (Timestamp::from_unix_secs(a.min(b)), Timestamp::from_unix_secs(a.max(b)));
            let stage = |at| Reminder::reached(at, expiry).map_or(0, Reminder::stage);
            prop_assert!(stage(early) <= stage(late));
        }

        #[test]
        fn the_effective_expiry_is_never_later_than_either_bound(
            created in 0i64..1_000_000, own in proptest::option::of(0i64..100_000_000), max_days in proptest::option::of(1u32..100)
        ) {
            let policy = SecretPolicy::from_max_age_days(max_days).unwrap();
            let created = Timestamp::from_unix_secs(created);
            let own = own.map(Timestamp::from_unix_secs);
            let effective = policy.effective_expiry(created, own);
            if let Some(own) = own { prop_assert!(effective.unwrap() <= own); }
            if let Some(age) = policy.max_age() { prop_assert!(effective.unwrap() <= created.saturating_add(age)); }
            prop_assert_eq!(effective.is_none(), own.is_none() && policy.max_age().is_none());
        }
    }
}
