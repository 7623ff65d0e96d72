//! `casebook keys rotate` as an operator runs it: a separate process on the
//! install's database, its effect read back from storage.

use casebook_server::config::Backend;
use casebook_server::db::Db;
use casebook_server::store;
use std::process::Command;

fn rotate(database_url: &str, notice: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_casebook"))
        .args(["keys", "rotate", "--notice", notice])
        .env("CASEBOOK_DATABASE_URL", database_url)
        .env_remove("CASEBOOK_MASTER_KEY")
        .output()
        .expect("run casebook keys rotate");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "keys rotate failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn keys_rotate_retires_the_current_key_and_publishes_a_new_one() {
    let dir = std::env::temp_dir().join(format!("casebook-cli-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}/casebook.db", dir.display());

    let now = rotate(&url, "0");
    assert!(now.contains("is current"), "{now}");
    let later = rotate(&url, "600");
    assert!(later.contains("signs from 600 s on"), "{later}");

    let db = Db::connect(&url, Backend::Sqlite).await.expect("database");
    let keys = store::published_signing_keys(&db, i64::MIN).await.expect("keys");
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
