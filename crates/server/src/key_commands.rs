//! The `casebook keys rotate` command: a new signing key for one tenant,
//! or for every tenant in turn, recorded in each tenant's audit trail by
//! the operator. A module of the binary (declared in `main.rs`), not of
//! the library.

use crate::{Failure, master_key_settings};
use casebook_domain::SigningAlgorithm;
use casebook_server::config::{self, Backend};

pub(crate) async fn rotate_keys(
    url: &str,
    tenant: Option<&str>,
    alg: SigningAlgorithm,
    notice: u64,
) -> Result<(), Failure> {
    use casebook_domain::tenant::TenantSlug;
    use casebook_server::store;
    let backend = Backend::of_url(url).ok_or_else(|| format!("unsupported database URL {url:?}"))?;
    let master_key = config::resolve_master_key(&master_key_settings(), url).map_err(|e| e.to_string())?;
    let slug = tenant
        .map(|slug| TenantSlug::parse(slug).map_err(|e| Failure::Usage(format!("--tenant {slug:?}: {}", e.message))))
        .transpose()?;
    let db = casebook_server::db::Db::connect(url, backend)
        .await
        .map_err(|e| e.to_string())?;
    let result = async {
        let Some(slug) = slug else {
            return rotate_every_tenants_key(&db, &master_key, alg, notice).await;
        };
        let found = store::tenant_by_slug(&db, slug.as_str())
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| Failure::Usage(format!("there is no tenant {slug}")))?;
        let kid = rotate_tenant_key(&db, &found.id, &master_key, alg, notice)
            .await
            .map_err(|e| e.to_string())?;
        let of = if slug.is_root() {
            String::new()
        } else {
            format!(" of tenant {slug}")
        };
        if notice == 0 {
            println!("new {alg} signing key {kid}{of} is current; running servers pick it up within 5 seconds");
        } else {
            println!(
                "new {alg} signing key {kid}{of} is published now and signs from {notice} s on; running servers switch within 5 seconds of that"
            );
        }
        Ok(())
    }
    .await;
    db.close().await;
    result
}

/// Every tenant's key in turn, by slug. One that fails does not stop the
/// rest: the summary names it, to be rotated again with `--tenant`.
async fn rotate_every_tenants_key(
    db: &casebook_server::db::Db,
    master_key: &casebook_server::crypto::MasterKey,
    alg: SigningAlgorithm,
    notice: u64,
) -> Result<(), Failure> {
    use casebook_server::store;
    let mut after: Option<String> = None;
    let mut rotated = 0usize;
    let mut failed = Vec::new();
    loop {
        let page = store::list_tenants(db, after.as_deref(), 100)
            .await
            .map_err(|e| e.to_string())?;
        for tenant in &page.items {
            match rotate_tenant_key(db, &tenant.id, master_key, alg, notice).await {
                Ok(kid) => {
                    println!("rotated {}: new key {kid}", tenant.slug);
                    rotated += 1;
                }
                Err(e) => {
                    eprintln!("casebook keys rotate: could not rotate {}: {e}", tenant.slug);
                    failed.push(tenant.slug.clone());
                }
            }
        }
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    let when = if notice == 0 {
        "current; running servers pick them up within 5 seconds".to_owned()
    } else {
        format!("published now and sign from {notice} s on; running servers switch within 5 seconds of that")
    };
    println!("rotated {rotated} tenant(s): their new {alg} signing keys are {when}");
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Run(format!(
            "keys rotate: {} tenant(s) kept their key: {}; rotate each again with --tenant",
            failed.len(),
            failed.join(", ")
        )))
    }
}

async fn rotate_tenant_key(
    db: &casebook_server::db::Db,
    tenant_id: &str,
    master_key: &casebook_server::crypto::MasterKey,
    alg: SigningAlgorithm,
    notice: u64,
) -> Result<String, casebook_server::keys::KeyError> {
    let at = casebook_server::store::Scope::new(db.clone(), tenant_id);
    // Loading first creates the initial key of a tenant that has none, so there is something to retire.
    casebook_server::keys::KeyRing::load(at.clone(), master_key.clone(), alg).await?;
    let kid =
        casebook_server::keys::rotate_with_notice(&at, master_key, alg, std::time::Duration::from_secs(notice)).await?;
    let event = casebook_server::store::Event::new("keys.rotated", "signing_key", &kid)
        .named(&kid)
        .detail(format!("{alg}; signs from {notice} s after publication"));
    if let Err(error) = casebook_server::store::record(&at, &casebook_server::store::ActorRef::operator(), event).await
    {
        // The key is in place and serving; only the record of it is lost.
        eprintln!("casebook keys rotate: the new key {kid} could not be recorded in the audit trail: {error}");
    }
    Ok(kid)
}
