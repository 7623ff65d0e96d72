//! `casebook backup --to FILE`: a consistent copy of a SQLite install taken
//! while it serves and writes, created 0600, that a server started on it
//! (with the same master key) serves from.

use casebook_tests::casebook_server::config::Backend;
use casebook_tests::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One write the server acknowledged, and when.
#[derive(Debug, Clone)]
struct Acked {
    at: Instant,
    path: String,
}

fn run_backup(binary: &std::path::Path, url: &str, to: &std::path::Path) -> std::process::Output {
    casebook_command(binary)
        .args(["backup", "--to"])
        .arg(to)
        .env("CASEBOOK_DATABASE_URL", url)
        .output()
        .expect("run casebook backup")
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_the_server_writes_holds_every_write_acknowledged_before_it() {
    let Some(binary) = casebook_binary() else {
        return;
    };
    let app = Arc::new(TestApp::spawn(Backend::Sqlite).await.expect("sqlite"));
    let admin = app.admin_token().await;

    // One writer, one write at a time: each is a transaction of its own, so
    // the writes a consistent copy holds are a prefix of this list.
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = tokio::spawn({
        let (app, admin, acked, stop) = (app.clone(), admin.clone(), acked.clone(), stop.clone());
        async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let role = app
                    .create_role(&admin, &format!("Backup role {n}"), &["engage:view"])
                    .await;
                let role_id = id_of(&role);
                acked.lock().unwrap().push(Acked {
                    at: Instant::now(),
                    path: format!("/admin/v1/roles/{role_id}"),
                });
                let application = app
                    .register(
                        &admin,
                        &format!("Backup app {n}"),
                        &format!("backup-{n}@partner.example.org"),
                        &[&role_id],
                    )
                    .await;
                acked.lock().unwrap().push(Acked {
                    at: Instant::now(),
                    path: format!("{APPS}/{}", id_of(&application)),
                });
            }
        }
    });
    while acked.lock().unwrap().len() < 20 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let target = TestDatabase::create(Backend::Sqlite)
        .await
        .expect("a place for the copy");
    let copy_file = target.sqlite_file().expect("a file");
    let began = Instant::now();
    let output = tokio::task::spawn_blocking({
        let (binary, url, to) = (binary.clone(), app.db.url.clone(), copy_file.clone());
        move || run_backup(&binary, &url, &to)
    })
    .await
    .expect("join");
    let ended = Instant::now();
    // Still writing after the copy ended: it was writing throughout.
    let after = acked.lock().unwrap().len();
    while acked.lock().unwrap().len() < after + 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.expect("the writer never failed");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "a start line and a done line: {stderr}");
    assert!(lines[0].contains("copying"), "{stderr}");
    assert!(
        lines[1].contains("done") && lines[1].contains(" KiB") && lines[1].contains(" ms"),
        "size and time: {stderr}"
    );
    assert!(lines[1].contains("master key"), "{stderr}");
    assert_eq!(mode(&copy_file), 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(copy_file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, ["casebook.db"], "no partial file stays behind");

    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", copy_file.display()))
            .await
            .expect("open the copy");
        let (integrity,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await
            .expect("integrity_check");
        assert_eq!(integrity, "ok");
        conn.close().await.ok();
    }

    let restored = TestApp::spawn_on(
        target,
        Spawn {
            master_key: Some(app.master_key.clone()),
            ..Spawn::default()
        },
    )
    .await;
    let restored_admin = restored.admin_token().await;
    let acked = acked.lock().unwrap().clone();
    let mut present = Vec::new();
    for write in &acked {
        present.push(restored.get(&write.path, &restored_admin).await.status() == 200);
    }
    let before = acked.iter().filter(|w| w.at < began).count();
    assert!(
        present[..before].iter().all(|p| *p),
        "a write acknowledged before the backup began is missing from it: {present:?}"
    );
    let held = present.iter().take_while(|p| **p).count();
    assert!(
        present[held..].iter().all(|p| !*p),
        "the copy is not one moment of the database: {present:?}"
    );
    let during = acked.iter().filter(|w| w.at >= began && w.at <= ended).count();
    eprintln!(
        "backup took {:?}; {before} writes before it, {during} during it, {held} in the copy",
        ended - began
    );

    // Sealed data opens under the same master key: the last application
    // in the copy reveals its secret and gets a token.
    let last_app = acked[..held]
        .iter()
        .rev()
        .find(|w| w.path.starts_with(APPS))
        .expect("an application in the copy");
    let view = expect(restored.get(&last_app.path, &restored_admin).await, 200).await;
    let secret = restored.reveal(&restored_admin, &id_of(&view)).await;
    let token = restored
        .access_token(view["client_id"].as_str().expect("client_id"), &secret)
        .await;
    expect(restored.get("/api/v1/me", &token).await, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_never_overwrites_a_file() {
    let Some(binary) = casebook_binary() else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let target = TestDatabase::create(Backend::Sqlite)
        .await
        .expect("a place for the copy");
    let existing = target.sqlite_file().expect("a file");
    std::fs::write(&existing, b"an older backup").unwrap();
    let output = run_backup(&binary, &app.db.url, &existing);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(std::fs::read(&existing).unwrap(), b"an older backup");

    // Nor does it make a database where there was none.
    let missing = existing.with_file_name("nothing-here.db");
    let copy = existing.with_file_name("copy.db");
    let output = run_backup(&binary, &format!("sqlite://{}", missing.display()), &copy);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("there is no database at"), "{stderr}");
    assert!(!missing.exists() && !copy.exists(), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_backup_is_pg_dump_in_one_line() {
    let Some(binary) = casebook_binary() else {
        return;
    };
    let dir = TestDatabase::create(Backend::Sqlite).await.expect("a directory");
    let to = dir.sqlite_file().unwrap().with_file_name("casebook.dump");
    let output = run_backup(&binary, &pg_admin_url(), &to);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    let command = format!(
        "pg_dump --format=custom --file={} \"$CASEBOOK_DATABASE_URL\"",
        to.display()
    );
    assert!(stderr.contains(&command), "{stderr}");
    assert!(stderr.contains("master key is not in the database"), "{stderr}");
    assert!(!to.exists());
}
