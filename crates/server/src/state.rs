//! Shared state: the database, keys, and the caches that keep the token
//! endpoint and token checks off the database on the hot path.

use crate::config::Config;
use crate::crypto::MasterKey;
use crate::db::Db;
use crate::jti_ledger::JtiLedger;
use crate::jwks_fetch::JwksFetcher;
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::store::{self, ClientRecord};
use casebook_domain::PermissionSet;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Cheap to clone: one `Arc`.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub db: Db,
    pub config: Config,
    pub keys: KeyRing,
    pub clients: TtlCache<Arc<ClientRecord>>,
    /// Client IDs storage does not know, kept apart so that a flood of
    /// made-up IDs cannot evict real clients, and so that an unknown ID costs
    /// what a known one does (no storage read) from its second try on.
    pub unknown_clients: TtlCache<()>,
    pub tokens: TtlCache<Arc<VerifiedToken>>,
    /// Tokens revoked anywhere in the install, until they expire.
    pub revoked: RevokedTokens,
    pub throttle: Throttle,
    pub metrics: Metrics,
    /// What the caches may trust; see [`CacheClock`].
    pub cache_clock: CacheClock,
    /// Server-side token lifetime: SPEC's 3600 s; only tests shorten it.
    pub token_lifetime_secs: i64,
    /// The keys of applications that publish them at a `jwks_uri`.
    pub jwks: JwksFetcher,
    /// Client assertions' `jti`s, spent in batches.
    pub jtis: JtiLedger,
    /// When each client secret was last used, written in batches.
    pub secret_uses: crate::secret_use::SecretUse,
    /// Grants counted against applications' `token_quota_per_hour`.
    pub quotas: Arc<crate::quota::TokenQuotas>,
    /// Which refusals for `allowed_sources` were audited lately.
    pub refusal_audit: crate::sources::RefusalAudit,
    /// Set when a shutdown begins: `/readyz` says 503 while requests are
    /// still served, so a balancer moves traffic away before connections
    /// close.
    pub draining: std::sync::atomic::AtomicBool,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// What the request metrics layer needs, without `metrics` knowing `AppState`.
impl AsRef<Metrics> for AppState {
    fn as_ref(&self) -> &Metrics {
        &self.metrics
    }
}

impl AppState {
    pub fn new(
        db: Db,
        config: Config,
        keys: KeyRing,
        metrics: Metrics,
        jwks: JwksFetcher,
        token_lifetime_secs: i64,
    ) -> Self {
        let ttl = config.cache_ttl;
        let db_for_ledger = db.clone();
        let secret_uses = crate::secret_use::SecretUse::new(metrics.secret_use_writes.clone());
        let quotas = Arc::new(crate::quota::TokenQuotas::new(db.clone(), &metrics));
        Self(Arc::new(Inner {
            db,
            config,
            keys,
            clients: TtlCache::new(ttl, 200_000),
            unknown_clients: TtlCache::new(ttl, 20_000),
            tokens: TtlCache::new(ttl, 100_000),
            revoked: RevokedTokens::default(),
            throttle: Throttle::new(),
            metrics,
            cache_clock: CacheClock::new(),
            token_lifetime_secs,
            jwks,
            jtis: JtiLedger::new(db_for_ledger),
            secret_uses,
            quotas,
            refusal_audit: crate::sources::RefusalAudit::default(),
            draining: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    pub fn master(&self) -> &MasterKey {
        &self.config.master_key
    }

    /// The wall clock every rule reads; the database stamps rows by it too.
    pub fn clock(&self) -> &crate::clock::SharedClock {
        self.db.clock()
    }

    pub fn now(&self) -> casebook_domain::Timestamp {
        self.db.clock().now()
    }

    pub fn issuer(&self) -> &str {
        &self.config.public_url
    }

    /// Invalidate every cached view this process holds of applications and tokens.
    pub fn bump_epoch(&self) {
        self.cache_clock.bump();
    }

    pub fn freshness(&self) -> Freshness {
        self.cache_clock.freshness()
    }

    /// The client as storage has it, at most `cache_ttl` stale.
    pub async fn client(&self, client_id: &str) -> Result<Option<Arc<ClientRecord>>, sqlx::Error> {
        let fresh = self.freshness();
        if let Some(hit) = self.clients.get(client_id, &fresh) {
            self.metrics.client_cache.hit();
            return Ok(Some(hit));
        }
        if self.unknown_clients.get(client_id, &fresh).is_some() {
            self.metrics.client_cache.hit();
            return Ok(None);
        }
        self.metrics.client_cache.miss();
        let record = store::client_record(&self.db, client_id).await?.map(Arc::new);
        match &record {
            Some(record) => self.clients.insert(client_id.to_owned(), record.clone(), &fresh),
            None => self.unknown_clients.insert(client_id.to_owned(), (), &fresh),
        }
        Ok(record)
    }
}

/// A token whose signature and claims were checked; rechecked against
/// storage (revocation, application state) once per cache TTL.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub jti: String,
    pub client_id: String,
    pub application_id: String,
    pub name: String,
    /// What the token's own `scope` names.
    pub scope: PermissionSet,
    /// The effective permissions: the scope's permissions that the
    /// application's roles still grant.
    pub permissions: PermissionSet,
    pub iat: i64,
    pub exp: i64,
    /// The application's `allowed_sources` when the entry was filled:
    /// checked on every use, at the cost of a lookup in at most 50 networks.
    pub allowed_sources: Option<Arc<casebook_domain::sources::AllowedSources>>,
}

/// Revoked tokens by `jti`, with their expiry: checked on every cache hit,
/// filled by local revocations at once and by the poll of storage for those
/// made elsewhere, so a revocation drops one token rather than every cache.
#[derive(Debug)]
pub struct RevokedTokens {
    capacity: usize,
    /// Mirrors the map's size, so the check on every cache hit costs one
    /// atomic load while nothing is revoked (the usual case).
    count: std::sync::atomic::AtomicUsize,
    by_jti: RwLock<HashMap<String, i64>>,
}

impl Default for RevokedTokens {
    fn default() -> Self {
        Self::with_capacity(REVOKED_TOKENS_CAPACITY)
    }
}

/// As many as the token cache holds: beyond that, remembering more buys
/// nothing a cache flush does not.
const REVOKED_TOKENS_CAPACITY: usize = 100_000;

impl RevokedTokens {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity,
            count: std::sync::atomic::AtomicUsize::new(0),
            by_jti: RwLock::new(HashMap::new()),
        }
    }

    /// Remembers a revocation. A client minting and revoking tokens as fast
    /// as it can must not grow memory without bound, so a full set is
    /// emptied instead, and `false` tells the caller to move the cache epoch:
    /// every cached token is then checked against storage again, which
    /// holds every revocation.
    #[must_use]
    pub fn insert(&self, jti: String, expires_at: i64) -> bool {
        let mut map = self.by_jti.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.capacity && !map.contains_key(&jti) {
            map.clear();
            self.count.store(0, Ordering::Release);
            return false;
        }
        map.insert(jti, expires_at);
        self.count.store(map.len(), Ordering::Release);
        true
    }

    pub fn contains(&self, jti: &str) -> bool {
        if self.count.load(Ordering::Acquire) == 0 {
            return false;
        }
        self.by_jti.read().unwrap_or_else(|e| e.into_inner()).contains_key(jti)
    }

    /// Forgets revocations of tokens that have expired anyway.
    pub fn forget_expired(&self, now_secs: i64) {
        // Under the one write lock, so no insert slips between the change
        // and the count that the fast path trusts.
        let mut map = self.by_jti.write().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, exp| *exp > now_secs);
        self.count.store(map.len(), Ordering::Release);
    }

    pub fn len(&self) -> usize {
        self.by_jti.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The epoch of this process's caches and the last confirmation that nothing
/// changed elsewhere.
#[derive(Debug)]
pub struct CacheClock {
    /// Moved by every local change to an application or a revocation, so
    /// this process sees its own changes at once, and by the poll of the
    /// shared `cache_generation` when another process changed something.
    epoch: AtomicU64,
    /// When the last successful poll of `cache_generation` was sent, in
    /// microseconds after `started` plus one (0: never). Everything committed
    /// before then has moved the epoch if it had to.
    confirmed_at: AtomicU64,
    started: Instant,
}

impl CacheClock {
    pub fn new() -> Self {
        Self {
            epoch: AtomicU64::new(0),
            confirmed_at: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    pub fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::Release);
    }

    /// What a cache lookup may trust, taken before the storage read that
    /// would fill the entry.
    pub fn freshness(&self) -> Freshness {
        // The confirmation first: `confirm` moves the epoch before it
        // publishes a confirmation, so a confirmation seen here comes with
        // every epoch move it implies.
        let confirmed = self.confirmed_at.load(Ordering::Acquire);
        Freshness {
            epoch: self.epoch.load(Ordering::Acquire),
            confirmed: confirmed
                .checked_sub(1)
                .map(|micros| self.started + Duration::from_micros(micros)),
        }
    }

    /// Records a poll of the shared generation, sent at `sent`, that saw
    /// `generation`; moves the epoch when it differs from `previous`.
    pub fn confirm(&self, sent: Instant, previous: Option<i64>, generation: i64) {
        if previous != Some(generation) {
            self.bump();
        }
        let micros = u64::try_from(sent.saturating_duration_since(self.started).as_micros()).unwrap_or(u64::MAX - 1);
        self.confirmed_at.fetch_max(micros + 1, Ordering::Release);
    }
}

impl Default for CacheClock {
    fn default() -> Self {
        Self::new()
    }
}

/// What a cache may trust at one moment: entries of this epoch, and the time
/// up to which another process's changes are known to have moved it.
#[derive(Debug, Clone, Copy)]
pub struct Freshness {
    epoch: u64,
    confirmed: Option<Instant>,
}

impl Freshness {
    /// Whether an entry filled at `filled` in `epoch` is at most `ttl` stale:
    /// it is as current as the later of its filling and the last confirmation.
    fn trusts(&self, epoch: u64, filled: Instant, ttl: Duration) -> bool {
        epoch == self.epoch && (filled.elapsed() < ttl || self.confirmed.is_some_and(|at| at.elapsed() < ttl))
    }
}

/// A map whose entries are trusted until the epoch moves, and while they or
/// the last confirmation that nothing changed elsewhere are younger than the
/// TTL.
pub struct TtlCache<V> {
    ttl: Duration,
    capacity: usize,
    map: RwLock<HashMap<String, (V, Instant, u64)>>,
}

impl<V> std::fmt::Debug for TtlCache<V> {
    /// Keys are bearer tokens and client IDs: only the size prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.map.read().map(|m| m.len()).unwrap_or_default();
        f.debug_struct("TtlCache")
            .field("ttl", &self.ttl)
            .field("entries", &len)
            .finish()
    }
}

impl<V: Clone> TtlCache<V> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            map: RwLock::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &str, fresh: &Freshness) -> Option<V> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let (value, filled, epoch) = map.get(key)?;
        fresh.trusts(*epoch, *filled, self.ttl).then(|| value.clone())
    }

    pub fn insert(&self, key: String, value: V, fresh: &Freshness) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.capacity {
            // Bounded memory: keep what was filled within the TTL, which is
            // what the traffic of the moment uses, and drop everything if
            // that was not enough. Confirmed older entries go too; they are
            // refilled on their next use.
            let ttl = self.ttl;
            map.retain(|_, (_, filled, epoch)| *epoch == fresh.epoch && filled.elapsed() < ttl);
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert(key, (value, Instant::now(), fresh.epoch));
    }

    pub fn remove(&self, key: &str) {
        self.map.write().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

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
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    blocked_sources: BlockedSources,
    sign_in_per_account_and_source: DefaultKeyedRateLimiter<(String, IpAddr)>,
    sign_in_per_address: DefaultKeyedRateLimiter<IpAddr>,
}

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
    pub fn source_refused(&self, address: Option<IpAddr>) -> Option<Duration> {
        self.blocked_sources.remaining(address.unwrap_or(NO_ADDRESS))
    }

    /// Counts one failure; `Some(wait)` once the budget is spent.
    pub fn record_failure(&self, client_id: Option<&str>, address: Option<IpAddr>) -> Option<Duration> {
        let clock = governor::clock::DefaultClock::default();
        use governor::clock::Clock;
        let mut wait = None;
        if let Some(id) = client_id
            && let Err(not_until) = self.per_client.check_key(&id.to_owned())
        {
            wait = Some(not_until.wait_time_from(clock.now()));
        }
        let address = address.unwrap_or(NO_ADDRESS);
        if let Err(not_until) = self.per_address.check_key(&address) {
            let w = not_until.wait_time_from(clock.now());
            self.blocked_sources.block(address, w);
            wait = Some(wait.map_or(w, |x: Duration| x.max(w)));
        }
        wait
    }

    /// Counts one sign-in attempt, right or wrong: 10 in a burst, then 2 a
    /// minute per address signed in to from one source, and 30 then 10 a
    /// minute per source. `Some(wait)` once either budget is spent.
    pub fn sign_in_attempt(&self, email: &str, address: Option<IpAddr>) -> Option<Duration> {
        use governor::clock::Clock;
        let clock = governor::clock::DefaultClock::default();
        let address = address.unwrap_or(NO_ADDRESS);
        let mut wait = None;
        let account: String = email.chars().take(254).collect();
        if let Err(not_until) = self.sign_in_per_account_and_source.check_key(&(account, address)) {
            wait = Some(not_until.wait_time_from(clock.now()));
        }
        if let Err(not_until) = self.sign_in_per_address.check_key(&address) {
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
    until: RwLock<HashMap<IpAddr, Instant>>,
}

impl BlockedSources {
    fn block(&self, address: IpAddr, wait: Duration) {
        let mut map = self.until.write().unwrap_or_else(|e| e.into_inner());
        let until = Instant::now() + wait;
        let entry = map.entry(address).or_insert(until);
        *entry = (*entry).max(until);
        self.count.store(map.len(), Ordering::Release);
    }

    fn remaining(&self, address: IpAddr) -> Option<Duration> {
        if self.count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let map = self.until.read().unwrap_or_else(|e| e.into_inner());
        let left = map.get(&address)?.saturating_duration_since(Instant::now());
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

    const TTL: Duration = Duration::from_secs(2);

    fn ago(secs: u64) -> Instant {
        Instant::now()
            .checked_sub(Duration::from_secs(secs))
            .expect("the clock is past a few seconds")
    }

    #[test]
    fn an_entry_is_trusted_while_it_or_the_last_confirmation_is_young() {
        let unconfirmed = Freshness {
            epoch: 7,
            confirmed: None,
        };
        assert!(unconfirmed.trusts(7, ago(0), TTL));
        assert!(!unconfirmed.trusts(7, ago(3), TTL), "old and never confirmed");
        assert!(!unconfirmed.trusts(6, ago(0), TTL), "filled in an earlier epoch");

        let confirmed = Freshness {
            epoch: 7,
            confirmed: Some(ago(1)),
        };
        assert!(confirmed.trusts(7, ago(3600), TTL), "nothing changed anywhere since");
        assert!(!confirmed.trusts(6, ago(0), TTL), "a change moved the epoch");

        let stale_confirmation = Freshness {
            epoch: 7,
            confirmed: Some(ago(3)),
        };
        assert!(
            !stale_confirmation.trusts(7, ago(3), TTL),
            "polls stopped: back to the TTL"
        );
        assert!(stale_confirmation.trusts(7, ago(0), TTL));
    }

    #[test]
    fn a_moved_epoch_hides_every_entry() {
        let cache = TtlCache::new(TTL, 10);
        let before = Freshness {
            epoch: 1,
            confirmed: Some(Instant::now()),
        };
        cache.insert("client".into(), 42, &before);
        assert_eq!(cache.get("client", &before), Some(42));
        let after = Freshness { epoch: 2, ..before };
        assert_eq!(cache.get("client", &after), None);
    }

    #[test]
    fn a_full_cache_keeps_recent_entries_of_this_epoch_and_no_more() {
        let cache = TtlCache::new(TTL, 3);
        let old_epoch = Freshness {
            epoch: 1,
            confirmed: None,
        };
        let now = Freshness {
            epoch: 2,
            confirmed: None,
        };
        cache.insert("stale".into(), 0, &old_epoch);
        cache.insert("a".into(), 1, &now);
        cache.insert("b".into(), 2, &now);
        // Full: the entry of the old epoch makes room.
        cache.insert("c".into(), 3, &now);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("a", &now), Some(1));
        // Full of entries that are all in use: cleared, then the new one.
        cache.insert("d".into(), 4, &now);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get("d", &now), Some(4));
    }

    #[test]
    fn a_full_revocation_set_empties_and_asks_for_a_flush() {
        let revoked = RevokedTokens::with_capacity(2);
        assert!(revoked.insert("a".into(), 10));
        assert!(revoked.insert("b".into(), 10));
        assert!(revoked.insert("b".into(), 11), "already known: no growth");
        assert!(
            !revoked.insert("c".into(), 10),
            "full: the caller must flush the caches"
        );
        assert!(revoked.is_empty());
        revoked.forget_expired(0);
        assert!(revoked.insert("d".into(), 10));
        revoked.forget_expired(10);
        assert!(!revoked.contains("d"), "expired tokens are refused anyway");
    }

    #[test]
    fn a_source_that_spent_its_budget_is_refused_until_it_recovers() {
        let throttle = Throttle::new();
        let attacker: IpAddr = "127.0.0.2".parse().unwrap();
        let bystander: IpAddr = "127.0.0.3".parse().unwrap();
        assert_eq!(throttle.source_refused(Some(attacker)), None);
        let mut refused_after = None;
        for attempt in 1..=ADDRESS_FAILURE_BURST + 1 {
            if throttle.record_failure(None, Some(attacker)).is_some() {
                refused_after = Some(attempt);
                break;
            }
        }
        assert_eq!(refused_after, Some(ADDRESS_FAILURE_BURST + 1));
        assert!(throttle.source_refused(Some(attacker)).is_some());
        assert_eq!(throttle.source_refused(Some(bystander)), None);
    }

    #[test]
    fn sign_in_failures_elsewhere_do_not_lock_the_owner_out() {
        let throttle = Throttle::new();
        let attacker: IpAddr = "127.0.0.2".parse().unwrap();
        let owner: IpAddr = "127.0.0.3".parse().unwrap();
        while throttle.sign_in_attempt("root@agency.org", Some(attacker)).is_none() {}
        assert!(throttle.sign_in_attempt("root@agency.org", Some(attacker)).is_some());
        assert_eq!(throttle.sign_in_attempt("root@agency.org", Some(owner)), None);
    }

    #[test]
    fn a_confirmation_moves_the_epoch_only_when_the_generation_moved() {
        let clock = CacheClock::new();
        let start = clock.freshness();
        assert!(start.confirmed.is_none(), "no poll yet");
        let sent = Instant::now();
        // The first poll has nothing to compare with: it moves the epoch, so
        // entries filled before it are not vouched for.
        clock.confirm(sent, None, 5);
        let first = clock.freshness();
        assert_ne!(first.epoch, start.epoch);
        assert!(
            first
                .confirmed
                .is_some_and(|at| at <= sent && sent - at < Duration::from_micros(1)),
            "confirmed as of when the poll was sent"
        );
        clock.confirm(Instant::now(), Some(5), 5);
        assert_eq!(clock.freshness().epoch, first.epoch, "nothing changed");
        clock.confirm(Instant::now(), Some(5), 6);
        assert_ne!(
            clock.freshness().epoch,
            first.epoch,
            "another process changed something"
        );
        // A late answer to an older poll does not move the confirmation back.
        let latest = clock.freshness().confirmed;
        clock.confirm(sent, Some(6), 6);
        assert_eq!(clock.freshness().confirmed, latest);
    }
}
