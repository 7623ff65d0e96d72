//! Client IDs and client secrets: their formats, from caller-supplied randomness.

use crate::secret_format;
use std::fmt;

const CLIENT_ID_PREFIX: &str = "cb_";

/// Random bytes behind a client ID: 128 bits makes collisions negligible.
pub const CLIENT_ID_BYTES: usize = 16;
/// Random bytes behind a client secret: the contract ("Client secrets") asks for over 256 bits.
pub const CLIENT_SECRET_BYTES: usize = secret_format::RANDOM_BYTES;

/// Public identifier of an application's credentials: `cb_` and 32 lowercase
/// hex digits. Random, unique and never changed.
///
/// On the wire a client ID is its text. Reading takes it as it comes, as the
/// other ids are read: an answer is never lost over its form (a rotation's
/// new secret least of all). Input the server acts on goes through `parse`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    #[cfg(any(test, feature = "server"))]
    pub fn from_random(bytes: [u8; CLIENT_ID_BYTES]) -> Self {
        let mut s = String::with_capacity(CLIENT_ID_PREFIX.len() + 2 * CLIENT_ID_BYTES);
        s.push_str(CLIENT_ID_PREFIX);
        for b in bytes {
            s.push_str(&format!("{b:02x}"));
        }
        Self(s)
    }

    /// `None` for anything that is not a well-formed client ID, so lookups of
    /// garbage never reach storage.
    pub fn parse(raw: &str) -> Option<Self> {
        let hex = raw.strip_prefix(CLIENT_ID_PREFIX)?;
        (hex.len() == 2 * CLIENT_ID_BYTES && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(raw.to_owned()))
    }

    /// A client ID read back from the server's own storage, which holds
    /// only those [`from_random`](Self::from_random) made; unchecked, so a
    /// listing never fails on one row.
    #[cfg(feature = "server")]
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

text_impls!(ClientId);

/// A client secret: `cbs_`, 44 random base-62 characters and a CRC32
/// checksum, so secret scanners recognise and confirm a leaked one offline.
///
/// It has no `Display`, and its `Debug` prints `ClientSecret([redacted])`;
/// only [`ClientSecret::expose`] gives the value, on purpose. Two secrets
/// compare in time independent of where they differ, so a comparison does
/// not tell an observer how much of a guess was right.
#[derive(Clone)]
pub struct ClientSecret(String);

impl PartialEq for ClientSecret {
    fn eq(&self, other: &Self) -> bool {
        // The lengths are public (the format fixes them); the bytes are not.
        bool::from(subtle::ConstantTimeEq::ct_eq(self.0.as_bytes(), other.0.as_bytes()))
    }
}

impl Eq for ClientSecret {}

impl ClientSecret {
    /// A new secret in the scannable format, from the caller's random bytes.
    #[cfg(any(test, feature = "server"))]
    pub fn from_random(bytes: [u8; CLIENT_SECRET_BYTES]) -> Self {
        Self(secret_format::encode(bytes))
    }

    /// Accepts any non-empty secret a client presents, whatever its shape,
    /// so that checking it against stored ones is all that decides.
    pub fn from_presented(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// What the value looks like offline: a secret this service could have
    /// issued (scannable, or of the older format), or a mistyped one.
    pub fn shape(&self) -> crate::SecretShape {
        secret_format::shape(&self.0)
    }

    /// True when the value has the shape of a secret this service issues.
    pub fn is_well_formed(&self) -> bool {
        self.shape() != secret_format::Shape::Mistyped
    }

    /// The secret itself, to send it where it belongs. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

/// The longest an old secret may keep working after a rotation: a week.
pub const MAX_GRACE_PERIOD_SECS: i64 = 7 * 24 * 3600;

/// A rotation's grace period: none unless asked for, and within a week.
pub fn grace_period(requested_secs: Option<i64>) -> Result<i64, crate::validation::FieldError> {
    let secs = requested_secs.unwrap_or(0);
    if (0..=MAX_GRACE_PERIOD_SECS).contains(&secs) {
        Ok(secs)
    } else {
        Err(crate::validation::FieldError::new(
            "grace_period_seconds",
            crate::validation::ErrorCode::InvalidValue,
            format!("grace_period_seconds must be between 0 and {MAX_GRACE_PERIOD_SECS}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_periods_run_from_none_to_a_week() {
        for (asked, expected) in [
            (None, Some(0)),
            (Some(0), Some(0)),
            (Some(MAX_GRACE_PERIOD_SECS), Some(MAX_GRACE_PERIOD_SECS)),
            (Some(MAX_GRACE_PERIOD_SECS + 1), None),
            (Some(-1), None),
        ] {
            assert_eq!(grace_period(asked).ok(), expected, "{asked:?}");
        }
    }
    use proptest::prelude::*;

    #[test]
    fn secrets_compare_by_value() {
        let a = ClientSecret::from_random([7; CLIENT_SECRET_BYTES]);
        assert_eq!(a, ClientSecret::from_presented(a.expose()));
        assert_ne!(a, ClientSecret::from_random([8; CLIENT_SECRET_BYTES]));
        assert_ne!(a, ClientSecret::from_presented(&a.expose()[1..]));
    }

    #[test]
    fn formats() {
        let id = ClientId::from_random([0xab; 16]);
        assert_eq!(id.as_str(), format!("cb_{}", "ab".repeat(16)));
        assert_eq!(ClientId::parse(id.as_str()), Some(id));
        for bad in [
            "",
            "cb_",
            "cb_ABABABABABABABABABABABABABABABAB",
            "xx_abababababababababababababababab",
            "cb_abab",
        ] {
            assert_eq!(ClientId::parse(bad), None, "{bad}");
        }
        let secret = ClientSecret::from_random([7; CLIENT_SECRET_BYTES]);
        assert!(secret.expose().starts_with("cbs_"));
        assert_eq!(secret.expose().len(), secret_format::LEN);
        assert!(secret.is_well_formed());
        assert!(!ClientSecret::from_presented("cbs_short").is_well_formed());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = ClientSecret::from_random([9; CLIENT_SECRET_BYTES]);
        let debug = format!("{secret:?}");
        assert!(!debug.contains(&secret.expose()[4..]));
        assert!(debug.contains("redacted"));
    }

    proptest! {
        #[test]
        fn client_ids_round_trip(bytes in proptest::array::uniform16(any::<u8>())) {
            let id = ClientId::from_random(bytes);
            prop_assert_eq!(ClientId::parse(id.as_str()), Some(id));
        }
    }
}
