//! `casebook backup --to FILE`: a consistent copy of a SQLite install while
//! it serves.
//!
//! The copy is SQLite's `VACUUM INTO`, run through sqlx on a connection of
//! its own. It reads one snapshot of the database (everything committed
//! when it starts, the WAL included) inside a read transaction, which in WAL
//! mode never blocks the server's writers, and writes a compact, complete
//! database. SQLite's online backup API would do the same page by page, but
//! sqlx does not expose it and reaching the C handle needs `unsafe` (which
//! the workspace forbids) and a direct `libsqlite3-sys` dependency.
//!
//! The copy is written into a temporary file created 0600 beside the
//! target and renamed onto it only once it is complete and synced, so the
//! target never holds a partial database; the target's name is claimed
//! first, with an exclusive create, so an existing file is never replaced.
//!
//! The master key is not in the database. A restore needs the key file (or
//! `CASEBOOK_MASTER_KEY`) as well, which is why `main` says so when done.

use crate::db::Backend;
use sqlx::ConnectOptions;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// A finished copy.
#[derive(Debug, Clone, Copy)]
pub struct Copied {
    pub bytes: u64,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "PostgreSQL is backed up with its own tools: pg_dump --format=custom --file={to} \"$CASEBOOK_DATABASE_URL\" \
         (the master key is not in the database: keep CASEBOOK_MASTER_KEY with the dump)"
    )]
    Postgres { to: String },
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    DatabaseUrl(String),
    #[error("{0:?} is not a database file; only a file database can be backed up")]
    NotAFile(String),
    #[error("there is no database at {0}")]
    NoDatabase(PathBuf),
    #[error("{0} already exists; choose a new file (a backup never overwrites one)")]
    Exists(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the copy failed: {0}")]
    Sqlite(#[from] sqlx::Error),
}

/// How long the copy waits for a lock it cannot get at once (a checkpoint,
/// another copy); a serving install holds none for long.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Copies the database at `database_url` into `to`, which must not exist.
pub async fn backup(database_url: &str, to: &Path) -> Result<Copied, BackupError> {
    match Backend::of_url(database_url) {
        Some(Backend::Sqlite) => {}
        Some(Backend::Postgres) => {
            return Err(BackupError::Postgres {
                to: to.display().to_string(),
            });
        }
        None => return Err(BackupError::DatabaseUrl(database_url.to_owned())),
    }
    let started = Instant::now();
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(database_url)?;
    let source = options.get_filename().to_owned();
    if crate::db::sqlite_path(database_url).is_none() {
        return Err(BackupError::NotAFile(database_url.to_owned()));
    }
    if !source.is_file() {
        return Err(BackupError::NoDatabase(source));
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Io { path, source }
    };
    create_private(to).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => BackupError::Exists(to.to_owned()),
        _ => io(to)(e),
    })?;
    let partial = partial_name(to);
    let copied = async {
        create_private(&partial).map_err(io(&partial))?;
        // Never creates the source, whatever the URL asks.
        let mut conn = options
            .create_if_missing(false)
            .busy_timeout(BUSY_TIMEOUT)
            .connect()
            .await?;
        // VACUUM INTO fills an empty file, and refuses one that is not.
        let into = partial.to_str().ok_or_else(|| BackupError::Io {
            path: partial.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path is not UTF-8"),
        })?;
        sqlx::query("VACUUM INTO $1").bind(into).execute(&mut conn).await?;
        sqlx::Connection::close(conn).await?;
        // SQLite does not sync what VACUUM INTO writes.
        std::fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(io(&partial))?;
        std::fs::rename(&partial, to).map_err(io(to))?;
        sync_directory(to);
        let bytes = std::fs::metadata(to).map_err(io(to))?.len();
        Ok(Copied {
            bytes,
            elapsed: started.elapsed(),
        })
    }
    .await;
    if copied.is_err() {
        let _ = std::fs::remove_file(&partial);
        let _ = std::fs::remove_file(to);
    }
    copied
}

/// An empty file only this account can read, or `AlreadyExists`.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

/// `dir/.name.partial-<id>`: in the target's directory, so the rename is
/// atomic, and hidden, so it is not taken for a finished backup.
fn partial_name(to: &Path) -> PathBuf {
    let name = to.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let partial = format!(".{name}.partial-{}", uuid::Uuid::now_v7().simple());
    to.with_file_name(partial)
}

/// Makes the rename itself durable; a filesystem that cannot sync a
/// directory still has the synced file.
fn sync_directory(file: &Path) {
    #[cfg(unix)]
    if let Some(dir) = file.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(handle) = std::fs::File::open(dir) {
            let _ = handle.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = file;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partial_file_is_a_hidden_sibling() {
        let partial = partial_name(Path::new("/backups/casebook-2025.db"));
        assert_eq!(partial.parent(), Some(Path::new("/backups")));
        let name = partial.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(".casebook-2025.db.partial-"), "{name}");
    }

    #[tokio::test]
    async fn postgres_is_pointed_at_pg_dump() {
        let e = backup("postgres://db/cb", Path::new("out.dump")).await.unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("pg_dump --format=custom --file=out.dump \"$CASEBOOK_DATABASE_URL\""),
            "{text}"
        );
        assert!(text.contains("master key"), "{text}");
        assert!(!Path::new("out.dump").exists());
    }
}
