//! The database: one SQL dialect over SQLite and PostgreSQL.
//!
//! Queries are written once, with `$N` parameters (both engines accept
//! them), and run through sqlx's `Any` driver. Only the schema differs, kept in
//! step under `migrations/sqlite` and `migrations/postgres`.

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType};
use sqlx::{Any, AnyPool, AssertSqlSafe, Row, SqlSafeStr, Transaction};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{SharedClock, SystemClock};
use fail_safe::{SqliteFile, fit_for_reuse};

pub mod backup;
mod fail_safe;
mod migrate;

/// Where the database lives and which engine runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// The SQLite file named by a `sqlite://` URL, if it is a file.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// A write transaction and the one instant it happens at: every row it
/// stamps (created, updated, audited, enqueued) carries the same time, read
/// once from the database's clock when the transaction began.
#[derive(Debug)]
pub struct Tx {
    inner: Transaction<'static, Any>,
    now_micros: i64,
}

impl Tx {
    pub fn now_micros(&self) -> i64 {
        self.now_micros
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.inner.rollback().await
    }
}

impl std::ops::Deref for Tx {
    type Target = sqlx::AnyConnection;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

/// A cheap-to-clone handle on the pool.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// Every stored timestamp is read from here, so a test's clock reaches
    /// storage too.
    clock: SharedClock,
    /// The SQLite file as it was opened: a write checks that it is still
    /// the file at its path.
    file: Option<Arc<SqliteFile>>,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("could not create the database file {path}: {source}")]
    Create {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} migration(s) pending ({}) and migrating on start is off: run `casebook migrate` first",
        .0.len(),
        .0.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
    )]
    Pending(Vec<i64>),
    #[error("could not copy the database before migrating it: {0}")]
    PreMigrationCopy(#[from] Box<self::backup::BackupError>),
}

/// Whether opening the database brings its schema up to this binary's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MigrationPolicy {
    /// Apply pending migrations (after a copy, for a SQLite database that
    /// holds data): `serve`'s default and `casebook migrate`.
    #[default]
    Apply,
    /// Apply nothing; refuse to open while any migration is pending
    /// (`serve --no-migrate`: migrations are run as a step of their own).
    RefusePending,
}

/// The schema, per backend, in step: the same versions and file names in
/// `migrations/sqlite` and `migrations/postgres`.
macro_rules! migration_files {
    ($dir:literal: $($version:literal $name:literal),* $(,)?) => {
        &[$(($version, $name, include_str!(concat!("../migrations/", $dir, "/", $name, ".sql")))),*]
    };
}

pub fn migrations(backend: Backend) -> Vec<Migration> {
    let files: &[(i64, &str, &'static str)] = match backend {
        Backend::Sqlite => migration_files!("sqlite":
            1 "0001_init", 2 "0002_outbox", 3 "0003_token_generation", 4 "0004_key_activation",
            5 "0005_application_name_key", 6 "0006_cache_generation", 7 "0007_targeted_revocation",
            8 "0008_signing_algorithm", 9 "0009_private_key_jwt", 10 "0010_jwks_uri",
            11 "0011_federated_credentials", 12 "0012_client_secrets",
            13 "0013_sources_and_quota", 14 "0014_ended_secrets", 15 "0015_federated_limits",
            16 "0016_schema_compat", 17 "0017_master_keys", 18 "0018_tenants",
            19 "0019_audit_evidence", 20 "0020_ended_secret_names", 21 "0021_strong_sign_in",
            22 "0022_passkeys", 23 "0023_dpop", 24 "0024_idempotency_keys", 25 "0025_usage",
            26 "0026_webhooks",
        ),
        Backend::Postgres => migration_files!("postgres":
            1 "0001_init", 2 "0002_outbox", 3 "0003_token_generation", 4 "0004_key_activation",
            5 "0005_application_name_key", 6 "0006_cache_generation", 7 "0007_targeted_revocation",
            8 "0008_signing_algorithm", 9 "0009_private_key_jwt", 10 "0010_jwks_uri",
            11 "0011_federated_credentials", 12 "0012_client_secrets",
            13 "0013_sources_and_quota", 14 "0014_ended_secrets", 15 "0015_federated_limits",
            16 "0016_schema_compat", 17 "0017_master_keys", 18 "0018_tenants",
            19 "0019_audit_evidence", 20 "0020_ended_secret_names", 21 "0021_strong_sign_in",
            22 "0022_passkeys", 23 "0023_dpop", 24 "0024_idempotency_keys", 25 "0025_usage",
            26 "0026_webhooks",
        ),
    };
    files
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                AssertSqlSafe(sql).into_sql_str(),
                false,
            )
        })
        .collect()
}

/// How long a request waits for a SQLite connection. Waits only happen
/// when every connection is busy; the database itself cannot go away.
const SQLITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request waits for a PostgreSQL connection. While the
/// database is down, every request waits this long before its 503
/// (`temporarily_unavailable`), so it is short: a client told to retry does
/// better than one left hanging, and requests do not pile up behind a dead
/// database. A healthy pool hands out connections in microseconds.
const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

impl Db {
    /// Connects (creating a SQLite file if missing) and applies migrations.
    pub async fn connect(url: &str, backend: Backend) -> Result<Self, DbError> {
        Self::open(url, backend, MigrationPolicy::Apply).await
    }

    /// Connects (creating a SQLite file if missing) and brings the schema
    /// up to date as `policy` says.
    pub async fn open(url: &str, backend: Backend, policy: MigrationPolicy) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let pool = match backend {
            Backend::Sqlite => {
                let options = AnyPoolOptions::new().acquire_timeout(SQLITE_ACQUIRE_TIMEOUT);
                let url = if url.contains('?') {
                    url.to_owned()
                } else {
                    format!("{url}?mode=rwc")
                };
                create_private_sqlite_file(&url)?;
                options
                    .max_connections(8)
                    .after_release(|conn, _| Box::pin(async move { Ok(fit_for_reuse(conn)) }))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL lets readers run beside the writer; the busy
                            // timeout queues writers instead of failing them.
                            sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                            sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
                            sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                            sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
                    .after_release(|conn, _| Box::pin(async move { Ok(fit_for_reuse(conn)) }))
                    .max_connections(16)
                    .connect(url)
                    .await?
            }
        };
        let db = Self {
            pool,
            backend,
            clock: Arc::new(SystemClock),
            file: match backend {
                Backend::Sqlite => SqliteFile::opened(url),
                Backend::Postgres => None,
            },
        };
        let status = db.migration_status().await?;
        if status.pending.is_empty() {
            return Ok(db);
        }
        if policy == MigrationPolicy::RefusePending {
            return Err(DbError::Pending(status.pending));
        }
        if backend == Backend::Sqlite && !status.applied.is_empty() {
            pre_migration_copy(url).await?;
        }
        migrate::apply_pending(&db.pool, backend).await?;
        Ok(db)
    }

    /// Opens the database as it is: no file created, no migration applied,
    /// no setting changed. What `casebook check` looks at.
    pub async fn open_as_is(url: &str, backend: Backend) -> Result<Self, DbError> {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let url = match backend {
            Backend::Sqlite => without_creation(url),
            Backend::Postgres => url.to_owned(),
        };
        // A pool retries a refused connection until its timeout and then
        // reports only the timeout; one plain connection first says why.
        sqlx::AnyConnection::connect(&url).await?.close().await?;
        let options = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5));
        let pool = match backend {
            Backend::Sqlite => options.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options,
        }
        .connect(&url)
        .await?;
        Ok(Self {
            pool,
            backend,
            clock: Arc::new(SystemClock),
            file: None,
        })
    }

    /// Which of this binary's migrations the database has, and what else it
    /// has: read from the migrator's own table, never written.
    pub async fn migration_status(&self) -> Result<MigrationStatus, sqlx::Error> {
        let exists = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) AS n FROM information_schema.tables \
                 WHERE table_name = '_sqlx_migrations' AND table_schema = current_schema()"
            }
        };
        let row = sqlx::query(exists).fetch_one(&self.pool).await?;
        let mut status = MigrationStatus::default();
        let known = migrations(self.backend);
        let mut applied = Vec::new();
        if col::<i64>(&row, "n")? > 0 {
            // `success` is a BOOLEAN, which `Any` reads from PostgreSQL but not
            // from SQLite: compared to a number here, in one dialect.
            let rows = sqlx::query(
                "SELECT version, CAST(CASE WHEN success THEN 1 ELSE 0 END AS BIGINT) AS success, checksum \
                 FROM _sqlx_migrations ORDER BY version",
            )
            .fetch_all(&self.pool)
            .await?;
            for row in &rows {
                let version: i64 = col(row, "version")?;
                let success = col::<i64>(row, "success")? == 1;
                let checksum: Vec<u8> = col(row, "checksum")?;
                applied.push((version, success, checksum));
            }
        }
        for (version, success, checksum) in &applied {
            match known.iter().find(|m| m.version == *version) {
                None => status.unknown.push(*version),
                Some(_) if !success => status.failed.push(*version),
                Some(m) if *m.checksum != checksum[..] => status.modified.push(*version),
                Some(_) => status.applied.push(*version),
            }
        }
        status.pending = known
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.iter().any(|(a, _, _)| a == v))
            .collect();
        Ok(status)
    }

    /// The same database, read through another clock (a test's).
    pub fn with_clock(self, clock: SharedClock) -> Self {
        Self { clock, ..self }
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Now, as storage keeps it: microseconds since the Unix epoch.
    pub fn now_micros(&self) -> i64 {
        self.clock.now().unix_micros()
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so a transaction that reads before it writes waits
    /// for the lock instead of failing with "database is locked" on upgrade.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        if let Some(file) = &self.file {
            file.still_there()?;
        }
        let inner = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(Tx {
            inner,
            now_micros: self.now_micros(),
        })
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    /// The oldest migration a binary must know to serve this schema, or
    /// `None` before migration 16 made the table.
    pub async fn oldest_reader(&self) -> Result<Option<i64>, sqlx::Error> {
        match sqlx::query("SELECT oldest_reader FROM schema_compat WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
        {
            Ok(row) => row.map(|row| col(&row, "oldest_reader")).transpose(),
            // The table is not there yet: a schema from before the rule.
            Err(sqlx::Error::Database(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether this binary can serve from the database now: its schema is
    /// one this binary knows enough of, and a write commits.
    pub async fn readiness(&self) -> Result<(), NotReady> {
        let row = sqlx::query("SELECT oldest_reader FROM schema_compat WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let needs: i64 = col(&row, "oldest_reader")?;
        let knows = newest_known(self.backend);
        if needs > knows {
            return Err(NotReady::SchemaTooNew { needs, knows });
        }
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE readiness_probe SET checked_at = $1 WHERE id = 1")
            .bind(self.now_micros())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `<database>.pre-<version>`: a consistent copy of a SQLite database that
/// holds data, taken before this version migrates it, so a failed or
/// regretted upgrade is undone by putting the copy back. An existing copy
/// (an earlier attempt at the same upgrade) is kept, never overwritten.
async fn pre_migration_copy(url: &str) -> Result<(), DbError> {
    let Some(path) = sqlite_path(url) else {
        return Ok(());
    };
    let mut copy = path.clone().into_os_string();
    copy.push(format!(".pre-{}", crate::build_info::VERSION));
    let copy = std::path::PathBuf::from(copy);
    if copy.exists() {
        tracing::info!(copy = %copy.display(), "a copy from before this upgrade exists already; keeping it");
        return Ok(());
    }
    let plain_url = match url.split_once('?') {
        Some((base, _)) => base,
        None => url,
    };
    self::backup::backup(plain_url, &copy).await.map_err(Box::new)?;
    tracing::info!(copy = %copy.display(), "copied the database before migrating it");
    Ok(())
}

/// The newest migration this binary carries.
pub fn newest_known(backend: Backend) -> i64 {
    migrations(backend).iter().map(|m| m.version).max().unwrap_or(0)
}

/// Why `/readyz` says no.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error(
        "the database's schema needs a release that knows migration {needs}; this binary (casebook {version}) knows migrations up to {knows}",
        version = crate::build_info::LONG_VERSION
    )]
    SchemaTooNew { needs: i64, knows: i64 },
    #[error("the database cannot be read and written: {0}")]
    Database(#[from] sqlx::Error),
}

/// Where a database stands against this binary's migrations, by version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Known here and applied as written.
    pub applied: Vec<i64>,
    /// Known here, not yet applied: `serve` applies them at start.
    pub pending: Vec<i64>,
    /// Applied, but unknown to this binary: a newer version migrated it.
    pub unknown: Vec<i64>,
    /// Recorded as started but not finished.
    pub failed: Vec<i64>,
    /// Applied from different text than this binary carries.
    pub modified: Vec<i64>,
}

/// A SQLite URL that opens an existing file and never creates one.
fn without_creation(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return format!("{url}?mode=rw");
    };
    let mut kept = url::form_urlencoded::Serializer::new(String::new());
    let mut mode = false;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key == "mode" {
            mode = true;
            kept.append_pair("mode", if value == "rwc" { "rw" } else { &value });
        } else {
            kept.append_pair(&key, &value);
        }
    }
    if !mode {
        kept.append_pair("mode", "rw");
    }
    format!("{base}?{}", kept.finish())
}

/// The contract ("Running the service") has the database created 0600. sqlx would create it with the
/// process's umask (commonly 0644, readable by every local account), and
/// SQLite gives the WAL and SHM files the database file's mode, so creating
/// the empty file first, 0600, makes all three private. An existing file
/// keeps the mode its owner gave it; a URL that does not ask for creation
/// (`mode=rwc`) creates nothing.
fn create_private_sqlite_file(url: &str) -> Result<(), DbError> {
    use std::str::FromStr;
    let creates = url.split_once('?').is_some_and(|(_, query)| {
        url::form_urlencoded::parse(query.as_bytes()).any(|(key, value)| key == "mode" && value == "rwc")
    });
    if !creates || sqlite_path(url).is_none() {
        return Ok(());
    }
    // sqlx's own reading of the URL, so that the file is the one it opens
    // (percent-decoded, `sqlite:` or `sqlite://`).
    let path = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
        .get_filename()
        .to_owned();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(DbError::Create { path, source }),
    }
}

pub fn micros_to_rfc3339(micros: i64) -> String {
    let nanos = i128::from(micros) * 1000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

pub fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_foreign_key_violation())
}

/// A migrated SQLite database in a new directory, for unit tests; the
/// directory goes when the guard drops.
#[cfg(test)]
pub(crate) async fn scratch_sqlite() -> (Db, ScratchDir) {
    let dir = std::env::temp_dir().join(format!("cbscratch-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let db = Db::connect(&format!("sqlite://{}/scratch.db", dir.display()), Backend::Sqlite)
        .await
        .expect("a scratch database");
    (db, ScratchDir(dir))
}

#[cfg(test)]
pub(crate) struct ScratchDir(std::path::PathBuf);

#[cfg(test)]
impl Drop for ScratchDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// Reads a column, naming it in the error when the schema and code disagree.
pub fn col<'r, T>(row: &'r AnyRow, name: &str) -> Result<T, sqlx::Error>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A migration is never changed once it is on main: an install made
    /// between two versions of one file would fail to start (its recorded
    /// checksum no longer matches), and one made before would never run
    /// the change. `migrations/checksums.txt` holds the SHA-256 of every
    /// file as it landed; a new migration adds its line, an old line never
    /// changes.
    #[test]
    fn no_migration_changes_once_landed() {
        use sha2::{Digest, Sha256};
        let recorded: Vec<(&str, &str)> = include_str!("../migrations/checksums.txt")
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| line.split_once("  ").expect("`<sha256>  <dir>/<file>.sql`"))
            .map(|(hash, file)| (file, hash))
            .collect();
        let mut embedded = Vec::new();
        for (backend, dir) in [(Backend::Sqlite, "sqlite"), (Backend::Postgres, "postgres")] {
            for migration in migrations(backend) {
                let file = format!("{dir}/{}.sql", migration.description);
                let hash: String = Sha256::digest(migration.sql.as_str().as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                embedded.push((file, hash));
            }
        }
        for (file, hash) in &embedded {
            match recorded.iter().find(|(f, _)| f == file) {
                None => panic!("{file} is new: add `{hash}  {file}` to crates/server/migrations/checksums.txt"),
                Some((_, landed)) => assert_eq!(
                    landed, hash,
                    "{file} changed after it landed: put the change in a new migration instead"
                ),
            }
        }
        for (file, _) in &recorded {
            assert!(
                embedded.iter().any(|(f, _)| f == file),
                "{file} landed and is gone: a migration is never removed"
            );
        }
    }

    #[cfg(unix)]
    fn mode(path: &std::path::Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_sqlite_database_and_its_wal_and_shm_files_are_0600() {
        let dir = std::env::temp_dir().join(format!("cbdb-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::connect(&format!("sqlite://{}/c.db", dir.display()), Backend::Sqlite)
            .await
            .unwrap();
        // WAL and SHM exist while a connection is open.
        db.ping().await.unwrap();
        for file in ["c.db", "c.db-wal", "c.db-shm"] {
            assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
        }
        db.close().await;
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn opening_as_is_never_asks_for_creation() {
        assert_eq!(without_creation("sqlite://c.db"), "sqlite://c.db?mode=rw");
        assert_eq!(without_creation("sqlite://c.db?mode=rwc"), "sqlite://c.db?mode=rw");
        assert_eq!(without_creation("sqlite://c.db?mode=ro"), "sqlite://c.db?mode=ro");
        assert_eq!(
            without_creation("sqlite://c.db?cache=shared"),
            "sqlite://c.db?cache=shared&mode=rw"
        );
    }

    #[test]
    fn only_a_url_that_asks_for_creation_creates_a_file() {
        let dir = std::env::temp_dir().join(format!("cbdb-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let read_write = format!("sqlite://{}/rw.db?mode=rw", dir.display());
        create_private_sqlite_file(&read_write).unwrap();
        assert!(!dir.join("rw.db").exists());
        create_private_sqlite_file("sqlite::memory:?mode=rwc").unwrap();
        let created = format!("sqlite://{}/a%20b.db?mode=rwc", dir.display());
        create_private_sqlite_file(&created).unwrap();
        assert!(
            dir.join("a b.db").exists(),
            "the percent-decoded name, as sqlx opens it"
        );
        // A second start finds it there.
        create_private_sqlite_file(&created).unwrap();
        std::fs::remove_dir_all(dir).ok();
    }
}
