//! Rolling upgrades (the contract's "Upgrades and key custody"): a binary
//! keeps serving on a database a newer release migrated, and says it is not
//! ready, naming both versions, when that release's schema needs more than
//! it knows; ready means the database can be written.

use casebook_server::db::{Db, newest_known};
use casebook_tests::{TestApp, both_backends};

async fn readyz(app: &TestApp) -> (u16, String) {
    let r = app.http.get(app.url("/readyz")).send().await.expect("send");
    (r.status().as_u16(), r.text().await.expect("text"))
}

both_backends!(
    a_newer_releases_migration_is_served_until_its_schema_needs_more,
    |app: TestApp| async move {
        assert_eq!(readyz(&app).await, (200, "ready".to_owned()));
        let db: &Db = app.running.state.db();
        let knows = newest_known(db.backend());
        // What a newer release's migration leaves: a row this binary does
        // not know and a table it never reads.
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ($1, 'from_a_newer_release', TRUE, $2, 1)",
        )
        .bind(knows + 1)
        .bind(vec![0u8; 48])
        .execute(db.pool())
        .await
        .expect("a newer migration recorded");
        sqlx::query("CREATE TABLE from_a_newer_release (id BIGINT PRIMARY KEY)")
            .execute(db.pool())
            .await
            .expect("a newer table");
        // A replica of this release starting now migrates nothing and serves.
        let replica = app.replica().await;
        assert_eq!(readyz(&replica).await, (200, "ready".to_owned()));
        let admin = replica.admin_token().await;
        assert_eq!(
            replica.get("/admin/v1/external-applications", &admin).await.status(),
            200
        );

        // A release after it drops what this one reads and says so.
        sqlx::query("UPDATE schema_compat SET oldest_reader = $1 WHERE id = 1")
            .bind(knows + 1)
            .execute(db.pool())
            .await
            .expect("the floor raised");
        let (status, why) = readyz(&replica).await;
        assert_eq!(status, 503, "{why}");
        assert!(
            why.contains(&format!("migration {}", knows + 1)) && why.contains(&format!("up to {knows}")),
            "{why}"
        );
        assert!(why.contains(casebook_server::build_info::VERSION), "{why}");
    }
);

/// A migration that meets a previous release's request holding one of its
/// tables, while that request waits for a table the migration already
/// holds, gives way: it is rolled back and tried again, and the request
/// goes on. Before, PostgreSQL's deadlock detector ended one of the two
/// after a second: the request (a 500 during a rolling upgrade) or the
/// migration (a replica that does not start).
#[tokio::test]
async fn a_migration_gives_way_to_a_request_it_would_deadlock_with() {
    use casebook_server::config::Backend;
    use casebook_server::db::{MigrationPolicy, migrations};
    use sqlx::Connection;
    use std::time::Duration;

    let Some(database) = casebook_tests::TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    // The schema of the release before tenants: 0018 adds a column to
    // `roles` and then to `applications`, in one transaction.
    let before_tenants = 17;
    sqlx::any::install_default_drivers();
    let mut setup = sqlx::AnyConnection::connect(&database.url).await.expect("connect");
    sqlx::migrate::Migrator::with_migrations(migrations(Backend::Postgres))
        .run_direct(Some(before_tenants), &mut setup, false)
        .await
        .expect("the schema before tenants");

    // The previous release's request: it has read `applications`, and will
    // read `roles` in the same transaction.
    let mut request = sqlx::PgConnection::connect(&database.url).await.expect("connect");
    sqlx::query("BEGIN").execute(&mut request).await.expect("begin");
    sqlx::query("SELECT COUNT(*) FROM applications")
        .execute(&mut request)
        .await
        .expect("applications read");

    let url = database.url.clone();
    let migrating = tokio::spawn(async move { Db::open(&url, Backend::Postgres, MigrationPolicy::Apply).await });
    // The migration now holds `roles` and waits for `applications`.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let roles = tokio::time::timeout(
        Duration::from_secs(10),
        sqlx::query("SELECT COUNT(*) FROM roles").execute(&mut request),
    )
    .await
    .expect("the request is not left waiting");
    assert!(roles.is_ok(), "the request was ended: {roles:?}");
    sqlx::query("COMMIT")
        .execute(&mut request)
        .await
        .expect("the request commits");

    let db = tokio::time::timeout(Duration::from_secs(60), migrating)
        .await
        .expect("the migration finishes")
        .expect("join")
        .expect("the migration succeeds once the request is done");
    assert_eq!(db.migration_status().await.expect("status").pending, Vec::<i64>::new());
}
