//! The database: one SQL dialect over SQLite and PostgreSQL.
//!
//! Queries are written once, with `$N` parameters (both engines accept
//! them), and run through sqlx's `Any` driver. Only the schema differs, kept in
//! step under `migrations/sqlite` and `migrations/postgres`.

use crate::config::Backend;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Any, AnyPool, AssertSqlSafe, Row, SqlSafeStr, Transaction};
use std::borrow::Cow;
use std::time::Duration;

pub type Tx = Transaction<'static, Any>;

/// A cheap-to-clone handle on the pool.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The schema, per backend, in step: the same versions and file names in
/// `migrations/sqlite` and `migrations/postgres`.
macro_rules! migration_files {
    ($dir:literal: $($version:literal $name:literal),* $(,)?) => {
        &[$(($version, $name, include_str!(concat!("../migrations/", $dir, "/", $name, ".sql")))),*]
    };
}

fn migrations(backend: Backend) -> Vec<Migration> {
    let files: &[(i64, &str, &'static str)] = match backend {
        Backend::Sqlite => migration_files!("sqlite":
            1 "0001_init", 2 "0002_outbox", 3 "0003_token_generation", 4 "0004_key_activation",
            5 "0005_application_name_key", 6 "0006_cache_generation", 7 "0007_targeted_revocation",
        ),
        Backend::Postgres => migration_files!("postgres":
            1 "0001_init", 2 "0002_outbox", 3 "0003_token_generation", 4 "0004_key_activation",
            5 "0005_application_name_key", 6 "0006_cache_generation", 7 "0007_targeted_revocation",
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

impl Db {
    /// Connects (creating a SQLite file if missing) and applies migrations.
    pub async fn connect(url: &str, backend: Backend) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let pool = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') {
                    url.to_owned()
                } else {
                    format!("{url}?mode=rwc")
                };
                options
                    .max_connections(8)
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
            Backend::Postgres => options.max_connections(16).connect(url).await?,
        };
        let db = Self { pool, backend };
        let mut migrator = Migrator::with_migrations(migrations(backend));
        migrator.set_locking(backend == Backend::Postgres);
        migrator.run(&db.pool).await?;
        Ok(db)
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
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Microseconds since the Unix epoch: how every timestamp is stored.
pub fn now_micros() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1000
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

/// Reads a column, naming it in the error when the schema and code disagree.
pub fn col<'r, T>(row: &'r AnyRow, name: &str) -> Result<T, sqlx::Error>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get(name)
}
