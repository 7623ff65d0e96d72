//! `casebook migrate [--dry-run]`, `serve --no-migrate`, the copy taken
//! before a SQLite database is migrated, and a SQLite install that never
//! starts anew beside half of an old one (the contract's "Upgrades and key
//! custody"), run as an operator runs them.

use casebook_tests::*;
use std::path::{Path, PathBuf};
use std::process::Output;

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn casebook(binary: &Path, url: &str, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = casebook_command(binary);
    command.args(args).env("CASEBOOK_DATABASE_URL", url);
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().expect("run casebook")
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cb-migrate-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// `serve` with `--no-migrate` where nothing listens for long: it must stop
/// at once with one line, or start (and is then killed).
fn serve_no_migrate(binary: &Path, url: &str) -> Output {
    let addr = free_addr().to_string();
    let mut command = casebook_command(binary);
    command
        .args(["serve", "--no-migrate", "--addr", &addr])
        .env("CASEBOOK_DATABASE_URL", url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("spawn");
    for _ in 0..50 {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().ok();
    child.wait_with_output().expect("output")
}

#[cfg(unix)]
#[test]
fn migrate_lists_then_applies_and_copies_a_database_that_holds_data_first() {
    use std::os::unix::fs::PermissionsExt;
    let Some(binary) = casebook_binary() else {
        return;
    };
    let dir = scratch();
    let db = dir.join("cb.db");
    let url = format!("sqlite://{}", db.display());

    let dry = casebook(&binary, &url, &["migrate", "--dry-run"], &[]);
    assert!(dry.status.success(), "{}", text(&dry));
    assert!(text(&dry).contains("would be created"), "{}", text(&dry));
    assert!(!db.exists(), "a dry run creates nothing");

    let first = casebook(&binary, &url, &["migrate"], &[]);
    assert!(first.status.success(), "{}", text(&first));
    assert!(text(&first).contains("applying") && text(&first).contains("0016_schema_compat"));
    assert!(db.exists() && dir.join("cb.db.master.key").exists(), "both halves made");
    let again = casebook(&binary, &url, &["migrate"], &[]);
    assert!(text(&again).contains("nothing to apply"), "{}", text(&again));

    // An install from before this release: its last two migrations undone.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open");
        for sql in [
            "DELETE FROM _sqlx_migrations WHERE version IN (15, 16)",
            "DROP TABLE schema_compat",
            "DROP TABLE readiness_probe",
            "ALTER TABLE federated_credentials DROP COLUMN single_use",
            "ALTER TABLE federated_credentials DROP COLUMN max_token_lifetime_seconds",
        ] {
            sqlx::query(sql).execute(&mut conn).await.expect(sql);
        }
        conn.close().await.expect("close");
    });

    let refused = serve_no_migrate(&binary, &url);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("2 migration(s) pending (15, 16)") && text(&refused).contains("casebook migrate"),
        "{}",
        text(&refused)
    );
    let dry = casebook(&binary, &url, &["migrate", "--dry-run"], &[]);
    assert!(text(&dry).contains("2 migration(s) pending"), "{}", text(&dry));

    let upgrade = casebook(&binary, &url, &["migrate"], &[]);
    assert!(upgrade.status.success(), "{}", text(&upgrade));
    let copy = dir.join(format!("cb.db.pre-{}", casebook_server::build_info::VERSION));
    assert!(copy.is_file(), "the copy before migrating: {}", text(&upgrade));
    assert_eq!(
        std::fs::metadata(&copy).expect("copy").permissions().mode() & 0o777,
        0o600
    );
    let after = casebook(&binary, &url, &["migrate", "--dry-run"], &[]);
    assert!(text(&after).contains("nothing to apply"), "{}", text(&after));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn half_of_a_sqlite_install_never_starts_anew() {
    let Some(binary) = casebook_binary() else {
        return;
    };
    let dir = scratch();
    let (db, key) = (dir.join("cb.db"), dir.join("cb.db.master.key"));
    let url = format!("sqlite://{}", db.display());
    assert!(casebook(&binary, &url, &["migrate"], &[]).status.success());

    let saved_key = std::fs::read(&key).expect("key");
    std::fs::remove_file(&key).expect("remove key");
    let refused = serve_no_migrate(&binary, &url);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("its key file"), "{}", text(&refused));
    assert!(!key.exists(), "no new key made beside the old database");

    std::fs::write(&key, saved_key).expect("restore key");
    std::fs::rename(&db, dir.join("elsewhere.db")).expect("move database");
    let refused = serve_no_migrate(&binary, &url);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("its database"), "{}", text(&refused));
    assert!(!db.exists(), "no new database made beside the old key");
    std::fs::remove_dir_all(&dir).ok();
}
