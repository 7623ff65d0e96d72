//! `casebookctl` (SPEC "Configuration as code") against the real server:
//! export, plan with Terraform's exit codes, apply and apply again, prune
//! only when asked, errors named by their place in the file, secrets kept
//! out of stdout, the grant rule's refusal read aloud, and every field of
//! an application through a round trip.

use crate::federated::{CLUSTER, EXPORTER, Issuer};
use crate::jose::Key;
use casebook_cli::file::{ApplicationSpec, AuthMethod, Config, FederatedSpec, RoleSpec, to_yaml};
use casebook_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, both_backends, id_of};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;

struct Run {
    code: i32,
    out: String,
    err: String,
}

/// A file of its own for each call site, removed with the directory at the end.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("casebookctl-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir.join(name)
}

async fn ctl(app: &TestApp, credentials: &[(&str, &str)], args: &[&str]) -> Run {
    let mut env: BTreeMap<String, String> = credentials
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.insert("CASEBOOK_URL".into(), app.base_url.clone());
    env.insert("PARTNER_DOMAIN".into(), "acme.example".into());
    let args = std::iter::once("casebookctl")
        .chain(args.iter().copied())
        .map(str::to_owned);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = casebook_cli::run(args, &env, &mut out, &mut err).await;
    Run {
        code,
        out: String::from_utf8(out).expect("utf-8"),
        err: String::from_utf8(err).expect("utf-8"),
    }
}

const PERSON: [(&str, &str); 2] = [("CASEBOOK_EMAIL", ADMIN_EMAIL), ("CASEBOOK_PASSWORD", ADMIN_PASSWORD)];

async fn person(app: &TestApp, args: &[&str]) -> Run {
    ctl(app, &PERSON, args).await
}

fn expect_code(run: &Run, code: i32, what: &str) {
    assert_eq!(run.code, code, "{what}\nstdout:\n{}\nstderr:\n{}", run.out, run.err);
}

fn write(path: &PathBuf, config: &Config) {
    std::fs::write(path, to_yaml(config).expect("yaml")).expect("write");
}

async fn exported(app: &TestApp) -> Config {
    let run = person(app, &["export"]).await;
    expect_code(&run, 0, "export");
    let env = |_: &str| None;
    casebook_cli::load::load(&run.out, &env).expect("the export loads")
}

fn role(name: &str, permissions: &[&str]) -> RoleSpec {
    RoleSpec {
        name: name.into(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
    }
}

fn application(name: &str, roles: &[&str]) -> ApplicationSpec {
    ApplicationSpec {
        name: name.into(),
        email: format!("{}@partner.example.org", name.to_lowercase().replace(' ', "-")),
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

both_backends!(export_plan_edit_apply_and_plan_again, |app: TestApp| async move {
    // An application holding the Administrator role, as a pipeline signs
    // in; a person's sign-ins are throttled, a pipeline's tokens are not.
    let (_, client_id, secret) = app
        .partner(&app.admin_token().await, "Deployer", &["administrator"])
        .await;
    let as_app = [
        ("CASEBOOK_CLIENT_ID", client_id.as_str()),
        ("CASEBOOK_CLIENT_SECRET", secret.as_str()),
    ];
    let file = scratch("tenant.yaml");
    let path = file.to_str().expect("path");
    let run = ctl(&app, &as_app, &["export", "-o", path]).await;
    expect_code(&run, 0, "export");
    let text = std::fs::read_to_string(&file).expect("exported");
    assert!(text.starts_with("apiVersion: casebook/v1"), "{text}");
    assert!(
        !text.contains("id:") && !text.contains("cb_") && !text.contains("cbs_"),
        "{text}"
    );
    expect_code(
        &ctl(&app, &as_app, &["plan", "-f", path]).await,
        0,
        "a fresh export plans nothing",
    );

    // The edit a pull request makes: a role and an application holding it,
    // its email taken from the environment.
    let mut config = exported(&app).await;
    config
        .roles
        .push(role("Intake Bridge", &["engage:view", "engage:create"]));
    let mut bridge = application("Acme Bridge", &["Intake Bridge"]);
    bridge.email = "ops@${PARTNER_DOMAIN}".into();
    config.applications.push(bridge);
    write(&file, &config);
    let run = ctl(&app, &as_app, &["plan", "-f", path]).await;
    expect_code(&run, 2, "the edit is a change");
    assert!(run.out.contains("+ role \"Intake Bridge\""), "{}", run.out);
    assert!(run.out.contains("+ application \"Acme Bridge\""), "{}", run.out);
    assert!(
        run.out.contains("Plan: 2 to add, 0 to change, 0 to remove."),
        "{}",
        run.out
    );

    let run = ctl(&app, &as_app, &["apply", "-f", path]).await;
    expect_code(&run, 0, "apply");
    expect_code(
        &ctl(&app, &as_app, &["plan", "-f", path]).await,
        0,
        "applied, nothing is left",
    );
    let run = ctl(&app, &as_app, &["apply", "-f", path]).await;
    expect_code(&run, 0, "apply again");
    assert!(
        run.out.contains("No changes") && run.out.contains("0 step(s)"),
        "{}",
        run.out
    );

    // A field changed: shown old → new, applied through PATCH.
    let mut config = exported(&app).await;
    let bridge = config
        .applications
        .iter_mut()
        .find(|a| a.name == "Acme Bridge")
        .expect("bridge");
    assert_eq!(bridge.email, "ops@acme.example");
    bridge.token_quota_per_hour = Some(500);
    bridge.description = Some("Files intake forms".into());
    write(&file, &config);
    let run = ctl(&app, &as_app, &["plan", "-f", path]).await;
    expect_code(&run, 2, "a changed field");
    assert!(run.out.contains("~ application \"Acme Bridge\""), "{}", run.out);
    assert!(run.out.contains("token_quota_per_hour: (none) → 500"), "{}", run.out);
    assert!(
        run.out.contains("description: (none) → \"Files intake forms\""),
        "{}",
        run.out
    );
    expect_code(&ctl(&app, &as_app, &["apply", "-f", path]).await, 0, "apply the change");
    expect_code(
        &ctl(&app, &as_app, &["plan", "-f", path]).await,
        0,
        "changed, nothing is left",
    );

    // Pruning away the application casebookctl signs in as is refused.
    let mut config = exported(&app).await;
    config.applications.retain(|a| a.name != "Deployer");
    write(&file, &config);
    let run = ctl(&app, &as_app, &["plan", "-f", path, "--prune"]).await;
    expect_code(&run, 1, "not its own application");
    assert!(run.err.contains("signed in as"), "{}", run.err);

    // Every change went through the admin API: the trail has them.
    let events = app
        .sdk_admin()
        .await
        .admin()
        .audit_events()
        .action("application.")
        .all()
        .await;
    assert!(
        events
            .expect("events")
            .iter()
            .any(|e| format!("{e:?}").contains("Acme Bridge"))
    );
});

both_backends!(prune_removes_only_when_asked, |app: TestApp| async move {
    let file = scratch("tenant.yaml");
    let path = file.to_str().expect("path");
    let mut config = exported(&app).await;
    config.roles.push(role("Spare", &["engage:view"]));
    config.applications.push(application("Old Export", &["Spare"]));
    write(&file, &config);
    expect_code(&person(&app, &["apply", "-f", path]).await, 0, "apply");

    config.applications.retain(|a| a.name != "Old Export");
    config.roles.retain(|r| r.name != "Spare");
    write(&file, &config);
    let run = person(&app, &["plan", "-f", path]).await;
    expect_code(&run, 0, "without --prune nothing is removed");
    assert!(run.out.contains("--prune would remove them"), "{}", run.out);
    let run = person(&app, &["apply", "-f", path]).await;
    expect_code(&run, 0, "apply without prune");
    assert_eq!(exported(&app).await.applications.len(), 1);

    let run = person(&app, &["plan", "-f", path, "--prune"]).await;
    expect_code(&run, 2, "prune plans the removals");
    assert!(
        run.out.contains("- application \"Old Export\"") && run.out.contains("- role \"Spare\""),
        "{}",
        run.out
    );
    let run = person(&app, &["apply", "-f", path, "--prune"]).await;
    expect_code(&run, 0, "apply --prune");
    assert!(run.out.contains("removed application \"Old Export\""), "{}", run.out);
    expect_code(&person(&app, &["plan", "-f", path, "--prune"]).await, 0, "pruned");
    let now = exported(&app).await;
    assert!(now.applications.is_empty() && !now.roles.iter().any(|r| r.name == "Spare"));
});

both_backends!(offline_errors_name_their_place, |app: TestApp| async move {
    let file = scratch("tenant.yaml");
    let path = file.to_str().expect("path");
    std::fs::write(
        &file,
        "apiVersion: casebook/v1
roles:
  - name: Intake
    permissions: [engage:view, engage:fly]
applications:
  - name: Good
    email: good@partner.example.org
    roles: [Intake]
  - name: Bad
    email: not an address
    roles: [Intake]
    token_quota_per_hour: 0
    federated_credentials:
      - name: ci
        issuer: https://ci.example
        subject: repo:acme/x
  - name: Unset
    email: ${NOT_SET_ANYWHERE}
    roles: [Intake]
",
    )
    .expect("write");
    // No credentials at all: the file is refused before the server is asked.
    let run = ctl(&app, &[], &["plan", "-f", path]).await;
    expect_code(&run, 1, "variables first");
    assert!(
        run.err
            .contains("applications[2].email: the environment variable NOT_SET_ANYWHERE is not set"),
        "{}",
        run.err
    );
    let text = std::fs::read_to_string(&file)
        .expect("read")
        .replace("${NOT_SET_ANYWHERE}", "u@partner.example.org");
    std::fs::write(&file, text).expect("write");
    let run = ctl(&app, &[], &["plan", "-f", path]).await;
    expect_code(&run, 1, "offline errors");
    for place in [
        "roles[0].permissions",
        "applications[1].email",
        "applications[1].token_quota_per_hour",
        "applications[1].federated_credentials[0]",
    ] {
        assert!(run.err.contains(&format!("  {place}")), "{place}: {}", run.err);
    }
    assert!(!run.err.contains("applications[0]"), "{}", run.err);
    let run = ctl(&app, &[], &["validate", "-f", path]).await;
    expect_code(&run, 1, "validate says the same");
    assert!(run.err.contains("applications[1].email"), "{}", run.err);
});

both_backends!(secrets_go_to_their_file_only, |app: TestApp| async move {
    let file = scratch("tenant.yaml");
    let path = file.to_str().expect("path");
    let secrets = file.with_file_name("secrets.yaml");
    let mut config = exported(&app).await;
    config.roles.push(role("Reader", &["engage:view"]));
    config.applications.push(application("Secret Keeper", &["Reader"]));
    write(&file, &config);

    // An application cannot reveal secrets: refused before any change.
    let (_, client_id, secret) = app
        .partner(&app.admin_token().await, "Deployer", &["administrator"])
        .await;
    let as_app = [
        ("CASEBOOK_CLIENT_ID", client_id.as_str()),
        ("CASEBOOK_CLIENT_SECRET", secret.as_str()),
    ];
    let run = ctl(
        &app,
        &as_app,
        &["apply", "-f", path, "--secrets-out", secrets.to_str().expect("path")],
    )
    .await;
    expect_code(&run, 1, "secrets-out needs a person");
    assert!(run.err.contains("needs a person"), "{}", run.err);
    assert!(!secrets.exists());

    // A link placed where the secrets go is replaced, never written through.
    let victim = secrets.with_file_name("victim.txt");
    std::fs::write(&victim, "someone else's file").expect("victim");
    std::os::unix::fs::symlink(&victim, &secrets).expect("link");
    let run = person(
        &app,
        &["apply", "-f", path, "--secrets-out", secrets.to_str().expect("path")],
    )
    .await;
    expect_code(&run, 0, "apply with secrets-out");
    assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "someone else's file");
    assert!(!std::fs::symlink_metadata(&secrets).expect("secrets file").is_symlink());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&secrets).expect("secrets file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let kept = std::fs::read_to_string(&secrets).expect("read");
    let value: serde_json::Value = serde_saphyr::from_str(&kept).expect("secrets file reads");
    let entry = &value["applications"][0];
    assert_eq!(entry["name"], "Secret Keeper");
    let new_secret = entry["client_secret"].as_str().expect("secret");
    assert!(new_secret.starts_with("cbs_"));
    assert!(!run.out.contains(new_secret) && !run.err.contains(new_secret));
    // The secret is the application's: it gets a token.
    let new_client_id = entry["client_id"].as_str().expect("client_id");
    assert_eq!(app.token_response(new_client_id, new_secret, None).await.status(), 200);

    // A run that makes no new secret leaves the file as it was.
    let run = person(
        &app,
        &["apply", "-f", path, "--secrets-out", secrets.to_str().expect("path")],
    )
    .await;
    expect_code(&run, 0, "apply again with secrets-out");
    assert_eq!(std::fs::read_to_string(&secrets).expect("read"), kept);
});

both_backends!(
    a_caller_without_the_permissions_is_told_which,
    |app: TestApp| async move {
        let admin = app.admin_token().await;
        let limited = app
            .create_role(&admin, "Role Clerk", &["admin:view", "admin:create", "admin:edit"])
            .await;
        let (_, client_id, secret) = app.partner(&admin, "Clerk Tool", &[&id_of(&limited)]).await;
        let as_app = [
            ("CASEBOOK_CLIENT_ID", client_id.as_str()),
            ("CASEBOOK_CLIENT_SECRET", secret.as_str()),
        ];
        let file = scratch("tenant.yaml");
        let path = file.to_str().expect("path");
        let mut config = exported(&app).await;
        config.roles.push(role("Too Strong", &["engage:view", "engage:delete"]));
        write(&file, &config);
        expect_code(
            &ctl(&app, &as_app, &["plan", "-f", path]).await,
            2,
            "the clerk may plan",
        );
        let run = ctl(&app, &as_app, &["apply", "-f", path]).await;
        expect_code(&run, 1, "the grant rule refuses");
        assert!(run.err.contains("creating role \"Too Strong\""), "{}", run.err);
        assert!(run.err.contains("HTTP 403"), "{}", run.err);
        assert!(
            run.err.contains("engage:delete") && run.err.contains("engage:view"),
            "{}",
            run.err
        );
        assert!(run.err.contains("do not hold"), "{}", run.err);

        // Without admin:delete, prune's removal is refused and says so.
        app.create_role(&admin, "Spare Role", &["engage:view"]).await;
        let mut config = exported(&app).await;
        config.roles.retain(|r| r.name != "Spare Role");
        write(&file, &config);
        let run = ctl(&app, &as_app, &["apply", "-f", path, "--prune"]).await;
        expect_code(&run, 1, "no admin:delete");
        assert!(run.err.contains("removing role"), "{}", run.err);
        assert!(run.err.contains("admin:delete"), "{}", run.err);
    }
);

both_backends!(every_field_of_an_application_round_trips, |app: TestApp| async move {
    let file = scratch("tenant.yaml");
    let path = file.to_str().expect("path");
    let cluster = Issuer::new();
    let mut config = exported(&app).await;
    config.roles.push(role("Intake", &["engage:view"]));
    config.roles.push(role("Reports", &["engage:view", "engage:create"]));
    let mut full = application("Full Bridge", &["Intake", "Reports"]);
    full.application_url = Some("https://acme.example/casebook".into());
    full.description = Some("Every field".into());
    full.enabled = false;
    full.allowed_sources = Some(vec!["203.0.113.0/24".into(), "2001:db8::/48".into()]);
    full.token_quota_per_hour = Some(1000);
    full.dpop_bound_access_tokens = true;
    full.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
    full.jwks = Some(json!({"keys": [Key::rsa().public_jwk("partner-1")]}));
    let mut claims = serde_json::Map::new();
    claims.insert("kubernetes.io".into(), json!({"namespace": "payments"}));
    full.federated_credentials = vec![
        FederatedSpec {
            name: "payments-prod".into(),
            issuer: CLUSTER.into(),
            jwks: Some(cluster.jwks()),
            jwks_uri: None,
            subject: EXPORTER.into(),
            audience: Some("https://casebook.agency.example".into()),
            claims,
            max_token_lifetime_seconds: Some(3600),
            single_use: true,
        },
        FederatedSpec {
            name: "default-audience".into(),
            issuer: CLUSTER.into(),
            jwks: Some(cluster.jwks()),
            jwks_uri: None,
            subject: "system:serviceaccount:payments:other".into(),
            audience: None,
            claims: serde_json::Map::new(),
            max_token_lifetime_seconds: None,
            single_use: false,
        },
    ];
    config.applications.push(full.clone());
    write(&file, &config);
    expect_code(&person(&app, &["apply", "-f", path]).await, 0, "apply every field");
    expect_code(&person(&app, &["plan", "-f", path]).await, 0, "every field applied");

    let back = exported(&app).await;
    let mut shown = back
        .applications
        .iter()
        .find(|a| a.name == "Full Bridge")
        .expect("exported")
        .clone();
    assert_eq!(
        shown.federated_credentials[1].audience.as_deref(),
        Some(app.base_url.as_str())
    );
    shown.federated_credentials[1].audience = None;
    // A key sent without `use` is stored as a signing key, which the plan
    // above took for the same key.
    let mut expected = full.clone();
    let signing = |jwks: &mut Option<serde_json::Value>| {
        if let Some(key) = jwks.as_mut().and_then(|j| j["keys"].get_mut(0)) {
            key["use"] = json!("sig");
        }
    };
    signing(&mut expected.jwks);
    for credential in &mut expected.federated_credentials {
        signing(&mut credential.jwks);
    }
    assert_eq!(shown, expected);

    // And back: the keys move to a URL, a credential goes, the app is enabled.
    let mut config = back;
    let shown = config
        .applications
        .iter_mut()
        .find(|a| a.name == "Full Bridge")
        .expect("exported");
    shown.enabled = true;
    shown.federated_credentials.truncate(1);
    shown.federated_credentials[0].single_use = false;
    shown.allowed_sources = None;
    shown.description = None;
    write(&file, &config);
    let run = person(&app, &["plan", "-f", path]).await;
    expect_code(&run, 2, "changes");
    assert!(run.out.contains("enabled: false → true"), "{}", run.out);
    assert!(
        run.out.contains("- federated credential \"default-audience\""),
        "{}",
        run.out
    );
    assert!(
        run.out.contains("-/+ federated credential \"payments-prod\""),
        "{}",
        run.out
    );
    expect_code(&person(&app, &["apply", "-f", path]).await, 0, "apply");
    expect_code(&person(&app, &["plan", "-f", path]).await, 0, "applied");
    let again = exported(&app).await;
    let shown = again
        .applications
        .iter()
        .find(|a| a.name == "Full Bridge")
        .expect("exported");
    assert!(shown.enabled && shown.allowed_sources.is_none() && shown.description.is_none());
    assert_eq!(shown.federated_credentials.len(), 1);
});
