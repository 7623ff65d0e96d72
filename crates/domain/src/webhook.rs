//! Webhooks (the contract, "Webhooks"): where a tenant's audit events are
//! sent, which of them, how each delivery is signed (Standard Webhooks) and
//! when a failed one is tried again. The rules only: the server stores,
//! signs with its HMAC and sends.

use crate::Timestamp;
use crate::client_keys::outgoing_https_url;
use crate::shape::{Field, Kind, Shaped};
use crate::text::TextRule;
use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A tenant's endpoints at most: each one is a copy of the trail leaving the
/// install, and each costs a request per event.
pub const MAX_PER_TENANT: usize = 20;
/// Event types (or families) one endpoint names at most.
pub const MAX_EVENT_TYPES: usize = 50;
/// Standard Webhooks' prefix of a signing secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a signing secret (Standard Webhooks: 24 to 64).
pub const SECRET_BYTES: usize = 32;
/// How long a delivery is retried, from its event (or from a manual retry).
pub const RETRY_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// How long a receiver has to answer with a 2xx.
pub const TIMEOUT: Duration = Duration::from_secs(10);

const DESCRIPTION: TextRule = TextRule {
    field: "description",
    max_chars: 200,
    multiline: false,
};

/// `POST /admin/v1/webhooks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WebhookForm {
    /// Where deliveries are sent: an `https` URL on a public address (unless
    /// the install allows private ones), at most 2048 characters.
    #[cfg_attr(feature = "openapi", schema(example = "https://siem.agency.example/hooks/casebook"))]
    pub url: String,
    /// Which audit events are sent: an action (`user.changed`), a family of
    /// them (`application.*`), or `*` for every event. 1 to 50 of them.
    #[cfg_attr(feature = "openapi", schema(example = json!(["application.*", "user.changed"])))]
    pub events: Vec<String>,
    /// What the endpoint is for, up to 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl WebhookForm {
    pub fn new(url: impl Into<String>, events: Vec<String>) -> Self {
        Self {
            url: url.into(),
            events,
            description: None,
        }
    }

    /// `allow_private` is the operator's `CASEBOOK_ALLOW_PRIVATE_WEBHOOK_URLS`.
    pub fn validate(&self, allow_private: bool) -> Result<NewWebhook, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let url = errors.check(WebhookUrl::parse(&self.url, allow_private));
        let events = errors.check(EventFilter::parse(&self.events));
        let description = errors.check(DESCRIPTION.optional(self.description.as_deref()));
        match (url, events, description) {
            (Some(url), Some(events), Some(description)) if errors.is_empty() => Ok(NewWebhook {
                url,
                events,
                description,
            }),
            _ => Err(errors),
        }
    }
}

impl Shaped for WebhookForm {
    const FIELDS: &'static [Field] = &[
        Field::required("url", Kind::Text),
        Field::required("events", Kind::TextList),
        Field::optional("description", Kind::Text),
    ];

    /// Offline, private addresses pass: the server checks again with its setting.
    fn rules(&self) -> Result<(), ValidationErrors> {
        self.validate(true).map(drop)
    }
}

/// A webhook to register, every field checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    pub url: WebhookUrl,
    pub events: EventFilter,
    pub description: Option<String>,
}

/// `PATCH /admin/v1/webhooks/{id}`: what is given changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WebhookChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// Blank clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Off, no event is queued for the endpoint; deliveries already queued
    /// are still sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A change to a webhook, every field given checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidWebhookChange {
    pub url: Option<WebhookUrl>,
    pub events: Option<EventFilter>,
    /// `Some(None)`: cleared.
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

impl WebhookChange {
    pub fn validate(&self, allow_private: bool) -> Result<ValidWebhookChange, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let url = match &self.url {
            Some(raw) => errors.check(WebhookUrl::parse(raw, allow_private)),
            None => None,
        };
        let events = match &self.events {
            Some(list) => errors.check(EventFilter::parse(list)),
            None => None,
        };
        let description = match &self.description {
            Some(raw) => errors.check(DESCRIPTION.optional(Some(raw))),
            None => None,
        };
        errors.finish(|| ValidWebhookChange {
            url,
            events,
            description,
            enabled: self.enabled,
        })
    }
}

impl Shaped for WebhookChange {
    const FIELDS: &'static [Field] = &[
        Field::optional("url", Kind::Text),
        Field::optional("events", Kind::TextList),
        Field::optional("description", Kind::Text),
        Field::optional("enabled", Kind::Boolean),
    ];

    fn rules(&self) -> Result<(), ValidationErrors> {
        self.validate(true).map(drop)
    }
}

/// Where deliveries go: the same rule as a `jwks_uri` (an `https` URL, no
/// credentials, no fragment, an address literal public unless allowed). A
/// host name is judged by what it resolves to when a delivery is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(url::Url);

impl WebhookUrl {
    pub fn parse(raw: &str, allow_private: bool) -> Result<Self, FieldError> {
        outgoing_https_url(
            "url",
            raw,
            allow_private,
            "deliveries carry the audit trail, which must not travel in the clear",
        )
        .map(Self)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &url::Url {
        &self.0
    }

    /// The address the host names, when it is written as one.
    pub fn ip_literal(&self) -> Option<std::net::IpAddr> {
        match self.0.host()? {
            url::Host::Ipv4(v4) => Some(v4.into()),
            url::Host::Ipv6(v6) => Some(v6.into()),
            url::Host::Domain(_) => None,
        }
    }
}

/// One entry of an endpoint's `events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventType {
    /// `user.changed`: that action only.
    Exact(String),
    /// `application.*` (prefix `application.`), or `*` (prefix empty): every
    /// action that starts so.
    Prefix(String),
}

impl EventType {
    /// As written in the form and shown back.
    pub fn as_written(&self) -> String {
        match self {
            Self::Exact(action) => action.clone(),
            Self::Prefix(prefix) => format!("{prefix}*"),
        }
    }

    pub fn matches(&self, action: &str) -> bool {
        match self {
            Self::Exact(exact) => exact == action,
            Self::Prefix(prefix) => action.starts_with(prefix.as_str()),
        }
    }
}

/// The events an endpoint receives: 1 to [`MAX_EVENT_TYPES`] entries, no
/// two alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter(Vec<EventType>);

/// `a-z`, `0-9` and `_`, at least one: one part of an action (`user`,
/// `secret_revealed`).
fn is_word(part: &str) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl EventFilter {
    pub fn parse(raw: &[String]) -> Result<Self, FieldError> {
        if raw.is_empty() {
            return Err(FieldError::new(
                "events",
                ErrorCode::Required,
                "events must name at least one event type, a family like application.*, or *",
            ));
        }
        if raw.len() > MAX_EVENT_TYPES {
            return Err(FieldError::new(
                "events",
                ErrorCode::TooLong,
                format!("events may name at most {MAX_EVENT_TYPES} event types"),
            ));
        }
        let mut types: Vec<EventType> = Vec::with_capacity(raw.len());
        for entry in raw {
            let entry = entry.trim();
            let parsed = if entry == "*" {
                Some(EventType::Prefix(String::new()))
            } else if let Some(family) = entry.strip_suffix(".*") {
                family
                    .split('.')
                    .all(is_word)
                    .then(|| EventType::Prefix(format!("{family}.")))
            } else {
                let parts: Vec<&str> = entry.split('.').collect();
                (parts.len() >= 2 && parts.iter().all(|p| is_word(p))).then(|| EventType::Exact(entry.to_owned()))
            };
            let Some(parsed) = parsed else {
                return Err(FieldError::new(
                    "events",
                    ErrorCode::InvalidValue,
                    format!(
                        "events: {:?} is not an event type (like user.changed), a family (like application.*) or *",
                        entry.chars().take(64).collect::<String>()
                    ),
                ));
            };
            if types.contains(&parsed) {
                return Err(FieldError::new(
                    "events",
                    ErrorCode::InvalidValue,
                    format!("events names {entry:?} twice"),
                ));
            }
            types.push(parsed);
        }
        Ok(Self(types))
    }

    pub fn types(&self) -> &[EventType] {
        &self.0
    }

    /// As written, in the order given.
    pub fn as_written(&self) -> Vec<String> {
        self.0.iter().map(EventType::as_written).collect()
    }

    pub fn matches(&self, action: &str) -> bool {
        self.0.iter().any(|t| t.matches(action))
    }
}

/// When a delivery that has failed `failed` times (1 or more) is tried
/// again, given when its window began (its event, or a manual retry): 5 s,
/// 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, then every 8 h, and never
/// past [`RETRY_WINDOW`] (its last try is at the window's end). `None`:
/// given up.
pub fn next_attempt(window_start: Timestamp, failed: u32, now: Timestamp) -> Option<Timestamp> {
    const SCHEDULE: [u64; 8] = [5, 30, 120, 600, 1800, 3600, 7200, 14400];
    let delay = SCHEDULE
        .get(failed.saturating_sub(1) as usize)
        .copied()
        .unwrap_or(28800);
    let end = window_start.saturating_add(RETRY_WINDOW);
    if now >= end {
        return None;
    }
    let next = now.saturating_add(Duration::from_secs(delay));
    Some(if next > end { end } else { next })
}

/// `whsec_` and the key in standard base64: the secret as the receiver
/// configures it.
pub fn format_secret(key: &[u8]) -> String {
    use base64::Engine;
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// The HMAC key of a `whsec_` secret: the base64 after the prefix, decoded.
pub fn secret_key(secret: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let encoded = secret.strip_prefix(SECRET_PREFIX)?;
    base64::engine::general_purpose::STANDARD.decode(encoded).ok()
}

/// What is signed: `{webhook-id}.{webhook-timestamp}.{body}`.
pub fn signed_content(id: &str, timestamp_secs: i64, body: &[u8]) -> Vec<u8> {
    let mut content = format!("{id}.{timestamp_secs}.").into_bytes();
    content.extend_from_slice(body);
    content
}

/// The `webhook-signature` header of a MAC over [`signed_content`].
pub fn signature_header(mac: &[u8]) -> String {
    use base64::Engine;
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(entries: &[&str]) -> Result<EventFilter, ErrorCode> {
        EventFilter::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).map_err(|e| e.code)
    }

    #[test]
    fn event_types_families_and_everything() {
        let f = filter(&["application.*", "user.changed"]).unwrap();
        assert!(f.matches("application.registered"));
        assert!(f.matches("application.secret_revealed"));
        assert!(f.matches("user.changed"));
        assert!(!f.matches("user.created"));
        assert!(!f.matches("applications.x"));
        assert_eq!(f.as_written(), ["application.*", "user.changed"]);
        assert!(filter(&["*"]).unwrap().matches("tenant.created"));
        for bad in [
            &[][..],
            &["user"],
            &["User.changed"],
            &["user.*.x"],
            &["user..changed"],
            &["*.changed"],
            &["user.changed", "user.changed"],
            &["%.x"],
        ] {
            assert!(filter(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn retries_back_off_for_a_day_then_stop() {
        let start = Timestamp::from_unix_secs(1_000_000);
        let after = |secs: i64| Timestamp::from_unix_secs(1_000_000 + secs);
        assert_eq!(next_attempt(start, 1, start), Some(after(5)));
        assert_eq!(next_attempt(start, 2, after(5)), Some(after(35)));
        assert_eq!(next_attempt(start, 20, after(80_000)), Some(after(86_400)));
        assert_eq!(next_attempt(start, 21, after(86_400)), None);
    }

    #[test]
    fn secrets_round_trip_and_urls_follow_the_jwks_uri_rule() {
        let secret = format_secret(&[7u8; SECRET_BYTES]);
        assert!(secret.starts_with("whsec_"));
        assert_eq!(secret_key(&secret).unwrap(), vec![7u8; SECRET_BYTES]);
        assert_eq!(signed_content("m1", 5, b"{}"), b"m1.5.{}");
        assert!(WebhookUrl::parse("https://siem.example.org/hook?x=1", false).is_ok());
        for (raw, code) in [
            ("http://siem.example.org/hook", ErrorCode::InvalidUrl),
            ("https://127.0.0.1/hook", ErrorCode::PrivateAddress),
            ("https://10.1.2.3/hook", ErrorCode::PrivateAddress),
            ("https://u:p@siem.example.org/", ErrorCode::InvalidUrl),
        ] {
            assert_eq!(WebhookUrl::parse(raw, false).unwrap_err().code, code, "{raw}");
        }
        assert!(WebhookUrl::parse("https://127.0.0.1:8443/hook", true).is_ok());
    }
}
