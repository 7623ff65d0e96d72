//! The server's side, through the Rust SDK's admin API only: reading the
//! tenant into the file's terms, and taking a plan's steps one by one.
//! Every change is an ordinary admin call, so the grant rule and the audit
//! trail hold for it.

use crate::file::{ApplicationSpec, AuthMethod, Config, FederatedSpec, RoleSpec};
use crate::load::{application_form, federated_form, role_form};
use crate::plan::{Current, FieldChange, Plan, Step};
use crate::refusal::describe;
use casebook_sdk::{ApplicationChange, ApplicationId, Client, FederatedCredentialId, Password, RoleChange, RoleId};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The tenant's roles and applications, with their ids.
pub async fn fetch(client: &Client) -> Result<Current, String> {
    let admin = client.admin();
    let roles = admin
        .roles()
        .list()
        .all()
        .await
        .map_err(|e| describe("listing roles", "", &e))?;
    let mut current = Current::default();
    let mut role_names = BTreeMap::new();
    for role in roles {
        role_names.insert(role.id.as_str().to_owned(), role.name.clone());
        current.role_ids.insert(role.name.clone(), role.id.as_str().to_owned());
        current.config.roles.push(RoleSpec {
            name: role.name,
            permissions: role.permissions.to_strings(),
        });
    }
    let apps = admin
        .applications()
        .list()
        .all()
        .await
        .map_err(|e| describe("listing applications", "", &e))?;
    for app in apps {
        let what = format!("reading application {:?}", app.name);
        let token_endpoint_auth_method = match app.token_endpoint_auth_method {
            casebook_sdk::AuthMethod::ClientSecretBasic => AuthMethod::ClientSecretBasic,
            casebook_sdk::AuthMethod::PrivateKeyJwt => AuthMethod::PrivateKeyJwt,
            _ => {
                return Err(format!(
                    "{what}: it authenticates in a way this casebookctl does not know"
                ));
            }
        };
        let credentials = admin
            .applications()
            .list_federated_credentials(&app.id)
            .await
            .map_err(|e| describe(&what, "", &e))?;
        let mut federated_credentials = Vec::new();
        for c in credentials {
            current
                .federated_ids
                .insert((app.name.clone(), c.name.clone()), c.id.as_str().to_owned());
            federated_credentials.push(FederatedSpec {
                name: c.name,
                issuer: c.issuer,
                jwks: c.jwks,
                jwks_uri: c.jwks_uri,
                subject: c.subject,
                audience: Some(c.audience),
                claims: c.claims,
                max_token_lifetime_seconds: c.max_token_lifetime_seconds,
                single_use: c.single_use,
            });
        }
        current
            .application_ids
            .insert(app.name.clone(), app.id.as_str().to_owned());
        current.client_ids.insert(app.name.clone(), app.client_id.to_string());
        current.config.applications.push(ApplicationSpec {
            name: app.name,
            email: app.email,
            application_url: app.application_url,
            description: app.description,
            roles: app
                .roles
                .iter()
                .map(|id| {
                    role_names
                        .get(id.as_str())
                        .cloned()
                        .unwrap_or_else(|| id.as_str().to_owned())
                })
                .collect(),
            enabled: app.enabled,
            allowed_sources: app.allowed_sources,
            token_quota_per_hour: app.token_quota_per_hour.map(i64::from),
            dpop_bound_access_tokens: app.dpop_bound_access_tokens,
            token_endpoint_auth_method,
            jwks: app.jwks,
            jwks_uri: app.jwks_uri,
            federated_credentials,
        });
    }
    Ok(current)
}

/// The export: the server's records, never an id or a secret.
pub fn export(current: &Current) -> Config {
    current.config.clone()
}

/// A new application's first secret, for `--secrets-out`.
#[derive(Clone, serde::Serialize)]
pub struct NewSecret {
    pub name: String,
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSecret")
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// What `apply` did: a line per step, and the secrets it was asked to keep.
#[derive(Debug, Default)]
pub struct Applied {
    pub done: Vec<String>,
    pub secrets: Vec<NewSecret>,
}

/// Takes the plan's steps in order, stopping at the first refusal. With
/// `reveal`, the password of the signed-in person, each new application's
/// secret is revealed into [`Applied::secrets`].
pub async fn apply(
    client: &Client,
    plan: &Plan,
    current: &Current,
    reveal: Option<&Password>,
    applied: &mut Applied,
) -> Result<(), String> {
    let admin = client.admin();
    let mut role_ids = current.role_ids.clone();
    for step in &plan.steps {
        match step {
            Step::CreateRole { place, role } => {
                let what = format!("creating role {:?}", role.name);
                let made = admin
                    .roles()
                    .create(&role_form(role))
                    .await
                    .map_err(|e| describe(&what, place, &e))?;
                role_ids.insert(role.name.clone(), made.id.as_str().to_owned());
                applied.done.push(format!("created role {:?}", role.name));
            }
            Step::ChangeRole {
                place,
                id,
                name,
                changes,
            } => {
                let what = format!("changing role {name:?}");
                let mut change = RoleChange::default();
                change.permissions = changes
                    .iter()
                    .find(|c| c.field == "permissions")
                    .and_then(|c| serde_json::from_value(c.new.clone()).ok());
                admin
                    .roles()
                    .change(&RoleId::from(id), &change)
                    .await
                    .map_err(|e| describe(&what, place, &e))?;
                applied.done.push(format!("changed role {name:?}"));
            }
            Step::CreateApplication { place, app } => {
                let what = format!("registering application {:?}", app.name);
                let ids = role_ids_of(&app.roles, &role_ids);
                let form = application_form(app, &ids).map_err(|e| format!("{what}: {e}"))?;
                let applications = admin.applications();
                let made = applications
                    .register(&form)
                    .await
                    .map_err(|e| describe(&what, place, &e))?;
                applied.done.push(format!("registered application {:?}", app.name));
                if !app.enabled {
                    let change = ApplicationChange::new().enabled(false);
                    applications
                        .change(&made.id, &change)
                        .await
                        .map_err(|e| describe(&format!("disabling application {:?}", app.name), place, &e))?;
                }
                if let (Some(password), AuthMethod::ClientSecretBasic) = (reveal, app.token_endpoint_auth_method) {
                    let shown = applications
                        .reveal_secret(&made.id, password)
                        .await
                        .map_err(|e| describe(&format!("revealing the secret of {:?}", app.name), place, &e))?;
                    applied.secrets.push(NewSecret {
                        name: app.name.clone(),
                        client_id: shown.client_id.to_string(),
                        client_secret: shown.client_secret.expose().to_owned(),
                    });
                }
                for (j, credential) in app.federated_credentials.iter().enumerate() {
                    let place = format!("{place}.federated_credentials[{j}]");
                    add_federated(client, &made.id, &app.name, &place, credential, applied).await?;
                }
            }
            Step::ChangeApplication {
                place,
                id,
                name,
                changes,
            } => {
                let what = format!("changing application {name:?}");
                let change = application_change(changes, &role_ids).map_err(|e| format!("{what}: {e}"))?;
                admin
                    .applications()
                    .change(&ApplicationId::from(id), &change)
                    .await
                    .map_err(|e| describe(&what, place, &e))?;
                applied.done.push(format!("changed application {name:?}"));
            }
            Step::RemoveFederated { app_id, app, id, name } => {
                let what = format!("removing federated credential {name:?} of {app:?}");
                admin
                    .applications()
                    .remove_federated_credential(&ApplicationId::from(app_id), &FederatedCredentialId::from(id))
                    .await
                    .map_err(|e| describe(&what, "", &e))?;
                applied
                    .done
                    .push(format!("removed federated credential {name:?} of {app:?}"));
            }
            Step::AddFederated {
                place,
                app_id,
                app,
                credential,
                ..
            } => {
                add_federated(client, &ApplicationId::from(app_id), app, place, credential, applied).await?;
            }
            Step::RemoveApplication { id, name } => {
                let what = format!("removing application {name:?}");
                admin
                    .applications()
                    .remove(&ApplicationId::from(id))
                    .await
                    .map_err(|e| describe(&what, "", &e))?;
                applied.done.push(format!("removed application {name:?}"));
            }
            Step::RemoveRole { id, name } => {
                let what = format!("removing role {name:?}");
                admin
                    .roles()
                    .remove(&RoleId::from(id))
                    .await
                    .map_err(|e| describe(&what, "", &e))?;
                applied.done.push(format!("removed role {name:?}"));
            }
        }
    }
    Ok(())
}

async fn add_federated(
    client: &Client,
    app_id: &ApplicationId,
    app: &str,
    place: &str,
    credential: &FederatedSpec,
    applied: &mut Applied,
) -> Result<(), String> {
    let what = format!("adding federated credential {:?} to {app:?}", credential.name);
    let form = federated_form(credential).map_err(|e| format!("{what}: {e}"))?;
    client
        .admin()
        .applications()
        .add_federated_credential(app_id, &form)
        .await
        .map_err(|e| describe(&what, place, &e))?;
    applied
        .done
        .push(format!("added federated credential {:?} to {app:?}", credential.name));
    Ok(())
}

fn role_ids_of(names: &[String], ids: &BTreeMap<String, String>) -> Vec<String> {
    names
        .iter()
        .map(|name| ids.get(name).cloned().unwrap_or_else(|| name.clone()))
        .collect()
}

/// The change form of the fields that moved. `null` clears what may be
/// cleared; keys (`jwks`, `jwks_uri`) are only ever replaced, and the
/// server drops them itself when the method goes back to a secret.
fn application_change(
    changes: &[FieldChange],
    role_ids: &BTreeMap<String, String>,
) -> Result<ApplicationChange, String> {
    let mut body = Map::new();
    for c in changes {
        let value = match (c.field, &c.new) {
            ("roles", Value::Array(names)) => {
                let names: Vec<String> = names.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect();
                Value::from(role_ids_of(&names, role_ids))
            }
            ("jwks" | "jwks_uri", Value::Null) => continue,
            _ => c.new.clone(),
        };
        body.insert(c.field.to_owned(), value);
    }
    serde_json::from_value(Value::Object(body)).map_err(|e| e.to_string())
}
