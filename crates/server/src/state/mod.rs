//! Shared state, in parts: the database, the settings, the signing keys,
//! the metrics, the caches (`caches.rs`), the guessing throttle
//! (`throttle.rs`), and what client authentication and quotas remember
//! between requests. Fields are private: a part changes only through its
//! own methods, so that, for instance, every change to an application moves
//! every cache it must ([`AppState::client_changed`]).

mod caches;
pub mod replica_sync;
mod throttle;

pub use caches::{CacheClock, Caches, ClientLookup, Freshness, RevokedTokens, TtlCache, VerifiedToken};
pub use throttle::Throttle;

use crate::config::Config;
use crate::crypto::MasterKey;
use crate::db::Db;
use crate::jti_ledger::JtiLedger;
use crate::jwks_fetch::JwksFetcher;
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::quota::TokenQuotas;
use crate::secret_use::SecretUse;
use crate::sources::{RefusalAudit, Refused};
use crate::store::{self, ClientRecord};
use crate::tenancy::{KeyRings, Tenant};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Cheap to clone: one `Arc`.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    db: Db,
    config: Config,
    /// Each tenant's signing keys, loaded on first use.
    keys: KeyRings,
    /// The root tenant, at the public URL: most requests are its.
    root_tenant: Tenant,
    /// How long an access token lives: the contract's 3600 s
    /// (`casebook_domain::ACCESS_TOKEN_LIFETIME_SECS`) unless a test that
    /// waits for expiry shortens it through `TestOptions`.
    token_lifetime_secs: i64,
    metrics: Metrics,
    caches: Caches,
    throttle: Throttle,
    /// The keys of applications that publish them at a `jwks_uri`.
    jwks: JwksFetcher,
    /// Client assertions' and single-use federated tokens' `jti`s.
    jtis: JtiLedger,
    /// `Idempotency-Key` claims and answers, written in batches.
    idempotency: crate::idempotency_writer::IdempotencyWriter,
    /// When each client secret was last used, written in batches.
    secret_uses: SecretUse,
    /// Grants counted against applications' `token_quota_per_hour`.
    quotas: Arc<TokenQuotas>,
    /// Usage at a glance: tokens and refusals per application and hour.
    usage: crate::usage::UsageCounts,
    /// Which refusals for `allowed_sources` were audited lately.
    refusal_audit: RefusalAudit,
    /// Set when a shutdown begins: `/readyz` says 503 while requests are
    /// still served, so a balancer moves traffic away before connections
    /// close.
    draining: AtomicBool,
}

/// What the request metrics layer needs, without `metrics` knowing `AppState`.
impl AsRef<Metrics> for AppState {
    fn as_ref(&self) -> &Metrics {
        &self.0.metrics
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
        let secret_uses = SecretUse::new(metrics.secret_use_writes.clone());
        let quotas = Arc::new(TokenQuotas::new(db.clone(), &metrics));
        let keys = KeyRings::new(db.clone(), config.master_key.clone(), config.token_signing_alg, keys);
        let usage = crate::usage::UsageCounts::new(config.usage_counting);
        Self(Arc::new(Inner {
            jtis: JtiLedger::new(db.clone()),
            idempotency: crate::idempotency_writer::IdempotencyWriter::new(db.clone()),
            caches: Caches::new(config.cache_ttl),
            root_tenant: Tenant::root(&config.public_url),
            db,
            config,
            keys,
            token_lifetime_secs,
            throttle: Throttle::new(),
            metrics,
            jwks,
            secret_uses,
            quotas,
            usage,
            refusal_audit: RefusalAudit::default(),
            draining: AtomicBool::new(false),
        }))
    }

    pub fn db(&self) -> &Db {
        &self.0.db
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// Every tenant's signing keys; [`AppState::keys_of`] for one.
    pub fn keys(&self) -> &KeyRings {
        &self.0.keys
    }

    /// A tenant's signing keys, loaded (and its first key made) on first use.
    pub async fn keys_of(&self, tenant: &Tenant) -> Result<Arc<KeyRing>, crate::keys::KeyError> {
        self.0.keys.of(tenant).await
    }

    pub fn root_tenant(&self) -> &Tenant {
        &self.0.root_tenant
    }

    /// A tenant by slug, at most one cache TTL stale (the root included).
    pub async fn tenant(&self, slug: &str) -> Result<Option<Tenant>, sqlx::Error> {
        let (cached, fresh) = self.0.caches.tenant(slug);
        if let Some(known) = cached {
            return Ok(known);
        }
        let found = store::tenant_by_slug(&self.0.db, slug)
            .await?
            .map(|record| Tenant::from_record(record, &self.0.config.public_url));
        self.0.caches.remember_tenant(slug, found.clone(), &fresh);
        Ok(found)
    }

    /// See [`Caches::tenant_changed`]: after every write to a tenant.
    pub fn tenant_changed(&self, slug: &str) {
        self.0.caches.tenant_changed(slug);
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    pub fn caches(&self) -> &Caches {
        &self.0.caches
    }

    pub fn throttle(&self) -> &Throttle {
        &self.0.throttle
    }

    pub fn jwks(&self) -> &JwksFetcher {
        &self.0.jwks
    }

    pub fn jtis(&self) -> &JtiLedger {
        &self.0.jtis
    }

    pub fn idempotency(&self) -> &crate::idempotency_writer::IdempotencyWriter {
        &self.0.idempotency
    }

    pub fn secret_uses(&self) -> &SecretUse {
        &self.0.secret_uses
    }

    pub fn quotas(&self) -> &Arc<TokenQuotas> {
        &self.0.quotas
    }

    pub fn usage(&self) -> &crate::usage::UsageCounts {
        &self.0.usage
    }

    pub fn token_lifetime_secs(&self) -> i64 {
        self.0.token_lifetime_secs
    }

    pub fn master(&self) -> &MasterKey {
        &self.0.config.master_key
    }

    /// The wall clock every rule reads; the database stamps rows by it too.
    pub fn clock(&self) -> &crate::clock::SharedClock {
        self.0.db.clock()
    }

    pub fn now(&self) -> casebook_domain::Timestamp {
        self.0.db.clock().now()
    }

    /// See [`Caches::client_changed`]: call it after every write that
    /// changes what a client may do or present.
    pub fn client_changed(&self, client_id: &str) {
        self.0.caches.client_changed(client_id);
    }

    /// Records a refusal for `allowed_sources` (see [`crate::sources::refuse`]).
    pub fn refuse_source(
        &self,
        tenant_id: &str,
        application_id: &str,
        name: &str,
        peer: Option<IpAddr>,
        what: Refused,
    ) {
        let state = &self.0;
        crate::sources::refuse(
            &state.db,
            &state.refusal_audit,
            &state.metrics.source_refusals,
            tenant_id,
            store::ActorRef::application(application_id, name),
            peer,
            what,
        );
    }

    pub fn start_draining(&self) {
        self.0.draining.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::Relaxed)
    }

    /// The client of `tenant` with this Client ID, as storage has it, at
    /// most `cache_ttl` stale. A Client ID is unique in the install; another
    /// tenant's is answered exactly as one that does not exist.
    pub async fn client(&self, tenant: &Tenant, client_id: &str) -> Result<Option<Arc<ClientRecord>>, sqlx::Error> {
        let theirs = |record: Option<Arc<ClientRecord>>| record.filter(|r| r.tenant_id == tenant.id());
        let fresh = match self.0.caches.client(client_id) {
            ClientLookup::Known(record) => {
                self.0.metrics.client_cache.hit();
                return Ok(theirs(Some(record)));
            }
            ClientLookup::Unknown => {
                self.0.metrics.client_cache.hit();
                return Ok(None);
            }
            ClientLookup::Miss(fresh) => fresh,
        };
        self.0.metrics.client_cache.miss();
        let record = store::client_record(&self.0.db, client_id).await?.map(Arc::new);
        self.0.caches.remember_client(client_id, record.clone(), &fresh);
        Ok(theirs(record))
    }
}
