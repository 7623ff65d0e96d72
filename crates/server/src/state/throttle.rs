//! RFC 6749 §10.10's limit on guessing: failed client authentications
//! and sign-ins, counted per client or account and per source address,
//! each within one tenant (the contract, "Tenants": throttles and lockouts
//! count per tenant), so guessing at one agency locks nobody out of another.

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::RwLock;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// RFC 6749 §10.10: failed client authentications are limited per client ID
/// and per source address. Only failures draw on the budget, so the genuine
/// client, presenting the right secret from a source that is not throttled,
/// is never locked out by an attacker; a source whose budget is spent is
/// refused before any secret is checked, so guessing from it stops entirely.
/// Sign-ins are limited per (account, source) and per source, so that
/// nobody can lock a person out of their own account from elsewhere.
#[derive(Debug)]
pub struct Throttle {
    per_client: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<Source>,
    blocked_sources: BlockedSources,
    sign_in_per_account_and_source: DefaultKeyedRateLimiter<(String, IpAddr)>,
    sign_in_per_address: DefaultKeyedRateLimiter<Source>,
}

/// A budget's key within one tenant. Every tenant's keys, the root's too,
/// start with its id and U+001F, so no text typed at one tenant (a sign-in
/// address holding U+001F, say) can name another's budget.
fn within(tenant_id: &str, key: &str) -> String {
    format!("{tenant_id}\u{1f}{key}")
}

/// A tenant's id and a source address: what source budgets are kept by.
type Source = (String, IpAddr);

/// Failures allowed in a burst, then one more every 6 s (10 a minute).
const CLIENT_FAILURE_BURST: u32 = 10;
const ADDRESS_FAILURE_BURST: u32 = 30;

/// Stands for a request with no socket peer (none in practice), so that it
/// still has a budget of its own.
const NO_ADDRESS: IpAddr = IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);

impl Default for Throttle {
    fn default() -> Self {
        Self::new()
    }
}

impl Throttle {
    pub fn new() -> Self {
        let quota = |burst: u32, per_minute: u32| {
            Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN))
                .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
        };
        Self {
            per_client: RateLimiter::keyed(quota(CLIENT_FAILURE_BURST, 10)),
            per_address: RateLimiter::keyed(quota(ADDRESS_FAILURE_BURST, 30)),
            blocked_sources: BlockedSources::default(),
            sign_in_per_account_and_source: RateLimiter::keyed(quota(10, 2)),
            sign_in_per_address: RateLimiter::keyed(quota(30, 10)),
        }
    }

    /// `Some(wait)` when `address` spent its failure budget: the request is
    /// refused before its credentials are looked at.
    pub fn source_refused(&self, tenant_id: &str, address: Option<IpAddr>) -> Option<Duration> {
        self.blocked_sources.remaining(tenant_id, address.unwrap_or(NO_ADDRESS))
    }

    /// Counts one failure; `Some(wait)` once the budget is spent.
    pub fn record_failure(
        &self,
        tenant_id: &str,
        client_id: Option<&str>,
        address: Option<IpAddr>,
    ) -> Option<Duration> {
        let clock = governor::clock::DefaultClock::default();
        use governor::clock::Clock;
        let mut wait = None;
        if let Some(id) = client_id
            && let Err(not_until) = self.per_client.check_key(&within(tenant_id, id))
        {
            wait = Some(not_until.wait_time_from(clock.now()));
        }
        let source = (tenant_id.to_owned(), address.unwrap_or(NO_ADDRESS));
        if let Err(not_until) = self.per_address.check_key(&source) {
            let w = not_until.wait_time_from(clock.now());
            self.blocked_sources.block(source, w);
            wait = Some(wait.map_or(w, |x: Duration| x.max(w)));
        }
        wait
    }

    /// Counts one sign-in attempt, right or wrong: 10 in a burst, then 2 a
    /// minute per address signed in to from one source, and 30 then 10 a
    /// minute per source. `Some(wait)` once either budget is spent.
    pub fn sign_in_attempt(&self, tenant_id: &str, email: &str, address: Option<IpAddr>) -> Option<Duration> {
        use governor::clock::Clock;
        let clock = governor::clock::DefaultClock::default();
        let address = address.unwrap_or(NO_ADDRESS);
        let mut wait = None;
        let account: String = email.chars().take(254).collect();
        let account = within(tenant_id, &account);
        if let Err(not_until) = self.sign_in_per_account_and_source.check_key(&(account, address)) {
            wait = Some(not_until.wait_time_from(clock.now()));
        }
        if let Err(not_until) = self.sign_in_per_address.check_key(&(tenant_id.to_owned(), address)) {
            let w = not_until.wait_time_from(clock.now());
            wait = Some(wait.map_or(w, |x: Duration| x.max(w)));
        }
        wait
    }

    /// Forget keys whose budgets are full again, so memory stays bounded.
    pub fn housekeeping(&self) {
        self.per_client.retain_recent();
        self.per_address.retain_recent();
        self.blocked_sources.forget_elapsed();
        self.sign_in_per_account_and_source.retain_recent();
        self.sign_in_per_address.retain_recent();
    }
}

/// Sources refused until a moment: only those that spent their budget, so
/// the map is empty in normal operation and the check costs one atomic load.
#[derive(Debug, Default)]
struct BlockedSources {
    count: std::sync::atomic::AtomicUsize,
    until: RwLock<HashMap<Source, Instant>>,
}

impl BlockedSources {
    fn block(&self, source: Source, wait: Duration) {
        let mut map = self.until.write().unwrap_or_else(|e| e.into_inner());
        let until = Instant::now() + wait;
        let entry = map.entry(source).or_insert(until);
        *entry = (*entry).max(until);
        self.count.store(map.len(), Ordering::Release);
    }

    fn remaining(&self, tenant_id: &str, address: IpAddr) -> Option<Duration> {
        if self.count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let map = self.until.read().unwrap_or_else(|e| e.into_inner());
        let left = map
            .get(&(tenant_id.to_owned(), address))?
            .saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    fn forget_elapsed(&self) {
        let mut map = self.until.write().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        map.retain(|_, until| *until > now);
        self.count.store(map.len(), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_that_spent_its_budget_is_refused_until_it_recovers() {
        let throttle = Throttle::new();
        let attacker: IpAddr = "127.0.0.2".parse().unwrap();
        let bystander: IpAddr = "127.0.0.3".parse().unwrap();
        assert_eq!(throttle.source_refused("root", Some(attacker)), None);
        let mut refused_after = None;
        for attempt in 1..=ADDRESS_FAILURE_BURST + 1 {
            if throttle.record_failure("root", None, Some(attacker)).is_some() {
                refused_after = Some(attempt);
                break;
            }
        }
        assert_eq!(refused_after, Some(ADDRESS_FAILURE_BURST + 1));
        assert!(throttle.source_refused("root", Some(attacker)).is_some());
        assert_eq!(throttle.source_refused("root", Some(bystander)), None);
    }

    #[test]
    fn sign_in_failures_elsewhere_do_not_lock_the_owner_out() {
        let throttle = Throttle::new();
        let attacker: IpAddr = "127.0.0.2".parse().unwrap();
        let owner: IpAddr = "127.0.0.3".parse().unwrap();
        while throttle
            .sign_in_attempt("root", "root@agency.org", Some(attacker))
            .is_none()
        {}
        assert!(
            throttle
                .sign_in_attempt("root", "root@agency.org", Some(attacker))
                .is_some()
        );
        assert_eq!(throttle.sign_in_attempt("root", "root@agency.org", Some(owner)), None);
    }

    #[test]
    fn a_source_spent_at_one_tenant_is_not_refused_at_another() {
        let throttle = Throttle::new();
        let attacker: IpAddr = "127.0.0.2".parse().unwrap();
        while throttle.record_failure("tenant-a", None, Some(attacker)).is_none() {}
        let owner: IpAddr = "127.0.0.3".parse().unwrap();
        while throttle.record_failure("tenant-a", Some("cb_x"), Some(owner)).is_none() {}
        assert_eq!(throttle.record_failure("tenant-b", Some("cb_x"), Some(owner)), None);
        assert!(throttle.source_refused("tenant-a", Some(attacker)).is_some());
        assert_eq!(throttle.source_refused("tenant-b", Some(attacker)), None);
        while throttle
            .sign_in_attempt("tenant-a", "same@agency.org", Some(attacker))
            .is_none()
        {}
        assert_eq!(
            throttle.sign_in_attempt("tenant-b", "same@agency.org", Some(attacker)),
            None
        );
    }

    #[test]
    fn no_typed_text_names_another_tenants_budget() {
        let throttle = Throttle::new();
        let source: IpAddr = "127.0.0.2".parse().unwrap();
        while throttle
            .sign_in_attempt("tenant-a", "x@agency.org", Some(source))
            .is_none()
        {}
        let crafted = "tenant-a\u{1f}x@agency.org";
        assert_eq!(throttle.sign_in_attempt("root", crafted, Some(source)), None);
    }
}
