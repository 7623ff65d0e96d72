//! Master key rotation (the contract's "Upgrades and key custody"): a live
//! install moves to a new master key without a partner noticing. Replicas
//! restart with the new key current and the old one previous, `casebook
//! master-key rotate` (the binary, as an operator runs it) seals everything
//! again, and a server with only the new key serves every secret, reveal,
//! token and leak report of before. `casebook check` tells what is left.

use crate::leaks::{KEY_ID, alert, report, sign, with_scanning};
use casebook_server::crypto::MasterKey;
use casebook_tests::*;
use serde_json::{Value, json};

/// A server of the install with `current` as its master key and `previous`
/// as keys that may still open values.
fn keyed(current: &str, previous: &[&str]) -> Spawn {
    Spawn {
        master_key: Some(current.to_owned()),
        previous_master_keys: previous.iter().map(|k| (*k).to_owned()).collect(),
        ..with_scanning()
    }
}

/// What a run of the binary printed.
#[derive(Debug)]
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn succeeded(&self) -> bool {
        self.code == Some(0)
    }

    fn says(&self, needle: &str) -> bool {
        self.stdout.contains(needle) || self.stderr.contains(needle)
    }
}

/// `casebook <args>` against the database at `url`, with `vars` set.
async fn casebook(args: &[&str], url: &str, vars: &[(&str, &str)]) -> Option<Ran> {
    let binary = casebook_binary()?;
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let mut vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    vars.push(("CASEBOOK_DATABASE_URL".into(), url.to_owned()));
    let output = tokio::task::spawn_blocking(move || {
        casebook_command(&binary)
            .args(args)
            .envs(vars)
            .output()
            .expect("run casebook")
    })
    .await
    .expect("join");
    Some(Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

async fn rotate_secret(app: &TestApp, admin: &str, app_id: &str, grace_seconds: u64) -> String {
    let rotated = expect(
        app.post_json(
            &format!("/admin/v1/external-applications/{app_id}/client-secret/rotate"),
            admin,
            &json!({"password": ADMIN_PASSWORD, "grace_period_seconds": grace_seconds}),
        )
        .await,
        200,
    )
    .await;
    rotated["client_secret"].as_str().expect("secret").to_owned()
}

fn id(view: &Value) -> String {
    view["id"].as_str().expect("id").to_owned()
}

fn no_key_in(ran: &Ran, keys: &[&str]) {
    for key in keys {
        assert!(!ran.says(key), "a master key in the output: {ran:#?}");
    }
}

both_backends!(
    a_live_install_moves_to_a_new_master_key,
    spawn = with_scanning(),
    |app: TestApp| async move {
        if casebook_binary().is_none() {
            return;
        }
        let old = app.master_key.clone();
        let new = MasterKey::generate_base64();
        let admin = app.admin_token().await;
        // Alpha: one secret, revealed. Beta: in the grace period of a
        // rotation, so two secrets. Gamma: a secret ended by a rotation
        // without grace, known to leak reports by its MAC alone.
        let (alpha, alpha_client, alpha_secret) = app.partner(&admin, "Alpha Partner", &["engage-worker"]).await;
        let (beta, beta_client, beta_old) = app.partner(&admin, "Beta Partner", &["engage-worker"]).await;
        let beta_new = rotate_secret(&app, &admin, &id(&beta), 86_400).await;
        let (gamma, gamma_client, gamma_ended) = app.partner(&admin, "Gamma Partner", &["engage-worker"]).await;
        let gamma_secret = rotate_secret(&app, &admin, &id(&gamma), 0).await;
        let signed_before = app.access_token(&alpha_client, &alpha_secret).await;

        // Step 1: every replica restarts with the new key current and the old
        // one previous. Both open everything; what they write is sealed new.
        let first = app.beside(keyed(&new, &[&old])).await;
        let second = first.beside(keyed(&new, &[&old])).await;
        let pairs = [
            (&alpha_client, &alpha_secret),
            (&beta_client, &beta_old),
            (&beta_client, &beta_new),
            (&gamma_client, &gamma_secret),
        ];
        for (client, secret) in pairs {
            assert_eq!(first.token_response(client, secret, None).await.status(), 200);
            assert_eq!(second.token_response(client, secret, None).await.status(), 200);
        }
        assert_eq!(
            first.token_response(&gamma_client, &gamma_ended, None).await.status(),
            401
        );
        let admin = second.admin_token().await;
        assert_eq!(second.reveal(&admin, &id(&alpha)).await, alpha_secret);
        let (delta, delta_client, delta_secret) = second.partner(&admin, "Delta Partner", &["engage-worker"]).await;
        assert_eq!(
            first.token_response(&delta_client, &delta_secret, None).await.status(),
            200
        );

        // Step 2: seal everything under the new key, while both serve.
        let ran = casebook(
            &["master-key", "rotate", "--batch-size", "2"],
            &app.db.url,
            &[("CASEBOOK_MASTER_KEY", &new), ("CASEBOOK_PREVIOUS_MASTER_KEYS", &old)],
        )
        .await
        .unwrap();
        assert!(ran.succeeded(), "{ran:#?}");
        assert!(ran.stderr.contains("re-sealed 2/5 client secrets"), "{ran:#?}");
        assert!(ran.stdout.contains("5 client secret(s)"), "{ran:#?}");
        assert!(ran.stdout.contains("next: remove the old key"), "{ran:#?}");
        no_key_in(&ran, &[&old, &new]);
        for (client, secret) in pairs {
            assert_eq!(first.token_response(client, secret, None).await.status(), 200);
        }

        // Step 3: the old key is dropped. A server with only the new one
        // serves every secret, reveal, token and leak report of before.
        let only_new = app.beside(keyed(&new, &[])).await;
        for (client, secret) in pairs.into_iter().chain([(&delta_client, &delta_secret)]) {
            assert_eq!(
                only_new.token_response(client, secret, None).await.status(),
                200,
                "{client}"
            );
        }
        let admin = only_new.admin_token().await;
        assert_eq!(only_new.reveal(&admin, &id(&alpha)).await, alpha_secret);
        assert_eq!(only_new.reveal(&admin, &id(&delta)).await, delta_secret);
        // The rotation is in the trail, by the operator at the host.
        let trail = expect(
            only_new
                .get("/admin/v1/audit-events?action=master_key.rotated", &admin)
                .await,
            200,
        )
        .await;
        let rotated = &trail["items"][0];
        assert_eq!(
            rotated["actor"],
            serde_json::json!({"kind": "operator", "id": "cli", "name": "casebook CLI"}),
            "{trail}"
        );
        assert!(!trail.to_string().contains(&new) && !trail.to_string().contains(&old));
        let signed_after = only_new.access_token(&beta_client, &beta_new).await;
        for token in [&signed_before, &signed_after] {
            assert_eq!(only_new.get("/api/v1/me", token).await.status(), 200);
            verify_with_jsonwebtoken(&only_new, token)
                .await
                .expect("verifies against the published keys");
        }
        let body = alert(&[&gamma_ended]);
        let verdicts = expect(report(&only_new, &body, Some(KEY_ID), Some(&sign(&body))).await, 200).await;
        assert_eq!(verdicts[0]["label"], "true_positive", "{verdicts}");
        // After a rotation every replica reads the header, so every new
        // value names its key, outside a rotation too.
        let (epsilon, _, _) = only_new.partner(&admin, "Epsilon Partner", &["engage-worker"]).await;
        let row = sqlx::query("SELECT secret_ciphertext FROM client_secrets WHERE application_id = $1")
            .bind(id(&epsilon))
            .fetch_one(only_new.running.state.db().pool())
            .await
            .expect("the new secret");
        let sealed: Vec<u8> = sqlx::Row::try_get(&row, "secret_ciphertext").expect("sealed");
        assert_eq!(sealed[0], 0xCB, "a value sealed after the rotation names its key");

        // And the old key alone opens none of it any more.
        let checked = casebook(&["check"], &app.db.url, &[("CASEBOOK_MASTER_KEY", &new)])
            .await
            .unwrap();
        assert!(checked.succeeded(), "{checked:#?}");
        assert!(checked.stdout.contains("sealed values: all "), "{checked:#?}");
        assert!(!checked.stdout.contains("previous key"), "{checked:#?}");
    }
);

both_backends!(
    a_rotation_can_be_run_again_and_catches_what_it_missed,
    |app: TestApp| async move {
        if casebook_binary().is_none() {
            return;
        }
        let old = app.master_key.clone();
        let new = MasterKey::generate_base64();
        let admin = app.admin_token().await;
        let mut partners = Vec::new();
        for name in ["One Partner", "Two Partner", "Three Partner"] {
            let (_, client, secret) = app.partner(&admin, name, &["engage-worker"]).await;
            partners.push((client, secret));
        }
        let vars = [
            ("CASEBOOK_MASTER_KEY", new.as_str()),
            ("CASEBOOK_PREVIOUS_MASTER_KEYS", old.as_str()),
        ];
        let rotate = || casebook(&["master-key", "rotate", "--batch-size", "2"], &app.db.url, &vars);
        let ran = rotate().await.unwrap();
        assert!(ran.succeeded(), "{ran:#?}");
        assert!(
            ran.stdout.contains("; 5 re-sealed"),
            "3 secrets, a signing key, the MAC key: {ran:#?}"
        );
        // A replica still on the old key writes after the run (an operator
        // who skipped a restart, or a run stopped half way): the next run
        // re-seals only that.
        let (_, late_client, late_secret) = app.partner(&admin, "Late Partner", &["engage-worker"]).await;
        partners.push((late_client, late_secret));
        let again = rotate().await.unwrap();
        assert!(again.succeeded(), "{again:#?}");
        // Already under the new key: the five of the first run, and the
        // mark that run left (from then on every value names its key).
        assert!(again.stdout.contains("; 1 re-sealed"), "{again:#?}");
        assert!(again.stdout.contains("6 already were"), "{again:#?}");
        let idle = rotate().await.unwrap();
        assert!(idle.succeeded(), "{idle:#?}");
        assert!(idle.stdout.contains("; 0 re-sealed"), "{idle:#?}");
        assert!(idle.stdout.contains("7 already were"), "{idle:#?}");

        let only_new = app.beside(keyed(&new, &[])).await;
        for (client, secret) in &partners {
            assert_eq!(only_new.token_response(client, secret, None).await.status(), 200);
        }
    }
);

both_backends!(
    check_tells_what_the_configured_keys_do_not_open,
    |app: TestApp| async move {
        if casebook_binary().is_none() {
            return;
        }
        let old = app.master_key.clone();
        let new = MasterKey::generate_base64();
        let admin = app.admin_token().await;
        app.partner(&admin, "Checked Partner", &["engage-worker"]).await;
        // The keys in files, as systemd credentials or mounted secrets hold them.
        let dir = std::env::temp_dir().join(format!("casebook-keys-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let (new_file, old_file) = (dir.join("new.key"), dir.join("previous.keys"));
        std::fs::write(&new_file, format!("{new}\n")).unwrap();
        std::fs::write(&old_file, format!("{old}\n")).unwrap();
        let (new_path, old_path) = (new_file.display().to_string(), old_file.display().to_string());
        let files = [
            ("CASEBOOK_MASTER_KEY_FILE", new_path.as_str()),
            ("CASEBOOK_PREVIOUS_MASTER_KEYS_FILE", old_path.as_str()),
        ];

        let midway = casebook(&["check"], &app.db.url, &files).await.unwrap();
        assert!(midway.succeeded(), "{midway:#?}");
        assert!(
            midway.stdout.contains("still sealed under a previous key"),
            "{midway:#?}"
        );

        let ran = casebook(&["master-key", "rotate"], &app.db.url, &files).await.unwrap();
        assert!(ran.succeeded(), "{ran:#?}");

        let stale = casebook(&["check"], &app.db.url, &[("CASEBOOK_MASTER_KEY", &old)])
            .await
            .unwrap();
        assert_eq!(stale.code, Some(1), "{stale:#?}");
        let errors: Vec<&str> = stale.stdout.lines().filter(|l| l.starts_with("error: ")).collect();
        assert_eq!(errors.len(), 1, "{stale:#?}");
        assert!(
            errors[0].contains("does not open 1 of 1 stored signing keys"),
            "{stale:#?}"
        );
        assert!(errors[0].contains("1 of 1 client secrets"), "{stale:#?}");
        assert!(errors[0].contains("the client-secret MAC key"), "{stale:#?}");
        no_key_in(&stale, &[&old, &new]);

        let done = casebook(&["check"], &app.db.url, &files).await.unwrap();
        assert!(done.succeeded(), "{done:#?}");
        assert!(done.stdout.contains("open nothing any more"), "{done:#?}");

        let both = casebook(
            &["check"],
            &app.db.url,
            &[("CASEBOOK_MASTER_KEY", new.as_str()), files[0]],
        )
        .await
        .unwrap();
        assert_eq!(both.code, Some(1), "{both:#?}");
        assert!(both.stdout.contains("are both set"), "{both:#?}");
        std::fs::remove_dir_all(&dir).ok();
    }
);

both_backends!(
    an_upgrade_begun_with_a_new_key_keeps_every_mac,
    |app: TestApp| async move {
        let old = app.master_key.clone();
        let new = MasterKey::generate_base64();
        let admin = app.admin_token().await;
        let (view, client, secret) = app.partner(&admin, "Early Partner", &["engage-worker"]).await;
        let kept = rotate_secret(&app, &admin, &id(&view), 86_400).await;
        // As a database of a release before the MAC key was stored: its MACs
        // were made under the key derived from the old master key.
        sqlx::query("DELETE FROM install_keys")
            .execute(app.running.state.db().pool())
            .await
            .expect("forget the stored MAC key");
        // The first start of this release already has the new key current:
        // the stored MACs, not the current key, say which key made them.
        let upgraded = app.beside(keyed(&new, &[&old])).await;
        assert_eq!(upgraded.token_response(&client, &secret, None).await.status(), 200);
        assert_eq!(upgraded.token_response(&client, &kept, None).await.status(), 200);
        let second_replica = upgraded.beside(keyed(&new, &[&old])).await;
        assert_eq!(second_replica.token_response(&client, &kept, None).await.status(), 200);
    }
);
