use super::*;

fn places(text: &str) -> Vec<String> {
    let env = |name: &str| (name == "PARTNER").then(|| "acme".to_owned());
    match load(text, &env) {
        Ok(_) => vec![],
        Err(problems) => problems.into_iter().map(|p| p.place).collect(),
    }
}

const GOOD: &str = "
apiVersion: casebook/v1
roles:
  - name: Intake
    permissions: [engage:view, engage:create]
applications:
  - name: ${PARTNER} bridge
    email: ops@${PARTNER}.example
    roles: [Intake]
    allowed_sources: [203.0.113.0/24]
    federated_credentials:
      - name: ci
        issuer: https://ci.example
        jwks_uri: https://ci.example/jwks
        subject: repo:acme/exporter
";

#[test]
fn a_good_file_loads_with_its_variables() {
    let env = |name: &str| (name == "PARTNER").then(|| "acme".to_owned());
    let config = load(GOOD, &env).expect("loads");
    assert_eq!(config.applications[0].name, "acme bridge");
    assert_eq!(config.applications[0].email, "ops@acme.example");
    assert!(config.applications[0].enabled);
}

#[test]
fn every_error_names_its_place() {
    let check = |edit: (&str, &str), expected: &[&str]| {
        let text = GOOD.replace(edit.0, edit.1);
        assert_eq!(places(&text), expected, "{text}");
    };
    check(("ops@${PARTNER}.example", "not-an-address"), &["applications[0].email"]);
    check(("${PARTNER}.example", "${MISSING}.example"), &["applications[0].email"]);
    check(("[Intake]\n    allowed", "[]\n    allowed"), &["applications[0].roles"]);
    check(
        ("[engage:view, engage:create]", "[engage:fly]"),
        &["roles[0].permissions"],
    );
    check(
        ("203.0.113.0/24", "203.0.113.7/24"),
        &["applications[0].allowed_sources"],
    );
    check(
        ("jwks_uri: https://ci.example/jwks", "jwks_uri: http://ci.example/jwks"),
        &["applications[0].federated_credentials[0].jwks_uri"],
    );
    check(
        ("    roles: [Intake]", "    roles: [Intake]\n    colour: red"),
        &["applications[0].colour"],
    );
    check(("    roles: [Intake]", "    roles: Intake"), &["applications[0].roles"]);
    check(("casebook/v1", "casebook/v2"), &["apiVersion"]);
}

#[test]
fn a_duplicate_name_is_named() {
    let text = format!("{GOOD}  - name: ${{PARTNER}} bridge\n    email: b@b.example\n    roles: [Intake]\n");
    assert_eq!(places(&text), ["applications[1].name"]);
}

#[test]
fn variables_expand_and_escape() {
    let env = |name: &str| (name == "A").then(|| "x".to_owned());
    assert_eq!(expand("${A}-$${A}-$5", &env).unwrap(), "x-${A}-$5");
    assert!(expand("${B}", &env).unwrap_err().contains("B is not set"));
    assert!(expand("${A", &env).is_err());
}

#[test]
fn fields_and_pointers_join_places() {
    assert_eq!(join("applications[2]", "email"), "applications[2].email");
    assert_eq!(
        join("applications[2]", "/jwks/keys/0/kty"),
        "applications[2].jwks.keys[0].kty"
    );
    assert_eq!(join("", "email"), "email");
}

#[test]
fn yaml_that_is_not_yaml_fails_without_panic() {
    assert!(!places("apiVersion: [unclosed").is_empty());
}

#[test]
fn the_tools_own_settings_are_never_read_into_the_file() {
    let env = |_: &str| Some("cbs_the_pipelines_own_secret".to_owned());
    let text = GOOD.replace(
        "email: ops@${PARTNER}.example",
        "email: ops@acme.example\n    description: ${CASEBOOK_CLIENT_SECRET}",
    );
    let problems = load(&text, &env).expect_err("refused");
    assert!(problems.iter().any(|p| p.message.contains("CASEBOOK_")), "{problems:?}");
    assert!(
        problems
            .iter()
            .all(|p| !p.message.contains("cbs_the_pipelines_own_secret")),
        "{problems:?}"
    );
}
