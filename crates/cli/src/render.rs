//! A plan for people: `+` create, `~` change (each field old → new), `-`
//! remove, `-/+` replace, and a count, as Terraform prints one.

use crate::file::{ApplicationSpec, FederatedSpec};
use crate::plan::{FieldChange, Plan, Step};
use serde_json::Value;
use std::fmt::Write;

fn show(value: &Value) -> String {
    match value {
        Value::Null => "(none)".to_owned(),
        other => other.to_string(),
    }
}

fn changes(out: &mut String, indent: &str, changes: &[FieldChange]) {
    for c in changes {
        let _ = writeln!(out, "{indent}{}: {} → {}", c.field, show(&c.old), show(&c.new));
    }
}

fn members(out: &mut String, indent: &str, value: impl serde::Serialize, skip: &[&str]) {
    if let Ok(Value::Object(map)) = serde_json::to_value(value) {
        for (field, value) in map.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
            let _ = writeln!(out, "{indent}{field}: {}", show(value));
        }
    }
}

fn new_application(out: &mut String, app: &ApplicationSpec) {
    members(out, "      ", app, &["name", "federated_credentials"]);
    for credential in &app.federated_credentials {
        new_federated(out, "    + ", &app.name, credential);
    }
}

fn new_federated(out: &mut String, mark: &str, app: &str, credential: &FederatedSpec) {
    let _ = writeln!(out, "{mark}federated credential {:?} of {app:?}", credential.name);
    members(out, "        ", credential, &["name"]);
}

/// The plan as text; ends with a summary line.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let (mut add, mut change, mut remove) = (0, 0, 0);
    for step in &plan.steps {
        match step {
            Step::CreateRole { place, role } => {
                add += 1;
                let _ = writeln!(out, "+ role {:?} ({place})", role.name);
                let _ = writeln!(
                    out,
                    "      permissions: {}",
                    show(&Value::from(role.permissions.clone()))
                );
            }
            Step::ChangeRole {
                place,
                name,
                changes: c,
                ..
            } => {
                change += 1;
                let _ = writeln!(out, "~ role {name:?} ({place})");
                changes(&mut out, "      ", c);
            }
            Step::CreateApplication { place, app } => {
                add += 1;
                let _ = writeln!(out, "+ application {:?} ({place})", app.name);
                new_application(&mut out, app);
            }
            Step::ChangeApplication {
                place,
                name,
                changes: c,
                ..
            } => {
                change += 1;
                let _ = writeln!(out, "~ application {name:?} ({place})");
                changes(&mut out, "      ", c);
            }
            Step::RemoveFederated { app, name, .. } => {
                // A replacement's removal is shown with its addition.
                let replaced = plan.steps.iter().any(|s| {
                    matches!(s, Step::AddFederated { app: a, credential, replaces: Some(_), .. }
                        if a == app && &credential.name == name)
                });
                if !replaced {
                    remove += 1;
                    let _ = writeln!(out, "- federated credential {name:?} of {app:?}");
                }
            }
            Step::AddFederated {
                place,
                app,
                credential,
                replaces,
                ..
            } => match replaces {
                Some(c) => {
                    change += 1;
                    let _ = writeln!(
                        out,
                        "-/+ federated credential {:?} of {app:?} ({place})",
                        credential.name
                    );
                    changes(&mut out, "      ", c);
                }
                None => {
                    add += 1;
                    new_federated(&mut out, "+ ", app, credential);
                }
            },
            Step::RemoveApplication { name, .. } => {
                remove += 1;
                let _ = writeln!(out, "- application {name:?}");
            }
            Step::RemoveRole { name, .. } => {
                remove += 1;
                let _ = writeln!(out, "- role {name:?}");
            }
        }
    }
    if plan.is_empty() {
        out.push_str("No changes: the tenant matches the file.\n");
    } else {
        let _ = writeln!(out, "\nPlan: {add} to add, {change} to change, {remove} to remove.");
    }
    let (roles, apps) = (&plan.unmanaged_roles, &plan.unmanaged_applications);
    if !roles.is_empty() || !apps.is_empty() {
        let _ = writeln!(
            out,
            "Not in the file, kept (--prune would remove them): {} role(s) {roles:?}, {} application(s) {apps:?}",
            roles.len(),
            apps.len()
        );
    }
    out
}
