//! Wire shapes of the admin and Casebook APIs (what SPEC calls "wire
//! shapes"): defined once in `casebook_domain::wire`, which the SDK reads
//! too, and named here as the OpenAPI document names them.

use casebook_domain::Permission;
use casebook_domain::wire::Role;

pub use casebook_domain::wire::{
    Actor, Application as ApplicationView, AuditEvent as AuditEventView, Case as CaseView, Me as MeView, Page,
    Report as ReportView, RevealedSecret as SecretView, Session as SessionView, User as UserView,
};

/// A role as the store reads it: permissions as the strings it stored.
/// Handlers answer with [`Role`], which holds them as a set; the two are
/// one JSON, because the store writes the strings from a set in its order.
#[derive(Debug, Clone)]
pub struct RoleView {
    pub id: String,
    pub name: String,
    pub permissions: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<RoleView> for Role {
    fn from(view: RoleView) -> Self {
        Role {
            id: view.id,
            name: view.name,
            permissions: view
                .permissions
                .iter()
                .filter_map(|p| p.parse::<Permission>().ok())
                .collect(),
            created_at: view.created_at,
            updated_at: view.updated_at,
        }
    }
}

/// A page of the store's roles, as the wire carries it.
pub fn role_page(page: Page<RoleView>) -> Page<Role> {
    Page {
        items: page.items.into_iter().map(Role::from).collect(),
        next_cursor: page.next_cursor,
    }
}
