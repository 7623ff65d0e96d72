//! Applying migrations to a database that running replicas are using.
//!
//! A migration runs in one transaction and takes its tables' locks one by
//! one, in the order of its statements, while a previous release's replica
//! keeps serving on the same tables and takes them in its own order. The
//! two can each hold what the other waits for: PostgreSQL then ends one of
//! them after `deadlock_timeout` (1 s), and when the one it ends is the
//! replica's request, a client sees a 500 during a rolling upgrade. So on
//! PostgreSQL a migration never waits long for a lock: past
//! [`LOCK_WAIT`], far inside `deadlock_timeout`, it is rolled back (all it
//! held is released, the replica's request goes on) and tried again a
//! moment later. Migrations only add, in one transaction each, so a try
//! rolled back leaves nothing behind.

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::migrate::{Migrate, MigrateError, Migrator};

use super::{Backend, DbError, migrations};

/// The longest a migration's statement waits for a lock held by a running
/// replica before its try gives way. Well under PostgreSQL's default
/// `deadlock_timeout` of 1 s, so in a cycle of waits the migration gives way
/// before the deadlock detector picks the request as its victim.
const LOCK_WAIT: &str = "200ms";

/// Tries before giving up: with the pauses below, about two minutes of a
/// lock that never comes free, which is no upgrade to push through.
const MAX_TRIES: u32 = 60;

/// The pause after the `n`th try gave way: growing, so that a busy table is
/// not asked for its lock in a tight loop, and at most 2 s.
fn pause_after(try_number: u32) -> Duration {
    Duration::from_millis((100u64 << try_number.min(5)).min(2_000))
}

/// Whether a failed try met a lock it could not have in time (or was
/// chosen as a deadlock's victim all the same): worth another try.
fn gave_way(error: &MigrateError) -> bool {
    let MigrateError::ExecuteMigration(sqlx::Error::Database(db), _) = error else {
        return false;
    };
    // lock_not_available, deadlock_detected.
    matches!(db.code().as_deref(), Some("55P03" | "40P01"))
}

/// Applies every pending migration.
pub(super) async fn apply_pending(pool: &AnyPool, backend: Backend) -> Result<(), DbError> {
    let mut migrator = Migrator::with_migrations(migrations(backend));
    // A newer release's migrations are no reason to stop: they only add,
    // and `schema_compat` says when this binary can no longer serve.
    migrator.set_ignore_missing(true);
    match backend {
        // One writer at a time, and a waiting writer waits (busy_timeout):
        // nothing to give way to.
        Backend::Sqlite => {
            migrator.set_locking(false);
            migrator.run(pool).await?;
            Ok(())
        }
        Backend::Postgres => apply_giving_way(pool, &mut migrator).await,
    }
}

async fn apply_giving_way(pool: &AnyPool, migrator: &mut Migrator) -> Result<(), DbError> {
    // Other replicas starting at the same moment wait here, without a
    // timeout, for the one that migrates: the lock is the migrator's own
    // (the key every release uses), held on a connection of its own so
    // that a try rolled back does not let go of it.
    let mut guard = pool.acquire().await?;
    guard.lock().await?;
    migrator.set_locking(false);
    let mut result = Ok(());
    for try_number in 1..=MAX_TRIES {
        match try_once(pool, migrator).await {
            Err(error) if gave_way(&error) && try_number < MAX_TRIES => {
                tracing::warn!(
                    try_number,
                    lock_wait = LOCK_WAIT,
                    "a migration waited for a lock held by a running replica; rolled back, trying again"
                );
                tokio::time::sleep(pause_after(try_number)).await;
            }
            outcome => {
                result = outcome.map_err(DbError::from);
                break;
            }
        }
    }
    // Unlocking on the guard's own connection; closing it would do too.
    if let Err(error) = guard.unlock().await {
        tracing::warn!(%error, "could not release the migration lock; closing its connection");
        let _ = guard.close().await;
    }
    result
}

/// One try on a connection of its own, closed afterwards so that the lock
/// wait set here never reaches a request.
async fn try_once(pool: &AnyPool, migrator: &Migrator) -> Result<(), MigrateError> {
    let mut conn = pool.acquire().await?.detach();
    sqlx::query(sqlx::AssertSqlSafe(format!("SET lock_timeout = '{LOCK_WAIT}'")))
        .execute(&mut conn)
        .await?;
    let outcome = migrator.run_direct(None, &mut conn, false).await;
    let _ = sqlx::Connection::close(conn).await;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_and_stay_short() {
        let pauses: Vec<_> = (1..=MAX_TRIES).map(pause_after).collect();
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(pauses[0], Duration::from_millis(200));
        assert_eq!(*pauses.last().expect("pauses"), Duration::from_secs(2));
        let total: Duration = pauses.iter().sum();
        assert!(
            total > Duration::from_secs(60) && total < Duration::from_secs(180),
            "{total:?}"
        );
    }
}
