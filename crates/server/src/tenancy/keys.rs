//! Each tenant's signing keys, loaded on the tenant's first token or JWKS
//! request and kept while the process runs. Nothing is loaded per tenant at
//! start, so starting is not slowed by the tenant count (the contract,
//! "Tenants": scale), and a tenant never served costs no memory.

use super::Tenant;
use crate::crypto::MasterKey;
use crate::db::Db;
use crate::keys::{KeyError, KeyRing};
use crate::store::Scope;
use casebook_domain::SigningAlgorithm;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub struct KeyRings {
    db: Db,
    master: MasterKey,
    alg: SigningAlgorithm,
    root: Arc<KeyRing>,
    loaded: RwLock<HashMap<String, Arc<KeyRing>>>,
    /// One load per tenant at a time: concurrent first requests share it,
    /// and no two of them create a first key each. Tenants load side by
    /// side: an RSA key takes a while to make.
    loading: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for KeyRings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let loaded = self.loaded.read().map(|m| m.len()).unwrap_or_default();
        f.debug_struct("KeyRings")
            .field("loaded", &loaded)
            .finish_non_exhaustive()
    }
}

impl KeyRings {
    /// With the root's ring, loaded (and its first key made) at start as
    /// every earlier release did.
    pub fn new(db: Db, master: MasterKey, alg: SigningAlgorithm, root: KeyRing) -> Self {
        Self {
            db,
            master,
            alg,
            root: Arc::new(root),
            loaded: RwLock::new(HashMap::new()),
            loading: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn loaded(&self, tenant_id: &str) -> Option<Arc<KeyRing>> {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant_id)
            .cloned()
    }

    /// The tenant's ring; its first key is made now if it has none yet.
    pub async fn of(&self, tenant: &Tenant) -> Result<Arc<KeyRing>, KeyError> {
        if tenant.is_root() {
            return Ok(self.root.clone());
        }
        if let Some(ring) = self.loaded(tenant.id()) {
            return Ok(ring);
        }
        let gate = self
            .loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(tenant.id().to_owned())
            .or_default()
            .clone();
        let _one_at_a_time = gate.lock().await;
        if let Some(ring) = self.loaded(tenant.id()) {
            return Ok(ring);
        }
        let scope = Scope::new(self.db.clone(), tenant.id());
        let ring = Arc::new(KeyRing::load(scope, self.master.clone(), self.alg).await?);
        self.loaded
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant.id().to_owned(), ring.clone());
        // Loaded: later callers find the ring and never reach the gate.
        self.loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tenant.id());
        Ok(ring)
    }

    /// The root's ring, always loaded.
    pub fn root(&self) -> &Arc<KeyRing> {
        &self.root
    }

    /// Every loaded ring, for the periodic refresh that picks up rotations.
    pub fn all_loaded(&self) -> Vec<Arc<KeyRing>> {
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        std::iter::once(self.root.clone())
            .chain(loaded.values().cloned())
            .collect()
    }

    /// A deleted tenant's ring goes; a tenant of the same slug made later
    /// has another id, and so another ring.
    pub fn forget(&self, tenant_id: &str) {
        self.loaded.write().unwrap_or_else(|e| e.into_inner()).remove(tenant_id);
    }
}
