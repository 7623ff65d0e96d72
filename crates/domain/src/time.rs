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

    /// An RFC 3339 date-time with its offset (`2027-01-31T12:00:00Z`), as
    /// every timestamp on the wire is written; `None` for anything else.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
        i64::try_from(at.unix_timestamp_nanos() / 1000).ok().map(Self)
    }

    /// RFC 3339 in UTC, to the microsecond.
    pub fn to_rfc3339(self) -> String {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1000)
            .ok()
            .and_then(|at| at.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default()
    }
}

/// RFC 3339, as [`Timestamp::to_rfc3339`] writes it.
impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// On the wire every instant is RFC 3339 text, in UTC to the microsecond.
impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

/// Reads any RFC 3339 date-time with an offset; anything else fails the read.
impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse_rfc3339(&text)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 date-time with an offset"))
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
    fn rfc3339_reads_offsets_and_writes_utc() {
        let at = Timestamp::parse_rfc3339("2027-01-31T13:00:00+01:00").unwrap();
        assert_eq!(at, Timestamp::parse_rfc3339("2027-01-31T12:00:00Z").unwrap());
        assert_eq!(at.to_rfc3339(), "2027-01-31T12:00:00Z");
        for bad in [
            "",
            "2027-01-31",
            "2027-01-31T12:00:00",
            "tomorrow",
            "2027-02-30T00:00:00Z",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_wire_form_is_rfc3339_both_ways() {
        let at = Timestamp::from_unix_micros(1_772_460_309_123_456);
        let json = serde_json::to_string(&at).unwrap();
        assert_eq!(json, r#""2026-03-02T14:05:09.123456Z""#);
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), at);
        assert_eq!(at.to_string(), "2026-03-02T14:05:09.123456Z");
        assert!(serde_json::from_str::<Timestamp>(r#""yesterday""#).is_err());
        assert!(serde_json::from_str::<Timestamp>("5").is_err());
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
