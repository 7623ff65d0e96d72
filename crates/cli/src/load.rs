//! Reading a file: YAML, then `${VAR}` from the environment in every
//! string, then the types, then the domain's own rules, all before the
//! server is asked anything. Every problem names its place in the file
//! (`applications[2].email`).

use crate::file::{ApplicationSpec, Config, FederatedSpec, RoleSpec};
use casebook_domain::{ApplicationForm, FederatedCredentialForm, ValidationErrors, role::RoleForm};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::fmt;

/// One thing wrong with the file, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `applications[2].email`; empty for the file as a whole.
    pub place: String,
    pub message: String,
}

impl Problem {
    pub fn new(place: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            place: place.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.place.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.place, self.message)
        }
    }
}

/// `place` joined with a field the domain or the server named: a plain
/// name (`email`), an indexed one (`allowed_sources[1]`), or a JSON pointer
/// (`/jwks/keys/0`).
pub fn join(place: &str, field: &str) -> String {
    let mut out = place.to_owned();
    if let Some(pointer) = field.strip_prefix('/') {
        for part in pointer.split('/') {
            if part.parse::<usize>().is_ok() {
                out.push_str(&format!("[{part}]"));
            } else {
                out.push('.');
                out.push_str(&part.replace("~1", "/").replace("~0", "~"));
            }
        }
    } else if !field.is_empty() {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(field);
    }
    out
}

/// The file's text to a checked [`Config`], or every problem found.
pub fn load(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, Vec<Problem>> {
    let mut value: Value = serde_saphyr::from_str(text).map_err(|e| vec![Problem::new("", e.to_string())])?;
    let mut problems = Vec::new();
    substitute(&mut value, &mut String::new(), env, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    let config: Config = serde_path_to_error::deserialize(value).map_err(|e| {
        let place = e.path().to_string();
        let place = if place == "." { String::new() } else { place };
        vec![Problem::new(place, e.into_inner().to_string())]
    })?;
    let problems = check(&config);
    if problems.is_empty() { Ok(config) } else { Err(problems) }
}

/// `${VAR}` in every string (keys are left alone); `$${` is a literal `${`.
fn substitute(value: &mut Value, place: &mut String, env: &dyn Fn(&str) -> Option<String>, out: &mut Vec<Problem>) {
    match value {
        Value::String(text) => match expand(text, env) {
            Ok(expanded) => *text = expanded,
            Err(message) => out.push(Problem::new(place.clone(), message)),
        },
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = place.len();
                place.push_str(&format!("[{i}]"));
                substitute(item, place, env, out);
                place.truncate(len);
            }
        }
        Value::Object(members) => {
            for (key, item) in members.iter_mut() {
                let len = place.len();
                *place = join(place, key);
                substitute(item, place, env, out);
                place.truncate(len);
            }
        }
        _ => {}
    }
}

/// Variables the file may not read: casebookctl's own credentials live
/// there, and a line like `description: ${CASEBOOK_CLIENT_SECRET}` would
/// print them in a plan and store them where `admin:view` reads them.
const RESERVED_PREFIX: &str = "CASEBOOK_";

fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after
                .find('}')
                .ok_or_else(|| format!("`${{` without its `}}` in {text:?}"))?;
            let name = &after[..end];
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(format!("`${{{name}}}` is not a variable name"));
            }
            if name.starts_with(RESERVED_PREFIX) {
                return Err(format!(
                    "`${{{name}}}`: {RESERVED_PREFIX}… variables hold casebookctl's and the server's own settings and \
                     credentials, and are never put into the file"
                ));
            }
            out.push_str(&env(name).ok_or_else(|| format!("the environment variable {name} is not set"))?);
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn push_errors(out: &mut Vec<Problem>, place: &str, errors: ValidationErrors) {
    for e in errors.into_errors() {
        out.push(Problem::new(
            join(place, &e.field),
            format!("{} ({})", e.message, e.code_str()),
        ));
    }
}

/// The domain's form rules for each record, and the names each must not share.
pub fn check(config: &Config) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    for (i, role) in config.roles.iter().enumerate() {
        let place = format!("roles[{i}]");
        if let Err(errors) = role_form(role).validate() {
            push_errors(&mut out, &place, errors);
        }
        if !names.insert(role.name.to_lowercase()) {
            out.push(Problem::new(
                join(&place, "name"),
                "another role in the file has this name",
            ));
        }
    }
    let mut names = BTreeSet::new();
    for (i, app) in config.applications.iter().enumerate() {
        let place = format!("applications[{i}]");
        match application_form(app, &app.roles) {
            Ok(form) => {
                if let Err(errors) = form.validate_offline() {
                    push_errors(&mut out, &place, errors);
                }
            }
            Err(message) => out.push(Problem::new(place.clone(), message)),
        }
        if !names.insert(app.name.to_lowercase()) {
            out.push(Problem::new(
                join(&place, "name"),
                "another application in the file has this name",
            ));
        }
        let mut credential_names = BTreeSet::new();
        for (j, credential) in app.federated_credentials.iter().enumerate() {
            let place = format!("{place}.federated_credentials[{j}]");
            match federated_form(credential) {
                Ok(form) => {
                    if let Err(errors) = form.validate_offline() {
                        push_errors(&mut out, &place, errors);
                    }
                }
                Err(message) => out.push(Problem::new(place.clone(), message)),
            }
            if !credential_names.insert(credential.name.clone()) {
                out.push(Problem::new(
                    join(&place, "name"),
                    "another federated credential of this application has this name",
                ));
            }
        }
    }
    out
}

pub fn role_form(role: &RoleSpec) -> RoleForm {
    let mut form = RoleForm::default();
    form.name = role.name.clone();
    form.permissions = role.permissions.clone();
    form
}

/// The registration form of `app`, with `roles` as the server knows them
/// (names when checking offline, ids when sending).
pub fn application_form(app: &ApplicationSpec, roles: &[String]) -> Result<ApplicationForm, String> {
    serde_json::from_value(json!({
        "name": app.name,
        "email": app.email,
        "application_url": app.application_url,
        "description": app.description,
        "roles": roles,
        "allowed_sources": app.allowed_sources,
        "token_quota_per_hour": app.token_quota_per_hour,
        "dpop_bound_access_tokens": app.dpop_bound_access_tokens,
        "token_endpoint_auth_method": app.token_endpoint_auth_method.as_str(),
        "jwks": app.jwks,
        "jwks_uri": app.jwks_uri,
    }))
    .map_err(|e| e.to_string())
}

pub fn federated_form(credential: &FederatedSpec) -> Result<FederatedCredentialForm, String> {
    let claims = (!credential.claims.is_empty()).then_some(&credential.claims);
    serde_json::from_value(json!({
        "name": credential.name,
        "issuer": credential.issuer,
        "jwks": credential.jwks,
        "jwks_uri": credential.jwks_uri,
        "subject": credential.subject,
        "audience": credential.audience,
        "claims": claims,
        "max_token_lifetime_seconds": credential.max_token_lifetime_seconds,
        "single_use": credential.single_use,
    }))
    .map_err(|e| e.to_string())
}

/// The CIDRs as the server writes them back (`127.0.0.1` is `127.0.0.1/32`),
/// so a file that says the same thing in other words plans no change.
/// A CIDR the domain refuses stays as written: the offline check names it.
pub fn canonical_sources(sources: &[String]) -> Vec<String> {
    sources
        .iter()
        .map(|s| canonical_cidr(s).unwrap_or_else(|| s.clone()))
        .collect()
}

fn canonical_cidr(raw: &str) -> Option<String> {
    let (address, prefix) = match raw.trim().split_once('/') {
        Some((address, prefix)) => (address, Some(prefix.parse::<u8>().ok()?)),
        None => (raw.trim(), None),
    };
    let address: std::net::IpAddr = address.parse().ok()?;
    let prefix = prefix.unwrap_or(if address.is_ipv4() { 32 } else { 128 });
    Some(format!("{address}/{prefix}"))
}

#[cfg(test)]
mod tests;
