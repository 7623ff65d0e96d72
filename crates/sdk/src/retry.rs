//! When and how long to wait before trying a failed request again.

use crate::error::Error;
use reqwest::Method;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// How transient failures (timeouts, connection failures, 408, 429, 5xx) are
/// retried: exponential backoff with jitter, a bounded number of times.
///
/// A `Retry-After` from the server replaces the computed backoff; when it asks
/// for longer than [`max_retry_after`](Self::max_retry_after), the error is
/// returned at once rather than blocking the caller.
///
/// Requests that may change something (POST, PATCH) are retried only when the
/// server certainly did not act on them: the connection could not be opened,
/// or the answer was 429, or a 503 with `Retry-After` (or the token
/// endpoint's `temporarily_unavailable`). A bare 503 may come from a proxy
/// whose upstream already had the request.
///
/// A POST to Casebook's APIs is the exception: it carries an
/// `Idempotency-Key`, the same on every attempt, and the server does it
/// once and answers a repeat with its first answer. So it is retried after
/// a timeout, a dropped connection or a 5xx like a GET, and a 409 while an
/// earlier attempt may still be running there is waited out too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Three retries, backoff from 250 ms doubling up to 8 s, `Retry-After` honoured up to 60 s.
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// How many times a failed request is tried again (not counting the first try).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The backoff before the first retry; it doubles with each further retry.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// The longest computed backoff.
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// The longest `Retry-After` the SDK waits out; a longer one ends the retries.
    pub fn max_retry_after(mut self, wait: Duration) -> Self {
        self.max_retry_after = wait;
        self
    }

    /// The wait before retry number `retry` (0 for the first), or `None` when
    /// the retries are spent or the server asked for too long a wait.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        if let Some(wait) = retry_after {
            return (wait <= self.max_retry_after).then_some(wait);
        }
        let exponential = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.min(31)))
            .min(self.max_backoff);
        // "Equal jitter": at least half the backoff, so clients that failed
        // together spread out without any of them retrying at once.
        let half = exponential / 2;
        Some(half + half.mul_f64(random_fraction()))
    }
}

/// Why a failed request is sent again, or is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    /// Sent again: the method cannot act twice (GET, HEAD, PUT, DELETE, OPTIONS).
    SafeToRepeat,
    /// Sent again: the server certainly did not act on it.
    NotActed,
    /// Not sent again: trying later would not help (a 4xx, an OAuth error).
    Permanent,
    /// Not sent again: it may change something, and the server may have
    /// acted on it (a timeout, a dropped connection, a 500, a bare 503).
    MayHaveActed,
    /// Not sent again: the policy's retries are spent.
    RetriesSpent,
    /// Not sent again: the server asked for a longer wait than the policy allows.
    WaitTooLong,
    /// Sent again: a POST with an `Idempotency-Key`, which the server does once.
    Keyed,
    /// Sent again: a keyed POST answered 409 while an earlier attempt may
    /// still be running on the server; its answer is waited for.
    StillRunning,
}

impl Why {
    /// Its name in `sdks/fixtures/retry-verdicts.json`, which both SDKs'
    /// tests read, and in the SDK's log lines.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::SafeToRepeat => "safe_to_repeat",
            Self::NotActed => "not_acted",
            Self::Permanent => "permanent",
            Self::MayHaveActed => "may_have_acted",
            Self::RetriesSpent => "retries_spent",
            Self::WaitTooLong => "wait_too_long",
            Self::Keyed => "keyed",
            Self::StillRunning => "still_running",
        }
    }
}

/// Whether a `method` request that failed with `error`, after `retries`
/// retries already, is sent again, and after how long; every request, the
/// token request (a POST) included, goes through this one rule.
///
/// Only requests that cannot act twice are repeated after a failure that
/// may have followed an action (a timeout, a 500); others only when the
/// server certainly did not act (see `Error::certainly_not_acted`).
pub(crate) fn verdict(
    policy: &RetryPolicy,
    method: &Method,
    error: &Error,
    retries: u32,
) -> Result<(Duration, Why), Why> {
    if !error.is_transient() {
        return Err(Why::Permanent);
    }
    let idempotent = matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    );
    let why = if idempotent {
        Why::SafeToRepeat
    } else if error.certainly_not_acted() {
        Why::NotActed
    } else {
        return Err(Why::MayHaveActed);
    };
    if retries >= policy.max_retries {
        return Err(Why::RetriesSpent);
    }
    policy
        .delay(retries, error.retry_after())
        .map(|delay| (delay, why))
        .ok_or(Why::WaitTooLong)
}

/// [`verdict`] for a POST carrying an `Idempotency-Key` the server keeps
/// (Casebook's `/api/v1` and `/admin/v1`, for a caller it knows): the
/// server does it once, so every transient failure is retried, as for a
/// GET. With `may_be_running` (an earlier attempt may have reached the
/// server and not finished; its answer was not a replay), a 409 is the
/// server saying the first attempt is still at work, and is waited out
/// within the same retries.
pub(crate) fn keyed_verdict(
    policy: &RetryPolicy,
    error: &Error,
    retries: u32,
    may_be_running: bool,
) -> Result<(Duration, Why), Why> {
    let why = if error.is_transient() {
        if error.certainly_not_acted() {
            Why::NotActed
        } else {
            Why::Keyed
        }
    } else if may_be_running && error.status() == Some(409) {
        Why::StillRunning
    } else {
        return Err(Why::Permanent);
    };
    if retries >= policy.max_retries {
        return Err(Why::RetriesSpent);
    }
    policy
        .delay(retries, error.retry_after())
        .map(|delay| (delay, why))
        .ok_or(Why::WaitTooLong)
}

/// A fraction in [0, 1) from the standard library's randomly keyed hasher,
/// which is plenty for jitter and spares a dependency on a random crate.
fn random_fraction() -> f64 {
    let bits = std::collections::hash_map::RandomState::new().build_hasher().finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// `Retry-After` in its delta-seconds form (RFC 9110 §10.2.3). The HTTP-date
/// form is ignored: the computed backoff then applies.
pub(crate) fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Cause;
    use casebook_domain::{OAuthErrorCode, PermissionSet};
    use serde_json::Value;

    /// The verdicts both SDKs are held to. Read by tests only: the file is
    /// outside the crate, so never by the packaged library.
    const VERDICTS: &str = include_str!("../../../sdks/fixtures/retry-verdicts.json");

    fn error_of(case: &Value) -> Error {
        let error = &case["error"];
        let status = || {
            error["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .expect("status")
        };
        let retry_after = error["retry_after_secs"].as_u64().map(Duration::from_secs);
        match error["kind"].as_str().expect("kind") {
            "api" => Error::Api {
                status: status(),
                problem_type: String::new(),
                title: String::new(),
                detail: String::new(),
                errors: vec![],
                missing_permissions: PermissionSet::EMPTY,
                required_scope: None,
                second_factor_enrolment_required: false,
                retry_after,
                request_id: None,
            },
            "unexpected_response" => Error::UnexpectedResponse {
                status: status(),
                message: String::new(),
                retry_after,
                source: None,
                request_id: None,
            },
            "oauth" => Error::OAuth {
                code: OAuthErrorCode::parse(error["code"].as_str().expect("code")).expect("a known code"),
                description: None,
                status: status(),
                retry_after,
                request_id: None,
            },
            "timeout" => Error::Timeout(Cause::new(std::io::Error::other("timed out"))),
            "transport" => Error::Transport(Cause::transport(error["not_sent"].as_bool().expect("not_sent"))),
            other => panic!("an error kind the fixture does not define: {other}"),
        }
    }

    /// The retry policy the fixture's verdicts assume.
    fn fixture_policy(fixture: &Value) -> RetryPolicy {
        RetryPolicy::default()
            .max_retries(fixture["policy"]["max_retries"].as_u64().expect("max_retries") as u32)
            .max_retry_after(Duration::from_secs(
                fixture["policy"]["max_retry_after_secs"]
                    .as_u64()
                    .expect("max_retry_after_secs"),
            ))
    }

    /// Whether a verdict is the one `case` lists: sent again or not, and why.
    fn assert_holds(case: &Value, outcome: Result<(Duration, Why), Why>) {
        let (retry, why) = match outcome {
            Ok((_, why)) => (true, why),
            Err(why) => (false, why),
        };
        let expected = (
            case["retry"].as_bool().expect("retry"),
            case["why"].as_str().expect("why"),
        );
        assert_eq!((retry, why.as_str()), expected, "{case}");
    }

    #[test]
    fn every_verdict_of_the_shared_fixture_holds() {
        let fixture: Value = serde_json::from_str(VERDICTS).expect("the fixture is JSON");
        let policy = fixture_policy(&fixture);
        let cases = fixture["cases"].as_array().expect("cases");
        assert!(cases.len() > 40, "the fixture was read whole");
        for case in cases {
            let method = Method::from_bytes(case["method"].as_str().expect("method").as_bytes()).expect("a method");
            let attempt = case["attempt"].as_u64().expect("attempt") as u32;
            assert_holds(case, verdict(&policy, &method, &error_of(case), attempt));
        }
    }

    #[test]
    fn every_keyed_verdict_of_the_shared_fixture_holds() {
        let fixture: Value = serde_json::from_str(VERDICTS).expect("the fixture is JSON");
        let policy = fixture_policy(&fixture);
        let cases = fixture["keyed_cases"].as_array().expect("keyed_cases");
        assert!(cases.len() > 20, "the fixture's keyed cases were read whole");
        for case in cases {
            let attempt = case["attempt"].as_u64().expect("attempt") as u32;
            let may_be_running = case["may_be_running"].as_bool().expect("may_be_running");
            assert_holds(case, keyed_verdict(&policy, &error_of(case), attempt, may_be_running));
        }
    }

    #[test]
    fn a_keyed_post_is_retried_after_a_timeout_and_waits_out_a_409_only_while_it_may_run() {
        let policy = RetryPolicy::default().max_retries(2);
        let timeout = Error::Timeout(Cause::new(std::io::Error::other("timed out")));
        let dropped = Error::Transport(Cause::transport(false));
        let problem = |status, retry_after| Error::Api {
            status,
            problem_type: String::new(),
            title: String::new(),
            detail: String::new(),
            errors: vec![],
            missing_permissions: PermissionSet::EMPTY,
            required_scope: None,
            second_factor_enrolment_required: false,
            retry_after,
            request_id: None,
        };
        let conflict = problem(409, Some(Duration::from_secs(1)));
        let unprocessable = problem(422, None);
        // Unkeyed, a POST that may have been done is never sent again.
        assert_eq!(verdict(&policy, &Method::POST, &timeout, 0), Err(Why::MayHaveActed));
        assert_eq!(verdict(&policy, &Method::POST, &dropped, 0), Err(Why::MayHaveActed));
        for error in [&timeout, &dropped] {
            assert_eq!(
                keyed_verdict(&policy, error, 0, false).map(|(_, why)| why),
                Ok(Why::Keyed)
            );
            assert_eq!(keyed_verdict(&policy, error, 2, true), Err(Why::RetriesSpent));
        }
        assert_eq!(
            keyed_verdict(&policy, &conflict, 1, true),
            Ok((Duration::from_secs(1), Why::StillRunning))
        );
        // A 409 to the first attempt, or a replayed one, is the answer.
        assert_eq!(keyed_verdict(&policy, &conflict, 0, false), Err(Why::Permanent));
        assert_eq!(keyed_verdict(&policy, &unprocessable, 1, true), Err(Why::Permanent));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = RetryPolicy::default()
            .max_retries(10)
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_secs(1));
        for (retry, full) in [(0, 100), (1, 200), (2, 400), (3, 800), (4, 1000), (9, 1000)] {
            for _ in 0..50 {
                let delay = policy.delay(retry, None).unwrap();
                let full = Duration::from_millis(full);
                assert!(delay >= full / 2 && delay <= full, "retry {retry}: {delay:?}");
            }
        }
    }

    #[test]
    fn retries_are_bounded() {
        let policy = RetryPolicy::default().max_retries(2);
        assert!(policy.delay(0, None).is_some());
        assert!(policy.delay(1, None).is_some());
        assert_eq!(policy.delay(2, None), None);
        assert_eq!(RetryPolicy::none().delay(0, None), None);
    }

    #[test]
    fn retry_after_replaces_backoff_up_to_its_bound() {
        let policy = RetryPolicy::default().max_retry_after(Duration::from_secs(30));
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(policy.delay(0, Some(Duration::from_secs(900))), None);
    }

    #[test]
    fn retry_after_header_forms() {
        assert_eq!(parse_retry_after(Some("120")), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(Some(" 3 ")), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(parse_retry_after(Some("-1")), None);
        assert_eq!(parse_retry_after(None), None);
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..1000 {
            let f = random_fraction();
            assert!((0.0..1.0).contains(&f));
        }
    }
}
