use super::*;
use crate::file::{ApiVersion, AuthMethod};
use proptest::prelude::*;
use serde_json::json;

fn role(name: &str, permissions: &[&str]) -> RoleSpec {
    RoleSpec {
        name: name.into(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
    }
}

fn app(name: &str, roles: &[&str]) -> ApplicationSpec {
    ApplicationSpec {
        name: name.into(),
        email: format!("{}@partner.example", name.to_lowercase()),
        application_url: None,
        description: None,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        enabled: true,
        allowed_sources: None,
        token_quota_per_hour: None,
        dpop_bound_access_tokens: false,
        token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
        jwks: None,
        jwks_uri: None,
        federated_credentials: vec![],
    }
}

fn credential(name: &str) -> FederatedSpec {
    FederatedSpec {
        name: name.into(),
        issuer: "https://ci.example".into(),
        jwks: None,
        jwks_uri: Some("https://ci.example/jwks".into()),
        subject: "repo:partner/exporter".into(),
        audience: Some("https://casebook.example".into()),
        claims: Map::new(),
        max_token_lifetime_seconds: None,
        single_use: false,
    }
}

/// The server holding exactly `config`, with made-up ids.
fn server(config: &Config) -> Current {
    let mut current = Current {
        config: config.clone(),
        ..Current::default()
    };
    for r in &config.roles {
        current.role_ids.insert(r.name.clone(), format!("role-{}", r.name));
    }
    for a in &config.applications {
        current
            .application_ids
            .insert(a.name.clone(), format!("app-{}", a.name));
        for c in &a.federated_credentials {
            current
                .federated_ids
                .insert((a.name.clone(), c.name.clone()), format!("fc-{}", c.name));
        }
    }
    current
}

fn config(roles: Vec<RoleSpec>, applications: Vec<ApplicationSpec>) -> Config {
    Config {
        api_version: ApiVersion::V1,
        roles,
        applications,
    }
}

fn base() -> Config {
    let mut a = app("Acme", &["Intake"]);
    a.federated_credentials.push(credential("ci"));
    config(vec![role("Intake", &["engage:view"])], vec![a])
}

#[test]
fn a_state_against_itself_plans_nothing() {
    let state = base();
    assert_eq!(plan(&state, &server(&state), true).unwrap(), Plan::default());
}

#[test]
fn a_changed_field_is_shown_old_to_new() {
    let current = server(&base());
    let mut desired = base();
    desired.applications[0].email = "ops@acme.example".into();
    desired.applications[0].token_quota_per_hour = Some(100);
    let plan = plan(&desired, &current, false).unwrap();
    let Step::ChangeApplication { place, changes, .. } = &plan.steps[0] else {
        panic!("{plan:?}")
    };
    assert_eq!(place, "applications[0]");
    assert_eq!(
        changes,
        &vec![
            FieldChange {
                field: "email",
                old: json!("acme@partner.example"),
                new: json!("ops@acme.example")
            },
            FieldChange {
                field: "token_quota_per_hour",
                old: Value::Null,
                new: json!(100)
            },
        ]
    );
    let text = crate::render::render(&plan);
    assert!(
        text.contains("email: \"acme@partner.example\" → \"ops@acme.example\""),
        "{text}"
    );
    assert!(text.contains("token_quota_per_hour: (none) → 100"), "{text}");
}

#[test]
fn the_same_thing_in_other_words_is_no_change() {
    let mut held = base();
    held.applications[0].roles = vec!["Intake".into(), "Reader".into()];
    held.roles.push(role("Reader", &["engage:view", "admin:view"]));
    held.applications[0].allowed_sources = Some(vec!["203.0.113.0/24".into(), "127.0.0.1/32".into()]);
    let mut desired = held.clone();
    desired.applications[0].roles.reverse();
    desired.applications[0].allowed_sources = Some(vec!["127.0.0.1".into(), "203.0.113.0/24".into()]);
    desired.roles[1].permissions.reverse();
    // Left out, the audience is whatever the server filled in.
    desired.applications[0].federated_credentials[0].audience = None;
    // A key without `use` is stored as a signing key.
    let key = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "k"});
    let mut stored = key.clone();
    stored["use"] = json!("sig");
    desired.applications[0].jwks = Some(json!({"keys": [key]}));
    desired.applications[0].federated_credentials[0].jwks = Some(json!({"keys": [key]}));
    held.applications[0].jwks = Some(json!({"keys": [stored]}));
    held.applications[0].federated_credentials[0].jwks = Some(json!({"keys": [stored]}));
    assert!(plan(&desired, &server(&held), false).unwrap().is_empty());
}

#[test]
fn a_changed_federated_credential_is_replaced() {
    let current = server(&base());
    let mut desired = base();
    desired.applications[0].federated_credentials[0].subject = "repo:partner/other".into();
    let plan = plan(&desired, &current, false).unwrap();
    assert!(matches!(&plan.steps[0], Step::RemoveFederated { id, .. } if id == "fc-ci"));
    assert!(matches!(&plan.steps[1], Step::AddFederated { replaces: Some(c), .. } if c[0].field == "subject"));
    assert!(crate::render::render(&plan).contains("-/+ federated credential \"ci\""));
}

#[test]
fn a_federated_credential_left_out_is_removed_without_prune() {
    let current = server(&base());
    let mut desired = base();
    desired.applications[0].federated_credentials.clear();
    let plan = plan(&desired, &current, false).unwrap();
    assert!(matches!(&plan.steps[..], [Step::RemoveFederated { name, .. }] if name == "ci"));
}

#[test]
fn records_left_out_are_removed_only_with_prune() {
    let current = server(&base());
    let desired = config(vec![], vec![]);
    let kept = plan(&desired, &current, false).unwrap();
    assert!(kept.is_empty());
    assert_eq!(kept.unmanaged_roles, vec!["Intake"]);
    assert_eq!(kept.unmanaged_applications, vec!["Acme"]);
    let pruned = plan(&desired, &current, true).unwrap();
    assert!(matches!(
        &pruned.steps[..],
        [Step::RemoveApplication { name: a, .. }, Step::RemoveRole { name: r, .. }] if a == "Acme" && r == "Intake"
    ));
}

#[test]
fn an_unknown_role_is_named_by_its_place() {
    let current = server(&config(vec![role("Old", &["engage:view"])], vec![]));
    let desired = config(vec![], vec![app("Acme", &["Old", "Missing"])]);
    let problems = plan(&desired, &current, false).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].place, "applications[0].roles[1]");
    let problems = plan(&desired, &current, true).unwrap_err();
    assert_eq!(problems[0].place, "applications[0].roles[0]");
    assert!(problems[0].message.contains("--prune would remove it"));
}

#[test]
fn new_records_create_roles_first() {
    let desired = base();
    let plan = plan(&desired, &Current::default(), false).unwrap();
    assert!(matches!(&plan.steps[0], Step::CreateRole { .. }));
    assert!(matches!(&plan.steps[1], Step::CreateApplication { app, .. } if app.federated_credentials.len() == 1));
}

const PERMISSIONS: [&str; 4] = ["engage:view", "engage:create", "admin:view", "admin:edit"];

fn any_config() -> impl Strategy<Value = Config> {
    let roles = proptest::collection::btree_map(
        0..4usize,
        proptest::sample::subsequence(PERMISSIONS.to_vec(), 1..4),
        0..4,
    );
    let apps = proptest::collection::btree_map(
        0..4usize,
        (
            any::<bool>(),
            proptest::option::of(1..1000i64),
            proptest::option::of(Just(vec!["10.0.0.0/8".to_owned()])),
            proptest::collection::btree_set(0..3usize, 0..3),
        ),
        0..4,
    );
    (roles, apps).prop_map(|(roles, apps)| {
        let roles: Vec<RoleSpec> = roles.into_iter().map(|(i, p)| role(&format!("Role {i}"), &p)).collect();
        let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
        let applications = apps
            .into_iter()
            .filter(|_| !names.is_empty())
            .map(|(i, (enabled, quota, sources, credentials))| {
                let mut a = app(&format!("App {i}"), &[names[i % names.len()]]);
                a.enabled = enabled;
                a.token_quota_per_hour = quota;
                a.allowed_sources = sources;
                a.federated_credentials = credentials.into_iter().map(|c| credential(&format!("c{c}"))).collect();
                a
            })
            .collect();
        config(roles, applications)
    })
}

proptest! {
    #[test]
    fn a_state_planned_against_itself_is_empty(state in any_config(), prune in any::<bool>()) {
        prop_assert!(plan(&state, &server(&state), prune).unwrap().is_empty());
    }

    #[test]
    fn steps_keep_their_order_and_prune_only_when_asked(
        desired in any_config(), held in any_config(), prune in any::<bool>()
    ) {
        // Every role an application names is in the file, as the check asks.
        let mut desired = desired;
        let names: Vec<String> = desired.roles.iter().map(|r| r.name.clone()).collect();
        desired.applications.retain(|a| a.roles.iter().all(|r| names.contains(r)));
        let plan = plan(&desired, &server(&held), prune).unwrap();
        let phases: Vec<u8> = plan.steps.iter().map(Step::phase).collect();
        prop_assert!(phases.windows(2).all(|w| w[0] <= w[1]), "{phases:?}");
        let removes = plan.steps.iter().any(|s| matches!(s, Step::RemoveApplication { .. } | Step::RemoveRole { .. }));
        prop_assert!(prune || !removes);
        for step in &plan.steps {
            if let Step::CreateApplication { app, .. } = step {
                prop_assert!(!held.applications.iter().any(|h| h.name == app.name));
            }
        }
    }
}
