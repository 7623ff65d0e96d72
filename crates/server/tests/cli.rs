//! `casebook keys rotate` as an operator runs it: a separate process on the
//! install's database, its effect read back from storage.

use casebook_server::config::Backend;
use casebook_server::db::Db;
use casebook_server::store;
use std::process::Command;

fn casebook(database_url: &str, args: &[&str], alg_variable: Option<&str>) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_casebook"));
    command
        .args(args)
        .env("CASEBOOK_DATABASE_URL", database_url)
        .env_remove("CASEBOOK_MASTER_KEY")
        .env_remove("CASEBOOK_TOKEN_SIGNING_ALG");
    if let Some(alg) = alg_variable {
        command.env("CASEBOOK_TOKEN_SIGNING_ALG", alg);
    }
    command.output().expect("run casebook")
}

fn rotate(database_url: &str, args: &[&str], alg_variable: Option<&str>) -> String {
    let args = [&["keys", "rotate"], args].concat();
    let out = casebook(database_url, &args, alg_variable);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "keys rotate failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn scratch_sqlite() -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("casebook-cli-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}/casebook.db", dir.display());
    (dir, url)
}

#[tokio::test]
async fn keys_rotate_retires_the_current_key_and_publishes_a_new_one() {
    let (dir, url) = scratch_sqlite();

    let now = rotate(&url, &["--notice", "0"], None);
    assert!(now.contains("is current"), "{now}");
    let later = rotate(&url, &["--notice", "600"], None);
    assert!(later.contains("signs from 600 s on"), "{later}");

    let db = Db::connect(&url, Backend::Sqlite).await.expect("database");
    let keys = store::published_signing_keys(&store::Scope::root(db.clone()), i64::MIN)
        .await
        .expect("keys");
    // The key a new database starts with, and one per rotation.
    assert_eq!(keys.len(), 3, "{keys:?}");
    let unretired: Vec<_> = keys.iter().filter(|k| k.retired_at.is_none()).collect();
    assert_eq!(unretired.len(), 1, "exactly one key is not retired");
    let newest = unretired[0];
    assert!(
        later.contains(&newest.kid),
        "the printed kid is the stored one: {later}"
    );
    assert!(
        newest.activates_at > db.now_micros() + 590_000_000,
        "the new key signs only after its notice"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn keys_rotate_makes_a_key_of_the_algorithm_it_is_given() {
    let (dir, url) = scratch_sqlite();
    // A new database's first key, then one per rotation: --alg wins over the
    // variable, the variable over the default (RS256).
    let said = rotate(&url, &["--alg", "ES256"], Some("EdDSA"));
    assert!(said.contains("new ES256 signing key"), "{said}");
    rotate(&url, &[], Some("EdDSA"));
    rotate(&url, &[], None);

    let db = Db::connect(&url, Backend::Sqlite).await.expect("database");
    let keys = store::published_signing_keys(&store::Scope::root(db.clone()), i64::MIN)
        .await
        .expect("keys");
    let mut algs: Vec<&str> = keys.iter().map(|k| k.alg.as_str()).collect();
    // Newest first; the first key was made by loading the new database, with --alg's algorithm.
    algs.reverse();
    assert_eq!(algs, ["ES256", "ES256", "EdDSA", "RS256"], "{keys:?}");

    for bad in [
        &["keys", "rotate", "--alg", "HS256"][..],
        &["keys", "rotate", "--alg", "rs256"],
    ] {
        let out = casebook(&url, bad, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad:?} succeeded");
        assert!(stderr.contains("use RS256, ES256 or EdDSA"), "{stderr}");
    }
    let out = casebook(&url, &["keys", "rotate"], Some("none"));
    assert!(!out.status.success(), "CASEBOOK_TOKEN_SIGNING_ALG=none was accepted");
    assert_eq!(
        store::published_signing_keys(&store::Scope::root(db.clone()), i64::MIN)
            .await
            .expect("keys")
            .len(),
        4,
        "nothing changed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn run(database_url: &str, args: &[&str]) -> (String, String, Option<i32>) {
    let out = casebook(database_url, args, None);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

/// `casebook tenants …` and `keys rotate --tenant | --all-tenants`, as a
/// platform team runs them on the host (the contract, "Tenants").
#[tokio::test]
async fn tenants_are_managed_and_their_keys_rotated_from_the_host() {
    let (dir, url) = scratch_sqlite();
    assert_eq!(run(&url, &["migrate"]).2, Some(0));
    let password = dir.join("password");
    std::fs::write(&password, "a long enough password\n").expect("password file");
    let (out, err, code) = run(
        &url,
        &[
            "tenants",
            "create",
            "acme",
            "--name",
            "Acme County",
            "--admin-email",
            "it@acme.example.org",
            "--admin-password-file",
            password.to_str().unwrap(),
            "--json",
            "--public-url",
            "https://cb.example.org",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let created: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(created["slug"], "acme");
    assert_eq!(created["base_url"], "https://cb.example.org/t/acme");
    assert!(
        created.get("admin_password").is_none(),
        "a given password is not printed"
    );
    let (out, err, code) = run(
        &url,
        &[
            "tenants",
            "create",
            "beta",
            "--name",
            "Beta",
            "--admin-email",
            "it@beta.example.org",
            "--json",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let created: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert!(
        created["admin_password"].as_str().is_some_and(|p| p.len() >= 12),
        "{created}"
    );
    // A bad form: every field error, and exit 2.
    let (_, err, code) = run(
        &url,
        &["tenants", "create", "X_bad", "--name", " ", "--admin-email", "nope"],
    );
    assert_eq!(code, Some(2));
    for field in ["slug", "name", "admin_email"] {
        assert!(err.contains(field), "{err}");
    }

    let (out, _, code) = run(&url, &["tenants", "list", "--json"]);
    assert_eq!(code, Some(0));
    let listed: serde_json::Value = serde_json::from_str(&out).expect("a JSON array");
    let slugs: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["acme", "beta", "root"]);

    // Keys: one tenant's rotation touches no other's.
    let db = Db::connect(&url, Backend::Sqlite).await.expect("database");
    let acme = store::tenant_by_slug(&db, "acme").await.unwrap().expect("acme");
    let kids = |tenant_id: String| {
        let db = db.clone();
        async move {
            store::published_signing_keys(&store::Scope::new(db, tenant_id), i64::MIN)
                .await
                .expect("keys")
                .into_iter()
                .map(|k| k.kid)
                .collect::<Vec<_>>()
        }
    };
    let root_before = kids("root".into()).await;
    let said = rotate(&url, &["--tenant", "acme"], None);
    // Its first key (made on first use) and the rotation's.
    assert_eq!(kids(acme.id.clone()).await.len(), 2, "{said}");
    assert_eq!(kids("root".into()).await, root_before, "the root's keys are untouched");
    let said = rotate(&url, &["--all-tenants"], None);
    for slug in ["acme", "beta", "root"] {
        assert!(said.contains(&format!("rotated {slug}")), "{said}");
    }
    assert_eq!(kids(acme.id.clone()).await.len(), 3);
    let (_, err, code) = run(&url, &["keys", "rotate", "--tenant", "nosuch"]);
    assert_eq!(code, Some(2), "{err}");

    // Disable, enable, delete (only with the slug repeated).
    assert_eq!(run(&url, &["tenants", "disable", "acme"]).2, Some(0));
    assert!(!store::tenant_by_slug(&db, "acme").await.unwrap().unwrap().enabled);
    assert_eq!(run(&url, &["tenants", "enable", "acme"]).2, Some(0));
    assert_eq!(
        run(&url, &["tenants", "delete", "acme", "--confirm", "beta"]).2,
        Some(2)
    );
    assert!(
        store::tenant_by_slug(&db, "acme").await.unwrap().is_some(),
        "nothing was deleted"
    );
    assert_eq!(
        run(&url, &["tenants", "delete", "acme", "--confirm", "acme"]).2,
        Some(0)
    );
    assert!(store::tenant_by_slug(&db, "acme").await.unwrap().is_none());
    assert!(kids(acme.id).await.is_empty(), "its keys went with it");
    assert_eq!(run(&url, &["tenants", "disable", "root"]).2, Some(2));

    // Each of those changes is in the trail, by the operator at the host.
    let root = store::Scope::root(db.clone());
    let trail = store::list_audit(&root, None, 100, store::AuditFilter::default())
        .await
        .expect("the root's trail")
        .items;
    let by_operator = |action: &str| {
        trail
            .iter()
            .filter(|e| e.action == action)
            .map(|e| (e.actor.kind, e.actor.id.as_str(), e.actor.name.as_str()))
            .collect::<Vec<_>>()
    };
    let operator = (casebook_domain::AccountKind::Operator, "cli", "casebook CLI");
    assert_eq!(by_operator("tenant.created"), [operator; 2]);
    assert_eq!(by_operator("tenant.disabled"), [operator]);
    assert_eq!(by_operator("tenant.enabled"), [operator]);
    assert_eq!(by_operator("tenant.deleted"), [operator]);
    // The root's key was rotated once (with --all-tenants).
    assert_eq!(by_operator("keys.rotated"), [operator]);
    let _ = std::fs::remove_dir_all(&dir);
}
