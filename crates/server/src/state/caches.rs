//! The caches that keep the token endpoint and token checks off the
//! database: clients by Client ID, access tokens already verified, and the
//! tokens revoked anywhere in the install. Their one rule: an entry is
//! trusted while this process's epoch stands and it (or the last
//! confirmation that nothing changed elsewhere) is younger than the TTL.
//! A change made here moves the epoch at once ([`Caches::client_changed`]);
//! one made on another replica is learnt by `replica_sync.rs`'s poll.

use crate::store::ClientRecord;
use casebook_domain::PermissionSet;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Every cache of this process, behind the few ways they may change.
#[derive(Debug)]
pub struct Caches {
    clients: TtlCache<Arc<ClientRecord>>,
    /// Client IDs storage does not know, kept apart so that a flood of
    /// made-up IDs cannot evict real clients, and so that an unknown ID costs
    /// what a known one does (no storage read) from its second try on.
    unknown_clients: TtlCache<()>,
    tokens: TtlCache<Arc<VerifiedToken>>,
    /// Tenants by slug, and slugs storage does not know (`None`): every
    /// request under `/t/{slug}` reads one. A tenant disabled or deleted
    /// anywhere moves the shared generation, so the poll drops them.
    tenants: TtlCache<Option<crate::tenancy::Tenant>>,
    /// Tokens revoked anywhere in the install, until they expire.
    revoked: RevokedTokens,
    clock: CacheClock,
}

/// What the client cache says of a Client ID.
#[derive(Debug)]
pub enum ClientLookup {
    Known(Arc<ClientRecord>),
    /// Storage said lately that no such client exists.
    Unknown,
    /// Not in the cache: ask storage, then [`Caches::remember_client`].
    Miss(Freshness),
}

impl Caches {
    pub fn new(ttl: Duration) -> Self {
        Self {
            clients: TtlCache::new(ttl, 200_000),
            unknown_clients: TtlCache::new(ttl, 20_000),
            tokens: TtlCache::new(ttl, 100_000),
            tenants: TtlCache::new(ttl, 20_000),
            revoked: RevokedTokens::default(),
            clock: CacheClock::new(),
        }
    }

    pub fn client(&self, client_id: &str) -> ClientLookup {
        let fresh = self.clock.freshness();
        if let Some(hit) = self.clients.get(client_id, &fresh) {
            return ClientLookup::Known(hit);
        }
        if self.unknown_clients.get(client_id, &fresh).is_some() {
            return ClientLookup::Unknown;
        }
        ClientLookup::Miss(fresh)
    }

    /// What storage answered, as fresh as the lookup that missed: an entry
    /// read before a change is never trusted after it.
    pub fn remember_client(&self, client_id: &str, record: Option<Arc<ClientRecord>>, fresh: &Freshness) {
        match record {
            Some(record) => self.clients.insert(client_id.to_owned(), record, fresh),
            None => self.unknown_clients.insert(client_id.to_owned(), (), fresh),
        }
    }

    /// The one way to say that an application changed here (its secrets,
    /// keys, roles, limits or state): its client entry goes, and the epoch
    /// moves, so that neither an entry read before the change (a request in
    /// flight) nor a token verified under the old record is trusted again.
    pub fn client_changed(&self, client_id: &str) {
        self.clients.remove(client_id);
        self.unknown_clients.remove(client_id);
        self.clock.bump();
    }

    /// A change that may touch any application (a role's permissions):
    /// nothing cached is trusted again.
    pub fn everything_changed(&self) {
        self.clock.bump();
    }

    /// A verified token, if one is cached and trusted; a revoked one is
    /// reported as such rather than hidden, so the caller can say so.
    pub fn token(&self, token: &str) -> (Option<Arc<VerifiedToken>>, Freshness) {
        let fresh = self.clock.freshness();
        (self.tokens.get(token, &fresh), fresh)
    }

    pub fn remember_token(&self, token: &str, verified: Arc<VerifiedToken>, fresh: &Freshness) {
        self.tokens.insert(token.to_owned(), verified, fresh);
    }

    /// A tenant by slug: `Some(None)` when storage said lately there is
    /// none; `None` with the freshness to remember storage's answer by.
    pub fn tenant(&self, slug: &str) -> (Option<Option<crate::tenancy::Tenant>>, Freshness) {
        let fresh = self.clock.freshness();
        (self.tenants.get(slug, &fresh), fresh)
    }

    pub fn remember_tenant(&self, slug: &str, tenant: Option<crate::tenancy::Tenant>, fresh: &Freshness) {
        self.tenants.insert(slug.to_owned(), tenant, fresh);
    }

    /// A tenant created, changed or deleted here: its entry goes, and
    /// nothing verified under its old state is trusted again.
    pub fn tenant_changed(&self, slug: &str) {
        self.tenants.remove(slug);
        self.clock.bump();
    }

    pub fn is_revoked(&self, jti: &str) -> bool {
        self.revoked.contains(jti)
    }

    /// A token revoked here: only it is dropped. Moving the epoch would let
    /// any client flush every cache of this replica by revoking its own
    /// tokens; only a full revocation set does.
    pub fn token_revoked(&self, token: &str, jti: String, expires_at: i64) {
        if !self.revoked.insert(jti, expires_at) {
            self.clock.bump();
        }
        self.tokens.remove(token);
    }

    /// Tokens revoked on other replicas, as the poll read them.
    pub fn revoked_elsewhere(&self, revoked: impl IntoIterator<Item = (String, i64)>) {
        let mut overflowed = false;
        for (jti, expires_at) in revoked {
            overflowed |= !self.revoked.insert(jti, expires_at);
        }
        if overflowed {
            self.clock.bump();
        }
    }

    pub fn forget_expired_revocations(&self, now_secs: i64) {
        self.revoked.forget_expired(now_secs);
    }

    /// See [`CacheClock::confirm`].
    pub fn confirm(&self, sent: Instant, previous: Option<i64>, generation: i64) {
        self.clock.confirm(sent, previous, generation);
    }

    /// How many clients are cached (the memory bound's test reads it).
    pub fn cached_clients(&self) -> usize {
        self.clients.len()
    }

    /// Whether a trusted entry says that `client_id` does not exist.
    pub fn knows_unknown(&self, client_id: &str) -> bool {
        matches!(self.client(client_id), ClientLookup::Unknown)
    }

    /// Whether `token` is cached and trusted.
    pub fn holds_token(&self, token: &str) -> bool {
        self.token(token).0.is_some()
    }
}

/// A token whose signature and claims were checked; rechecked against
/// storage (revocation, application state) once per cache TTL.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// The tenant whose keys signed it: honoured only there.
    pub tenant_id: String,
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
    /// A DPoP-bound token's key thumbprint (`cnf.jkt`): honoured only as
    /// `Authorization: DPoP` beside a proof signed with that key.
    pub jkt: Option<String>,
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

    fn record(name: &str) -> Arc<ClientRecord> {
        Arc::new(ClientRecord {
            tenant_id: "root".into(),
            application_id: format!("app-{name}"),
            name: name.into(),
            enabled: true,
            secrets: Vec::new(),
            permissions: PermissionSet::EMPTY,
            token_generation: 0,
            auth_method: None,
            keys: None,
            limits: Default::default(),
            dpop_bound_access_tokens: false,
        })
    }

    fn verified(jti: &str) -> Arc<VerifiedToken> {
        Arc::new(VerifiedToken {
            tenant_id: "root".into(),
            jti: jti.into(),
            client_id: "cb_a".into(),
            application_id: "app-a".into(),
            name: "a".into(),
            scope: PermissionSet::EMPTY,
            permissions: PermissionSet::EMPTY,
            iat: 0,
            exp: i64::MAX,
            allowed_sources: None,
            jkt: None,
        })
    }

    #[test]
    fn a_changed_client_is_read_again_and_its_tokens_checked_again() {
        let caches = Caches::new(TTL);
        let ClientLookup::Miss(fresh) = caches.client("cb_a") else {
            panic!("an empty cache misses")
        };
        caches.remember_client("cb_a", Some(record("a")), &fresh);
        caches.remember_client("cb_b", Some(record("b")), &fresh);
        let (_, token_fresh) = caches.token("t");
        caches.remember_token("t", verified("j"), &token_fresh);
        assert!(matches!(caches.client("cb_a"), ClientLookup::Known(_)));
        assert!(caches.holds_token("t"));
        // A lookup that missed before the change, answered after it.
        let ClientLookup::Miss(in_flight) = caches.client("cb_c") else {
            panic!("never cached")
        };
        caches.client_changed("cb_a");
        assert!(matches!(caches.client("cb_a"), ClientLookup::Miss(_)));
        assert!(
            !caches.holds_token("t"),
            "a token verified under the old record is checked again"
        );
        assert!(
            matches!(caches.client("cb_b"), ClientLookup::Miss(_)),
            "the epoch moved: nothing of before is trusted"
        );
        caches.remember_client("cb_c", Some(record("c")), &in_flight);
        assert!(
            matches!(caches.client("cb_c"), ClientLookup::Miss(_)),
            "a record read before the change is never trusted after it"
        );
    }

    #[test]
    fn a_revocation_here_drops_one_token_and_keeps_the_rest() {
        let caches = Caches::new(TTL);
        let (_, fresh) = caches.token("t1");
        caches.remember_token("t1", verified("j1"), &fresh);
        caches.remember_token("t2", verified("j2"), &fresh);
        caches.token_revoked("t1", "j1".into(), i64::MAX);
        assert!(!caches.holds_token("t1"));
        assert!(caches.is_revoked("j1"));
        assert!(
            caches.holds_token("t2"),
            "one client revoking its token empties no cache"
        );
        caches.revoked_elsewhere([("j2".to_owned(), i64::MAX)]);
        assert!(caches.is_revoked("j2"), "checked on every cache hit");
        assert!(caches.holds_token("t2"), "still cached, refused by the revoked set");
    }
}
