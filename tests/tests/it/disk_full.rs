//! The embedded database fails safe (the contract's "Upgrades and key
//! custody"): on a full disk, writes answer 503 with `Retry-After` and
//! `/readyz` 503; once space returns, both recover within 5 s without a
//! restart, and nothing acknowledged is lost. The disk is a small tmpfs of
//! the test's own, filled with a file. A database file removed while the
//! server runs acknowledges no write (each would be lost at the next start)
//! until it is back.

use casebook_tests::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A 4 MiB tmpfs, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount() -> Option<Self> {
        let dir = std::env::temp_dir().join(format!("casebook-full-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            // Mounting needs root; CI runs as root, so there this must work.
            assert!(std::env::var("CI").is_err(), "could not mount a tmpfs under CI");
            eprintln!("\n*** SKIPPING the full-disk test: cannot mount a tmpfs (not root?) ***\n");
            std::fs::remove_dir_all(&dir).ok();
            return None;
        }
        Some(Self(dir))
    }

    /// Fills what is left with a file; returns it.
    fn fill(&self) -> PathBuf {
        let filler = self.0.join("filler");
        let _ = Command::new("dd")
            .args(["if=/dev/zero", "bs=64k"])
            .arg(format!("of={}", filler.display()))
            .stderr(std::process::Stdio::null())
            .status();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn register(app: &TestApp, admin: &str, n: usize) -> reqwest::Response {
    let body = json!({"name": format!("Full Disk {n}"), "email": format!("full-{n}@partner.example.org"),
        "roles": ["engage-worker"], "description": "x".repeat(900)});
    app.post_json(APPS, admin, &body).await
}

async fn readyz(app: &TestApp) -> u16 {
    app.http
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

fn remove(path: &Path) {
    std::fs::remove_file(path).expect("remove the filler");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_a_503_to_retry_and_recovery_needs_no_restart() {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    let app = TestApp::spawn_on(TestDatabase::sqlite_in(&disk.0), Spawn::default()).await;
    let admin = app.admin_token().await;
    let mut acknowledged = Vec::new();
    for n in 0..3 {
        acknowledged.push(id_of(&expect(register(&app, &admin, n).await, 201).await));
    }

    let filler = disk.fill();
    // Writes now fail for want of space: a 503 to retry, never a 500.
    let mut refused = 0;
    for n in 3..30 {
        let r = register(&app, &admin, n).await;
        match r.status().as_u16() {
            201 => acknowledged.push(id_of(&expect(r, 201).await)),
            503 => {
                assert!(r.headers().contains_key("retry-after"), "a 503 says when to retry");
                refused += 1;
            }
            other => panic!(
                "a write on a full disk answered {other}: {}",
                r.text().await.unwrap_or_default()
            ),
        }
    }
    assert!(refused > 0, "the disk never filled");
    assert_eq!(readyz(&app).await, 503, "not ready while nothing can be written");

    remove(&filler);
    let freed = Instant::now();
    let recovered = loop {
        let r = register(&app, &admin, 100).await;
        if r.status() == 201 {
            acknowledged.push(id_of(&expect(r, 201).await));
            break freed.elapsed();
        }
        assert!(
            freed.elapsed() < Duration::from_secs(5),
            "still {} after 5 s",
            r.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("writes recovered {recovered:?} after space returned");
    for n in 101..111 {
        acknowledged.push(id_of(&expect(register(&app, &admin, n).await, 201).await));
    }
    assert_eq!(readyz(&app).await, 200);
    for id in &acknowledged {
        assert_eq!(
            app.get(&format!("{APPS}/{id}"), &admin).await.status(),
            200,
            "{id} was acknowledged"
        );
    }
    drop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_removed_while_serving_acknowledges_no_write_until_it_is_back() {
    let dir = std::env::temp_dir().join(format!("casebook-gone-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let app = TestApp::spawn_on(TestDatabase::sqlite_in(&dir), Spawn::default()).await;
    let admin = app.admin_token().await;
    let kept = id_of(&expect(register(&app, &admin, 0).await, 201).await);

    let (file, aside) = (dir.join("casebook.db"), dir.join("aside.db"));
    std::fs::rename(&file, &aside).expect("move the database away");
    let r = register(&app, &admin, 1).await;
    assert_eq!(
        r.status(),
        503,
        "a write with no database file: {}",
        r.text().await.unwrap_or_default()
    );
    assert_eq!(readyz(&app).await, 503);

    std::fs::rename(&aside, &file).expect("put it back");
    let back = Instant::now();
    loop {
        let r = register(&app, &admin, 2).await;
        if r.status() == 201 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "still {} after 5 s",
            r.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(readyz(&app).await, 200);
    assert_eq!(app.get(&format!("{APPS}/{kept}"), &admin).await.status(), 200);
    drop(app);
    std::fs::remove_dir_all(&dir).ok();
}
