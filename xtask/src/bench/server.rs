//! Scratch space, the database and the server process under test.

use super::ADMIN_EMAIL;
use super::client::http;
use casebook_domain::SigningAlgorithm;
use casebook_server::crypto::random_token;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A directory removed when dropped.
#[derive(Debug)]
pub(super) struct TempDir(PathBuf);

impl TempDir {
    pub(super) fn new(label: &str) -> Result<Self, String> {
        let path = std::env::temp_dir().join(format!(
            "casebook-bench-{}-{label}-{}",
            std::process::id(),
            &random_token()[..8]
        ));
        std::fs::create_dir_all(&path).map_err(|e| format!("temp dir: {e}"))?;
        Ok(Self(path))
    }

    pub(super) fn path(&self) -> &std::path::Path {
        &self.0
    }

    pub(super) fn file(&self, name: &str, contents: &str) -> Result<PathBuf, String> {
        let path = self.0.join(name);
        std::fs::write(&path, contents).map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug, Clone)]
pub(super) enum Backend {
    Sqlite,
    /// The server named by `CASEBOOK_BENCH_PG`.
    Postgres(String),
}

impl Backend {
    pub(super) fn label(&self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
        }
    }
}

/// A fresh database; a PostgreSQL one is dropped with this value.
#[derive(Debug)]
pub(super) struct Database {
    pub(super) url: String,
    pub(super) drop_with: Option<(String, String)>,
    pub(super) dir: TempDir,
}

impl Database {
    pub(super) fn create(backend: &Backend, label: &str) -> Result<Self, String> {
        let dir = TempDir::new(label)?;
        match backend {
            Backend::Sqlite => Ok(Self {
                url: format!("sqlite://{}/casebook.db", dir.0.display()),
                drop_with: None,
                dir,
            }),
            Backend::Postgres(admin_url) => {
                let name = format!("casebook_bench_{}_{}", std::process::id(), label.replace('-', "_"));
                let url = with_database(admin_url, &name)?;
                let admin = admin_url.clone();
                block_on(async {
                    use sqlx::Connection;
                    let mut conn = sqlx::AnyConnection::connect(&admin).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
                        .execute(&mut conn)
                        .await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                        .execute(&mut conn)
                        .await?;
                    conn.close().await
                })
                .map_err(|e| format!("creating PostgreSQL database {name}: {e}"))?;
                Ok(Self {
                    url,
                    drop_with: Some((admin_url.clone(), name)),
                    dir,
                })
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.drop_with.take() {
            let result = block_on(async {
                use sqlx::Connection;
                let mut conn = sqlx::AnyConnection::connect(&admin).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await?;
                conn.close().await
            });
            if let Err(e) = result {
                eprintln!("could not drop the benchmark database {name}: {e}");
            }
        }
    }
}

/// `postgres://user@host:port/db?x` with another database name.
pub(super) fn with_database(url: &str, name: &str) -> Result<String, String> {
    let scheme_end = url.find("://").ok_or("CASEBOOK_BENCH_PG must be a postgres:// URL")? + 3;
    let (head, tail) = url.split_at(scheme_end);
    let (authority, rest) = tail.split_at(tail.find('/').unwrap_or(tail.len()));
    let query = rest.find('?').map_or("", |i| &rest[i..]);
    Ok(format!("{head}{authority}/{name}{query}"))
}

pub(super) fn block_on<T, E: std::fmt::Display>(
    future: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    sqlx::any::install_default_drivers();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting a tokio runtime: {e}"))?;
    runtime.block_on(future).map_err(|e| e.to_string())
}

/// The server under test; killed when dropped, whatever happened.
#[derive(Debug)]
pub(super) struct Server {
    pub(super) child: Child,
    pub(super) addr: SocketAddr,
    pub(super) password: String,
}

impl Server {
    pub(super) fn start(binary: &Path, database: &Database, master_key: &str) -> Result<Self, String> {
        Self::launch(binary, database, master_key, random_token())
    }

    /// A new install whose first signing key is of `alg`.
    pub(super) fn start_signing(
        binary: &Path,
        database: &Database,
        master_key: &str,
        alg: SigningAlgorithm,
    ) -> Result<Self, String> {
        Self::launch_with(binary, database, master_key, random_token(), Some(alg), &[])
    }

    /// A new install with these settings beside the defaults.
    pub(super) fn start_with(
        binary: &Path,
        database: &Database,
        master_key: &str,
        settings: &[(&str, String)],
    ) -> Result<Self, String> {
        Self::launch_with(binary, database, master_key, random_token(), None, settings)
    }

    /// With a chosen admin password: the first start of a database sets it,
    /// and a later start on the same database must sign in with it.
    pub(super) fn launch(
        binary: &Path,
        database: &Database,
        master_key: &str,
        password: String,
    ) -> Result<Self, String> {
        Self::launch_with(binary, database, master_key, password, None, &[])
    }

    /// `alg` none: the binary's default.
    fn launch_with(
        binary: &Path,
        database: &Database,
        master_key: &str,
        password: String,
        alg: Option<SigningAlgorithm>,
        settings: &[(&str, String)],
    ) -> Result<Self, String> {
        let addr = free_port()?;
        let log = database.dir.0.join("server.log");
        let log_file = std::fs::File::create(&log).map_err(|e| format!("server log: {e}"))?;
        let mut command = Command::new(binary);
        match alg {
            Some(alg) => command.env("CASEBOOK_TOKEN_SIGNING_ALG", alg.as_str()),
            None => command.env_remove("CASEBOOK_TOKEN_SIGNING_ALG"),
        };
        for (name, value) in settings {
            command.env(name, value);
        }
        let child = command
            .arg("serve")
            .env("CASEBOOK_ADDR", addr.to_string())
            .env("CASEBOOK_DATABASE_URL", &database.url)
            .env("CASEBOOK_MASTER_KEY", master_key)
            .env("CASEBOOK_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("CASEBOOK_ADMIN_PASSWORD", &password)
            .env("CASEBOOK_LOG", "warn")
            .env_remove("CASEBOOK_PUBLIC_URL")
            .env_remove("CASEBOOK_SMTP_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        let mut server = Self { child, addr, password };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("the server exited ({status}) before it was ready:\n{tail}"));
            }
            if matches!(http(addr, "GET", "/healthz", None, None), Ok((200, _))) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err("the server did not answer /healthz within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails when the server is gone (a zombie until dropped).
    pub(super) fn check_alive(&self) -> Result<(), String> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
        match state {
            Some('Z' | 'X') | None => Err("the server under test exited during the benchmark".into()),
            Some(_) => Ok(()),
        }
    }

    /// `VmHWM` (peak) and `VmRSS` (now) of the server, in KiB.
    pub(super) fn memory_kib(&self) -> Result<(u64, u64), String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .map_err(|e| format!("reading the server's /proc status: {e}"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok((field("VmHWM:"), field("VmRSS:")))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn free_port() -> Result<SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    listener.local_addr().map_err(|e| e.to_string())
}
