//! Where from (the contract's "Allowed sources"): an application's `allowed_sources`
//! held at the OAuth endpoints that authenticate it and on every use of its
//! tokens, and the audit of refusals.
//!
//! The address is the one the throttles key on (`client_addr`: the socket
//! peer, or what a trusted proxy names). A request whose address is unknown
//! is outside every list. Refusals are audited at most once a minute per
//! application, address and kind, from memory, so that someone hammering
//! from outside cannot flood the trail, the log or the database; every
//! refusal is counted in `casebook_source_refusals_total`.

use crate::db::Db;
use crate::store::{self, ActorRef, Scope};
use casebook_domain::sources::AllowedSources;
use prometheus_client::metrics::counter::Counter;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one audit row per key in this long.
const AUDIT_EVERY: Duration = Duration::from_secs(60);
/// Keys remembered at once. A flood from more addresses than this within a
/// minute is counted, and no longer logged or audited row by row.
const MAX_REMEMBERED: usize = 10_000;

/// Whether `peer` may use credentials or tokens bound to `sources`.
pub fn admitted(sources: Option<&AllowedSources>, peer: Option<IpAddr>) -> bool {
    match sources {
        None => true,
        Some(sources) => peer.is_some_and(|address| sources.contains(address)),
    }
}

/// What was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refused {
    /// A token request (or introspection, revocation) whose client
    /// authenticated: answered exactly like a wrong secret.
    Credentials,
    /// A use of one of the application's access tokens.
    Token,
}

impl Refused {
    pub fn action(self) -> &'static str {
        match self {
            Self::Credentials => "application.source_refused",
            Self::Token => "application.token_source_refused",
        }
    }

    fn detail(self, peer: Option<IpAddr>) -> String {
        let from = peer.map_or_else(|| "an unknown address".to_owned(), |a| a.to_canonical().to_string());
        match self {
            Self::Credentials => format!("client authentication from {from}, outside allowed_sources"),
            Self::Token => format!("access token used from {from}, outside allowed_sources"),
        }
    }
}

/// What one audit row stands for: an application, an address, a kind.
type RefusalKey = (String, Option<IpAddr>, Refused);

/// Which refusals were audited lately, by application, address and kind.
#[derive(Debug, Default)]
pub struct RefusalAudit {
    last: Mutex<HashMap<RefusalKey, Instant>>,
}

impl RefusalAudit {
    /// Whether this refusal is the first of its key in [`AUDIT_EVERY`]: the
    /// one to write.
    pub fn first_in_a_while(&self, application_id: &str, peer: Option<IpAddr>, what: Refused) -> bool {
        let now = Instant::now();
        let key = (application_id.to_owned(), peer.map(|a| a.to_canonical()), what);
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.get(&key).is_some_and(|at| now.duration_since(*at) < AUDIT_EVERY) {
            return false;
        }
        if last.len() >= MAX_REMEMBERED && !last.contains_key(&key) {
            last.retain(|_, at| now.duration_since(*at) < AUDIT_EVERY);
            if last.len() >= MAX_REMEMBERED {
                return false;
            }
        }
        last.insert(key, now);
        true
    }
}

/// Records a refusal: counted always, logged and audited when it is the
/// first of its kind from that address in a minute. The audit row is
/// written in the background, in the trail of the application's tenant: the
/// answer neither waits for it nor depends on it, so a refused request
/// takes as long as any other failure.
pub fn refuse(
    db: &Db,
    audit: &RefusalAudit,
    refusals: &Counter,
    tenant_id: &str,
    application: ActorRef,
    peer: Option<IpAddr>,
    what: Refused,
) {
    refusals.inc();
    let address = peer.map(|a| a.to_canonical());
    let action = what.action();
    // Logged like the audit, once a minute per address: a token used from
    // outside is not throttled, and must not flood the log either.
    if !audit.first_in_a_while(&application.id, peer, what) {
        tracing::debug!(
            application = %application.id,
            ?address,
            action,
            "refused again: outside allowed_sources"
        );
        return;
    }
    tracing::info!(
        application = %application.id,
        ?address,
        action,
        "refused: outside allowed_sources"
    );
    let at = Scope::new(db.clone(), tenant_id);
    tokio::spawn(async move {
        if let Err(e) = store::record_refusal(&at, &application, what.action(), what.detail(peer)).await {
            tracing::warn!(error = %e, application = %application.id, "could not audit a refusal for allowed_sources");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_list_admits_only_its_networks_and_never_an_unknown_address() {
        let list = AllowedSources::parse(&["127.0.0.1/32"]).unwrap();
        assert!(admitted(None, None), "no list: anywhere, even unknown");
        assert!(admitted(None, Some(ip("203.0.113.9"))));
        assert!(admitted(Some(&list), Some(ip("127.0.0.1"))));
        assert!(admitted(Some(&list), Some(ip("::ffff:127.0.0.1"))));
        assert!(!admitted(Some(&list), Some(ip("127.0.0.2"))));
        assert!(!admitted(Some(&list), None));
    }

    #[test]
    fn a_refusal_is_audited_once_a_minute_per_application_address_and_kind() {
        let audit = RefusalAudit::default();
        let (a, b) = (Some(ip("127.0.0.2")), Some(ip("127.0.0.3")));
        assert!(audit.first_in_a_while("app", a, Refused::Credentials));
        assert!(!audit.first_in_a_while("app", a, Refused::Credentials));
        assert!(
            !audit.first_in_a_while("app", Some(ip("::ffff:127.0.0.2")), Refused::Credentials),
            "the mapped form is the same address"
        );
        assert!(audit.first_in_a_while("app", b, Refused::Credentials));
        assert!(audit.first_in_a_while("app", a, Refused::Token));
        assert!(audit.first_in_a_while("other", a, Refused::Credentials));
    }

    #[test]
    fn a_flood_of_addresses_stops_being_audited_row_by_row() {
        let audit = RefusalAudit::default();
        let written = (0..MAX_REMEMBERED as u32 + 50)
            .filter(|n| audit.first_in_a_while("app", Some(IpAddr::from(n.to_be_bytes())), Refused::Token))
            .count();
        assert_eq!(written, MAX_REMEMBERED);
    }
}
