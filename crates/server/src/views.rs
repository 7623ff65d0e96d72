//! Wire shapes of the admin and Casebook APIs (the contract's "Wire
//! shapes"): defined once in `casebook_domain::wire`, which the SDK reads
//! too, and named here as the OpenAPI document names them. Below, how the
//! store's records become them: timestamps as RFC 3339, and what only the
//! HTTP layer knows (the callback URL) added.

use casebook_domain::client_keys::AuthMethod;
use casebook_domain::wire::Role;
use casebook_domain::{ClientId, RoleId};

use crate::store::{
    ActorRef, ApplicationRecord, AuditRecord, CaseRecord, Listed, ReportRecord, RoleRecord, UserRecord,
};

pub use casebook_domain::wire::{
    Actor, Application as ApplicationView, AuditEvent as AuditEventView, Case as CaseView, Me as MeView, Page,
    Report as ReportView, RevealedSecret as SecretView, Role as RoleView, Session as SessionView, User as UserView,
};

/// A page of records, as the wire carries it.
pub fn page<R, V: From<R>>(listed: Listed<R>) -> Page<V> {
    Page {
        items: listed.items.into_iter().map(V::from).collect(),
        next_cursor: listed.next_cursor,
    }
}

fn role_ids(stored: Vec<String>) -> Vec<RoleId> {
    stored.into_iter().map(RoleId::from).collect()
}

impl From<ActorRef> for Actor {
    fn from(actor: ActorRef) -> Self {
        Actor {
            kind: actor.kind,
            id: actor.id.into(),
            name: actor.name,
        }
    }
}

impl From<RoleRecord> for Role {
    fn from(role: RoleRecord) -> Self {
        Role {
            id: role.id.into(),
            name: role.name,
            permissions: role.permissions,
            created_at: role.created_at,
            updated_at: role.updated_at,
        }
    }
}

impl From<UserRecord> for UserView {
    fn from(user: UserRecord) -> Self {
        UserView {
            id: user.id.into(),
            email: user.email,
            name: user.name,
            roles: role_ids(user.role_ids),
            created_at: user.created_at,
            updated_at: user.updated_at,
            enabled: user.enabled,
            last_sign_in_at: user.last_sign_in_at,
            second_factors: [(user.totp_enrolled, "totp"), (user.passkeys > 0, "passkey")]
                .into_iter()
                .filter(|(held, _)| *held)
                .map(|(_, factor)| factor.to_owned())
                .collect(),
            invitation_pending: user.invitation_pending,
        }
    }
}

/// An application as the admin API shows it: where it asks for tokens is
/// this install's public URL, which storage does not hold.
pub fn application(app: ApplicationRecord, callback_url: &str) -> ApplicationView {
    ApplicationView {
        id: app.id.into(),
        name: app.name,
        email: app.email,
        application_url: app.application_url,
        description: app.description,
        roles: role_ids(app.role_ids),
        client_id: ClientId::from_stored(app.client_id),
        callback_url: callback_url.to_owned(),
        enabled: app.enabled,
        token_endpoint_auth_method: AuthMethod::parse(&app.auth_method).unwrap_or_default(),
        jwks: app.jwks.and_then(|text| serde_json::from_str(&text).ok()),
        jwks_uri: app.jwks_uri,
        allowed_sources: app.limits.sources(),
        token_quota_per_hour: app.limits.quota(),
        dpop_bound_access_tokens: app.dpop_bound_access_tokens,
        created_at: app.created_at,
        updated_at: app.updated_at,
    }
}

impl From<CaseRecord> for CaseView {
    fn from(case: CaseRecord) -> Self {
        CaseView {
            id: case.id.into(),
            title: case.title,
            description: case.description,
            status: case.status,
            created_by: case.created_by.into(),
            updated_by: case.updated_by.into(),
            created_at: case.created_at,
            updated_at: case.updated_at,
        }
    }
}

impl From<ReportRecord> for ReportView {
    fn from(report: ReportRecord) -> Self {
        ReportView {
            id: report.id.into(),
            summary: report.summary,
            details: report.details,
            created_by: report.created_by.into(),
            updated_by: report.updated_by.into(),
            created_at: report.created_at,
            updated_at: report.updated_at,
        }
    }
}

impl From<AuditRecord> for AuditEventView {
    fn from(event: AuditRecord) -> Self {
        AuditEventView {
            id: event.id,
            at: event.at,
            actor: event.actor.into(),
            action: event.action,
            target_kind: event.target_kind,
            target_id: event.target_id,
            target_name: event.target_name,
            detail: event.detail,
            source: event.source,
            request_id: event.request_id,
            tenant: event.tenant,
            changes: event.changes,
        }
    }
}
