//! Tenants at request time (the contract, "Tenants"): which tenant a request
//! is for, what it may do while disabled, and its signing keys.
//!
//! `http/tenant.rs`'s `resolve` runs before routing: a path under
//! `/t/{slug}` is served by the same router as the root's, with the tenant
//! in the request's extensions and the prefix taken off. Handlers never read
//! a tenant from the path themselves; they take a [`Tenant`] or a `Scope`
//! (its rows) as an extractor, and both fail closed when the layer did not
//! run.

mod keys;

pub use keys::KeyRings;

use crate::db::Db;
use crate::error::ApiError;
use crate::store::{self, Scope};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use casebook_domain::tenant::{self, ROOT};
use std::sync::Arc;

/// A tenant as requests see it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Tenant(Arc<TenantInfo>);

#[derive(Debug)]
pub struct TenantInfo {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub enabled: bool,
    /// When it was disabled (Unix microseconds), while it is.
    pub disabled_at: Option<i64>,
    pub created_at: i64,
    /// Its issuer, `aud`, RFC 8707 resource and Callback URL.
    pub base_url: String,
}

impl Tenant {
    pub fn new(info: TenantInfo) -> Self {
        Self(Arc::new(info))
    }

    /// The root tenant: always enabled, at the public URL itself.
    pub fn root(public_url: &str) -> Self {
        Self::new(TenantInfo {
            id: ROOT.to_owned(),
            slug: ROOT.to_owned(),
            name: "Root".to_owned(),
            enabled: true,
            disabled_at: None,
            created_at: 0,
            base_url: tenant::base_url(public_url, ROOT),
        })
    }

    pub fn from_record(record: store::TenantRecord, public_url: &str) -> Self {
        let base_url = tenant::base_url(public_url, &record.slug);
        Self::new(TenantInfo {
            id: record.id,
            slug: record.slug,
            name: record.name,
            enabled: record.enabled,
            disabled_at: record.disabled_at,
            created_at: record.created_at,
            base_url,
        })
    }

    pub fn id(&self) -> &str {
        &self.0.id
    }

    pub fn slug(&self) -> &str {
        &self.0.slug
    }

    pub fn is_root(&self) -> bool {
        self.0.id == ROOT
    }

    pub fn is_enabled(&self) -> bool {
        self.0.enabled
    }

    /// The issuer identifier, also the `aud` of its tokens.
    pub fn issuer(&self) -> &str {
        &self.0.base_url
    }

    pub fn info(&self) -> &TenantInfo {
        &self.0
    }

    /// Whether its tokens and sessions are honoured. Those it held when it
    /// was disabled stay dead once it is enabled: disabling moved every
    /// application's token generation (`store::update_tenant`).
    pub fn serves(&self) -> bool {
        self.0.enabled
    }

    /// The tenant's rows.
    pub fn scope(&self, db: &Db) -> Scope {
        Scope::new(db.clone(), self.0.id.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Tenant>()
            .cloned()
            .ok_or_else(|| ApiError::internal("a request reached a handler without its tenant"))
    }
}
