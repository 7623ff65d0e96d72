//! What `apply` would do: a pure function of two states, the file's and
//! the server's, so every diff is tested without a server.
//!
//! Records are matched by name. Steps come in the order they must be
//! taken: roles before the applications that hold them, a federated
//! credential removed before one of its name is added again, and removals
//! (only with `prune`) last, applications before the roles they held.

use crate::file::{ApplicationSpec, Config, FederatedSpec, RoleSpec};
use crate::load::{Problem, canonical_sources};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The server's records in the file's terms, with the ids to reach them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Current {
    pub config: Config,
    /// Role name → id.
    pub role_ids: BTreeMap<String, String>,
    /// Application name → id.
    pub application_ids: BTreeMap<String, String>,
    /// (application name, credential name) → id.
    pub federated_ids: BTreeMap<(String, String), String>,
    /// Application name → Client ID.
    pub client_ids: BTreeMap<String, String>,
}

/// One field's move, as JSON values (`null` for none).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: Value,
    pub new: Value,
}

/// One call (or a few, for a new application) `apply` makes.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    CreateRole {
        place: String,
        role: RoleSpec,
    },
    ChangeRole {
        place: String,
        id: String,
        name: String,
        changes: Vec<FieldChange>,
    },
    /// Registered, then disabled if the file says so, then its federated
    /// credentials added.
    CreateApplication {
        place: String,
        app: ApplicationSpec,
    },
    ChangeApplication {
        place: String,
        id: String,
        name: String,
        changes: Vec<FieldChange>,
    },
    /// Removed from its application, because the file no longer lists it
    /// or lists it changed (the API has no change of a federated credential).
    RemoveFederated {
        app_id: String,
        app: String,
        id: String,
        name: String,
    },
    AddFederated {
        place: String,
        app_id: String,
        app: String,
        credential: FederatedSpec,
        /// What the removal just before it took away, when this is a replacement.
        replaces: Option<Vec<FieldChange>>,
    },
    RemoveApplication {
        id: String,
        name: String,
    },
    RemoveRole {
        id: String,
        name: String,
    },
}

impl Step {
    /// The order of the kinds of step: a plan's steps never go back in it.
    pub fn phase(&self) -> u8 {
        match self {
            Step::CreateRole { .. } | Step::ChangeRole { .. } => 0,
            Step::CreateApplication { .. }
            | Step::ChangeApplication { .. }
            | Step::RemoveFederated { .. }
            | Step::AddFederated { .. } => 1,
            Step::RemoveApplication { .. } => 2,
            Step::RemoveRole { .. } => 3,
        }
    }
}

/// Every step, in order, and what the server holds that the file does not
/// name and `prune` was not asked to remove.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub unmanaged_roles: Vec<String>,
    pub unmanaged_applications: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// The fields compared, in the order a diff lists them.
const APPLICATION_FIELDS: [&str; 11] = [
    "email",
    "application_url",
    "description",
    "roles",
    "enabled",
    "allowed_sources",
    "token_quota_per_hour",
    "dpop_bound_access_tokens",
    "token_endpoint_auth_method",
    "jwks",
    "jwks_uri",
];

const FEDERATED_FIELDS: [&str; 8] = [
    "issuer",
    "jwks",
    "jwks_uri",
    "subject",
    "audience",
    "claims",
    "max_token_lifetime_seconds",
    "single_use",
];

fn fields(value: impl serde::Serialize) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

fn diff(names: &[&'static str], old: &Map<String, Value>, new: &Map<String, Value>) -> Vec<FieldChange> {
    names
        .iter()
        .filter_map(|&field| {
            let old = old.get(field).cloned().unwrap_or(Value::Null);
            let new = new.get(field).cloned().unwrap_or(Value::Null);
            (old != new).then_some(FieldChange { field, old, new })
        })
        .collect()
}

/// The server stores a key without `use` as a signing key (`"use":
/// "sig"`): the same key, so not a change.
fn keys_as_stored(jwks: &mut Option<Value>) {
    let keys = jwks
        .as_mut()
        .and_then(|j| j.get_mut("keys"))
        .and_then(Value::as_array_mut);
    for key in keys.into_iter().flatten() {
        if let Some(key) = key.as_object_mut() {
            key.entry("use").or_insert_with(|| Value::from("sig"));
        }
    }
}

/// An application as compared: sets in a fixed order, CIDRs and keys as
/// the server writes them.
fn comparable(app: &ApplicationSpec) -> Map<String, Value> {
    let mut app = app.clone();
    keys_as_stored(&mut app.jwks);
    app.federated_credentials.clear();
    app.roles.sort();
    if let Some(sources) = &mut app.allowed_sources {
        *sources = canonical_sources(sources);
        sources.sort();
    }
    fields(&app)
}

fn sorted(items: &[String]) -> Vec<String> {
    let set: BTreeSet<&String> = items.iter().collect();
    set.into_iter().cloned().collect()
}

/// The steps that take `current` to `desired`. Removals of whole records
/// only with `prune`. An error when an application names a role that
/// neither the file nor (without `prune`) the server has.
pub fn plan(desired: &Config, current: &Current, prune: bool) -> Result<Plan, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut plan = Plan::default();
    let current_roles: BTreeMap<&str, &RoleSpec> = current.config.roles.iter().map(|r| (r.name.as_str(), r)).collect();
    let current_apps: BTreeMap<&str, &ApplicationSpec> = current
        .config
        .applications
        .iter()
        .map(|a| (a.name.as_str(), a))
        .collect();

    for (i, role) in desired.roles.iter().enumerate() {
        let place = format!("roles[{i}]");
        match (current_roles.get(role.name.as_str()), current.role_ids.get(&role.name)) {
            (Some(old), Some(id)) => {
                let (old_set, new_set) = (sorted(&old.permissions), sorted(&role.permissions));
                if old_set != new_set {
                    plan.steps.push(Step::ChangeRole {
                        place,
                        id: id.clone(),
                        name: role.name.clone(),
                        changes: vec![FieldChange {
                            field: "permissions",
                            old: Value::from(old.permissions.clone()),
                            new: Value::from(role.permissions.clone()),
                        }],
                    });
                }
            }
            _ => plan.steps.push(Step::CreateRole {
                place,
                role: role.clone(),
            }),
        }
    }

    let desired_roles: BTreeSet<&str> = desired.roles.iter().map(|r| r.name.as_str()).collect();
    for (i, app) in desired.applications.iter().enumerate() {
        let place = format!("applications[{i}]");
        for (j, role) in app.roles.iter().enumerate() {
            let known = desired_roles.contains(role.as_str()) || (!prune && current_roles.contains_key(role.as_str()));
            if !known {
                let why = if current_roles.contains_key(role.as_str()) {
                    "is not in the file, and --prune would remove it"
                } else {
                    "is neither in the file nor on the server"
                };
                problems.push(Problem::new(
                    format!("{place}.roles[{j}]"),
                    format!("the role {role:?} {why}"),
                ));
            }
        }
        let (Some(old), Some(app_id)) = (
            current_apps.get(app.name.as_str()),
            current.application_ids.get(&app.name),
        ) else {
            plan.steps.push(Step::CreateApplication {
                place,
                app: app.clone(),
            });
            continue;
        };
        let changes = diff(&APPLICATION_FIELDS, &comparable(old), &comparable(app));
        if !changes.is_empty() {
            plan.steps.push(Step::ChangeApplication {
                place: place.clone(),
                id: app_id.clone(),
                name: app.name.clone(),
                changes,
            });
        }
        federated_steps(&mut plan, &place, app, old, app_id, current);
    }

    if prune {
        for app in &current.config.applications {
            if !desired.applications.iter().any(|a| a.name == app.name)
                && let Some(id) = current.application_ids.get(&app.name)
            {
                plan.steps.push(Step::RemoveApplication {
                    id: id.clone(),
                    name: app.name.clone(),
                });
            }
        }
        for role in &current.config.roles {
            if !desired_roles.contains(role.name.as_str())
                && let Some(id) = current.role_ids.get(&role.name)
            {
                plan.steps.push(Step::RemoveRole {
                    id: id.clone(),
                    name: role.name.clone(),
                });
            }
        }
    } else {
        plan.unmanaged_roles = current
            .config
            .roles
            .iter()
            .filter(|r| !desired_roles.contains(r.name.as_str()))
            .map(|r| r.name.clone())
            .collect();
        plan.unmanaged_applications = current
            .config
            .applications
            .iter()
            .filter(|a| !desired.applications.iter().any(|d| d.name == a.name))
            .map(|a| a.name.clone())
            .collect();
    }
    if problems.is_empty() { Ok(plan) } else { Err(problems) }
}

fn federated_steps(
    plan: &mut Plan,
    place: &str,
    app: &ApplicationSpec,
    old: &ApplicationSpec,
    app_id: &str,
    current: &Current,
) {
    let id_of = |name: &str| current.federated_ids.get(&(app.name.clone(), name.to_owned())).cloned();
    for credential in &old.federated_credentials {
        if !app.federated_credentials.iter().any(|c| c.name == credential.name)
            && let Some(id) = id_of(&credential.name)
        {
            plan.steps.push(Step::RemoveFederated {
                app_id: app_id.to_owned(),
                app: app.name.clone(),
                id,
                name: credential.name.clone(),
            });
        }
    }
    for (j, credential) in app.federated_credentials.iter().enumerate() {
        let place = format!("{place}.federated_credentials[{j}]");
        let existing = old
            .federated_credentials
            .iter()
            .find(|c| c.name == credential.name)
            .and_then(|c| Some((c, id_of(&c.name)?)));
        let replaces = match existing {
            Some((old, id)) => {
                let mut wanted = credential.clone();
                // Left out, the audience is the server's issuer identifier:
                // whatever the server holds is what was asked for.
                if wanted.audience.is_none() {
                    wanted.audience.clone_from(&old.audience);
                }
                let mut held = old.clone();
                keys_as_stored(&mut held.jwks);
                keys_as_stored(&mut wanted.jwks);
                let changes = diff(&FEDERATED_FIELDS, &fields(&held), &fields(&wanted));
                if changes.is_empty() {
                    continue;
                }
                plan.steps.push(Step::RemoveFederated {
                    app_id: app_id.to_owned(),
                    app: app.name.clone(),
                    id,
                    name: credential.name.clone(),
                });
                Some(changes)
            }
            None => None,
        };
        plan.steps.push(Step::AddFederated {
            place,
            app_id: app_id.to_owned(),
            app: app.name.clone(),
            credential: credential.clone(),
            replaces,
        });
    }
}

#[cfg(test)]
mod tests;
