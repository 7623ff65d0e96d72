//! What keeps the database honest about being writable: a SQLite file
//! removed or replaced under the running server is noticed before a write,
//! and a connection a failed commit left inside a transaction is not handed
//! out again.

use super::sqlite_path;
use std::path::Path;
use std::sync::Arc;

/// A SQLite database file, known by its device and inode. Removed while the
/// server runs, the open connections would go on writing to the unlinked
/// file and every write acknowledged from then on would be lost at the next
/// start; so a write first checks that the path still names this file, and
/// answers 503 (to retry) while it does not. Moved back, it serves again at
/// once; a different file put there is opened by the next start.
#[derive(Debug)]
pub(super) struct SqliteFile {
    path: std::path::PathBuf,
    id: Option<(u64, u64)>,
}

impl SqliteFile {
    pub(super) fn opened(url: &str) -> Option<Arc<Self>> {
        let path = sqlite_path(url)?;
        let id = file_id(&path);
        Some(Arc::new(Self { path, id }))
    }

    pub(super) fn still_there(&self) -> Result<(), sqlx::Error> {
        let gone = |what: &str| {
            sqlx::Error::Io(std::io::Error::other(format!(
                "the database file {} was {what} while the server ran: writes wait for it to come back; restart to open another",
                self.path.display()
            )))
        };
        match (self.id, file_id(&self.path)) {
            (Some(opened), Some(now)) if opened != now => Err(gone("replaced")),
            (Some(_), None) => Err(gone("removed")),
            _ => Ok(()),
        }
    }
}

#[cfg(unix)]
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &Path) -> Option<(u64, u64)> {
    None
}

/// Whether a connection coming back to the pool may serve the next request:
/// not while it still holds a transaction. A COMMIT that failed (a full
/// disk, a file made read-only) can leave one open, and every later
/// `BEGIN` on that connection would fail; closed instead, it is replaced by
/// a fresh one, so the pool recovers as soon as the database can be
/// written again.
pub(super) fn fit_for_reuse(conn: &mut sqlx::AnyConnection) -> bool {
    use sqlx::Connection;
    let fit = !conn.is_in_transaction();
    if !fit {
        tracing::warn!("a database connection came back inside a transaction; it is closed and replaced");
    }
    fit
}
