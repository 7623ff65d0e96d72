//! `casebook serve` as an operator runs it: the binary in a process of its
//! own, configured by environment, its output kept for the test to read.

use casebook_server::crypto::MasterKey;
use casebook_tests::*;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// `casebook serve` in a process of its own, its output in files.
pub struct Served {
    child: Child,
    pub base: String,
    stdout: std::path::PathBuf,
    stderr: std::path::PathBuf,
    // Dropped last: the database outlives the server.
    _db: TestDatabase,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- casebook serve ---\n{}",
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            );
        }
    }
}

impl Served {
    /// Started with the test database, a fresh master key, the test admin,
    /// and `env` on top.
    pub async fn start(binary: &std::path::Path, db: TestDatabase, env: &[(&str, &str)]) -> Self {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port");
        let dir = db
            .sqlite_file()
            .map_or_else(std::env::temp_dir, |f| f.parent().unwrap().to_owned());
        let id = uuid::Uuid::now_v7().simple();
        let stdout = dir.join(format!("serve-{id}.out"));
        let stderr = dir.join(format!("serve-{id}.err"));
        let child = casebook_command(binary)
            .arg("serve")
            .env("CASEBOOK_ADDR", addr.to_string())
            .env("CASEBOOK_DATABASE_URL", &db.url)
            .env("CASEBOOK_MASTER_KEY", MasterKey::generate_base64())
            .env("CASEBOOK_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("CASEBOOK_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .envs(env.iter().copied())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn casebook serve");
        let served = Self {
            child,
            base: format!("http://{addr}"),
            stdout,
            stderr,
            _db: db,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let http = reqwest::Client::new();
        while !http
            .get(format!("{}/healthz", served.base))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            assert!(Instant::now() < deadline, "casebook serve was not healthy within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        served
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Everything written so far, stdout then stderr.
    pub fn output(&self) -> String {
        let mut text = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        text.push_str(&std::fs::read_to_string(&self.stderr).unwrap_or_default());
        text
    }
}
